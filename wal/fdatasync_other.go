//go:build !linux

package wal

import "os"

// fdatasync is fsync where the system offers no fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }
