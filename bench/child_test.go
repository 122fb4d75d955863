package bench

import (
	"os"
	"runtime"
	"testing"
)

// procMem reads the resident set and its two parts from /proc: this test
// process has both anonymous memory (its heap) and file-backed pages (its
// binary), and they add up to the whole.
func TestProcMem(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/status is Linux's")
	}
	m := procMem(os.Getpid())
	if m.RSS <= 0 || m.Anon <= 0 || m.File <= 0 {
		t.Fatalf("procMem = %+v; want all three above 0", m)
	}
	if m.Anon+m.File != m.RSS {
		t.Errorf("anonymous %d + file-backed %d != RSS %d", m.Anon, m.File, m.RSS)
	}
	if (procMem(-1) != Mem{}) {
		t.Error("procMem of no process is not zero")
	}
}
