package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"go.uber.org/zap"
)

// Options configure a Store. Zero values take the defaults noted.
type Options struct {
	Dir       string
	Retention time.Duration // TTL of events and idempotency keys; default 168h
	Logger    *zap.Logger   // default: no logging
	// MaxPending bounds the events waiting for the committer; past it
	// appends fail with ErrFull. Default 262144.
	MaxPending int
	// Now is the wall clock used for IDs and timestamps; default time.Now.
	Now func() time.Time
	// InMemory keeps everything in memory (tests only: nothing is durable).
	InMemory bool
	// MemTableSize in bytes; default 64 MiB. It also bounds one commit
	// (Badger allows 15% of it per transaction: ~9.6 MiB of keys and small
	// values, or ~96,000 entries; larger values go to the value log and
	// count as pointers).
	MemTableSize int64
	// NoCompression stores tables uncompressed: less memory while tables
	// are built, larger tables and so more compaction I/O. Default: Snappy.
	NoCompression bool
	// BlockCacheSize and IndexCacheSize size Badger's two caches, in the
	// Go heap: decompressed table blocks (full within minutes of reads),
	// and the tables' indexes, which Badger caches only for an encrypted
	// store (otherwise it reads them in place from the table's map, and
	// that cache stays empty). Default 32 MiB each; CacheBytesFor derives
	// them from a memory limit.
	BlockCacheSize, IndexCacheSize int64
	// ValueThreshold: values of this many bytes or more (encoded events,
	// batch records) are kept in Badger's value log instead of its LSM
	// tree; default 256, so that typical events stay out of compactions
	// (delivery does not slow as the store fills) at the price of a second
	// file to sync per commit (synced side by side).
	ValueThreshold int
	// InlineBytesPerSec: while the values of ValueThreshold bytes or more
	// written come to less than this many bytes a second, those under
	// 4 KiB stay in the LSM tree, so that a commit syncs one file, not two
	// (threshold.go); default 128 KiB; negative: never.
	InlineBytesPerSec int64
	// ValueLogFileSize: the value log rotates to a new file past this many
	// bytes; default 32 MiB. Files other than the newest are closed for
	// writing: their pages are handed back to the kernel (trimMaps) and GC
	// reclaims them file by file.
	ValueLogFileSize int64
	// MinFreeBytes is the free-space reserve on Dir's filesystem
	// (space.go): below it client writes fail with a *SpaceError
	// (ErrNoSpace, ErrFull) and Ready reports it, below half of it every
	// write does, and Open refuses to start below half of it. Default:
	// MinFreeFor(MemTableSize); negative: no reserve (and no allocation
	// ahead of Badger's writes).
	MinFreeBytes int64
	// GCInterval is how often value-log GC runs (it reclaims the value-log
	// files whose values expired or were deleted); default 5m.
	GCInterval time.Duration
	// Observer, when set, is told of every commit group and fsync (metrics).
	Observer Observer

	statfs func(dir string) (free uint64, err error) // tests; default statfsFree
}

// defaultValueThreshold: values this large or larger go to Badger's value
// log (Options.ValueThreshold).
const defaultValueThreshold = 256

