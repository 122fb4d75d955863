package wal

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// compactorsRunning counts Badger's compactor goroutines.
func compactorsRunning() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("(*levelsController).runCompactor("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitCompactors polls until want compactor goroutines run, or fails.
func waitCompactors(t *testing.T, what string, want func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n := compactorsRunning(); !want(n); n = compactorsRunning() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d compactor goroutines after 10 s", what, n)
		}
		time.Sleep(5 * time.Millisecond) // polling another goroutine's state: nothing to wait on
	}
}

// The compactors pause once no level needs them, and a write that
// leaves every level so does not start them again (it used to: under a
// light load they then woke 40 times a second beside the events); the
// store reads and writes as before throughout, and closes cleanly while
// they are stopped.
func TestCompactorsStayPausedThroughWrites(t *testing.T) {
	// Restored after the store's Close (cleanups run last first): its
	// gcLoop reads trimInterval until then.
	t.Cleanup(func(d time.Duration) func() { return func() { trimInterval = d } }(trimInterval))
	trimInterval = 5 * time.Millisecond
	s := openTest(t, "")
	// Paused, not merely not started yet (Badger starts them after Open).
	paused := func(n int) bool { return n == 0 && s.compactors.paused.Load() }
	waitCompactors(t, "idle", paused)
	res, err := s.Append("acme", []EventInput{ev("a", "", `{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	ticks := s.compactors.ticks.Load()
	waitFor(t, func() bool { return s.compactors.ticks.Load() >= ticks+3 })
	if n := compactorsRunning(); !paused(n) {
		t.Fatalf("%d compactor goroutines three trim ticks after a write that left every level quiet", n)
	}
	if e, err := s.GetEvent("acme", res.IDs[0]); err != nil || string(e.Data) != `{"n":1}` {
		t.Fatalf("GetEvent = %v, %v", e, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close with the compactors paused: %v", err)
	}
}

// Paused compactors start once L0 fills to Badger's trigger (memtable
// flushes), compact it, and pause again once every level is quiet.
func TestCompactorsStartWhenL0Fills(t *testing.T) {
	t.Cleanup(func(d time.Duration) func() { return func() { trimInterval = d } }(trimInterval))
	trimInterval = 5 * time.Millisecond
	s, _ := tablesStore(t, 0) // opened, nothing written yet
	t.Cleanup(func() { s.Close() })
	paused := func(n int) bool { return n == 0 && s.compactors.paused.Load() }
	waitCompactors(t, "idle", paused)
	ids := appendHundreds(t, s, 200, tableData) // ~9 MB in 1 MiB memtables: L0 reaches 5 tables
	deadline := time.Now().Add(20 * time.Second)
	for below := 0; below == 0; {
		for _, l := range s.db.Levels()[1:] {
			below += l.NumTables
		}
		if time.Now().After(deadline) {
			t.Fatalf("no table compacted out of L0 20 s after ~9 MB (L0 %d tables, compactors paused %v)",
				s.db.Levels()[0].NumTables, s.compactors.paused.Load())
		}
		time.Sleep(5 * time.Millisecond) // Badger's flushes and compactions: nothing to wait on
	}
	waitCompactors(t, "quiet again", paused)
	readsBack(t, s, ids, tableData, "after the compaction")
}

// A store whose L0 holds fewer tables than Badger compacts (its score
// under 1: a memtable or two flushed since the last L0 compaction, as in
// most stores that have taken any load) is idle too: its compactors
// pause. They used to run for ever there, at ~1% of a core on the soak's
// store.
func TestCompactorsPauseWithTablesInL0(t *testing.T) {
	t.Cleanup(func(d time.Duration) func() { return func() { trimInterval = d } }(trimInterval))
	trimInterval = 5 * time.Millisecond
	s, _ := tablesStore(t, 40) // ~2 MB in 1 MiB memtables: one flush or two
	t.Cleanup(func() { s.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for s.db.Levels()[0].NumTables == 0 {
		if time.Now().After(deadline) {
			t.Fatal("setup: no table in L0 10 s after ~2 MB in 1 MiB memtables")
		}
		time.Sleep(5 * time.Millisecond) // Badger's flush: nothing to wait on
	}
	waitCompactors(t, "idle with tables in L0", func(n int) bool { return n == 0 && s.compactors.paused.Load() })
	if l0 := s.db.Levels()[0]; l0.NumTables == 0 || l0.NumTables >= s.db.Opts().NumLevelZeroTables {
		t.Fatalf("setup: %d tables in L0 (Badger compacts it at %d)", l0.NumTables, s.db.Opts().NumLevelZeroTables)
	}
	// What /metrics shows of it (hookd_storage_l0_tables, _stall).
	if n, stall := s.LevelZero(); n != s.db.Levels()[0].NumTables || stall != 15 {
		t.Errorf("LevelZero() = %d, %d; want %d tables, Badger's stall 15", n, stall, s.db.Levels()[0].NumTables)
	}
}

// A store that opens quiet stops the compactors Badger starts at the
// first tick. Once they have run, they pause after compactionIdle with
// every level quiet, however often the trims tick meanwhile (every 62 ms
// while tables are busy): counting ticks would stop and start them
// several times a second under a light load.
func TestCompactorsPauseAfterIdleTime(t *testing.T) {
	t.Cleanup(func(d time.Duration) func() { return func() { trimInterval = d } }(trimInterval))
	trimInterval = time.Hour // gcLoop never ticks: the test does
	s := openTest(t, "")
	c := s.compactors
	c.tick(time.Nanosecond)
	if !c.paused.Load() {
		t.Fatal("a store opened with every level quiet: compactors still running after the first tick")
	}
	c.start() // as after a compaction: quiet from now on
	step := compactionIdle() / 32
	for range 31 {
		c.tick(step)
	}
	if c.paused.Load() {
		t.Fatalf("paused after %v quiet, under compactionIdle (%v)", 31*step, compactionIdle())
	}
	c.tick(step)
	if !c.paused.Load() {
		t.Fatalf("not paused after %v quiet", 32*step)
	}
}

// tableData is the data of tablesStore's events.
var tableData = `"` + strings.Repeat("y", 400) + `"`

// tablesStore opens a store of 1 MiB memtables that keeps values under
// 1 KiB in its LSM tree and appends n requests of 100 events of
// tableData, so that memtables are flushed to tables.
func tablesStore(t *testing.T, n int) (*Store, []ID) {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir(), MemTableSize: 1 << 20, ValueThreshold: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return s, appendHundreds(t, s, n, tableData)
}

// appendHundreds appends n requests of 100 events whose data is data, and
// returns the events' IDs.
func appendHundreds(t *testing.T, s *Store, n int, data string) []ID {
	t.Helper()
	var ids []ID
	for range n {
		in := make([]EventInput, 100)
		for j := range in {
			in[j] = ev("a", "", data)
		}
		res, err := s.Append("acme", in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.IDs...)
	}
	return ids
}

// A table keeps the compression it was built with (Badger's MANIFEST
// records it per table), so storage.compression may change between
// starts, either way, and every event still reads back.
func TestCompressionChangeBetweenStarts(t *testing.T) {
	dir := t.TempDir()
	data := `"` + strings.Repeat("z", 100) + `"` // under the value threshold: in the tables
	var ids []ID
	for i, off := range []bool{false, true, false} {
		s, err := Open(Options{Dir: dir, MemTableSize: 1 << 20, NoCompression: off})
		if err != nil {
			t.Fatalf("start %d (NoCompression %v): %v", i, off, err)
		}
		readsBack(t, s, ids, data, fmt.Sprintf("at start %d (NoCompression %v)", i, off))
		ids = append(ids, appendHundreds(t, s, 20, data)...)
		if err := s.Close(); err != nil { // flushes the memtable: a table of this compression
			t.Fatal(err)
		}
	}
	if tables, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(tables) < 3 {
		t.Fatalf("setup: %d tables; want one per start at least", len(tables))
	}
}

// readsBack checks that every event of ids reads back from s with data.
func readsBack(t *testing.T, s *Store, ids []ID, data, when string) {
	t.Helper()
	evs, err := s.GetEvents("acme", ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if e == nil || string(e.Data) != data {
			t.Fatalf("event %d of %d %s = %+v", i, len(ids), when, e)
		}
	}
}
