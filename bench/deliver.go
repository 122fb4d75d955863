package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// DeliverOptions configure one end-to-end delivery run: a local sink
// receives what hookd delivers for webhooks this run creates.
type DeliverOptions struct {
	URL          string // hookd base URL (it must allow private destinations)
	Token        string
	Webhooks     int
	MaxBatchSize int
	Events       int // events to publish (each goes to every webhook)
	Rate         int // published events/s; 0 = as fast as acknowledged
	PerRequest   int // events per publish request, default 100
	Clients      int // concurrent publishers, default 8
	DataBytes    int
	Timeout      time.Duration // give up waiting for deliveries after this long
}

// DeliverResult is what a delivery run measured.
type DeliverResult struct {
	Deliveries int64 // (webhook, event) pairs received, duplicates included
	Unique     int64 // distinct (webhook, event) pairs
	Requests   int64 // HTTP requests received by the sink
	Elapsed    time.Duration
	Published  time.Duration // from the first publish to the last acknowledgement
	P50, P99   time.Duration // publish → receive latency of an event
	Complete   bool
	Latency    *hdrhistogram.Histogram `json:"-"`
}

// PerSec is the delivered (webhook, event) pairs per second.
func (r DeliverResult) PerSec() float64 { return rate(r.Unique, r.Elapsed) }

func (r DeliverResult) String() string {
	return fmt.Sprintf("%d deliveries in %d requests in %.2fs (published in %.2fs): %.0f deliveries/s, latency p50 %s p99 %s, complete %v",
		r.Deliveries, r.Requests, r.Elapsed.Seconds(), r.Published.Seconds(), r.PerSec(), r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Complete)
}

func (o *DeliverOptions) defaults() {
	o.Webhooks = max(o.Webhooks, 1)
	o.MaxBatchSize = max(o.MaxBatchSize, 1)
	o.Events = max(o.Events, 1)
	o.PerRequest = or(o.PerRequest, 100)
	o.Clients = or(o.Clients, 8)
	o.DataBytes = max(o.DataBytes, 100)
	o.Timeout = or(o.Timeout, 2*time.Minute)
}

// Deliver creates the webhooks, publishes, and waits until the sink has
// every (webhook, event) pair or Timeout passes.
func Deliver(ctx context.Context, o DeliverOptions) (DeliverResult, error) {
	o.defaults()
	return deliverOnce(ctx, newTarget(o.URL, o.Token, o.Clients), o, nil)
}

// deliverOnce is one delivery run against t; watch, when set, is started
// once the sink is up and stopped at the end.
func deliverOnce(ctx context.Context, t *target, o DeliverOptions, watch func(*Sink) func() watched) (DeliverResult, error) {
	s, err := StartSink(SinkOptions{})
	if err != nil {
		return DeliverResult{}, err
	}
	defer s.Close()
	h := &hooks{t: t}
	defer h.delete()
	if err := h.createN(s, o.Webhooks, hookSpec{MaxBatchSize: o.MaxBatchSize}); err != nil {
		return DeliverResult{}, err
	}
	want := int64(o.Webhooks) * int64(o.Events)
	done := s.Until(want)
	if watch != nil {
		stop := watch(s)
		defer stop()
	}
	p := publish(ctx, t, pubOptions{Clients: o.Clients, PerRequest: o.PerRequest, Rate: float64(o.Rate),
		Events: int64(o.Events), DataBytes: o.DataBytes})
	if p.Errors > 0 {
		return DeliverResult{}, fmt.Errorf("bench: publish: %d requests failed, first: %s", p.Errors, p.FirstError)
	}
	r := DeliverResult{Published: p.Elapsed()}
	select {
	case <-done:
		r.Complete = true
	case <-time.After(o.Timeout):
	case <-ctx.Done():
	}
	st := s.Stats()
	r.Elapsed = st.Last.Sub(p.Start)
	if !r.Complete {
		r.Elapsed = time.Since(p.Start)
	}
	r.Deliveries, r.Unique, r.Requests = st.Deliveries, st.Unique, st.Requests
	r.Latency = s.Latency()
	r.P50, r.P99 = hq(r.Latency, 50), hq(r.Latency, 99)
	return r, nil
}

// deliverCase is one configuration of the deliver scenario.
type deliverCase struct {
	kind                             string
	mbs, hooks, events, clients, per int
}

