package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/bench"
)

const benchUsage = `usage: hookd bench [SCENARIO ...] [flags]

Runs load scenarios and prints, for each figure, the machine's ceiling for
it measured in the same run and the ratio between them. By default it
starts hookd itself (this binary, 'serve' on 127.0.0.1:0, a fresh temp data
dir per scenario, delivery.allow_private_destinations on) and a built-in
receiver; HOOKD_* variables in the environment reach that hookd as
settings. Scenarios (default: all, the quick ones):

%s
With --url, the scenarios load a running hookd instead. Every event is of
type "bench.hookd" and every webhook the run creates (and deletes at the
end) subscribes to that type only and delivers to this machine's receiver
(the server needs delivery.allow_private_destinations). The webhooks of a
run killed before that (described "hookd bench", their receiver gone) are
deleted when the next run starts. A webhook with no
event filter (a catch-all) in the same tenant receives the bench events
too: point --url/--token at a tenant kept for benchmarking. backlog and
crash kill the server, and trickle measures the server's own CPU: those
three run only without --url.

Flags:
`

// benchCmd is `hookd bench`: the performance lab.
func benchCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 2 && args[0] == bench.FloorServerArg { // the lab's own child: the bare relay
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if err := bench.ServeFloor(ctx, args[1], stdout); err != nil {
			fmt.Fprintf(stderr, "hookd bench: %v\n", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("hookd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // help goes to stdout, below; errors are one line on stderr
	var o bench.Options
	fs.StringVar(&o.URL, "url", "", "load the hookd at this base URL instead of starting one")
	fs.StringVar(&o.Token, "token", "", "bearer token for --url (auth.mode jwt or apikey)")
	fs.IntVar(&o.Runs, "runs", 1, "run the scenarios this many times, interleaved; figures are medians")
	asJSON := fs.Bool("json", false, "print the results as JSON instead of the table")
	report := fs.String("report", "", "write `DIR`/index.html (table and charts) and DIR/results.json")
	fs.DurationVar(&o.Duration, "duration", 0, "length of each timed load: ingest runs and latency rates (default 5s), soak (default 1m)")
	fs.IntVar(&o.Events, "events", 0, "events per delivery run (deliver: 20000 bursts, 100000 steady; faults 5000; fanout burst 1000)")
	fs.IntVar(&o.Clients, "clients", 0, "concurrent publishers (default per scenario: 64 ingest and latency, 32 bursts, 8 otherwise)")
	fs.IntVar(&o.Batch, "batch", 0, "events per publish request (default: ingest 1 and 100; see each scenario)")
	fs.IntVar(&o.Batch, "per-request", 0, "same as --batch")
	fs.Float64Var(&o.Rate, "rate", 0, "publish at this many events/s (latency: instead of 150, 1k, 5k, 20k; soak: default 1000)")
	fs.IntVar(&o.Webhooks, "webhooks", 0, "webhooks per delivery run (deliver: 1 and 100; fanout: 100)")
	fs.IntVar(&o.MaxBatchSize, "max-batch-size", 0, "maxBatchSize of the bench webhooks (deliver, faults: 1 and 100; backlog 100)")
	fs.IntVar(&o.DataBytes, "size", 0, "about this many bytes per event (default 300)")
	fs.IntVar(&o.BacklogEvents, "backlog-events", 0, "events pending in the backlog scenario (default 100000; 1000000 for the full test)")
	fs.IntVar(&o.CrashCycles, "crash-cycles", 0, "kill -9 cycles of the crash scenario (default 3)")
	fs.DurationVar(&o.CeilingTime, "ceiling-time", 2*time.Second, "how long each ceiling is measured")
	fs.DurationVar(&o.Timeout, "timeout", 3*time.Minute, "longest wait for deliveries to arrive")
	fs.StringVar(&o.Dir, "dir", "", "where the children's data dirs and the fsync probe go (default: the temp dir; put it on the disk hookd serves from)")

	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				benchHelp(fs, stdout)
				return 0
			}
			fmt.Fprintln(stderr, "'hookd bench --help' lists the scenarios and flags")
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		if a := fs.Arg(0); a == "help" {
			benchHelp(fs, stdout)
			return 0
		} else {
			names = append(names, a)
		}
		args = fs.Args()[1:]
	}
	o.Scenarios = names
	known := map[string]bool{"all": true}
	for _, s := range bench.Scenarios() {
		known[s[0]] = true
	}
	for _, n := range names {
		if !known[n] {
			fmt.Fprintf(stderr, "hookd bench: unknown scenario %q; 'hookd bench --help' lists them\n", n)
			return 2
		}
	}
	if o.URL != "" { // before measuring anything: is the server there?
		url := strings.TrimRight(o.URL, "/") + "/readyz"
		if code, _, err := fasthttp.GetTimeout(nil, url, 5*time.Second); err != nil || code != 200 {
			fmt.Fprintf(stderr, "hookd bench: %s is not reachable or not ready (status %d, %v)\n", o.URL, code, errOrEmpty(err))
			return 1
		}
	}
	if o.URL == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "hookd bench: cannot find my own binary to start: %v\n", err)
			return 1
		}
		o.Bin = exe
	} else {
		o.URL = strings.TrimRight(o.URL, "/")
	}
	o.Progress = stderr
	if f, ok := stderr.(*os.File); ok {
		o.Terminal = bench.IsTerminal(f)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, o)
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "hookd bench: %v\n", err)
		code = 1
	}
	if rep == nil {
		return code
	}
	if *asJSON {
		_ = bench.WriteJSON(stdout, rep)
	} else {
		_ = bench.WriteTable(stdout, rep.Figures)
	}
	if *report != "" {
		if err := bench.WriteReportDir(*report, rep); err != nil {
			fmt.Fprintf(stderr, "hookd bench: report: %v\n", err)
			code = 1
		} else {
			fmt.Fprintf(stderr, "hookd bench: report in %s/index.html\n", strings.TrimRight(*report, "/"))
		}
	}
	for _, f := range rep.Figures {
		if f.Missed() {
			fmt.Fprintf(stderr, "hookd bench: %s: %s is %s, must be %s\n", f.Scenario, f.Name, strings.TrimSpace(fmt.Sprint(f.Value)), f.Want)
			code = 1
		}
	}
	return code
}

func benchHelp(fs *flag.FlagSet, w io.Writer) {
	var b strings.Builder
	for _, s := range bench.Scenarios() {
		fmt.Fprintf(&b, "  %-8s %-4s %s\n", s[0], s[1], s[2])
	}
	fmt.Fprintf(w, benchUsage, b.String())
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Examples:
  hookd bench                              # the quick scenarios, ~3 minutes
  hookd bench deliver latency --runs 3     # medians of three interleaved runs
  hookd bench backlog --backlog-events 1000000
  hookd bench crash --crash-cycles 200
  hookd bench soak --duration 1h --report out/
  hookd bench ingest --url http://127.0.0.1:8080 --token "$T" --batch 1
`)
}
