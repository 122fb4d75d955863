package wal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// floorStore is a store on a clock the test moves, with one webhook of
// maxBatchSize 1 and n events in its queue.
type floorStore struct {
	t      *testing.T
	s      *Store
	dir    string
	mu     sync.Mutex
	now    time.Time
	wh     ID
	events []ID
	opened int // events taken into batches so far
}

func newFloorStore(t *testing.T, n int) *floorStore {
	f := &floorStore{t: t, dir: t.TempDir(), now: time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)}
	f.s = f.open(f.dir)
	w := createHook(t, f.s, 1)
	f.wh = w.ID
	for range n {
		res, err := f.s.Append("acme", []EventInput{ev("t", "", `1`)})
		if err != nil {
			t.Fatal(err)
		}
		f.events = append(f.events, res.IDs...)
	}
	return f
}

func (f *floorStore) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *floorStore) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *floorStore) open(dir string) *Store {
	f.t.Helper()
	s, err := Open(Options{Dir: dir, Now: f.clock})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}

// openNext opens the next queued event as a batch of its own, on store s.
func (f *floorStore) openNext(s *Store) *Batch {
	f.t.Helper()
	e := f.events[f.opened]
	var from Cursor
	if f.opened > 0 {
		from = at(f.events[f.opened-1])
	}
	b := &Batch{ID: s.NewID(), WebhookID: f.wh, Tenant: "acme", Status: BatchPending, Events: []BatchEvent{{ID: e, Type: "t"}}}
	if err := s.OpenBatchesLazy(fence(s), f.wh, from, at(e), b); err != nil {
		f.t.Fatal(err)
	}
	f.opened++
	return b
}

func (f *floorStore) result(s *Store, b *Batch, status string) {
	f.t.Helper()
	b.Status = status
	b.Attempts++
	if err := s.SaveResult(fence(s), b, nil, nil); err != nil {
		f.t.Fatal(err)
	}
}

