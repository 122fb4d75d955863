package bench

import (
	"os"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time the calling OS thread has used (the caller
// locks its goroutine to the thread).
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(unix.TimevalToNsec(ru.Utime) + unix.TimevalToNsec(ru.Stime))
}

// fdatasync flushes f's data as the store does (wal/fdatasync_linux.go).
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// IsTerminal reports whether f is a terminal (the progress line then
// rewrites itself in place).
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// faultCost is the wall time of a page fault on fresh anonymous memory
// (the kernel maps and zeroes a page on its first touch): the median of
// three runs over 16 MiB, per page, as the system maps anonymous memory
// by default (transparent huge pages would make it cheaper). Where memory
// is paged through a hypervisor's shadow page tables it is tens of times
// dearer than on bare metal or a guest with nested paging, and so is
// everything hookd does that touches fresh pages: a memtable rotation
// allocates ~10,000.
func faultCost() time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const size = 16 << 20
	page := os.Getpagesize()
	var runs []time.Duration
	for range 3 {
		b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err != nil {
			return 0
		}
		t0 := time.Now()
		for i := 0; i < size; i += page {
			b[i] = 1
		}
		runs = append(runs, time.Since(t0)/time.Duration(size/page))
		_ = unix.Munmap(b)
	}
	slices.Sort(runs)
	return runs[1]
}