// Store is the durable store. It is safe for concurrent use.
type Store struct {
	db   *badger.DB
	opts Options
	log  *zap.Logger
	ids  IDGen

	maxCount, maxSize int64 // per-commit limits
	maxVlog           int64 // bytes of values per commit beside other ops (space.go)

	mu       sync.Mutex // guards pending, pendingN, closed
	pending  []*op
	pendingN int
	closed   bool
	signal   chan struct{} // 1-slot: work is pending
	stopped  chan struct{} // committer exited
	failed   atomic.Pointer[FailedError]
	failOnce sync.Once

	cacheMu sync.RWMutex
	tenants map[string]*tenantCache
	hooks   map[ID]*Webhook // every webhook, any tenant
	// creating counts, per tenant, the creates past their limit check
	// and not yet in tenants (CreateWebhookUpTo); nil until the first.
	creating map[string]int

	gcStop    chan struct{} // closed by Close: stops gcLoop and spaceLoop
	gcDone    chan struct{}
	spaceDone chan struct{}
	space     *space                 // nil: no reserve
	dir       os.FileInfo            // the data directory as opened (nil: in memory); checkDir
	dirGone   atomic.Bool            // checkDir found it removed or replaced
	allocErr  atomic.Pointer[string] // the last preallocation error logged

	queued atomic.Pointer[func(map[ID]int)]

	// writes counts the groups written to Badger: the idle loops (space,
	// trim) do their file work only when it moved, so an idle store
	// makes no syscall on their ticks.
	writes     atomic.Uint64
	compactors *compactors // Badger's, paused while idle (compactions.go)
	// reads counts the read transactions begun and ended (view), so that
	// trimMaps finds out what reads brought into the maps.
	reads      atomic.Uint64
	trims      int     // trimMaps calls, gcLoop's alone (trim_linux.go)
	trimmed    uint64  // writes at the last trimMaps, gcLoop's alone
	trimReads  uint64  // reads at the last trimMaps, gcLoop's alone
	tablesBusy bool    // the last table trim's busy, gcLoop's alone
	inl        inliner // a light load's values in the LSM tree (threshold.go)
	// tableRoots: per table in Badger's levels, the part of its file
	// that db.Tables() reads at every trim (trim_linux.go); gcLoop's alone.
	tableRoots map[uint64]fileSpan

	cursorMu sync.Mutex
	cursors  map[ID]ID // per webhook: the last consumed queue entry

	// vers holds the stored version of batches written since Open while
	// they are open (delivery.go); the committer's alone.
	vers map[ID]uint64
	// unidx: open batches without an o/ entry (openfloor.go); the
	// committer's alone.
	unidx indexer

	recent *recent // events fanned out lately, for the engine's first read

	// The syncer (commit.go): unsynced is the written group waiting for it.
	syncMu         sync.Mutex
	syncCond       *sync.Cond
	unsynced       []*op
	syncClosed     bool
	synced         chan struct{} // syncer exited
	memLogs, vlogs *rotatingLog
	vlogDirty      atomic.Bool // written to the value log since its last sync
	syncing        atomic.Bool // a written group waits for or is in a sync

	// injectErr, when set (tests only), fails the next commits with its
	// error before anything reaches Badger; injectSyncErr fails the next
	// syncs, as a failed fsync would.
	injectErr     atomic.Pointer[error]
	injectSyncErr atomic.Pointer[error]
	beforeSync    atomic.Pointer[func()] // tests: runs before each sync
	beforeWrite   atomic.Pointer[func()] // tests: runs before each group's write

	backups backups // the backup being written, if any (backup.go)
}

