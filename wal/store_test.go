package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// createHook stores an active catch-all webhook of tenant "acme" with
// maxBatchSize, as the tests of one webhook need it.
func createHook(t testing.TB, s *Store, maxBatchSize int) *Webhook {
	t.Helper()
	w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "http://x", IsActive: true, MaxBatchSize: maxBatchSize}
	if err := s.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	return w
}

func ev(typ, key, data string) EventInput {
	return EventInput{Type: typ, Key: key, Data: []byte(data)}
}

func TestAppendAndGet(t *testing.T) {
	s := openTest(t, "")
	big := `{"x":"` + string(bytes.Repeat([]byte("abc"), 2000)) + `"}`
	in := []EventInput{
		ev("order.created", "", `{"a":1}`),
		{Type: "101", Refs: []Ref{{"orderRef", "A1"}, {"z", "9"}}, Data: []byte(`[1,2]`)},
		ev("big", "", big),
	}
	res, err := s.Append("acme", in)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Accepted(); got != 3 {
		t.Fatalf("accepted = %d, want 3", got)
	}
	for i, id := range res.IDs {
		e, err := s.GetEvent("acme", id)
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if e.Type != in[i].Type || string(e.Data) != string(in[i].Data) || len(e.Refs) != len(in[i].Refs) {
			t.Errorf("event %d = %+v, want %+v", i, e, in[i])
		}
		if _, err := s.GetEvent("other", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("other tenant get = %v, want ErrNotFound", err)
		}
	}
	if !(compareID(res.IDs[0], res.IDs[1]) < 0 && compareID(res.IDs[1], res.IDs[2]) < 0) {
		t.Errorf("ids not increasing: %v", res.IDs)
	}
}

