package wal

import (
	"os"

	"golang.org/x/sys/unix"
)

// statfsFree is the space on dir's filesystem available to an
// unprivileged user (root's reserved blocks on ext4 are not counted:
// the reserve holds without them).
func statfsFree(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// fallocate gives the first n bytes of f disk blocks without changing
// its size (FALLOC_FL_KEEP_SIZE: Badger may truncate the file meanwhile,
// and must find the size it set).
func fallocate(f *os.File, n int64) error {
	for {
		err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, n)
		if err != unix.EINTR {
			return err
		}
	}
}

// allocUnsupported: the filesystem cannot allocate ahead (then the
// reserve alone keeps Badger's writes from faulting).
func allocUnsupported(err error) bool {
	return err == unix.EOPNOTSUPP || err == unix.ENOSYS
}
