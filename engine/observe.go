package engine

import (
	"sync/atomic"
	"time"

	"hookd/wal"
)

// What the engine tells operators: counters kept with atomic adds on the
// delivery path (Counters reads them) and a view of the core's state taken
// on demand (State). engine imports no metrics library: the api's
// collector turns both into Prometheus series when /metrics is scraped.

// Attempt outcomes and status classes, the labels of attempt counts.
var (
	Outcomes      = [...]string{"succeeded", "failed", "gone"}
	StatusClasses = [...]string{"2xx", "3xx", "4xx", "5xx", "none"}
	// ErrorClasses are the transport error classes counted (ClassOf);
	// any other counts as "other".
	ErrorClasses = [...]string{ClassTimeout, ClassConnRefused, ClassConnReset, ClassDNS, ClassTLS, ClassForbidden, ClassOther}
	// BatchEnds are the final statuses a batch closes with.
	BatchEnds = [...]string{wal.BatchDelivered, wal.BatchExpired, wal.BatchCancelled}
)

// Operational event types: hookd publishes them into the tenant's log
// (publish.go). Tenants may not publish types under ReservedPrefix.
const (
	ReservedPrefix       = "hookd."
	TypeWebhookUnhealthy = "hookd.webhook.unhealthy"
	TypeWebhookDisabled  = "hookd.webhook.disabled"
	TypeBatchExpired     = "hookd.batch.expired"
)

// OperationalTypes lists the reserved types hookd publishes.
var OperationalTypes = [...]string{TypeWebhookUnhealthy, TypeWebhookDisabled, TypeBatchExpired}

// OperationalResults say what became of an operational event: stored in
// the tenant's log, skipped (no active webhook of the tenant subscribes to
// its type), dropped (the bounded queue was full) or failed (the append
// failed; logged).
var OperationalResults = [...]string{"published", "skipped", "dropped", "failed"}

// Reserved reports whether typ is reserved for hookd's own events
// (case-insensitively, so that no tenant type can pass for one).
func Reserved(typ string) bool {
	return len(typ) >= len(ReservedPrefix) && equalFoldASCII(typ[:len(ReservedPrefix)], ReservedPrefix)
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Histogram bucket upper bounds, in seconds.
var (
	AttemptBuckets  = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}
	DeliveryBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 7200, 21600, 86400}
)

// hist is a lock-free histogram of durations.
type hist struct {
	bounds []float64
	counts []atomic.Uint64 // len(bounds)+1: the last is +Inf
	sumNs  atomic.Int64
}

func newHist(bounds []float64) *hist {
	return &hist{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *hist) bucket(d time.Duration) int {
	s := d.Seconds()
	for i, b := range h.bounds {
		if s <= b {
			return i
		}
	}
	return len(h.bounds)
}

func (h *hist) observe(d time.Duration) {
	d = max(d, 0)
	h.counts[h.bucket(d)].Add(1)
	h.sumNs.Add(int64(d))
}

// Histogram is a histogram's snapshot: Counts[i] observations fell in
// (Bounds[i-1], Bounds[i]]; the last count is above every bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64 // seconds
}

// Count is the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

func (h *hist) snapshot() Histogram {
	out := Histogram{Bounds: h.bounds, Counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
	}
	out.Sum = time.Duration(h.sumNs.Load()).Seconds()
	return out
}

// counters are the engine's event counts, written with atomic adds.
type counters struct {
	attempts     [len(Outcomes)][len(StatusClasses)]atomic.Uint64
	errors       [len(ErrorClasses)]atomic.Uint64
	attemptTime  *hist
	deliveryTime *hist
	retries      atomic.Uint64
	ends         [len(BatchEnds)]atomic.Uint64
	ops          [len(OperationalTypes)][len(OperationalResults)]atomic.Uint64
	logsDropped  atomic.Uint64 // failed-attempt log lines suppressed by the rate limit
}

func newCounters() *counters {
	return &counters{attemptTime: newHist(AttemptBuckets), deliveryTime: newHist(DeliveryBuckets)}
}

func statusClass(code int) int {
	if code >= 200 && code < 600 {
		return code/100 - 2
	}
	return 4 // none: no response
}

func indexOf[T ~string](list []T, v T, def int) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return def
}

// attempt counts one stored attempt.
func (c *counters) attempt(res Result, v Verdict, retrying bool) {
	o := 1
	switch v.Kind {
	case Done:
		o = 0
	case Gone:
		o = 2
	}
	c.attempts[o][statusClass(res.StatusCode)].Add(1)
	if res.Err != nil {
		c.errors[indexOf(ErrorClasses[:], res.Class, len(ErrorClasses)-1)].Add(1)
	}
	c.attemptTime.observe(res.Duration)
	if retrying {
		c.retries.Add(1)
	}
}

// delivered observes, for each event of a batch delivered at done, the
// time since it was published.
func (c *counters) delivered(done time.Time, events []*wal.Event) {
	for _, ev := range events {
		c.deliveryTime.observe(done.Sub(ev.CreatedAt))
	}
}

func (c *counters) ended(status string) {
	if i := indexOf(BatchEnds[:], status, -1); i >= 0 {
		c.ends[i].Add(1)
	}
}

