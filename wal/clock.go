package wal

import (
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// clock hands out Badger's timestamps: the store opens Badger in managed
// mode and, being its only writer (the committer), numbers the commits
// itself. Badger's own mode gives every transaction two watermark updates,
// each a channel send that wakes one of two goroutines of Badger's (six
// per commit with the group's read snapshot). At a trickle those wake-ups
// were much of an event's CPU; here a read takes a mutex instead.
//
// A reader reads at the last commit; compactions may drop a version once
// no reader can still see it, so the discard point Badger is given is the
// oldest open reader's timestamp, or the last commit when none is open.
type clock struct {
	db *badger.DB

	mu      sync.Mutex
	last    uint64         // the last commit's timestamp: what readers read at
	open    map[uint64]int // open readers by timestamp
	discard uint64         // what Badger was last given (SetDiscardTs)
}

func newClock(db *badger.DB) *clock {
	c := &clock{db: db, last: db.MaxVersion(), open: map[uint64]int{}}
	c.advanceLocked()
	return c
}

// commitTs is the timestamp of the next commit. Only the committer
// commits, one transaction at a time, so nothing else takes it.
func (c *clock) commitTs() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last + 1
}

// committed makes the commit at ts visible to readers opened from now on,
// and moves the discard point.
func (c *clock) committed(ts uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = ts
	c.advanceLocked()
}

// read opens a read transaction at the last commit; done discards it.
func (c *clock) read() (txn *badger.Txn, done func()) {
	c.mu.Lock()
	ts := c.last
	c.open[ts]++
	c.mu.Unlock()
	txn = c.db.NewTransactionAt(ts, false)
	return txn, func() {
		txn.Discard()
		c.mu.Lock()
		if c.open[ts]--; c.open[ts] == 0 {
			delete(c.open, ts)
			if ts == c.discard { // the oldest reader: the point can move
				c.advanceLocked()
			}
		}
		c.mu.Unlock()
	}
}

// write opens a write transaction at the last commit; the committer
// commits it at commitTs.
func (c *clock) write() *badger.Txn {
	c.mu.Lock()
	ts := c.last
	c.mu.Unlock()
	return c.db.NewTransactionAt(ts, true)
}

// advanceLocked gives Badger the oldest timestamp a reader may still read
// at. Open readers are few and share timestamps (every reader opened
// between two commits has the same), so the scan is short.
func (c *clock) advanceLocked() {
	d := c.last
	for ts := range c.open {
		d = min(d, ts)
	}
	if d != c.discard {
		c.discard = d
		c.db.SetDiscardTs(d)
	}
}
