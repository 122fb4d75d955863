package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/wal"
)

// Scenario tests drive the Core the way the runner does, in memory and on
// a fake clock. Each script in testdata/scenarios is one command a line
// (`#` starts a comment):
//
//	core maxinflight=64 maxopen=8 unhealthy=5 disable-after=1h schedule=0s,5s
//	hook wh1 size=100 delay=250ms ordered=false rate=0 schedule=0s,5s active=true
//	publish wh1 3          events enter wh1's queue now (core.Queued)
//	advance 250ms          move the clock, stopping at every wake on the way
//	step                   one more Step at now
//	respond 1 500          core.Result for batch 1: a status code, or timeout,
//	                       refused, reset, backpressure, canceled (not counted);
//	                       retry-after=2h; the target may be a hook: all of its
//	                       batches in flight, oldest first
//	jitter 0.999           what the injected jitter source returns from now on
//	replay 1               Engine.Replay (Core.ReplayBatch): manual trigger, a
//	                       pre-created attempt
//	sendexpired 1          Engine.SendExpired for batch 1 (Core.SendExpiredBatch):
//	                       a fresh budget
//	restore wh1 attempts=2 max=8 next=+1m created=-1h events=1 trigger=auto
//	                       a batch loaded from the store at start
//	remove wh1             RemoveHook; its open batches are cancelled
//	health wh1 success=-1s failures=0 failure=-1h
//	                       RestoreHealth: the webhook's stored health (at
//	                       start); a success puts it in good standing
//	opens hold|auto        hold: ActOpen waits for `finish-open wh1`
//	finish-open wh1        the held open reads the queue now and reports
//
//	expect open wh1 count=1 size=100 at=250ms
//	expect send wh1 batch=1 trigger=auto attempt=none|manual at=250ms
//	expect sends wh1 2     exactly 2 sends come next for wh1 (any batches)
//	expect nothing [wh1]   no action left unchecked
//	expect status 1 retrying attempts=1 max=8 next=+5s deactivate=false
//	expect status 1 none   Result returned the zero Outcome (not counted)
//	expect batch 1 status=pending events=100 attempts=0 inflight=false
//	expect health wh1 degraded failures=1
//	expect inflight wh1 1 · expect queue wh1 50 · expect open-batches wh1 2
//	expect cancelled 2,3   what the last remove returned
//	expect wake +5s|none   core.NextWake
//	skip known bug …       skip the rest of the script
//
// Every Step's actions are performed at once: ActOpen takes events from
// the fake queue into batches (as runner.open does), ActSend puts the
// batch in flight until the script responds. A batch's stored record
// changes only through the core's lifecycle functions (lifecycle.go), the
// ones the runner and the operations use. Times are elapsed since the
// script's start; `+5s` is relative to now, `a..b` is a closed range.
// Every action must be checked by an expect; for each hook they are
// matched in the order the core returned them. Invariants are checked on
// every send: no batch twice in flight, no more than MaxInFlight in
// flight at a destination, none beyond a webhook's share (fair.go),
// ordered hooks send only their oldest open batch, rate limits hold over
// every second.

var scenarioStart = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestCoreScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s := &scenario{t: t, file: f, now: scenarioStart, jitter: 0.5,
				hooks: map[string]*simHook{}, byID: map[wal.ID]*simHook{}, batchByID: map[wal.ID]*simBatch{}}
			s.run(string(data))
		})
	}
}

type simHook struct {
	name    string
	cfg     HookConfig
	queue   []time.Time // enqueue times of the events not yet in a batch
	removed bool
	sends   []time.Time // when each send went out
	held    *simAction  // an ActOpen in progress (opens hold)
}

type simBatch struct {
	n        int
	id       wal.ID
	hook     *simHook
	events   int
	rec      *wal.Batch // as stored: what the core's lifecycle functions returned
	inFlight bool
	out      *Outcome // what the last Result returned
}

type simAction struct {
	Action
	at      time.Time
	hook    *simHook
	batch   *simBatch
	manual  wal.ID // the batch's pre-created manual attempt when it was sent
	checked bool
}

