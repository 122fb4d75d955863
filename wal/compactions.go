package wal

import (
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname, below

	"github.com/dgraph-io/badger/v4"
)

// Badger runs NumCompactors goroutines that each wake every 50 ms, for
// ever, to look for a level worth compacting. Mostly there is none, and
// those wake-ups were most of what an idle hookd cost: ~20 a second,
// ~0.5% of a core on this project's 2-core VM (a process doing nothing
// else but four such tickers measured the same), and under a steady
// light load they ran for ever beside the events' own wake-ups (at 20
// events/s, a third of the CPU). The store therefore runs the
// compactors only while a level needs them (quiet: the test they apply)
// and for compactionIdle after; a write alone does not start them, as
// only a memtable flush or a compaction can make a level need one, and
// the next trim tick (at most 250 ms away while the store writes, 62 ms
// while its tables change, 2 s when idle) sees it. What gets compacted
// is unchanged: paused compactors would have found nothing to do.
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

// compactionIdle is how long the trim ticks must have found every level
// quiet before the compactors stop: 2 s (the ticks come every 250 ms
// while the store writes, every 62 ms while the tables are busy, every
// 2 s when idle).
func compactionIdle() time.Duration { return idleTicks * trimInterval }

// compactors pauses Badger's compactors while no level needs them. Its
// methods run on gcLoop only.
type compactors struct {
	db       *badger.DB
	paused   atomic.Bool
	quietFor time.Duration // since the last trim tick that found a level to compact
	ticks    atomic.Int64  // trim ticks seen (tests)
}

// newCompactors: Badger starts its compactors at Open; if every level is
// quiet then, they stop at the first trim tick (a store that opens with
// work, L0 tables a replay flushed, keeps them until it is done).
func newCompactors(db *badger.DB) *compactors {
	return &compactors{db: db, quietFor: compactionIdle()}
}

// tick is told, at each trim tick, how long it waited since the last.
func (c *compactors) tick(waited time.Duration) {
	c.ticks.Add(1)
	if !c.quiet() {
		c.quietFor = 0
		c.start()
		return
	}
	c.quietFor += waited
	if !c.paused.Load() && c.quietFor >= compactionIdle() {
		badgerStopCompactions(c.db)
		c.paused.Store(true)
	}
}

// start runs the compactors again if they are paused.
func (c *compactors) start() {
	if c.paused.Load() {
		badgerStartCompactions(c.db)
		c.paused.Store(false)
		c.quietFor = 0
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
