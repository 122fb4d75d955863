package wal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDisk is an injected statfs: free bytes the test sets, and a count of
// how often the store asked.
type fakeDisk struct {
	free  atomic.Uint64
	calls atomic.Int64
}

func (d *fakeDisk) statfs(string) (uint64, error) {
	d.calls.Add(1)
	return d.free.Load(), nil
}

const (
	testReserve = 100 << 20
	testFloor   = testReserve / 2
)

// openSpaceTest opens a store whose free space is the fake disk's, with a
// reserve of 100 MiB (floor 50 MiB) and the ticker at every.
func openSpaceTest(t *testing.T, d *fakeDisk, every time.Duration) *Store {
	t.Helper()
	old := spaceInterval
	spaceInterval = every
	t.Cleanup(func() { spaceInterval = old })
	s, err := Open(Options{Dir: t.TempDir(), MinFreeBytes: testReserve, statfs: d.statfs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newFakeDisk(free uint64) *fakeDisk {
	d := &fakeDisk{}
	d.free.Store(free)
	return d
}

// Below the reserve: events and webhooks are refused with a SpaceError
// (ErrNoSpace, and ErrFull for callers that only know "retry later"),
// Ready reports it, and the delivery bookkeeping goes on. Below the floor
// that is refused too. Once space returns the ticker lifts it all.
func TestSpaceReserve(t *testing.T) {
	d := newFakeDisk(1 << 30)
	s := openSpaceTest(t, d, time.Hour) // measures only when told
	w := createHook(t, s, 10)
	res, err := s.Append("acme", []EventInput{ev("a", "", `1`), ev("a", "", `2`)})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(id ID) *Batch {
		return &Batch{ID: s.NewID(), WebhookID: w.ID, Tenant: "acme", Status: BatchPending,
			Events: []BatchEvent{{ID: id, Type: "a"}}}
	}

	d.free.Store(testReserve - 1)
	if err := s.space.measure(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Append("acme", []EventInput{ev("a", "", `3`)})
	var se *SpaceError
	if !errors.As(err, &se) || !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrFull) {
		t.Fatalf("append below the reserve = %v, want a SpaceError matching ErrNoSpace and ErrFull", err)
	}
	if se.Free != testReserve-1 || se.Need != testReserve || !strings.Contains(se.Error(), "storage.min_free_bytes") {
		t.Errorf("SpaceError = %+v %q", se, se)
	}
	if err := s.CreateWebhook(&Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "http://y", IsActive: true}); !errors.Is(err, ErrNoSpace) {
		t.Errorf("create webhook below the reserve = %v, want ErrNoSpace", err)
	}
	if err := s.Ready(); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Ready below the reserve = %v, want ErrNoSpace", err)
	}
	b := batch(res.IDs[0])
	if err := s.OpenBatches(fence(s), w.ID, Cursor{}, at(res.IDs[0]), b); err != nil {
		t.Errorf("open batch below the reserve = %v, want it stored (delivery goes on)", err)
	}
	b.Status = BatchDelivered
	if err := s.SaveResult(fence(s), b, &Attempt{ID: s.NewID(), BatchID: b.ID, WebhookID: w.ID, Tenant: "acme", Status: AttemptSucceeded}, nil); err != nil {
		t.Errorf("save result below the reserve = %v", err)
	}
	if s.Err() != nil {
		t.Fatalf("refusals made the store fail: %v", s.Err())
	}

	d.free.Store(testFloor - 1)
	if err := s.space.measure(); err != nil {
		t.Fatal(err)
	}
	if err := s.OpenBatches(fence(s), w.ID, at(res.IDs[0]), at(res.IDs[1]), batch(res.IDs[1])); !errors.As(err, &se) || se.Need != testFloor {
		t.Errorf("open batch below the floor = %v, want a SpaceError needing the floor", err)
	}
	if err := s.syncBarrier(); err != nil {
		t.Errorf("sync barrier below the floor = %v (it writes nothing)", err)
	}

	d.free.Store(1 << 30)
	if err := s.space.measure(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("acme", []EventInput{ev("a", "", `4`)}); err != nil || s.Ready() != nil {
		t.Errorf("after space returned: append = %v, Ready = %v", err, s.Ready())
	}
}

// TestSpaceRecoversByItself: the periodic measure lifts the refusal.
func TestSpaceRecoversByItself(t *testing.T) {
	d := newFakeDisk(testReserve - 1)
	s := openSpaceTest(t, d, time.Millisecond)
	if err := s.Ready(); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Ready when opened below the reserve = %v, want ErrNoSpace", err)
	}
	if _, err := s.Append("acme", []EventInput{ev("a", "", `1`)}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("append = %v, want ErrNoSpace", err)
	}
	d.free.Store(testReserve)
	waitFor(t, func() bool { return s.Ready() == nil })
	if _, err := s.Append("acme", []EventInput{ev("a", "", `2`)}); err != nil {
		t.Fatalf("append after space returned = %v", err)
	}
}

// The committer measures before a transaction only when its own writes
// since the last measure may have taken free space under the reserve: a
// disk filled behind its back is noticed within the reserve's margin.
func TestSpaceEstimateTriggersMeasure(t *testing.T) {
	d := newFakeDisk(testReserve + 216<<10)
	s := openSpaceTest(t, d, time.Hour)
	data := incompressible(16 << 10)
	// The first commit measures: Open counted the log files it allocated.
	if _, err := s.Append("acme", []EventInput{{Type: "a", Data: data}}); err != nil {
		t.Fatal(err)
	}
	calls := d.calls.Load()
	if _, err := s.Append("acme", []EventInput{{Type: "a", Data: data}}); err != nil {
		t.Fatal(err)
	}
	if got := d.calls.Load(); got != calls {
		t.Errorf("statfs called %d times for a commit far from the reserve, want 0", got-calls)
	}
	d.free.Store(testReserve - 1) // someone else fills the disk
	n := 0
	for ; n < 100; n++ {
		if _, err := s.Append("acme", []EventInput{{Type: "a", Data: data}}); errors.Is(err, ErrNoSpace) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// 200 KiB of margin, 16 KiB (and keys) per append.
	if n < 5 || n > 14 {
		t.Errorf("refused after %d more appends, want about 12 (200 KiB / 16 KiB)", n)
	}
}

func TestOpenRefusesBelowFloor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d := newFakeDisk(testFloor - 1)
	_, err := Open(Options{Dir: dir, MinFreeBytes: testReserve, statfs: d.statfs})
	var se *SpaceError
	if !errors.As(err, &se) || !se.Open {
		t.Fatalf("Open below the floor = %v, want a SpaceError from Open", err)
	}
	for _, want := range []string{dir, "50.0 MiB", "52428800 bytes", "free"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not name %q", err, want)
		}
	}
	// Nothing of Badger's was created: the refusal came first.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Open below the floor left %d files in %s", len(ents), dir)
	}
	// Between the floor and the reserve it opens, not ready.
	d.free.Store(testFloor)
	s, err := Open(Options{Dir: dir, MinFreeBytes: testReserve, statfs: d.statfs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(); !errors.Is(err, ErrNoSpace) {
		t.Errorf("Ready = %v, want ErrNoSpace", err)
	}
}

// One transaction writes at most half a value-log file of values beside
// other ops, so that what Badger writes through its maps between two
// checks stays within the floor.
func TestCommitBoundsValueLogBytes(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), ValueLogFileSize: 1 << 20, MinFreeBytes: -1}) // 512 KiB per commit
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	val := bytes.Repeat([]byte("v"), 200<<10)
	var ops []*op
	for i := 0; i < 5; i++ {
		key := []byte{'z', byte(i)}
		o := &op{weight: 1, lazy: true, done: make(chan struct{}), apply: func(g *group) error { g.set(key, val, 0); return nil }}
		ops = append(ops, o)
	}
	var per []int
	for rest := ops; len(rest) > 0; {
		next := s.commitGroup(rest)
		per = append(per, len(rest)-len(next))
		rest = next
	}
	if want := []int{2, 2, 1}; !equalInts(per, want) {
		t.Errorf("ops per transaction = %v, want %v", per, want)
	}
	for _, o := range ops {
		if o.err != nil {
			t.Error(o.err)
		}
	}
}