type scenario struct {
	t         *testing.T
	file      string
	line      int
	opts      CoreOptions
	core      *Core
	now       time.Time
	jitter    float64
	seq       uint64
	hooks     map[string]*simHook
	byID      map[wal.ID]*simHook
	batches   []*simBatch // by number - 1
	batchByID map[wal.ID]*simBatch
	log       []*simAction
	hold      bool
	cancelled []int
}

func (s *scenario) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s:%d: %s", s.file, s.line, fmt.Sprintf(format, args...))
}

func (s *scenario) run(script string) {
	for i, line := range strings.Split(script, "\n") {
		s.line = i + 1
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		if f := strings.Fields(line); len(f) > 0 {
			s.exec(f[0], f[1:])
		}
	}
	s.line = 0
	if rest := s.unchecked(nil); len(rest) > 0 {
		s.fatalf("end of script: unchecked actions:\n%s", s.describe(rest))
	}
}

// elapsed renders a time as the script writes it.
func (s *scenario) elapsed(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(scenarioStart).String()
}

// newID makes a time-ordered ID: the millisecond of at, then a counter.
func (s *scenario) newID(at time.Time) wal.ID {
	s.seq++
	var id wal.ID
	binary.BigEndian.PutUint64(id[0:8], uint64(at.UnixMilli())<<16)
	binary.BigEndian.PutUint64(id[8:16], s.seq)
	return id
}

func (s *scenario) ensureCore() {
	if s.core == nil {
		s.opts.Jitter = func() float64 { return s.jitter }
		s.core = NewCore(s.opts)
	}
}

func (s *scenario) exec(cmd string, args []string) {
	s.t.Helper()
	a := s.parseArgs(args)
	if cmd != "core" {
		s.ensureCore()
	}
	switch cmd {
	case "core":
		if s.core != nil {
			s.fatalf("core must come first")
		}
		s.opts.MaxInFlight = a.int("maxinflight", 0)
		s.opts.MaxOpen = a.int("maxopen", 0)
		s.opts.UnhealthyAfter = a.int("unhealthy", 0)
		s.opts.DisableAfter = a.dur("disable-after", 0)
		s.opts.Schedule = a.sched("schedule", nil)
		s.ensureCore()
	case "hook":
		h := s.hooks[a.pos(0)]
		if h == nil {
			h = &simHook{name: a.pos(0), cfg: HookConfig{ID: s.newID(s.now), Active: true, MaxBatchSize: 1}}
			s.hooks[h.name], s.byID[h.cfg.ID] = h, h
		}
		h.cfg.MaxBatchSize = a.int("size", h.cfg.MaxBatchSize)
		h.cfg.MaxBatchTimeDelay = a.dur("delay", h.cfg.MaxBatchTimeDelay)
		h.cfg.Ordered = a.bool("ordered", h.cfg.Ordered)
		h.cfg.RateLimit = a.int("rate", h.cfg.RateLimit)
		h.cfg.Schedule = a.sched("schedule", h.cfg.Schedule)
		h.cfg.Active = a.bool("active", h.cfg.Active)
		h.cfg.Dest = a.str("dest", h.cfg.Dest)
		s.core.SetHook(h.cfg)
	case "publish":
		h, n := s.hook(a.pos(0)), a.posInt(1)
		for range n {
			h.queue = append(h.queue, s.now)
		}
		s.core.Queued(s.now, h.cfg.ID, n, time.Time{})
	case "advance":
		s.advance(a.posDur(0))
	case "step":
	case "respond":
		s.respond(a)
	case "jitter":
		j, err := strconv.ParseFloat(a.pos(0), 64)
		if err != nil {
			s.fatalf("jitter: %v", err)
		}
		s.jitter = j
	case "replay":
		s.replay(s.batch(a.pos(0)))
	case "sendexpired":
		s.sendExpired(s.batch(a.pos(0)))
	case "restore":
		s.restore(s.hook(a.pos(0)), a)
	case "health":
		h := s.hook(a.pos(0))
		var r wal.HookHealth
		if v := a.str("success", ""); v != "" {
			r.LastSuccess = s.time(v)
		}
		if v := a.str("failure", ""); v != "" {
			r.LastFailure, r.FailingSince = s.time(v), s.time(v)
		}
		r.Failures = a.int("failures", 0)
		s.core.RestoreHealth(h.cfg.ID, r)
	case "remove":
		h := s.hook(a.pos(0))
		s.cancelled = nil
		for _, id := range s.core.RemoveHook(h.cfg.ID) {
			b := s.batchByID[id]
			b.rec = s.core.CancelBatch(b.rec)
			s.cancelled = append(s.cancelled, b.n)
		}
		h.removed = true
	case "opens":
		s.hold = a.pos(0) == "hold"
	case "finish-open":
		h := s.hook(a.pos(0))
		if h.held == nil {
			s.fatalf("%s has no open in progress", h.name)
		}
		act := h.held
		h.held = nil
		s.open(h, act.Action, act.at)
	case "expect":
		s.expect(a)
	case "skip":
		s.t.Skipf("%s:%d: %s", s.file, s.line, strings.Join(args, " "))
	default:
		s.fatalf("unknown command %q", cmd)
	}
	a.done()
	if cmd != "core" {
		s.settle()
	}
}

