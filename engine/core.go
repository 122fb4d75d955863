package engine

import (
	"container/heap"
	"time"

	"hookd/wal"
)

// The core decides what happens when: which webhook gets a new batch,
// which batch is sent, and what an attempt's verdict means for the batch
// and the webhook. It does no I/O and reads no clock: every input carries
// `now`, randomness comes from the injected jitter source, and the runner
// (runner.go) performs the Actions it returns and reports back.
//
// It keeps only open batches and per-webhook counters in memory: queued
// events stay on disk until a batch is opened for them, so memory is
// O(webhooks + open batches), never O(pending events).

// HookConfig is what the core needs to know of a webhook.
type HookConfig struct {
	ID                wal.ID
	Active            bool
	MaxBatchSize      int
	MaxBatchTimeDelay time.Duration
	Ordered           bool
	RateLimit         int // requests per second; 0 = none
	// Dest names the destination (scheme://host:port): webhooks that share
	// one share its MaxInFlight, as they share the dispatcher's connections.
	Dest     string
	Schedule []time.Duration // nil: the core's default
}

// CoreOptions tune the core.
type CoreOptions struct {
	Schedule []time.Duration // default retry schedule
	// MaxInFlight bounds concurrent attempts per destination (the
	// dispatcher's connections per host), shared fairly by the webhooks
	// there (fair.go). Default 64.
	MaxInFlight int
	// MaxOpen bounds open batches per webhook; opening ahead of sending
	// keeps the pipe full. Default 4 × MaxInFlight.
	MaxOpen int
	// UnhealthyAfter consecutive failures put a webhook in probe mode: one
	// attempt in flight at a time until one succeeds. Default 5.
	UnhealthyAfter int
	// DisableAfter deactivates a webhook that has failed without a single
	// success for this long. 0 = never.
	DisableAfter time.Duration
	// Jitter returns a value in [0,1) for the retry jitter (0.5 = none).
	Jitter func() float64
}

// ActionKind says what the runner must do.
type ActionKind uint8

const (
	// ActOpen: open up to Count batches of up to Size events from the
	// webhook's queue, then call Opened.
	ActOpen ActionKind = iota + 1
	// ActSend: make one attempt of Batch, then call Result.
	ActSend
)

// Action is one thing for the runner to do.
type Action struct {
	Kind      ActionKind
	Hook      wal.ID
	Batch     wal.ID
	Count     int    // ActOpen
	Size      int    // ActOpen
	Trigger   string // ActSend: auto, manual or sendexpired
	AttemptID wal.ID // ActSend: the pre-created attempt of a manual trigger, or zero
}

// BatchState is the part of a batch the core tracks.
type BatchState struct {
	ID, Hook      wal.ID
	Attempts      int
	MaxAttempts   int
	NextAttemptAt time.Time
	Trigger       string
	AttemptID     wal.ID
	// Events and Oldest (its first event's creation) are for metrics only.
	Events int
	Oldest time.Time
	// Version is the batch's stored version as this engine last wrote or
	// read it (wal.Batch.Version): a send whose batch was read before a
	// replay of it saves over the replay's version, which the core has
	// merged (Restore, Result).
	Version uint64
}

// Outcome is the core's decision after an attempt, for the runner to store.
type Outcome struct {
	Counted     bool   // false: the request never left (backpressure); nothing to record
	Status      string // wal.Batch* status after the attempt
	Attempts    int
	MaxAttempts int
	Next        time.Time // next attempt (retrying only)
	Deactivate  bool      // the webhook must be set inactive (410, or failing too long)
	// NextTrigger and NextAttemptID: a manual attempt requested while this
	// one was in flight, still to come (the batch stays open for it).
	NextTrigger   string
	NextAttemptID wal.ID
	// Health, when not nil, is the webhook's health to store with this
	// result: it changed state (first failure, unhealthy, recovered).
	Health *wal.HookHealth
	// Unhealthy: this failure made the webhook unhealthy (an operator alert).
	Unhealthy bool
}

