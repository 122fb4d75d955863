package wal

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"
)

// diskUse is the space dir's files occupy on disk (allocated blocks, as
// du counts them).
func diskUse(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile (GC)
		}
		n += blocks(fi)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetentionFreesDisk: with a short retention, the disk a burst of
// events, batches and attempts took is given back once they expire: the
// sweep deletes the expired keys (sweep.go), the compaction that carries
// those deletes drops them and reports their values discarded, and
// value-log GC (every GCInterval) deletes the value-log files they
// filled. Without the sweep the same happens only as new writes happen
// to rewrite the old tables: 56 s here against 16 s with it. The store goes on
// taking a trickle of new events meanwhile, as a live one does; what it
// keeps is what is younger than the retention.
func TestRetentionFreesDisk(t *testing.T) {
	if raceEnabled {
		// Badger's value-log GC (valueLog.rewrite) reads DB.MaxVersion
		// while a commit's memTable.Put writes it: a race inside Badger,
		// which this test's GC under writes makes the detector report in
		// about one run of three (the same before any hookd change to the
		// store). Without -race it runs in CI's go test ./....
		t.Skip("a data race inside Badger's value-log GC is reported under -race (see the comment)")
	}
	if testing.Short() {
		t.Skip("writes for up to a minute")
	}
	const retention = 2 * time.Second
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Retention: retention, MemTableSize: 1 << 20, ValueLogFileSize: 2 << 20,
		GCInterval: 100 * time.Millisecond, MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "https://example.com/h", IsActive: true, MaxBatchSize: 100}
	if err := s.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1000)
	publish := func(n int) {
		evs := make([]EventInput, n)
		for i := range evs {
			rand.Read(data)
			evs[i] = ev("a.b", "", fmt.Sprintf(`{"r":"%x"}`, data)) // 2 KB that do not compress
		}
		if _, err := s.Append("acme", evs); err != nil {
			t.Fatal(err)
		}
	}
	// deliver batches and closes what is queued: a batch and an attempt
	// each, which expire with the retention once the batch is closed.
	var cur Cursor
	deliver := func() {
		for {
			q, err := s.PeekQueue(w.ID, cur, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(q) == 0 {
				return
			}
			ids := eventsOf(q)
			now := time.Now()
			b := &Batch{ID: s.NewID(), WebhookID: w.ID, Tenant: "acme", Status: BatchPending, CreatedAt: now, MaxAttempts: 1}
			for _, id := range ids {
				b.Events = append(b.Events, BatchEvent{ID: id, Type: "a.b"})
			}
			if err := s.OpenBatches(fence(s), w.ID, cur, q[len(q)-1].At, b); err != nil {
				t.Fatal(err)
			}
			b.Status, b.Attempts, b.DeliveredAt = BatchDelivered, 1, now
			a := &Attempt{ID: s.NewID(), BatchID: b.ID, WebhookID: w.ID, Tenant: "acme", Status: AttemptSucceeded, Trigger: TriggerAuto}
			if err := s.SaveBatch(fence(s), b, a); err != nil {
				t.Fatal(err)
			}
			cur = q[len(q)-1].At
		}
	}

	before := diskUse(t, dir)
	for i := 0; i < 200; i++ { // 20,000 events, ~40 MB
		publish(100)
		deliver()
	}
	peak := diskUse(t, dir)
	t.Logf("disk: %d KiB empty, %d KiB after the burst", before>>10, peak>>10)

	// Writes go on (1,000 events/s), as on a live store; the burst
	// expires after the retention.
	start := time.Now()
	target := peak / 4
	for tick := time.NewTicker(100 * time.Millisecond); ; <-tick.C {
		publish(100)
		deliver()
		use := diskUse(t, dir)
		if use < target {
			t.Logf("disk: %d KiB %s after the burst (peak %d KiB)", use>>10, time.Since(start).Round(time.Second), peak>>10)
			break
		}
		if time.Since(start) > 60*time.Second {
			lsm, vlog := s.Size()
			t.Fatalf("disk still %d KiB a minute after the burst (peak %d KiB, want < %d KiB); badger lsm %d, vlog %d",
				use>>10, peak>>10, target>>10, lsm, vlog)
		}
	}
}

