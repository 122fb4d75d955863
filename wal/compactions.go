package wal

import (
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname, below

	"github.com/dgraph-io/badger/v4"
)

// Badger runs NumCompactors goroutines that each wake every 50 ms, for
// ever, to look for a level worth compacting. On an idle store there is
// none, and those wake-ups were most of what an idle hookd cost: ~20 a
// second, ~0.5% of a core on this project's 2-core VM (a process doing
// nothing else but four such tickers measured the same). The store
// therefore stops the compactors once it has written nothing for a while
// and Badger's levels need no compaction (quiet: the test they apply),
// and starts them again at the first write, or should a level come to
// need them (a memtable flush ending late). What gets compacted is
// unchanged: paused compactors would have found nothing to do.
//
// Badger offers no call for this; its unexported DB.stopCompactions and
// DB.startCompactions (what its own Flatten and DropAll use around their
// work) are reached by name, so this depends on the Badger version in
// go.mod (checked against v4.9.6): should they go, the build fails at
// link time. Only gcLoop calls them, and Badger's Close (which stops the
// compactors itself, a stopped closer again being a no-op) runs after
// gcLoop has returned.

//go:linkname badgerStopCompactions github.com/dgraph-io/badger/v4.(*DB).stopCompactions
func badgerStopCompactions(db *badger.DB)

//go:linkname badgerStartCompactions github.com/dgraph-io/badger/v4.(*DB).startCompactions
func badgerStartCompactions(db *badger.DB)

// compactionIdle is how long the trim ticks must have found no write
// before the compactors stop: ~2 s after the tick that saw the last
// write (the next comes 250 ms later, then every 2 s; or every 62 ms
// while the tables are busy).
func compactionIdle() time.Duration { return idleTicks * trimInterval }

// compactors pauses Badger's compactors on an idle store. Its methods
// other than wrote run on gcLoop only.
type compactors struct {
	db     *badger.DB
	paused atomic.Bool
	resume chan struct{} // 1-slot: written while paused
	idle   time.Duration // since the last trim tick that saw a write
}

func newCompactors(db *badger.DB) *compactors {
	return &compactors{db: db, resume: make(chan struct{}, 1)}
}

// wrote is called by the committer after each written group: a paused
// store's gcLoop starts the compactors again. It never blocks.
func (c *compactors) wrote() {
	if c.paused.Load() {
		select {
		case c.resume <- struct{}{}:
		default:
		}
	}
}

// tick is told, at each trim tick, whether the store wrote since the
// last and how long the tick waited since the last.
func (c *compactors) tick(wrote bool, waited time.Duration) {
	if wrote {
		c.idle = 0
		c.start()
		return
	}
	c.idle += waited
	switch quiet := c.quiet(); {
	case c.paused.Load() && !quiet:
		c.start()
	case !c.paused.Load() && quiet && c.idle >= compactionIdle():
		badgerStopCompactions(c.db)
		c.paused.Store(true)
	}
}

// start runs the compactors again if they are paused.
func (c *compactors) start() {
	if c.paused.Load() {
		badgerStartCompactions(c.db)
		c.paused.Store(false)
		c.idle = 0
	}
}

// quiet reports whether no compactor would find work, by the test
// Badger's compactors apply (levelsController.runCompactor): a level is a
// candidate once its score reaches 1 (L0: NumLevelZeroTables tables;
// db.Levels() reports a score only then), and is run by compactor 0 if
// it is L0, by any compactor if its adjusted score reaches 1 too. An L0
// of fewer tables waits, for ever on an idle store: counting its tables
// kept the compactors of most stores that had taken any load running.
func (c *compactors) quiet() bool {
	for _, l := range c.db.Levels() {
		if l.Score >= 1 && (l.Level == 0 || l.Adjusted >= 1) {
			return false
		}
	}
	return true
}
