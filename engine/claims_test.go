package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"hookd/wal"
)

// leasedStore is the Badger store handing out its partition under a
// lease the test takes back, as a clustered store would: the claim's
// fence turns invalid, Lost closes, and fenced writes are refused.
type leasedStore struct {
	*wal.Store
	lost    chan struct{}
	revoked atomic.Bool
	stopped chan struct{} // the engine stopped listening to the fan-out
	refused chan string   // fenced writes the lease refused
}

type lease struct {
	s     *leasedStore
	inner wal.Fence // Badger's own
}

func (l lease) Valid() bool { return !l.s.revoked.Load() }

func (s *leasedStore) Claims(ctx context.Context) <-chan wal.Claim {
	c := <-s.Store.Claims(ctx)
	ch := make(chan wal.Claim, 1)
	ch <- wal.Claim{Part: c.Part, Fence: lease{s, c.Fence}, Lost: s.lost}
	return ch
}

func (s *leasedStore) OnQueued(p wal.Part, fn func(map[wal.ID]int)) func() {
	stop := s.Store.OnQueued(p, fn)
	return func() {
		stop()
		close(s.stopped)
	}
}

func (s *leasedStore) inner(f wal.Fence, what string) (wal.Fence, error) {
	if l, ok := f.(lease); ok && l.Valid() {
		return l.inner, nil
	}
	select {
	case s.refused <- what:
	default:
	}
	return nil, wal.ErrFenced
}

func (s *leasedStore) OpenBatches(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error {
	in, err := s.inner(f, "OpenBatches")
	if err != nil {
		return err
	}
	return s.Store.OpenBatches(in, webhook, from, to, bs...)
}

func (s *leasedStore) OpenBatchesLazy(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error {
	in, err := s.inner(f, "OpenBatchesLazy")
	if err != nil {
		return err
	}
	return s.Store.OpenBatchesLazy(in, webhook, from, to, bs...)
}

func (s *leasedStore) SaveBatch(f wal.Fence, b *wal.Batch, a *wal.Attempt) error {
	in, err := s.inner(f, "SaveBatch")
	if err != nil {
		return err
	}
	return s.Store.SaveBatch(in, b, a)
}

func (s *leasedStore) SaveResult(f wal.Fence, b *wal.Batch, a *wal.Attempt, h *wal.HookHealth) error {
	in, err := s.inner(f, "SaveResult")
	if err != nil {
		return err
	}
	return s.Store.SaveResult(in, b, a, h)
}

// A partition whose claim is lost leaves the engine: an attempt in flight
// does not store its result (the batch stays open, as opened, for the
// partition's next holder; a write would carry the lost fence), the partition's webhooks leave the
// schedule, its fan-out is no longer listened to, and changes and manual
// operations of its webhooks are not this engine's any more.
func TestLostClaimReleasesPartition(t *testing.T) {
	release := make(chan struct{})
	rc := newSink(t, release)
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ls := &leasedStore{Store: st, lost: make(chan struct{}), stopped: make(chan struct{}), refused: make(chan string, 10)}
	attempts := make(chan *wal.Attempt, 10)
	eng := New(Options{Store: ls, Dispatcher: NewDispatcher(DispatcherOptions{Timeout: waitLimit}),
		OnAttempt: func(_ *wal.Batch, a *wal.Attempt) { attempts <- a }})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		quiesce(t, eng)
	})
	w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", URL: rc.srv.URL, IsActive: true, MaxBatchSize: 1,
		Secrets: []wal.Secret{{Value: GenerateSecret()}}}
	if err := st.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	eng.WebhookChanged(w)
	if h := eng.Health(w.ID); h.Status == "disabled" {
		t.Fatalf("webhook of a held partition: health %q", h.Status)
	}
	if _, err := st.Append("acme", []wal.EventInput{{Type: "a", Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	recv(t, rc.got, "the attempt's request") // in flight, its answer held

	ls.revoked.Store(true)
	close(ls.lost)
	recv(t, ls.stopped, "the engine to stop listening to the lost partition")
	if h := eng.Health(w.ID); h.Status != "disabled" {
		t.Errorf("health of a released webhook = %q, want it unknown here (disabled)", h.Status)
	}
	eng.WebhookChanged(w) // not this engine's partition: ignored
	if h := eng.Health(w.ID); h.Status != "disabled" {
		t.Errorf("a change of a released webhook put it back (health %q)", h.Status)
	}
	bs, _, err := st.ListBatches("acme", w.ID, wal.ID{}, 10, nil)
	if err != nil || len(bs) != 1 {
		t.Fatalf("batches = %+v, %v", bs, err)
	}
	if _, err := eng.Replay("acme", w.ID, bs[0].ID); !errors.Is(err, wal.ErrFenced) {
		t.Errorf("Replay of a released partition's batch = %v, want ErrFenced", err)
	}
	close(release)  // the attempt's answer comes after the loss
	quiesce(t, eng) // Close waits for the attempt
	if b, err := st.GetBatch("acme", w.ID, bs[0].ID); err != nil || b.Status != wal.BatchPending || b.Attempts != 0 || b.Version != 1 {
		t.Errorf("batch after the lost claim = %+v, %v; want it open as opened, for the next holder", b, err)
	}
	select {
	case a := <-attempts:
		t.Errorf("an attempt was stored after the claim was lost: %+v", a)
	default:
	}
}
