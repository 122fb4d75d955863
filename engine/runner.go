package engine

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"hookd/wal"
)

// Options configure an Engine.
type Options struct {
	Store      Store
	Dispatcher *Dispatcher
	Clock      Clock
	Logger     *zap.Logger
	Core       CoreOptions
	// OnAttempt, when set, is told of every stored attempt (tests, metrics).
	OnAttempt func(b *wal.Batch, a *wal.Attempt)
	// NoOperationalEvents: publish no hookd.* events (observe_publish.go),
	// which the engine otherwise does when Store can append events.
	NoOperationalEvents bool
}

// Engine is the runner around the Core: it feeds the core what the store
// and the network report, and performs the core's actions. Open it with
// Start, stop it with Close.
type Engine struct {
	store Store
	disp  *Dispatcher
	clock Clock
	log   *zap.Logger
	on    func(*wal.Batch, *wal.Attempt)

	probes probes // pings and heartbeat probes in flight (ops.go)

	mu    sync.Mutex // guards core, hooks, parts, fresh, taken, lastOpen, timer*
	core  *Core
	hooks map[wal.ID]*wal.Webhook
	parts map[wal.Part]*partHeld // the partitions claimed (claims.go)
	fresh map[wal.ID]*freshBatch // opened, not yet attempted: events kept for the first send
	taken map[wal.ID]wal.Cursor  // per webhook: where the last open's read ended (its commit may be pending)
	// lastOpen: per webhook, the last open that took entries and whose
	// commit has not returned yet (the one the next open's commit follows)
	lastOpen map[wal.ID]*openTicket
	freshN   int         // bytes held by fresh
	timer    *ownedTimer // the loop's next wake
	timerAt  time.Time

	wake     chan struct{} // one slot: the loop has something to look at
	sends    chan func()   // unbuffered: a send worker waiting for its next send (lifetime.go)
	sendIdle time.Duration // how long a send worker waits for one
	opening  atomic.Int32  // opens running (at most maxOpening)
	inbox    *inbox        // new queue entries (inbox.go)
	// batchMu serializes the read-modify-write of one batch's record
	// (an attempt's result against a replay or sendexpired), striped by
	// batch id. Lock order: batchMu before mu.
	batchMu [64]sync.Mutex

	// Every goroutine the engine starts is counted in wg (lifetime.go):
	// the loop, actions in progress, and timers pending or running.
	runMu   sync.Mutex // orders each wg.Add before wg.Wait in Close
	closing bool       // guarded by runMu: no new work
	timers  map[*ownedTimer]struct{}
	cancel  context.CancelFunc // guarded by runMu: cancels the sends of a started engine
	wg      sync.WaitGroup
	stopped chan struct{} // closed by Close: the loop ends
	cutOff  atomic.Int64  // attempts Close cut off

	stats   *counters  // metrics (observe.go)
	failLog failLog    // rate limit of failed-attempt lines (observe_log.go)
	pub     *publisher // operational events (observe_publish.go); nil: none
}

type freshBatch struct {
	batch  *wal.Batch
	events []*wal.Event
	size   int
}

// freshMax bounds the bytes of opened batches kept in memory for their
// first attempt; past it a send reloads from the store.
const freshMax = 32 << 20

// New returns an engine; Start loads its state.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	e := &Engine{store: o.Store, disp: o.Dispatcher, clock: o.Clock, log: o.Logger, on: o.OnAttempt,
		core: NewCore(o.Core), hooks: map[wal.ID]*wal.Webhook{}, parts: map[wal.Part]*partHeld{}, fresh: map[wal.ID]*freshBatch{}, taken: map[wal.ID]wal.Cursor{},
		lastOpen: map[wal.ID]*openTicket{},
		wake:     make(chan struct{}, 1), sends: make(chan func()), sendIdle: sendWorkerIdle, inbox: newInbox(), timers: map[*ownedTimer]struct{}{}, stopped: make(chan struct{}),
		stats: newCounters()}
	if app, ok := o.Store.(appender); ok && !o.NoOperationalEvents {
		e.pub = newPublisher(app, o.Logger, e.stats, o.Clock.Now, e.wantsOps)
	}
	return e
}

