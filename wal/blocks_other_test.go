//go:build !unix

package wal

import "os"

// blocks is the space fi takes on disk; without a block count (Windows),
// its size.
func blocks(fi os.FileInfo) int64 { return fi.Size() }