// Health is a webhook's state as the core sees it.
type Health struct {
	Status              string // healthy | degraded | unhealthy | disabled
	ConsecutiveFailures int
	LastSuccess         time.Time
	LastFailure         time.Time
}

type hook struct {
	cfg     HookConfig
	queued  int       // queue entries on disk not yet in a batch (best knowledge)
	oldest  time.Time // when the oldest of them was queued
	sinceOp int       // entries queued since the pending open began
	opening bool      // an open is reading the queue (one at a time)
	// committing counts batches taken from the queue whose commit has not
	// returned: an open's commit overlaps the next open (Took, then Added).
	committing int
	open       []*batch // open batches, oldest first
	inFlight   int
	nextSend   time.Time // rate limit

	failures     int // consecutive
	lastSuccess  time.Time
	lastFailure  time.Time
	failingSince time.Time
	wakeAt       time.Time // scheduled wake in the heap (zero: none)
}

type batch struct {
	BatchState
	inFlight bool
	dest     *dest       // where the attempt in flight holds a slot
	manual   *BatchState // a replay requested while an attempt was in flight
}

// Core is the deterministic scheduler and batcher. It is not safe for
// concurrent use; the runner serializes calls.
type Core struct {
	opts  CoreOptions
	hooks map[wal.ID]*hook
	index map[wal.ID]*batch // open batches by id
	dirty map[wal.ID]struct{}
	wakes wakeHeap
	dests map[string]*dest
}