// sweepExpired deletes exactly the keys whose TTL has passed (events,
// idempotency keys, queue records) and leaves the rest; a second sweep
// finds nothing left to delete.
func TestSweepExpired(t *testing.T) {
	s, w := sweepStore(t)
	if _, err := s.Append("acme", []EventInput{ev("a", "k1", `1`), ev("a", "", `2`)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.sweepExpired(time.Now()); n != 0 || err != nil {
		t.Fatalf("sweep before the retention = %d, %v; want 0", n, err)
	}
	// Two events, one idempotency key, one queue record expire; the
	// webhook and the event type do not.
	if n, err := s.sweepExpired(time.Now().Add(2 * time.Minute)); n != 4 || err != nil {
		t.Fatalf("sweep after the retention = %d, %v; want 4", n, err)
	}
	if n, err := s.sweepExpired(time.Now().Add(2 * time.Minute)); n != 0 || err != nil {
		t.Fatalf("second sweep = %d, %v; want 0", n, err)
	}
	if _, err := s.GetWebhook("acme", w.ID); err != nil {
		t.Fatalf("webhook after the sweep: %v", err)
	}
}

// sweepStore opens a store of one-minute retention with one webhook.
func sweepStore(t *testing.T) (*Store, *Webhook) {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir(), Retention: time.Minute, MinFreeBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w := &Webhook{ID: s.NewWebhookID(), Tenant: "acme", URL: "https://example.com/h", IsActive: true, MaxBatchSize: 1}
	if err := s.CreateWebhook(w); err != nil {
		t.Fatal(err)
	}
	return s, w
}

// A paced sweep stops after every key here (a slice of no time), closes
// its transaction, pauses and reads on from the key it stopped at: it
// deletes the same keys as one pass, each once, and pauses between
// slices. Keys with older versions (the webhook's queue cursor, rewritten)
// are judged by their latest version whichever slice they start.
func TestSweepExpiredPaced(t *testing.T) {
	s, w := sweepStore(t)
	for i := range 20 {
		if _, err := s.Append("acme", []EventInput{ev("a", fmt.Sprintf("k%d", i), `1`)}); err != nil {
			t.Fatal(err)
		}
	}
	pauses := 0
	pace := sweepPace{slice: 0, keys: 1, rest: 0, pause: func(time.Duration) bool { pauses++; return true }}
	if n, err := s.sweepExpiredPaced(time.Now(), pace); n != 0 || err != nil {
		t.Fatalf("paced sweep before the retention = %d, %v; want 0", n, err)
	}
	keys := pauses + 1 // one key a slice
	// 20 events, 20 idempotency keys, 20 queue records expire.
	pauses = 0
	if n, err := s.sweepExpiredPaced(time.Now().Add(2*time.Minute), pace); n != 60 || err != nil {
		t.Fatalf("paced sweep after the retention = %d, %v; want 60", n, err)
	}
	if keys < 60 || pauses < 60 {
		t.Fatalf("%d keys read in %d pauses: want a pause after every key", keys, pauses)
	}
	if n, err := s.sweepExpired(time.Now().Add(2 * time.Minute)); n != 0 || err != nil {
		t.Fatalf("second sweep = %d, %v; want 0", n, err)
	}
	if _, err := s.GetWebhook("acme", w.ID); err != nil {
		t.Fatalf("webhook after the sweep: %v", err)
	}
	// Closing stops a sweep at its next pause.
	stop := sweepPace{slice: 0, keys: 1, rest: 0, pause: func(time.Duration) bool { return false }}
	if n, err := s.sweepExpiredPaced(time.Now(), stop); n != 0 || err != nil {
		t.Fatalf("sweep stopped at its first pause = %d, %v", n, err)
	}
}
