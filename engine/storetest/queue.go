package storetest

import (
	"slices"
	"testing"

	"hookd/wal"
)

// An append queues an entry for each active webhook of its tenant whose
// filter matches, and tells the listener how many each got; inactive,
// non-matching, deleted, later and other tenants' webhooks get none.
func testFanOut(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	l := listen(t, s)
	all := hook(t, s, acme, true)
	star := hook(t, s, acme, true, "*")
	paid := hook(t, s, acme, true, "order.paid")
	ops := hook(t, s, acme, true, "hookd.webhook.disabled")
	off := hook(t, s, acme, false)
	gone := hook(t, s, acme, true)
	paused := hook(t, s, acme, true)
	other := hook(t, s, beta, true)
	if err := s.DeleteWebhook(acme, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateWebhook(acme, paused.ID, func(w *wal.Webhook) error { w.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, s, acme, ev("order.created", "", `1`), ev("order.paid", "", `2`), ev("hookd.webhook.disabled", "", `3`))
	late := hook(t, s, acme, true)
	e := res.IDs
	want := map[*wal.Webhook][]wal.ID{
		all: {e[0], e[1]}, star: {e[0], e[1]}, paid: {e[1]}, ops: {e[2]},
		off: nil, gone: nil, paused: nil, other: nil, late: nil,
	}
	names := map[*wal.Webhook]string{all: "all", star: "*", paid: "order.paid", ops: "hookd.* by name",
		off: "inactive", gone: "deleted", paused: "deactivated", other: "other tenant", late: "created after"}
	told := l.await(t, map[wal.ID]int{all.ID: 2, star.ID: 2, paid.ID: 1, ops.ID: 1})
	for w, ids := range want {
		if got := peek(t, s, w.ID); !slices.Equal(got, ids) {
			t.Errorf("%s webhook's queue = %s, want %s", names[w], show(got), show(ids))
		}
		if n, err := s.QueueDepth(w.ID); err != nil || n != len(ids) {
			t.Errorf("%s webhook's QueueDepth = %d, %v; want %d", names[w], n, err, len(ids))
		}
		if told[w.ID] != len(ids) {
			t.Errorf("OnQueued told %d for the %s webhook, want %d", told[w.ID], names[w], len(ids))
		}
	}
	// Reactivated, it takes events appended from then on.
	if _, err := s.UpdateWebhook(acme, paused.ID, func(w *wal.Webhook) error { w.IsActive = true; return nil }); err != nil {
		t.Fatal(err)
	}
	more := mustAppend(t, s, acme, ev("x", "", `4`))
	if got := peek(t, s, paused.ID); !slices.Equal(got, more.IDs) {
		t.Errorf("reactivated webhook's queue = %s, want %s", show(got), show(more.IDs))
	}
	l.await(t, map[wal.ID]int{paused.ID: 1, late.ID: 1})
}

// PeekQueue pages a queue in ID order without consuming it, each entry
// with the cursor it leaves; OpenBatches without batches consumes
// entries (a deleted webhook's queue).
func testQueue(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	var e []wal.ID
	for i := 0; i < 3; i++ { // several appends: several records, one queue
		e = append(e, mustAppend(t, s, acme, ev("t", "", `1`), ev("t", "", `2`)).IDs...)
	}
	q := peekQ(t, s, w.ID)
	if !slices.Equal(eventsOf(q), e) {
		t.Fatalf("PeekQueue = %s, want %s", show(eventsOf(q)), show(e))
	}
	for i := range q {
		for j := range i {
			if q[i].At == q[j].At || q[i].At.IsZero() {
				t.Fatalf("entries %d and %d share a cursor (or one is zero)", j, i)
			}
		}
	}
	for _, c := range []struct {
		name  string
		after wal.Cursor
		max   int
		want  []wal.ID
	}{
		{"all", wal.Cursor{}, 100, e},
		{"first 3", wal.Cursor{}, 3, e[:3]},
		{"after e1", q[1].At, 2, e[2:4]},
		{"after the last", q[5].At, 10, nil},
		{"max 0", wal.Cursor{}, 0, nil},
	} {
		got, err := s.PeekQueue(w.ID, c.after, c.max)
		if err != nil || !slices.Equal(eventsOf(got), c.want) {
			t.Errorf("PeekQueue %s = %s, %v; want %s", c.name, show(eventsOf(got)), err, show(c.want))
		}
		for i, x := range got {
			if k := slices.Index(e, x.Event); x.At != q[k].At {
				t.Errorf("PeekQueue %s: entry %d's cursor differs from the full read's", c.name, i)
			}
		}
	}
	got, _ := s.PeekQueue(w.ID, wal.Cursor{}, 100)
	got[0] = wal.Queued{}
	if again := peek(t, s, w.ID); !slices.Equal(again, e) {
		t.Errorf("PeekQueue changed by the caller or by peeking: %s", show(again))
	}
	if cur, err := s.Cursor(w.ID); err != nil || !cur.IsZero() {
		t.Errorf("Cursor of a queue nothing consumed = %v, %v; want zero", cur, err)
	}
	f := fence(t, s, w)
	if err := s.OpenBatches(f, w.ID, wal.Cursor{}, q[3].At); err != nil {
		t.Fatalf("OpenBatches consuming 4 without a batch: %v", err)
	}
	if got := peek(t, s, w.ID); !slices.Equal(got, e[4:]) {
		t.Errorf("queue after consuming 4 = %s, want %s", show(got), show(e[4:]))
	}
	if got, _ := s.PeekQueue(w.ID, q[1].At, 10); !slices.Equal(eventsOf(got), e[4:]) {
		t.Errorf("PeekQueue after a consumed entry = %s, want only what is left %s", show(eventsOf(got)), show(e[4:]))
	}
	if cur, err := s.Cursor(w.ID); err != nil || cur != q[3].At {
		t.Errorf("Cursor after consuming 4 = %v, %v; want the 4th entry's", cur, err)
	}
	if err := s.OpenBatches(f, w.ID, q[3].At, q[5].At); err != nil {
		t.Errorf("OpenBatches consuming the last 2: %v", err)
	}
	if err := s.OpenBatches(f, w.ID, q[5].At, q[5].At); err != nil {
		t.Errorf("OpenBatches consuming nothing: %v", err)
	}
	if n, err := s.QueueDepth(w.ID); err != nil || n != 0 {
		t.Errorf("QueueDepth after consuming all = %d, %v", n, err)
	}
}

// OpenBatches writes batches and moves the cursor in one write: both are
// visible on return, the entries it consumed (batched or not) are gone
// from the queue, an open read after a cursor other than the stored one
// (the zero cursor included) is refused with ErrConflict and nothing
// written, new batches are stored at version 1, and the caller may change
// its batches afterwards.
func testOpenBatches(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	bystander := hook(t, s, acme, true)
	e := mustAppend(t, s, acme, ev("t", "", `0`), ev("t", "", `1`), ev("t", "", `2`), ev("t", "", `3`), ev("t", "", `4`), ev("t", "", `5`)).IDs
	q := peekQ(t, s, w.ID)
	f := fence(t, s, w)

	// A read after e0, which no commit consumed: a conflict, nothing written.
	stale := batch(s, w, e[1])
	wantErr(t, "OpenBatches after a cursor never committed", s.OpenBatches(f, w.ID, q[0].At, q[1].At, stale), wal.ErrConflict)
	_, err := s.GetBatch(acme, w.ID, stale.ID)
	wantErr(t, "GetBatch of a refused open's batch", err, wal.ErrNotFound)
	if got := peek(t, s, w.ID); !slices.Equal(got, e) {
		t.Fatalf("queue after a refused open = %s, want all of it", show(got))
	}

	// e0 gone (consumed without a batch), e1+e2 and e3 in two batches.
	b1, b2 := batch(s, w, e[1], e[2]), batch(s, w, e[3])
	want1, want2 := *b1, *b2
	want1.Events, want2.Events = slices.Clone(b1.Events), slices.Clone(b2.Events)
	want1.Version, want2.Version = 1, 1
	if err := s.OpenBatches(f, w.ID, wal.Cursor{}, q[3].At, b1, b2); err != nil {
		t.Fatal(err)
	}
	if b1.Version != 1 || b2.Version != 1 {
		t.Errorf("opened batches' versions = %d, %d; want 1", b1.Version, b2.Version)
	}
	b1.Status, b1.Events[0].ID, b2.Attempts = wal.BatchDelivered, wal.ID{}, 9 // the caller's now
	for _, b := range []*wal.Batch{&want1, &want2} {
		if got, err := s.GetBatch(acme, w.ID, b.ID); err != nil || !sameBatch(got, b) {
			t.Errorf("GetBatch after OpenBatches = %+v, %v; want %+v", got, err, b)
		}
	}
	if got := peek(t, s, w.ID); !slices.Equal(got, e[4:]) {
		t.Errorf("queue after the open = %s, want %s", show(got), show(e[4:]))
	}
	if got := peek(t, s, bystander.ID); !slices.Equal(got, e) {
		t.Errorf("another webhook's queue after the open = %s, want all of it", show(got))
	}
	if got := openAll(t, s); !slices.Equal(got, sorted(b1.ID, b2.ID)) {
		t.Errorf("EachOpenBatch = %s, want the two opened", show(got))
	}
	wantErr(t, "OpenBatches after e2 (the cursor is e3)", s.OpenBatches(f, w.ID, q[2].At, q[4].At, batch(s, w, e[4])), wal.ErrConflict)
	wantErr(t, "OpenBatches from the zero cursor (the cursor is e3)", s.OpenBatches(f, w.ID, wal.Cursor{}, q[4].At, batch(s, w, e[4])), wal.ErrConflict)
	if cur, err := s.Cursor(w.ID); err != nil || cur != q[3].At {
		t.Errorf("Cursor after the open = %v, %v; want e3's", cur, err)
	}
	b3 := batch(s, w, e[4])
	if err := s.OpenBatches(f, w.ID, q[3].At, q[4].At, b3); err != nil {
		t.Fatalf("OpenBatches after the cursor e3: %v", err)
	}
	// Consuming without a batch moves the cursor too.
	if err := s.OpenBatches(f, w.ID, q[4].At, q[5].At); err != nil {
		t.Fatalf("OpenBatches without batches: %v", err)
	}
	if got := peek(t, s, w.ID); len(got) != 0 {
		t.Errorf("queue left %s", show(got))
	}
	if n, err := s.QueueDepth(w.ID); err != nil || n != 0 {
		t.Errorf("QueueDepth = %d, %v; want 0", n, err)
	}
}

// OpenBatchesLazy is OpenBatches that does not wait for the disk: the
// same checks (a cursor other than the stored one is a conflict, fences,
// new batches at version 1), visible on return, and kept across Close.
func testOpenBatchesLazy(t *testing.T, su *suite) {
	s, dir := su.open(t, "")
	w := hook(t, s, acme, true)
	e := mustAppend(t, s, acme, ev("t", "", `0`), ev("t", "", `1`), ev("t", "", `2`)).IDs
	q := peekQ(t, s, w.ID)
	f := fence(t, s, w)
	wantErr(t, "OpenBatchesLazy after a cursor never committed", s.OpenBatchesLazy(f, w.ID, q[0].At, q[1].At, batch(s, w, e[1])), wal.ErrConflict)
	wantErr(t, "OpenBatchesLazy with a lost claim's fence", s.OpenBatchesLazy(staleFence{}, w.ID, wal.Cursor{}, q[0].At, batch(s, w, e[0])), wal.ErrFenced)
	b0, b1 := batch(s, w, e[0]), batch(s, w, e[1])
	if err := s.OpenBatchesLazy(f, w.ID, wal.Cursor{}, q[1].At, b0, b1); err != nil {
		t.Fatal(err)
	}
	if b0.Version != 1 || b1.Version != 1 {
		t.Errorf("lazily opened batches' versions = %d, %d; want 1", b0.Version, b1.Version)
	}
	check := func(s Store, when string) {
		t.Helper()
		for _, b := range []*wal.Batch{b0, b1} {
			if got, err := s.GetBatch(acme, w.ID, b.ID); err != nil || !sameBatch(got, b) {
				t.Errorf("%s: GetBatch of a lazily opened batch = %+v, %v", when, got, err)
			}
		}
		if got := peek(t, s, w.ID); !slices.Equal(got, e[2:]) {
			t.Errorf("%s: queue = %s, want %s", when, show(got), show(e[2:]))
		}
		if cur, err := s.Cursor(w.ID); err != nil || cur != q[1].At {
			t.Errorf("%s: Cursor = %v, %v; want e1's", when, cur, err)
		}
	}
	check(s, "on return")
	check(su.reopen(t, s, dir), "after Close and reopen")
}
