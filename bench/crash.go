package bench

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// runCrash publishes from 8 clients (1..5 events a request) to one
// webhook of maxBatchSize 1 while it kills hookd with SIGKILL and starts
// it again on the same data, --crash-cycles times (default 3; the issue's
// bar is 200). Then it waits for every acknowledged event to arrive:
// lost must be 0; duplicates (a delivery cut by a kill is sent again) are
// allowed and counted.
func runCrash(ctx context.Context, l *Lab) error {
	cycles := or(l.o.CrashCycles, 3)
	s, err := StartSink(SinkOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	t, c, stop, err := l.server(ctx)
	if err != nil {
		return err
	}
	defer stop()
	h := &hooks{t: t}
	if err := h.createN(s, 1, hookSpec{MaxBatchSize: or(l.o.MaxBatchSize, 1), Retry: fastRetry("100ms")}); err != nil {
		return err
	}
	acked := &ackSet{}
	var live atomic.Int64
	load, cancel := context.WithCancel(ctx)
	pubDone := make(chan pubResult, 1)
	go func() {
		pubDone <- publish(load, t, pubOptions{Clients: or(l.o.Clients, 8), PerRequest: or(l.o.Batch, 5), Vary: true,
			Rate: l.o.Rate, DataBytes: or(l.o.DataBytes, eventBytes), Acked: acked, Live: &live})
	}()
	w := l.watch(fmt.Sprintf("%d kill -9 cycles", cycles), time.Second, s, c, &live)
	var ready []float64
	for i := 0; i < cycles && ctx.Err() == nil; i++ {
		// 0.5 to 1.5 s of load between kills, varied so kills land at
		// different points of a commit.
		time.Sleep(500*time.Millisecond + time.Duration(i*7919%1000)*time.Millisecond) // the load runs meanwhile
		c.Kill()
		if err := c.Start(ctx); err != nil {
			cancel()
			<-pubDone
			w()
			return fmt.Errorf("restart %d: %w", i+1, err)
		}
		t.setURL(c.URL)
		ready = append(ready, c.Ready.Seconds())
		l.prog.set("crash: %d of %d kills, %s events acknowledged", i+1, cycles, thousands(live.Load()))
	}
	time.Sleep(500 * time.Millisecond) // load on the last restart too
	cancel()
	<-pubDone
	list, n := acked.list()
	deadline := time.Now().Add(l.o.Timeout)
	missing := s.Missing(0, list)
	for missing > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond) // waiting for deliveries the sink counts; polled, as it has no per-set signal
		missing = s.Missing(0, list)
	}
	w()
	st := s.Stats()
	slices.Sort(ready)
	l.fig(Figure{Name: "kill -9 cycles", Value: float64(len(ready))})
	l.fig(Figure{Name: "acknowledged", Value: float64(n), Unit: "events"})
	l.fig(Figure{Name: "acknowledged and delivered", Value: float64(n - missing), Unit: "events"})
	l.fig(Figure{Name: "lost", Value: float64(missing), Unit: "events", Want: "0"})
	l.fig(Figure{Name: "delivered, not acknowledged (cut by a kill)", Value: float64(st.Unique - (n - missing)), Unit: "events"})
	l.fig(Figure{Name: "duplicates", Value: float64(st.Duplicates()), Unit: "events"})
	if len(ready) > 0 {
		l.fig(Figure{Name: "kill -9 to ready, median", Value: ready[len(ready)/2], Unit: "s"})
		l.fig(Figure{Name: "kill -9 to ready, max", Value: ready[len(ready)-1], Unit: "s"})
	}
	return nil
}
