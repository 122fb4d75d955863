package wal

import (
	"errors"
	"fmt"
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
	// ValueThreshold: values of this many bytes or more (encoded events,
	// batch records) are kept in Badger's value log instead of its LSM
	// tree; default 256, so that typical events stay out of compactions
	// (delivery does not slow as the store fills) at the price of a second
	// file to sync per commit (synced side by side).
	ValueThreshold int
	// ValueLogFileSize: the value log rotates to a new file past this many
	// bytes; default 32 MiB. Files other than the newest are closed for
	// writing: their pages are handed back to the kernel (trimValueLogs) and GC
	// reclaims them file by file.
	ValueLogFileSize int64
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

	gcStop chan struct{}
	gcDone chan struct{}

	queued atomic.Pointer[func(map[ID]int)]

	cursorMu sync.Mutex
	cursors  map[ID]ID // per webhook: the last consumed queue entry

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
}

// Open opens (or creates) the store in opts.Dir and starts its committer.
func Open(opts Options) (*Store, error) {
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
	bo := badger.DefaultOptions(opts.Dir).
		// The store syncs itself after each written group (commit.go).
		WithSyncWrites(false).
		WithDetectConflicts(false).
		WithNumVersionsToKeep(1).
		// Memory is the budget here (DESIGN: O(webhooks + in-flight)):
		// each memtable is a heap arena, flushing one builds a table of
		// its size, and every compactor holds table builders.
		WithMemTableSize(opts.MemTableSize).
		WithNumMemtables(3).
		WithNumCompactors(4).
		WithBaseTableSize(2 << 20).
		WithCompression(compression(opts.NoCompression)).
		WithValueThreshold(int64(opts.ValueThreshold)).
		WithValueLogFileSize(opts.ValueLogFileSize).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(32 << 20).
		WithLogger(badgerLogger{s: opts.Logger.Sugar()}).
		WithLoggingLevel(badger.WARNING)
	if opts.InMemory {
		bo = bo.WithDir("").WithValueDir("").WithInMemory(true).WithValueThreshold(1 << 20)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", opts.Dir, err)
	}
	if err := unpoolTableBuilders(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{
		db:       db,
		opts:     opts,
		log:      opts.Logger,
		maxCount: db.MaxBatchCount() * 9 / 10,
		maxSize:  db.MaxBatchSize() * 9 / 10,
		signal:   make(chan struct{}, 1),
		stopped:  make(chan struct{}),
		tenants:  map[string]*tenantCache{},
		hooks:    map[ID]*Webhook{},
		cursors:  map[ID]ID{},
		recent:   newRecent(recentBytes),
		gcStop:   make(chan struct{}),
		gcDone:   make(chan struct{}),
	}
	s.syncCond = sync.NewCond(&s.syncMu)
	s.synced = make(chan struct{})
	if s.memLogs, err = newRotatingLog(opts.Dir, 5, ".mem", opts.InMemory); err == nil {
		s.vlogs, err = newRotatingLog(opts.Dir, 6, ".vlog", opts.InMemory)
	}
	if err == nil {
		err = s.loadCaches()
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	go s.syncLoop()
	go s.commitLoop()
	go s.gcLoop()
	return s, nil
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
	s.memLogs.close()
	s.vlogs.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}

// OnQueued registers fn to be told, after each append commit, how many new
// queue entries each webhook got. fn runs on the committer goroutine: it
// must not block or call back into the store, and must not keep the map.
func (s *Store) OnQueued(fn func(counts map[ID]int)) { s.queued.Store(&fn) }

// Err is the sticky failure, or nil while the store is healthy.
func (s *Store) Err() error {
	if f := s.failed.Load(); f != nil {
		return f
	}
	return nil
}

// Ready reports whether the store accepts writes.
func (s *Store) Ready() error {
	if err := s.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
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
		s.log.Error("wal: commit failed; store is now fail-stop, nothing more is acknowledged", zap.Error(err))
	})
}

// Size reports Badger's LSM and value-log sizes in bytes.
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// trimInterval is how often value-log pages are handed back
// (trimValueLogs); a variable for its test.
var trimInterval = 250 * time.Millisecond

func (s *Store) gcLoop() {
	defer close(s.gcDone)
	if s.opts.InMemory {
		return
	}
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	trim := time.NewTicker(trimInterval)
	defer trim.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-trim.C:
			s.trimValueLogs()
		case <-t.C:
			// GC rewrites live values into the newest value-log file and
			// deletes the old one without syncing (Badger runs without
			// synced writes here): sync right after each file. Between
			// the delete and that sync (milliseconds, every few minutes
			// at most) a power cut could lose the moved values; Badger
			// offers no hook to sync before the delete.
			for s.db.RunValueLogGC(0.5) == nil {
				if s.syncBarrier() != nil {
					break
				}
			}
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
