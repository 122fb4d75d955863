package wal

import (
	"crypto/rand"
	"encoding/binary"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// Every level below L0 builds tables of BaseTableSize, however large the
// store (badgerOptions): a compaction keeps up to 13 table builders in
// flight, each ~2 × its table's size, and with Badger's default of
// doubling the size per level below the base, ten minutes into the
// soak (8 MiB tables) compactions held ~200 MiB of builders (the soak's
// RSS spikes, bench/BASELINE.md). Here the last level holds more than
// Badger's BaseLevelSize (10 MiB), so the levels below the base exist and
// the default would give them 4 MiB tables.
func TestTableSizeAtEveryLevel(t *testing.T) {
	// Badger opened as the store opens it, without the store: its gcLoop
	// pauses and resumes the compactors, which Flatten does too.
	opts := Options{Dir: t.TempDir(), MemTableSize: 2 << 20}
	opts.setDefaults()
	bo := badgerOptions(opts)
	db, err := badger.Open(bo)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wb := db.NewWriteBatch()
	val := make([]byte, 120) // under value_threshold: in the LSM tree, random (snappy keeps it)
	for i := 0; i < 200_000; i++ {
		k := binary.BigEndian.AppendUint64([]byte("t/"), uint64(i))
		rand.Read(val)
		if err := wb.Set(k, append([]byte(nil), val...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Flatten(2); err != nil {
		t.Fatal(err)
	}
	var last badger.LevelInfo
	for _, l := range db.Levels() {
		if l.NumTables > 0 {
			last = l
		}
	}
	if last.Level == 0 || last.Size <= bo.BaseLevelSize {
		t.Fatalf("setup: the deepest level with tables is L%d with %d bytes; want below L0, over BaseLevelSize (%d)",
			last.Level, last.Size, bo.BaseLevelSize)
	}
	for _, l := range db.Levels()[1:] {
		if l.TargetFileSize > bo.BaseTableSize {
			t.Errorf("L%d builds tables of %d KiB, want %d KiB (BaseTableSize) at every level",
				l.Level, l.TargetFileSize>>10, bo.BaseTableSize>>10)
		}
	}
}
