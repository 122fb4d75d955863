package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"hookd/wal"
)

// Operations the API offers on top of automatic delivery.

// Replay schedules one more attempt of a batch now, whatever its status,
// and returns the attempt's id (its record exists, "scheduled", at once).
// A batch that was final gets a budget of exactly this one attempt; an open
// one keeps its budget and just goes now.
func (e *Engine) Replay(tenant string, webhook, batch wal.ID) (wal.ID, error) {
	f := e.fence(tenant, webhook)
	if f == nil {
		return wal.ID{}, wal.ErrFenced // not this engine's partition
	}
	bl := e.lockBatch(batch)
	defer bl.Unlock()
	now := e.clock.Now()
	b, att, err := e.rewrite(f, tenant, webhook, batch, func(b *wal.Batch) (*wal.Batch, *wal.Attempt) {
		return e.core.ReplayBatch(now, b, e.store.NewID())
	})
	if err != nil {
		return wal.ID{}, err
	}
	e.restore(b, now)
	return att.ID, nil
}

// ExpiredFilter selects the batches SendExpired revives.
type ExpiredFilter struct {
	Webhook       wal.ID // zero: every webhook of the tenant
	Batches       map[wal.ID]bool
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Event         wal.ID // zero: any; else batches holding this event
}

// SendExpired gives every matching expired batch of tenant a fresh attempt
// budget (the webhook's whole schedule) starting now, and reports how many.
func (e *Engine) SendExpired(tenant string, f ExpiredFilter) (int, error) {
	e.mu.Lock()
	var hooks []*wal.Webhook
	for _, w := range e.hooks {
		if w.Tenant == tenant && (f.Webhook.IsZero() || w.ID == f.Webhook) {
			hooks = append(hooks, w)
		}
	}
	e.mu.Unlock()
	keep := func(b *wal.Batch) bool {
		if b.Status != wal.BatchExpired || (f.Batches != nil && !f.Batches[b.ID]) ||
			(!f.CreatedAfter.IsZero() && !b.CreatedAt.After(f.CreatedAfter)) ||
			(!f.CreatedBefore.IsZero() && !b.CreatedAt.Before(f.CreatedBefore)) {
			return false
		}
		if !f.Event.IsZero() {
			for _, ev := range b.Events {
				if ev.ID == f.Event {
					return true
				}
			}
			return false
		}
		return true
	}
	now := e.clock.Now()
	n := 0
	for _, w := range hooks {
		var after wal.ID
		for {
			page, more, err := e.store.ListBatches(tenant, w.ID, after, 100, keep) // 100 batches of up to 1,000 event ids and MaxBatchRefBytes of refs in memory
			if err != nil {
				return n, err
			}
			f := e.fence(tenant, w.ID)
			if f == nil {
				break // not this engine's partition (any more)
			}
			for _, b := range page {
				bl := e.lockBatch(b.ID)
				// Read again under the batch's lock, and again if another
				// writer saves it in between: only a batch still expired goes.
				b, _, err := e.rewrite(f, tenant, b.WebhookID, b.ID, func(b *wal.Batch) (*wal.Batch, *wal.Attempt) {
					if b.Status != wal.BatchExpired {
						return nil, nil
					}
					return e.core.SendExpiredBatch(now, b, w.RetrySchedule), nil
				})
				if err == nil && b != nil {
					e.restore(b, now)
					n++
				}
				bl.Unlock()
				if err != nil && !errors.Is(err, wal.ErrNotFound) {
					return n, err
				}
			}
			if !more || len(page) == 0 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	return n, nil
}

func (e *Engine) restore(b *wal.Batch, now time.Time) {
	e.mu.Lock()
	e.core.Restore(stateOf(b, now))
	e.mu.Unlock()
	e.kick()
}

// PingResult is the answer of a ping or a heartbeat probe.
type PingResult struct {
	Success    bool
	StatusCode int
	Latency    time.Duration
	Error      string
}

// Probes (pings, heartbeat probes) go around the batches' per-destination
// fairness (fair.go): these bound them, so that no caller can take a
// destination's connections from the deliveries to it, or make it a
// stream of signed requests: one probe a webhook at a time, and
// maxProbesPerDest a destination (of its 64 connections).
const maxProbesPerDest = 4

// ErrProbeBusy: a probe of the webhook, or maxProbesPerDest of its
// destination, is in flight; try again once it ended.
var ErrProbeBusy = errors.New("a probe of this webhook (or too many of its destination) is in flight")

type probes struct {
	mu    sync.Mutex
	hooks map[wal.ID]struct{}
	dests map[string]int
}

// start admits a probe of w, or reports false; end releases it.
func (p *probes) start(w *wal.Webhook) (end func(), ok bool) {
	dest := destOf(w.URL)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, busy := p.hooks[w.ID]; busy || p.dests[dest] >= maxProbesPerDest {
		return nil, false
	}
	if p.hooks == nil {
		p.hooks, p.dests = map[wal.ID]struct{}{}, map[string]int{}
	}
	p.hooks[w.ID] = struct{}{}
	p.dests[dest]++
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.hooks, w.ID)
		if p.dests[dest]--; p.dests[dest] <= 0 {
			delete(p.dests, dest)
		}
	}, true
}

// Ping sends a signed webhook.ping event to the webhook now, outside the
// log and the batches; ErrProbeBusy when one is already on its way
// (probes).
func (e *Engine) Ping(ctx context.Context, w *wal.Webhook) (PingResult, error) {
	end, ok := e.probes.start(w)
	if !ok {
		return PingResult{}, ErrProbeBusy
	}
	defer end()
	now := e.clock.Now()
	ev := &wal.Event{ID: e.store.NewID(), Type: "webhook.ping", CreatedAt: now,
		Data: fmt.Appendf(nil, `{"webhookId":%q}`, w.ID.Text("wh_"))}
	body, msgID := buildBody(1, wal.ID{}, []*wal.Event{ev})
	res := e.disp.Send(ctx, &Request{URL: w.URL, MsgID: msgID, Timestamp: now.Unix(), Body: body,
		Secrets: liveSecrets(w, now), Headers: w.CustomHeaders, Gzip: w.Compression == "gzip"})
	v := Classify(res.StatusCode, res.Err, res.RetryAfter)
	out := PingResult{Success: res.Err == nil && v.Kind == Done, StatusCode: res.StatusCode, Latency: res.Duration}
	if res.Err != nil {
		out.Error = res.Class + ": " + res.Err.Error()
	} else if !out.Success {
		out.Error = fmt.Sprintf("receiver answered %d", res.StatusCode)
	}
	return out, nil
}

// Health reports a webhook's health as seen from its recent attempts.
func (e *Engine) Health(id wal.ID) Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.core.Health(id)
	if !ok {
		return Health{Status: "disabled"}
	}
	return h
}
