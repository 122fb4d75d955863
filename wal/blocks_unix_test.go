//go:build unix

package wal

import (
	"os"
	"syscall"
)

// blocks is the space fi takes on disk: its allocated blocks, as du
// counts them.
func blocks(fi os.FileInfo) int64 { return fi.Sys().(*syscall.Stat_t).Blocks * 512 }
