package wal

import (
	"testing"
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