// Open opens (or creates) the store in opts.Dir and starts its committer.
func Open(opts Options) (*Store, error) {
	opts.setDefaults()
	if !opts.InMemory {
		if err := checkRestored(opts.Dir); err != nil {
			return nil, err
		}
	}
	sp, err := openSpace(opts)
	if err != nil {
		return nil, err
	}
	db, err := badger.Open(badgerOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", opts.Dir, err)
	}
	if err := unpoolTableBuilders(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{
		db:         db,
		opts:       opts,
		log:        opts.Logger,
		maxCount:   db.MaxBatchCount() * 9 / 10,
		maxSize:    db.MaxBatchSize() * 9 / 10,
		maxVlog:    opts.ValueLogFileSize / 2,
		signal:     make(chan struct{}, 1),
		stopped:    make(chan struct{}),
		tenants:    map[string]*tenantCache{},
		hooks:      map[ID]*Webhook{},
		cursors:    map[ID]ID{},
		vers:       map[ID]uint64{},
		unidx:      newIndexer(),
		recent:     newRecent(recentBytes),
		gcStop:     make(chan struct{}),
		gcDone:     make(chan struct{}),
		spaceDone:  make(chan struct{}),
		space:      sp,
		compactors: newCompactors(db),
	}
	s.syncCond = sync.NewCond(&s.syncMu)
	s.synced = make(chan struct{})
	s.inl = newInliner(opts)
	if !opts.InMemory {
		if s.dir, err = os.Stat(opts.Dir); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("wal: open %s: %w", opts.Dir, err)
		}
	}
	if s.memLogs, err = newRotatingLog(opts.Dir, 5, ".mem", opts.InMemory); err == nil {
		s.vlogs, err = newRotatingLog(opts.Dir, 6, ".vlog", opts.InMemory)
	}
	if err == nil {
		s.memLogs.allocLimit = memLogAlloc(opts.MemTableSize)
		for _, l := range []*rotatingLog{s.memLogs, s.vlogs} {
			l.onAlloc = s.allocated
			l.preallocate()
		}
		err = s.loadCaches()
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	go s.syncLoop()
	go s.commitLoop()
	go s.gcLoop()
	go s.spaceLoop()
	return s, nil
}

// setDefaults fills the zero options with their defaults.
func (opts *Options) setDefaults() {
	if opts.Retention <= 0 {
		opts.Retention = 168 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 1 << 18
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ValueThreshold <= 0 {
		opts.ValueThreshold = defaultValueThreshold
	}
	if opts.ValueLogFileSize <= 0 {
		opts.ValueLogFileSize = 32 << 20
	}
	if opts.MemTableSize <= 0 {
		opts.MemTableSize = 64 << 20
	}
	if opts.MinFreeBytes == 0 {
		opts.MinFreeBytes = MinFreeFor(opts.MemTableSize)
	}
	if opts.statfs == nil {
		opts.statfs = statfsFree
	}
	if opts.InlineBytesPerSec == 0 {
		opts.InlineBytesPerSec = defaultInlineBytesPerSec
	}
	if opts.GCInterval <= 0 {
		opts.GCInterval = 5 * time.Minute
	}
	if opts.BlockCacheSize <= 0 {
		opts.BlockCacheSize = maxCacheBytes
	}
	if opts.IndexCacheSize <= 0 {
		opts.IndexCacheSize = maxCacheBytes
	}
}

// The bounds of CacheBytesFor: the size of each cache without a memory
// limit (and the default), and the smallest under one.
const (
	maxCacheBytes = 32 << 20
	minCacheBytes = 8 << 20
)

// CacheBytesFor is the size of each of Badger's two caches
// (Options.BlockCacheSize, IndexCacheSize) for a Go soft memory limit of
// memoryLimit bytes (server.memory_limit; 0: none): a twelfth of the
// limit each, at least 8 MiB and at most 32 MiB, so 16.7 MiB each at the
// default 200 MiB; 32 MiB without a limit. Inside the limit the block
// cache shares the heap with Badger's memtables (arenas of ~1.3 ×
// MemTableSize: the one written and those waiting for their flush) and
// hookd's own bounded buffers (~70 MiB); with a 32 MiB cache on top of
// those the 200 MiB limit left little room for garbage, and the
// collector overshot it in bursts (bench/BASELINE.md).
func CacheBytesFor(memoryLimit int64) int64 {
	if memoryLimit <= 0 {
		return maxCacheBytes
	}
	return min(max(memoryLimit/12, minCacheBytes), maxCacheBytes)
}

// badgerOptions are the Badger options of a store with opts (defaults
// set): Open and Restore open Badger the same way.
func badgerOptions(opts Options) badger.Options {
	bo := badger.DefaultOptions(opts.Dir).
		// The store syncs itself after each written group (commit.go).
		WithSyncWrites(false).
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		// Memory is the budget here (DESIGN: O(webhooks + in-flight)):
		// each memtable is a heap arena, flushing one builds a table of
		// its size, and every compactor holds table builders: up to 13
		// at once per compaction (Badger's throttle: 8 + up to 5 key
		// ranges), each ~2 × the size of its table. So every level's
		// tables are 2 MiB (TableSizeMultiplier 1 below), not doubling
		// per level below the base as Badger's default would, and two
		// compactors run, not four: ten minutes into the soak (199 MiB
		// of tables, the deepest 8 MiB each) compactions held ~200 MiB
		// of builders and RSS went over server.memory_limit + 64 MiB
		// (bench/BASELINE.md).
		WithMemTableSize(opts.MemTableSize).
		WithNumMemtables(3).
		WithNumCompactors(2).
		WithBaseTableSize(2 << 20).
		WithCompression(compression(opts.NoCompression)).
		WithValueThreshold(int64(opts.ValueThreshold)).
		WithValueLogFileSize(opts.ValueLogFileSize).
		WithBlockCacheSize(opts.BlockCacheSize).
		WithIndexCacheSize(opts.IndexCacheSize).
		WithLogger(badgerLogger{s: opts.Logger.Sugar()}).
		WithLoggingLevel(badger.WARNING)
	bo.TableSizeMultiplier = 1 // no With method
	if opts.InMemory {
		bo = bo.WithDir("").WithValueDir("").WithInMemory(true).WithValueThreshold(1 << 20)
	}
	return bo
}

// openSpace measures free space before Badger opens (and replays) the
// directory, which itself writes through memory maps: below the floor it
// refuses, naming the space needed. It returns nil (no reserve) for an
// in-memory store, a negative MinFreeBytes, or a system where free space
// cannot be measured.
func openSpace(opts Options) (*space, error) {
	if opts.InMemory || opts.MinFreeBytes < 0 {
		return nil, nil
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", opts.Dir, err)
	}
	sp := newSpace(opts.Dir, uint64(opts.MinFreeBytes), opts.statfs, opts.Logger)
	err := sp.opening()
	if errors.Is(err, errNoStatfs) {
		opts.Logger.Warn("wal: free space cannot be measured here; no reserve is kept", zap.Error(err))
		return nil, nil
	}
	return sp, err
}

// memLogAlloc is how much of a memtable log to allocate ahead: Badger maps
// it at twice the memtable size but rotates once it holds memTableSize
// bytes, so it writes at most that plus one transaction (15% of the
// memtable in Badger's estimate, ~20% once encoded) and a header.
func memLogAlloc(memTableSize int64) int64 {
	return memTableSize + memTableSize/4 + 1<<20
}

// allocated is told what a rotatingLog allocated ahead, or why it could
// not (a full disk: measure now; a filesystem without fallocate: the
// reserve alone protects). Each distinct error is logged once.
func (s *Store) allocated(n int64, err error) {
	if err == nil {
		s.space.wrote(uint64(n))
		return
	}
	_ = s.space.measure()
	msg := err.Error()
	if last := s.allocErr.Swap(&msg); last == nil || *last != msg {
		s.log.Warn("wal: cannot allocate a log file ahead of Badger's writes", zap.Error(err))
	}
}

// spaceInterval is how often free space is measured and new log files
// allocated while the store writes; a variable for tests.
var spaceInterval = 250 * time.Millisecond

// idleTicks: once a tick finds no group written since the one before,
// the space and trim loops tick idleTicks times less often (every 2 s)
// until the store writes again. Each wake-up costs: its syscalls wake the
// Go runtime's sysmon, which then polls for a millisecond or more, and on
// this project's 2-core VM a wake-up of an idle process costs ~0.2 ms of
// CPU, so the two 4 Hz loops held an idle hookd at ~0.4% of a core.
const idleTicks = 8

// pace is a loop's next wait: every while the store writes, idleTicks
// times that once a tick saw no write (seen is the count at the last tick).
func (s *Store) pace(every time.Duration, seen *uint64) (wrote bool, next time.Duration) {
	w := s.writes.Load()
	if w == *seen {
		return false, every * idleTicks
	}
	*seen = w
	return true, every
}

// spaceLoop checks that the data directory is still there (checkDir),
// measures free space and allocates Badger's new log files
// (those the syncer has not seen yet: a rotation by a lazy write, or by
// value-log GC) every spaceInterval, so that the reserve's state comes
// back by itself once space is freed. An idle store (pace) measures every
// 2 s, and allocates nothing: with no write Badger created no file. Below
// the reserve it measures every spaceInterval, idle or not.
func (s *Store) spaceLoop() {
	defer close(s.spaceDone)
	if s.dir == nil {
		return
	}
	seen := s.writes.Load()
	t := time.NewTimer(spaceInterval)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
		}
		wrote, next := s.pace(spaceInterval, &seen)
		s.checkDir()
		if s.space != nil {
			if wrote {
				s.memLogs.preallocate()
				s.vlogs.preallocate()
			}
			if err := s.space.measure(); err != nil {
				s.log.Warn("wal: cannot measure free space", zap.Error(err))
			}
			if s.space.refuse(spaceClient) != nil {
				next = spaceInterval
			}
		}
		t.Reset(next)
	}
}

