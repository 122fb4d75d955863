package wal

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/sys/unix"
)

// trimMaps hands back to the kernel the pages of Badger's memory-mapped
// files that this process holds: first those of value-log files that are
// no longer written to (every file but the newest). Badger reads and
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
// Pages come into the maps by the store's writes and reads, and by
// Badger's flushes and compactions, so a call that finds none of these
// since the last has nothing to hand back and returns at once: an idle
// store's trim makes no syscall (on a store of 575 tables, reading
// /proc/self/maps alone takes ~1.5 ms). Otherwise it also unmaps the
// pages of Badger's table files (trimTables) and, when the store wrote,
// of the two logs being written (trimActiveLogs). A table trim runs also
// every tablesEvery calls, at every call with allTables (while value-log
// GC runs, whose lookups read the tables), and while the last one found
// the tables busy. busy reports that Badger's tables are changing: a
// table mapped that is not in its levels (being built by a flush or a
// compaction, or compacted away), or its levels' tables not those of the
// last call.
func (s *Store) trimMaps(allTables bool) (busy bool) {
	newest := s.vlogs.newest.Load()
	s.trims++
	w, r := s.writes.Load(), s.reads.Load()
	wrote, read := w != s.trimmed, r != s.trimReads
	s.trimmed, s.trimReads = w, r
	if !wrote && !read && !allTables && !s.tablesBusy && s.trims%tablesEvery != 0 {
		return false
	}
	// An iterator holds a reference on every memtable and table Badger
	// has when it is made, and keeps every value-log file from being
	// deleted, until the trim is done (trimActiveLogs, trimTables).
	before := s.db.Tables()
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	held, busy := s.tableIndexRoots(heldTables(before, s.db.Tables()))
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return false
	}
	for _, m := range valueLogMaps(maps, s.vlogs.realDir) {
		if m.fid < newest {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT)
		}
	}
	if wrote {
		trimActiveLogs(maps, s.vlogs.realDir, newest, s.opts.ValueLogFileSize)
	}
	if trimTables(maps, s.vlogs.realDir, held) {
		busy = true
	}
	s.tablesBusy = busy
	return busy
}

// trimDuringGC runs trimMaps every interval, tables included, until
// the returned stop is called, for the time the expiry sweep and
// value-log GC hold gcLoop. The sweep reads every key and GC looks up
// every key of the file it rewrites, both through the tables' maps: with
// the trims waiting for them, an hour-long soak saw 464 to 695 MiB of
// tables resident for the ~8 s they took. While this runs gcLoop calls no
// trim itself, so the trim's state (trims, trimmed) stays one goroutine's
// at a time; stop returns once the last trim is done. Each trim is told on
// trimmed, if not nil and not full (tests).
func (s *Store) trimDuringGC(interval time.Duration, trimmed chan<- struct{}) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.trimMaps(true)
				select {
				case trimmed <- struct{}{}:
				default:
				}
			}
		}
	}()
	return func() { close(done); <-exited }
}

// trimActiveLogs drops this process's page mappings of the two log files
// Badger is writing: the newest memtable log (<dir>/%05d.mem) and the
// newest value-log file. Each is mapped shared at twice its size (64 MiB
// for 32 MiB memtables) and written through the map, so every page
// written stays in RSS until the file rotates: up to ~60 MiB between them
// in the soak (bench/BASELINE.md). MADV_DONTNEED on a shared file mapping
// only unmaps: a dirty page keeps its data in the page cache and is
// written back and covered by the store's fdatasync as before; the next
// write to a page, or a read of a recent value at delivery, is a minor
// fault. Badger never reads a memtable log back except to replay it at
// open.
//
// Only those two, because their address ranges are not unmapped between
// reading /proc/self/maps and the madvise: MADV_DONTNEED on a range
// reused meanwhile by anonymous memory would zero it. trimMaps reads
// the maps while an iterator holds a reference on every memtable Badger
// had when it was made, and a memtable's log stays mapped while it is
// referenced. The newest memtable log in the maps is the one being
// written: it was either held (the memtable being written when the
// iterator was made) or made since, and then it would have to be filled
// (memtable-size bytes written) and flushed before it could be unmapped.
// The memtable logs rotated out, waiting for their flush, are left alone,
// as an older one may be out of Badger's lists and still mapped, held by
// a read that unmaps it when it ends; they hold what was written since
// the last trim, one trimInterval of writes. The newest value-log file is
// never deleted while this runs (value-log GC runs on the same goroutine),
// but at its rotation Badger truncates it to where it wrote, past
// fileSize, and shrinks its map: only its first fileSize bytes are
// dropped.
func trimActiveLogs(maps []byte, dir string, newestVlog, fileSize int64) {
	if top, ok := newestMap(fileMaps(maps, dir, ".mem")); ok {
		dropPages(top.start, top.end)
	}
	if top, ok := newestMap(valueLogMaps(maps, dir)); ok && top.fid >= newestVlog {
		size := uintptr(fileSize) &^ uintptr(os.Getpagesize()-1)
		dropPages(top.start, min(top.end, top.start+size))
	}
}

