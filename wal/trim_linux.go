package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimValueLogs hands back to the kernel the pages of value-log files that
// are no longer written to (every file but the newest). Badger reads and
// writes its value log through memory maps, so each page written or read
// stays in this process's RSS until the kernel needs the memory; a backlog
// of a million events would sit there as ~300 MiB of clean page cache.
// MADV_PAGEOUT reclaims those pages now (reading them again is a disk read,
// as for any cold event). It never loses data: clean pages are dropped,
// anything else is written back first, and should an address range have
// been unmapped and reused meanwhile, it applies to anonymous memory
// only as a swap hint. Kernels before 5.4 refuse it; then nothing happens.
//
// It depends on how Badger maps its value log (each file shared-mapped
// whole, named <dir>/%06d.vlog); TestValueLogMaps (trim_linux_test.go)
// fails loudly, naming the Badger version checked, if that changes.
func (s *Store) trimValueLogs() {
	newest := s.vlogs.newest.Load()
	if newest <= 0 {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, m := range valueLogMaps(maps, s.vlogs.realDir) {
		if m.fid < newest {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT)
		}
	}
}

// vlogMap is one mapping of a value-log file.
type vlogMap struct {
	fid        int64
	start, end uintptr
	perms      string // as /proc/self/maps shows them: "rw-s"
}

// valueLogMaps finds in maps (/proc/self/maps) the mappings of the
// value-log files in dir (absolute, links resolved).
func valueLogMaps(maps []byte, dir string) []vlogMap {
	var out []vlogMap
	for line := range bytes.Lines(maps) {
		// 7f3c1c000000-7f3c20000000 rw-s 00000000 fd:01 1234   /data/000001.vlog
		f := bytes.Fields(line)
		if len(f) < 6 || !bytes.HasSuffix(f[5], []byte(".vlog")) || filepath.Dir(string(f[5])) != dir {
			continue
		}
		fid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(string(f[5])), ".vlog"))
		if err != nil {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, vlogMap{fid: int64(fid), start: uintptr(start), end: uintptr(end), perms: string(f[1])})
	}
	return out
}
