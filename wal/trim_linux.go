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
//
// Every tablesEvery calls it also unmaps the resident pages of Badger's
// table files (trimTables).
func (s *Store) trimValueLogs() {
	newest := s.vlogs.newest.Load()
	s.trims++
	tables := s.trims%tablesEvery == 0
	if newest <= 0 && !tables {
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
	if tables {
		trimTables(maps, s.vlogs.realDir)
	}
}

// tablesEvery: the table files are trimmed every this many value-log
// trims (every 2 s while the store writes, every 16 s when idle).
const tablesEvery = 8

// trimTables drops this process's page mappings of Badger's table files
// (<dir>/%06d.sst), leaving the pages in the kernel's page cache. Badger
// maps every table whole and shared; compactions read whole tables
// through those maps, so without this every table compacted once stays in
// RSS, and RSS grows with the store (the soak: 220 MiB of tables after
// 11 minutes, on top of the Go heap). MADV_DONTNEED on a shared file
// mapping only unmaps: the next read of a page is a minor fault from the
// page cache, and pages still dirty (a table being built) keep their data
// in the cache, to be written back as before. Reads mostly come from
// Badger's block and index caches anyway (decompressed copies).
func trimTables(maps []byte, dir string) {
	for _, m := range fileMaps(maps, dir, ".sst") {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED)
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
func valueLogMaps(maps []byte, dir string) []vlogMap { return fileMaps(maps, dir, ".vlog") }

// fileMaps finds in maps the mappings of the files named <number><ext> in
// dir.
func fileMaps(maps []byte, dir, ext string) []vlogMap {
	var out []vlogMap
	for line := range bytes.Lines(maps) {
		// 7f3c1c000000-7f3c20000000 rw-s 00000000 fd:01 1234   /data/000001.vlog
		f := bytes.Fields(line)
		if len(f) < 6 || !bytes.HasSuffix(f[5], []byte(ext)) || filepath.Dir(string(f[5])) != dir {
			continue
		}
		fid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(string(f[5])), ext))
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
