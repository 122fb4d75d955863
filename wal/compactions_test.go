package wal

import (
	"bytes"
	"runtime"
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

// An idle store stops Badger's compactors and a write starts them again;
// the store reads and writes as before throughout, and closes cleanly
// while they are stopped.
func TestCompactorsPauseWhileIdle(t *testing.T) {
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
	waitCompactors(t, "after a write", func(n int) bool { return n > 0 })
	if e, err := s.GetEvent("acme", res.IDs[0]); err != nil || string(e.Data) != `{"n":1}` {
		t.Fatalf("GetEvent = %v, %v", e, err)
	}
	waitCompactors(t, "idle again", paused)
	if err := s.Close(); err != nil {
		t.Fatalf("Close with the compactors paused: %v", err)
	}
}
