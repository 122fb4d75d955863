package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// blockingFdatasync enters the runtime's blocking-syscall path by hand: it
// must sync a file, return the call's error (a pipe cannot be synced:
// EINVAL), and leave the scheduler sound when many goroutines do it at
// once (the race detector and the runtime's own checks watch this).
func TestBlockingFdatasync(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	if err := fdatasync(f); err != nil {
		t.Fatalf("fdatasync of a file: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := fdatasync(w); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("fdatasync of a pipe = %v, want EINVAL", err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := fdatasync(f); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