func (e *Engine) setHookLocked(w *wal.Webhook) {
	e.hooks[w.ID] = w
	e.core.SetHook(HookConfig{ID: w.ID, Active: w.IsActive, MaxBatchSize: w.MaxBatchSize,
		MaxBatchTimeDelay: w.MaxBatchTimeDelay, Ordered: w.Ordered, RateLimit: w.RateLimit, Schedule: w.RetrySchedule,
		Dest: destOf(w.URL)})
}

// WebhookChanged tells the engine a webhook was created or updated. A
// webhook of a partition this engine has not claimed is not its to
// deliver (Start loads the ones it claims from the store).
func (e *Engine) WebhookChanged(w *wal.Webhook) {
	e.mu.Lock()
	if e.parts[e.store.PartOf(w.Tenant, w.ID)] == nil {
		e.mu.Unlock()
		return
	}
	_, known := e.hooks[w.ID]
	e.setHookLocked(w.Clone())
	e.mu.Unlock()
	if !known {
		// Events committed between the webhook's creation and this call
		// fanned out to it while the core did not know it yet: look.
		if q, err := e.store.PeekQueue(w.ID, wal.Cursor{}, max(w.MaxBatchSize, 1)+1); err == nil && len(q) > 0 {
			e.mu.Lock()
			e.core.Queued(e.clock.Now(), w.ID, len(q), q[0].Event.Time())
			e.mu.Unlock()
		}
	}
	e.kick()
}

// WebhookDeleted cancels the webhook's open batches and drops its queue.
func (e *Engine) WebhookDeleted(tenant string, id wal.ID) {
	e.mu.Lock()
	open := e.core.RemoveHook(id)
	delete(e.hooks, id)
	delete(e.taken, id)
	f := e.fenceLocked(tenant, id)
	e.mu.Unlock()
	if f == nil {
		return // not this engine's partition
	}
	e.goDo(func() {
		for _, bid := range open {
			_, _, err := e.rewrite(f, tenant, id, bid, func(b *wal.Batch) (*wal.Batch, *wal.Attempt) {
				return e.core.CancelBatch(b), nil
			})
			if err == nil {
				e.stats.ended(wal.BatchCancelled)
			} else if !errors.Is(err, wal.ErrNotFound) {
				e.log.Warn("engine: cancel batch", zap.Error(err))
			}
		}
		// Consume what is left in its queue: opens without batches.
		cur, err := e.store.Cursor(id)
		for err == nil {
			var q []wal.Queued
			if q, err = e.store.PeekQueue(id, cur, 10000); err != nil || len(q) == 0 {
				return
			}
			to := q[len(q)-1].At
			if err = e.store.OpenBatches(f, id, cur, to); err == nil {
				cur = to
			}
		}
	})
}

// rewrite applies fn to batch id's stored state and saves what it returns
// (durable), reading again when another writer saved the batch in between
// (wal.ErrConflict), a few times. fn returns nil to write nothing; so
// does rewrite then (nil batch, nil error).
func (e *Engine) rewrite(f wal.Fence, tenant string, webhook, id wal.ID, fn func(*wal.Batch) (*wal.Batch, *wal.Attempt)) (*wal.Batch, *wal.Attempt, error) {
	for try := 0; ; try++ {
		b, err := e.store.GetBatch(tenant, webhook, id)
		if err != nil {
			return nil, nil, err
		}
		nb, att := fn(b)
		if nb == nil {
			return nil, nil, nil
		}
		if err = e.store.SaveBatch(f, nb, att); err == nil || !errors.Is(err, wal.ErrConflict) || try == 4 {
			return nb, att, err
		}
	}
}

