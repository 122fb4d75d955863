package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"hookd/wal"
)

// Restart: Close, then open on the same state, keeps everything that was
// acknowledged: webhooks, events and their keys, types, queues and their
// cursors, batches, attempts, health.
func testRestart(t *testing.T, su *suite) {
	s, dir := su.open(t, "")
	a := hook(t, s, acme, true)
	off := hook(t, s, acme, false, "x")
	gone := hook(t, s, acme, true)
	other := hook(t, s, beta, true)
	if _, err := s.UpdateWebhook(acme, a.ID, func(w *wal.Webhook) error { w.URL = "http://updated"; return nil }); err != nil {
		t.Fatal(err)
	}
	a.URL = "http://updated"
	if err := s.DeleteWebhook(acme, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateEventType(acme, wal.EventType{Name: "made", Description: "by hand"}); err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, s, acme, ev("t", "k0", `0`), ev("t", "", `1`), ev("u", "k2", `2`), ev("t", "", `3`), ev("t", "", `4`))
	e := res.IDs
	mustAppend(t, s, beta, ev("t", "k0", `b`))
	b1, b2 := batch(s, a, e[0], e[1]), batch(s, a, e[2])
	qa := peekQ(t, s, a.ID) // e0 .. e4
	f := fence(t, s, a)
	if err := s.OpenBatches(f, a.ID, wal.Cursor{}, qa[2].At, b1, b2); err != nil {
		t.Fatal(err)
	}
	b1.Status, b1.Attempts, b1.DeliveredAt = wal.BatchDelivered, 1, time.Date(2026, 1, 2, 3, 4, 8, 0, time.UTC)
	a1 := attempt(s, b1, wal.AttemptSucceeded, 200)
	h := wal.HookHealth{Failures: 2, FailingSince: time.Date(2026, 1, 2, 3, 4, 9, 0, time.UTC)}
	if err := s.SaveResult(f, b1, a1, &h); err != nil {
		t.Fatal(err)
	}
	b2.Status, b2.Attempts = wal.BatchRetrying, 1
	a2 := attempt(s, b2, wal.AttemptFailed, 503)
	if err := s.SaveBatch(f, b2, a2); err != nil {
		t.Fatal(err)
	}
	types, _, err := s.ListEventTypes(acme, "", 10)
	if err != nil {
		t.Fatal(err)
	}

	s = su.reopen(t, s, dir)
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("after reopen: %s", what)
		}
	}
	for _, w := range []*wal.Webhook{a, off, other} {
		got, err := s.GetWebhook(w.Tenant, w.ID)
		check("webhook "+w.URL+" kept as stored", err == nil && sameHook(got, w))
	}
	_, err = s.GetWebhook(acme, gone.ID)
	check("a deleted webhook stays deleted", errors.Is(err, wal.ErrNotFound))
	var all []wal.ID
	for _, c := range claims(t, s) {
		st, err := s.LoadPart(c.Part)
		check("LoadPart", err == nil)
		for _, w := range st.Webhooks {
			all = append(all, w.ID)
		}
	}
	slices.SortFunc(all, cmpID)
	check("the partitions' webhooks are the three", slices.Equal(all, sorted(a.ID, off.ID, other.ID)))
	check("CountWebhooks", s.CountWebhooks(acme) == 2)
	for i, id := range e {
		got, err := s.GetEvent(acme, id)
		check("event kept", err == nil && got.ID == id && string(got.Data) == string(rune('0'+i)))
	}
	id, err := s.EventByKey(acme, "k2")
	check("idempotency key kept", err == nil && id == e[2])
	again := mustAppend(t, s, acme, ev("t", "k0", `again`))
	check("a known key is still a duplicate, with the original ID", again.Duplicate[0] && again.IDs[0] == e[0])
	got, _, err := s.ListEventTypes(acme, "", 10)
	check("event types kept", err == nil && same(got, types))
	check("queue cursor kept", slices.Equal(peek(t, s, a.ID), e[3:]))
	n, err := s.QueueDepth(a.ID)
	check("queue depth kept", err == nil && n == 2)
	for _, b := range []*wal.Batch{b1, b2} {
		got, err := s.GetBatch(acme, a.ID, b.ID)
		check("batch "+b.Status+" kept", err == nil && sameBatch(got, b))
	}
	check("open batches kept", slices.Equal(openAll(t, s), []wal.ID{b2.ID}))
	for _, at := range []*wal.Attempt{a1, a2} {
		got, err := s.GetAttempt(acme, at.BatchID, at.ID)
		check("attempt "+at.Status+" kept", err == nil && sameAttempt(got, at))
	}
	gh, ok, err := s.Health(a.ID)
	check("health kept", ok && err == nil && same(gh, h))
	d, err := s.EventDeliveries(acme, e[3])
	check("a queued event is still queued", err == nil && len(d) == 1 && d[0].Status == "queued")
	// The restored cursor is what opens are checked against.
	f = fence(t, s, a)
	cur, err := s.Cursor(a.ID)
	check("Cursor kept", err == nil && cur == qa[2].At)
	q := peekQ(t, s, a.ID) // e3 e4
	wantErr(t, "OpenBatches after a cursor older than the stored one", s.OpenBatches(f, a.ID, qa[1].At, q[0].At, batch(s, a, e[3])), wal.ErrConflict)
	wantErr(t, "OpenBatches from the zero cursor", s.OpenBatches(f, a.ID, wal.Cursor{}, q[0].At, batch(s, a, e[3])), wal.ErrConflict)
	if err := s.OpenBatches(f, a.ID, cur, q[0].At, batch(s, a, e[3])); err != nil {
		t.Errorf("OpenBatches after the stored cursor: %v", err)
	}
	// New work after the reopen fans out and is kept in turn.
	l := listen(t, s)
	more := mustAppend(t, s, acme, ev("t", "", `5`))
	l.await(t, map[wal.ID]int{a.ID: 1})
	check("a new event queued after the old ones", slices.Equal(peek(t, s, a.ID), []wal.ID{e[4], more.IDs[0]}))
	s = su.reopen(t, s, dir)
	check("second reopen keeps the queue", slices.Equal(peek(t, s, a.ID), []wal.ID{e[4], more.IDs[0]}))
}

