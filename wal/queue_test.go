package wal

import (
	"errors"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// The queue is consumed by a persisted cursor, and each batch is found from
// any of its events through one d/ entry: both survive a reopen.
func TestQueueCursorAndEventDeliveries(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	mk := func(events ...string) ID {
		w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "http://x", IsActive: true, Events: events, MaxBatchSize: 2}
		if err := s.CreateWebhook(w); err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	all, paid := mk(), mk("paid")
	res, err := s.Append("acme", []EventInput{ev("paid", "", `1`), ev("new", "", `2`), ev("paid", "", `3`), ev("new", "", `4`), ev("paid", "", `5`)})
	if err != nil {
		t.Fatal(err)
	}
	e := res.IDs
	peek := func(s *Store, wh ID) []ID {
		t.Helper()
		q, err := s.PeekQueue(wh, Cursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		return eventsOf(q)
	}
	if got := peek(s, paid); !slices.Equal(got, []ID{e[0], e[2], e[4]}) {
		t.Fatalf("paid queue = %v", got)
	}
	batch := func(wh ID, ids ...ID) *Batch {
		b := &Batch{ID: s.NewID(), WebhookID: wh, Tenant: "acme", Status: BatchPending}
		for _, id := range ids {
			b.Events = append(b.Events, BatchEvent{ID: id, Type: "t"})
		}
		return b
	}
	// paid: e0 and e2 in one batch (e1, in its range, is not for paid).
	// all: e0 dropped (gone), e1+e2 and e3 in two batches; e4 stays queued.
	bp := batch(paid, e[0], e[2])
	ba1, ba2 := batch(all, e[1], e[2]), batch(all, e[3])
	if err := s.OpenBatches(fence(s), paid, Cursor{}, at(e[2]), bp); err != nil {
		t.Fatal(err)
	}
	if err := s.OpenBatches(fence(s), all, Cursor{}, at(e[3]), ba1, ba2); err != nil {
		t.Fatal(err)
	}
	ba2.Status = BatchDelivered
	if err := s.SaveBatch(fence(s), ba2, nil); err != nil {
		t.Fatal(err)
	}

	check := func(s *Store) {
		t.Helper()
		if got := peek(s, paid); !slices.Equal(got, []ID{e[4]}) {
			t.Errorf("paid queue = %v, want [e4]", got)
		}
		if got := peek(s, all); !slices.Equal(got, []ID{e[4]}) {
			t.Errorf("all queue = %v, want [e4]", got)
		}
		if n, err := s.QueueDepth(all); n != 1 || err != nil {
			t.Errorf("all depth = %d %v, want 1", n, err)
		}
		want := map[int][]Delivery{
			0: {{WebhookID: paid, BatchID: bp.ID, Status: BatchPending}},
			1: {{WebhookID: all, BatchID: ba1.ID, Status: BatchPending}},
			2: {{WebhookID: paid, BatchID: bp.ID, Status: BatchPending}, {WebhookID: all, BatchID: ba1.ID, Status: BatchPending}},
			3: {{WebhookID: all, BatchID: ba2.ID, Status: BatchDelivered}},
			4: {{WebhookID: paid, Status: "queued"}, {WebhookID: all, Status: "queued"}},
		}
		for i, w := range want {
			got, err := s.EventDeliveries("acme", e[i])
			if err != nil {
				t.Fatal(err)
			}
			byHook := func(a, b Delivery) int { return compareID(a.WebhookID, b.WebhookID) }
			slices.SortFunc(got, byHook)
			slices.SortFunc(w, byHook)
			if !slices.Equal(got, w) {
				t.Errorf("deliveries of e%d = %+v, want %+v", i, got, w)
			}
		}
		if got, _ := s.EventDeliveries("beta", e[2]); len(got) != 0 {
			t.Errorf("another tenant sees %+v", got)
		}
	}
	check(s)
	// ba2 carries one event: its d/ entry holds the batch alone. One
	// written before that, batch then first event, reads the same.
	err = s.db.Update(func(txn *badger.Txn) error {
		k := deliveryKey("acme", all, e[3])
		if item, err := txn.Get(k); err != nil {
			return err
		} else if n := item.ValueSize(); n != 16 {
			t.Errorf("single-event d/ entry holds %d bytes", n)
		}
		return txn.Set(k, append(append([]byte(nil), ba2.ID[:]...), e[3][:]...))
	})
	if err != nil {
		t.Fatal(err)
	}
	check(s)
	s.Close()
	check(openTest(t, dir))
}

// An open read after entries that an earlier open held, when that open
// never committed, is refused (ErrConflict) and consumes nothing; read
// again from the cursor, it commits. Opens given in order commit in order.
func TestOpenBatchesStale(t *testing.T) {
	s := openTest(t, t.TempDir())
	w := createHook(t, s, 1)
	res, err := s.Append("acme", []EventInput{ev("t", "", `1`), ev("t", "", `2`), ev("t", "", `3`)})
	if err != nil {
		t.Fatal(err)
	}
	e := res.IDs
	batch := func(id ID) *Batch {
		return &Batch{ID: s.NewID(), WebhookID: w.ID, Tenant: "acme", Status: BatchPending, Events: []BatchEvent{{ID: id, Type: "t"}}}
	}
	// The open of e0 failed (never submitted); the one read after it must not commit.
	if err := s.OpenBatches(fence(s), w.ID, at(e[0]), at(e[1]), batch(e[1])); !errors.Is(err, ErrConflict) {
		t.Fatalf("open after an uncommitted e0 = %v, want ErrConflict", err)
	}
	if q, _ := s.PeekQueue(w.ID, Cursor{}, 10); !slices.Equal(eventsOf(q), e) {
		t.Fatalf("queue after a stale open = %v, want all three", eventsOf(q))
	}
	// Read again from the cursor: e0, then e1 after it, then e2 after e1.
	for i, prev := range []Cursor{{}, at(e[0]), at(e[1])} {
		if err := s.OpenBatches(fence(s), w.ID, prev, at(e[i]), batch(e[i])); err != nil {
			t.Fatalf("open of e%d after %v: %v", i, prev, err)
		}
	}
	if q, _ := s.PeekQueue(w.ID, Cursor{}, 10); len(q) != 0 {
		t.Fatalf("queue left %v", q)
	}
}
