//go:build !linux

package wal

import "time"

// trimMaps: only Linux has MADV_PAGEOUT; elsewhere the kernel
// reclaims the mapped files' pages when it needs the memory.
func (s *Store) trimMaps(allTables bool) (busy bool) { return false }

// trimDuringGC: nothing to trim.
func (s *Store) trimDuringGC(time.Duration, chan<- struct{}) (stop func()) { return func() {} }
