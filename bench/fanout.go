package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// runFanout creates N webhooks (default 100) of maxBatchSize 1 for the
// same event type. One at a time, it publishes an event and waits until
// all N have it: the fan-out's completion time with nothing queued. Then
// a burst of events to all N: deliveries/s against the loopback ceiling.
func runFanout(ctx context.Context, l *Lab) error {
	n := or(l.o.FanoutWebhooks, or(l.o.Webhooks, 100))
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
	if err := h.createN(s, n, hookSpec{MaxBatchSize: 1}); err != nil {
		return err
	}
	pad := padding(or(l.o.DataBytes, eventBytes))
	done := newHist()
	var seq int64
	singles := int64(or(l.o.Events/10, 50))
	for ; seq < singles && ctx.Err() == nil; seq++ {
		l.prog.set("fanout: one event to %d webhooks, %d of %d", n, seq+1, singles)
		t0 := time.Now()
		if b, code, err := t.do("POST", "/v1/events", publishBody(nil, 1, t0, seq, pad)); err != nil || code != 202 {
			return fmt.Errorf("publish: %d %s %v", code, b, err)
		}
		select {
		case <-s.Until((seq + 1) * int64(n)):
		case <-time.After(l.o.Timeout):
			return fmt.Errorf("event %d reached %d of %d webhooks in %s", seq, s.Stats().Unique-seq*int64(n), n, l.o.Timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
		recordDur(done, s.Stats().Last.Sub(t0))
	}
	name := fmt.Sprintf("one event to %d webhooks, all received", n)
	floor, of := ms(l.ceil.LatencyFloor()), "fdatasync p50 + loopback RTT"
	l.fig(Figure{Name: name + ", p50", Value: ms(hq(done, 50)), Unit: "ms", Lower: true, Ceiling: floor, CeilingOf: of})
	l.fig(Figure{Name: name + ", p99", Value: ms(hq(done, 99)), Unit: "ms", Lower: true, Ceiling: floor, CeilingOf: of})
	l.curve(name, done)

	burst := int64(or(l.o.Events, 1000))
	bname := fmt.Sprintf("burst of %s events to %d webhooks", thousands(burst), n)
	seqs := new(atomic.Int64)
	seqs.Store(seq)
	want := int64(n) * (seq + burst)
	stopWatch := l.watch(bname, time.Second, s, c, nil)
	before := s.Stats().Unique
	p := publish(ctx, t, pubOptions{Clients: or(l.o.Clients, 8), PerRequest: or(l.o.Batch, 10), Events: burst,
		DataBytes: or(l.o.DataBytes, eventBytes), Seq: seqs})
	complete := l.waitFor(ctx, s, want)
	stopWatch()
	st := s.Stats()
	if p.Errors > 0 {
		return fmt.Errorf("publish: %d requests failed, first: %s", p.Errors, p.FirstError)
	}
	l.fig(Figure{Name: bname, Value: rate(st.Unique-before, st.Last.Sub(p.Start)), Unit: "deliveries/s",
		Ceiling: l.ceil.HTTP1, CeilingOf: "loopback HTTP, 1-event body, 64 conns"})
	l.fig(Figure{Name: "lost", Value: float64(want - st.Unique), Want: "0"})
	if !complete {
		l.prog.note("  fanout: %d of %d deliveries after %s", st.Unique, want, l.o.Timeout)
	}
	return nil
}
