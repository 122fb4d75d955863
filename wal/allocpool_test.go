package wal

import (
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"
)

// The store's Badger keeps no table-builder allocators: one taken from its
// pool and given back is released, not kept for the next builder. This is
// also the fence of allocpool.go: it fails loudly when Badger's private
// DB.allocPool is gone or changed type, or when Badger's table builders
// stop taking their allocators from it as it is when they start (then
// replacing it after Open would change nothing).
func TestUnpooledTableBuilders(t *testing.T) {
	if raceEnabled {
		t.Skip("race builds keep Badger's pool (allocpool.go); checked without -race")
	}
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		if strings.Contains(err.Error(), "allocPool") {
			badgerAssumption(t, "allocpool.go", "badger.DB has a field allocPool of type *z.AllocatorPool",
				"Open failed: %v", err)
		}
		t.Fatal(err)
	}
	defer s.Close()
	pool := tableBuilderPool(t, s.db)
	a := pool.Get(1<<20, "test")
	a.Allocate(1 << 20)
	pool.Return(a)
	if b := pool.Get(1<<10, "test"); b == a {
		t.Fatal("the pool kept an allocator: Badger's builders would hoard memory")
	}

	// Close flushes the memtable to a table; its builder must take its
	// allocator from the pool the store put in place.
	gets := poolGets(t, pool)
	if _, err := s.Append("acme", []EventInput{ev("a", "", `1`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if tables, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(tables) == 0 {
		t.Fatalf("setup: Close built no table (files: %v)", dirNames(t, dir))
	}
	if poolGets(t, pool) == gets {
		badgerAssumption(t, "allocpool.go", "Badger's table builders take their allocators from DB.allocPool as it is when a build starts (buildTableOptions, table.NewTableBuilder)",
			"A memtable flushed at Close built a table without taking an allocator from the pool the store put in DB.allocPool.")
	}
}

// tableBuilderPool returns the pool Badger's builders take allocators from.
func tableBuilderPool(t *testing.T, db *badger.DB) *z.AllocatorPool {
	t.Helper()
	f := reflect.ValueOf(db).Elem().FieldByName("allocPool")
	if !f.IsValid() || f.Type() != reflect.TypeOf((*z.AllocatorPool)(nil)) {
		badgerAssumption(t, "allocpool.go", "badger.DB has a field allocPool of type *z.AllocatorPool",
			"reflect finds %v.", f)
	}
	return (*z.AllocatorPool)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))))
}

// poolGets is how many allocators were taken from p (its private count).
func poolGets(t *testing.T, p *z.AllocatorPool) int64 {
	t.Helper()
	f := reflect.ValueOf(p).Elem().FieldByName("numGets")
	if !f.IsValid() || f.Kind() != reflect.Int64 {
		t.Fatalf("this test reads ristretto's private z.AllocatorPool.numGets (int64), which is gone: count the pool's Gets another way (ristretto in go.mod: %s)", moduleRequired("github.com/dgraph-io/ristretto/v2"))
	}
	return atomic.LoadInt64((*int64)(unsafe.Pointer(f.UnsafeAddr())))
}
