package wal

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync writes f's data and the metadata needed to read it back (its
// size, the extents that writes into preallocated blocks converted), not
// its timestamps. Badger's logs keep their size while written through
// their maps, so what fsync added was a synchronous write of the inode
// for its mtime: a second disk write per file and commit that nothing
// reads back.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(fd uintptr) {
		for {
			if err = unix.Fdatasync(int(fd)); err != unix.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}
