package storetest

import (
	"slices"
	"testing"
	"time"

	"hookd/wal"
)

// openOne appends n events for w and opens them as one batch.
func openOne(t *testing.T, s Store, w *wal.Webhook, n int) *wal.Batch {
	t.Helper()
	in := make([]wal.EventInput, n)
	for i := range in {
		in[i] = ev("t", "", `1`)
	}
	res := mustAppend(t, s, w.Tenant, in...)
	b := batch(s, w, res.IDs...)
	from, err := s.Cursor(w.ID)
	if err != nil {
		t.Fatalf("Cursor: %v", err)
	}
	q := peekQ(t, s, w.ID)
	if len(q) == 0 || q[len(q)-1].Event != res.IDs[n-1] {
		t.Fatalf("queue of %s = %s, want it to end with the %d appended", w.ID.Text("wh_"), show(eventsOf(q)), n)
	}
	if err := s.OpenBatches(fence(t, s, w), w.ID, from, q[len(q)-1].At, b); err != nil {
		t.Fatalf("OpenBatches: %v", err)
	}
	return b
}

// SaveBatch writes the state and the attempt together; a batch leaves
// the open ones when it ends and comes back when reopened (a replay);
// the caller's arguments and results are its own.
func testSaveBatch(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	b := openOne(t, s, w, 2)
	a := attempt(s, b, wal.AttemptFailed, 503)
	b.Status, b.Attempts, b.LastStatus, b.LastCode = wal.BatchRetrying, 1, wal.AttemptFailed, 503
	b.NextAttemptAt = time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)
	f := fence(t, s, w)
	if err := s.SaveBatch(f, b, a); err != nil {
		t.Fatal(err)
	}
	wantB, wantA := *b, *a
	wantB.Events, wantA.RequestHeaders = slices.Clone(b.Events), map[string]string{"webhook-id": "msg"}
	b.Status, b.Events[0].Type, a.RequestHeaders["webhook-id"] = "changed", "changed", "changed"
	got, err := s.GetBatch(acme, w.ID, b.ID)
	if err != nil || !sameBatch(got, &wantB) {
		t.Fatalf("GetBatch after SaveBatch = %+v, %v; want %+v", got, err, &wantB)
	}
	got.Events[0].Type = "changed"
	if again, _ := s.GetBatch(acme, w.ID, b.ID); !sameBatch(again, &wantB) {
		t.Error("changing what GetBatch gave changed the store's")
	}
	if ga, err := s.GetAttempt(acme, b.ID, a.ID); err != nil || !sameAttempt(ga, &wantA) {
		t.Errorf("GetAttempt = %+v, %v; want %+v", ga, err, &wantA)
	}
	if got := openAll(t, s); !slices.Equal(got, []wal.ID{b.ID}) {
		t.Errorf("EachOpenBatch with a retrying batch = %s", show(got))
	}

	done := wantB
	done.Status, done.Attempts, done.DeliveredAt = wal.BatchDelivered, 2, time.Date(2026, 1, 2, 3, 5, 1, 0, time.UTC)
	if err := s.SaveBatch(f, &done, attempt(s, &done, wal.AttemptSucceeded, 200)); err != nil {
		t.Fatal(err)
	}
	if got := openAll(t, s); len(got) != 0 {
		t.Errorf("EachOpenBatch after delivery = %s, want none", show(got))
	}
	replay := done
	replay.Status, replay.MaxAttempts = wal.BatchRetrying, done.Attempts+1
	if err := s.SaveBatch(f, &replay, nil); err != nil {
		t.Fatal(err)
	}
	if got := openAll(t, s); !slices.Equal(got, []wal.ID{b.ID}) {
		t.Errorf("EachOpenBatch after a replay = %s, want the batch again", show(got))
	}
	if atts, _, err := s.ListAttempts(acme, b.ID, wal.ID{}, 10); err != nil || len(atts) != 2 {
		t.Errorf("ListAttempts = %d, %v; want 2 (a SaveBatch without an attempt adds none)", len(atts), err)
	}
	stop := errStop{}
	if err := s.EachOpenBatch(s.PartOf(acme, w.ID), func(*wal.Batch) error { return stop }); err != stop {
		t.Errorf("EachOpenBatch with fn failing = %v, want fn's error", err)
	}
}

