package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// rotatingLog follows one of Badger's numbered log files (memtable logs
// "00001.mem", value logs "000001.vlog"), the newest of which is the one
// being written. Badger is opened without synced writes and the store
// syncs after each written group (syncFiles): the newest file, and any
// that was the newest at the last sync and has since been followed by
// another, as it may still hold unsynced writes.
//
// This reaches into Badger by file name: it assumes (checked against
// Badger v4.9.6) that the logs live in the data directory named by a
// number of width digits, that a rotation creates the number after the
// newest, and that Badger writes only to the newest (or the one it just
// rotated out). TestSyncFollowsRotation fails loudly, naming the
// assumption, when a Badger upgrade breaks one of them.
type rotatingLog struct {
	mu     sync.Mutex // sync runs on the syncer and, at a rotation, the committer
	dir    string
	prefix string   // dir, cleaned, and a separator (path)
	width  int      // digits of the number
	ext    string   // ".mem", ".vlog"
	f      *os.File // the newest file seen, open
	// newest is its number (-1: none, or an in-memory store); written
	// under mu, read by any goroutine (trimMaps, syncBeforeFlush).
	newest atomic.Int64
	// realDir is dir as /proc/self/maps names it.
	realDir string
	syncs   atomic.Int64 // calls that synced a file (tests)

	// Preallocation (space.go): the files are allocated on disk as they
	// appear, allocLimit bytes of each (0: the whole file).
	allocMu    sync.Mutex
	allocLimit int64
	allocated  atomic.Int64 // number of the last file allocated
	noAlloc    atomic.Bool  // the filesystem cannot: stop trying
	// onAlloc is told the bytes allocated, or the error (nil: nobody).
	onAlloc func(n int64, err error)
}

func newRotatingLog(dir string, width int, ext string, inMemory bool) (*rotatingLog, error) {
	if inMemory {
		l := &rotatingLog{} // dir "": nothing to sync
		l.newest.Store(-1)
		return l, nil
	}
	l := &rotatingLog{dir: dir, width: width, ext: ext, realDir: dir}
	l.prefix = strings.TrimSuffix(filepath.Join(dir, "x"), "x")
	// As /proc/self/maps names the files: absolute, links resolved.
	if abs, err := filepath.Abs(dir); err == nil {
		l.realDir = abs
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			l.realDir = real
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	last := -1
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ext)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(name); err == nil && n > last {
			last = n
		}
	}
	if last >= 0 {
		if l.f, err = os.Open(l.path(last)); err != nil {
			return nil, err
		}
	}
	l.newest.Store(int64(last))
	l.allocated.Store(int64(last) - 1) // the newest is still to allocate
	return l, nil
}

// last is the number of the newest file seen (-1: none).
func (l *rotatingLog) last() int { return int(l.newest.Load()) }

// path names file n as filepath.Join(dir, fmt.Sprintf("%0*d"+ext, width,
// n)) would, without either: the store asks for the next file's name at
// every sync and after every write that went to the value log.
func (l *rotatingLog) path(n int) string {
	var num [20]byte
	digits := strconv.AppendInt(num[:0], int64(n), 10)
	b := make([]byte, 0, len(l.prefix)+max(l.width, len(digits))+len(l.ext))
	b = append(b, l.prefix...)
	for i := len(digits); i < l.width; i++ {
		b = append(b, '0')
	}
	b = append(append(b, digits...), l.ext...)
	return string(b)
}

// sync fsyncs the newest file and the ones rotated out since the last
// call. A file Badger has meanwhile deleted (a memtable flushed to a
// synced table) needs nothing. fdatasync covers pages written through
// Badger's memory maps, as msync does.
func (l *rotatingLog) sync() error {
	if l.dir == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		next, err := os.Open(l.path(l.last() + 1))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		if l.f != nil {
			err = syncClose(l.f)
		}
		l.f = next
		l.newest.Add(1)
		if err != nil {
			return err
		}
	}
	if l.f == nil {
		return nil
	}
	if l.last() > int(l.allocated.Load()) {
		l.preallocate()
	}
	l.syncs.Add(1)
	if err := fdatasync(l.f); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Base(l.f.Name()), err)
	}
	return nil
}

func syncClose(f *os.File) error {
	err := fdatasync(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Base(f.Name()), err)
	}
	return nil
}

// followedBy reports whether a file numbered after n exists (n: the
// newest seen so far, or -1).
func (l *rotatingLog) followedBy(n int64) bool {
	if l.dir == "" {
		return false
	}
	_, err := os.Stat(l.path(int(n) + 1))
	return err == nil
}

// close releases the file kept open.
func (l *rotatingLog) close() {
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}

// preallocate allocates disk blocks for every file that appeared since the
// last call (Badger creates them sparse and writes them through memory
// maps: a write to an unbacked page on a full disk is SIGBUS, not an
// error). It runs at each rotation the syncer sees and on the store's
// space ticker. Allocation keeps the file's size; a file already gone (a
// memtable flushed meanwhile) is skipped. On failure (ENOSPC) the file is
// tried again at the next call.
func (l *rotatingLog) preallocate() {
	if l.dir == "" || l.noAlloc.Load() {
		return
	}
	l.allocMu.Lock()
	defer l.allocMu.Unlock()
	for n := l.allocated.Load() + 1; ; n++ {
		f, err := os.OpenFile(l.path(int(n)), os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			if !l.followedBy(n) {
				return // not created yet
			}
			l.allocated.Store(n) // gone already
			continue
		}
		if err == nil {
			err = l.allocate(f)
			f.Close()
		}
		if err != nil {
			if allocUnsupported(err) {
				l.noAlloc.Store(true)
			}
			if l.onAlloc != nil {
				l.onAlloc(0, fmt.Errorf("allocate %s: %w", filepath.Base(l.path(int(n))), err))
			}
			return
		}
		l.allocated.Store(n)
	}
}

func (l *rotatingLog) allocate(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	n := fi.Size()
	if l.allocLimit > 0 {
		n = min(n, l.allocLimit)
	}
	if n <= 0 {
		return nil
	}
	if err := fallocate(f, n); err != nil {
		return err
	}
	if l.onAlloc != nil {
		l.onAlloc(n, nil)
	}
	return nil
}
