package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"hookd/engine/clocktest"
	"hookd/wal"
)

// Races between the engine's own work and the operations (delete,
// replay), put in a chosen order by a store whose calls can be held.
// They were driven through the HTTP API (api/races_test.go); the API's
// part (the DELETE's 204, the replay's 201) is a plain call into the
// engine, and its answers are checked by api's own tests.

// gate holds a store call until released.
type gate struct{ entered, release chan struct{} }

func newGate(t *testing.T) *gate {
	g := &gate{entered: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(g.open) // no call stays held
	return g
}

func (g *gate) wait() {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
}

func (g *gate) open() {
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

// gatedStore is the engine's store with calls that can be held.
type gatedStore struct {
	*wal.Store
	opening   atomic.Pointer[gate] // holds OpenBatches
	scheduled atomic.Pointer[gate] // holds SaveBatch of a scheduled (replay) attempt
	saving    atomic.Pointer[gate] // holds SaveResult of a failed attempt
	drained   chan struct{}        // a deleted webhook's queue was read empty
	read      chan *wal.Batch      // GetBatch's answers, when not nil (and not full)
}

func (s *gatedStore) SaveResult(f wal.Fence, b *wal.Batch, a *wal.Attempt, h *wal.HookHealth) error {
	if g := s.saving.Load(); g != nil && a != nil && a.Status == wal.AttemptFailed {
		g.wait()
	}
	return s.Store.SaveResult(f, b, a, h)
}

func (s *gatedStore) GetBatch(tenant string, webhook, id wal.ID) (*wal.Batch, error) {
	b, err := s.Store.GetBatch(tenant, webhook, id)
	if s.read != nil && err == nil {
		c := *b
		select {
		case s.read <- &c:
		default:
		}
	}
	return b, err
}

func (s *gatedStore) OpenBatches(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error {
	if g := s.opening.Load(); g != nil && len(bs) > 0 {
		g.wait()
	}
	return s.Store.OpenBatches(f, webhook, from, to, bs...)
}

func (s *gatedStore) OpenBatchesLazy(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error {
	if g := s.opening.Load(); g != nil && len(bs) > 0 {
		g.wait()
	}
	return s.Store.OpenBatchesLazy(f, webhook, from, to, bs...)
}

func (s *gatedStore) SaveBatch(f wal.Fence, b *wal.Batch, a *wal.Attempt) error {
	if g := s.scheduled.Load(); g != nil && a != nil && a.Status == wal.AttemptScheduled {
		g.wait()
	}
	return s.Store.SaveBatch(f, b, a)
}

// PeekQueue tells drained when the queue of a webhook no longer stored
// reads empty: the delete's cleanup has consumed it.
func (s *gatedStore) PeekQueue(webhook wal.ID, after wal.Cursor, max int) ([]wal.Queued, error) {
	q, err := s.Store.PeekQueue(webhook, after, max)
	if len(q) == 0 || err != nil {
		if _, gerr := s.Store.GetWebhook("acme", webhook); errors.Is(gerr, wal.ErrNotFound) {
			select {
			case s.drained <- struct{}{}:
			default:
			}
		}
	}
	return q, err
}

// startGated starts an engine (wall clock) over a gated store with one
// webhook of tenant acme delivering to rc.
func startGated(t *testing.T, rc *sink) (*gatedStore, *Engine, *wal.Webhook, chan *wal.Attempt) {
	t.Helper()
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	gs := &gatedStore{Store: st, drained: make(chan struct{}, 1)}
	attempts := make(chan *wal.Attempt, 100)
	eng := New(Options{Store: gs, Dispatcher: NewDispatcher(DispatcherOptions{Timeout: waitLimit}),
		OnAttempt: func(_ *wal.Batch, a *wal.Attempt) { attempts <- a }})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 100,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := st.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	eng.WebhookChanged(w)
	return gs, eng, w, attempts
}

// quiesce closes the engine: everything it started has ended.
func quiesce(t *testing.T, eng *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		t.Fatalf("engine close: %v", err)
	}
}

// A delete that lands while the engine is opening a batch for the webhook
// must leave no open batch behind.
func TestDeleteWhileOpening(t *testing.T) {
	rc := newSink(t)
	gs, eng, w, _ := startGated(t, rc)
	g := newGate(t)
	gs.opening.Store(g)
	res, err := gs.Append("acme", []wal.EventInput{{Type: "a", Data: []byte(`1`)}})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, g.entered, "the engine to open a batch") // it has read the queue and the webhook
	// The delete, as the API makes it: the store, then the engine.
	if err := gs.DeleteWebhook("acme", w.ID); err != nil {
		t.Fatal(err)
	}
	eng.WebhookDeleted("acme", w.ID)
	// The race: the delete's cleanup is done before the open commits. An
	// implementation that makes one wait for the other is fine too: the
	// bound below only ends the wait for a step that will not come.
	select {
	case <-gs.drained:
	case <-time.After(2 * time.Second):
	}
	g.open()
	quiesce(t, eng)
	select {
	case body := <-rc.got:
		t.Errorf("after the delete: unexpected request %s", body)
	default:
	}

	bs, _, err := gs.ListBatches("acme", w.ID, wal.ID{}, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Open() {
			t.Errorf("batch %s of the deleted webhook is %s, want cancelled", b.ID.Text("bat_"), b.Status)
		}
	}
	gs.EachOpenBatch(wal.Part{}, func(b *wal.Batch) error {
		t.Errorf("batch %s of the deleted webhook stays in the open index (%s)", b.ID.Text("bat_"), b.Status)
		return nil
	})
	ds, err := gs.EventDeliveries("acme", res.IDs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Status == wal.BatchPending || d.Status == wal.BatchRetrying {
			t.Errorf("event delivery stays %v after the webhook was deleted", d.Status)
		}
	}
}

// A retry that comes due while the batch's previous result is still being
// stored (a slow commit; here the fake clock moves on meanwhile) reads the
// batch once that result is in. It used to read the batch before and save
// over a version it had not read: ErrConflict, the retry's attempt record,
// count and operational alert lost, and the batch sent once more at once
// (api's TestOperationalEvents hung on the missing alert under load).
func TestRetryWhileResultIsStored(t *testing.T) {
	rc := newSink(t)
	rc.status.Store(500)
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	gs := &gatedStore{Store: st, read: make(chan *wal.Batch, 10)}
	g := newGate(t)
	gs.saving.Store(g)
	clk := clocktest.New(time.Now())
	attempts := make(chan *wal.Attempt, 100)
	eng := New(Options{Store: gs, Dispatcher: NewDispatcher(DispatcherOptions{Timeout: waitLimit}), Clock: clk,
		OnAttempt: func(_ *wal.Batch, a *wal.Attempt) { attempts <- a }})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.open(); eng.Close(context.Background()) })
	// publish makes a webhook of type typ delivering to url, one event a
	// batch, and publishes one event of that type.
	publish := func(url, typ string) *wal.Webhook {
		t.Helper()
		w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: url, IsActive: true, MaxBatchSize: 1,
			Events: []string{typ}, Secrets: []wal.Secret{{Value: GenerateSecret()}}}
		if err := st.CreateWebhook(w); err != nil {
			t.Fatal(err)
		}
		eng.WebhookChanged(w)
		if _, err := gs.Append("acme", []wal.EventInput{{Type: typ, Data: []byte(`1`)}}); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := publish(rc.srv.URL, "a")
	recv(t, rc.got, "the first attempt")
	recv(t, g.entered, "the first attempt's result to be stored") // held
	// Another webhook's traffic runs the engine's loop, which schedules the
	// retry (DefaultSchedule: 5 s, with jitter).
	other := newSink(t)
	publish(other.srv.URL, "b")
	recv(t, other.got, "the other webhook's event")
	select {
	case <-clk.ScheduledBy(clk.Now().Add(time.Minute)):
	case <-time.After(waitLimit):
		t.Fatal("no retry scheduled")
	}
	retryAt := clk.Now()
	clk.Advance(time.Minute)
	// Give a retry that does not wait the time to read the batch before
	// the first result is stored; one that waits is not told to anyone.
	// The bound only ends the wait for a read that should not come.
	select {
	case b := <-gs.read:
		t.Errorf("the retry read the batch (%d attempts, version %d) while the first result was still being stored",
			b.Attempts, b.Version)
	case <-time.After(200 * time.Millisecond):
	}
	g.open()
	ofW := func(what string) *wal.Attempt { // the other webhook's attempt is skipped
		for {
			if a := recv(t, attempts, what); a.WebhookID == w.ID {
				return a
			}
		}
	}
	first := ofW("the first attempt's record")
	recv(t, rc.got, "the retry")
	second := ofW("the retry's record")
	if first.ID == second.ID || second.ScheduledAt.Before(retryAt) {
		t.Errorf("the retry's record: id %s (first %s), scheduled at %v, want after %v",
			second.ID.Text("att_"), first.ID.Text("att_"), second.ScheduledAt, retryAt)
	}
	select {
	case body := <-rc.got:
		t.Errorf("a third request before the next retry is due: %s", body)
	default:
	}
	bs, _, err := gs.ListBatches("acme", w.ID, wal.ID{}, 10, nil)
	if err != nil || len(bs) != 1 {
		t.Fatalf("batches = %d, %v", len(bs), err)
	}
	if b := bs[0]; b.Attempts != 2 || b.Status != wal.BatchRetrying || b.Version != 3 {
		t.Errorf("stored batch: %d attempts, %s, version %d; want 2, retrying, 3", b.Attempts, b.Status, b.Version)
	}
}