// After Close: writes and log reads return ErrClosed, Ready says so, a
// second Close is nil. (Webhook and type reads may still answer from
// memory.)
func testClosed(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	b := openOne(t, s, w, 1)
	f := fence(t, s, w)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	wantErr(t, "Ready after Close", s.Ready(), wal.ErrClosed)
	_, err := s.Append(acme, []wal.EventInput{ev("t", "", `1`)})
	wantErr(t, "Append after Close", err, wal.ErrClosed)
	wantErr(t, "CreateWebhook after Close", s.CreateWebhook(&wal.Webhook{ID: s.NewWebhookID(), Tenant: acme, URL: "http://x"}), wal.ErrClosed)
	_, err = s.UpdateWebhook(acme, w.ID, func(*wal.Webhook) error { return nil })
	wantErr(t, "UpdateWebhook after Close", err, wal.ErrClosed)
	wantErr(t, "DeleteWebhook after Close", s.DeleteWebhook(acme, w.ID), wal.ErrClosed)
	_, err = s.CreateEventType(acme, wal.EventType{Name: "n"})
	wantErr(t, "CreateEventType after Close", err, wal.ErrClosed)
	nb := batch(s, w, s.NewID())
	wantErr(t, "OpenBatches after Close", s.OpenBatches(f, w.ID, wal.Cursor{}, wal.CursorFrom(nb.Events[0].ID[:]), nb), wal.ErrClosed)
	wantErr(t, "SaveBatch after Close", s.SaveBatch(f, b, nil), wal.ErrClosed)
	wantErr(t, "SaveResult after Close", s.SaveResult(f, b, nil, &wal.HookHealth{}), wal.ErrClosed)
	_, err = s.Cursor(w.ID)
	wantErr(t, "Cursor after Close", err, wal.ErrClosed)
	_, err = s.GetEvent(acme, b.Events[0].ID)
	wantErr(t, "GetEvent after Close", err, wal.ErrClosed)
	_, err = s.GetEvents(acme, []wal.ID{s.NewID()})
	wantErr(t, "GetEvents after Close", err, wal.ErrClosed)
	_, err = s.PeekQueue(w.ID, wal.Cursor{}, 10)
	wantErr(t, "PeekQueue after Close", err, wal.ErrClosed)
	_, err = s.GetBatch(acme, w.ID, b.ID)
	wantErr(t, "GetBatch after Close", err, wal.ErrClosed)
	_, _, err = s.ListBatches(acme, w.ID, wal.ID{}, 10, nil)
	wantErr(t, "ListBatches after Close", err, wal.ErrClosed)
	_, _, err = s.Health(w.ID)
	wantErr(t, "Health after Close", err, wal.ErrClosed)
	wantErr(t, "EachOpenBatch after Close", s.EachOpenBatch(s.PartOf(acme, w.ID), func(*wal.Batch) error { return nil }), wal.ErrClosed)
}

