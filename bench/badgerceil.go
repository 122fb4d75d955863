package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// badgerCommit is Badger alone, with nothing of hookd around it: writers
// goroutines each commit transactions of per entries of size bytes, as
// fast as they are acknowledged, for d, on a fresh database in a
// directory under dir. Badger syncs each commit itself (SyncWrites) and
// its write goroutine groups the transactions that arrive together into
// one write and one sync: the group commit hookd's store builds on. The
// options that shape a write are hookd's defaults (32 MiB memtables,
// three of them, values over 256 bytes in the value log, Snappy tables,
// no conflict detection). It returns entries committed per second.
func badgerCommit(ctx context.Context, dir string, writers, per, size int, d time.Duration) (float64, error) {
	path, err := os.MkdirTemp(dir, "badger-probe-")
	if err != nil {
		return 0, fmt.Errorf("bench: badger probe: %w", err)
	}
	defer os.RemoveAll(path)
	db, err := badger.Open(badger.DefaultOptions(path).
		WithSyncWrites(true).
		WithDetectConflicts(false).
		WithMemTableSize(32 << 20).
		WithNumMemtables(3).
		WithValueThreshold(256).
		WithBlockCacheSize(16 << 20).
		WithLogger(nil))
	if err != nil {
		return 0, fmt.Errorf("bench: badger probe: %w", err)
	}
	defer db.Close()
	val := make([]byte, size)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seq uint64
			for ctx.Err() == nil {
				txn := db.NewTransaction(true)
				for range per {
					key := make([]byte, 16)
					binary.BigEndian.PutUint64(key, uint64(w))
					binary.BigEndian.PutUint64(key[8:], seq)
					seq++
					if err := txn.Set(key, val); err != nil {
						txn.Discard()
						first.CompareAndSwap(nil, &err)
						return
					}
				}
				if err := txn.Commit(); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
				n.Add(int64(per))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if e := first.Load(); e != nil {
		return 0, fmt.Errorf("bench: badger probe: %w", *e)
	}
	return rate(n.Load(), el), nil
}
