package storetest

import (
	"context"
	"testing"
	"time"

	"hookd/wal"
)

// Batch writes are versioned: a write carries the version it read and
// fails with ErrConflict, writing nothing, once another write moved it;
// reads give the version; a batch never stored is at version 0.
func testVersions(t *testing.T, su *suite) {
	s, dir := su.open(t, "")
	w := hook(t, s, acme, true)
	f := fence(t, s, w)
	b := openOne(t, s, w, 1) // version 1
	mine, theirs := *b, *b   // two writers that read version 1
	theirs.Status, theirs.Attempts = wal.BatchRetrying, 1
	if err := s.SaveBatch(f, &theirs, nil); err != nil {
		t.Fatal(err)
	}
	if theirs.Version != 2 {
		t.Errorf("Version after a SaveBatch of version 1 = %d, want 2", theirs.Version)
	}
	mine.Status = wal.BatchDelivered
	a := attempt(s, &mine, wal.AttemptSucceeded, 200)
	wantErr(t, "SaveResult of a version another write moved", s.SaveResult(f, &mine, a, &wal.HookHealth{Failures: 7}), wal.ErrConflict)
	wantErr(t, "SaveBatch of a version another write moved", s.SaveBatch(f, &mine, a), wal.ErrConflict)
	if mine.Version != 1 {
		t.Errorf("a refused write changed the caller's Version to %d", mine.Version)
	}
	got, err := s.GetBatch(acme, w.ID, b.ID)
	if err != nil || got.Status != wal.BatchRetrying || got.Version != 2 {
		t.Fatalf("GetBatch after a refused write = %+v, %v; want the other writer's, version 2", got, err)
	}
	if _, err := s.GetAttempt(acme, b.ID, a.ID); err == nil {
		t.Error("a refused write stored its attempt")
	}
	if _, ok, _ := s.Health(w.ID); ok {
		t.Error("a refused SaveResult stored its health")
	}
	// Read again, the write goes through; listed and open batches carry it.
	got.Status = wal.BatchDelivered
	if err := s.SaveResult(f, got, a, nil); err != nil || got.Version != 3 {
		t.Fatalf("SaveResult of the version read = %v, version %d; want nil, 3", err, got.Version)
	}
	if l, _, err := s.ListBatches(acme, w.ID, wal.ID{}, 10, nil); err != nil || len(l) != 1 || l[0].Version != 3 {
		t.Errorf("ListBatches' version = %+v, %v; want 3", l, err)
	}
	got.Status, got.MaxAttempts = wal.BatchRetrying, 2 // a replay of a closed batch
	if err := s.SaveBatch(f, got, nil); err != nil || got.Version != 4 {
		t.Fatalf("SaveBatch of a closed batch's version = %v, version %d", err, got.Version)
	}
	var open []uint64
	if err := s.EachOpenBatch(s.PartOf(acme, w.ID), func(b *wal.Batch) error { open = append(open, b.Version); return nil }); err != nil || len(open) != 1 || open[0] != 4 {
		t.Errorf("EachOpenBatch's versions = %v, %v; want [4]", open, err)
	}
	// Kept across a restart: the old version is still refused.
	s = su.reopen(t, s, dir)
	f = fence(t, s, w)
	stale := *got
	stale.Version = 3
	wantErr(t, "SaveBatch of an old version after a reopen", s.SaveBatch(f, &stale, nil), wal.ErrConflict)
	if err := s.SaveBatch(f, got, nil); err != nil || got.Version != 5 {
		t.Errorf("SaveBatch of the version kept = %v, version %d", err, got.Version)
	}
	// Two writes of one version racing: exactly one wins.
	x, y := *got, *got
	errs := make(chan error, 2)
	for _, c := range []*wal.Batch{&x, &y} {
		go func() { errs <- s.SaveResult(f, c, nil, nil) }()
	}
	won := 0
	for range 2 {
		if err := <-errs; err == nil {
			won++
		} else {
			wantErr(t, "the losing write", err, wal.ErrConflict)
		}
	}
	if won != 1 {
		t.Errorf("%d of two writes of one version went through, want 1", won)
	}
}

