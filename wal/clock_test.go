package wal

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// Badger may drop a version once no reader can see it: the discard point
// the clock gives it stays at the oldest open reader's timestamp, and
// follows the commits when none is open.
func TestClockDiscardFollowsOldestReader(t *testing.T) {
	// In memory: no trim opens a reader of its own meanwhile.
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.clock
	put := func(v string) {
		t.Helper()
		if err := s.write([]entry{{e: badger.NewEntry([]byte("k"), []byte(v))}}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(txn *badger.Txn) string {
		t.Helper()
		item, err := txn.Get([]byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	discard := func() uint64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.discard
	}
	put("1")
	first := c.last
	if d := discard(); d != first {
		t.Fatalf("no reader open: discard point %d, want the last commit %d", d, first)
	}
	r1, done1 := c.read()
	put("2")
	put("3")
	if d := discard(); d != first {
		t.Fatalf("a reader open at %d: discard point %d", first, d)
	}
	r2, done2 := c.read()
	put("4")
	if got := get(r1); got != "1" {
		t.Errorf("the first reader reads %q, want its snapshot's 1", got)
	}
	if got := get(r2); got != "3" {
		t.Errorf("the second reader reads %q, want its snapshot's 3", got)
	}
	done1()
	if d := discard(); d != first+2 {
		t.Fatalf("the first reader closed: discard point %d, want the second's %d", d, first+2)
	}
	done2()
	if d, last := discard(), c.last; d != last || last != first+3 {
		t.Fatalf("every reader closed: discard point %d, last commit %d, want both %d", d, last, first+3)
	}
	if err := s.view(func(txn *badger.Txn) error {
		if got := get(txn); got != "4" {
			t.Errorf("a new reader reads %q, want the last commit's 4", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A reopened store numbers its commits after the last one it holds, so
// what it writes next is newer than what it wrote before.
func TestClockContinuesAfterReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b"} {
		if err := s.write([]entry{{e: badger.NewEntry([]byte("k"), []byte(v))}}); err != nil {
			t.Fatal(err)
		}
	}
	last := s.clock.last
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	if s.clock.last < last {
		t.Fatalf("reopened at %d, below the last commit %d", s.clock.last, last)
	}
	if err := s.write([]entry{{e: badger.NewEntry([]byte("k"), []byte("c"))}}); err != nil {
		t.Fatal(err)
	}
	err = s.view(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("k"))
		if err != nil {
			return err
		}
		if v, _ := item.ValueCopy(nil); string(v) != "c" || item.Version() <= last {
			t.Errorf("after reopening: %q at version %d, want c above %d", v, item.Version(), last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
