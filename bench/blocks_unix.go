//go:build unix

package bench

import (
	"os"
	"syscall"
)

// allocated is the space fi takes on disk (its blocks), if known.
func allocated(fi os.FileInfo) (int64, bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512, true
	}
	return 0, false
}