// A replay asked for just as the batch's attempt completes must not undo
// that attempt's record on the batch.
func TestReplayRacesAttempt(t *testing.T) {
	release := make(chan struct{})
	rc := newSink(t, release)
	gs, eng, w, attempts := startGated(t, rc)
	t.Cleanup(func() { // before the engine's Close: no answer stays held
		select {
		case <-release:
		default:
			close(release)
		}
	})
	if _, err := gs.Append("acme", []wal.EventInput{{Type: "a", Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	recv(t, rc.got, "the first attempt's request") // in flight, held
	bs, _, err := gs.ListBatches("acme", w.ID, wal.ID{}, 10, nil)
	if err != nil || len(bs) != 1 {
		t.Fatalf("batches = %d, %v", len(bs), err)
	}
	batch := bs[0].ID

	g := newGate(t)
	gs.scheduled.Store(g)
	type replayed struct {
		id  wal.ID
		err error
	}
	rep := make(chan replayed, 1)
	go func() {
		id, err := eng.Replay("acme", w.ID, batch)
		rep <- replayed{id, err}
	}()
	recv(t, g.entered, "the replay to store its attempt") // it has read the batch
	close(release)
	// The race: the first attempt is recorded while the replay waits. An
	// implementation that makes one wait for the other is fine too: the
	// bound below only ends the wait for a step that will not come.
	var seen []*wal.Attempt
	select {
	case a := <-attempts:
		seen = append(seen, a)
	case <-time.After(2 * time.Second):
	}
	g.open()
	if r := recv(t, rep, "the replay"); r.err != nil || r.id.IsZero() {
		t.Fatalf("replay = %v, %v", r.id, r.err)
	}
	recv(t, rc.got, "the replay's request")
	for len(seen) < 2 {
		seen = append(seen, recv(t, attempts, "the attempts"))
	}
	for _, a := range seen {
		if a.Status != wal.AttemptSucceeded {
			t.Errorf("attempt = %+v", a)
		}
	}
	if seen[1].Trigger != wal.TriggerManual {
		t.Errorf("second attempt = %+v, want the replay", seen[1])
	}
	atts, _, err := gs.ListAttempts("acme", batch, wal.ID{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := len(atts)
	b, err := gs.GetBatch("acme", w.ID, batch)
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != wal.BatchDelivered || b.Attempts != n || n != 2 {
		t.Errorf("batch = %+v, with %d attempts listed", b, n)
	}
}
