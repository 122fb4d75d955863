package engine

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"hookd/wal"
)

// Operational events: when a webhook turns unhealthy, is disabled, or a
// batch expires, hookd publishes an event of a reserved type into the
// tenant's log, where it fans out like any other event to the webhooks
// that name its type (wal.Webhook.Matches: a catch-all filter does not
// take reserved types). The delivery path only offers the event to a
// bounded queue and goes on; one goroutine appends what is queued. When
// the queue is full the event is dropped and counted; a failed append is
// logged and counted.

// opsQueueLen bounds the operational events waiting to be appended.
const opsQueueLen = 1024

// appender is the part of the store that publishes events (*wal.Store).
type appender interface {
	Append(tenant string, evs []wal.EventInput) (wal.AppendResult, error)
}

type opsEvent struct {
	tenant string
	typ    string
	hook   wal.ID // the webhook it is about (for the log)
	data   any    // marshalled by the publisher, off the delivery path
}

type publisher struct {
	q        chan opsEvent
	app      appender
	log      *zap.Logger
	stats    *counters
	now      func() time.Time
	wants    func(tenant, typ string) bool // an active webhook of tenant names typ
	lastDrop atomic.Int64                  // unix ns of the last "dropped" log line

	running atomic.Bool
	flush   atomic.Bool // at quit: append what is queued (else drop it)
	quit    chan struct{}
	done    chan struct{}
}

func newPublisher(app appender, log *zap.Logger, stats *counters, now func() time.Time, wants func(string, string) bool) *publisher {
	return &publisher{q: make(chan opsEvent, opsQueueLen), app: app, log: log, stats: stats, now: now, wants: wants,
		quit: make(chan struct{}), done: make(chan struct{})}
}

// start runs the publisher's goroutine (once).
func (p *publisher) start() {
	if p != nil && p.running.CompareAndSwap(false, true) {
		go p.run()
	}
}

// stop ends the goroutine, after appending what is queued when flush is
// set (else it is dropped, counted), and waits for it. Events offered
// later are not appended.
func (p *publisher) stop(flush bool) {
	if p == nil || !p.running.CompareAndSwap(true, false) {
		return
	}
	p.flush.Store(flush)
	close(p.quit)
	<-p.done
}

// offer queues ev without blocking; a full queue drops it.
func (p *publisher) offer(ev opsEvent) {
	if p == nil {
		return
	}
	select {
	case p.q <- ev:
	default:
		p.stats.operational(ev.typ, "dropped")
		now := p.now().UnixNano()
		if last := p.lastDrop.Load(); now-last >= int64(10*time.Second) && p.lastDrop.CompareAndSwap(last, now) {
			p.log.Warn("engine: operational event dropped: its queue is full",
				zap.String("type", ev.typ), zap.String("webhookId", ev.hook.Text("wh_")), zap.Int("queue", opsQueueLen))
		}
	}
}

// run appends queued events until quit.
func (p *publisher) run() {
	defer close(p.done)
	var batch []opsEvent
	for {
		select {
		case <-p.quit:
			for batch = p.drain(batch[:0]); len(batch) > 0; batch = p.drain(batch[:0]) {
				if p.flush.Load() {
					p.publish(batch)
					continue
				}
				for _, ev := range batch {
					p.stats.operational(ev.typ, "dropped")
				}
			}
			return
		case ev := <-p.q:
			p.publish(p.drain(append(batch[:0], ev)))
		}
	}
}

