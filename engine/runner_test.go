package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hookd/engine/clocktest"
	"hookd/wal"
)

var _ Store = (*wal.Store)(nil)

// sink is a local subscriber that reports every request it gets.
type sink struct {
	srv    *httptest.Server
	got    chan []byte
	status atomic.Int32
}

// newSink starts a sink; with hold, each answer waits until hold is
// closed (after the request is reported).
func newSink(t *testing.T, hold ...chan struct{}) *sink {
	r := &sink{got: make(chan []byte, 100000)}
	r.status.Store(200)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if len(hold) > 0 {
			r.got <- b
			<-hold[0]
			w.WriteHeader(int(r.status.Load()))
			return
		}
		w.WriteHeader(int(r.status.Load()))
		r.got <- b
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// waitLimit bounds every wait of the runner's tests for what the engine
// or a receiver reports; it only ends a wait for something that will not
// come.
const waitLimit = 10 * time.Second

// recv returns the next value on ch, failing the test after waitLimit.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// advanceWhenScheduled moves clock by d once something falls due within
// it: the engine schedules a retry after it reports the attempt before.
func advanceWhenScheduled(t *testing.T, clock *clocktest.FakeClock, d time.Duration) {
	t.Helper()
	recv(t, clock.ScheduledBy(clock.Now().Add(d)), fmt.Sprintf("something scheduled within %v", d))
	clock.Advance(d)
}

type rig struct {
	store    *wal.Store
	eng      *Engine
	clock    *clocktest.FakeClock // nil: the wall clock
	attempts chan *wal.Attempt
}

// newRig starts an engine on the wall clock over a store in dir (a new
// temp dir when empty), for tests about the wall clock (signature
// timestamps, socket deadlines).
func newRig(t *testing.T, dir string, core CoreOptions) *rig {
	t.Helper()
	return startRig(t, dir, nil, core)
}

// newFakeRig starts an engine on a fake clock over a new store.
func newFakeRig(t *testing.T, core CoreOptions) *rig {
	t.Helper()
	return startRig(t, "", clocktest.New(time.Now()), core)
}

func startRig(t *testing.T, dir string, clock *clocktest.FakeClock, core CoreOptions) *rig {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := wal.Open(wal.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{store: st, clock: clock, attempts: make(chan *wal.Attempt, 100000)}
	var c Clock = RealClock{}
	if clock != nil {
		c = clock
	}
	r.eng = New(Options{Store: st, Dispatcher: NewDispatcher(DispatcherOptions{Timeout: 2 * time.Second}), Core: core,
		Clock: c, OnAttempt: func(b *wal.Batch, a *wal.Attempt) { r.attempts <- a }})
	if err := r.eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.eng.Close(context.Background()); st.Close() })
	return r
}

