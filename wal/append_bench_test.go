package wal

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// BenchmarkAppend measures durable appends of 300-byte events, one event per
// call, with 1, 16 and 256 concurrent producers. events/s is the figure to
// compare (bench/BASELINE.md); ns/op is per event.
func BenchmarkAppend(b *testing.B) {
	for _, producers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) { benchAppend(b, producers, 1) })
	}
}

// BenchmarkAppendBatch measures 100-event appends from 16 producers.
func BenchmarkAppendBatch(b *testing.B) { benchAppend(b, 16, 100) }

// benchAppend runs b.N appends of perCall 300-byte events from producers
// goroutines and reports events/s.
func benchAppend(b *testing.B, producers, perCall int) {
	benchAppendOn(b, openTest(b, ""), producers, perCall)
}

// benchAppendOn is benchAppend on the store s.
func benchAppendOn(b *testing.B, s *Store, producers, perCall int) {
	data := []byte(fmt.Sprintf(`{"seq":1,"pad":"%0270d"}`, 0))
	in := make([]EventInput, perCall)
	for i := range in {
		in[i] = EventInput{Type: "bench.event", Data: data}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := s.Append("bench", in); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*perCall)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSyncer compares the store's own syncing (production: Badger
// without synced writes, the syncer fsyncing its log files after each
// written group, attempt results not waiting for it) with Badger's
// SyncWrites(true) (Badger syncs inside each commit; the store's syncing
// is off), on the same group commit, interleaved per load: single-event
// appends from 1, 16 and 256 producers, 100-event appends from 16, and
// the writes of maxBatchSize-1 delivery (benchDeliveryWrites).
// bench/BASELINE.md has the figures.
func BenchmarkSyncer(b *testing.B) {
	for _, load := range []struct {
		name string
		run  func(*testing.B, *Store)
	}{
		{"producers=1", func(b *testing.B, s *Store) { benchAppendOn(b, s, 1, 1) }},
		{"producers=16", func(b *testing.B, s *Store) { benchAppendOn(b, s, 16, 1) }},
		{"producers=256", func(b *testing.B, s *Store) { benchAppendOn(b, s, 256, 1) }},
		{"batch=100x16", func(b *testing.B, s *Store) { benchAppendOn(b, s, 16, 100) }},
		{"deliver=64", func(b *testing.B, s *Store) { benchDeliveryWrites(b, s, 64) }},
	} {
		for _, syncer := range []struct {
			name string
			open func(testing.TB) *Store
		}{
			{"sync=store", func(tb testing.TB) *Store { return openTest(tb, "") }},
			{"sync=badger", openBadgerSynced},
		} {
			b.Run(load.name+"/"+syncer.name, func(b *testing.B) { load.run(b, syncer.open(b)) })
		}
	}
}

// benchDeliveryWrites makes the store writes of b.N deliveries at
// maxBatchSize 1 by workers at once, each for its own webhook, as the
// engine does: a batch opened (durable, before the attempt) then its
// result (lazy). The events are appended first, untimed. deliveries/s.
func benchDeliveryWrites(b *testing.B, s *Store, workers int) {
	hooks := make([]*Webhook, workers)
	for i := range hooks {
		hooks[i] = &Webhook{ID: s.NewWebhookID(), Tenant: "bench", URL: "http://x", IsActive: true, Events: []string{fmt.Sprint("t", i)}, MaxBatchSize: 1}
		if err := s.CreateWebhook(hooks[i]); err != nil {
			b.Fatal(err)
		}
	}
	data := []byte(fmt.Sprintf(`{"seq":1,"pad":"%0270d"}`, 0))
	events := make([][]ID, workers)
	for n := 0; n < b.N; {
		in := make([]EventInput, 0, 100)
		for ; n < b.N && len(in) < 100; n++ {
			in = append(in, EventInput{Type: fmt.Sprint("t", n%workers), Data: data})
		}
		res, err := s.Append("bench", in)
		if err != nil {
			b.Fatal(err)
		}
		for i, id := range res.IDs {
			w := (n - len(in) + i) % workers
			events[w] = append(events[w], id)
		}
	}
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prev ID
			for _, id := range events[w] {
				bt := &Batch{ID: s.NewID(), WebhookID: hooks[w].ID, Tenant: "bench", Status: BatchPending,
					Events: []BatchEvent{{ID: id, Type: "t"}}, MaxAttempts: 3, CreatedAt: start}
				if err := s.OpenBatches(fence(s), hooks[w].ID, at(prev), at(id), bt); err != nil {
					b.Error(err)
					return
				}
				prev = id
				bt.Status, bt.Attempts, bt.LastCode = BatchDelivered, 1, 200
				a := &Attempt{ID: s.NewID(), BatchID: bt.ID, WebhookID: hooks[w].ID, Tenant: "bench",
					Status: AttemptSucceeded, Trigger: TriggerAuto, ScheduledAt: start, ResponseCode: 200}
				if err := s.SaveResult(fence(s), bt, a, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}

// openBadgerSynced opens a store whose Badger syncs its own writes
// (SyncWrites(true)) and whose own syncing is off: benchmarks only, to
// measure one against the other; production never opens Badger so. Open
// runs as usual, then, before any write, its Badger is reopened with
// synced writes and the logs the syncer follows are replaced by ones that
// sync nothing. The space and trim tickers are held off meanwhile, so
// nothing reads the replaced logs concurrently.
func openBadgerSynced(tb testing.TB) *Store {
	tb.Helper()
	space, trim := spaceInterval, trimInterval
	spaceInterval, trimInterval = time.Hour, time.Hour
	defer func() { spaceInterval, trimInterval = space, trim }()
	s := openTest(tb, "")
	if err := s.db.Close(); err != nil {
		tb.Fatal(err)
	}
	db, err := badger.Open(badgerOptions(s.opts).WithSyncWrites(true))
	if err != nil {
		tb.Fatal(err)
	}
	if err := unpoolTableBuilders(db); err != nil {
		tb.Fatal(err)
	}
	s.db = db
	s.memLogs.close()
	s.vlogs.close()
	s.memLogs, _ = newRotatingLog("", 0, ".mem", true) // in-memory form: sync does nothing
	s.vlogs, _ = newRotatingLog("", 0, ".vlog", true)
	return s
}
