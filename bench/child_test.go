package bench

import (
	"os"
	"runtime"
	"testing"
	"time"
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

// procCPU sums the threads' nanosecond run times, which must agree with
// the kernel's 10-ms ticks for the same process (within a tick each way,
// plus what ran between the two reads) and only grow.
func TestProcCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	if _, ok := schedCPU(os.Getpid()); !ok {
		t.Skip("this kernel keeps no schedstat")
	}
	pid := os.Getpid()
	start, ticks0 := procCPU(pid), statCPU(pid)
	// Work until the ticks have moved by a few, however fast the machine.
	for statCPU(pid) < ticks0+30*time.Millisecond {
		for i := 0; i < 1e6; i++ {
			sink += i
		}
	}
	before := procCPU(pid)
	ticks := statCPU(pid)
	after := procCPU(pid)
	if before < start || after < before {
		t.Fatalf("procCPU went back: %v, %v, %v", start, before, after)
	}
	if ticks < before-10*time.Millisecond || ticks > after+10*time.Millisecond {
		t.Errorf("procCPU %v..%v, ticks %v: more than a tick apart", before, after, ticks)
	}
	t.Logf("procCPU %v..%v, ticks %v", before, after, ticks)
	if procCPU(-1) != 0 {
		t.Error("procCPU of no process is not zero")
	}
}

var sink int

// faultCost measures something on Linux (a page fault takes time) and
// nothing elsewhere; how much is the machine's business, not the test's.
func TestFaultCost(t *testing.T) {
	d := faultCost()
	if runtime.GOOS == "linux" && d <= 0 {
		t.Fatalf("faultCost = %v on Linux", d)
	}
	if runtime.GOOS != "linux" && d != 0 {
		t.Fatalf("faultCost = %v off Linux, where it is not measured", d)
	}
}
