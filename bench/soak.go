package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// runSoak runs a mixed load for --duration (default 1 minute; the
// issue's bar is an hour): single events at 1,000/s from 16 clients and,
// every 20 s, a burst of 10,000 events in 100-event requests, to three
// webhooks of maxBatchSize 1, 10 and 100. It samples RSS and the
// publish → receive p99 twenty times over the run (every 1 to 30 s) and
// reports their first, worst and last samples.
func runSoak(ctx context.Context, l *Lab) error {
	d := or(l.o.Duration, time.Minute)
	t, c, stop, err := l.server(ctx)
	if err != nil {
		return err
	}
	defer stop()
	s, err := StartSink(SinkOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	h := &hooks{t: t}
	defer h.delete()
	for i, mbs := range []int{1, 10, 100} {
		if err := h.create(s.URL(i), hookSpec{MaxBatchSize: mbs}); err != nil {
			return err
		}
	}
	seq := new(atomic.Int64)
	var live atomic.Int64
	size := or(l.o.DataBytes, eventBytes)
	step := min(max(d/20, time.Second), 30*time.Second)
	w := l.watchStore("mixed load", step, s, c, &live, t.URL())
	load, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-load.Done():
				return
			case <-tick.C:
				publish(load, t, pubOptions{Clients: 8, PerRequest: 100, Events: 10_000, DataBytes: size, Seq: seq, Live: &live})
			}
		}
	}()
	p := publish(load, t, pubOptions{Clients: 16, PerRequest: 1, Rate: or(l.o.Rate, 1000), DataBytes: size, Seq: seq, Live: &live})
	wg.Wait()
	complete := l.waitFor(ctx, s, 3*live.Load())
	got := w()
	st := s.Stats()
	first := func(s Series) float64 {
		if len(s.Points) == 0 {
			return 0
		}
		return s.Points[0].Y
	}
	last := func(s Series) float64 {
		if len(s.Points) == 0 {
			return 0
		}
		return s.Points[len(s.Points)-1].Y
	}
	l.fig(Figure{Name: "steady rate published", Value: p.PerSec(), Unit: "events/s"})
	l.fig(Figure{Name: "RSS, first sample", Value: first(got.rss), Unit: "MiB"})
	l.fig(Figure{Name: "RSS, peak", Value: got.rss.peak(), Unit: "MiB"})
	if x, ok := got.rss.peakAt(); ok && len(got.anon.Points) > 0 {
		// What the peak was made of: the Go heap, or mapped files.
		l.fig(Figure{Name: "RSS at the peak, anonymous", Value: got.anon.at(x), Unit: "MiB"})
		l.fig(Figure{Name: "RSS at the peak, file-backed", Value: got.file.at(x), Unit: "MiB"})
	}
	l.fig(Figure{Name: "RSS, last sample", Value: last(got.rss), Unit: "MiB"})
	l.fig(Figure{Name: "p99 of a sample, first", Value: first(got.lat), Unit: "ms"})
	l.fig(Figure{Name: "p99 of a sample, worst", Value: got.lat.peak(), Unit: "ms"})
	l.fig(Figure{Name: "p99 of a sample, last", Value: last(got.lat), Unit: "ms"})
	l.fig(Figure{Name: "max publish→receive", Value: ms(hq(s.Latency(), 100)), Unit: "ms"})
	if len(got.slow.Points) > 0 { // the store, from hookd's /metrics
		l.fig(Figure{Name: "store writes over 50 ms", Value: got.slow.sum(), Lower: true})
		l.fig(Figure{Name: "level-0 tables, most", Value: got.l0.peak(),
			Unit: fmt.Sprintf("tables (writes held at %.0f)", got.l0Stall), Lower: true})
	}
	l.fig(Figure{Name: "lost", Value: float64(3*live.Load() - st.Unique), Want: "0"})
	_ = complete
	l.curve("mixed load", s.Latency())
	return nil
}
