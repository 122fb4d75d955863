package wal

import (
	"os"
	"syscall"
	_ "unsafe" // go:linkname, below

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
			if err = blockingFdatasync(fd); err != unix.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// blockingFdatasync is fdatasync(2) entered the way the runtime enters a
// call it knows will block: the goroutine's P is handed off at once
// (entersyscallblock) rather than left attached to the thread until the
// runtime's monitor (sysmon) takes it away. What that changes is sysmon's
// own cost. While any P is not idle, sysmon wakes every 20 µs (for the
// first millisecond after a syscall woke it, then less often), and on this
// project's VM each of those wake-ups costs tens of µs of the process's
// CPU: at a trickle, a commit's sync is most of the time an event keeps
// the process busy, and sysmon's polling through it was 40% of the
// context switches and ~25% of the CPU per event. With the P handed off
// and nothing else to run, every P is idle during the sync and sysmon
// sleeps until the next event. Under load the P goes to another thread
// with work, which is what sysmon would have done after 20 µs anyway.
//
// entersyscallblock and exitsyscall are the runtime's own entry points,
// kept reachable by name for programs that do this (gVisor; see the
// runtime's "hall of shame" notes and go.dev/issue/67401), so the build
// fails if a Go release drops them. Between the two the stack must not
// grow: this function is nosplit and calls only RawSyscall, which is too.
//
//go:nosplit
func blockingFdatasync(fd uintptr) error {
	entersyscallblock()
	_, _, e := syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0)
	exitsyscall()
	if e != 0 {
		return e
	}
	return nil
}

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()
