package wal

import (
	"errors"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"
)

// unpoolTableBuilders stops Badger from keeping the allocators of its table
// builders.
//
// Badger hands every table builder (memtable flushes, compactions) an
// allocator from a pool of 8 and takes it back afterwards, trimmed to
// 400 MiB, not to what it needs; the pool only gives one back every 2 s
// when no builder has asked for one meanwhile. A flush of a 32 MiB
// memtable grows its allocator to ~250 MiB (raw and compressed blocks,
// doubling buffers), so under steady load the pool ends up holding several
// of those: hookd's heap grew by ~0.5 GiB with every 500,000 events
// delivered and never came back, and under server.memory_limit the
// collector thrashed. The pool is not configurable, so it is replaced,
// right after Open and before any table is built, by a pool that keeps
// nothing: each builder allocates what it needs and the collector frees
// it. The replaced pool is not released (a builder started during Open
// may still return its allocator to it); it holds nothing new and gives
// back what it holds within seconds.
//
// The pool is Badger's unexported DB.allocPool, so this depends on the
// Badger version in go.mod (checked against v4.9.6): Open fails if the
// field is gone or changed type, and TestUnpooledTableBuilders fails
// loudly, naming the assumption, if it moves or if Badger's builders stop
// taking their allocators from it as it is when a build starts.
func unpoolTableBuilders(db *badger.DB) error {
	f := reflect.ValueOf(db).Elem().FieldByName("allocPool")
	if !f.IsValid() || f.Type() != reflect.TypeOf((*z.AllocatorPool)(nil)) {
		return errors.New("wal: badger's DB.allocPool is gone (update unpoolTableBuilders)")
	}
	if raceEnabled {
		// The store below races with a flush or compaction Badger starts
		// inside Open (memtables replayed after a crash, then tables
		// compacted), which reads the field once per build without
		// synchronization. Harmless (one pointer word; either pool
		// serves), but the race detector would fail every test that opens
		// a crash image. Race builds keep Badger's pool.
		return nil
	}
	p := (*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	atomic.StorePointer(p, unsafe.Pointer(z.NewAllocatorPool(0)))
	return nil
}