func (r *rig) webhook(t *testing.T, url string, size int) *wal.Webhook {
	w := &wal.Webhook{ID: r.store.NewWebhookID(), Tenant: "acme", URL: url, IsActive: true, MaxBatchSize: size,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := r.store.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	r.eng.WebhookChanged(w)
	return w
}

func TestRunnerDelivers(t *testing.T) {
	rc := newSink(t)
	r := newFakeRig(t, CoreOptions{})
	r.webhook(t, rc.srv.URL, 1)
	var evs []wal.EventInput
	for i := 0; i < 50; i++ {
		evs = append(evs, wal.EventInput{Type: "t", Data: []byte(`{"i":1}`)})
	}
	if _, err := r.store.Append("acme", evs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		recv(t, rc.got, fmt.Sprintf("request %d of 50", i+1))
	}
	for i := 0; i < 50; i++ {
		a := recv(t, r.attempts, fmt.Sprintf("attempt %d of 50", i+1))
		if a.Status != wal.AttemptSucceeded {
			t.Errorf("attempt %+v", a)
		}
	}
}

func TestRunnerRetriesThenDelivers(t *testing.T) {
	rc := newSink(t)
	rc.status.Store(500)
	r := newFakeRig(t, CoreOptions{Schedule: []time.Duration{0, time.Minute, time.Minute, time.Minute}})
	w := r.webhook(t, rc.srv.URL, 10)
	if _, err := r.store.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`1`)}, {Type: "t", Data: []byte(`2`)}}); err != nil {
		t.Fatal(err)
	}
	a := recv(t, r.attempts, "the first attempt")
	if a.Status != wal.AttemptFailed || a.ResponseCode != 500 {
		t.Fatalf("first attempt %+v", a)
	}
	rc.status.Store(200)
	advanceWhenScheduled(t, r.clock, time.Minute)
	if a := recv(t, r.attempts, "the retry"); a.Status != wal.AttemptSucceeded {
		t.Fatalf("retry %+v", a)
	}
	bs, _, err := r.store.ListBatches("acme", w.ID, wal.ID{}, 10, nil)
	if err != nil || len(bs) != 1 || bs[0].Status != wal.BatchDelivered || len(bs[0].Events) != 2 {
		t.Fatalf("batches %+v %v", bs, err)
	}
}

// forgetful is a store whose first published event has been removed by
// retention while it waited in the queue.
type forgetful struct {
	*wal.Store
	gone wal.ID
}

func (f *forgetful) GetEvents(tenant string, ids []wal.ID) ([]*wal.Event, error) {
	evs, err := f.Store.GetEvents(tenant, ids)
	for i, id := range ids {
		if id == f.gone && err == nil {
			evs[i] = nil
		}
	}
	return evs, err
}

// TestRunnerSkipsExpiredEvents: an event no longer stored is dropped from
// the queue, and the events behind it are delivered.
func TestRunnerSkipsExpiredEvents(t *testing.T) {
	rc := newSink(t)
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 10,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := st.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	res, err := st.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`"old"`)}, {Type: "t", Data: []byte(`"new"`)}})
	if err != nil {
		t.Fatal(err)
	}
	attempts := make(chan *wal.Attempt, 10)
	eng := New(Options{Store: &forgetful{Store: st, gone: res.IDs[0]}, Dispatcher: NewDispatcher(DispatcherOptions{}),
		Clock: clocktest.New(time.Now()), OnAttempt: func(b *wal.Batch, a *wal.Attempt) { attempts <- a }})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	body := recv(t, rc.got, "a delivery (the missing event must not stall the queue)")
	if !strings.Contains(string(body), `"new"`) || strings.Contains(string(body), `"old"`) {
		t.Errorf("body = %s, want only the stored event", body)
	}
	recv(t, attempts, "the attempt")
	if n, _ := st.QueueDepth(w.ID); n != 0 {
		t.Errorf("queue depth %d after delivery, want 0 (the missing event's entry dropped too)", n)
	}
}

// amnesiac forgets every event once told to, and reports saved batches.
type amnesiac struct {
	*wal.Store
	forget atomic.Bool
	saved  chan *wal.Batch
}

func (s *amnesiac) GetEvents(tenant string, ids []wal.ID) ([]*wal.Event, error) {
	evs, err := s.Store.GetEvents(tenant, ids)
	if s.forget.Load() {
		clear(evs)
	}
	return evs, err
}

func (s *amnesiac) SaveBatch(f wal.Fence, b *wal.Batch, a *wal.Attempt) error {
	err := s.Store.SaveBatch(f, b, a)
	s.saved <- b
	return err
}

