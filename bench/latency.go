package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// runLatency publishes single events at fixed rates to one webhook of
// maxBatchSize 1 and reads publish → receive latency from the sink (each
// event carries the time it was due, so a stalled server is charged for
// its stall), and the child's CPU per event, ingest and delivery
// together. Floors: one raw fdatasync plus one loopback round trip for
// latency; one raw write+fdatasync's CPU for CPU per event. Before the
// first rate, the idle child's CPU over a few seconds.
func runLatency(ctx context.Context, l *Lab) error {
	rates := []float64{150, 1000, 5000, 20000}
	if l.o.Rate > 0 {
		rates = []float64{l.o.Rate}
	}
	for i, r := range rates {
		t, c, stop, err := l.server(ctx)
		if err != nil {
			return err
		}
		err = latencyAt(ctx, l, t, c, r, i == 0, false)
		stop()
		if err != nil {
			return err
		}
		// The same rate through the bare relay (ServeFloor): what the
		// machine does with nothing of hookd's but the HTTP and the sync.
		if err := l.withRelay(ctx, func(t *target, c *Child) error {
			return latencyAt(ctx, l, t, c, r, false, true)
		}); err != nil {
			return err
		}
	}
	return nil
}

// latencyAt runs one rate against t (c: its process, nil with --url);
// relay says t is the bare relay, whose figures are named so.
func latencyAt(ctx context.Context, l *Lab, t *target, c *Child, r float64, idle, relay bool) error {
	s, err := StartSink(SinkOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	h := &hooks{t: t}
	defer h.delete()
	if err := h.createN(s, 1, hookSpec{MaxBatchSize: 1}); err != nil {
		return err
	}
	if idle && c != nil {
		const d = 3 * time.Second
		l.prog.set("latency: idle CPU for %s", d)
		cpu0 := c.CPU()
		time.Sleep(d) // measuring an idle process: the wait is the measurement
		l.fig(Figure{Name: "idle, one webhook", Value: 100 * float64(c.CPU()-cpu0) / float64(d), Unit: "% of a core"})
	}
	name := fmt.Sprintf("%s events/s", thousands(int64(r)))
	server := "hookd's"
	if relay {
		name += ", bare relay"
		server = "the relay's"
	}
	var live atomic.Int64
	var cpu0 time.Duration
	if c != nil {
		cpu0 = c.CPU()
	}
	// The load generator's own CPU (publishers and receiver), beside
	// hookd's: together they say how much of the machine was left for
	// the bursts of work a store does now and then (a flush, a
	// compaction), which is what the tail waits for when little is.
	self0, t0 := procCPU(os.Getpid()), time.Now()
	metrics := t.URL() // hookd's own or, with --url, the server's
	if relay {
		metrics = ""
	}
	stopWatch := l.watchStore(name, time.Second, s, c, &live, metrics)
	// Enough publishers that each has 10 ms between its requests: a
	// stalling server then queues due events rather than idle clients.
	p := publish(ctx, t, pubOptions{Clients: or(l.o.Clients, max(64, int(r/100))), PerRequest: 1, Rate: r,
		Duration: or(l.o.Duration, 5*time.Second), DataBytes: or(l.o.DataBytes, eventBytes), Live: &live})
	complete := l.waitFor(ctx, s, p.Events)
	w := stopWatch()
	var cpu time.Duration
	if c != nil {
		cpu = c.CPU() - cpu0
	}
	self, wall := procCPU(os.Getpid())-self0, time.Since(t0)
	if p.Events == 0 {
		return fmt.Errorf("no event acknowledged at %s (%d errors, first: %s)", name, p.Errors, p.FirstError)
	}
	st := s.Stats()
	lat := s.Latency()
	floor := ms(l.ceil.LatencyFloor())
	of := "fdatasync p50 + loopback RTT"
	l.fig(Figure{Name: name + ", published", Value: p.PerSec(), Unit: "events/s", Ceiling: r, CeilingOf: "the rate asked for"})
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 50}, {"p99", 99}, {"p999", 99.9}, {"max", 100}} {
		l.fig(Figure{Name: name + ", " + q.name, Value: ms(hq(lat, q.q)), Unit: "ms", Lower: true, Ceiling: floor, CeilingOf: of})
	}
	// The publish responses, timed from the same schedule. As late as the
	// deliveries: the publishers queued behind slow acknowledgements (a
	// slow ingest path, or a server short of CPU); on time while the
	// deliveries are late: the delay was in delivery (bench/BASELINE.md,
	// twenty-second sitting).
	l.fig(Figure{Name: name + ", ack p99", Value: ms(hq(p.Ack, 99)), Unit: "ms", Lower: true})
	l.fig(Figure{Name: name + ", ack max", Value: ms(hq(p.Ack, 100)), Unit: "ms", Lower: true})
	// How the tail is spread: a p99 over a whole run can come from a few
	// long stalls or from many short ones (bench/BASELINE.md counts
	// these to tell a memtable rotation's stalls, every few seconds,
	// from a compaction's, every few tens).
	l.fig(Figure{Name: name + ", 1-s windows with p99 over 50 ms", Value: float64(w.lat.over(50)),
		Unit: fmt.Sprintf("of %d", len(w.lat.Points)), Lower: true})
	if len(w.slow.Points) > 0 {
		// What the store was doing around those seconds (stallCauses).
		write, comp, flush, other := stallCauses(w.lat, w.slow, w.l0, 50)
		of := fmt.Sprintf("of %d", w.lat.over(50))
		for _, c := range []struct {
			name string
			n    int
		}{{"after a store write over 50 ms", write}, {"beside a level-0 compaction", comp},
			{"beside a memtable flush", flush}, {"none of these", other}} {
			l.fig(Figure{Name: name + ", of those, " + c.name, Value: float64(c.n), Unit: of, Lower: true})
		}
		l.fig(Figure{Name: name + ", store writes over 50 ms", Value: w.slow.sum(), Lower: true})
		l.fig(Figure{Name: name + ", level-0 tables, most", Value: w.l0.peak(),
			Unit: fmt.Sprintf("tables (writes held at %.0f)", w.l0Stall), Lower: true})
	}
	cores := float64(runtime.NumCPU())
	if c != nil {
		if peak := w.rss.peak(); peak > 0 { // 0: no /proc to read it from
			l.fig(Figure{Name: name + ", RSS peak", Value: peak, Unit: "MiB", Lower: true})
		}
		if cpu > 0 {
			l.fig(Figure{Name: name + ", " + server + " CPU", Value: float64(cpu) / float64(wall), Unit: "cores",
				Ceiling: cores, CeilingOf: "the machine's CPUs"})
		}
		l.fig(Figure{Name: name + ", CPU per event (ingest + delivery)", Value: ms(cpu) / float64(p.Events), Unit: "CPU-ms",
			Lower: true, Ceiling: ms(l.ceil.FsyncCPU), CeilingOf: "CPU of one write+fdatasync"})
	}
	if self > 0 {
		l.fig(Figure{Name: name + ", load generator's CPU", Value: float64(self) / float64(wall), Unit: "cores",
			Ceiling: cores, CeilingOf: "the machine's CPUs"})
	}
	if lost := p.Events - st.Unique; lost > 0 || !complete {
		l.fig(Figure{Name: name + ", not delivered", Value: float64(max(lost, 0)), Want: "0"})
	}
	l.curve(name, lat)
	return nil
}

// curve keeps a latency distribution for the report.
func (l *Lab) curve(name string, h *hdrhistogram.Histogram) {
	if h.TotalCount() == 0 {
		return
	}
	c := Curve{Name: l.scenario + " " + name}
	for _, q := range []float64{50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99} {
		c.Points = append(c.Points, Point{q, ms(hq(h, q))})
	}
	l.mu.Lock()
	l.curves = append(l.curves, c)
	l.mu.Unlock()
}
