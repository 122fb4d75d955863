package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/sys/unix"
)

// The pages of value-log files no longer written leave hookd's RSS (paged
// out), and so do the newest file's (unmapped, left in the page cache);
// every event still reads back.
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
	// ~6 MB: several 1 MiB files, and then until the newest holds some.
	ids := appendHundreds(t, s, 59, data)
	var newest, old, cur int64
	for i := 0; i == 0 || cur < 128<<10 && i < 21; i++ {
		ids = append(ids, appendHundreds(t, s, 1, data)...)
		newest = s.vlogs.newest.Load()
		old, cur = vlogRSS(t, s.vlogs.realDir, newest)
	}
	if newest < 3 || old < 1<<20 {
		t.Fatalf("setup: newest value log %d, %d KiB resident in older ones", newest, old>>10)
	}
	s.trimMaps(false)
	old2, cur2 := vlogRSS(t, s.vlogs.realDir, newest)
	t.Logf("older value logs resident: %d → %d KiB; newest: %d → %d KiB", old>>10, old2>>10, cur>>10, cur2>>10)
	if old2 > old/4 {
		t.Errorf("older value logs still hold %d of %d KiB after the trim", old2>>10, old>>10)
	}
	if cur < 128<<10 {
		t.Fatalf("setup: %d KiB resident in the newest value log", cur>>10)
	}
	if cur2 > cur/4 {
		t.Errorf("the newest value log still holds %d of %d KiB after the trim", cur2>>10, cur>>10)
	}
	readsBack(t, s, ids, data, "after the trim")
}

