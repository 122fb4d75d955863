package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a lab run. Zero values take each scenario's own
// defaults; a size flag set by the user replaces that dimension in every
// configuration a scenario would run.
type Options struct {
	URL   string // a running hookd to load; "" = start one per scenario
	Token string // bearer token for URL
	Bin   string // the hookd binary a child runs (os.Executable())
	Dir   string // where children's data dirs and the fsync probe go ("" = the system's temp dir)
	Env   []string

	Scenarios []string // names; "all" = the quick ones
	Runs      int      // runs of the whole list, interleaved; figures are medians

	Clients, Batch, Events, Webhooks, MaxBatchSize, DataBytes int
	Rate                                                      float64
	Duration                                                  time.Duration // each timed load (ingest, latency rates, soak)
	CeilingTime                                               time.Duration // each ceiling measurement
	BacklogEvents                                             int
	CrashCycles                                               int
	FanoutWebhooks                                            int
	Timeout                                                   time.Duration // longest wait for deliveries

	Progress io.Writer // status line; nil = none
	Terminal bool      // Progress is a terminal: rewrite the line in place
}

// Report is a lab run's result.
type Report struct {
	Started   time.Time  `json:"started"`
	Host      Host       `json:"host"`
	Scenarios []string   `json:"scenarios"`
	Runs      int        `json:"runs"`
	Figures   []Figure   `json:"figures"` // medians over runs
	PerRun    [][]Figure `json:"perRun,omitempty"`
	Series    []Series   `json:"series"`
	Curves    []Curve    `json:"percentiles"`
	Ceilings  []Ceilings `json:"ceilings"`
}

// Host says where the figures come from.
type Host struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go"`
	OS        string `json:"os"`
	Target    string `json:"target"` // "child" or the --url
}

// Series is one figure over time (x: seconds since the load started).
type Series struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Kind     string  `json:"kind"` // throughput, latency, rss, rss-anon, rss-file
	Unit     string  `json:"unit"`
	Points   []Point `json:"points"`
}

// Point is one sample.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Curve is a latency distribution: Y ms at percentile X.
type Curve struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// A scenario is one named experiment.
type scenario struct {
	name, about string
	quick       bool // part of "all"
	ownsServer  bool // needs a child of its own, to kill or to read its CPU (not with --url)
	run         func(ctx context.Context, l *Lab) error
}

var scenarios = []scenario{
	{name: "limits", about: "raw loopback HTTP and write+fdatasync: the ceilings the ratios use; Badger's own group commit; a page fault's cost", quick: true, run: runLimits},
	{name: "ingest", about: "publish as fast as acknowledged: 1 and 100 events per request, 64 clients; also through a bare relay", quick: true, run: runIngest},
	{name: "deliver", about: "publish → sink: maxBatchSize 1 and 100, 1 and 100 webhooks, a 20k burst from 32 clients and a steady 100k; size 1 also through a bare relay", quick: true, run: runDeliver},
	{name: "latency", about: "publish → receive at 150, 1k, 5k, 20k events/s: p50/p99/p999/max, CPU per event, idle CPU; each rate also through a bare relay", quick: true, run: runLatency},
	{name: "fanout", about: "one event to N webhooks: time until all N have it, and a burst's deliveries/s", quick: true, run: runFanout},
	{name: "faults", about: "a sink answering 10% 500s and 10% slowly: attempts per event, completion time", quick: true, run: runFaults},
	{name: "trickle", about: "no webhook: idle CPU over 30 s, then CPU per event ingested at 150 single events/s, against a bare relay's", ownsServer: true, run: runTrickle},
	{name: "backlog", about: "N pending for a dead sink: RSS, disk per pending and delivered event, restart-to-ready, drain rate", ownsServer: true, run: runBacklog},
	{name: "crash", about: "kill -9 cycles under load: acknowledged, delivered, lost (must be 0), duplicates", ownsServer: true, run: runCrash},
	{name: "soak", about: "mixed load at a moderate rate for --duration: RSS and p99 over time", run: runSoak},
}

// Scenarios lists the scenario names and what each measures, in order.
func Scenarios() [][3]string {
	var out [][3]string
	for _, s := range scenarios {
		q := ""
		if s.quick {
			q = "all"
		}
		out = append(out, [3]string{s.name, q, s.about})
	}
	return out
}