// Opens in flight hold their events in memory: these bound that memory
// engine-wide, whatever the number of webhooks (10,000 webhooks each
// opening at once took 2-3 GB before).
const (
	maxOpenEvents = 4096 // events one open reads (more for one batch larger than this)
	maxOpening    = 16   // opens running at once; the others wait in the loop, in order
	// maxOpenBytes bounds the events' data one open reads (at least one
	// event): 4,096 events of the largest size allowed would be a GiB.
	maxOpenBytes = 8 << 20
	// openChunk is how many events an open reads before it knows their
	// size; then as many as the bytes left allow at the largest size
	// seen, up to openChunkMax. A chunk can overshoot the bound when its
	// events are larger than any before: by openChunkMax events of the
	// largest size allowed at most (16 MiB at the default 256 KiB).
	openChunk    = 16
	openChunkMax = 64
)

// MaxBatchBytes bounds a batch by its events' data, whatever maxBatchSize
// allows: a batch closes before the next event would take it past this
// (an event larger alone is a batch of one). It bounds the request body
// of an attempt and every read of a batch (a retry, GET of a batch): with
// maxBatchSize 1000 and events of 256 KiB a batch was a quarter of a GB.
const MaxBatchBytes = 4 << 20

// MaxBatchRefBytes bounds the distinct refs a batch gathers from its events
// (refBytes each), the same way: every read of a batch decodes them, a
// list of batches reads a hundred at a time, and 1,000 events of 16 refs
// of 320 bytes each made one batch hold 5 MB of them. Refs repeated across
// the events (one customerRef for all) count once.
const MaxBatchRefBytes = 64 << 10

// open performs ActOpen: it takes events from the queue into new batches,
// stored before their first attempt. Reading the queue is one open at a
// time per webhook; once read, the next open may start while this one's
// commit is on its way (the core counts those batches as committing, and
// the next peek starts after the last entry taken).
func (e *Engine) open(a Action) {
	now := e.clock.Now()
	// One open holds its events in memory from the read to the commit:
	// at most maxOpenEvents of them (the core asks for up to MaxOpen
	// batches, 256 of 100 events by default). Asking for fewer is safe:
	// Took sees events == asked, so the queue may hold more.
	a.Count = min(a.Count, max(1, maxOpenEvents/max(a.Size, 1)))
	asked := a.Count * a.Size
	e.mu.Lock()
	w := e.hooks[a.Hook]
	from, known := e.taken[a.Hook]
	var f wal.Fence
	if w != nil {
		f = e.fenceLocked(w.Tenant, w.ID)
	}
	e.mu.Unlock()
	t := e.take(a, w, from, known, now)
	var prev, mine *openTicket
	e.mu.Lock()
	if t.more {
		asked = t.events + t.gone // as if all that was asked for: more is queued
	}
	e.core.Took(now, a.Hook, len(t.batches), t.events+t.gone, asked, t.next)
	if t.took {
		e.taken[a.Hook] = t.to
		prev, mine = e.lastOpen[a.Hook], &openTicket{done: make(chan struct{})}
		e.lastOpen[a.Hook] = mine
	}
	e.mu.Unlock()
	e.kick()
	if !t.took {
		return // nothing taken
	}
	var states []BatchState
	defer func() {
		e.mu.Lock()
		e.core.Added(a.Hook, states, len(t.batches))
		if e.lastOpen[a.Hook] == mine {
			delete(e.lastOpen, a.Hook)
		}
		e.mu.Unlock()
		close(mine.done)
		e.kick()
	}()
	open := e.store.OpenBatches
	if a.Size == 1 {
		// One event a batch: its webhook-id is the event's id, the same
		// in whatever batch a power cut makes it go again, so the open
		// need not wait for the disk (receivers deduplicate), as a result
		// does not. It saves an fsync round before each first attempt.
		open = e.store.OpenBatchesLazy
	}
	err := open(f, a.Hook, t.from, t.to, t.batches...)
	if errors.Is(err, wal.ErrConflict) && prev != nil && prev.follow(e.stopped) {
		// This read began where the previous open's ended, and its
		// commit overtook that one's (a goroutine preempted between
		// its read and its commit): the store's cursor was not there
		// yet. Once the previous has committed, it is.
		err = open(f, a.Hook, t.from, t.to, t.batches...)
	}
	if err != nil {
		e.openFailed(a.Hook, t, err)
		return
	}
	e.mu.Lock()
	if _, ok := e.hooks[a.Hook]; !ok {
		// Deleted while we opened: WebhookDeleted could not see these.
		e.mu.Unlock()
		for _, b := range t.batches {
			if err := e.store.SaveBatch(f, e.core.CancelBatch(b), nil); err != nil {
				e.log.Warn("engine: cancel batch", zap.Error(err))
			}
		}
		return
	}
	for _, f := range t.fresh {
		states = append(states, stateOf(f.batch, now))
		if e.freshN+f.size <= freshMax {
			e.fresh[f.batch.ID] = f
			e.freshN += f.size
		}
	}
	e.mu.Unlock()
}

