package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// trickleIdle is how long the idle child is measured: /proc counts CPU in
// 10 ms ticks, so 0.2% of a core is 6 ticks over 30 s.
const trickleIdle = 30 * time.Second

// runTrickle measures what a light load costs: hookd with no webhook,
// idle for 30 s, then single events at 150/s (--rate) for 20 s
// (--duration) with nothing to deliver, so the CPU per event is ingest
// alone (HTTP, the commit, its fsyncs, and the idle work spread over the
// events). Floors, measured in the same run: one raw write+fdatasync's
// CPU, and the same load on the bare relay (ServeFloor), which syncs each
// request and does nothing else: hookd's figure over it is what hookd
// adds.
// It needs a child: the CPU is read from its /proc entry.
func runTrickle(ctx context.Context, l *Lab) error {
	t, c, stop, err := l.server(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if c == nil {
		return fmt.Errorf("trickle reads the CPU of a child hookd: run it without --url")
	}
	l.prog.set("trickle: idle CPU for %s", trickleIdle)
	cpu0 := c.CPU()
	time.Sleep(trickleIdle) // measuring an idle process: the wait is the measurement
	l.fig(Figure{Name: "idle, no webhook, 30 s", Value: 100 * float64(c.CPU()-cpu0) / float64(trickleIdle), Unit: "% of a core", Lower: true})

	r := or(l.o.Rate, 150)
	name := fmt.Sprintf("%s events/s, 1/request, no webhook", thousands(int64(r)))
	load := func(c *Child, t *target, series string) (pubResult, time.Duration) {
		var live atomic.Int64
		done := l.watch(series, time.Second, nil, c, &live)
		cpu0 := c.CPU()
		p := publish(ctx, t, pubOptions{Clients: or(l.o.Clients, 4), PerRequest: 1, Rate: r,
			Duration: or(l.o.Duration, 20*time.Second), DataBytes: or(l.o.DataBytes, eventBytes), Live: &live})
		cpu := c.CPU() - cpu0
		done()
		return p, cpu
	}
	p, cpu := load(c, t, name)
	stop()
	if p.Events == 0 {
		return fmt.Errorf("no event acknowledged at %s (%d errors, first: %s)", name, p.Errors, p.FirstError)
	}
	// The same load on the floor server: what a process that syncs each
	// request before answering costs here, with nothing of hookd's.
	l.prog.set("trickle: the same load on the bare relay")
	bare := 0.0
	var fp pubResult
	if err := l.withRelay(ctx, func(t *target, c *Child) error {
		var fcpu time.Duration
		fp, fcpu = load(c, t, name+", bare relay")
		if fp.Events > 0 && fcpu > 0 {
			bare = ms(fcpu) / float64(fp.Events)
		}
		return nil
	}); err != nil {
		return err
	}

	l.fig(Figure{Name: name + ", published", Value: p.PerSec(), Unit: "events/s", Ceiling: r, CeilingOf: "the rate asked for"})
	l.fig(Figure{Name: name + ", CPU per event ingested", Value: ms(cpu) / float64(p.Events), Unit: "CPU-ms",
		Lower: true, Ceiling: ms(l.ceil.FsyncCPU), CeilingOf: "CPU of one write+fdatasync"})
	if bare > 0 {
		l.fig(Figure{Name: name + ", CPU per event ingested, against the bare relay", Value: ms(cpu) / float64(p.Events), Unit: "CPU-ms",
			Lower: true, Ceiling: bare, CeilingOf: "the bare relay's CPU per request (a synced append), same load"})
	}
	l.fig(Figure{Name: name + ", ack p50", Value: ms(hq(p.Ack, 50)), Unit: "ms", Lower: true,
		Ceiling: ms(l.ceil.LatencyFloor()), CeilingOf: "fdatasync p50 + loopback RTT"})
	l.fig(Figure{Name: name + ", ack p99", Value: ms(hq(p.Ack, 99)), Unit: "ms", Lower: true,
		Ceiling: ms(l.ceil.LatencyFloor()), CeilingOf: "fdatasync p50 + loopback RTT"})
	if p.Errors > 0 {
		l.fig(Figure{Name: name + ", failed requests", Value: float64(p.Errors), Want: "0"})
	}
	if fp.Errors > 0 {
		l.fig(Figure{Name: name + ", the bare relay's failed requests", Value: float64(fp.Errors), Want: "0"})
	}
	return nil
}
