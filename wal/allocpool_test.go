package wal

import (
	"reflect"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"
)

// The store's Badger keeps no table-builder allocators: one taken from its
// pool and given back is released, not kept for the next builder.
func TestUnpooledTableBuilders(t *testing.T) {
	s := openTest(t, "")
	pool := tableBuilderPool(s.db)
	a := pool.Get(1<<20, "test")
	a.Allocate(1 << 20)
	pool.Return(a)
	if b := pool.Get(1<<10, "test"); b == a {
		t.Fatal("the pool kept an allocator: Badger's builders would hoard memory")
	}
}

// tableBuilderPool returns the pool Badger's builders take allocators from.
func tableBuilderPool(db *badger.DB) *z.AllocatorPool {
	f := reflect.ValueOf(db).Elem().FieldByName("allocPool")
	return (*z.AllocatorPool)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))))
}