// startAmnesiac starts an engine on clock over an amnesiac store with one
// webhook of tenant acme (maxBatchSize 10) that delivers to rc; both are
// closed when the test ends.
func startAmnesiac(t *testing.T, rc *sink, clock Clock, core CoreOptions) (*wal.Store, *amnesiac, *Engine, *wal.Webhook, chan *wal.Attempt) {
	t.Helper()
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	am := &amnesiac{Store: st, saved: make(chan *wal.Batch, 10)}
	attempts := make(chan *wal.Attempt, 10)
	eng := New(Options{Store: am, Dispatcher: NewDispatcher(DispatcherOptions{}), Core: core, Clock: clock,
		OnAttempt: func(b *wal.Batch, a *wal.Attempt) { attempts <- a }})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 10,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := st.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	eng.WebhookChanged(w)
	return st, am, eng, w, attempts
}

// A batch whose events' retention ends while it waits for a retry is
// closed as expired, not sent as an empty envelope.
func TestRunnerExpiresBatchWithoutEvents(t *testing.T) {
	rc := newSink(t)
	rc.status.Store(500)
	clock := clocktest.New(time.Now())
	st, am, _, w, attempts := startAmnesiac(t, rc, clock, CoreOptions{Schedule: []time.Duration{0, time.Minute, time.Minute}})
	if _, err := st.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`1`)}, {Type: "t", Data: []byte(`2`)}}); err != nil {
		t.Fatal(err)
	}
	recv(t, rc.got, "the first attempt's request")
	am.forget.Store(true) // both events' retention ends before the retry
	if a := recv(t, attempts, "the first attempt"); a.Status != wal.AttemptFailed {
		t.Fatalf("first attempt %+v", a)
	}
	advanceWhenScheduled(t, clock, time.Minute)
	if b := recv(t, am.saved, "the batch to be closed"); b.Status != wal.BatchExpired || b.Attempts != 1 || !b.NextAttemptAt.IsZero() {
		t.Errorf("batch after its events expired: status %s, attempts %d, next %v", b.Status, b.Attempts, b.NextAttemptAt)
	}
	select {
	case body := <-rc.got:
		t.Errorf("sent %s after the events expired", body)
	default:
	}
	if st, _ := st.GetBatch("acme", w.ID, mustOnlyBatch(t, st, w.ID)); st.Status != wal.BatchExpired {
		t.Errorf("stored status %s", st.Status)
	}
}

func mustOnlyBatch(t *testing.T, st *wal.Store, wh wal.ID) wal.ID {
	t.Helper()
	bs, _, err := st.ListBatches("acme", wh, wal.ID{}, 10, nil)
	if err != nil || len(bs) != 1 {
		t.Fatalf("batches = %d %v", len(bs), err)
	}
	return bs[0].ID
}

// A replay of a batch whose events are no longer stored ends its attempt
// record (created "scheduled" when the replay was asked for) as failed,
// and the batch as expired; nothing is sent.
func TestReplayOfBatchWithoutEventsEndsItsAttempt(t *testing.T) {
	rc := newSink(t)
	st, am, eng, w, attempts := startAmnesiac(t, rc, clocktest.New(time.Now()), CoreOptions{})
	if _, err := st.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	recv(t, rc.got, "the first attempt's request")
	if a := recv(t, attempts, "the first attempt"); a.Status != wal.AttemptSucceeded {
		t.Fatalf("first attempt %+v", a)
	}
	batch := mustOnlyBatch(t, st, w.ID)
	am.forget.Store(true) // the event's retention ends; then a replay is asked for
	id, err := eng.Replay("acme", w.ID, batch)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(waitLimit)
	for done := false; !done; {
		select {
		case b := <-am.saved:
			done = b.Status == wal.BatchExpired
		case <-timeout:
			t.Fatal("the replayed batch was never closed")
		}
	}
	a, err := st.GetAttempt("acme", batch, id)
	if err != nil || a.Status != wal.AttemptFailed || a.Trigger != wal.TriggerManual || !strings.Contains(a.Error, "no longer stored") {
		t.Fatalf("replay's attempt = %+v, %v; want failed, manual, with the reason", a, err)
	}
	select {
	case body := <-rc.got:
		t.Errorf("sent %s after the event expired", body)
	default:
	}
}