func TestIdempotency(t *testing.T) {
	s := openTest(t, "")
	first, err := s.Append("acme", []EventInput{ev("a", "k1", `1`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tenant  string
		in      []EventInput
		wantDup []bool
	}{
		{"same key again", "acme", []EventInput{ev("a", "k1", `2`)}, []bool{true}},
		{"same key twice in one request", "acme", []EventInput{ev("a", "k2", `1`), ev("a", "k2", `2`)}, []bool{false, true}},
		{"same key other tenant", "beta", []EventInput{ev("a", "k1", `1`)}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Append(tt.tenant, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range res.Duplicate {
				if d != tt.wantDup[i] {
					t.Errorf("dup[%d] = %v, want %v", i, d, tt.wantDup[i])
				}
			}
		})
	}
	res, _ := s.Append("acme", []EventInput{ev("a", "k1", `3`)})
	if res.IDs[0] != first.IDs[0] {
		t.Errorf("duplicate id = %v, want the original %v", res.IDs[0], first.IDs[0])
	}
	e, _ := s.GetEvent("acme", first.IDs[0])
	if string(e.Data) != "1" {
		t.Errorf("data = %s, want the first event's", e.Data)
	}
}

func TestConcurrentIdempotentAppends(t *testing.T) {
	// 32 goroutines publish the same 50 keys: exactly 50 events are new.
	s := openTest(t, "")
	var mu sync.Mutex
	accepted := 0
	ids := map[string]ID{}
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 50; k++ {
				key := fmt.Sprintf("key-%d", k)
				res, err := s.Append("acme", []EventInput{ev("t", key, `{}`)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				accepted += res.Accepted()
				if prev, ok := ids[key]; ok && prev != res.IDs[0] {
					t.Errorf("key %s: ids %v and %v", key, prev, res.IDs[0])
				}
				ids[key] = res.IDs[0]
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 50 {
		t.Errorf("accepted = %d, want 50", accepted)
	}
}

func TestFanOut(t *testing.T) {
	s := openTest(t, "")
	mk := func(tenant string, active bool, events ...string) ID {
		w := &Webhook{ID: s.NewWebhookID(), Tenant: tenant, URL: "http://x", IsActive: active, Events: events, MaxBatchSize: 1}
		if err := s.CreateWebhook(w); err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	all := mk("acme", true)
	star := mk("acme", true, "*")
	paid := mk("acme", true, "order.paid")
	off := mk("acme", false)
	other := mk("beta", true)
	if _, err := s.Append("acme", []EventInput{ev("order.created", "", `1`), ev("order.paid", "", `2`)}); err != nil {
		t.Fatal(err)
	}
	late := mk("acme", true)
	want := map[ID]int{all: 2, star: 2, paid: 1, off: 0, other: 0, late: 0}
	for id, n := range want {
		got, err := s.QueueDepth(id)
		if err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("webhook %s queue = %d, want %d", id.Text("wh_"), got, n)
		}
	}
}

func TestWebhookCRUDAndPaging(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	var ids []ID
	for i := 0; i < 5; i++ {
		w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: fmt.Sprintf("http://h/%d", i), IsActive: true}
		if err := s.CreateWebhook(w); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
	}
	page, more, _ := s.ListWebhooks("acme", ID{}, 2)
	if len(page) != 2 || !more || page[0].ID != ids[0] {
		t.Fatalf("page 1 = %d more=%v", len(page), more)
	}
	page, more, _ = s.ListWebhooks("acme", page[1].ID, 10)
	if len(page) != 3 || more || page[0].ID != ids[2] {
		t.Fatalf("page 2 = %d more=%v", len(page), more)
	}
	if _, err := s.UpdateWebhook("beta", ids[0], func(w *Webhook) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update other tenant = %v, want ErrNotFound", err)
	}
	w, err := s.UpdateWebhook("acme", ids[0], func(w *Webhook) error { w.URL = "http://new"; return nil })
	if err != nil || w.URL != "http://new" {
		t.Fatalf("update = %v %v", w, err)
	}
	if err := s.DeleteWebhook("acme", ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook("acme", ids[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete = %v", err)
	}
	s.Close()
	s2 := openTest(t, dir)
	got, err := s2.GetWebhook("acme", ids[0])
	if err != nil || got.URL != "http://new" {
		t.Fatalf("after reopen = %v %v", got, err)
	}
	if _, err := s2.GetWebhook("acme", ids[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted webhook after reopen = %v", err)
	}
	page, _, _ = s2.ListWebhooks("acme", ID{}, 100)
	if len(page) != 4 {
		t.Errorf("after reopen %d webhooks, want 4", len(page))
	}
}

func TestEventTypes(t *testing.T) {
	s := openTest(t, "")
	if _, err := s.Append("acme", []EventInput{ev("b.auto", "", `1`), ev("b.auto", "", `1`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateEventType("acme", EventType{Name: "a.manual", Description: "d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateEventType("acme", EventType{Name: "a.manual"}); !errors.Is(err, ErrConflict) {
		t.Errorf("second create = %v, want ErrConflict", err)
	}
	list, more, err := s.ListEventTypes("acme", "", 10)
	if err != nil || more || len(list) != 2 || list[0].Name != "a.manual" || list[1].Name != "b.auto" {
		t.Fatalf("list = %+v more=%v err=%v", list, more, err)
	}
	list, _, _ = s.ListEventTypes("acme", "a.manual", 10)
	if len(list) != 1 || list[0].Name != "b.auto" {
		t.Errorf("after cursor = %+v", list)
	}
	if err := s.DeleteEventType("acme", "b.auto"); err != nil {
		t.Fatal(err)
	}
	if s.HasEventType("acme", "b.auto") || !s.HasEventType("acme", "a.manual") || s.HasEventType("beta", "a.manual") {
		t.Error("HasEventType wrong after delete")
	}
}

func TestStickyFailure(t *testing.T) {
	s := openTest(t, "")
	ok, err := s.Append("acme", []EventInput{ev("a", "", `1`)})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("fsync: input/output error")
	s.injectErr.Store(&boom)
	if _, err := s.Append("acme", []EventInput{ev("a", "", `2`)}); !errors.Is(err, boom) {
		t.Fatalf("append during failure = %v, want %v", err, boom)
	}
	s.injectErr.Store(nil) // the disk "recovers": the store must stay failed
	if _, err := s.Append("acme", []EventInput{ev("a", "", `3`)}); !errors.Is(err, boom) {
		t.Errorf("append after failure = %v, want sticky %v", err, boom)
	}
	if _, err := s.GetEvent("acme", ok.IDs[0]); !errors.Is(err, boom) {
		t.Errorf("read after failure = %v, want sticky error", err)
	}
	if s.Ready() == nil {
		t.Error("Ready() = nil after a failed commit")
	}
}

func TestTooBig(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), MemTableSize: 1 << 20}) // ~150 KiB per commit
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	small := bytes.Repeat([]byte("x"), 200) // under the value threshold: kept in the LSM
	var many []EventInput
	for i := 0; i < 1000; i++ {
		many = append(many, EventInput{Type: "t", Data: small})
	}
	if _, err := s.Append("acme", many); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversized append = %v, want ErrTooBig", err)
	}
	// The store is still healthy and a large load in many requests commits
	// across several transactions.
	var wg sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append("acme", many[:100]); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
}

func TestClosed(t *testing.T) {
	s := openTest(t, "")
	s.Close()
	if _, err := s.Append("acme", []EventInput{ev("a", "", `1`)}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close = %v", err)
	}
}

func TestIDText(t *testing.T) {
	var g IDGen
	now := time.Date(2026, 11, 23, 8, 15, 0, 123e6, time.UTC)
	prev := ID{}
	for i := 0; i < 1000; i++ {
		id := g.New(now)
		if compareID(prev, id) >= 0 {
			t.Fatalf("not monotonic at %d", i)
		}
		prev = id
		txt := id.Text("evt_")
		back, err := ParseID("evt_", txt)
		if err != nil || back != id {
			t.Fatalf("round trip %s: %v %v", txt, back, err)
		}
		if !id.Time().Equal(now) {
			t.Fatalf("time = %v", id.Time())
		}
	}
	for _, bad := range []string{"", "evt_", "wh_01ARZ3NDEKTSV4RRFFQ69G5FAV", "evt_01ARZ3NDEKTSV4RRFFQ69G5FA", "evt_81ARZ3NDEKTSV4RRFFQ69G5FAV", "evt_01ARZ3NDEKTSV4RRFFQ69G5FA!", "evt_01ARZ3NDEKTSV4RRFFQ69G5FAVX"} {
		if _, err := ParseID("evt_", bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestGetEventsMissingIsNil(t *testing.T) {
	s := openTest(t, "")
	res, err := s.Append("acme", []EventInput{ev("a", "", `1`)})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.GetEvents("acme", []ID{res.IDs[0], s.NewID()})
	if err != nil || len(evs) != 2 || evs[0] == nil || evs[1] != nil {
		t.Fatalf("GetEvents = %v, %v; want the stored event and nil", evs, err)
	}
}

// A failed sync fails the store like a failed write: the group it
// belonged to is not acknowledged, nor is anything after it.
func TestSyncFailureIsFailStop(t *testing.T) {
	s := openTest(t, "")
	if _, err := s.Append("acme", []EventInput{ev("a", "", `1`)}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("input/output error")
	s.injectSyncErr.Store(&boom)
	if _, err := s.Append("acme", []EventInput{ev("a", "", `2`)}); err == nil {
		t.Fatal("append acknowledged although its sync failed")
	}
	s.injectSyncErr.Store(nil) // the disk "recovers": the store must stay failed
	var f *FailedError
	if err := s.Err(); !errors.As(err, &f) || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("Err() = %v, want the sync failure", err)
	}
	if _, err := s.Append("acme", []EventInput{ev("a", "", `3`)}); err == nil {
		t.Error("append acknowledged after a sync failure")
	}
	if s.Ready() == nil {
		t.Error("Ready() = nil after a sync failure")
	}
}

// Many events missing from the cache are read in one scan; gaps (events
// of other webhooks), ids never stored and cached ones mix with them.
func TestGetEventsScan(t *testing.T) {
	s := openTest(t, "")
	var in []EventInput
	for i := 0; i < 60; i++ {
		in = append(in, ev("a", "", fmt.Sprintf(`{"n":%d}`, i)))
	}
	var all []ID
	var other ID // an id between acme's, of another tenant: not acme's
	for _, part := range [][]EventInput{in[:30], nil, in[30:]} {
		if part == nil {
			r, err := s.Append("other", in[:1])
			if err != nil {
				t.Fatal(err)
			}
			other = r.IDs[0]
			continue
		}
		r, err := s.Append("acme", part)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r.IDs...)
	}
	res := AppendResult{IDs: all}
	var ids []ID
	want := map[int]int{} // position in ids → event number (-1: none)
	for i := 0; i < 60; i += 3 {
		if i == 30 {
			want[len(ids)] = -1
			ids = append(ids, other)
		}
		want[len(ids)] = i
		ids = append(ids, res.IDs[i])
	}
	// Out of order (not a queue's order): still right, by lookups.
	want[len(ids)] = -1
	ids = append(ids, s.NewID())
	want[len(ids)] = 1
	ids = append(ids, res.IDs[1])
	// In queue order, the scan alone finds every stored one (the lookups
	// after it only finish what it left).
	sorted := ids[:len(ids)-2]
	out := make([]*Event, len(sorted))
	if err := s.db.View(func(txn *badger.Txn) error { return scanEvents(txn, "acme", sorted, out) }); err != nil {
		t.Fatal(err)
	}
	for p, e := range out {
		if (e != nil) != (want[p] >= 0) {
			t.Errorf("scan: position %d filled %v, want %v", p, e != nil, want[p] >= 0)
		}
	}
	for _, budget := range []bool{false, true} {
		q := ids
		if budget { // far apart: the scan gives up, lookups finish
			q = []ID{res.IDs[0], res.IDs[1], res.IDs[2], res.IDs[3], res.IDs[4], res.IDs[5], res.IDs[6], res.IDs[59]}
		}
		evs, err := s.GetEvents("acme", q)
		if err != nil || len(evs) != len(q) {
			t.Fatalf("GetEvents: %d, %v", len(evs), err)
		}
		for p, e := range evs {
			n, ok := want[p]
			if budget {
				n, ok = []int{0, 1, 2, 3, 4, 5, 6, 59}[p], true
			}
			switch {
			case !ok:
				t.Fatalf("position %d unexpected", p)
			case n < 0 && e != nil:
				t.Errorf("position %d: got %s for an id never stored", p, e.Data)
			case n >= 0 && (e == nil || string(e.Data) != fmt.Sprintf(`{"n":%d}`, n) || e.ID != q[p]):
				t.Errorf("position %d: got %+v, want event %d", p, e, n)
			}
		}
	}
}

// Badger's caches take a twelfth of the memory limit each, between 8 and
// 32 MiB, and 32 MiB without a limit; the store opens Badger with them.
func TestCacheBytesFor(t *testing.T) {
	for _, c := range []struct{ limit, want int64 }{
		{0, 32 << 20},
		{64 << 20, 8 << 20},           // a twelfth would be 5.3 MiB
		{200 << 20, (200 << 20) / 12}, // the default limit: 16.7 MiB
		{384 << 20, 32 << 20},
		{4 << 30, 32 << 20},
	} {
		if got := CacheBytesFor(c.limit); got != c.want {
			t.Errorf("CacheBytesFor(%d MiB) = %d, want %d", c.limit>>20, got, c.want)
		}
	}
	opts := Options{Dir: t.TempDir()}
	opts.setDefaults()
	if bo := badgerOptions(opts); bo.BlockCacheSize != 32<<20 || bo.IndexCacheSize != 32<<20 {
		t.Errorf("default caches: block %d, index %d; want 32 MiB each", bo.BlockCacheSize, bo.IndexCacheSize)
	}
	opts.BlockCacheSize, opts.IndexCacheSize = 16<<20, 12<<20
	if bo := badgerOptions(opts); bo.BlockCacheSize != 16<<20 || bo.IndexCacheSize != 12<<20 {
		t.Errorf("caches set to 16 and 12 MiB: block %d, index %d", bo.BlockCacheSize, bo.IndexCacheSize)
	}
}

// A tenant's event types stop at maxEventTypes: publishing past it stores
// and queues the events but registers no new type, and creating one by
// hand is ErrTypeLimit until one is deleted.
func TestEventTypesBounded(t *testing.T) {
	defer func(n int) { maxEventTypes = n }(maxEventTypes)
	maxEventTypes = 3
	s := openTest(t, "")
	var in []EventInput
	for i := range 5 {
		in = append(in, ev(fmt.Sprintf("t%d", i), "", `1`))
	}
	res, err := s.Append("acme", in)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range res.IDs {
		if _, err := s.GetEvent("acme", id); err != nil {
			t.Fatalf("event past the type bound not stored: %v", err)
		}
	}
	types, _, err := s.ListEventTypes("acme", "", 100)
	if err != nil || len(types) != 3 {
		t.Fatalf("registered %d types (%v), want 3", len(types), err)
	}
	if _, err := s.CreateEventType("acme", EventType{Name: "x"}); !errors.Is(err, ErrTypeLimit) {
		t.Fatalf("create past the bound: %v, want ErrTypeLimit", err)
	}
	if _, err := s.CreateEventType("other", EventType{Name: "x"}); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	if err := s.DeleteEventType("acme", types[0].Name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateEventType("acme", EventType{Name: "x"}); err != nil {
		t.Fatalf("create after a delete: %v", err)
	}
}

// A data directory removed, or removed and made again, under an open
// store fails it: Badger's files still take writes and syncs, but no
// restart would find them. The space loop notices within a tick; nothing
// is acknowledged after, Ready says why, and Close returns (Badger, whose
// flush into the missing directory would retry for ever, is left open).
func TestDataDirGone(t *testing.T) {
	for _, remake := range []bool{false, true} {
		name := "removed"
		if remake {
			name = "replaced"
		}
		t.Run(name, func(t *testing.T) {
			old := spaceInterval
			spaceInterval = 10 * time.Millisecond
			t.Cleanup(func() { spaceInterval = old })
			dir := filepath.Join(t.TempDir(), "data")
			s, err := Open(Options{Dir: dir, MinFreeBytes: -1}) // no reserve: the check runs without one
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append("acme", []EventInput{ev("a", "", `1`)}); err != nil {
				t.Fatal(err)
			}
			s.checkDir()
			if err := s.Err(); err != nil {
				t.Fatalf("failed with its directory in place: %v", err)
			}
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if remake {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, func() bool { return s.Err() != nil })
			var f *FailedError
			if err := s.Err(); !errors.As(err, &f) || !strings.Contains(err.Error(), "data directory") {
				t.Fatalf("Err() = %v, want the directory named", err)
			}
			if _, err := s.Append("acme", []EventInput{ev("a", "", `2`)}); err == nil {
				t.Error("append acknowledged after the data directory went")
			}
			if s.Ready() == nil {
				t.Error("Ready() = nil after the data directory went")
			}
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			select {
			case err := <-closed:
				if err == nil {
					t.Error("Close() = nil; want the failure")
				}
			case <-time.After(time.Minute):
				t.Fatal("Close did not return")
			}
		})
	}
}
