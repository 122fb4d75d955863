package wal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An attempt's result is written without waiting for the disk; an append
// (or anything acknowledged to a client) waits for its sync.
func TestResultsDoNotWaitForSync(t *testing.T) {
	s := openTest(t, "")
	hold, entered := make(chan struct{}), make(chan struct{}, 16)
	f := func() { entered <- struct{}{}; <-hold }
	s.beforeSync.Store(&f)
	appended := make(chan error, 1)
	go func() {
		_, err := s.Append("acme", []EventInput{ev("a", "", `1`)})
		appended <- err
	}()
	<-entered // the append is written and its sync has started: held
	wh, b := s.NewID(), s.NewID()
	batch := &Batch{ID: b, WebhookID: wh, Tenant: "acme", Status: BatchDelivered, Attempts: 1, MaxAttempts: 3}
	att := &Attempt{ID: s.NewID(), BatchID: b, WebhookID: wh, Tenant: "acme", Status: AttemptSucceeded, Trigger: TriggerAuto}
	if err := s.SaveResult(batch, att, nil); err != nil { // returns while the sync is held
		t.Fatal(err)
	}
	if got, err := s.GetBatch("acme", wh, b); err != nil || got.Status != BatchDelivered {
		t.Fatalf("GetBatch = %+v, %v", got, err)
	}
	select {
	case err := <-appended:
		t.Fatalf("append acknowledged before its sync: %v", err)
	default:
	}
	close(hold)
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
}

// Badger is opened without synced writes: the store syncs the active
// memtable and value logs itself and must follow them when Badger rotates
// to new ones, syncing the ones left behind.
func TestSyncFollowsRotation(t *testing.T) {
	for _, c := range []struct {
		name      string
		threshold int // events of 400 bytes: in the memtable, or in the value log
		log       func(*Store) *rotatingLog
	}{
		{"memtable", 4096, func(s *Store) *rotatingLog { return s.memLogs }},
		{"value log", 64, func(s *Store) *rotatingLog { return s.vlogs }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(Options{Dir: t.TempDir(), MemTableSize: 1 << 20, ValueThreshold: c.threshold, ValueLogFileSize: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			l := c.log(s)
			first := l.last()
			if first < 0 || l.f == nil {
				t.Fatalf("no log file found at open (last %d)", first)
			}
			data := strings.Repeat("x", 400)
			for i := 0; i < 200 && l.last() < first+2; i++ {
				in := make([]EventInput, 100)
				for j := range in {
					in[j] = ev("a", "", `"`+data+`"`)
				}
				if _, err := s.Append("acme", in); err != nil {
					t.Fatal(err)
				}
			}
			if l.last() < first+2 {
				t.Fatalf("log %d → %d after 8 MB of events: rotations not followed", first, l.last())
			}
			if want := l.path(l.last()); l.f.Name() != want {
				t.Fatalf("syncing %s, newest is %s", l.f.Name(), want)
			}
		})
	}
}

func TestRotatingLog(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	touch("00003.mem")
	touch("00007.mem")
	touch("000002.vlog")
	touch("MANIFEST")
	l, err := newRotatingLog(dir, 5, ".mem", false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if l.last() != 7 {
		t.Fatalf("last = %d, want 7", l.last())
	}
	if err := l.sync(); err != nil || l.last() != 7 {
		t.Fatalf("sync without rotation: last %d, %v", l.last(), err)
	}
	touch("00008.mem")
	touch("00009.mem")
	if err := os.Remove(filepath.Join(dir, "00007.mem")); err != nil { // flushed meanwhile
		t.Fatal(err)
	}
	if err := l.sync(); err != nil || l.last() != 9 || filepath.Base(l.f.Name()) != "00009.mem" {
		t.Fatalf("after rotation: last %d, file %s, %v", l.last(), l.f.Name(), err)
	}
	empty, err := newRotatingLog(t.TempDir(), 6, ".vlog", false)
	if err != nil || empty.last() != -1 || empty.sync() != nil {
		t.Fatalf("empty dir: %+v, %v", empty, err)
	}
	mem, _ := newRotatingLog(dir, 5, ".mem", true)
	if mem.sync() != nil {
		t.Fatal("in-memory sync failed")
	}
}

// When a write rotates the memtable, Badger will flush it to a synced
// table whose keys point into the value log: the value log is synced at
// once, even when only lazy writes (which no sync waits for) went there.
func TestValueLogSyncedWhenMemtableRotates(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), MemTableSize: 1 << 20, ValueThreshold: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mem, before := s.memLogs.newest.Load(), s.vlogs.syncs.Load()
	wh := s.NewID()
	refs := make([]Ref, 20)
	for i := range refs {
		refs[i] = Ref{Name: "order", Value: strings.Repeat("r", 40)}
	}
	for i := 0; i < 50000 && !s.memLogs.followedBy(mem); i++ {
		b := &Batch{ID: s.NewID(), WebhookID: wh, Tenant: "acme", Status: BatchDelivered, Attempts: 1, MaxAttempts: 3, Refs: refs}
		if err := s.SaveResult(b, nil, nil); err != nil { // lazy: no sync of its own
			t.Fatal(err)
		}
	}
	if !s.memLogs.followedBy(mem) {
		t.Fatal("setup: the memtable never rotated")
	}
	if s.vlogs.syncs.Load() == before {
		t.Error("the memtable rotated with unsynced values in the value log, and the value log was not synced")
	}
}

// FailSyncs makes every later sync of s fail with err, as a failed fsync
// would: the store turns fail-stop at its next durable write. Exported for
// the conformance suite's harness (conformance_test.go, package wal_test).
func FailSyncs(s *Store, err error) { s.injectSyncErr.Store(&err) }