// startOverStore starts an engine on a clock that moves only when told,
// over a fresh store as wrap wraps it, with one webhook of tenant acme at
// maxBatchSize 1 delivering to rc.
func startOverStore(t *testing.T, rc *sink, wrap func(*wal.Store) Store) (*wal.Store, *clocktest.FakeClock, *wal.Webhook) {
	t.Helper()
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clocktest.New(time.Now())
	eng := New(Options{Store: wrap(st), Dispatcher: NewDispatcher(DispatcherOptions{}), Clock: clock,
		Core: CoreOptions{Schedule: []time.Duration{0}}})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 1,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := st.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	eng.WebhookChanged(w)
	return st, clock, w
}

// failingOpens fails the first n OpenBatches calls as a full disk would.
type failingOpens struct {
	*wal.Store
	n      atomic.Int32
	failed chan struct{}
}

func (s *failingOpens) OpenBatches(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.OpenBatches(f, webhook, from, to, bs...)
}

func (s *failingOpens) OpenBatchesLazy(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.OpenBatchesLazy(f, webhook, from, to, bs...)
}

// fail fails the open while n lasts.
func (s *failingOpens) fail() error {
	if s.n.Add(-1) >= 0 {
		s.failed <- struct{}{}
		return &wal.SpaceError{Dir: "/data", Free: 1 << 20, Need: 1 << 30}
	}
	return nil
}

// An open whose commit fails (the disk reserve) consumes nothing: the
// queue is read again after a pause and every event is delivered once,
// none skipped even when later opens were already reading past it.
func TestRunnerOpenFailureLosesNothing(t *testing.T) {
	rc := newSink(t)
	var fs *failingOpens
	st, clock, w := startOverStore(t, rc, func(st *wal.Store) Store {
		fs = &failingOpens{Store: st, failed: make(chan struct{}, 100)}
		fs.n.Store(3)
		return fs
	})
	const events = 300
	var evs []wal.EventInput
	for i := range events {
		evs = append(evs, wal.EventInput{Type: "t", Data: []byte(strconv.Itoa(i))})
	}
	if _, err := st.Append("acme", evs); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		recv(t, fs.failed, fmt.Sprintf("failed open %d of 3", i+1))
	}
	got := map[string]bool{}
	timeout := time.After(2 * waitLimit)
	for len(got) < events {
		select {
		case b := <-rc.got:
			if got[string(b)] {
				t.Fatalf("event %s delivered twice", b)
			}
			got[string(b)] = true
		case <-clock.ScheduledBy(clock.Now().Add(openRetry)):
			clock.Advance(openRetry) // the failed opens' events count as queued again
		case <-timeout:
			t.Fatalf("delivered %d of %d", len(got), events)
		}
	}
	if n, _ := st.QueueDepth(w.ID); n != 0 {
		t.Errorf("queue depth %d after everything was delivered", n)
	}
}

// overtakenOpens holds the first open's commit until the next open's
// commit has returned, as a goroutine preempted between its read and its
// commit would: the second commit reaches the store first.
type overtakenOpens struct {
	*wal.Store
	calls      atomic.Int32
	first      chan struct{} // the first open is being held
	overtaken  chan error    // what the second open's first commit returned
	heldResult chan error    // what the first open's commit returned, once let go
	secondErr  error         // the second's first commit (set before heldResult is sent)
}