// Work arrives by partition: the claims a store holds are handed out
// at once, every webhook is in one of them, and a claimed partition loads
// its webhooks (LoadPart) and open batches (EachOpenBatch).
func testClaims(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	a, b := hook(t, s, acme, true), hook(t, s, beta, false)
	cs := claims(t, s)
	held := map[wal.Part]bool{}
	for _, c := range cs {
		if held[c.Part] {
			t.Errorf("partition %v handed out twice", c.Part)
		}
		held[c.Part] = true
		if c.Fence == nil || !c.Fence.Valid() {
			t.Errorf("claim of %v has no valid fence", c.Part)
		}
	}
	for _, w := range []*wal.Webhook{a, b} {
		if p := s.PartOf(w.Tenant, w.ID); !held[p] {
			t.Errorf("webhook %s is in partition %v, which no claim holds", w.ID.Text("wh_"), p)
		} else if s.PartOf(w.Tenant, w.ID) != p {
			t.Error("PartOf changed between two calls")
		}
	}
	ob := openOne(t, s, a, 1)
	p := s.PartOf(acme, a.ID)
	st, err := s.LoadPart(p)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range st.Webhooks {
		found = found || (w.ID == a.ID && sameHook(w, a))
	}
	if !found {
		t.Errorf("LoadPart(%v) = %d webhooks without %s as stored", p, len(st.Webhooks), a.ID.Text("wh_"))
	}
	var open []wal.ID
	if err := s.EachOpenBatch(p, func(b *wal.Batch) error { open = append(open, b.ID); return nil }); err != nil || len(open) != 1 || open[0] != ob.ID {
		t.Errorf("EachOpenBatch(%v) = %s, %v; want the one opened", p, show(open), err)
	}
	// The channel ends with its context.
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Claims(ctx)
	cancel()
	deadline := time.After(wait)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-deadline:
			t.Fatal("Claims' channel stayed open after its context ended")
		}
	}
}

// staleFence is a fence whose claim was lost.
type staleFence struct{}

func (staleFence) Valid() bool { return false }

// Delivery writes carry the claim's fence: without one, or with a fence
// that is not valid, they fail with ErrFenced and write nothing.
func testFences(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	b := openOne(t, s, w, 1)
	e := mustAppend(t, s, acme, ev("t", "", `2`)).IDs
	cur, err := s.Cursor(w.ID)
	if err != nil {
		t.Fatal(err)
	}
	q := peekQ(t, s, w.ID)
	for name, f := range map[string]wal.Fence{"no fence": nil, "a lost claim's fence": staleFence{}} {
		nb := batch(s, w, e[0])
		wantErr(t, "OpenBatches with "+name, s.OpenBatches(f, w.ID, cur, q[0].At, nb), wal.ErrFenced)
		done := *b
		done.Status = wal.BatchDelivered
		wantErr(t, "SaveBatch with "+name, s.SaveBatch(f, &done, nil), wal.ErrFenced)
		wantErr(t, "SaveResult with "+name, s.SaveResult(f, &done, nil, nil), wal.ErrFenced)
		if _, err := s.GetBatch(acme, w.ID, nb.ID); err == nil {
			t.Errorf("a fenced open with %s stored its batch", name)
		}
	}
	if got, _ := s.GetBatch(acme, w.ID, b.ID); got == nil || got.Status != wal.BatchPending || got.Version != 1 {
		t.Errorf("batch after fenced writes = %+v, want it untouched", got)
	}
	if got := peek(t, s, w.ID); len(got) != 1 {
		t.Errorf("queue after a fenced open = %s, want the entry still there", show(got))
	}
}

// OnQueued's stop ends the notifications; appends go on.
func testQueuedStop(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	p := s.PartOf(acme, w.ID)
	l := &listener{counts: map[wal.ID]int{}, signal: make(chan struct{}, 1)}
	stop := s.OnQueued(p, l.told)
	mustAppend(t, s, acme, ev("t", "", `1`))
	l.await(t, map[wal.ID]int{w.ID: 1})
	stop()
	mustAppend(t, s, acme, ev("t", "", `2`)) // Badger tells before Append returns
	l.mu.Lock()
	n := l.counts[w.ID]
	l.mu.Unlock()
	if n != 1 {
		t.Errorf("told %d entries after stop, want only the 1 before", n)
	}
	stop() // twice is harmless
}
