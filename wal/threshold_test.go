package wal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEntryThresholdField is the fence of threshold.go: a light load's
// values are kept in the LSM tree by setting badger.Entry's unexported
// valThreshold (checked against Badger v4.9.6). Should an upgrade rename
// or retype it, this fails, and the store would send every large value to
// the value log again (two files to sync per commit at a trickle).
func TestEntryThresholdField(t *testing.T) {
	if entryThresholdErr != nil {
		badgerAssumption(t, "threshold.go", "badger.Entry has an int64 field valThreshold, the entry's own value threshold",
			"%v", entryThresholdErr)
	}
}

// A trickle's values stay in the LSM tree (a commit syncs the memtable log
// alone); past InlineBytesPerSec in a second they go to the value log, and
// the second after a busy one sends them there too; one quiet second
// brings the trickle back. Every event reads back, before and after a
// reopen, wherever it was kept.
func TestLightLoadStaysInLSM(t *testing.T) {
	dir := t.TempDir()
	const rate = 64 << 10
	s, err := Open(Options{Dir: dir, ValueThreshold: 256, InlineBytesPerSec: rate, ValueLogFileSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	s.inl.now = func() time.Time { return now } // read by the committer after the submits below
	var ids []ID
	want := map[ID]string{}
	// vlogWrites publishes n events of ~300 bytes, each with its own
	// marker, and reports whether any of them is in a value-log file; one
	// that is must have been synced there.
	vlogWrites := func(step, n int) bool {
		t.Helper()
		in := make([]EventInput, n)
		for i := range in {
			in[i] = ev("a", "", fmt.Sprintf(`"marker-%d-%d-%s"`, step, i, bytes.Repeat([]byte("x"), 300)))
		}
		before := s.vlogs.syncs.Load()
		res, err := s.Append("acme", in)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range res.IDs {
			ids = append(ids, id)
			want[id] = string(in[i].Data)
		}
		synced := s.vlogs.syncs.Load() != before
		files, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, fmt.Appendf(nil, "marker-%d-", step)) {
				if !synced {
					t.Fatalf("step %d: an event went to %s, and the value log was not synced", step, filepath.Base(f))
				}
				return true
			}
		}
		return false
	}
	steps := []struct {
		name    string
		advance time.Duration
		n       int
		vlog    bool
	}{
		{"first event of a quiet store", 0, 1, false},
		{"a trickle", 10 * time.Millisecond, 1, false},
		{"more than the rest of the second's allowance", 10 * time.Millisecond, rate / 300, true},
		{"the second after a busy one", time.Second, 1, true},
		{"after a quiet second", time.Second, 1, false},
		{"after a long pause", time.Hour, 1, false},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		if got := vlogWrites(i, st.n); got != st.vlog {
			t.Fatalf("%s (%d events): value log written %v, want %v", st.name, st.n, got, st.vlog)
		}
	}
	check := func(s *Store, when string) {
		t.Helper()
		evs, err := s.GetEvents("acme", ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range evs {
			if e == nil || string(e.Data) != want[ids[i]] {
				t.Fatalf("%s: event %d of %d (%s) = %v", when, i, len(ids), ids[i], e)
			}
		}
	}
	check(s, "before reopen")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(Options{Dir: dir, ValueThreshold: 256}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "after reopen")
}

// With InlineBytesPerSec negative every value of ValueThreshold bytes or
// more goes to the value log, as before threshold.go.
func TestInliningOff(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), ValueThreshold: 256, InlineBytesPerSec: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		before := s.vlogs.syncs.Load()
		if _, err := s.Append("acme", []EventInput{ev("a", "", fmt.Sprintf(`"%0300d"`, i))}); err != nil {
			t.Fatal(err)
		}
		if s.vlogs.syncs.Load() == before {
			t.Fatalf("append %d: value log not synced with inlining off", i)
		}
	}
}