func (s *overtakenOpens) OpenBatchesLazy(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error {
	switch s.calls.Add(1) {
	case 1:
		s.first <- struct{}{}
		s.secondErr = <-s.overtaken // ... until the second has been tried
		err := s.Store.OpenBatchesLazy(f, webhook, from, to, bs...)
		s.heldResult <- err
		return err
	case 2:
		err := s.Store.OpenBatchesLazy(f, webhook, from, to, bs...)
		s.overtaken <- err
		return err
	}
	return s.Store.OpenBatchesLazy(f, webhook, from, to, bs...)
}

// An open whose commit overtakes the previous open's (of the same
// webhook, read after it) is committed once that one is, not read again
// after openRetry: its events go out at once. The clock never moves, so
// a wait for openRetry would never end.
func TestRunnerOpenOvertakenCommitsAfterThePrevious(t *testing.T) {
	rc := newSink(t)
	var ov *overtakenOpens
	st, _, w := startOverStore(t, rc, func(st *wal.Store) Store {
		ov = &overtakenOpens{Store: st, first: make(chan struct{}, 1), overtaken: make(chan error, 1), heldResult: make(chan error, 1)}
		return ov
	})
	if _, err := st.Append("acme", []wal.EventInput{{Type: "t", Data: []byte("0")}}); err != nil {
		t.Fatal(err)
	}
	recv(t, ov.first, "the first open")
	const events = 20
	var evs []wal.EventInput
	for i := 1; i < events; i++ {
		evs = append(evs, wal.EventInput{Type: "t", Data: []byte(strconv.Itoa(i))})
	}
	if _, err := st.Append("acme", evs); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, ov.heldResult, "the first open's commit"); err != nil {
		t.Fatalf("first open: %v", err)
	}
	if !errors.Is(ov.secondErr, wal.ErrConflict) {
		t.Fatalf("the overtaking commit returned %v, want wal.ErrConflict (the case under test)", ov.secondErr)
	}
	got := map[string]bool{}
	for len(got) < events {
		b := recv(t, rc.got, fmt.Sprintf("event %d of %d (the clock never reaches openRetry)", len(got)+1, events))
		if got[string(b)] {
			t.Fatalf("event %s delivered twice", b)
		}
		got[string(b)] = true
	}
	if n, _ := st.QueueDepth(w.ID); n != 0 {
		t.Errorf("queue depth %d after everything was delivered", n)
	}
}

// peekCounter counts the opens reading a queue at once, holding each
// until released.
type peekCounter struct {
	*wal.Store
	active, most atomic.Int32
	hold         atomic.Bool // count and hold from now on
	release      chan struct{}
}

