//go:build !linux

package bench

import (
	"os"
	"time"
)

// threadCPU is unknown off Linux: 0, and the CPU-per-sync figure reads 0.
func threadCPU() time.Duration { return 0 }

// faultCost is not measured off Linux: 0, and the figure is left out.
func faultCost() time.Duration { return 0 }

// fdatasync is f.Sync (fsync) where the store uses it too
// (wal/fdatasync_other.go).
func fdatasync(f *os.File) error { return f.Sync() }

// IsTerminal reports whether f is a character device, the portable
// approximation of a terminal (the progress line then rewrites itself in
// place).
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
