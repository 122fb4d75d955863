package wal

import (
	"bytes"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Expired keys are deleted, not just left to expire. Badger hides a key
// whose TTL has passed, but frees its space only when a compaction rewrites
// the table holding it, and value-log GC picks files only by what
// compactions report discarded. hookd's keys are time-ordered and its LSM
// is small (values live in the value log), so the tables of old keys are
// never rewritten by themselves: without this, disk grows with every event
// ever stored, retention or not. A delete marker for an old key lands in a
// new table whose range overlaps the old ones, so the next compaction
// rewrites them, drops the expired versions and reports their values
// discarded; value-log GC then deletes the files they filled.

// sweepEvery is how often gcLoop sweeps: at its first GC tick, then
// every twenty-fourth of the retention (7 h at the default 168 h), and
// at most once a GC tick. The sweep reads every key of the store: on a
// 10 GB store, 10 s and 13 s of CPU, which every 5 minutes was 4% of a
// core. Expired keys are hidden from reads at once; only their disk is
// freed up to this much later (4% of the retention).
func sweepEvery(o Options) time.Duration { return max(o.GCInterval, o.Retention/24) }

// sweepChunk bounds the delete markers of one commit.
const sweepChunk = 10_000

// sweepPace spreads a sweep over time: it reads keys for at most slice
// (looking at the clock every keys keys), closes its read transaction,
// and pauses for rest times what that slice took before reading on from
// where it stopped. A sweep of a large store was one goroutine busy for
// seconds (10-13 s of CPU on 10 GB); on two cores that took a whole core
// from ingest and delivery (at 5,000 events/s the first GC tick's sweep
// of a 5-minute store ran flat out for over 3 s: bench/BASELINE.md,
// fourteenth sitting). Paced, it uses at most a
// quarter of one core, and no transaction stays open across a pause
// (an open one keeps the tables it reads from being deleted).
type sweepPace struct {
	slice time.Duration
	keys  int
	rest  float64
	pause func(time.Duration) bool // false: stop sweeping (the store closes)
}

// sweepExpired deletes every key whose latest version's TTL has passed by
// now and returns how many. It reads keys only (no values), a slice of
// time at a time (sweepPace), and deletes through the committer as it
// goes, a chunk at a time (so memory holds one chunk, however much
// expired), lazily: a delete lost in a power cut is swept again.
func (s *Store) sweepExpired(now time.Time) (int, error) {
	return s.sweepExpiredPaced(now, sweepPace{slice: 10 * time.Millisecond, keys: 256, rest: 3, pause: s.gcPause})
}

// gcPause waits d, or less if the store closes meanwhile (false).
func (s *Store) gcPause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.gcStop:
		return false
	case <-t.C:
		return true
	}
}

func (s *Store) sweepExpiredPaced(now time.Time, pace sweepPace) (int, error) {
	if err := s.readable(); err != nil {
		return 0, err
	}
	deadline := uint64(now.Unix())
	n := 0
	var chunk [][]byte
	var size int64
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		keys := chunk
		chunk, size = nil, 0
		o := &op{weight: len(keys), lazy: true, space: spaceDelivery}
		o.apply = func(g *group) error {
			for _, k := range keys {
				g.del(k)
			}
			return nil
		}
		if err := s.submit(o); err != nil {
			return err
		}
		n += len(keys)
		return nil
	}
	var from []byte // the key the next slice starts at (its latest version first)
	for {
		start := time.Now() // a duration, not a timestamp: pacing by the CPU's wall clock
		more := false
		err := s.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
			defer it.Close()
			var last []byte
			seen := 0
			for it.Seek(from); it.Valid(); it.Next() {
				item := it.Item()
				k := item.Key()
				if last != nil && bytes.Equal(k, last) {
					continue // an older version: only the latest counts
				}
				if seen > 0 && seen%pace.keys == 0 && time.Since(start) >= pace.slice {
					from, more = item.KeyCopy(nil), true // at least one key a slice
					return nil
				}
				seen++
				last = item.KeyCopy(last[:0])
				if exp := item.ExpiresAt(); exp == 0 || exp > deadline {
					continue
				}
				chunk = append(chunk, item.KeyCopy(nil))
				size += int64(len(k)) + 24
				// A chunk stays well inside one transaction's limits.
				if len(chunk) >= sweepChunk || int64(len(chunk)) >= s.maxCount/2 || size >= s.maxSize/2 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return n, translate(err)
		}
		if !more {
			return n, translate(flush())
		}
		if !pace.pause(time.Duration(pace.rest * float64(time.Since(start)))) {
			return n, translate(flush()) // closing: the next sweep goes on
		}
	}
}
