package bench

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// runBacklog publishes N events (default 100,000; --backlog-events
// 1000000 for the full test) for one webhook whose endpoint is dead, then
// measures what a backlog costs: the child's RSS while publishing and
// once published, disk bytes per pending event and, once delivered, per
// delivered event (each after a clean stop), the
// time hookd takes to be ready again on that data after a clean stop and
// after kill -9, and the drain rate once the
// endpoint answers (first to last receipt). Ceiling of the drain: loopback
// HTTP with the delivered body size.
func runBacklog(ctx context.Context, l *Lab) error {
	n := int64(or(l.o.BacklogEvents, 100_000))
	mbs := or(l.o.MaxBatchSize, 100)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port that was free, closed again: a dead endpoint
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	t, c, stop, err := l.server(ctx)
	if err != nil {
		return err
	}
	defer stop()
	h := &hooks{t: t}
	if err := h.create("http://"+addr+"/w/0", hookSpec{MaxBatchSize: mbs, Retry: fastRetry("2s")}); err != nil {
		return err
	}
	name := fmt.Sprintf("%s pending, maxBatchSize %d", thousands(n), mbs)
	var live atomic.Int64
	w := l.watch(name+", publishing", 250*time.Millisecond, nil, c, &live)
	p := publish(ctx, t, pubOptions{Clients: or(l.o.Clients, 6), PerRequest: or(l.o.Batch, 1000), Events: n,
		DataBytes: or(l.o.DataBytes, eventBytes), Live: &live})
	peak := w().rss.peak()
	if p.Errors > 0 || p.Events != n {
		return fmt.Errorf("publish: %d of %d acknowledged, %d requests failed, first: %s", p.Events, n, p.Errors, p.FirstError)
	}
	l.fig(Figure{Name: name + ", published", Value: p.PerSec(), Unit: "events/s", Ceiling: l.ceil.httpEvents(1000), CeilingOf: "loopback HTTP"})
	l.fig(Figure{Name: name + ", RSS peak while publishing", Value: peak, Unit: "MiB"})
	time.Sleep(2 * time.Second) // letting the store settle before reading RSS and disk: the wait is the measurement
	l.fig(Figure{Name: name + ", RSS 2 s after", Value: float64(c.RSS()) / (1 << 20), Unit: "MiB"})
	// On disk: after a clean stop, when Badger has truncated its value log
	// and flushed its memtable, so the space it allocates ahead (~105 MiB
	// for an empty store) does not hide the backlog.
	c.Stop()
	evBytes := float64(len(publishBody(nil, 1, time.Now(), n, padding(or(l.o.DataBytes, eventBytes)))))
	l.fig(Figure{Name: name + ", disk per pending event", Value: float64(diskBytes(c.Dir)) / float64(n), Unit: "B",
		Lower: true, Ceiling: evBytes, CeilingOf: "the event's JSON"})
	if err := c.Start(ctx); err != nil {
		return err
	}
	l.fig(Figure{Name: name + ", clean stop to ready", Value: c.Ready.Seconds(), Unit: "s"})
	c.Kill()
	if err := c.Start(ctx); err != nil {
		return err
	}
	t.setURL(c.URL)
	l.fig(Figure{Name: name + ", kill -9 to ready", Value: c.Ready.Seconds(), Unit: "s"})
	time.Sleep(time.Second) // as above: RSS of the restarted process once it has its schedule
	l.fig(Figure{Name: name + ", RSS after restart", Value: float64(c.RSS()) / (1 << 20), Unit: "MiB"})

	s, err := StartSink(SinkOptions{Addr: addr})
	if err != nil {
		return fmt.Errorf("the dead endpoint's port was taken meanwhile: %w", err)
	}
	defer s.Close()
	w = l.watch(name+", draining", time.Second, s, c, nil)
	complete := l.waitFor(ctx, s, n)
	w()
	st := s.Stats()
	l.fig(Figure{Name: name + ", drain", Value: rate(st.Unique, st.Last.Sub(st.First)), Unit: "events/s",
		Ceiling: l.ceil.httpEvents(mbs), CeilingOf: "loopback HTTP, delivered body, 64 conns"})
	l.fig(Figure{Name: name + ", lost", Value: float64(n - st.Unique), Want: "0"})
	if !complete {
		l.prog.note("  backlog: %d of %d delivered after %s", st.Unique, n, l.o.Timeout)
		h.delete()
		return nil
	}
	// Delivered, each event also keeps its batch, attempt and index
	// records until retention expires: on disk, again after a clean stop.
	c.Stop()
	l.fig(Figure{Name: name + ", disk per delivered event", Value: float64(diskBytes(c.Dir)) / float64(n), Unit: "B",
		Lower: true, Ceiling: evBytes, CeilingOf: "the event's JSON"})
	if err := c.Start(ctx); err != nil {
		return err
	}
	t.setURL(c.URL)
	h.delete()
	return nil
}
