package wal

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	if err := s.SaveResult(fence(s), batch, att, nil); err != nil { // returns while the sync is held
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
// to new ones, syncing the ones left behind. This is the fence of sync.go:
// it fails loudly when Badger names or places its log files differently,
// numbers a rotation other than n+1, or writes elsewhere than the files
// the store syncs (a write must be found in a file numbered from the
// newest the store knew before it: those are the files its sync covers).
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
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir, MemTableSize: 1 << 20, ValueThreshold: c.threshold, ValueLogFileSize: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			l := c.log(s)
			first := l.last()
			if first < 0 || l.f == nil {
				badgerAssumption(t, "sync.go", "Badger creates its "+l.ext+" log file in the data directory at open",
					"The store found none at open; the directory holds %v.", dirNames(t, dir))
			}
			data := strings.Repeat("x", 400)
			// Each append's tenant names it, and its keys are written to
			// both logs, so the write can be found in the files.
			write := func(i int) string {
				tenant := fmt.Sprintf("fence-%05d", i)
				in := make([]EventInput, 100)
				for j := range in {
					in[j] = ev("a", "", `"`+data+`"`)
				}
				before := l.last()
				if _, err := s.Append(tenant, in); err != nil {
					t.Fatal(err)
				}
				checkLogFiles(t, l, before, tenant)
				return tenant
			}
			write(0)
			for i := 1; i < 200 && l.last() < first+2; i++ {
				write(i)
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

// checkLogFiles checks, after a synced write whose keys contain marker,
// that Badger's log files of l are where and as the store expects them:
// every file of its kind in the directory is named by a number of
// l.width digits, the newest is the one the store follows, and the write
// is in a file the sync covered (numbered from before, the newest before
// the write, to the newest).
func checkLogFiles(t *testing.T, l *rotatingLog, before int, marker string) {
	t.Helper()
	newest := -1
	for _, name := range dirNames(t, l.dir) {
		num, ok := strings.CutSuffix(name, l.ext)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || len(num) != l.width {
			badgerAssumption(t, "sync.go", fmt.Sprintf("Badger names its %s files by a number of %d digits (%%0%dd%s)", l.ext, l.width, l.width, l.ext),
				"Found %q in the data directory.", name)
		}
		newest = max(newest, n)
	}
	if newest != l.last() {
		badgerAssumption(t, "sync.go", "Badger numbers a new "+l.ext+" file one after the newest (the store walks n+1, n+2, ...)",
			"The newest file is number %d, the store follows %d: writes to the newest would go unsynced. Files: %v.", newest, l.last(), dirNames(t, l.dir))
	}
	for n := max(before, 0); n <= newest; n++ {
		b, err := os.ReadFile(l.path(n))
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return
		}
	}
	badgerAssumption(t, "sync.go", "Badger writes to the newest "+l.ext+" file (or to the one it just rotated out), through which the store syncs",
		"A synced write (keys containing %q) is in none of the files %d..%d the store synced. Files: %v.", marker, before, newest, dirNames(t, l.dir))
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// badgerChecked is the Badger release that the three places reaching into
// Badger's internals were last checked against: sync.go (its log files
// by name), allocpool.go (the private DB.allocPool) and trim_linux.go
// (its value-log maps in /proc/self/maps). Each has a test that calls
// badgerAssumption when the assumption no longer holds.
const badgerChecked = "v4.9.6"

// badgerAssumption fails t naming the broken assumption, the file that
// relies on it, and the Badger versions checked and required.
func badgerAssumption(t testing.TB, file, assumption, detail string, args ...any) {
	t.Helper()
	t.Fatalf("BADGER INTERNALS CHANGED: wal/%s assumes that %s.\n"+
		"That was checked against Badger %s; go.mod requires %s.\n%s\n"+
		"Update wal/%s (and badgerChecked) for this Badger, or stay on %s.",
		file, assumption, badgerChecked, badgerRequired(), fmt.Sprintf(detail, args...), file, badgerChecked)
}

// badgerRequired is the Badger version in go.mod.
func badgerRequired() string { return moduleRequired("github.com/dgraph-io/badger/v4") }

// moduleRequired is the version go.mod requires of module path (tests
// run in wal/).
func moduleRequired(path string) string {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		return "(go.mod unreadable: " + err.Error() + ")"
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	return "(not in go.mod)"
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
		if err := s.SaveResult(fence(s), b, nil, nil); err != nil { // lazy: no sync of its own
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

// A sync that starts while a group is being written (the previous
// group's, as the committer writes lazy ops or what did not fit beside
// it during that sync) must not take the group's value-log mark: only a
// sync that starts once the values are in the file covers them, so the
// group's own sync must sync the value log again.
func TestValueLogMarkOutlivesASyncDuringTheWrite(t *testing.T) {
	s := openTest(t, "")
	w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "https://example.com/h", IsActive: true, MaxBatchSize: 1}
	if err := s.CreateWebhook(w); err != nil { // events no webhook takes are not stored
		t.Fatal(err)
	}
	var mid atomic.Int64
	var once sync.Once
	hook := func() {
		once.Do(func() {
			if err := s.syncFiles(); err != nil {
				t.Error(err)
			}
			mid.Store(s.vlogs.syncs.Load())
		})
	}
	s.beforeWrite.Store(&hook)
	raw := make([]byte, inlineMax)
	rand.Read(raw)
	data := fmt.Sprintf(`{"x":"%x"}`, raw) // past what may stay in the LSM tree, even compressed
	if _, err := s.Append("acme", []EventInput{ev("a.b", "", data)}); err != nil {
		t.Fatal(err)
	}
	if got := s.vlogs.syncs.Load(); got <= mid.Load() {
		t.Errorf("the value log was last synced by a sync that started during the write (%d syncs, %d then): the event's value is not covered", got, mid.Load())
	}
}

// path names files exactly as filepath.Join and fmt did before it.
func TestRotatingLogPath(t *testing.T) {
	tmp := t.TempDir()
	t.Chdir(tmp)
	for _, d := range []string{"data", "b"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"data", "./data/", tmp, tmp + "/data/", "data/../b", "."} {
		l, err := newRotatingLog(dir, 6, ".vlog", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 42, 999999, 1234567} {
			want := filepath.Join(dir, fmt.Sprintf("%0*d%s", 6, n, ".vlog"))
			if got := l.path(n); got != want {
				t.Errorf("path(%q, %d) = %q, want %q", dir, n, got, want)
			}
		}
	}
}