// settle steps the core at now until it has nothing more to do now, the
// way the runner's loop does after every kick.
func (s *scenario) settle() {
	for i := 0; ; i++ {
		w, ok := s.core.NextWake()
		if !ok || w.After(s.now) {
			return
		}
		if i > 1000 {
			s.fatalf("the core does not settle at %s", s.elapsed(s.now))
		}
		s.perform(s.core.Step(s.now))
	}
}

// advance moves the clock by d, stepping at every wake on the way as the
// runner's timer would.
func (s *scenario) advance(d time.Duration) {
	end := s.now.Add(d)
	for {
		w, ok := s.core.NextWake()
		if !ok || w.After(end) {
			break
		}
		if w.After(s.now) {
			s.now = w
		}
		s.settle()
	}
	s.now = end
}

func (s *scenario) perform(acts []Action) {
	for _, a := range acts {
		h := s.byID[a.Hook]
		if h == nil || h.removed {
			s.fatalf("action for an unknown or removed hook: %+v", a)
		}
		act := &simAction{Action: a, at: s.now, hook: h}
		s.log = append(s.log, act)
		switch a.Kind {
		case ActOpen:
			if h.held != nil {
				s.fatalf("%s: a second open while one is in progress", h.name)
			}
			if s.hold {
				h.held = act
			} else {
				s.open(h, a, s.now)
			}
		case ActSend:
			act.batch = s.batchByID[a.Batch]
			s.sent(h, act.batch)
			act.manual = act.batch.rec.NextAttemptID
		default:
			s.fatalf("unknown action %+v", a)
		}
	}
}

// open does what runner.open does with the fake queue.
func (s *scenario) open(h *simHook, a Action, start time.Time) {
	asked := a.Count * a.Size
	var (
		states []BatchState
		taken  int
		next   time.Time
	)
	if !h.removed {
		peek := h.queue[:min(len(h.queue), asked+1)]
		if len(peek) > asked {
			next = peek[asked]
			peek = peek[:asked]
		}
		w := s.webhook(h)
		for i := 0; i < len(peek); i += a.Size {
			var events []*wal.Event
			for _, queued := range peek[i:min(i+a.Size, len(peek))] {
				events = append(events, &wal.Event{ID: s.newID(queued)})
			}
			b := s.addBatch(h, s.core.OpenBatch(start, s.newID(start), w, events))
			states = append(states, stateOf(b.rec, start))
		}
		taken = len(peek)
		h.queue = h.queue[taken:]
	}
	s.core.Opened(start, h.cfg.ID, states, taken, asked, next)
}

