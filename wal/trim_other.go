//go:build !linux

package wal

import "time"

// trimValueLogs: only Linux has MADV_PAGEOUT; elsewhere the kernel
// reclaims the value log's pages when it needs the memory.
func (s *Store) trimValueLogs(allTables bool) {}

// trimDuringGC: nothing to trim.
func (s *Store) trimDuringGC(time.Duration, chan<- struct{}) (stop func()) { return func() {} }