type errStop struct{}

func (errStop) Error() string { return "stop" }

// SaveResult is visible on return, stores health only when given, and
// survives a Close; health goes with a webhook's deletion and its
// reactivation.
func testSaveResult(t *testing.T, su *suite) {
	s, dir := su.open(t, "")
	w := hook(t, s, acme, true)
	if _, ok, err := s.Health(w.ID); ok || err != nil {
		t.Fatalf("Health of a new webhook = %v, %v; want none", ok, err)
	}
	b := openOne(t, s, w, 1)
	h := wal.HookHealth{Failures: 1, FailingSince: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), LastFailure: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b.Status, b.Attempts = wal.BatchRetrying, 1
	a1 := attempt(s, b, wal.AttemptFailed, 500)
	hh := h
	f := fence(t, s, w)
	if err := s.SaveResult(f, b, a1, &hh); err != nil {
		t.Fatal(err)
	}
	hh.Failures = 99 // the caller's
	if got, ok, err := s.Health(w.ID); !ok || err != nil || !same(got, h) {
		t.Errorf("Health after SaveResult = %+v, %v, %v; want %+v", got, ok, err, h)
	}
	if got, err := s.GetBatch(acme, w.ID, b.ID); err != nil || got.Status != wal.BatchRetrying {
		t.Errorf("GetBatch after SaveResult = %+v, %v", got, err)
	}
	b.Status, b.Attempts = wal.BatchDelivered, 2
	a2 := attempt(s, b, wal.AttemptSucceeded, 200)
	if err := s.SaveResult(f, b, a2, nil); err != nil { // no health: the stored one stays
		t.Fatal(err)
	}
	if got, ok, _ := s.Health(w.ID); !ok || !same(got, h) {
		t.Errorf("Health after a SaveResult without health = %+v, %v; want it unchanged", got, ok)
	}

	// Lazy, but durable at Close.
	s = su.reopen(t, s, dir)
	if got, err := s.GetBatch(acme, w.ID, b.ID); err != nil || got.Status != wal.BatchDelivered {
		t.Errorf("batch after reopen = %+v, %v", got, err)
	}
	if atts, _, err := s.ListAttempts(acme, b.ID, wal.ID{}, 10); err != nil || len(atts) != 2 || !sameAttempt(atts[1], a2) {
		t.Errorf("attempts after reopen = %+v, %v", atts, err)
	}
	if got, ok, _ := s.Health(w.ID); !ok || !same(got, h) {
		t.Errorf("Health after reopen = %+v, %v", got, ok)
	}

	// Reactivation and deletion forget the health.
	if _, err := s.UpdateWebhook(acme, w.ID, func(x *wal.Webhook) error { x.IsActive = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Health(w.ID); !ok {
		t.Error("deactivating a webhook forgot its health")
	}
	if _, err := s.UpdateWebhook(acme, w.ID, func(x *wal.Webhook) error { x.IsActive = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Health(w.ID); ok {
		t.Error("a reactivated webhook kept its health")
	}
	w2 := hook(t, s, acme, true)
	b2 := openOne(t, s, w2, 1)
	if err := s.SaveResult(fence(t, s, w2), b2, nil, &h); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(acme, w2.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Health(w2.ID); ok {
		t.Error("a deleted webhook kept its health")
	}
	if _, err := s.GetBatch(acme, w2.ID, b2.ID); err != nil {
		t.Errorf("a deleted webhook's batch = %v, want it kept", err)
	}
}

// ListBatches: newest first, paged by the last one seen, filtered by
// keep (more says a page was cut), nothing for another tenant.
func testListBatches(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	other := hook(t, s, acme, true)
	var bs []*wal.Batch // oldest first
	for i := 0; i < 7; i++ {
		b := openOne(t, s, w, 1)
		if i%2 == 1 {
			b.Status, b.Attempts = wal.BatchDelivered, 1
			if err := s.SaveBatch(fence(t, s, w), b, nil); err != nil {
				t.Fatal(err)
			}
		}
		bs = append(bs, b)
	}
	openOne(t, s, other, 1)
	ids := func(l []*wal.Batch) []wal.ID {
		var out []wal.ID
		for _, b := range l {
			out = append(out, b.ID)
		}
		return out
	}
	rev := func(idx ...int) []wal.ID {
		var out []wal.ID
		for _, i := range idx {
			out = append(out, bs[i].ID)
		}
		return out
	}
	delivered := func(b *wal.Batch) bool { return b.Status == wal.BatchDelivered }
	for _, c := range []struct {
		name     string
		after    wal.ID
		limit    int
		keep     func(*wal.Batch) bool
		want     []wal.ID
		wantMore bool
	}{
		{"all", wal.ID{}, 10, nil, rev(6, 5, 4, 3, 2, 1, 0), false},
		{"page 1", wal.ID{}, 3, nil, rev(6, 5, 4), true},
		{"page 2", bs[4].ID, 3, nil, rev(3, 2, 1), true},
		{"last page", bs[1].ID, 3, nil, rev(0), false},
		{"delivered", wal.ID{}, 10, delivered, rev(5, 3, 1), false},
		{"delivered, page 1", wal.ID{}, 2, delivered, rev(5, 3), true},
		{"delivered, after 3", bs[3].ID, 2, delivered, rev(1), false},
	} {
		got, more, err := s.ListBatches(acme, w.ID, c.after, c.limit, c.keep)
		if err != nil || !slices.Equal(ids(got), c.want) || more != c.wantMore {
			t.Errorf("ListBatches %s = %s more %v, %v; want %s more %v", c.name, show(ids(got)), more, err, show(c.want), c.wantMore)
		}
	}
	got, _, _ := s.ListBatches(acme, w.ID, wal.ID{}, 1, nil)
	if !sameBatch(got[0], bs[6]) {
		t.Errorf("listed batch = %+v, want %+v", got[0], bs[6])
	}
	got[0].Status = "changed"
	if again, _ := s.GetBatch(acme, w.ID, bs[6].ID); again.Status != bs[6].Status {
		t.Error("changing a listed batch changed the store's")
	}
	if l, more, err := s.ListBatches(beta, w.ID, wal.ID{}, 10, nil); err != nil || more || len(l) != 0 {
		t.Errorf("another tenant lists %d batches, %v, %v", len(l), more, err)
	}
	_, err := s.GetBatch(beta, w.ID, bs[0].ID)
	wantErr(t, "GetBatch of another tenant's batch", err, wal.ErrNotFound)
	_, err = s.GetBatch(acme, other.ID, bs[0].ID)
	wantErr(t, "GetBatch under another webhook", err, wal.ErrNotFound)
	_, err = s.GetBatch(acme, w.ID, s.NewID())
	wantErr(t, "GetBatch of an unknown ID", err, wal.ErrNotFound)
}

// Attempts: oldest first, paged, each tenant its own.
func testAttempts(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	b := openOne(t, s, w, 1)
	var as []*wal.Attempt
	for i := 0; i < 5; i++ {
		a := attempt(s, b, wal.AttemptFailed, 500+i)
		b.Attempts = i + 1
		if err := s.SaveResult(fence(t, s, w), b, a, nil); err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	page, more, err := s.ListAttempts(acme, b.ID, wal.ID{}, 3)
	if err != nil || !more || len(page) != 3 || !sameAttempt(page[0], as[0]) || !sameAttempt(page[2], as[2]) {
		t.Fatalf("ListAttempts page 1 = %d more %v, %v", len(page), more, err)
	}
	page[0].ResponseCode = 1
	page, more, err = s.ListAttempts(acme, b.ID, page[2].ID, 3)
	if err != nil || more || len(page) != 2 || !sameAttempt(page[0], as[3]) || !sameAttempt(page[1], as[4]) {
		t.Fatalf("ListAttempts page 2 = %d more %v, %v", len(page), more, err)
	}
	if a, err := s.GetAttempt(acme, b.ID, as[0].ID); err != nil || !sameAttempt(a, as[0]) {
		t.Errorf("GetAttempt after changing a listed one = %+v, %v", a, err)
	}
	_, err = s.GetAttempt(beta, b.ID, as[0].ID)
	wantErr(t, "GetAttempt of another tenant's attempt", err, wal.ErrNotFound)
	_, err = s.GetAttempt(acme, s.NewID(), as[0].ID)
	wantErr(t, "GetAttempt under another batch", err, wal.ErrNotFound)
	if l, more, err := s.ListAttempts(beta, b.ID, wal.ID{}, 10); err != nil || more || len(l) != 0 {
		t.Errorf("another tenant lists %d attempts, %v, %v", len(l), more, err)
	}
}

// EventDeliveries: a batch per webhook that took the event (its status),
// "queued" for a queue that holds it, nothing for another tenant.
func testEventDeliveries(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	all, paid := hook(t, s, acme, true), hook(t, s, acme, true, "paid")
	e := mustAppend(t, s, acme, ev("paid", "", `0`), ev("new", "", `1`), ev("paid", "", `2`), ev("new", "", `3`), ev("paid", "", `4`)).IDs
	bp := batch(s, paid, e[0], e[2])
	ba1, ba2 := batch(s, all, e[1], e[2]), batch(s, all, e[3])
	qp, qa := peekQ(t, s, paid.ID), peekQ(t, s, all.ID) // e0 e2 e4; e0..e4
	f := fence(t, s, all)
	if err := s.OpenBatches(fence(t, s, paid), paid.ID, wal.Cursor{}, qp[1].At, bp); err != nil {
		t.Fatal(err)
	}
	if err := s.OpenBatches(f, all.ID, wal.Cursor{}, qa[3].At, ba1, ba2); err != nil { // e0 consumed without a batch
		t.Fatal(err)
	}
	ba2.Status = wal.BatchDelivered
	if err := s.SaveBatch(f, ba2, nil); err != nil {
		t.Fatal(err)
	}
	want := [][]wal.Delivery{
		{{WebhookID: paid.ID, BatchID: bp.ID, Status: wal.BatchPending}},
		{{WebhookID: all.ID, BatchID: ba1.ID, Status: wal.BatchPending}},
		{{WebhookID: paid.ID, BatchID: bp.ID, Status: wal.BatchPending}, {WebhookID: all.ID, BatchID: ba1.ID, Status: wal.BatchPending}},
		{{WebhookID: all.ID, BatchID: ba2.ID, Status: wal.BatchDelivered}},
		{{WebhookID: paid.ID, Status: "queued"}, {WebhookID: all.ID, Status: "queued"}},
	}
	for i, w := range want {
		got, err := s.EventDeliveries(acme, e[i])
		if err != nil {
			t.Fatal(err)
		}
		by := func(a, b wal.Delivery) int { return cmpID(a.WebhookID, b.WebhookID) }
		slices.SortFunc(got, by)
		slices.SortFunc(w, by)
		if !slices.Equal(got, w) {
			t.Errorf("EventDeliveries(e%d) = %+v, want %+v", i, got, w)
		}
	}
	if got, err := s.EventDeliveries(beta, e[2]); err != nil || len(got) != 0 {
		t.Errorf("another tenant sees %+v, %v", got, err)
	}
}
