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

// sweepExpired deletes every key whose latest version's TTL has passed by
// now and returns how many. It reads keys only (no values) in one read
// transaction and deletes through the committer as it goes, a chunk at a
// time (so memory holds one chunk, however much expired), lazily: a delete
// lost in a power cut is swept again.
func (s *Store) sweepExpired(now time.Time) (int, error) {
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
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		var last []byte
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if last != nil && bytes.Equal(k, last) {
				continue // an older version: only the latest counts
			}
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
		return flush()
	})
	return n, translate(err)
}