// NewCore returns an empty core.
func NewCore(o CoreOptions) *Core {
	if len(o.Schedule) == 0 {
		o.Schedule = DefaultSchedule
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.MaxOpen <= 0 {
		o.MaxOpen = 4 * o.MaxInFlight
	}
	if o.UnhealthyAfter <= 0 {
		o.UnhealthyAfter = 5
	}
	if o.Jitter == nil {
		o.Jitter = func() float64 { return 0.5 }
	}
	return &Core{opts: o, hooks: map[wal.ID]*hook{}, index: map[wal.ID]*batch{}, dirty: map[wal.ID]struct{}{},
		dests: map[string]*dest{}}
}

func (c *Core) schedule(h *hook) []time.Duration { return c.scheduleFor(h.cfg.Schedule) }

// scheduleFor is a webhook's own retry schedule, or the default one.
func (c *Core) scheduleFor(own []time.Duration) []time.Duration {
	if len(own) > 0 {
		return own
	}
	return c.opts.Schedule
}

func (c *Core) touch(id wal.ID) { c.dirty[id] = struct{}{} }

// SetHook adds or updates a webhook.
func (c *Core) SetHook(cfg HookConfig) {
	h := c.hooks[cfg.ID]
	if h == nil {
		h = &hook{}
		c.hooks[cfg.ID] = h
	}
	if cfg.MaxBatchSize < 1 {
		cfg.MaxBatchSize = 1
	}
	if cfg.Active && !h.cfg.Active {
		h.failures, h.failingSince = 0, time.Time{} // reactivated: a fresh start
	}
	h.cfg = cfg
	c.touch(cfg.ID)
}

// RemoveHook forgets a webhook and returns its open batches, which the
// runner cancels. Attempts in flight finish; their results are ignored.
func (c *Core) RemoveHook(id wal.ID) []wal.ID {
	h := c.hooks[id]
	if h == nil {
		return nil
	}
	var ids []wal.ID
	for _, b := range h.open {
		ids = append(ids, b.ID)
		delete(c.index, b.ID)
		if b.inFlight {
			b.dest.inFlight-- // its result will find no batch
		}
	}
	d := c.dest(h.cfg.Dest)
	c.release(d, id)
	c.offer(d)
	delete(c.hooks, id)
	delete(c.dirty, id)
	return ids
}

// Queued tells the core that n more events wait in the webhook's queue
// since now (or, at start, n events of which the oldest was queued at
// oldest).
func (c *Core) Queued(now time.Time, id wal.ID, n int, oldest time.Time) {
	h := c.hooks[id]
	if h == nil || n <= 0 {
		return
	}
	if h.queued <= 0 {
		if oldest.IsZero() {
			oldest = now
		}
		h.oldest = oldest
	}
	h.queued += n
	if h.opening {
		h.sinceOp += n
	}
	c.touch(id)
}

// Opened reports the batches an ActOpen created (in creation order), how
// many were asked for, and the enqueue time of the first event left in the
// queue (zero if the queue is now empty as far as the runner saw).
func (c *Core) Opened(now time.Time, id wal.ID, opened []BatchState, events, asked int, nextOldest time.Time) {
	c.Took(now, id, len(opened), events, asked, nextOldest)
	c.Added(id, opened, len(opened))
}

// Took reports that an ActOpen read the queue: it took events (cut into
// `batches` batches, now being committed) of the asked number, and the
// first event left was queued at nextOldest (zero if the queue looked
// empty). The next open may start; the batches count against MaxOpen
// until Added.
func (c *Core) Took(now time.Time, id wal.ID, batches, events, asked int, nextOldest time.Time) {
	h := c.hooks[id]
	if h == nil {
		return
	}
	h.opening = false
	h.committing += batches
	if events < asked {
		// The runner saw the whole queue: only what arrived meanwhile may
		// be left (perhaps already taken; the next open will tell).
		h.queued = h.sinceOp
		if h.queued > 0 && !nextOldest.IsZero() {
			h.oldest = nextOldest
		} else if h.queued > 0 {
			h.oldest = now
		}
	} else {
		h.queued = max(h.queued-events, 0)
		if !nextOldest.IsZero() {
			h.oldest = nextOldest
		}
		if h.queued == 0 && !nextOldest.IsZero() {
			h.queued = 1 // there is more than we counted
		}
	}
	h.sinceOp = 0
	c.touch(id)
}

// Added reports that the `taken` batches of an earlier Took are committed;
// opened are the ones to schedule (none when the commit failed).
func (c *Core) Added(id wal.ID, opened []BatchState, taken int) {
	h := c.hooks[id]
	if h == nil {
		return
	}
	h.committing = max(h.committing-taken, 0)
	for _, s := range opened {
		c.addBatch(h, s)
	}
	c.touch(id)
}

// Restore adds an open batch loaded from the store at start, or brought
// back by a replay or sendexpired.
func (c *Core) Restore(s BatchState) {
	h := c.hooks[s.Hook]
	if h == nil {
		return
	}
	if b := c.index[s.ID]; b != nil && b.inFlight {
		// One attempt of a batch at a time: the replay goes when this
		// attempt's result is in (see Result).
		m := s
		b.manual = &m
		b.Version = max(b.Version, s.Version)
		return
	} else if b != nil {
		// Already open: a manual trigger only moves it forward.
		b.NextAttemptAt, b.Trigger, b.AttemptID = s.NextAttemptAt, s.Trigger, s.AttemptID
		b.Version = max(b.Version, s.Version)
		b.MaxAttempts = max(b.MaxAttempts, s.MaxAttempts)
		c.touch(s.Hook)
		return
	}
	c.addBatch(h, s)
	c.touch(s.Hook)
}

func (c *Core) addBatch(h *hook, s BatchState) {
	b := &batch{BatchState: s}
	// Keep creation order (IDs are time-ordered) for ordered delivery.
	i := len(h.open)
	for i > 0 && compareIDs(h.open[i-1].ID, s.ID) > 0 {
		i--
	}
	h.open = append(h.open, nil)
	copy(h.open[i+1:], h.open[i:])
	h.open[i] = b
	c.index[s.ID] = b
}

func compareIDs(a, b wal.ID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Result applies an attempt's verdict. counted is false when the request
// never left (backpressure, shutdown): the batch is simply tried again
// shortly, with no attempt used.
func (c *Core) Result(now time.Time, id wal.ID, v Verdict, counted bool) Outcome {
	b := c.index[id]
	if b == nil {
		return Outcome{}
	}
	h := c.endAttempt(b)
	defer c.offer(b.dest) // after the verdict: the freed slot goes by the standing it leaves
	if !counted {
		b.NextAttemptAt = now.Add(50 * time.Millisecond)
		if m := b.manual; m != nil {
			b.manual = nil
			b.NextAttemptAt, b.Trigger, b.AttemptID = m.NextAttemptAt, m.Trigger, m.AttemptID
			b.MaxAttempts = max(b.MaxAttempts, m.MaxAttempts)
		}
		return Outcome{}
	}
	b.Attempts++
	b.Trigger, b.AttemptID = "", wal.ID{}
	out := c.judge(now, h, b, v)
	if m := b.manual; m != nil {
		// A replay asked for while this attempt was in flight still goes,
		// whatever this attempt's outcome: with one more attempt of budget
		// if the batch was about to close.
		b.manual = nil
		if !isOpenStatus(out.Status) {
			b.MaxAttempts = b.Attempts
			c.addBatch(h, b.BatchState)
		}
		b.MaxAttempts = max(b.MaxAttempts, m.MaxAttempts, b.Attempts+1)
		b.NextAttemptAt, b.Trigger, b.AttemptID = m.NextAttemptAt, m.Trigger, m.AttemptID
		out.Status, out.Next, out.MaxAttempts = wal.BatchRetrying, b.NextAttemptAt, b.MaxAttempts
		out.NextTrigger, out.NextAttemptID = m.Trigger, m.AttemptID
		if idx := c.index[b.ID]; idx != nil {
			idx.BatchState = b.BatchState
		}
	}
	return out
}

// Drop ends an in-flight batch without an attempt: none of its events is
// stored any more (their retention ended while it waited), so there is
// nothing to send. The batch closes as expired.
func (c *Core) Drop(id wal.ID) {
	b := c.index[id]
	if b == nil || !b.inFlight {
		return
	}
	h := c.endAttempt(b)
	b.manual = nil
	c.closeBatch(h, b)
	c.offer(b.dest)
}

// endAttempt ends b's attempt in flight: its webhook's and its
// destination's slots are free again (the caller offers the latter). It
// returns b's webhook.
func (c *Core) endAttempt(b *batch) *hook {
	h := c.hooks[b.Hook]
	b.inFlight = false
	h.inFlight--
	b.dest.inFlight--
	c.touch(b.Hook)
	return h
}

func isOpenStatus(s string) bool { return s == wal.BatchPending || s == wal.BatchRetrying }

// judge applies a counted attempt's verdict to the batch and the hook.
func (c *Core) judge(now time.Time, h *hook, b *batch, v Verdict) Outcome {
	out := Outcome{Counted: true, Attempts: b.Attempts, MaxAttempts: b.MaxAttempts}
	switch v.Kind {
	case Done:
		recovered := h.failures > 0 || !h.failingSince.IsZero()
		h.failures, h.failingSince, h.lastSuccess = 0, time.Time{}, now
		if recovered {
			out.Health = c.healthRecord(h)
		}
		out.Status = wal.BatchDelivered
		c.closeBatch(h, b)
		return out
	case Gone:
		out.Health = c.failed(h, now)
		out.Unhealthy = h.failures == c.opts.UnhealthyAfter
		out.Status, out.Deactivate = wal.BatchExpired, true
		h.cfg.Active = false
		c.closeBatch(h, b)
		return out
	}
	out.Health = c.failed(h, now)
	out.Unhealthy = h.failures == c.opts.UnhealthyAfter
	sched := c.schedule(h)
	// The retry's place in the schedule: never before schedule[1], even
	// when the schedule was shortened below the batch's budget.
	k := max(b.Attempts-(b.MaxAttempts-len(sched)), 1)
	delay, ok := NextDelay(k, sched, c.opts.Jitter())
	if !ok || b.Attempts >= b.MaxAttempts {
		out.Status = wal.BatchExpired
		c.closeBatch(h, b)
	} else {
		out.Status = wal.BatchRetrying
		b.NextAttemptAt = now.Add(max(delay, v.NotBefore))
		out.Next = b.NextAttemptAt
	}
	// Every success clears failingSince: one at the very instant the
	// failing began came before it.
	if c.opts.DisableAfter > 0 && h.cfg.Active && now.Sub(h.failingSince) >= c.opts.DisableAfter &&
		!h.lastSuccess.After(h.failingSince) {
		out.Deactivate = true
		h.cfg.Active = false
	}
	return out
}

// failed counts a failure; it returns the health to store when the
// failure changed the webhook's state (the first of a streak, or the one
// that makes it unhealthy).
func (c *Core) failed(h *hook, now time.Time) *wal.HookHealth {
	h.failures++
	h.lastFailure = now
	if h.failingSince.IsZero() {
		h.failingSince = now
	}
	if h.failures == 1 || h.failures == c.opts.UnhealthyAfter {
		return c.healthRecord(h)
	}
	return nil
}

func (c *Core) healthRecord(h *hook) *wal.HookHealth {
	return &wal.HookHealth{Failures: h.failures, FailingSince: h.failingSince, LastSuccess: h.lastSuccess, LastFailure: h.lastFailure}
}

// RestoreHealth sets a webhook's health from the store (at start): a
// webhook that was failing keeps failing since then, so disable_after
// counts across restarts, and one that was unhealthy is probed, not
// stormed.
func (c *Core) RestoreHealth(id wal.ID, r wal.HookHealth) {
	h := c.hooks[id]
	if h == nil {
		return
	}
	h.failures, h.failingSince, h.lastSuccess, h.lastFailure = r.Failures, r.FailingSince, r.LastSuccess, r.LastFailure
	c.touch(id)
}

// Version is the stored version of open batch id as the core knows it
// (0: unknown).
func (c *Core) Version(id wal.ID) uint64 {
	if b := c.index[id]; b != nil {
		return b.Version
	}
	return 0
}

// Forget removes a batch that is not in flight because the store says it
// is closed (another writer closed it): nothing more is sent.
func (c *Core) Forget(id wal.ID) {
	b := c.index[id]
	if b == nil || b.inFlight {
		return
	}
	if h := c.hooks[b.Hook]; h != nil {
		c.closeBatch(h, b)
		c.touch(b.Hook)
	}
}

func (c *Core) closeBatch(h *hook, b *batch) {
	delete(c.index, b.ID)
	for i, x := range h.open {
		if x == b {
			h.open = append(h.open[:i], h.open[i+1:]...)
			break
		}
	}
}

// Health reports a webhook's health from its recent attempts.
func (c *Core) Health(id wal.ID) (Health, bool) {
	h := c.hooks[id]
	if h == nil {
		return Health{}, false
	}
	out := Health{ConsecutiveFailures: h.failures, LastSuccess: h.lastSuccess, LastFailure: h.lastFailure}
	switch {
	case !h.cfg.Active:
		out.Status = "disabled"
	case h.failures >= c.opts.UnhealthyAfter:
		out.Status = "unhealthy"
	case h.failures > 0:
		out.Status = "degraded"
	default:
		out.Status = "healthy"
	}
	return out, true
}

// OpenBatches is the number of open batches of a webhook (for metrics).
func (c *Core) OpenBatches(id wal.ID) int {
	if h := c.hooks[id]; h != nil {
		return len(h.open)
	}
	return 0
}

// Step returns what is due at now: batches to open and attempts to make.
// It looks only at webhooks that changed or whose wake time has come.
func (c *Core) Step(now time.Time) []Action {
	for len(c.wakes) > 0 && !c.wakes[0].at.After(now) {
		w := heap.Pop(&c.wakes).(wake)
		if h := c.hooks[w.id]; h != nil && h.wakeAt.Equal(w.at) {
			h.wakeAt = time.Time{}
			c.dirty[w.id] = struct{}{}
		}
	}
	var acts []Action
	for id := range c.dirty {
		delete(c.dirty, id)
		h := c.hooks[id]
		if h == nil {
			continue
		}
		var next time.Time
		acts, next = c.stepHook(now, h, acts)
		if !next.IsZero() && (h.wakeAt.IsZero() || next.Before(h.wakeAt)) {
			h.wakeAt = next
			heap.Push(&c.wakes, wake{at: next, id: id})
		}
	}
	return acts
}

// NextWake is when Step next has something to do (ok false: only new
// input can create work).
func (c *Core) NextWake() (time.Time, bool) {
	if len(c.dirty) > 0 {
		return time.Time{}, true
	}
	if len(c.wakes) == 0 {
		return time.Time{}, false
	}
	return c.wakes[0].at, true
}

// stepHook decides one webhook's sends and opens; it returns the time it
// next needs a look (zero: none).
func (c *Core) stepHook(now time.Time, h *hook, acts []Action) ([]Action, time.Time) {
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	d := c.dest(h.cfg.Dest)
	defer func() { // slots reserved for this hook and left unused go to the next in line
		c.release(d, h.cfg.ID)
		c.offer(d)
	}()
	if !h.cfg.Active {
		return acts, next
	}
	limit, good := c.share(h) // fair.go
	for _, b := range h.open {
		if h.cfg.Ordered && (b.inFlight || b != h.open[0]) {
			break // creation order: only the oldest open batch may go
		}
		if b.inFlight {
			continue
		}
		if b.NextAttemptAt.After(now) {
			later(b.NextAttemptAt)
			continue
		}
		if h.inFlight >= limit {
			break // a result will touch the hook again
		}
		reserved := d.reserved[h.cfg.ID] > 0 // offered to it by the rule
		if !reserved && !c.room(d, good) {
			d.wait(h.cfg.ID, good) // a result at this destination offers a slot
			break
		}
		if h.cfg.RateLimit > 0 {
			if h.nextSend.After(now) {
				later(h.nextSend)
				break
			}
			h.nextSend = now.Add(time.Second / time.Duration(h.cfg.RateLimit))
		}
		b.inFlight, b.dest = true, d
		h.inFlight++
		if reserved {
			if d.reserved[h.cfg.ID]--; d.reserved[h.cfg.ID] == 0 { // the reservation is already counted
				delete(d.reserved, h.cfg.ID)
			}
		} else {
			d.inFlight++
		}
		trig := b.Trigger
		if trig == "" {
			trig = wal.TriggerAuto
		}
		acts = append(acts, Action{Kind: ActSend, Hook: h.cfg.ID, Batch: b.ID, Trigger: trig, AttemptID: b.AttemptID})
	}
	// Open in bulk: only once the open batches fall to the low-water mark
	// (MaxOpen − MaxInFlight), then up to MaxOpen. Topping up one batch at
	// a time would serialize a store round trip per batch.
	if !h.opening && h.queued > 0 && len(h.open)+h.committing <= max(c.opts.MaxOpen-c.opts.MaxInFlight, 0) {
		size := h.cfg.MaxBatchSize
		due := h.oldest.Add(h.cfg.MaxBatchTimeDelay)
		if h.queued >= size || !due.After(now) {
			// Only full batches, or the one batch holding the oldest event
			// when it is due: the events after a full batch are newer, and
			// Opened reports when the first of them was queued.
			count := c.opts.MaxOpen - len(h.open) - h.committing
			if want := h.queued / size; want < count {
				count = max(want, 1)
			}
			h.opening, h.sinceOp = true, 0
			acts = append(acts, Action{Kind: ActOpen, Hook: h.cfg.ID, Count: count, Size: size})
		} else {
			later(due)
		}
	}
	return acts, next
}

type wake struct {
	at time.Time
	id wal.ID
}

type wakeHeap []wake

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wake)) }
func (h *wakeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