func (c *counters) operational(typ, result string) {
	t, r := indexOf(OperationalTypes[:], typ, -1), indexOf(OperationalResults[:], result, -1)
	if t >= 0 && r >= 0 {
		c.ops[t][r].Add(1)
	}
}

// Counters is a snapshot of the engine's counts since it was created.
type Counters struct {
	Attempts [len(Outcomes)][len(StatusClasses)]uint64 // by Outcomes, StatusClasses
	// AttemptErrors: attempts without a response, by ErrorClasses.
	AttemptErrors [len(ErrorClasses)]uint64
	// AttemptSeconds: how long each attempt took (request to response).
	AttemptSeconds Histogram
	// DeliverySeconds: per delivered event, from its publication to the
	// end of the attempt that delivered it.
	DeliverySeconds  Histogram
	RetriesScheduled uint64
	BatchesEnded     [len(BatchEnds)]uint64 // by BatchEnds
	// Operational events by OperationalTypes, OperationalResults.
	Operational [len(OperationalTypes)][len(OperationalResults)]uint64
	// FailureLogsSuppressed: failed-attempt log lines left out by the
	// per-webhook rate limit.
	FailureLogsSuppressed uint64
}

// Counters reads the engine's counts (lock-free).
func (e *Engine) Counters() Counters {
	c := e.stats
	var out Counters
	for i := range c.attempts {
		for j := range c.attempts[i] {
			out.Attempts[i][j] = c.attempts[i][j].Load()
		}
	}
	for i := range c.errors {
		out.AttemptErrors[i] = c.errors[i].Load()
	}
	out.AttemptSeconds, out.DeliverySeconds = c.attemptTime.snapshot(), c.deliveryTime.snapshot()
	out.RetriesScheduled = c.retries.Load()
	for i := range c.ends {
		out.BatchesEnded[i] = c.ends[i].Load()
	}
	for i := range c.ops {
		for j := range c.ops[i] {
			out.Operational[i][j] = c.ops[i][j].Load()
		}
	}
	out.FailureLogsSuppressed = c.logsDropped.Load()
	return out
}

// Health statuses, the labels of State.WebhooksByHealth.
var HealthStatuses = [...]string{"healthy", "degraded", "unhealthy", "disabled"}

// HookBacklog is one webhook's waiting events.
type HookBacklog struct {
	Tenant  string
	Webhook wal.ID
	Events  int       // queued and in open batches
	Oldest  time.Time // the oldest of them was published then
}

// State is what waits in the engine, as the core knows it.
type State struct {
	// EventsWaiting: events queued for a webhook and not delivered yet
	// (in its queue, or in an open batch), summed over webhooks. After a
	// restart, a webhook's queue counts as what the engine has read of it
	// (a lower bound) until it has been read through once.
	EventsWaiting int
	// OldestWaiting is when the oldest of them was published (zero: none).
	OldestWaiting time.Time
	// Top are the webhooks with the most waiting events, most first.
	Top []HookBacklog
	// OpenBatches by status: pending (no attempt yet), retrying.
	OpenPending, OpenRetrying int
	// WebhooksByHealth counts webhooks by HealthStatuses.
	WebhooksByHealth [len(HealthStatuses)]int
}

// State looks at what waits, holding the engine's lock for a walk over
// webhooks and open batches (O(webhooks + open batches): on scrape, not
// on the delivery path). top is how many webhooks to list in Top.
func (e *Engine) State(top int) State {
	var st State
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.core
	for id, h := range c.hooks {
		n, oldest := max(h.queued, 0), time.Time{}
		if n > 0 {
			oldest = h.oldest
		}
		for _, b := range h.open {
			n += b.Events
			if b.Attempts > 0 {
				st.OpenRetrying++
			} else {
				st.OpenPending++
			}
		}
		if len(h.open) > 0 && !h.open[0].Oldest.IsZero() && (oldest.IsZero() || h.open[0].Oldest.Before(oldest)) {
			oldest = h.open[0].Oldest // batches are cut in queue order: the first holds the oldest events
		}
		hs, _ := c.Health(id)
		st.WebhooksByHealth[indexOf(HealthStatuses[:], hs.Status, 0)]++
		if n == 0 {
			continue
		}
		st.EventsWaiting += n
		if !oldest.IsZero() && (st.OldestWaiting.IsZero() || oldest.Before(st.OldestWaiting)) {
			st.OldestWaiting = oldest
		}
		if top > 0 {
			hb := HookBacklog{Webhook: id, Events: n, Oldest: oldest}
			if w := e.hooks[id]; w != nil {
				hb.Tenant = w.Tenant
			}
			st.Top = insertTop(st.Top, hb, top)
		}
	}
	return st
}

// insertTop keeps list sorted by Events (most first, ties by webhook id)
// and at most n long.
func insertTop(list []HookBacklog, hb HookBacklog, n int) []HookBacklog {
	i := len(list)
	for i > 0 && (list[i-1].Events < hb.Events || list[i-1].Events == hb.Events && compareIDs(list[i-1].Webhook, hb.Webhook) > 0) {
		i--
	}
	if i >= n {
		return list
	}
	if len(list) < n {
		list = append(list, HookBacklog{})
	}
	copy(list[i+1:], list[i:])
	list[i] = hb
	return list
}