// openTicket is one open of a webhook from its read until its commit has
// returned, successful or not: done is closed then.
type openTicket struct{ done chan struct{} }

// follow waits until the open has returned; false if the engine stopped
// first.
func (o *openTicket) follow(stopped <-chan struct{}) bool {
	select {
	case <-o.done:
		return true
	case <-stopped:
		return false
	}
}

// openRetry is how long a webhook's queue rests after an open failed to
// commit (the disk reserve, a failing store) before it is read again.
const openRetry = time.Second

// openFailed undoes what a failed open's read claimed: nothing of it was
// consumed, so the webhook's queue is read again from the store's cursor
// (opens already reading after this one fail with wal.ErrConflict and
// land here too), and its events count as queued again after openRetry,
// so a full disk does not spin the runner.
func (e *Engine) openFailed(hook wal.ID, t taking, err error) {
	lvl := e.log.Warn
	if errors.Is(err, wal.ErrConflict) {
		lvl = e.log.Debug
	}
	lvl("engine: open batches failed; the queue is read again", zap.String("webhookId", hook.Text("wh_")),
		zap.Duration("after", openRetry), zap.Error(err))
	e.mu.Lock()
	delete(e.taken, hook)
	e.mu.Unlock()
	n := t.events + t.gone
	e.after(openRetry, func() { e.inbox.push(e.clock.Now(), map[wal.ID]int{hook: n}) })
}

// taking is what one open took from a webhook's queue.
type taking struct {
	batches  []*wal.Batch
	fresh    []*freshBatch
	events   int        // events in the batches
	gone     int        // queue entries of events no longer stored (retention ended)
	took     bool       // anything was taken: the open consumes (from, to]
	more     bool       // stopped at maxOpenBytes: the queue holds more than was asked for
	from, to wal.Cursor // the cursor the read began after, and where it ended
	next     time.Time
}

