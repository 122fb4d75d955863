package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"hookd/wal"
)

// Append stores events, returns increasing IDs, and serves them back to
// their tenant only; GetEvents keeps the order and gives nil for what is
// not stored; what the caller gets is its own.
func testAppend(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	before := time.Now()
	in := []wal.EventInput{
		ev("order.created", "", `{"a":1}`),
		{Type: "order.paid", Key: "k-1", Refs: []wal.Ref{{Name: "orderRef", Value: "A1"}, {Name: "z", Value: "9"}}, Data: []byte(`[1,2]`)},
		ev("big", "", `{"x":"`+string(slices.Repeat([]byte("abc"), 2000))+`"}`),
	}
	res := mustAppend(t, s, acme, in...)
	if res.Accepted() != 3 || slices.Contains(res.Duplicate, true) {
		t.Fatalf("Append = %+v, want 3 new events", res)
	}
	for i := 1; i < len(res.IDs); i++ {
		if cmpID(res.IDs[i-1], res.IDs[i]) >= 0 {
			t.Fatalf("IDs not increasing in input order: %v", res.IDs)
		}
	}
	next := mustAppend(t, s, acme, ev("order.created", "", `2`))
	if cmpID(res.IDs[2], next.IDs[0]) >= 0 {
		t.Errorf("a later append's ID %v sorts before an earlier one's %v", next.IDs[0], res.IDs[2])
	}
	for i, id := range res.IDs {
		e, err := s.GetEvent(acme, id)
		if err != nil {
			t.Fatalf("GetEvent %d: %v", i, err)
		}
		if e.ID != id || e.Tenant != acme || e.Type != in[i].Type || e.Key != in[i].Key ||
			string(e.Data) != string(in[i].Data) || !slices.Equal(e.Refs, in[i].Refs) {
			t.Errorf("GetEvent %d = %+v, want %+v", i, e, in[i])
		}
		if e.CreatedAt.Before(before.Add(-time.Minute)) || e.CreatedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("event %d CreatedAt = %v, not the append's time (%v)", i, e.CreatedAt, before)
		}
		_, err = s.GetEvent(beta, id)
		wantErr(t, "GetEvent of another tenant's event", err, wal.ErrNotFound)
	}
	_, err := s.GetEvent(acme, s.NewID())
	wantErr(t, "GetEvent of an unknown ID", err, wal.ErrNotFound)

	// GetEvents: input order, nil for unknown and foreign IDs.
	other := mustAppend(t, s, beta, ev("x", "", `0`)).IDs[0]
	ids := []wal.ID{res.IDs[2], s.NewID(), res.IDs[0], other, res.IDs[1]}
	evs, err := s.GetEvents(acme, ids)
	if err != nil || len(evs) != len(ids) {
		t.Fatalf("GetEvents = %d events, %v; want %d", len(evs), err, len(ids))
	}
	for i, want := range []int{2, -1, 0, -1, 1} {
		switch e := evs[i]; {
		case want < 0 && e != nil:
			t.Errorf("GetEvents[%d] = %+v, want nil (not acme's event)", i, e)
		case want >= 0 && (e == nil || e.ID != res.IDs[want] || string(e.Data) != string(in[want].Data)):
			t.Errorf("GetEvents[%d] = %+v, want event %d", i, e, want)
		}
	}

	// The slice and the structs are the caller's.
	evs[0].Type, evs[0].ID, evs[2] = "changed", wal.ID{}, nil
	again, err := s.GetEvents(acme, ids[:3])
	if err != nil || again[0] == nil || again[0].Type != in[2].Type || again[2] == nil {
		t.Errorf("after the caller changed what GetEvents gave: %+v, %v", again, err)
	}
	e, _ := s.GetEvent(acme, res.IDs[0])
	e.Type = "changed"
	if e2, _ := s.GetEvent(acme, res.IDs[0]); e2 == nil || e2.Type != in[0].Type {
		t.Errorf("after the caller changed what GetEvent gave: %+v", e2)
	}
}