// checkDir fails the store (fail-stop, like a failed sync) when its data
// directory was removed or replaced while open. Badger's files stay open
// and mapped, so writes and syncs into them still succeed, but they can no
// longer be found: a restart opens an empty store, and whatever was
// acknowledged meanwhile is gone. Badger also cannot create its next
// table, and retries that every second for ever. spaceLoop checks on
// each tick (every 2 s at most), so at most that long of acknowledged
// events is written where no restart will find it. A directory that
// cannot be examined (permissions changed) is left alone: it may still
// hold the files.
func (s *Store) checkDir() {
	if s.dir == nil {
		return
	}
	fi, err := os.Stat(s.opts.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil, os.SameFile(fi, s.dir):
		return
	}
	s.dirGone.Store(true)
	s.fail(fmt.Errorf("data directory %s was removed or replaced while open: its files can no longer be found", s.opts.Dir))
}

// Close stops accepting writes, commits everything already queued, stops
// the committer and closes Badger. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		<-s.stopped
		return nil
	}
	s.wake()
	<-s.stopped
	close(s.gcStop)
	<-s.gcDone
	<-s.spaceDone
	s.backups.wait() // a backup stops at its next record once gcStop is closed
	s.memLogs.close()
	s.vlogs.close()
	if s.checkDir(); s.dirGone.Load() {
		// Badger's Close would flush its memtable into the directory that
		// is gone, retrying every second for ever: left open, its files
		// (unreachable already) go with the process.
		return fmt.Errorf("wal: close: %w; Badger left open", s.Err())
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}