// take reads up to Count×Size queued events after the cursor from (the
// store's, when the engine does not know it: !known) and cuts them into
// batches, not stored yet. next is when the first event left was queued
// (zero if none was seen).
func (e *Engine) take(a Action, w *wal.Webhook, from wal.Cursor, known bool, now time.Time) (t taking) {
	if w == nil {
		return
	}
	if !known {
		var err error
		if from, err = e.store.Cursor(a.Hook); err != nil {
			e.log.Error("engine: read queue cursor", zap.String("webhookId", a.Hook.Text("wh_")), zap.Error(err))
			return
		}
	}
	asked := a.Count * a.Size
	q, err := e.store.PeekQueue(a.Hook, from, asked+1)
	if err != nil {
		e.log.Error("engine: read queue", zap.String("webhookId", a.Hook.Text("wh_")), zap.Error(err))
		return
	}
	if len(q) > asked {
		t.next = q[asked].Event.Time()
		q = q[:asked]
	}
	// Read the events a chunk at a time, up to maxOpenBytes of data.
	events := make([]*wal.Event, 0, len(q))
	ids := make([]wal.ID, 0, min(len(q), openChunkMax)) // one chunk's, reused
	n, used, biggest := 0, 0, 0                         // queue entries read, bytes of data, the largest event's
	for n < len(q) && (n == 0 || used < maxOpenBytes) {
		chunk := openChunk
		if biggest > 0 {
			chunk = min(max((maxOpenBytes-used)/biggest, 1), openChunkMax)
		}
		part := q[n:min(n+chunk, len(q))]
		ids = ids[:0]
		for _, x := range part {
			ids = append(ids, x.Event)
		}
		loaded, err := e.store.GetEvents(w.Tenant, ids)
		if err != nil {
			e.log.Error("engine: load events", zap.String("webhookId", a.Hook.Text("wh_")), zap.Error(err))
			return taking{}
		}
		for _, ev := range loaded {
			if ev == nil {
				t.gone++
				continue
			}
			events = append(events, ev)
			used += eventBytes(ev)
			biggest = max(biggest, eventBytes(ev))
		}
		n += len(part)
	}
	if n < len(q) {
		// The bytes ran out first: the queue holds more than was taken.
		t.next, t.more = q[n].Event.Time(), true
		q = q[:n]
	}
	if t.gone > 0 {
		e.log.Warn("engine: queued events no longer stored (retention) are skipped",
			zap.String("webhookId", a.Hook.Text("wh_")), zap.Int("events", t.gone))
	}
	if len(q) > 0 {
		t.took, t.from, t.to = true, from, q[len(q)-1].At
	}
	// Batches of up to a.Size events, MaxBatchBytes of data and
	// MaxBatchRefBytes of distinct refs.
	for len(events) > 0 {
		k, size, refs := 0, 0, 0
		var seen map[wal.Ref]struct{}
		for ; k < len(events) && k < a.Size; k++ {
			ev := events[k]
			if k > 0 && size+eventBytes(ev) > MaxBatchBytes {
				break
			}
			if len(ev.Refs) > 0 && a.Size > 1 { // one event a batch: nothing to bound
				if seen == nil {
					seen = make(map[wal.Ref]struct{})
				}
				add := 0
				for _, r := range ev.Refs {
					if _, dup := seen[r]; !dup {
						add += refBytes(r)
					}
				}
				if k > 0 && refs+add > MaxBatchRefBytes {
					break
				}
				for _, r := range ev.Refs {
					seen[r] = struct{}{}
				}
				refs += add
			}
			size += eventBytes(ev)
		}
		chunk := events[:k:k]
		events = events[k:]
		b := e.core.OpenBatch(now, e.store.NewID(), w, chunk)
		t.batches = append(t.batches, b)
		t.fresh = append(t.fresh, &freshBatch{batch: b, events: chunk, size: size + 128*len(chunk)})
		t.events += len(chunk)
	}
	return t
}

// eventBytes is what an event weighs against MaxBatchBytes and
// maxOpenBytes: its data.
func eventBytes(ev *wal.Event) int { return len(ev.Data) }

// refBytes is what a ref weighs against MaxBatchRefBytes: its name and
// value, and the few bytes that frame them in the batch's record.
func refBytes(r wal.Ref) int { return len(r.Name) + len(r.Value) + 8 }

