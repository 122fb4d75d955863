package api

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"hookd/engine"
	"hookd/wal"
)

// httpStatus sends a bodyless request from any goroutine (ts.do may only
// be used from the test's) and returns the status, 0 on a transport error.
func httpStatus(method, u string) int {
	req, _ := http.NewRequest(method, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// gate holds a store call until released.
type gate struct{ entered, release chan struct{} }

func newGate() *gate { return &gate{entered: make(chan struct{}, 1), release: make(chan struct{})} }

func (g *gate) wait() {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
}

func waitGate(t *testing.T, g *gate, what string) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// gatedStore is the engine's store with calls that can be held, to put a
// race's steps in a chosen order.
type gatedStore struct {
	*wal.Store
	open      atomic.Pointer[gate] // holds OpenBatches
	scheduled atomic.Pointer[gate] // holds SaveBatch of a scheduled (replay) attempt
	drained   chan struct{}        // DropQueue found the queue empty
}

func (s *gatedStore) OpenBatches(webhook, prev wal.ID, drop []wal.ID, bs ...*wal.Batch) error {
	if g := s.open.Load(); g != nil {
		g.wait()
	}
	return s.Store.OpenBatches(webhook, prev, drop, bs...)
}

func (s *gatedStore) SaveBatch(b *wal.Batch, a *wal.Attempt) error {
	if g := s.scheduled.Load(); g != nil && a != nil && a.Status == wal.AttemptScheduled {
		g.wait()
	}
	return s.Store.SaveBatch(b, a)
}

func (s *gatedStore) DropQueue(webhook wal.ID, max int) (int, error) {
	n, err := s.Store.DropQueue(webhook, max)
	if n == 0 || err != nil {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
	return n, err
}

func newGatedServer(t *testing.T) (*deliveryServer, *gatedStore) {
	gs := &gatedStore{drained: make(chan struct{}, 1)}
	ts := newDeliveryServer(t, nil, func(o *engine.Options) {
		gs.Store = o.Store.(*wal.Store)
		o.Store = gs
		o.Dispatcher = engine.NewDispatcher(engine.DispatcherOptions{Timeout: waitFor})
	})
	return ts, gs
}

// A DELETE that lands while the engine is opening a batch for the webhook
// must leave no open batch behind.
func TestDeleteWhileOpening(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts, gs := newGatedServer(t)
	g := newGate()
	gs.open.Store(g)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url})
	ev := ts.publish(t, `{"type":"a","data":1}`)[0]
	waitGate(t, g, "the engine to open a batch") // it has read the queue and the webhook
	deleted := make(chan int, 1)
	go func() { deleted <- httpStatus("DELETE", ts.url+"/v1/webhooks/"+hook) }()
	// The race: the delete's cleanup is done before the open commits. An
	// implementation that makes one wait for the other is fine too: the
	// bound below only ends the wait for a step that will not come.
	select {
	case <-gs.drained:
	case <-time.After(2 * time.Second):
	}
	close(g.release)
	if code := <-deleted; code != 204 {
		t.Fatalf("delete = %d", code)
	}
	ts.quiesce(t)
	rcv.none(t, "after the delete")

	hid := mustID(t, "wh_", hook)
	bs, _, err := ts.store.ListBatches("default", hid, wal.ID{}, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Open() {
			t.Errorf("batch %s of the deleted webhook is %s, want cancelled", b.ID.Text("bat_"), b.Status)
		}
	}
	ts.store.EachOpenBatch(func(b *wal.Batch) error {
		t.Errorf("batch %s of the deleted webhook stays in the open index (%s)", b.ID.Text("bat_"), b.Status)
		return nil
	})
	_, e := ts.get(t, "/v1/events/"+ev)
	for _, d := range e["deliveries"].([]any) {
		if s := d.(map[string]any)["status"]; s == "pending" || s == "retrying" {
			t.Errorf("event delivery stays %v after the webhook was deleted", s)
		}
	}
}

// A replay asked for just as the batch's attempt completes must not undo
// that attempt's record on the batch.
func TestReplayRacesAttempt(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts, gs := newGatedServer(t)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url})
	rcv.hold.Store(true)
	ts.publish(t, `{"type":"a","data":1}`)
	rcv.next(t) // the first attempt is in flight
	batch := ts.batchIDs(t, hook, "")[0]

	g := newGate()
	gs.scheduled.Store(g)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	replayed := make(chan int, 1)
	go func() { replayed <- httpStatus("POST", ts.url+"/v1/webhooks/"+hook+"/batches/"+batch+"/attempts") }()
	waitGate(t, g, "the replay to store its attempt") // it has read the batch
	rcv.hold.Store(false)
	rcv.let()
	// The race: the first attempt is recorded while the replay waits. An
	// implementation that makes one wait for the other is fine too: the
	// bound below only ends the wait for a step that will not come.
	var seen []attemptSeen
	select {
	case a := <-ts.attempts:
		seen = append(seen, a)
	case <-time.After(2 * time.Second):
	}
	close(g.release)
	if code := <-replayed; code != 201 {
		t.Fatalf("replay = %d", code)
	}
	rcv.next(t)
	for len(seen) < 2 {
		seen = append(seen, ts.waitAttempt(t, "the attempts", nil))
	}
	for _, a := range seen {
		if a.status != wal.AttemptSucceeded {
			t.Errorf("attempt = %+v", a)
		}
	}
	if seen[1].trigger != wal.TriggerManual {
		t.Errorf("second attempt = %+v, want the replay", seen[1])
	}
	_, atts := ts.get(t, "/v1/webhooks/"+hook+"/batches/"+batch+"/attempts")
	n := len(atts["results"].([]any))
	_, b := ts.get(t, "/v1/webhooks/"+hook+"/batches/"+batch)
	if b["status"] != "delivered" || b["attempts"] != float64(n) || n != 2 {
		t.Errorf("batch = %v, with %d attempts listed", b, n)
	}
}
