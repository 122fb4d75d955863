package wal

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Events served from the recent cache are the events Badger returns.
func TestRecentMatchesStore(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	createHook(t, s, 1)
	big := `{"pad":"` + strings.Repeat("yz", 2000) + `"}` // compressed on disk
	in := []EventInput{{Type: "a", Key: "k1", Refs: []Ref{{"order", "1"}}, Data: []byte(`{"n":1}`)}, {Type: "b", Data: []byte(big)}}
	res, err := s.Append("acme", in)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := s.GetEvents("acme", res.IDs)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.recent.len(); n != 2 {
		t.Fatalf("recent holds %d events, want 2", n)
	}
	if other, _ := s.GetEvents("beta", res.IDs); other[0] != nil || other[1] != nil {
		t.Errorf("another tenant reads %v", other)
	}
	s.Close()
	s = openTest(t, dir) // empty cache: read from Badger
	stored, err := s.GetEvents("acme", res.IDs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stored {
		c, st := *cached[i], *stored[i]
		if !bytes.Equal(c.Data, st.Data) {
			t.Errorf("event %d: data differs (%d vs %d bytes)", i, len(c.Data), len(st.Data))
		}
		c.Data, st.Data = nil, nil
		if !reflect.DeepEqual(c, st) {
			t.Errorf("event %d: cached %+v, stored %+v", i, c, st)
		}
	}
}

// The cache forgets the oldest events past its byte bound, a generation
// (half the bound) at a time, and events whose retention ended; an event
// larger than a generation is never cached.
func TestRecentBounds(t *testing.T) {
	const unit = 160 + 10 + 1 // recentSize of each event below
	r := newRecent(4 * unit)
	t0 := time.Now()
	var ids []ID
	for i := 0; i < 5; i++ {
		id := ID{byte(i + 1)}
		ids = append(ids, id)
		r.add([]*Event{{ID: id, Tenant: "t", Type: "a", Data: make([]byte, 10), CreatedAt: t0}})
		if _, ok := r.get("t", id, t0, time.Hour); !ok {
			t.Errorf("event %d not cached right after its add", i)
		}
	}
	// {1,2} filled the first generation; 3 began the second, 5 the third.
	for i, id := range ids {
		_, ok := r.get("t", id, t0, time.Hour)
		if want := i >= 2; ok != want {
			t.Errorf("event %d cached = %v, want %v", i, ok, want)
		}
	}
	if _, ok := r.get("t", ids[4], t0.Add(time.Hour), time.Hour); ok {
		t.Error("served an event past its retention")
	}
	if n := r.len(); n != 3 {
		t.Errorf("%d events cached, want 3", n)
	}
	big := &Event{ID: ID{9}, Tenant: "t", Type: "a", Data: make([]byte, 3*unit), CreatedAt: t0}
	r.add([]*Event{big})
	if _, ok := r.get("t", big.ID, t0, time.Hour); ok {
		t.Error("cached an event larger than half the bound")
	}
	for i, id := range ids[2:] {
		if _, ok := r.get("t", id, t0, time.Hour); !ok {
			t.Errorf("event %d forgotten for an event too large to cache", i+2)
		}
	}
}

// However events come, the cache never holds more than its bound and
// always holds the latest event that fits.
func TestRecentNeverOverBound(t *testing.T) {
	const max = 20_000
	r := newRecent(max)
	t0 := time.Now()
	for i := range 2_000 {
		var evs []*Event
		for j := range 1 + i%7 {
			evs = append(evs, &Event{ID: ID{byte(i), byte(i >> 8), byte(j)}, Tenant: "t", Data: make([]byte, (i*31+j*17)%3000), CreatedAt: t0})
		}
		r.add(evs)
		var held int64
		r.mu.RLock()
		for _, m := range []map[ID]*Event{r.cur, r.old} {
			for _, e := range m {
				held += recentSize(e)
			}
		}
		r.mu.RUnlock()
		if held > max {
			t.Fatalf("after add %d: %d bytes cached, bound %d", i, held, max)
		}
		if last := evs[len(evs)-1]; recentSize(last) <= max/2 {
			if _, ok := r.get("t", last.ID, t0, time.Hour); !ok {
				t.Fatalf("after add %d: the latest event (%d bytes) is not cached", i, recentSize(last))
			}
		}
	}
}

// len is the number of events cached.
func (r *recent) len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.cur) + len(r.old)
}

// BenchmarkRecent is the cache's work per event at steady state: each
// event added once (in appends of 100), then read back once, with the
// cache full so every add also forgets the oldest.
func BenchmarkRecent(b *testing.B) {
	r := newRecent(recentBytes)
	var gen IDGen
	t0 := time.Now()
	data := make([]byte, 300)
	evs := make([]*Event, 100)
	fill := func() {
		for i := range evs {
			evs[i] = &Event{ID: gen.New(t0), Tenant: "t", Type: "a", Data: data, CreatedAt: t0}
		}
		r.add(evs)
	}
	for range int(recentBytes / (recentSize(&Event{Type: "a", Data: data}) * 100)) {
		fill()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(evs) {
		fill()
		for _, e := range evs {
			if _, ok := r.get("t", e.ID, t0, time.Hour); !ok {
				b.Fatal("miss")
			}
		}
	}
}