// OnQueued registers fn to be told, after each append commit, how many new
// queue entries each webhook of partition p got, until stop is called
// (one listener: a later call replaces it). fn runs on the committer
// goroutine, holding none of the store's locks: it must not block or call
// back into the store, and must not keep the map.
func (s *Store) OnQueued(p Part, fn func(counts map[ID]int)) (stop func()) {
	if p != (Part{}) {
		return func() {}
	}
	l := &fn
	s.queued.Store(l)
	return func() { s.queued.CompareAndSwap(l, nil) }
}

// Err is the sticky failure, or nil while the store is healthy.
func (s *Store) Err() error {
	if f := s.failed.Load(); f != nil {
		return f
	}
	return nil
}

// Ready reports whether the store accepts writes: not failed, not
// closed, and free space above the reserve (a *SpaceError otherwise).
func (s *Store) Ready() error {
	if err := s.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return s.space.refuse(spaceClient)
}

// readable is checked by every read: after a failed commit the memtable may
// hold writes that never reached the disk, so nothing is served.
func (s *Store) readable() error {
	if f := s.failed.Load(); f != nil {
		return f
	}
	return nil
}

func (s *Store) fail(err error) {
	s.failOnce.Do(func() {
		f := &FailedError{Err: err}
		s.failed.Store(f)
		s.log.Error("wal: store failed; it is now fail-stop, nothing more is acknowledged", zap.Error(err))
	})
}

// view is db.View, counted in reads at its start and its end: a trim
// (trimMaps) of a store that neither wrote nor read since the last one
// has nothing to hand back, and makes no syscall.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	s.reads.Add(1)
	defer s.reads.Add(1)
	return s.db.View(fn)
}

