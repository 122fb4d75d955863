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

// sweepChunk bounds the delete markers of one commit.
const sweepChunk = 10_000

// sweepExpired deletes every key whose latest version's TTL has passed by
// now and returns how many. It reads keys only (no values) in one read
// transaction and deletes through the committer, lazily: a delete lost in a
// power cut is swept again.
func (s *Store) sweepExpired(now time.Time) (int, error) {
	if err := s.readable(); err != nil {
		return 0, err
	}
	deadline := uint64(now.Unix())
	var expired [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
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
			if exp := item.ExpiresAt(); exp != 0 && exp <= deadline {
				expired = append(expired, item.KeyCopy(nil))
			}
		}
		return nil
	})
	if err != nil {
		return 0, translate(err)
	}
	n := len(expired)
	for len(expired) > 0 {
		// A chunk stays well inside one transaction's limits.
		var size int64
		i := 0
		for i < len(expired) && i < sweepChunk && int64(i) < s.maxCount/2 && size < s.maxSize/2 {
			size += int64(len(expired[i])) + 24
			i++
		}
		chunk := expired[:i]
		expired = expired[i:]
		o := &op{weight: len(chunk), lazy: true, space: spaceDelivery}
		o.apply = func(g *group) error {
			for _, k := range chunk {
				g.del(k)
			}
			return nil
		}
		if err := s.submit(o); err != nil {
			return n - len(expired) - len(chunk), err
		}
	}
	return n, nil
}
