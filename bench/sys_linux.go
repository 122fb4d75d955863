package bench

import (
	"os"
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