// runDeliver (names read "size S, H hook(s), burst|steady N (clients×events per
// request)") measures deliveries/s from the first publish to the last
// receipt for maxBatchSize 1 and 100, one webhook and a hundred, after a
// burst of single-event publishes from 32 clients and a steady stream of
// 100-event publishes. Each configuration gets a fresh hookd. Ceiling:
// loopback HTTP with bodies of the delivered size from 64 connections
// (delivery.max_conns_per_host).
func runDeliver(ctx context.Context, l *Lab) error {
	cases := []deliverCase{
		{"burst", 1, 1, 20_000, 32, 1},
		{"burst", 100, 1, 20_000, 32, 1},
		{"steady", 1, 1, 100_000, 8, 100},
		{"steady", 100, 1, 100_000, 8, 100},
		{"steady", 1, 100, 2_000, 8, 100},
		{"steady", 100, 100, 5_000, 8, 100},
	}
	seen := map[deliverCase]bool{}
	var lost, dups int64
	for _, k := range cases {
		k.mbs, k.hooks, k.events = or(l.o.MaxBatchSize, k.mbs), or(l.o.Webhooks, k.hooks), or(l.o.Events, k.events)
		k.clients, k.per = or(l.o.Clients, k.clients), or(l.o.Batch, k.per)
		if seen[k] {
			continue
		}
		seen[k] = true
		t, c, stop, err := l.server(ctx)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("size %d, %d hook(s), %s %s (%d×%d)",
			k.mbs, k.hooks, k.kind, thousands(int64(k.events)), k.clients, k.per)
		o := DeliverOptions{Webhooks: k.hooks, MaxBatchSize: k.mbs, Events: k.events, PerRequest: k.per,
			Clients: k.clients, DataBytes: or(l.o.DataBytes, eventBytes), Rate: int(l.o.Rate), Timeout: l.o.Timeout}
		o.defaults()
		r, err := deliverOnce(ctx, t, o, func(s *Sink) func() watched { return l.watch(name, time.Second, s, c, nil) })
		stop()
		if err != nil {
			return err
		}
		want := int64(k.hooks) * int64(k.events)
		lost += want - r.Unique
		dups += r.Deliveries - r.Unique
		if !r.Complete {
			l.prog.note("  %s: %d of %d deliveries after %s", name, r.Unique, want, l.o.Timeout)
		}
		l.fig(Figure{Name: name, Value: r.PerSec(), Unit: "deliveries/s",
			Ceiling: l.ceil.httpEvents(k.mbs), CeilingOf: "loopback HTTP, delivered body, 64 conns"})
		l.fig(Figure{Name: name + ", p99", Value: ms(r.P99), Unit: "ms"})
		// What the publishers got acknowledged, first publish to last
		// acknowledgement: when it is about the deliveries/s above,
		// ingest bounds the run (a burst of single-event publishes from
		// 32 clients is one), not delivery.
		l.fig(Figure{Name: name + ", acknowledged", Value: rate(int64(k.events), r.Published), Unit: "events/s"})
		if k.mbs == 1 && k.hooks == 1 {
			if err := deliverRelay(ctx, l, o, name); err != nil {
				return err
			}
		}
	}
	l.fig(Figure{Name: "lost (all configurations)", Value: float64(lost), Want: "0"})
	l.fig(Figure{Name: "duplicates (all configurations)", Value: float64(dups)})
	return nil
}

// deliverRelay runs one configuration of maxBatchSize 1 through the bare
// relay (ServeFloor: a synced append, then one POST an event), the
// floor of what any durable relay does on this machine with the same
// publishers and receiver; a figure of its own beside hookd's.
func deliverRelay(ctx context.Context, l *Lab, o DeliverOptions, name string) error {
	return l.withRelay(ctx, func(t *target, c *Child) error {
		name += ", bare relay"
		r, err := deliverOnce(ctx, t, o, func(s *Sink) func() watched { return l.watch(name, time.Second, s, c, nil) })
		if err != nil {
			return err
		}
		if !r.Complete {
			l.prog.note("  %s: %d of %d deliveries after %s", name, r.Unique, int64(o.Webhooks)*int64(o.Events), o.Timeout)
		}
		l.fig(Figure{Name: name, Value: r.PerSec(), Unit: "deliveries/s",
			Ceiling: l.ceil.httpEvents(1), CeilingOf: "loopback HTTP, delivered body, 64 conns"})
		l.fig(Figure{Name: name + ", acknowledged", Value: rate(int64(o.Events), r.Published), Unit: "events/s"})
		return nil
	})
}