// drain adds to batch what is queued, up to 100 events.
func (p *publisher) drain(batch []opsEvent) []opsEvent {
	for len(batch) < 100 {
		select {
		case ev := <-p.q:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// publish appends a drained batch, one append per tenant.
func (p *publisher) publish(batch []opsEvent) {
	byTenant := map[string][]opsEvent{}
	var order []string
	for _, ev := range batch {
		if p.wants != nil && !p.wants(ev.tenant, ev.typ) {
			p.stats.operational(ev.typ, "skipped")
			continue
		}
		if _, ok := byTenant[ev.tenant]; !ok {
			order = append(order, ev.tenant)
		}
		byTenant[ev.tenant] = append(byTenant[ev.tenant], ev)
	}
	for _, tenant := range order {
		evs := byTenant[tenant]
		in := make([]wal.EventInput, 0, len(evs))
		for _, ev := range evs {
			data, err := json.Marshal(ev.data)
			if err != nil { // cannot happen: the data are plain structs
				p.stats.operational(ev.typ, "failed")
				continue
			}
			in = append(in, wal.EventInput{Type: ev.typ, Data: data})
		}
		if _, err := p.app.Append(tenant, in); err != nil {
			for _, ev := range evs {
				p.stats.operational(ev.typ, "failed")
				p.log.Warn("engine: publish operational event failed", zap.String("type", ev.typ),
					zap.String("tenant", tenant), zap.String("webhookId", ev.hook.Text("wh_")), zap.Error(err))
			}
			continue
		}
		for _, ev := range evs {
			p.stats.operational(ev.typ, "published")
		}
	}
}

// wantsOps reports whether an active webhook of tenant names typ in its
// filter (held under e.mu; on the publisher's goroutine, not the delivery
// path).
func (e *Engine) wantsOps(tenant, typ string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range e.hooks {
		if w.Tenant == tenant && w.IsActive && len(w.Events) > 0 && w.Matches(typ) {
			return true
		}
	}
	return false
}

// The data of the operational events (API.md §8, openapi.json).

// WebhookAlert is the data of hookd.webhook.unhealthy and
// hookd.webhook.disabled.
type WebhookAlert struct {
	WebhookID           string `json:"webhookId"`
	URL                 string `json:"url"`
	Reason              string `json:"reason"` // consecutive_failures | failing_too_long | gone
	ConsecutiveFailures int    `json:"consecutiveFailures"`
	FailingSince        string `json:"failingSince,omitempty"`
	LastStatusCode      int    `json:"lastStatusCode"`
	LastErrorClass      string `json:"lastErrorClass,omitempty"`
	BatchID             string `json:"batchId,omitempty"` // the batch whose attempt caused it
}

// BatchAlert is the data of hookd.batch.expired.
type BatchAlert struct {
	WebhookID      string `json:"webhookId"`
	URL            string `json:"url"`
	BatchID        string `json:"batchId"`
	Reason         string `json:"reason"` // attempts_exhausted | gone | retention
	Attempts       int    `json:"attempts"`
	Events         int    `json:"events"`
	LastStatusCode int    `json:"lastStatusCode"`
	LastErrorClass string `json:"lastErrorClass,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// onlyReserved reports whether every event of b is of a reserved type: no
// hookd.batch.expired is published for such a batch, or a subscriber of
// hookd.batch.expired that fails would feed itself forever.
func onlyReserved(b *wal.Batch) bool {
	for _, ev := range b.Events {
		if !Reserved(ev.Type) {
			return false
		}
	}
	return len(b.Events) > 0
}

func (e *Engine) batchExpired(w *wal.Webhook, b *wal.Batch, reason, class string) {
	if onlyReserved(b) {
		return
	}
	e.pub.offer(opsEvent{tenant: b.Tenant, typ: TypeBatchExpired, hook: b.WebhookID, data: BatchAlert{
		WebhookID: b.WebhookID.Text("wh_"), URL: w.URL, BatchID: b.ID.Text("bat_"), Reason: reason,
		Attempts: b.Attempts, Events: len(b.Events), LastStatusCode: b.LastCode, LastErrorClass: class}})
}

func (e *Engine) webhookAlert(typ string, w *wal.Webhook, b *wal.Batch, reason, class string, s failStreak) {
	e.pub.offer(opsEvent{tenant: w.Tenant, typ: typ, hook: w.ID, data: WebhookAlert{
		WebhookID: w.ID.Text("wh_"), URL: w.URL, Reason: reason, ConsecutiveFailures: s.failures,
		FailingSince: rfc3339(s.since), LastStatusCode: b.LastCode, LastErrorClass: class, BatchID: b.ID.Text("bat_")}})
}

// failStreak is a webhook's current run of failures.
type failStreak struct {
	failures int
	since    time.Time
}

// streak reads a webhook's run of failures (caller holds the engine's lock).
func (c *Core) streak(id wal.ID) failStreak {
	if h := c.hooks[id]; h != nil {
		return failStreak{h.failures, h.failingSince}
	}
	return failStreak{}
}