// webhook is the stored webhook behind a simulated hook.
func (s *scenario) webhook(h *simHook) *wal.Webhook {
	return &wal.Webhook{ID: h.cfg.ID, Tenant: "acme", IsActive: h.cfg.Active, MaxBatchSize: h.cfg.MaxBatchSize,
		RetrySchedule: h.cfg.Schedule}
}

func (s *scenario) addBatch(h *simHook, rec *wal.Batch) *simBatch {
	b := &simBatch{n: len(s.batches) + 1, id: rec.ID, hook: h, events: len(rec.Events), rec: rec}
	s.batches = append(s.batches, b)
	s.batchByID[b.id] = b
	return b
}

// sent checks a send against the invariants and puts the batch in flight.
func (s *scenario) sent(h *simHook, b *simBatch) {
	switch {
	case b == nil:
		s.fatalf("send of an unknown batch")
	case b.hook != h:
		s.fatalf("send of batch %d under the wrong hook %s", b.n, h.name)
	case b.inFlight:
		s.fatalf("batch %d sent while already in flight", b.n)
	case !b.rec.Open():
		s.fatalf("batch %d sent while %s", b.n, b.rec.Status)
	}
	b.inFlight = true
	n := s.core.opts.MaxInFlight
	if limit, good := s.core.share(s.core.hooks[h.cfg.ID]); s.inFlight(h) > limit {
		s.fatalf("%s: %d in flight; its share is %d (good standing: %v)", h.name, s.inFlight(h), limit, good)
	}
	atDest := 0
	for _, o := range s.hooks {
		if o.cfg.Dest == h.cfg.Dest {
			atDest += s.inFlight(o)
		}
	}
	if atDest > n {
		s.fatalf("%s: %d in flight at %q; MaxInFlight is %d", h.name, atDest, h.cfg.Dest, n)
	}
	if h.cfg.Ordered {
		if n := s.inFlight(h); n > 1 {
			s.fatalf("ordered %s: %d in flight", h.name, n)
		}
		for _, o := range s.batches {
			if o.hook == h && o != b && o.rec.Open() &&
				compareIDs(o.id, b.id) < 0 {
				s.fatalf("ordered %s: batch %d sent before the older open batch %d", h.name, b.n, o.n)
			}
		}
	}
	h.sends = append(h.sends, s.now)
	if r := h.cfg.RateLimit; r > 0 && len(h.sends) > r {
		if first := h.sends[len(h.sends)-1-r]; s.now.Sub(first) < time.Second {
			s.fatalf("%s: %d sends within %v; rateLimit is %d/s", h.name, r+1, s.now.Sub(first), r)
		}
	}
}

func (s *scenario) inFlight(h *simHook) int {
	n := 0
	for _, b := range s.batches {
		if b.hook == h && b.inFlight {
			n++
		}
	}
	return n
}

// respond reports the outcome of attempts in flight, as runner.send does.
func (s *scenario) respond(a *args) {
	word, ra := a.pos(1), a.dur("retry-after", 0)
	var res Result
	switch word {
	case "timeout":
		res.Err = os.ErrDeadlineExceeded
	case "refused":
		res.Err = syscall.ECONNREFUSED
	case "reset":
		res.Err = syscall.ECONNRESET
	case "backpressure":
		res.Err = fasthttp.ErrNoFreeConns
	case "canceled":
		res.Err = context.Canceled
	default:
		code, err := strconv.Atoi(word)
		if err != nil {
			s.fatalf("respond: unknown outcome %q", word)
		}
		res.StatusCode, res.RetryAfter = code, ra
	}
	if res.Err != nil {
		res.Class = ClassOf(res.Err)
	}
	res.Started = s.now
	v := Classify(res.StatusCode, res.Err, res.RetryAfter)
	counted := v.Class != ClassBackpressure && v.Class != ClassCanceled
	var targets []*simBatch
	if h := s.hooks[a.pos(0)]; h != nil {
		for _, b := range s.batches {
			if b.hook == h && b.inFlight {
				targets = append(targets, b)
			}
		}
	} else {
		targets = append(targets, s.batch(a.pos(0)))
	}
	if len(targets) == 0 {
		s.fatalf("respond: nothing in flight for %s", a.pos(0))
	}
	for _, b := range targets {
		if !b.inFlight {
			s.fatalf("respond: batch %d is not in flight", b.n)
		}
		b.inFlight = false
		out := s.core.Result(s.now, b.id, v, counted)
		b.out = &out
		if out.Counted {
			id := b.rec.NextAttemptID // the manual attempt's, as runner.send
			if id.IsZero() {
				id = s.newID(s.now)
			}
			b.rec, _ = s.core.RecordAttempt(b.rec, Attempted{ID: id, Result: res, Verdict: v, Done: s.now}, out)
		}
		if out.Deactivate && !b.hook.removed {
			b.hook.cfg.Active = false // runner.deactivate → WebhookChanged
			s.core.SetHook(b.hook.cfg)
		}
		s.settle()
	}
}