// send performs ActSend: one attempt of a batch, then its record. ctx
// ends when Close runs out of time: the send is cut off.
func (e *Engine) send(ctx context.Context, a Action) {
	e.mu.Lock()
	w := e.hooks[a.Hook]
	f := e.fresh[a.Batch]
	if f != nil {
		delete(e.fresh, a.Batch)
		e.freshN -= f.size
	}
	var fence wal.Fence
	if w != nil {
		fence = e.fenceLocked(w.Tenant, w.ID)
	}
	e.mu.Unlock()
	if w == nil {
		return
	}
	var b *wal.Batch
	var events []*wal.Event
	var err error
	if f != nil {
		b, events = f.batch, f.events
	} else {
		b, events, err = e.readBatch(w.Tenant, a.Hook, a.Batch)
	}
	if err != nil {
		e.log.Error("engine: load batch", zap.String("batchId", a.Batch.Text("bat_")), zap.Error(err))
		e.mu.Lock()
		e.core.Result(e.clock.Now(), a.Batch, Verdict{}, false)
		e.mu.Unlock()
		return
	}
	if len(events) == 0 && len(b.Events) > 0 {
		// Every event's retention ended while the batch waited for a retry:
		// close it as expired rather than send an empty envelope.
		bl := e.lockBatch(a.Batch)
		defer bl.Unlock()
		e.mu.Lock()
		b.Version = max(b.Version, e.core.Version(a.Batch)) // a replay's, if one came since the read
		e.core.Drop(a.Batch)
		e.mu.Unlock()
		defer e.kick()
		b, att := e.core.ExpireUnsent(b, a.Trigger, a.AttemptID)
		if err := e.store.SaveBatch(fence, b, att); err != nil {
			e.log.Error("engine: expire batch", zap.String("batchId", b.ID.Text("bat_")), zap.Error(err))
			return
		}
		e.log.Warn("engine: batch expired unsent: its events' retention ended",
			zap.String("webhookId", b.WebhookID.Text("wh_")), zap.String("batchId", b.ID.Text("bat_")))
		e.stats.ended(wal.BatchExpired)
		e.batchExpired(w, b, "retention", "")
		return
	}
	body, msgID := buildBody(w.MaxBatchSize, b.ID, events)
	now := e.clock.Now()
	res := e.disp.Send(ctx, &Request{URL: w.URL, MsgID: msgID, Timestamp: now.Unix(), Body: body,
		Secrets: liveSecrets(w, now), Headers: w.CustomHeaders, Gzip: w.Compression == "gzip"})
	v := Classify(res.StatusCode, res.Err, res.RetryAfter)
	counted := res.Class != ClassBackpressure && res.Class != ClassCanceled
	if res.Class == ClassCanceled && res.Err != nil && ctx.Err() != nil {
		e.cutOff.Add(1)
	}
	done := e.clock.Now()
	bl := e.lockBatch(a.Batch) // until the result is stored: a replay must not write in between
	defer bl.Unlock()
	e.mu.Lock()
	// Saved over whatever this engine wrote of the batch since it was read
	// (a replay, merged by Result): the version the core knows.
	b.Version = max(b.Version, e.core.Version(a.Batch))
	out := e.core.Result(done, a.Batch, v, counted)
	var streak failStreak
	if out.Counted && v.Kind != Done {
		streak = e.core.streak(a.Hook)
	}
	if !counted && f != nil && e.freshN+f.size <= freshMax {
		e.fresh[a.Batch] = f
		e.freshN += f.size
	}
	e.mu.Unlock()
	defer e.kick()
	if !out.Counted {
		return
	}
	id := a.AttemptID
	if id.IsZero() {
		id = e.store.NewID()
	}
	b, att := e.core.RecordAttempt(b, Attempted{ID: id, Trigger: a.Trigger, Result: res, Verdict: v, Done: done}, out)
	if err := e.store.SaveResult(fence, b, att, out.Health); err != nil {
		e.saveFailed(w, b, err)
		return
	}
	e.observe(w, b, att, res, v, out, events, done, streak)
	if e.on != nil {
		e.on(b, att)
	}
	if out.Deactivate {
		reason := "failing_too_long"
		if v.Kind == Gone {
			reason = "gone"
		}
		if nw := e.deactivate(w, reason); nw != nil {
			e.webhookAlert(TypeWebhookDisabled, nw, b, reason, res.Class, streak)
		}
	}
}

// readBatch reads a batch that is not fresh, and its events still stored,
// for an attempt. The batch's previous attempt may still be storing its
// result: it took the batch's stripe before the core saw that result (and
// scheduled this attempt) and holds it until the result is written. The
// read waits for it, or this attempt would save over a version it never
// read (ErrConflict: its record, its alert and its count lost, and the
// batch sent once more at once). A fresh batch's earlier attempt, if any,
// stored nothing.
func (e *Engine) readBatch(tenant string, hook, id wal.ID) (*wal.Batch, []*wal.Event, error) {
	e.lockBatch(id).Unlock()
	b, err := e.store.GetBatch(tenant, hook, id)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]wal.ID, len(b.Events))
	for i, be := range b.Events {
		ids[i] = be.ID
	}
	events, err := e.store.GetEvents(tenant, ids)
	events = slices.DeleteFunc(events, func(ev *wal.Event) bool { return ev == nil }) // retention ended
	return b, events, err
}

