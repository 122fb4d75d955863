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
	w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "http://x", IsActive: true, MaxBatchSize: 1}
	if err := s.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
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
	if n := len(s.recent.byID); n != 2 {
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

// The cache forgets the oldest events past its byte bound, and events
// whose retention ended.
func TestRecentBounds(t *testing.T) {
	r := newRecent(3 * (160 + 10 + 1))
	t0 := time.Now()
	var ids []ID
	for i := 0; i < 5; i++ {
		id := ID{byte(i + 1)}
		ids = append(ids, id)
		r.add([]*Event{{ID: id, Tenant: "t", Type: "a", Data: make([]byte, 10), CreatedAt: t0}})
	}
	for i, id := range ids {
		_, ok := r.get("t", id, t0, time.Hour)
		if want := i >= 2; ok != want {
			t.Errorf("event %d cached = %v, want %v", i, ok, want)
		}
	}
	if _, ok := r.get("t", ids[4], t0.Add(time.Hour), time.Hour); ok {
		t.Error("served an event past its retention")
	}
	if r.size != 3*(160+10+1) || len(r.byID) != 3 {
		t.Errorf("size %d, %d entries", r.size, len(r.byID))
	}
}
