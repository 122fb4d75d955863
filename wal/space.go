package wal

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Badger writes its memtable logs and value logs through shared memory
// maps of files it creates sparse (truncated to the mapped size). On a
// full filesystem a write to an unbacked page is not an error but SIGBUS,
// which kills the process, and kills it again while it replays the same
// files at the next start. The store therefore keeps a free-space reserve
// on the filesystem of its directory and never lets Badger near the end:
//
//   - below the reserve (Options.MinFreeBytes) client writes (events,
//     webhooks, event types) are refused with a *SpaceError and Ready
//     reports it; the delivery bookkeeping of what was already acknowledged
//     (batches, attempts) goes on, so those events still go out;
//   - below half the reserve (the floor) every write is refused: what is
//     left is for Badger itself (see MinFreeFor);
//   - Open refuses to start below the floor;
//   - the files Badger writes through its maps are allocated (fallocate)
//     as soon as they appear (rotatingLog.preallocate), so that another
//     process filling the disk cannot make those writes fault either.
//
// Free space is measured with statfs every spaceInterval and, before a
// transaction, whenever the estimate (last measure minus what was written
// since) falls below the reserve. The state comes back by itself once
// space is freed.

// ErrNoSpace: free space on the store's filesystem is below the reserve;
// writes are refused until space is freed. The error returned is a
// *SpaceError, which also matches ErrFull (retry later).
var ErrNoSpace = errors.New("wal: free space below the reserve")

// SpaceError reports free space below the reserve (or, at Open, below what
// the store needs to open safely).
type SpaceError struct {
	Dir  string
	Free uint64 // bytes available on Dir's filesystem when measured
	Need uint64 // bytes that must be available
	Open bool   // returned by Open: the store was not opened
}

func (e *SpaceError) Error() string {
	if e.Open {
		return fmt.Sprintf("wal: open %s: not enough free space to open the store safely: %s free, "+
			"needs at least %s (%d bytes; half of storage.min_free_bytes); free some space on that filesystem",
			e.Dir, mibs(e.Free), mibs(e.Need), e.Need)
	}
	return fmt.Sprintf("wal: %s: %s free, below the reserve of %s (storage.min_free_bytes); "+
		"writes are refused until space is freed", e.Dir, mibs(e.Free), mibs(e.Need))
}

// Is makes a SpaceError match ErrNoSpace and ErrFull.
func (e *SpaceError) Is(target error) bool { return target == ErrNoSpace || target == ErrFull }

// errNoStatfs: free space cannot be measured on this system; the store
// keeps no reserve.
var errNoStatfs = errors.New("wal: free space is measured on Linux only")

func mibs(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// MinFreeFor is the smallest reserve (Options.MinFreeBytes) for memtables
// of memTableSize bytes: twice what Badger may still write once the store
// stops (the floor is half the reserve). That is: flushing the three
// memtables to tables (3×), the next memtable log, allocated (1.25× +
// 1 MiB), the next value-log file, allocated (2 × 32 MiB), the last
// transaction let through (0.2× + 16 MiB of values + one 8 MiB request),
// and 64 MiB for compactions, the manifest and discard stats: under
// 5 × memTableSize + 160 MiB. config's validation uses the same formula.
func MinFreeFor(memTableSize int64) int64 {
	return 2 * (5*memTableSize + 160<<20)
}

// spaceClass says below which limit an op is refused.
type spaceClass uint8

const (
	// spaceClient: writes clients ask for; refused below the reserve.
	spaceClient spaceClass = iota
	// spaceDelivery: the bookkeeping of acknowledged events' delivery
	// (batches, attempts); refused below the floor only.
	spaceDelivery
	// spaceNone: writes nothing (a sync barrier); never refused.
	spaceNone
)

// space tracks free space against the reserve. A nil *space (in-memory
// store, no reserve) refuses nothing.
type space struct {
	dir            string
	statfs         func(dir string) (free uint64, err error)
	reserve, floor uint64
	log            *zap.Logger

	mu    sync.Mutex // guards free, since, and the state changes
	free  uint64     // bytes available at the last measure
	since uint64     // bytes written (estimated) since the last measure

	low  atomic.Pointer[SpaceError] // non-nil below the reserve
	full atomic.Pointer[SpaceError] // non-nil below the floor
}

func newSpace(dir string, reserve uint64, statfs func(string) (uint64, error), log *zap.Logger) *space {
	return &space{dir: dir, statfs: statfs, reserve: reserve, floor: reserve / 2, log: log}
}

// measure reads the free space now and updates the state.
func (sp *space) measure() error {
	if sp == nil {
		return nil
	}
	free, err := sp.statfs(sp.dir)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if err != nil {
		return fmt.Errorf("wal: statfs %s: %w", sp.dir, err)
	}
	sp.free, sp.since = free, 0
	sp.update(free)
	return nil
}

// update sets the state for an estimate of free bytes; under mu.
func (sp *space) update(free uint64) {
	wasLow, wasFull := sp.low.Load() != nil, sp.full.Load() != nil
	if free < sp.reserve {
		sp.low.Store(&SpaceError{Dir: sp.dir, Free: free, Need: sp.reserve})
	} else {
		sp.low.Store(nil)
	}
	if free < sp.floor {
		sp.full.Store(&SpaceError{Dir: sp.dir, Free: free, Need: sp.floor})
	} else {
		sp.full.Store(nil)
	}
	switch isLow, isFull := free < sp.reserve, free < sp.floor; {
	case isFull && !wasFull:
		sp.log.Error("wal: free space below half the reserve: every write is refused",
			zap.String("dir", sp.dir), zap.Uint64("freeBytes", free), zap.Uint64("floorBytes", sp.floor))
	case isLow && !wasLow:
		sp.log.Warn("wal: free space below the reserve: new events and management writes are refused (503), deliveries go on",
			zap.String("dir", sp.dir), zap.Uint64("freeBytes", free), zap.Uint64("reserveBytes", sp.reserve))
	case !isLow && wasLow:
		sp.log.Warn("wal: free space above the reserve again: writes accepted",
			zap.String("dir", sp.dir), zap.Uint64("freeBytes", free), zap.Uint64("reserveBytes", sp.reserve))
	}
}

// wrote counts n bytes written (or allocated) since the last measure.
func (sp *space) wrote(n uint64) {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	sp.since += n
	sp.mu.Unlock()
}

// check runs before a transaction: when the estimate of free space (last
// measure minus what was written since) is below the reserve, or the
// state is already low, it measures again. A failed statfs keeps the
// last state.
func (sp *space) check() {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	est := sp.free - min(sp.since, sp.free)
	stale := est < sp.reserve || sp.low.Load() != nil
	sp.mu.Unlock()
	if stale {
		if err := sp.measure(); err != nil {
			sp.log.Warn("wal: cannot measure free space", zap.Error(err))
		}
	}
}

// refuse returns the error for an op of class c in the current state, or
// nil if it may be written.
func (sp *space) refuse(c spaceClass) error {
	if sp == nil {
		return nil
	}
	var e *SpaceError
	switch c {
	case spaceClient:
		e = sp.low.Load()
	case spaceDelivery:
		e = sp.full.Load()
	}
	if e == nil {
		return nil
	}
	return e
}

// opening checks, before Badger opens the directory, that there is room
// to replay and open it: at least the floor.
func (sp *space) opening() error {
	if sp == nil {
		return nil
	}
	if err := sp.measure(); err != nil {
		return err
	}
	if f := sp.full.Load(); f != nil {
		return &SpaceError{Dir: sp.dir, Free: f.Free, Need: sp.floor, Open: true}
	}
	return nil
}