// The fence of trim_linux.go: Badger maps every value-log file whole and
// shared, so that /proc/self/maps names each as <dir>/%06d.vlog with dir
// absolute and its links resolved (the data directory here is relative and
// a symbolic link, as a deployment's may be). It fails loudly when a Badger
// upgrade changes that: trimMaps would then silently trim nothing,
// or the wrong files.
func TestValueLogMaps(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "real"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	s, err := Open(Options{Dir: "link", ValueThreshold: 64, ValueLogFileSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := `"` + strings.Repeat("x", 1000) + `"`
	appendHundreds(t, s, 30, data) // ~3 MB: several 1 MiB files
	if s.vlogs.newest.Load() < 2 {
		t.Fatalf("setup: newest value log is %d after 3 MB", s.vlogs.newest.Load())
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	var raw []string // every mapping of a .vlog, for the message
	for line := range strings.Lines(string(maps)) {
		if strings.Contains(line, ".vlog") {
			raw = append(raw, strings.TrimSpace(line))
		}
	}
	mapped := map[int64]vlogMap{}
	for _, m := range valueLogMaps(maps, s.vlogs.realDir) {
		mapped[m.fid] = m
	}
	for _, name := range dirNames(t, filepath.Join(base, "real")) {
		num, ok := strings.CutSuffix(name, ".vlog")
		if !ok {
			continue
		}
		fid, _ := strconv.ParseInt(num, 10, 64)
		m, ok := mapped[fid]
		if !ok {
			badgerAssumption(t, "trim_linux.go",
				"Badger memory-maps every value-log file, so /proc/self/maps names it "+s.vlogs.realDir+"/%06d.vlog",
				"%s is not among the value-log mappings found: %v.\nMappings of .vlog files in /proc/self/maps:\n%s", name, mapped, strings.Join(raw, "\n"))
		}
		if len(m.perms) != 4 || m.perms[3] != 's' {
			badgerAssumption(t, "trim_linux.go",
				"Badger maps its value-log files shared (MAP_SHARED), so that paging them out writes dirty pages back to the file",
				"%s is mapped %q.", name, m.perms)
		}
		fi, err := os.Stat(filepath.Join(base, "real", name))
		if err != nil {
			t.Fatal(err)
		}
		if size := int64(m.end - m.start); size < min(fi.Size(), 1<<20) {
			badgerAssumption(t, "trim_linux.go",
				"Badger maps each value-log file whole, in one mapping",
				"%s (%d bytes) has a mapping of %d bytes.", name, fi.Size(), size)
		}
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

// Badger's table files leave hookd's RSS at a table trim (their pages
// stay in the page cache), and what they hold still reads back.
func TestTrimTables(t *testing.T) {
	defer func(d time.Duration) { trimInterval = d }(trimInterval)
	trimInterval = time.Hour     // only this test's trims
	s, ids := tablesStore(t, 80) // ~4 MB
	defer s.Close()
	// Closed, the store flushes its memtables to tables; reopened, a read
	// of every event goes through their maps.
	s.Close()
	s, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := s.vlogs.realDir
	if _, err := s.GetEvents("acme", ids); err != nil {
		t.Fatal(err)
	}
	if n := tablesRSS(t, dir); n < 256<<10 {
		t.Fatalf("setup: %d KiB of tables resident after reading 4 MB back", n>>10)
	}
	before := tablesRSS(t, dir)
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	if len(fileMaps(maps, dir, ".sst")) == 0 {
		t.Fatalf("no mapping of a .sst file in %s found in /proc/self/maps (Badger's table maps changed?)", dir)
	}
	s.trimMaps(true)
	after := tablesRSS(t, dir)
	t.Logf("tables resident: %d → %d KiB", before>>10, after>>10)
	if after > before/4 {
		t.Errorf("tables still hold %d of %d KiB after the trim", after>>10, before>>10)
	}
	readsBack(t, s, ids, tableData, "after the trim")
}

// A table trim leaves mapped the pages of each table's index root, and
// only those: db.Tables(), which every trim calls, then maps nothing back
// in. It fences indexRoot against Badger upgrades: should Tables() read
// more of a table than its index root (or the index move), each trim
// would again fault those pages in and pay a TLB shootdown to drop them,
// ~80 ms per trim on a store of 575 tables (bench/BASELINE.md).
func TestTrimTablesKeepsWhatTablesReads(t *testing.T) {
	s, ids := quietTablesStore(t)
	readsBack(t, s, ids, tableData, "before the trim")
	dir := s.vlogs.realDir
	page := int64(os.Getpagesize())

	if !s.trimMaps(true) {
		t.Error("the first table trim does not report Badger's tables as changed")
	}
	if s.trimMaps(true) {
		t.Error("a table trim reports Badger's tables as changed with no write and no compaction since the last")
	}
	trimmed := filesRSS(t, dir, ".sst")
	if len(s.tableRoots) == 0 {
		t.Fatal("setup: no table in Badger's levels")
	}
	for id, span := range s.tableRoots {
		if span.hi <= span.lo {
			badgerAssumption(t, "trim_linux.go",
				"a table file ends with its index (a flatbuffer whose root lies in its first KiB), the index's length and a checksum, as table.Open reads them",
				"indexRoot found no index root in %06d.sst", id)
		}
		kept := (span.hi+page-1)/page*page - span.lo/page*page
		if rss := trimmed[int64(id)]; rss > kept {
			t.Errorf("table %06d.sst: %d bytes resident after the trim, more than its index root's %d", id, rss, kept)
		}
	}
	s.db.Tables()
	for id, rss := range filesRSS(t, dir, ".sst") {
		if rss > trimmed[id] {
			badgerAssumption(t, "trim_linux.go",
				"db.Tables() reads of a table file only its index's root object and vtable (TableInfo.StaleDataSize)",
				"%06d.sst: %d bytes resident after the trim, %d after db.Tables()", id, trimmed[id], rss)
		}
	}
	readsBack(t, s, ids, tableData, "after the trim")
}

// An index root is found in any flatbuffer whose root and vtable lie
// within it, and flatRoot never reads past the buffer, whatever it holds.
func FuzzFlatRoot(f *testing.F) {
	// A root table at 8 with its 8-byte vtable at 0 (objLen 12).
	f.Add([]byte{8, 0, 0, 0, 8, 0, 12, 0, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	f.Add([]byte{4, 0, 0, 0, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, buf []byte) {
		lo, hi, ok := flatRoot(buf)
		if ok && (lo < 0 || hi <= lo || hi > int64(len(buf))) {
			t.Fatalf("flatRoot = [%d, %d) of %d bytes", lo, hi, len(buf))
		}
	})
}

// A trim with nothing written or read since the last returns at once (an
// idle store's trim makes no syscall), and one after reads alone hands
// back what they brought in.
func TestTrimAfterReadsAlone(t *testing.T) {
	s, ids := quietTablesStore(t)
	dir := s.vlogs.realDir
	trim := func() {
		if (s.trims+1)%tablesEvery == 0 {
			s.trims++ // not the every-tablesEvery table trim
		}
		s.trimMaps(false)
	}
	trim()
	trim() // the first found the tables new (busy)
	// Read past the store's count, straight through Badger: the next trim
	// finds nothing read and leaves the pages alone.
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range ids {
			if _, err := txn.Get(eventKey("acme", id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	uncounted := tablesRSS(t, dir)
	if uncounted < 256<<10 {
		t.Fatalf("setup: %d KiB of tables resident after reading 4 MB back", uncounted>>10)
	}
	trim()
	if n := tablesRSS(t, dir); n < uncounted {
		t.Errorf("a trim with nothing written or read since the last trimmed tables: %d → %d KiB", uncounted>>10, n>>10)
	}
	trim()
	readsBack(t, s, ids, tableData, "before the trim") // counted
	before := tablesRSS(t, dir)
	if before < 256<<10 {
		t.Fatalf("setup: %d KiB of tables resident after reading 4 MB back", before>>10)
	}
	trim()
	after := tablesRSS(t, dir)
	t.Logf("tables resident: %d → %d KiB", before>>10, after>>10)
	if after > before/4 {
		t.Errorf("tables still hold %d of %d KiB after a trim that followed reads", after>>10, before>>10)
	}
}

// tablesRSS is the resident size of the mappings of dir's .sst files.
func tablesRSS(t *testing.T, dir string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var in bool
	var n int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := bytes.Fields(sc.Bytes())
		if len(fs) >= 5 && bytes.Contains(fs[0], []byte("-")) && len(fs[1]) == 4 {
			in = len(fs) >= 6 && strings.HasSuffix(string(fs[5]), ".sst") && strings.HasPrefix(string(fs[5]), dir+"/")
			continue
		}
		if in && len(fs) >= 2 && string(fs[0]) == "Rss:" {
			kb, _ := strconv.ParseInt(string(fs[1]), 10, 64)
			n += kb << 10
		}
	}
	return n
}

// The newest memtable log's pages leave hookd's RSS at a trim (they stay
// in the page cache: Badger writes the log through a shared map and never
// reads it back but to replay it), writes after the trim land in the same
// file, and a crash image of the store taken after the trim (the files as
// the page cache holds them, which the store's fdatasync puts on disk)
// replays every acknowledged event. It also fences the assumptions of
// trimActiveLogs: Badger maps each memtable log whole and shared, as
// <dir>/%05d.mem, and the highest-numbered is the one being written.
func TestTrimMemLogs(t *testing.T) {
	defer func(d time.Duration) { trimInterval = d }(trimInterval)
	trimInterval = time.Hour // only this test's trims
	dir := t.TempDir()
	// 8 MiB memtables and values inline (under 1 KiB): the ~2.5 MB below
	// stays in the first memtable and its log, nothing is flushed to a
	// table.
	opts := Options{Dir: dir, MemTableSize: 8 << 20, ValueThreshold: 1 << 10}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := `"` + strings.Repeat("m", 400) + `"`
	var ids []ID
	appendEvents := func(n int) { ids = append(ids, appendHundreds(t, s, n, data)...) }
	appendEvents(40) // ~2 MB
	real := s.vlogs.realDir

	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	mems := fileMaps(maps, real, ".mem")
	top, ok := newestMap(mems)
	var files []string
	for _, name := range dirNames(t, dir) {
		if num, ok := strings.CutSuffix(name, ".mem"); ok {
			files = append(files, name)
			if len(num) != 5 {
				badgerAssumption(t, "trim_linux.go", "Badger names its memtable logs <dir>/%05d.mem", "found %s", name)
			}
		}
	}
	if !ok || len(files) == 0 {
		badgerAssumption(t, "trim_linux.go",
			"Badger memory-maps its memtable logs, so /proc/self/maps names them "+real+"/%05d.mem",
			"memtable logs in the directory: %v; their mappings found: %v", files, mems)
	}
	if want := files[len(files)-1]; fmt.Sprintf("%05d.mem", top.fid) != want {
		badgerAssumption(t, "trim_linux.go", "the highest-numbered memtable log mapped is the one being written (the newest in the directory)",
			"mapped: %v; in the directory: %v", mems, files)
	}
	if len(top.perms) != 4 || top.perms[3] != 's' || int64(top.end-top.start) < 2*opts.MemTableSize {
		badgerAssumption(t, "trim_linux.go", "Badger maps each memtable log whole (twice the memtable size) and shared",
			"%05d.mem is mapped %q, %d bytes", top.fid, top.perms, top.end-top.start)
	}

	before := filesRSS(t, real, ".mem")[top.fid]
	if before < 1<<20 {
		t.Fatalf("setup: %d KiB of the memtable log resident after writing ~2 MB", before>>10)
	}
	s.trimMaps(false)
	after := filesRSS(t, real, ".mem")[top.fid]
	t.Logf("newest memtable log (%05d.mem) resident: %d → %d KiB", top.fid, before>>10, after>>10)
	if after > before/4 {
		t.Errorf("the memtable log still holds %d of %d KiB after the trim", after>>10, before>>10)
	}
	appendEvents(10) // into the pages just dropped, the last one half written

	// kill -9 now: the crash image is the directory as it stands (what the
	// page cache holds), without the store's Close, which would flush the
	// memtable to a table.
	image := t.TempDir()
	for _, name := range dirNames(t, dir) {
		if name == "LOCK" {
			continue
		}
		if strings.HasSuffix(name, ".sst") {
			t.Fatalf("setup: %s: a memtable was flushed, so not every event is replayed from its log", name)
		}
		copyFile(t, filepath.Join(dir, name), filepath.Join(image, name))
	}
	s.Close()
	opts.Dir = image
	r, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readsBack(t, r, ids, data, "after the crash image's replay")
}

// filesRSS is the resident size of this process's mappings of dir's files
// named <number><ext>, by number.
func filesRSS(t *testing.T, dir, ext string) map[int64]int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	out := map[int64]int64{}
	var fid int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := bytes.Fields(sc.Bytes())
		if len(fs) >= 5 && bytes.Contains(fs[0], []byte("-")) && len(fs[1]) == 4 { // a mapping's header
			fid = -1
			if len(fs) >= 6 && filepath.Dir(string(fs[5])) == dir {
				if num, ok := strings.CutSuffix(filepath.Base(string(fs[5])), ext); ok {
					if n, err := strconv.ParseInt(num, 10, 64); err == nil {
						fid = n
					}
				}
			}
			continue
		}
		if fid >= 0 && len(fs) >= 2 && string(fs[0]) == "Rss:" {
			kb, _ := strconv.ParseInt(string(fs[1]), 10, 64)
			out[fid] += kb << 10
		}
	}
	return out
}

// The table trim madvises only tables Badger cannot unmap meanwhile. A
// range that /proc/self/maps named as a table may have been unmapped and
// reused by anonymous memory by the time of the madvise, and
// MADV_DONTNEED zeroes anonymous memory: here an anonymous region stands
// for such a range, named in the maps text as a table that is in Badger's
// levels (it is zeroed: the hazard is real) and as one that is not (a
// table compacted away: left alone).
func TestTrimTablesOnlyHeldTables(t *testing.T) {
	defer func(d time.Duration) { trimInterval = d }(trimInterval)
	trimInterval = time.Hour // only this test's trims
	s, _ := tablesStore(t, 40)
	// Closed and opened again: the memtables are flushed to tables, whatever
	// the flusher's pace (on a loaded machine it had not flushed one yet).
	s.Close()
	s, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables := s.db.Tables()
	if len(tables) == 0 {
		t.Fatal("setup: no table in Badger's levels")
	}
	mem, err := unix.Mmap(-1, 0, 1<<16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Skip(err)
	}
	defer unix.Munmap(mem)
	start := uintptr(unsafe.Pointer(&mem[0]))
	line := func(id uint64) []byte {
		return fmt.Appendf(nil, "%x-%x rw-p 00000000 00:00 0 %s/%06d.sst\n", start, start+uintptr(len(mem)), s.vlogs.realDir, id)
	}
	gone := tables[0].ID
	for _, ti := range tables {
		gone = max(gone, ti.ID)
	}
	gone += 1000 // no such table
	held := heldTables(tables, s.db.Tables())
	if !held[tables[0].ID] || held[gone] {
		t.Fatalf("held tables %v: want %d and not %d", held, tables[0].ID, gone)
	}
	keep := map[uint64]fileSpan{}
	for id := range held {
		keep[id] = fileSpan{} // every page dropped
	}
	mem[0] = 1
	if !trimTables(line(gone), s.vlogs.realDir, keep) {
		t.Errorf("a table mapped and not in Badger's levels (a compaction under way) is not reported")
	}
	if mem[0] != 1 {
		t.Fatalf("a range named as table %d, not in Badger's levels, lost its data", gone)
	}
	if trimTables(line(tables[0].ID), s.vlogs.realDir, keep) {
		t.Errorf("a table in Badger's levels is reported as not")
	}
	if mem[0] != 0 {
		t.Fatalf("a range named as table %d, in Badger's levels, was not unmapped (the check above proves nothing)", tables[0].ID)
	}
}

// quietTablesStore is a tablesStore of ~4 MB closed (its memtables
// flushed to tables) and opened again, with Badger's compactors stopped
// (once any running one is done) and gcLoop's trims an hour apart, so
// that nothing but the test reads a table or trims; closed at the test's
// end, and trimInterval restored after that (gcLoop reads it until then).
func quietTablesStore(t *testing.T) (*Store, []ID) {
	t.Helper()
	was := trimInterval
	t.Cleanup(func() { trimInterval = was }) // cleanups run last first: after the store's Close
	trimInterval = time.Hour
	s, ids := tablesStore(t, 80)
	s.Close()
	s, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	badgerStopCompactions(s.db)
	return s, ids
}

// While value-log GC holds gcLoop, another goroutine trims, tables
// included: GC's lookups read the tables through their maps.
func TestTrimDuringGC(t *testing.T) {
	defer func(d time.Duration) { trimInterval = d }(trimInterval)
	trimInterval = time.Hour // gcLoop trims nothing itself here
	s, ids := tablesStore(t, 80)
	s.Close() // memtables flushed to tables
	s, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	readsBack(t, s, ids, tableData, "before the trim") // through the tables' maps
	dir := s.vlogs.realDir
	before := tablesRSS(t, dir)
	if before < 256<<10 {
		t.Fatalf("setup: %d KiB of tables resident after reading 4 MB back", before>>10)
	}
	trimmed := make(chan struct{}, 1)
	stop := s.trimDuringGC(time.Millisecond, trimmed)
	<-trimmed
	stop()
	after := tablesRSS(t, dir)
	t.Logf("tables resident: %d → %d KiB", before>>10, after>>10)
	if after > before/4 {
		t.Errorf("tables still hold %d of %d KiB after a trim during GC", after>>10, before>>10)
	}
	readsBack(t, s, ids, tableData, "after the trim")
}
