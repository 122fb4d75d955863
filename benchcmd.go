package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/bench"
)

const benchUsage = `usage: hookd bench ingest [--url URL] [--clients N] [--batch N] [--size BYTES] [--duration D] [--rate EVENTS/S] [--runs N] [--token T]
       hookd bench deliver [--url URL] [--webhooks N] [--max-batch-size N] [--events N] [--rate EVENTS/S] [--per-request N] [--runs N] [--token T]
'hookd bench ingest --help' and 'hookd bench deliver --help' describe each flag.
`

// benchCmd is `hookd bench ingest`: load a running hookd and report
// acknowledged events/s and ack latency.
func benchCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "deliver" {
		return benchDeliver(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ingest" {
		out, code := stderr, 2
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			out, code = stdout, 0
		}
		fmt.Fprint(out, benchUsage)
		return code
	}
	fs := flag.NewFlagSet("hookd bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o bench.IngestOptions
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "hookd base URL")
	fs.StringVar(&o.Token, "token", "", "bearer token (auth.mode jwt or apikey)")
	fs.IntVar(&o.Clients, "clients", 64, "concurrent clients, one request in flight each")
	fs.IntVar(&o.Batch, "batch", 1, "events per request")
	fs.IntVar(&o.DataBytes, "size", 300, "approximate bytes per event")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each run")
	fs.IntVar(&o.Rate, "rate", 0, "target events/s over all clients (0: as fast as acknowledged)")
	runs := fs.Int("runs", 1, "number of runs; the median run is reported last")
	if err := parse(fs, args[1:]); err != nil {
		return exitCode(err, stderr)
	}
	if code, _, err := fasthttp.Get(nil, o.URL+"/readyz"); err != nil || code != 200 {
		fmt.Fprintf(stderr, "hookd bench: %s is not reachable or not ready (status %d, %v)\n", o.URL, code, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var results []bench.IngestResult
	for i := 0; i < *runs && ctx.Err() == nil; i++ {
		r, err := bench.Ingest(ctx, o)
		if err != nil {
			return exitCode(err, stderr)
		}
		fmt.Fprintf(stdout, "run %d: %s\n", i+1, r)
		results = append(results, r)
	}
	if len(results) > 1 {
		m := bench.Median(results)
		fmt.Fprintf(stdout, "median: %.0f events/s, p50 %s, p99 %s\n", m.EventsPerSec, m.P50, m.P99)
	}
	return 0
}

// benchDeliver is `hookd bench deliver`: end-to-end delivery to a local
// sink. The server must run with delivery.allow_private_destinations.
func benchDeliver(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookd bench deliver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o bench.DeliverOptions
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "hookd base URL")
	fs.StringVar(&o.Token, "token", "", "bearer token (auth.mode jwt or apikey)")
	fs.IntVar(&o.Webhooks, "webhooks", 1, "webhooks to create (each gets every event)")
	fs.IntVar(&o.MaxBatchSize, "max-batch-size", 1, "maxBatchSize of the webhooks")
	fs.IntVar(&o.Events, "events", 100000, "events to publish")
	fs.IntVar(&o.Rate, "rate", 0, "published events/s (0: as fast as acknowledged)")
	fs.IntVar(&o.PerRequest, "per-request", 100, "events per publish request")
	fs.IntVar(&o.Clients, "clients", 8, "concurrent publishers")
	fs.IntVar(&o.DataBytes, "size", 300, "approximate bytes per event")
	fs.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "give up waiting for deliveries after")
	runs := fs.Int("runs", 1, "number of runs")
	if err := parse(fs, args); err != nil {
		return exitCode(err, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var results []bench.DeliverResult
	for i := 0; i < *runs && ctx.Err() == nil; i++ {
		r, err := bench.Deliver(ctx, o)
		if err != nil {
			return exitCode(err, stderr)
		}
		fmt.Fprintf(stdout, "run %d: %s\n", i+1, r)
		results = append(results, r)
	}
	if len(results) > 1 {
		m := bench.MedianDeliver(results)
		fmt.Fprintf(stdout, "median: %.0f deliveries/s, p50 %s, p99 %s\n", m.EventsPerSec, m.P50, m.P99)
	}
	return 0
}