// saveFailed handles an attempt's result the store refused. Conflict:
// another writer (a replay elsewhere) saved the batch since it was read;
// what is stored stands, and the core follows it. Fenced: the partition
// went to another node, which delivers it from now on. Else the store
// failed (fail-stop) and the batch stays as stored, to be sent again.
func (e *Engine) saveFailed(w *wal.Webhook, b *wal.Batch, err error) {
	switch {
	case errors.Is(err, wal.ErrConflict):
		e.log.Warn("engine: batch changed while attempted; its stored state stands",
			zap.String("batchId", b.ID.Text("bat_")))
		if cur, gerr := e.store.GetBatch(w.Tenant, w.ID, b.ID); gerr == nil {
			e.mu.Lock()
			if cur.Open() {
				e.core.Restore(stateOf(cur, e.clock.Now()))
			} else {
				e.core.Forget(cur.ID)
			}
			e.mu.Unlock()
		}
	case errors.Is(err, wal.ErrFenced):
		e.log.Info("engine: result not stored: the webhook's partition is no longer held here",
			zap.String("batchId", b.ID.Text("bat_")))
	default:
		e.log.Error("engine: save attempt", zap.String("batchId", b.ID.Text("bat_")), zap.Error(err))
	}
}

// observe counts a stored attempt, logs it when it failed, and publishes
// the operational events it causes (observe*.go): atomic adds and a
// non-blocking offer, nothing that waits.
func (e *Engine) observe(w *wal.Webhook, b *wal.Batch, att *wal.Attempt, res Result, v Verdict, out Outcome,
	events []*wal.Event, done time.Time, streak failStreak) {
	e.stats.attempt(res, v, out.Status == wal.BatchRetrying)
	if out.Status == wal.BatchDelivered {
		e.stats.delivered(done, events)
	}
	if !isOpenStatus(out.Status) {
		e.stats.ended(out.Status)
	}
	if v.Kind == Done {
		return
	}
	e.logFailure(done, b, att, res, out)
	if out.Unhealthy && !out.Deactivate {
		e.webhookAlert(TypeWebhookUnhealthy, w, b, "consecutive_failures", res.Class, streak)
	}
	if out.Status == wal.BatchExpired {
		reason := "attempts_exhausted"
		if v.Kind == Gone {
			reason = "gone"
		}
		e.batchExpired(w, b, reason, res.Class)
	}
}

// deactivate sets w inactive (410, or failing for delivery.disable_after)
// and returns it as stored, or nil when that failed.
func (e *Engine) deactivate(w *wal.Webhook, reason string) *wal.Webhook {
	nw, err := e.store.UpdateWebhook(w.Tenant, w.ID, func(x *wal.Webhook) error {
		x.IsActive = false
		x.UpdatedAt = e.clock.Now().UTC()
		return nil
	})
	if err != nil {
		e.log.Warn("engine: deactivate webhook", zap.String("webhookId", w.ID.Text("wh_")), zap.Error(err))
		return nil
	}
	e.log.Warn("webhook deactivated", zap.String("tenant", w.Tenant), zap.String("webhookId", w.ID.Text("wh_")),
		zap.String("reason", reason))
	e.WebhookChanged(nw)
	return nw
}

// destOf names a URL's destination as the dispatcher pools it:
// scheme://host:port, with the scheme's default port made explicit.
func destOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port)
}

// lockBatch locks the stripe of batch id's record and returns it.
func (e *Engine) lockBatch(id wal.ID) *sync.Mutex {
	m := &e.batchMu[id[15]%byte(len(e.batchMu))]
	m.Lock()
	return m
}
