package bench

import (
	"context"
	"fmt"
	"time"
)

// Fault shares of the faults scenario.
const (
	faultFail  = 0.10
	faultSlow  = 0.10
	faultDelay = 200 * time.Millisecond
)

// runFaults delivers to a sink that answers one request in ten with a
// 500 and one in ten only after 200 ms, to one webhook of maxBatchSize 1
// (and one of 100) retrying every 100 ms: attempts per event (floor: the
// attempts the 500s force, 1/(1-share)), and the time from the first
// publish until every event has arrived.
func runFaults(ctx context.Context, l *Lab) error {
	for _, mbs := range dims(l.o.MaxBatchSize, 1, 100) {
		t, c, stop, err := l.server(ctx)
		if err != nil {
			return err
		}
		err = faultsWith(ctx, l, t, c, mbs)
		stop()
		if err != nil {
			return err
		}
	}
	return nil
}

func faultsWith(ctx context.Context, l *Lab, t *target, c *Child, mbs int) error {
	s, err := StartSink(SinkOptions{FailShare: faultFail, SlowShare: faultSlow, SlowDelay: faultDelay})
	if err != nil {
		return err
	}
	defer s.Close()
	h := &hooks{t: t}
	defer h.delete()
	if err := h.createN(s, 1, hookSpec{MaxBatchSize: mbs, Retry: fastRetry("100ms")}); err != nil {
		return err
	}
	events := int64(or(l.o.Events, 5000))
	name := fmt.Sprintf("maxBatchSize %d, %s events, %.0f%% 500s, %.0f%% answered after %s",
		mbs, thousands(events), 100*faultFail, 100*faultSlow, faultDelay)
	stopWatch := l.watch(name, time.Second, s, c, nil)
	p := publish(ctx, t, pubOptions{Clients: or(l.o.Clients, 8), PerRequest: or(l.o.Batch, 10), Events: events,
		DataBytes: or(l.o.DataBytes, eventBytes)})
	complete := l.waitFor(ctx, s, events)
	stopWatch()
	if p.Errors > 0 {
		return fmt.Errorf("publish: %d requests failed, first: %s", p.Errors, p.FirstError)
	}
	st := s.Stats()
	// Attempts per event: requests the sink saw per event delivered. A
	// batch of k events is one attempt for k events, so for maxBatchSize
	// above 1 this counts requests per batch-delivered event.
	requestsPer := float64(st.Requests) / float64(max(st.Unique, 1))
	if mbs == 1 {
		l.fig(Figure{Name: name + ", attempts per event", Value: requestsPer, Lower: true,
			Ceiling: 1 / (1 - faultFail), CeilingOf: "the attempts the 500s force"})
	} else {
		l.fig(Figure{Name: name + ", requests per event", Value: requestsPer})
	}
	l.fig(Figure{Name: name + ", completion", Value: st.Last.Sub(p.Start).Seconds(), Unit: "s"})
	l.fig(Figure{Name: name + ", lost", Value: float64(events - st.Unique), Want: "0"})
	l.fig(Figure{Name: name + ", duplicates", Value: float64(st.Duplicates())})
	if !complete {
		l.prog.note("  faults: %d of %d events after %s", st.Unique, events, l.o.Timeout)
	}
	return nil
}