func (s *peekCounter) PeekQueue(webhook wal.ID, after wal.Cursor, max int) ([]wal.Queued, error) {
	if !s.hold.Load() {
		return s.Store.PeekQueue(webhook, after, max)
	}
	n := s.active.Add(1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	<-s.release
	defer s.active.Add(-1)
	return s.Store.PeekQueue(webhook, after, max)
}

// However many webhooks have events queued, at most maxOpening opens read
// their queues (and hold events in memory) at once; the others wait their
// turn and every event is still delivered.
func TestOpensBounded(t *testing.T) {
	rc := newSink(t)
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pc := &peekCounter{Store: st, release: make(chan struct{})}
	var once sync.Once
	release := func() { once.Do(func() { close(pc.release) }) }
	t.Cleanup(release) // before Close waits for the opens it holds
	eng := New(Options{Store: pc, Dispatcher: NewDispatcher(DispatcherOptions{})})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release(); eng.Close(context.Background()) })
	const hooks = 5 * maxOpening
	for range hooks {
		w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 1,
			Secrets: []wal.Secret{{Value: GenerateSecret()}}}
		if err := st.CreateWebhook(w); err != nil {
			t.Fatal(err)
		}
		eng.WebhookChanged(w)
	}
	pc.hold.Store(true)
	if _, err := st.Append("acme", []wal.EventInput{{Type: "t", Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pc.active.Load() < maxOpening {
		if time.Now().After(deadline) {
			t.Fatalf("only %d opens started", pc.active.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// Without the bound all 80 would be reading by now: give them the
	// chance (a negative can only be checked over a window).
	time.Sleep(100 * time.Millisecond)
	if n := pc.active.Load(); n > maxOpening {
		t.Fatalf("%d opens read at once, want at most %d", n, maxOpening)
	}
	release()
	for i := range hooks {
		select {
		case <-rc.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("delivered %d of %d", i, hooks)
		}
	}
	if m := pc.most.Load(); m > maxOpening {
		t.Errorf("at most %d opens at once, want %d", m, maxOpening)
	}
}

// A batch closes at MaxBatchBytes of event data whatever maxBatchSize
// allows, and one open reads at most maxOpenBytes (then opens again for
// the rest): 40 events of 512 KiB queued at once for a webhook of
// maxBatchSize 1000 go out in requests of at most 4 MiB, all of them.
func TestBatchesBoundedByBytes(t *testing.T) {
	rc := newSink(t)
	r := startRig(t, "", nil, CoreOptions{}) // the real clock: the queue's times are the wall clock's
	const n = 40
	big := []byte(`"` + strings.Repeat("x", 512<<10) + `"`)
	evs := make([]wal.EventInput, n)
	for i := range evs {
		evs[i] = wal.EventInput{Type: "t", Data: big}
	}
	r.webhook(t, rc.srv.URL, 1000)
	if _, err := r.store.Append("acme", evs); err != nil { // queued at once: one open takes them
		t.Fatal(err)
	}
	got := 0
	for got < n {
		body := recv(t, rc.got, fmt.Sprintf("a request (%d of %d events so far)", got, n))
		if len(body) > MaxBatchBytes+64<<10 {
			t.Fatalf("a request of %d bytes, over MaxBatchBytes (%d)", len(body), MaxBatchBytes)
		}
		got += strings.Count(string(body), `"type":"t"`)
	}
	if got != n {
		t.Fatalf("%d events delivered, want %d", got, n)
	}
}

// TestBatchesBoundedByRefs: a batch closes before the distinct refs its
// events bring pass MaxBatchRefBytes, whatever maxBatchSize allows; a ref
// every event repeats counts once. Every batch is stored with its refs.
func TestBatchesBoundedByRefs(t *testing.T) {
	rc := newSink(t)
	r := startRig(t, "", nil, CoreOptions{})
	const n = 100
	evs := make([]wal.EventInput, n)
	perEvent := 0
	for i := range evs {
		refs := []wal.Ref{{Name: "a", Value: "shared"}} // the same on every event
		for j := range 15 {
			refs = append(refs, wal.Ref{Name: fmt.Sprintf("r%02d", j), Value: fmt.Sprintf("%04d-%s", i, strings.Repeat("v", 250))})
		}
		evs[i] = wal.EventInput{Type: "t", Refs: refs, Data: []byte(`{}`)}
		perEvent = 0
		for _, ref := range refs[1:] {
			perEvent += refBytes(ref)
		}
	}
	w := r.webhook(t, rc.srv.URL, 1000)
	if _, err := r.store.Append("acme", evs); err != nil {
		t.Fatal(err)
	}
	most := MaxBatchRefBytes / perEvent // events a batch can hold
	got := 0
	for got < n {
		body := recv(t, rc.got, fmt.Sprintf("a request (%d of %d events so far)", got, n))
		k := strings.Count(string(body), `"type":"t"`)
		if k > most || k == 0 {
			t.Fatalf("a batch of %d events, want 1..%d", k, most)
		}
		got += k
	}
	var after wal.ID
	batches := 0
	for {
		page, more, err := r.store.ListBatches("acme", w.ID, after, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page {
			size := 0
			for _, ref := range b.Refs {
				size += refBytes(ref)
			}
			if size > MaxBatchRefBytes || len(b.Refs) != 1+15*len(b.Events) {
				t.Errorf("batch of %d events stored %d refs (%d bytes)", len(b.Events), len(b.Refs), size)
			}
			batches++
		}
		if !more || len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
	}
	if want := (n + most - 1) / most; got != n || batches < want {
		t.Errorf("%d events in %d batches, want %d in at least %d", got, batches, n, want)
	}
}