// crashImage copies the store's files as they stand, without Close (which
// would flush the memtable), and opens the copy: what a restart after
// kill -9 finds.
func (f *floorStore) crashImage() *Store {
	f.t.Helper()
	image := f.t.TempDir()
	for _, name := range dirNames(f.t, f.dir) {
		if name != "LOCK" {
			copyFile(f.t, filepath.Join(f.dir, name), filepath.Join(image, name))
		}
	}
	return f.open(image)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// indexedIDs lists the batches that have an o/ entry.
func indexedIDs(t *testing.T, s *Store) []ID {
	t.Helper()
	var ids []ID
	err := s.db.View(func(txn *badger.Txn) error {
		pfx := []byte{pfxOpen, '/'}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx})
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(pfx); it.Next() {
			var id ID
			copy(id[:], it.Item().Key()[18:])
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func openIDs(t *testing.T, s *Store) []ID {
	t.Helper()
	var ids []ID
	if err := s.EachOpenBatch(Part{}, func(b *Batch) error {
		ids = append(ids, b.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids, compareID)
	return ids
}

func idsOf(bs ...*Batch) []ID {
	var ids []ID
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	slices.SortFunc(ids, compareID)
	return ids
}

func names(ids []ID, bs ...*Batch) string {
	var out []string
	for _, id := range ids {
		n := id.Text("bat_")
		for i, b := range bs {
			if b.ID == id {
				n = "b" + string(rune('0'+i))
			}
		}
		out = append(out, n)
	}
	return "[" + strings.Join(out, " ") + "]"
}

// A batch opened and ended within indexAfter never gets an o/ entry, yet
// every open batch is found after a crash: those in the open index, and
// those at or above the floor stored with the cursor. One still open
// indexAfter after it was made gets its entry at its webhook's next open,
// and loses it when it ends.
func TestOpenFloor(t *testing.T) {
	f := newFloorStore(t, 8)
	s := f.s
	var b [8]*Batch
	for i := range 5 {
		b[i] = f.openNext(s)
	}
	f.result(s, b[0], BatchDelivered)
	f.result(s, b[1], BatchDelivered)
	f.result(s, b[3], BatchRetrying) // outlives its first attempt: indexed
	if got := indexedIDs(t, s); !slices.Equal(got, idsOf(b[3])) {
		t.Errorf("o/ entries = %s, want [b3] (the others were never indexed or ended young)", names(got, b[:]...))
	}
	want := idsOf(b[2], b[3], b[4])
	if got := openIDs(t, s); !slices.Equal(got, want) {
		t.Errorf("EachOpenBatch = %s, want [b2 b3 b4]", names(got, b[:]...))
	}
	r := f.crashImage()
	if got := openIDs(t, r); !slices.Equal(got, want) {
		t.Errorf("EachOpenBatch after a crash = %s, want [b2 b3 b4]", names(got, b[:]...))
	}

	// b2 and b4 are still open a second later: the next open indexes them.
	f.advance(2 * indexAfter)
	b[5] = f.openNext(s)
	if got := indexedIDs(t, s); !slices.Equal(got, idsOf(b[2], b[3], b[4])) {
		t.Errorf("o/ entries after the next open = %s, want [b2 b3 b4]", names(got, b[:]...))
	}
	f.result(s, b[2], BatchDelivered)
	f.result(s, b[5], BatchDelivered)
	if got := indexedIDs(t, s); !slices.Equal(got, idsOf(b[3], b[4])) {
		t.Errorf("o/ entries after b2 and b5 ended = %s, want [b3 b4]", names(got, b[:]...))
	}
	want = idsOf(b[3], b[4])
	if got := openIDs(t, s); !slices.Equal(got, want) {
		t.Errorf("EachOpenBatch = %s, want [b3 b4]", names(got, b[:]...))
	}
	if got := openIDs(t, f.crashImage()); !slices.Equal(got, want) {
		t.Errorf("EachOpenBatch after a second crash = %s, want [b3 b4]", names(got, b[:]...))
	}

	// The store opened on the first crash image found b2 and b4 unindexed
	// above the floor: they age there too, and ending one there deletes
	// the entry its aging wrote.
	if got := len(r.unidx.batches); got != 2 {
		t.Errorf("unindexed batches loaded at open = %d, want 2 (b2, b4)", got)
	}
	f.opened = 5
	b[6] = f.openNext(r)
	if got := indexedIDs(t, r); !slices.Equal(got, idsOf(b[2], b[3], b[4])) {
		t.Errorf("o/ entries on the reopened store = %s, want [b2 b3 b4]", names(got, b[:]...))
	}
	f.result(r, b[4], BatchDelivered)
	if got := indexedIDs(t, r); !slices.Equal(got, idsOf(b[2], b[3])) {
		t.Errorf("o/ entries after b4 ended = %s, want [b2 b3]", names(got, b[:]...))
	}
}

// A result and an open of the same webhook in one group, in either order:
// the batch the result ends is left without an o/ entry, whether or not
// the open ages it.
func TestOpenFloorOneGroup(t *testing.T) {
	for _, resultFirst := range []bool{true, false} {
		f := newFloorStore(t, 3)
		s := f.s
		a := f.openNext(s)
		f.advance(2 * indexAfter) // a is old enough to be indexed at the next open
		holding, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		hook := func() { once.Do(func() { close(holding); <-release }) }
		s.beforeWrite.Store(&hook)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the group the committer holds, so that the next two go together
			defer wg.Done()
			if _, err := s.Append("acme", []EventInput{ev("u", "", `2`)}); err != nil {
				t.Error(err)
			}
		}()
		<-holding
		waitPending := func(n int) {
			for {
				s.mu.Lock()
				p := len(s.pending)
				s.mu.Unlock()
				if p >= n {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}
		var opened *Batch
		steps := []func(){
			func() { f.result(s, a, BatchDelivered) },
			func() { opened = f.openNext(s) },
		}
		if !resultFirst {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for i, step := range steps {
			wg.Add(1)
			go func() { defer wg.Done(); step() }()
			waitPending(i + 1)
		}
		close(release)
		wg.Wait()
		if got := indexedIDs(t, s); len(got) != 0 {
			t.Errorf("result first %v: o/ entries = %s, want none (a ended, the new batch is young)", resultFirst, names(got, a, opened))
		}
		if got := openIDs(t, f.crashImage()); !slices.Equal(got, idsOf(opened)) {
			t.Errorf("result first %v: EachOpenBatch after a crash = %s, want the new batch", resultFirst, names(got, a, opened))
		}
	}
}

// Random opens, results and clock moves on two webhooks: after every step
// EachOpenBatch (what a restart reads) finds exactly the open batches,
// and every o/ entry is an open batch's. Now and then the store is
// reopened, so that batches loaded unindexed at open go through the same
// rules.
func TestOpenFloorRandom(t *testing.T) {
	const steps = 400
	f := newFloorStore(t, steps)
	s := f.s
	w2 := &Webhook{ID: s.NewWebhookID(), Tenant: "beta", URL: "http://y", IsActive: true, MaxBatchSize: 1}
	if err := s.CreateWebhook(w2); err != nil {
		t.Fatal(err)
	}
	var e2 []ID
	for range steps {
		res, err := s.Append("beta", []EventInput{ev("t", "", `2`)})
		if err != nil {
			t.Fatal(err)
		}
		e2 = append(e2, res.IDs...)
	}
	opened2, reopens := 0, 0
	open := map[ID]*Batch{}
	rng := uint64(0x9E3779B97F4A7C15)
	next := func(n int) int { // xorshift: the same sequence every run
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % uint64(n))
	}
	for step := 0; step < steps; step++ {
		switch k := next(10); {
		case k < 4 && f.opened < steps:
			b := f.openNext(s)
			open[b.ID] = b
		case k < 5 && opened2 < steps:
			e := e2[opened2]
			var from Cursor
			if opened2 > 0 {
				from = at(e2[opened2-1])
			}
			b := &Batch{ID: s.NewID(), WebhookID: w2.ID, Tenant: "beta", Status: BatchPending, Events: []BatchEvent{{ID: e, Type: "t"}}}
			if err := s.OpenBatchesLazy(fence(s), w2.ID, from, at(e), b); err != nil {
				t.Fatal(err)
			}
			opened2++
			open[b.ID] = b
		case k < 8 && len(open) > 0:
			ids := make([]ID, 0, len(open))
			for id := range open {
				ids = append(ids, id)
			}
			slices.SortFunc(ids, compareID)
			b := open[ids[next(len(ids))]]
			status := [...]string{BatchDelivered, BatchRetrying, BatchExpired, BatchDelivered}[next(4)]
			f.result(s, b, status)
			if !b.Open() {
				delete(open, b.ID)
			}
		case k < 9:
			f.advance(time.Duration(next(1500)) * time.Millisecond)
		default:
			if next(4) == 0 {
				// A reopen, not a crash image: Badger flushes at open
				// in the background, and a copy taken meanwhile is not
				// one a kill would leave. TestOpenFloor takes those.
				s.Close()
				s = f.open(f.dir)
				f.s = s
				reopens++
				for _, b := range open { // the versions as stored
					got, err := s.GetBatch(b.Tenant, b.WebhookID, b.ID)
					if err != nil {
						t.Fatal(err)
					}
					b.Version = got.Version
				}
			}
		}
		want := make([]ID, 0, len(open))
		for id := range open {
			want = append(want, id)
		}
		slices.SortFunc(want, compareID)
		if got := openIDs(t, s); !slices.Equal(got, want) {
			t.Fatalf("step %d: EachOpenBatch finds %d batches, want the %d open: %s, want %s", step, len(got), len(want), names(got), names(want))
		}
		for _, id := range indexedIDs(t, s) {
			if open[id] == nil {
				t.Fatalf("step %d: an o/ entry for %s, which has ended", step, id.Text("bat_"))
			}
		}
	}
	if reopens < 3 {
		t.Errorf("%d reopens: the sequence no longer exercises them", reopens)
	}
}
