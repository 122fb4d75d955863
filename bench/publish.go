package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// pubOptions describe a publishing load.
type pubOptions struct {
	Clients    int           // concurrent publishers, one request in flight each
	PerRequest int           // events per request (1 = a bare event body)
	Vary       bool          // 1..PerRequest events per request, in turn
	Rate       float64       // events/s over all clients; 0 = as fast as acknowledged
	Events     int64         // stop after this many events (0 = no limit)
	Duration   time.Duration // stop after this long (0 = no limit)
	DataBytes  int           // about this many bytes per event

	Seq   *atomic.Int64 // next sequence number, shared across loads; nil = from 0
	Acked *ackSet       // when set, records each acknowledged seq
	Live  *atomic.Int64 // when set, counts acknowledged events as they come
}

// pubResult is what a publishing load saw.
type pubResult struct {
	Events, Requests, Errors int64 // events acknowledged (202), requests sent, requests failed
	FirstError               string
	Start, End               time.Time // first send, last answer
	Ack                      *hdrhistogram.Histogram
}

// Elapsed is first send to last answer.
func (r pubResult) Elapsed() time.Duration { return r.End.Sub(r.Start) }

// PerSec is acknowledged events per second.
func (r pubResult) PerSec() float64 { return rate(r.Events, r.Elapsed()) }

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// publish runs the load against t until Events or Duration or ctx ends.
// With a Rate, each event carries the time it was due to be sent, not
// the time it was sent, so a server that holds the publishers up is
// charged for the wait (no coordinated omission).
func publish(ctx context.Context, t *target, o pubOptions) pubResult {
	o.Clients = max(o.Clients, 1)
	o.PerRequest = max(o.PerRequest, 1)
	if o.Seq == nil {
		o.Seq = new(atomic.Int64)
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	pad := padding(o.DataBytes)
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.Clients) * float64(o.PerRequest) / o.Rate)
		if o.Vary {
			interval = time.Duration(float64(interval) * float64(o.PerRequest+1) / 2 / float64(o.PerRequest))
		}
	}
	var (
		taken, events, requests, errs atomic.Int64
		mu                            sync.Mutex
		firstErr                      string
		last                          time.Time
		wg                            sync.WaitGroup
	)
	ack := newHist()
	start := time.Now()
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			local := newHist()
			var b []byte
			next := start.Add(time.Duration(c) * interval / time.Duration(o.Clients))
			for i := c; ctx.Err() == nil; i++ {
				n := o.PerRequest
				if o.Vary {
					n = 1 + i%o.PerRequest
				}
				if o.Events > 0 {
					k := taken.Add(int64(n)) - int64(n)
					if k >= o.Events {
						break
					}
					n = int(min(int64(n), o.Events-k))
				}
				seq := o.Seq.Add(int64(n)) - int64(n)
				due := time.Now()
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(d): // pacing the load: the schedule is the point
						}
						if ctx.Err() != nil {
							break
						}
					}
					due = next
					next = next.Add(interval)
				}
				b = publishBody(b[:0], n, due, seq, pad)
				body, code, err := t.do("POST", "/v1/events", b)
				now := time.Now()
				requests.Add(1)
				if err != nil || code != 202 {
					errs.Add(1)
					mu.Lock()
					if firstErr == "" {
						if err != nil {
							firstErr = err.Error()
						} else {
							firstErr = fmt.Sprintf("status %d: %.200s", code, body)
						}
					}
					mu.Unlock()
					time.Sleep(time.Millisecond) // a failing server: do not spin on it
					continue
				}
				recordDur(local, now.Sub(due))
				events.Add(int64(n))
				if o.Live != nil {
					o.Live.Add(int64(n))
				}
				if o.Acked != nil {
					o.Acked.add(seq, n)
				}
			}
			mu.Lock()
			ack.Merge(local)
			if now := time.Now(); now.After(last) {
				last = now
			}
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	return pubResult{Events: events.Load(), Requests: requests.Load(), Errors: errs.Load(),
		FirstError: firstErr, Start: start, End: last, Ack: ack}
}

// ackSet is the set of acknowledged sequence numbers.
type ackSet struct {
	mu   sync.Mutex
	seqs []bool
	n    int64
}

func (a *ackSet) add(seq int64, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for int64(len(a.seqs)) < seq+int64(n) {
		a.seqs = append(a.seqs, make([]bool, max(seq+int64(n)-int64(len(a.seqs)), int64(len(a.seqs))))...)
	}
	for i := seq; i < seq+int64(n); i++ {
		if !a.seqs[i] {
			a.seqs[i] = true
			a.n++
		}
	}
}

// list is the acknowledged seqs as a bitmap, and how many there are.
func (a *ackSet) list() ([]bool, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bool(nil), a.seqs...), a.n
}
