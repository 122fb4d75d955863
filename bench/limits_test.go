package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// badgerCommit commits through Badger alone, reports entries per second,
// and leaves nothing behind in the directory it was given.
func TestBadgerCommit(t *testing.T) {
	dir := t.TempDir()
	for _, per := range []int{1, 100} {
		r, err := badgerCommit(context.Background(), dir, 4, per, 300, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if r <= 0 {
			t.Fatalf("%d entries a transaction: %v entries/s", per, r)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Fatalf("left in the directory: %v", left)
	}
}