// An idempotency key already used by the tenant gives the original ID
// and stores nothing (no fan-out); another tenant's keys are its own.
// Concurrent appends with one key store one event.
func testIdempotency(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	w := hook(t, s, acme, true)
	first := mustAppend(t, s, acme, ev("a", "k1", `1`))
	if first.Duplicate[0] {
		t.Fatal("first use of a key reported as a duplicate")
	}
	tests := []struct {
		name    string
		tenant  string
		in      []wal.EventInput
		wantDup []bool
	}{
		{"same key again", acme, []wal.EventInput{ev("a", "k1", `2`)}, []bool{true}},
		{"same key twice in one request", acme, []wal.EventInput{ev("a", "k2", `1`), ev("a", "k2", `2`)}, []bool{false, true}},
		{"a new and a known key", acme, []wal.EventInput{ev("a", "k3", `1`), ev("a", "k1", `3`)}, []bool{false, true}},
		{"same key, another tenant", beta, []wal.EventInput{ev("a", "k1", `1`)}, []bool{false}},
	}
	for _, tt := range tests {
		res := mustAppend(t, s, tt.tenant, tt.in...)
		if !slices.Equal(res.Duplicate, tt.wantDup) {
			t.Errorf("%s: Duplicate = %v, want %v", tt.name, res.Duplicate, tt.wantDup)
		}
		for i, dup := range res.Duplicate {
			if !dup {
				continue
			}
			want, err := s.EventByKey(tt.tenant, tt.in[i].Key)
			if err != nil || res.IDs[i] != want {
				t.Errorf("%s: duplicate %d has ID %v, the key's event is %v (%v)", tt.name, i, res.IDs[i], want, err)
			}
		}
	}
	if id, err := s.EventByKey(acme, "k1"); err != nil || id != first.IDs[0] {
		t.Errorf("EventByKey(k1) = %v, %v; want %v", id, err, first.IDs[0])
	}
	if e, err := s.GetEvent(acme, first.IDs[0]); err != nil || string(e.Data) != `1` {
		t.Errorf("the original event after duplicates = %+v, %v", e, err)
	}
	if id, err := s.EventByKey(beta, "k1"); err != nil || id == first.IDs[0] {
		t.Errorf("beta's k1 = %v, %v: want its own event", id, err)
	}
	_, err := s.EventByKey(beta, "k2")
	wantErr(t, "EventByKey of another tenant's key", err, wal.ErrNotFound)
	_, err = s.EventByKey(acme, "never")
	wantErr(t, "EventByKey of an unknown key", err, wal.ErrNotFound)
	// k1, k2, k3: one queue entry each, none for the duplicates.
	if n, err := s.QueueDepth(w.ID); err != nil || n != 3 {
		t.Errorf("queue depth = %d, %v; want 3 (duplicates fan out to nobody)", n, err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[wal.ID]int{}
	accepted := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Append(acme, []wal.EventInput{ev("a", "race", fmt.Sprint(i))})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[res.IDs[0]]++
			accepted += res.Accepted()
			mu.Unlock()
		}()
	}
	wg.Wait()
	if accepted != 1 || len(ids) != 1 {
		t.Errorf("16 concurrent appends of one key: %d accepted, %d distinct IDs; want 1 and 1", accepted, len(ids))
	}
}

// Appends record new types; created ones conflict; lists page in name
// order; a tenant sees only its own.
func testEventTypes(t *testing.T, su *suite) {
	s, _ := su.open(t, "")
	mustAppend(t, s, acme, ev("b.auto", "", `1`), ev("b.auto", "", `2`), ev("c.auto", "", `3`))
	created, err := s.CreateEventType(acme, wal.EventType{Name: "a.manual", Description: "d"})
	if err != nil || created.Name != "a.manual" || created.CreatedAt.IsZero() {
		t.Fatalf("CreateEventType = %+v, %v", created, err)
	}
	_, err = s.CreateEventType(acme, wal.EventType{Name: "a.manual"})
	wantErr(t, "CreateEventType of an existing type", err, wal.ErrConflict)
	_, err = s.CreateEventType(acme, wal.EventType{Name: "b.auto"})
	wantErr(t, "CreateEventType of an appended type", err, wal.ErrConflict)
	names := func(l []wal.EventType) []string {
		var n []string
		for _, x := range l {
			n = append(n, x.Name)
		}
		return n
	}
	list, more, err := s.ListEventTypes(acme, "", 2)
	if err != nil || !more || !slices.Equal(names(list), []string{"a.manual", "b.auto"}) || list[0].Description != "d" {
		t.Fatalf("ListEventTypes page 1 = %+v, more %v, %v", list, more, err)
	}
	list, more, err = s.ListEventTypes(acme, "b.auto", 2)
	if err != nil || more || !slices.Equal(names(list), []string{"c.auto"}) {
		t.Fatalf("ListEventTypes page 2 = %+v, more %v, %v", list, more, err)
	}
	if err := s.DeleteEventType(acme, "b.auto"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteEventType of a deleted type", s.DeleteEventType(acme, "b.auto"), wal.ErrNotFound)
	wantErr(t, "DeleteEventType of another tenant's type", s.DeleteEventType(beta, "a.manual"), wal.ErrNotFound)
	if s.HasEventType(acme, "b.auto") || !s.HasEventType(acme, "a.manual") || s.HasEventType(beta, "a.manual") {
		t.Error("HasEventType wrong after a delete, or across tenants")
	}
	if list, _, err := s.ListEventTypes(beta, "", 10); err != nil || len(list) != 0 {
		t.Errorf("another tenant lists %+v, %v", list, err)
	}
}