// The newest memtable log and value-log file are allocated on disk when
// the store opens, and a rotated-in file as soon as the syncer sees it.
func TestPreallocate(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MemTableSize: 4 << 20, ValueLogFileSize: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.memLogs.noAlloc.Load() {
		t.Skip("this filesystem cannot allocate ahead (fallocate)")
	}
	allocated := func(l *rotatingLog, n int) int64 {
		fi, err := os.Stat(l.path(n))
		if err != nil {
			t.Fatal(err)
		}
		return blocks(fi)
	}
	mem0, vlog0 := s.memLogs.last(), s.vlogs.last()
	if got, want := allocated(s.memLogs, mem0), memLogAlloc(4<<20); got < want {
		t.Errorf("memtable log %d: %d bytes allocated, want >= %d", mem0, got, want)
	}
	if got, want := allocated(s.vlogs, vlog0), int64(4<<20); got < want {
		t.Errorf("value log %d: %d bytes allocated, want the whole mapped file (%d)", vlog0, got, want)
	}
	// Rotate both: values of 4 KiB go to the value log, small events to
	// the memtable.
	appendUntil := func(data []byte, per int, rotated func() bool) {
		for i := 0; i < 2000 && !rotated(); i++ {
			evs := make([]EventInput, per)
			for k := range evs {
				evs[k] = EventInput{Type: "a", Data: data}
			}
			if _, err := s.Append("acme", evs); err != nil {
				t.Fatal(err)
			}
		}
		if !rotated() {
			t.Fatalf("no rotation: memtable log %d, value log %d", s.memLogs.last(), s.vlogs.last())
		}
	}
	appendUntil(incompressible(4<<10), 20, func() bool { return s.vlogs.last() != vlog0 })
	appendUntil([]byte(`{"n":1}`), 500, func() bool { return s.memLogs.last() != mem0 })
	if n := s.vlogs.last(); allocated(s.vlogs, n) < 4<<20 {
		t.Errorf("rotated-in value log %d not allocated: %d bytes", n, allocated(s.vlogs, n))
	}
	if n := s.memLogs.last(); allocated(s.memLogs, n) < memLogAlloc(4<<20) {
		t.Errorf("rotated-in memtable log %d not allocated: %d bytes", n, allocated(s.memLogs, n))
	}
}

// incompressible is n bytes that stay n bytes in the store (events over
// 1 KiB are compressed), as JSON: a hex string.
func incompressible(n int) []byte {
	b := make([]byte, n/2)
	rand.Read(b)
	return []byte(`"` + hex.EncodeToString(b)[:n-2] + `"`)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// waitFor polls cond until it holds or 5 s have passed.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond) // polling the store's own ticker
	}
}