// replay is Engine.Replay: the record Core.ReplayBatch returns is stored
// and handed to the core.
func (s *scenario) replay(b *simBatch) {
	b.rec, _ = s.core.ReplayBatch(s.now, b.rec, s.newID(s.now))
	s.core.Restore(stateOf(b.rec, s.now))
}

// sendExpired is Engine.SendExpired for one expired batch: the record
// Core.SendExpiredBatch returns is stored and handed to the core.
func (s *scenario) sendExpired(b *simBatch) {
	if b.rec.Status != wal.BatchExpired {
		s.fatalf("sendexpired: batch %d is %s", b.n, b.rec.Status)
	}
	b.rec = s.core.SendExpiredBatch(s.now, b.rec, b.hook.cfg.Schedule)
	s.core.Restore(stateOf(b.rec, s.now))
}

// restore is a batch Engine.Start finds open in the store.
func (s *scenario) restore(h *simHook, a *args) {
	created := s.time(a.str("created", "+0s"))
	events := make([]*wal.Event, a.int("events", 1))
	for i := range events {
		events[i] = &wal.Event{ID: s.newID(created)}
	}
	b := s.addBatch(h, s.core.OpenBatch(created, s.newID(created), s.webhook(h), events))
	b.rec.Attempts, b.rec.MaxAttempts = a.int("attempts", 0), a.int("max", b.rec.MaxAttempts)
	if b.rec.Attempts > 0 {
		b.rec.Status = wal.BatchRetrying
	}
	b.rec.NextAttemptAt, b.rec.NextTrigger = s.time(a.str("next", "+0s")), a.str("trigger", "")
	if b.rec.NextTrigger == wal.TriggerAuto {
		b.rec.NextTrigger = ""
	}
	s.core.Restore(stateOf(b.rec, s.now))
}

func (s *scenario) hook(name string) *simHook {
	h := s.hooks[name]
	if h == nil {
		s.fatalf("unknown hook %q", name)
	}
	return h
}

func (s *scenario) batch(num string) *simBatch {
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > len(s.batches) {
		s.fatalf("no batch %q (%d so far)", num, len(s.batches))
	}
	return s.batches[n-1]
}

// time reads a script time: "+5s" from now, "5s" from the start.
func (s *scenario) time(v string) time.Time {
	base := scenarioStart
	if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") {
		base = s.now
	}
	d, err := time.ParseDuration(strings.TrimPrefix(v, "+"))
	if err != nil {
		s.fatalf("bad time %q: %v", v, err)
	}
	return base.Add(d)
}

// checkTime compares got with a time or a closed range "a..b".
func (s *scenario) checkTime(what string, got time.Time, want string) {
	lo, hi, ok := strings.Cut(want, "..")
	if !ok {
		hi = lo
	}
	if lo == "never" {
		if !got.IsZero() {
			s.fatalf("%s: got %s; want never", what, s.elapsed(got))
		}
		return
	}
	if l, h := s.time(lo), s.time(hi); got.Before(l) || got.After(h) {
		s.fatalf("%s: got %s (now %s); want %s", what, s.elapsed(got), s.elapsed(s.now), want)
	}
}