// Lab runs scenarios and collects their figures.
type Lab struct {
	o        Options
	prog     *progress
	ceil     Ceilings
	mu       sync.Mutex
	figs     []Figure
	series   []Series
	curves   []Curve
	scenario string
	tmp      string
}

// Run runs the scenarios o names, Runs times over, and reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	list, err := resolve(o.Scenarios)
	if err != nil {
		return nil, err
	}
	if o.URL != "" {
		for _, s := range list {
			if s.ownsServer {
				return nil, fmt.Errorf("bench: %s needs hookd as its own child (it kills it or reads its CPU): it does not run with --url", s.name)
			}
		}
	} else if o.Bin == "" {
		return nil, errors.New("bench: no hookd binary to run")
	}
	o.Runs = max(o.Runs, 1)
	if o.URL != "" {
		n, err := newTarget(o.URL, o.Token, 1).sweepStale()
		switch {
		case o.Progress == nil:
		case err != nil: // the run itself may still work (a token that cannot list)
			fmt.Fprintf(o.Progress, "could not look for webhooks earlier runs left behind: %v\n", err)
		case n > 0:
			fmt.Fprintf(o.Progress, "deleted %d webhook(s) an earlier hookd bench run left behind (it did not finish; their receiver is gone)\n", n)
		}
	}
	if o.CeilingTime <= 0 {
		o.CeilingTime = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	tmp, err := os.MkdirTemp(o.Dir, "hookd-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)
	l := &Lab{o: o, prog: newProgress(o.Progress, o.Terminal), tmp: tmp}
	defer l.prog.done()
	rep := &Report{Started: time.Now(), Runs: o.Runs,
		Host: Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, Target: "child"}}
	if o.URL != "" {
		rep.Host.Target = o.URL
	}
	for _, s := range list {
		rep.Scenarios = append(rep.Scenarios, s.name)
	}
	for run := 1; run <= o.Runs; run++ {
		l.figs = nil
		l.series, l.curves = nil, nil // the charts show the last run
		l.prog.note("run %d/%d: ceilings (loopback HTTP, fsync)", run, o.Runs)
		if l.ceil, err = measureCeilings(ctx, l); err != nil {
			return rep, err
		}
		rep.Ceilings = append(rep.Ceilings, l.ceil)
		for _, s := range list {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			l.prog.note("run %d/%d: %s", run, o.Runs, s.name)
			l.scenario = s.name
			if err := s.run(ctx, l); err != nil {
				rep.PerRun = append(rep.PerRun, l.figs)
				rep.Figures = MedianFigures(rep.PerRun)
				return rep, fmt.Errorf("bench: %s: %w", s.name, err)
			}
		}
		rep.PerRun = append(rep.PerRun, l.figs)
	}
	rep.Figures = MedianFigures(rep.PerRun)
	if o.Runs == 1 {
		rep.PerRun = nil
	}
	rep.Series, rep.Curves = l.series, l.curves
	return rep, nil
}

// resolve turns names into scenarios, "all" (or nothing) into the quick
// ones, in the catalogue's order.
func resolve(names []string) ([]scenario, error) {
	want := map[string]bool{}
	for _, n := range names {
		for _, n := range strings.Split(n, ",") {
			if n = strings.TrimSpace(n); n != "" {
				want[n] = true
			}
		}
	}
	if len(want) == 0 {
		want["all"] = true
	}
	var out []scenario
	for _, s := range scenarios {
		if want[s.name] || (want["all"] && s.quick) {
			out = append(out, s)
			delete(want, s.name)
		}
	}
	delete(want, "all")
	if len(want) > 0 {
		var bad []string
		for n := range want {
			bad = append(bad, n)
		}
		slices.Sort(bad)
		return nil, fmt.Errorf("bench: no scenario %s (see hookd bench --help)", strings.Join(bad, ", "))
	}
	return out, nil
}

// fig records a figure of the running scenario.
func (l *Lab) fig(f Figure) {
	f.Scenario = l.scenario
	l.mu.Lock()
	l.figs = append(l.figs, f)
	l.mu.Unlock()
}

