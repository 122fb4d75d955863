package wal

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The pages of value-log files no longer written leave hookd's RSS; the
// newest file's stay.
func TestTrimValueLogs(t *testing.T) {
	probe, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Madvise(probe, unix.MADV_PAGEOUT); err != nil {
		t.Skipf("kernel without MADV_PAGEOUT: %v", err)
	}
	_ = unix.Munmap(probe)

	// Only this test's trims: the store's own would race its first count.
	defer func(d time.Duration) { trimInterval = d }(trimInterval)
	trimInterval = time.Hour
	// A relative data directory, as the default "./hookd-data" is.
	wd, _ := os.Getwd()
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	s, err := Open(Options{Dir: "data", ValueThreshold: 64, ValueLogFileSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := `"` + strings.Repeat("x", 1000) + `"`
	for i := 0; i < 60; i++ { // ~6 MB: several 1 MiB files
		in := make([]EventInput, 100)
		for j := range in {
			in[j] = ev("a", "", data)
		}
		if _, err := s.Append("acme", in); err != nil {
			t.Fatal(err)
		}
	}
	newest := s.vlogs.newest.Load()
	old, cur := vlogRSS(t, s.vlogs.realDir, newest)
	if newest < 3 || old < 1<<20 {
		t.Fatalf("setup: newest value log %d, %d KiB resident in older ones", newest, old>>10)
	}
	s.trimValueLogs()
	old2, cur2 := vlogRSS(t, s.vlogs.realDir, newest)
	t.Logf("older value logs resident: %d → %d KiB; newest: %d → %d KiB", old>>10, old2>>10, cur>>10, cur2>>10)
	if old2 > old/4 {
		t.Errorf("older value logs still hold %d of %d KiB after the trim", old2>>10, old>>10)
	}
	if cur > 0 && cur2 == 0 {
		t.Error("the newest value log, still written, was trimmed")
	}
}

// vlogRSS sums the resident bytes of this process's mappings of value-log
// files in dir, older than newest and the newest.
func vlogRSS(t *testing.T, dir string, newest int64) (old, cur int64) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var fid int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		fs := bytes.Fields(line)
		if len(fs) >= 5 && bytes.Contains(fs[0], []byte("-")) && len(fs[1]) == 4 { // a mapping's header
			fid = -1 // anonymous mappings (no 6th field) too
			if len(fs) < 6 {
				continue
			}
			if name := string(fs[5]); strings.HasSuffix(name, ".vlog") && strings.HasPrefix(name, dir+"/") {
				base := name[strings.LastIndexByte(name, '/')+1:]
				fid, _ = strconv.ParseInt(strings.TrimSuffix(base, ".vlog"), 10, 64)
			}
			continue
		}
		if fid < 0 || len(fs) < 2 || string(fs[0]) != "Rss:" {
			continue
		}
		kb, _ := strconv.ParseInt(string(fs[1]), 10, 64)
		if fid < newest {
			old += kb << 10
		} else {
			cur += kb << 10
		}
	}
	return old, cur
}