// Size reports Badger's LSM and value-log sizes in bytes.
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// LevelZero reports the tables in Badger's level 0 and the number at
// which Badger holds every write until a compaction has taken some out
// (its NumLevelZeroTablesStall): near it, commits wait on compactions.
func (s *Store) LevelZero() (tables, stall int) {
	return s.db.Levels()[0].NumTables, s.db.Opts().NumLevelZeroTablesStall
}

// trimInterval is how often, while the store writes or reads, the pages
// of Badger's mapped files are handed back (trimMaps; busyTrims times as
// often while its tables change); a variable for its tests.
var trimInterval = 250 * time.Millisecond

// busyTrims: while Badger's tables change (a memtable flush or a
// compaction under way, as trimMaps reports), the trims come busyTrims
// times as often. A compaction reads its tables and writes new ones
// through their maps, tens of MiB a second: at trimInterval, the
// hour-long soak's highest RSS samples held 40-55 MiB of them
// (bench/BASELINE.md). On a store of 575 tables a trim costs a few ms
// of CPU.
const busyTrims = 4

// fileSpan is the byte range [lo, hi) of a file.
type fileSpan struct{ lo, hi int64 }

func (s *Store) gcLoop() {
	defer close(s.gcDone)
	if s.opts.InMemory {
		return
	}
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	// Pages come into RSS by writes and by reads: an idle store (pace)
	// still trims, every 2 s, what reads alone brought in.
	// The same ticks pause Badger's compactors while no level needs
	// them (compactions.go).
	seen := s.writes.Load()
	waited := trimInterval // what trim was last set to
	var swept time.Time    // the last expiry sweep; the first GC tick sweeps
	trim := time.NewTimer(waited)
	defer trim.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-trim.C:
			busy := s.trimMaps(false)
			_, next := s.pace(trimInterval, &seen)
			s.compactors.tick(waited)
			if busy {
				next = trimInterval / busyTrims
			}
			waited = next
			trim.Reset(next)
		case <-t.C:
			if s.space.refuse(spaceClient) != nil {
				continue // GC writes before it frees: not below the reserve
			}
			s.compactors.start() // GC writes through Badger
			// GC rewrites live values into the newest value-log file and
			// deletes the old one without syncing (Badger runs without
			// synced writes here): sync right after each file. Between
			// the delete and that sync (milliseconds, every few minutes
			// at most) a power cut could lose the moved values; Badger
			// offers no hook to sync before the delete.
			// The sweep reads every key, GC looks up every key of the file
			// it rewrites: both read the tables through their maps.
			stop := s.trimDuringGC(trimInterval/5, nil)
			// Half a tick's slack: ticks come GCInterval apart, the sweeps a
			// little less when one tick's work delayed its start.
			if now := time.Now(); swept.IsZero() || now.Sub(swept) >= sweepEvery(s.opts)-s.opts.GCInterval/2 {
				swept = now
				if _, err := s.sweepExpired(s.opts.Now()); err != nil {
					s.log.Warn("wal: delete expired keys", zap.Error(err))
				}
			}
			// One file at a time, each followed by a pause three times as
			// long as it took, as the sweep is paced (sweepPace): a
			// rewrite is seconds of one core.
			for {
				start := time.Now() // a duration: pacing
				if s.db.RunValueLogGC(0.5) != nil || s.syncBarrier() != nil {
					break
				}
				if !s.gcPause(3 * time.Since(start)) {
					break
				}
			}
			stop()
			if s.syncBarrier() != nil {
				return
			}
		}
	}
}

func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return ErrNotFound
	case errors.Is(err, badger.ErrDBClosed):
		return ErrClosed
	}
	return err
}

type badgerLogger struct{ s *zap.SugaredLogger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.s.Errorf("badger: "+f, a...) }
func (l badgerLogger) Warningf(f string, a ...any) { l.s.Warnf("badger: "+f, a...) }
func (l badgerLogger) Infof(f string, a ...any)    { l.s.Debugf("badger: "+f, a...) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.s.Debugf("badger: "+f, a...) }

func compression(off bool) options.CompressionType {
	if off {
		return options.None
	}
	return options.Snappy
}