// newestMap is the mapping of the highest-numbered file of ms.
func newestMap(ms []vlogMap) (top vlogMap, ok bool) {
	for _, m := range ms {
		if !ok || m.fid > top.fid {
			top, ok = m, true
		}
	}
	return top, ok
}

// dropPages is MADV_DONTNEED on [start, end).
func dropPages(start, end uintptr) {
	if end > start {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED)
	}
}

// tablesEvery: an idle store's table files are trimmed every this many
// trims (16 s), for what reads alone brought in.
const tablesEvery = 8

// trimTables drops this process's page mappings of Badger's table files
// (<dir>/%06d.sst). Badger maps every table whole and shared; compactions
// read whole tables through those maps (and write new ones through them),
// and value-log GC looks keys up in them, so without this every table
// read once stays in RSS, and RSS grows with the store (the soak: 220 MiB
// of tables after 11 minutes, on top of the Go heap). Reads mostly come
// from Badger's block cache anyway (decompressed copies).
//
// A table in held (one Badger cannot unmap meanwhile) gets MADV_DONTNEED,
// which only unmaps on a shared file mapping: its pages stay in the page
// cache, the next read is a minor fault, and dirty pages keep their data
// to be written back as before. The others (tables being built by a
// compaction, or compacted away and not yet closed) get MADV_PAGEOUT,
// which evicts clean pages from the cache too (a later read is a disk
// read) but is harmless whatever the range has become: a compaction
// deletes, and unmaps, tables at any moment, and should the Go runtime
// have mapped anonymous memory into a freed range before the madvise,
// MADV_DONTNEED would zero it, where MADV_PAGEOUT is at most a swap hint.
//
// Of a held table, the pages of the span held gives stay mapped: the
// index root that every trim's db.Tables() reads (tableIndexRoots). A
// madvise that unmaps a page costs a TLB shootdown (~120 µs in a 2-core
// VM, against ~1.5 µs when nothing in the range is mapped), and the next
// trim's Tables() would map the page back in: on a 10 GB store of 575
// tables that cycle was 79 ms of every trim. The ranges left to drop are
// merged where one mapping ends where the next begins, so that what
// reads brought into a run of tables costs one shootdown. others reports
// a table mapped that is not in held.
func trimTables(maps []byte, dir string, held map[uint64]fileSpan) (others bool) {
	page := int64(os.Getpagesize())
	var drop []addrRange
	for _, m := range fileMaps(maps, dir, ".sst") {
		keep, ok := held[uint64(m.fid)]
		if !ok {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT)
			others = true
			continue
		}
		// The kept span as addresses of this mapping, whole pages.
		size := int64(m.end - m.start)
		lo := min(max(keep.lo-m.off, 0)&^(page-1), size)
		hi := min(max(keep.hi-m.off+page-1, 0)&^(page-1), size)
		if hi <= lo {
			lo, hi = size, size
		}
		drop = append(drop, addrRange{m.start, m.start + uintptr(lo)}, addrRange{m.start + uintptr(hi), m.end})
	}
	slices.SortFunc(drop, func(a, b addrRange) int { return cmp.Compare(a.start, b.start) })
	var run addrRange
	for _, r := range drop {
		if r.end <= r.start {
			continue
		}
		if r.start == run.end {
			run.end = r.end
			continue
		}
		dropPages(run.start, run.end)
		run = r
	}
	dropPages(run.start, run.end)
	return others
}

// addrRange is the address range [start, end).
type addrRange struct{ start, end uintptr }

