//go:build !linux

package wal

// trimValueLogs: only Linux has MADV_PAGEOUT; elsewhere the kernel
// reclaims the value log's pages when it needs the memory.
func (s *Store) trimValueLogs() {}
