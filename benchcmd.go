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

// benchCmd is `hookd bench ingest`: load a running hookd and report
// acknowledged events/s and ack latency.
func benchCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "ingest" {
		fmt.Fprintln(stderr, "usage: hookd bench ingest [--url URL] [--clients N] [--batch N] [--size BYTES] [--duration D] [--rate EVENTS/S] [--runs N] [--token T]")
		return 2
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