// tableIndexRoots returns, for each table of held, the span of its file
// that db.Tables() reads (indexRoot), and keeps them in s.tableRoots:
// only a table new since the last trim is read from its file. A table
// leaves held once (compacted away), and its entry then. changed reports
// that held is not the last call's.
func (s *Store) tableIndexRoots(held map[uint64]bool) (roots map[uint64]fileSpan, changed bool) {
	if s.tableRoots == nil {
		s.tableRoots = make(map[uint64]fileSpan, len(held))
	}
	for id := range s.tableRoots {
		if !held[id] {
			delete(s.tableRoots, id)
			changed = true
		}
	}
	for id := range held {
		if _, ok := s.tableRoots[id]; !ok {
			s.tableRoots[id] = indexRoot(filepath.Join(s.vlogs.realDir, fmt.Sprintf("%06d.sst", id)))
			changed = true
		}
	}
	return s.tableRoots, changed
}

// indexRoot is the span of a Badger table file that db.Tables() reads at
// every call: its index's root object and that object's vtable
// (TableInfo.StaleDataSize is read from the index; the other fields come
// from a copy Badger made at open). The index is found as Badger's
// table.Open finds it, from the file's end: the checksum's length (4
// bytes, big-endian), the checksum, the index's length (4 bytes), the
// index, a flatbuffer. The span is empty if the file cannot be read so
// or the root does not lie in the index's first KiB; the table's pages
// are then all dropped, as before there was a span to keep.
// TestTrimTablesKeepsWhatTablesReads fences this against Badger upgrades.
func indexRoot(path string) fileSpan {
	f, err := os.Open(path)
	if err != nil {
		return fileSpan{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileSpan{}
	}
	var b [4]byte
	u32 := func(off int64) (int64, bool) {
		if off < 0 {
			return 0, false
		}
		_, err := f.ReadAt(b[:], off)
		return int64(binary.BigEndian.Uint32(b[:])), err == nil
	}
	sumLen, ok1 := u32(fi.Size() - 4)
	idxLen, ok2 := u32(fi.Size() - 8 - sumLen)
	start := fi.Size() - 8 - sumLen - idxLen
	if !ok1 || !ok2 || start < 0 {
		return fileSpan{}
	}
	head := make([]byte, min(idxLen, 1024))
	if _, err := f.ReadAt(head, start); err != nil {
		return fileSpan{}
	}
	lo, hi, ok := flatRoot(head)
	if !ok {
		return fileSpan{}
	}
	return fileSpan{start + lo, start + hi}
}

// flatRoot is where, in the flatbuffer buf, its root table and the
// table's vtable lie: [lo, hi) spans both. ok is false if they do not
// lie within buf.
func flatRoot(buf []byte) (lo, hi int64, ok bool) {
	le := binary.LittleEndian
	n := int64(len(buf))
	if n < 4 {
		return 0, 0, false
	}
	pos := int64(le.Uint32(buf)) // the root's offset
	if pos+4 > n {
		return 0, 0, false
	}
	vt := pos - int64(int32(le.Uint32(buf[pos:]))) // its vtable
	if vt < 0 || vt+4 > n {
		return 0, 0, false
	}
	vtLen, objLen := int64(le.Uint16(buf[vt:])), int64(le.Uint16(buf[vt+2:]))
	lo, hi = min(pos, vt), max(pos+max(objLen, 4), vt+max(vtLen, 4))
	return lo, hi, hi <= n
}

// heldTables are the tables listed in Badger's levels both before and
// after an iterator was made: they were there when it was made (a table
// enters the levels once and leaves once), so it holds a reference on
// them, and a table stays mapped while referenced. Tables just built or
// just compacted away are not among them.
func heldTables(before, after []badger.TableInfo) map[uint64]bool {
	was := make(map[uint64]bool, len(before))
	for _, t := range before {
		was[t.ID] = true
	}
	held := make(map[uint64]bool, len(after))
	for _, t := range after {
		if was[t.ID] {
			held[t.ID] = true
		}
	}
	return held
}

// vlogMap is one mapping of a value-log file.
type vlogMap struct {
	fid        int64
	start, end uintptr
	off        int64  // the file offset mapped at start
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
		off, err3 := strconv.ParseInt(string(f[2]), 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		out = append(out, vlogMap{fid: int64(fid), start: uintptr(start), end: uintptr(end), off: off, perms: string(f[1])})
	}
	return out
}