// or is the user's setting when given, else the scenario's default.
func or[T comparable](set, def T) T {
	var zero T
	if set != zero {
		return set
	}
	return def
}

// dims replaces every default by the user's setting, once each.
func dims(set int, defs ...int) []int {
	if set != 0 {
		return []int{set}
	}
	return defs
}

// server is the hookd a scenario loads: a fresh child on its own data dir
// (with env on top of the lab's settings), or the --url target. stop
// ends the child and removes its data.
func (l *Lab) server(ctx context.Context, env ...string) (*target, *Child, func(), error) {
	if l.o.URL != "" {
		return newTarget(l.o.URL, l.o.Token, 256), nil, func() {}, nil
	}
	dir, err := os.MkdirTemp(l.tmp, l.scenario+"-")
	if err != nil {
		return nil, nil, nil, err
	}
	env = append([]string{"HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true"}, append(l.o.Env, env...)...)
	c, err := StartChild(ctx, l.o.Bin, dir, env)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, err
	}
	return newTarget(c.URL, "", 256), c, func() { c.Stop(); os.RemoveAll(dir) }, nil
}

// withRelay runs fn against the bare relay (ServeFloor), started on a
// fresh dir and stopped after: the floor the scenarios that run one set
// hookd against. It is a child of this binary, so with --url it does
// nothing.
func (l *Lab) withRelay(ctx context.Context, fn func(t *target, c *Child) error) error {
	if l.o.URL != "" || l.o.Bin == "" {
		return nil
	}
	dir, err := os.MkdirTemp(l.tmp, l.scenario+"-floor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := StartFloor(ctx, l.o.Bin, dir)
	if err != nil {
		return err
	}
	defer c.Stop()
	return fn(newTarget(c.URL, "", 256), c)
}

// watch samples a load every step until stop: throughput (the sink's
// deliveries, or acknowledged events when there is no sink), the sink's
// p99 over the step, the child's RSS and its anonymous and file-backed
// parts (so that a spike can be put down to the Go heap or to mapped
// files); it keeps them as series and shows them on the status line.
func (l *Lab) watch(name string, step time.Duration, s *Sink, c *Child, acked *atomic.Int64) (stop func() watched) {
	return l.watchStore(name, step, s, c, acked, "")
}

// watchStore is watch, and it also reads hookd's store from the
// /metrics of the hookd at metrics (a URL; "" for none, as for the relay,
// which has none) each step: the commit-group writes over 50 ms, and the
// level-0 tables. A scrape costs hookd ~2 ms of CPU, so only the scenarios
// that use them ask: not trickle, which measures hookd's CPU per event at
// a low rate.
func (l *Lab) watchStore(name string, step time.Duration, s *Sink, c *Child, acked *atomic.Int64, metrics string) (stop func() watched) {
	tput := Series{Scenario: l.scenario, Name: name, Kind: "throughput", Unit: "events/s"}
	lat := Series{Scenario: l.scenario, Name: name, Kind: "latency", Unit: "ms"}
	rss := Series{Scenario: l.scenario, Name: name, Kind: "rss", Unit: "MiB"}
	anon := Series{Scenario: l.scenario, Name: name + ", anonymous", Kind: KindRSSAnon, Unit: "MiB"}
	file := Series{Scenario: l.scenario, Name: name + ", file-backed", Kind: KindRSSFile, Unit: "MiB"}
	slow := Series{Scenario: l.scenario, Name: name + ", store writes over 50 ms", Kind: KindSlowWrites, Unit: "count"}
	l0 := Series{Scenario: l.scenario, Name: name + ", level-0 tables", Kind: KindL0Tables, Unit: "count"}
	var st0 storeState
	scrape := metrics != ""
	if scrape {
		st0, scrape = scrapeStore(metrics)
	}
	done, finished := make(chan struct{}), make(chan struct{})
	count := func() int64 {
		if s != nil {
			return s.Stats().Deliveries
		}
		if acked != nil {
			return acked.Load()
		}
		return 0
	}
	t0 := time.Now()
	if s != nil {
		s.Window()
	}
	prev, prevT := count(), t0
	sample := func(now time.Time) {
		x := now.Sub(t0).Seconds()
		n := count()
		r := rate(n-prev, now.Sub(prevT))
		prev, prevT = n, now
		tput.Points = append(tput.Points, Point{x, r})
		line := fmt.Sprintf("%s %s: %5.0fs %s events/s", l.scenario, name, x, thousands(int64(r)))
		if s != nil {
			if w := s.Window(); w.TotalCount() > 0 {
				p99 := float64(w.ValueAtQuantile(99)) / 1000
				lat.Points = append(lat.Points, Point{x, p99})
				line += fmt.Sprintf(", p99 %s ms", formatValue(p99))
			}
		}
		if scrape {
			if st, ok := scrapeStore(metrics); ok {
				slow.Points = append(slow.Points, Point{x, max(st.SlowWrites-st0.SlowWrites, 0)})
				l0.Points = append(l0.Points, Point{x, st.L0Tables})
				st0 = st
			}
		}
		if c != nil {
			if m := c.Mem(); m.RSS > 0 {
				rss.Points = append(rss.Points, Point{x, float64(m.RSS) / (1 << 20)})
				line += fmt.Sprintf(", RSS %.0f MiB", float64(m.RSS)/(1<<20))
				if m.Anon > 0 || m.File > 0 { // kernels before 4.5 have neither
					anon.Points = append(anon.Points, Point{x, float64(m.Anon) / (1 << 20)})
					file.Points = append(file.Points, Point{x, float64(m.File) / (1 << 20)})
					line += fmt.Sprintf(" (anon %.0f, file %.0f)", float64(m.Anon)/(1<<20), float64(m.File)/(1<<20))
				}
			}
		}
		l.prog.set("%s", line)
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(step)
		defer tick.Stop()
		for {
			select {
			case <-done:
				// A last, shorter step, so a load shorter than a step
				// still has its point.
				if now := time.Now(); now.Sub(prevT) >= step/10 {
					sample(now)
				}
				return
			case now := <-tick.C:
				sample(now)
			}
		}
	}()
	return func() watched {
		close(done)
		<-finished
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, s := range []Series{tput, lat, rss, anon, file, slow, l0} {
			if len(s.Points) > 0 {
				l.series = append(l.series, s)
			}
		}
		return watched{tput, lat, rss, anon, file, slow, l0, st0.L0Stall}
	}
}

// watched is what watch sampled (l0Stall: the level-0 tables at which
// hookd's store holds writes; 0 if it was not read).
type watched struct {
	tput, lat, rss, anon, file, slow, l0 Series
	l0Stall                              float64
}

// The kinds of the series of RSS's two parts, drawn together on a chart
// of their own. A report's "rss" series are the whole RSS, as before
// these were added.
const (
	KindRSSAnon = "rss-anon" // anonymous memory: the Go heap, stacks, the runtime
	KindRSSFile = "rss-file" // file-backed: memory-mapped files, the binary
)

// over counts the points of a series whose Y is above y.
func (s Series) over(y float64) int {
	n := 0
	for _, p := range s.Points {
		if p.Y > y {
			n++
		}
	}
	return n
}

// sum is the sum of a series' Ys.
func (s Series) sum() float64 {
	var n float64
	for _, p := range s.Points {
		n += p.Y
	}
	return n
}

// peak is the largest Y of a series.
func (s Series) peak() float64 {
	var m float64
	for _, p := range s.Points {
		m = max(m, p.Y)
	}
	return m
}

// peakAt is the X of the (first) largest Y of a series (false: no point).
func (s Series) peakAt() (x float64, ok bool) {
	top := 0.0
	for _, p := range s.Points {
		if !ok || p.Y > top {
			x, top, ok = p.X, p.Y, true
		}
	}
	return x, ok
}

// at is the Y of a series at x (0: no point there). The series one watch
// samples share their X.
func (s Series) at(x float64) float64 {
	for _, p := range s.Points {
		if p.X == x {
			return p.Y
		}
	}
	return 0
}

// waitFor waits until the sink has want distinct deliveries, the lab's
// timeout passes or ctx ends; it reports whether all came.
func (l *Lab) waitFor(ctx context.Context, s *Sink, want int64) bool {
	select {
	case <-s.Until(want):
		return true
	case <-time.After(l.o.Timeout):
		return false
	case <-ctx.Done():
		return false
	}
}