// Fail-stop: after a failed write, that write and every later one fail
// with an error that wraps the cause, reads fail, Ready and Err report
// it; reopened, the state holds everything acknowledged before, and the
// store works again.
func testFailStop(t *testing.T, su *suite) {
	if su.h.Fail == nil {
		t.Skip("the harness cannot inject a failure (Harness.Fail)")
	}
	s, dir := su.open(t, "")
	w := hook(t, s, acme, true)
	acked := mustAppend(t, s, acme, ev("t", "k", `0`), ev("t", "", `1`))
	b := batch(s, w, acked.IDs[0])
	q := peekQ(t, s, w.ID)
	f := fence(t, s, w)
	if err := s.OpenBatches(f, w.ID, wal.Cursor{}, q[0].At, b); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("storetest: injected write failure")
	su.h.Fail(s, cause)
	if _, err := s.Append(acme, []wal.EventInput{ev("t", "", `2`)}); !errors.Is(err, cause) {
		t.Fatalf("Append that failed = %v, want an error wrapping %v", err, cause)
	}
	late := batch(s, w, acked.IDs[1])
	for what, err := range map[string]error{
		"Append":         func() error { _, err := s.Append(acme, []wal.EventInput{ev("t", "", `3`)}); return err }(),
		"OpenBatches":    s.OpenBatches(f, w.ID, q[0].At, q[1].At, late),
		"SaveBatch":      s.SaveBatch(f, b, nil),
		"SaveResult":     s.SaveResult(f, b, nil, &wal.HookHealth{Failures: 1}),
		"CreateWebhook":  s.CreateWebhook(&wal.Webhook{ID: s.NewWebhookID(), Tenant: acme, URL: "http://x"}),
		"GetEvent":       func() error { _, err := s.GetEvent(acme, acked.IDs[0]); return err }(),
		"PeekQueue":      func() error { _, err := s.PeekQueue(w.ID, wal.Cursor{}, 10); return err }(),
		"Cursor":         func() error { _, err := s.Cursor(w.ID); return err }(),
		"GetBatch":       func() error { _, err := s.GetBatch(acme, w.ID, b.ID); return err }(),
		"EachOpenBatch":  s.EachOpenBatch(s.PartOf(acme, w.ID), func(*wal.Batch) error { return nil }),
		"Ready":          s.Ready(),
		"Err":            s.Err(),
		"ListAttempts":   func() error { _, _, err := s.ListAttempts(acme, b.ID, wal.ID{}, 1); return err }(),
		"EventByKey":     func() error { _, err := s.EventByKey(acme, "k"); return err }(),
		"Health":         func() error { _, _, err := s.Health(w.ID); return err }(),
		"GetEvents":      func() error { _, err := s.GetEvents(acme, acked.IDs); return err }(),
		"ListBatches":    func() error { _, _, err := s.ListBatches(acme, w.ID, wal.ID{}, 1, nil); return err }(),
		"EventDelivered": func() error { _, err := s.EventDeliveries(acme, acked.IDs[0]); return err }(),
	} {
		if !errors.Is(err, cause) {
			t.Errorf("%s after the failure = %v, want the sticky failure (wrapping %v)", what, err, cause)
		}
	}
	var fe *wal.FailedError
	if !errors.As(s.Err(), &fe) {
		t.Errorf("Err() = %v, want a *wal.FailedError", s.Err())
	}
	_ = s.Close() // may report the failure

	s = su.reopen(t, s, dir)
	for i, id := range acked.IDs {
		if _, err := s.GetEvent(acme, id); err != nil {
			t.Errorf("acknowledged event %d after reopen: %v", i, err)
		}
	}
	if got, err := s.GetBatch(acme, w.ID, b.ID); err != nil || !sameBatch(got, b) {
		t.Errorf("acknowledged batch after reopen = %+v, %v", got, err)
	}
	// Nothing half-written: the open refused during the failure left
	// neither its batch nor its cursor move.
	_, err := s.GetBatch(acme, w.ID, late.ID)
	moved := !slices.Contains(peek(t, s, w.ID), acked.IDs[1])
	if errors.Is(err, wal.ErrNotFound) == moved {
		t.Errorf("an open during the failure is half there: batch %v, cursor moved %v", err, moved)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready after reopen = %v", err)
	}
	mustAppend(t, s, acme, ev("t", "", `4`))
}
