package wal

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Observer is told of the committer's work, for metrics. Its methods run
// on the committer and the syncer goroutines: they must return at once and
// never call back into the store.
type Observer interface {
	// Committed: one group of ops was written in one transaction; weight
	// is the sum of their weights (events for appends, 1 for most others);
	// the write took d (Badger's commit, before the sync). Every group
	// behind it waits for it: a long one is a memtable or value-log
	// rotation, or Badger holding writes while level 0 is full.
	Committed(ops, weight int, d time.Duration)
	// Synced: one fsync round of a written group (the memtable log, and
	// the value log beside it when values went there) took d.
	Synced(d time.Duration)
}

// op is one unit of work for the committer. apply runs in the committer
// goroutine and adds its writes to the group; after runs there too once the
// group is written (it updates the caches), and the op completes once the
// group is on disk. An op's writes are committed whole or not at all.
type op struct {
	weight int // events, for the pending bound
	// lazy: the op completes once written, without waiting for a sync; it
	// reaches the disk with the next synced group (or Badger's own flush).
	// For writes whose loss in a power cut only repeats work: an attempt's
	// result, whose batch is then sent again under the same webhook-id.
	lazy bool
	// space: below which free-space limit the op is refused (space.go);
	// the zero value, spaceClient, is the first to be refused.
	space spaceClass
	apply func(g *group) error
	after func()
	err   error
	done  chan struct{}
}

// submit queues o and waits until its group is committed.
func (s *Store) submit(o *op) error {
	if err := s.Err(); err != nil {
		return err
	}
	if err := s.space.refuse(o.space); err != nil {
		return err
	}
	o.done = make(chan struct{})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.pendingN+o.weight > s.opts.MaxPending && s.pendingN > 0 {
		s.mu.Unlock()
		return ErrFull
	}
	s.pending = append(s.pending, o)
	s.pendingN += o.weight
	s.mu.Unlock()
	s.wake()
	<-o.done
	return o.err
}

func (s *Store) wake() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// commitLoop is the only writer of the hot path: it takes everything that
// is pending, writes it in as few transactions as Badger's limits allow,
// and hands the written ops to syncLoop, which completes them once they
// are on disk. While a sync is in progress only lazy ops (attempt
// results) are written; the others gather for the next group, as they
// would behind a synced commit, so ingest groups stay as large as before
// and a delivery's result never waits for a sync. (Writing every group
// during the previous sync measured the same for delivery and ~10% slower
// for single-event ingest: more, smaller groups on a busy CPU.)
func (s *Store) commitLoop() {
	defer func() {
		s.syncMu.Lock()
		s.syncClosed = true
		s.syncMu.Unlock()
		s.syncCond.Broadcast()
		<-s.synced
		close(s.stopped)
	}()
	for {
		<-s.signal
		s.mu.Lock()
		ops, closed := s.pending, s.closed
		if s.syncing.Load() && !closed {
			// Ops that wait for the disk wait for the sync in progress
			// and go in the next group; lazy ones are written now.
			ops = nil
			keep := s.pending[:0]
			for _, o := range s.pending {
				if o.lazy {
					ops = append(ops, o)
					s.pendingN -= o.weight
				} else {
					keep = append(keep, o)
				}
			}
			s.pending = keep
		} else {
			s.pending, s.pendingN = nil, 0
		}
		s.mu.Unlock()
		for len(ops) > 0 {
			ops = s.commitGroup(ops)
		}
		if closed {
			// Nothing can be queued after closed was set under mu.
			return
		}
	}
}

// toSync hands ops whose group is written to the syncer, waiting until
// it has taken the group before.
func (s *Store) toSync(ops []*op) {
	s.syncMu.Lock()
	for s.unsynced != nil {
		s.syncCond.Wait()
	}
	s.unsynced = ops
	s.syncing.Store(true)
	s.syncMu.Unlock()
	s.syncCond.Broadcast()
}

// syncLoop makes written groups durable and completes their ops.
func (s *Store) syncLoop() {
	defer close(s.synced)
	for {
		s.syncMu.Lock()
		for s.unsynced == nil && !s.syncClosed {
			s.syncCond.Wait()
		}
		ops, closed := s.unsynced, s.syncClosed
		s.unsynced = nil
		s.syncMu.Unlock()
		s.syncCond.Broadcast()
		if ops == nil && closed {
			return
		}
		start := time.Now() // a latency, not a timestamp: the wall clock is what the disk takes
		err := s.syncFiles()
		if o := s.opts.Observer; o != nil && err == nil {
			o.Synced(time.Since(start))
		}
		if err != nil {
			s.fail(err)
			err = s.Err()
		}
		for _, o := range ops {
			o.err = err
			close(o.done)
		}
		s.syncMu.Lock()
		idle := s.unsynced == nil
		if idle {
			s.syncing.Store(false)
		}
		s.syncMu.Unlock()
		if idle && s.heldBack() {
			s.wake()
		}
	}
}

// heldBack reports whether ops wait for the committer, which kept them
// for the next group while a sync was in progress. The syncer wakes the
// committer for them only: an op queued later signals it itself, and an
// idle store then makes one wake-up per commit fewer. (The committer reads
// syncing under mu, so either it saw the sync over and took everything,
// or the ops it kept are pending here.)
func (s *Store) heldBack() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0
}

// syncFiles makes everything written so far durable: the active memtable's
// log, the value log when something went there since the last sync, and a
// file of either that was rotated out since (it may still hold unsynced
// writes).
func (s *Store) syncFiles() error {
	if e := s.injectSyncErr.Load(); e != nil {
		return *e
	}
	if f := s.beforeSync.Load(); f != nil {
		(*f)()
	}
	if !s.vlogDirty.Swap(false) {
		return s.memLogs.sync()
	}
	// Both logs, side by side: a commit waits for about one fsync.
	var vlogErr error
	done := make(chan struct{})
	go func() { vlogErr = s.vlogs.sync(); close(done) }()
	err := s.memLogs.sync()
	<-done
	return errors.Join(err, vlogErr)
}

// syncBeforeFlush syncs the value log at once when the write just made
// rotated Badger's memtable. Badger flushes the full memtable to a table
// it syncs, whose keys point into the value log, and does not sync the
// value log first (it would, with synced writes); values not yet synced —
// lazy ones, or a group's still waiting for its sync — would dangle after
// a power cut. Building a table from a full memtable takes far longer than
// this fsync, which starts as soon as the write that rotated returns.
// The memtable logs are synced too, which moves memLogs to the new file
// (so the next write does not see the same rotation).
func (s *Store) syncBeforeFlush() error {
	if !s.vlogDirty.Load() || !s.memLogs.followedBy(s.memLogs.newest.Load()) {
		return nil
	}
	if err := s.vlogs.sync(); err != nil {
		return err
	}
	return s.memLogs.sync()
}

// syncBarrier returns once everything written before it is durable, the
// value log included (after Badger rewrote values itself: vlog GC).
func (s *Store) syncBarrier() error {
	return s.submit(&op{space: spaceNone, apply: func(g *group) error { g.vlog = true; return nil }})
}

// group collects the writes of the ops committed together.
type group struct {
	s       *Store
	now     time.Time
	entries []entry
	size    int64
	read    *badger.Txn // lazily opened snapshot for lookups
	vlog    bool        // a value goes to the value log: sync it too
	vlogN   int64       // bytes of values that go to the value log
	inline  int64       // bytes of large values it may keep in the LSM tree (threshold.go)
	inlined int64       // ... and keeps there

	// Keys written by earlier ops of this group, which the read snapshot
	// cannot see yet; undo lists what the current op added.
	idem  map[string]ID
	types map[string]struct{}
	undo  []string
	undoT []string
	// Queue cursors set by earlier ops of this group (OpenBatches), batch
	// versions (delivery.go), open floors, and batches no longer
	// unindexed since an earlier op (openfloor.go).
	cursors overlay[ID]
	vers    overlay[uint64]
	floors  overlay[ID]
	gone    overlay[bool]
}

// overlay is per-key state that the ops of a group set before it is
// written (the store's own copy changes in each op's after), with what
// the current op changed, so that its rollback restores the rest.
type overlay[V any] struct {
	m    map[ID]V
	undo []overlayUndo[V]
}

type overlayUndo[V any] struct {
	key ID
	was V
	had bool
}

func (o *overlay[V]) get(k ID) (V, bool) {
	v, ok := o.m[k]
	return v, ok
}

func (o *overlay[V]) set(k ID, v V) {
	if o.m == nil {
		o.m = map[ID]V{}
	}
	was, had := o.m[k]
	o.undo = append(o.undo, overlayUndo[V]{k, was, had})
	o.m[k] = v
}

// begin starts an op: what it sets from here on is what rollback undoes.
func (o *overlay[V]) begin() { o.undo = o.undo[:0] }

func (o *overlay[V]) rollback() {
	for i := len(o.undo) - 1; i >= 0; i-- {
		if u := o.undo[i]; u.had {
			o.m[u.key] = u.was
		} else {
			delete(o.m, u.key)
		}
	}
}

// cursor is webhook's queue cursor as this group leaves it so far.
func (g *group) cursor(webhook ID) ID {
	if c, ok := g.cursors.get(webhook); ok {
		return c
	}
	return g.s.cursor(webhook)
}

// setCursor moves webhook's cursor within this group (undone on rollback).
func (g *group) setCursor(webhook, to ID) { g.cursors.set(webhook, to) }

func (g *group) set(key, val []byte, ttl time.Duration) {
	e := badger.NewEntry(key, val)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	g.add(e)
}

func (g *group) del(key []byte) { g.add(&badger.Entry{Key: key}, true) }

// entry is one write of a group: a set, or a delete when del is true.
type entry struct {
	e   *badger.Entry
	del bool
}

func (g *group) add(e *badger.Entry, del ...bool) {
	v := int64(len(e.Value))
	switch {
	case v < int64(g.s.opts.ValueThreshold):
	case v < inlineMax && g.inlined+v <= g.inline:
		keepInLSM(e)
		g.inlined += v
	default:
		g.vlogN += v
		v = 12
		g.vlog = true
	}
	g.size += int64(len(e.Key)) + v + 12 // as Badger's own estimate
	g.entries = append(g.entries, entry{e: e, del: len(del) > 0 && del[0]})
}

// snapshot is a read transaction over everything committed before this group.
func (g *group) snapshot() *badger.Txn {
	if g.read == nil {
		g.read = g.s.db.NewTransaction(false)
	}
	return g.read
}

// commitGroup commits a prefix of ops and returns the ops left for the next
// transaction (those that did not fit).
func (s *Store) commitGroup(ops []*op) []*op {
	if err := s.Err(); err != nil {
		for _, o := range ops {
			o.err = err
			close(o.done)
		}
		return nil
	}
	s.space.check()
	g := &group{s: s, now: s.opts.Now().UTC(), inline: min(s.inl.budget(), s.maxSize/8)}
	defer func() {
		if g.read != nil {
			g.read.Discard()
		}
	}()
	var done []*op
	rest := ops[:0:0]
	for i, o := range ops {
		if err := s.space.refuse(o.space); err != nil {
			o.err = err
			close(o.done)
			continue
		}
		mark, markSize, markVlog, markInl := len(g.entries), g.size, g.vlogN, g.inlined
		g.undo, g.undoT = g.undo[:0], g.undoT[:0]
		g.cursors.begin()
		g.vers.begin()
		g.floors.begin()
		g.gone.begin()
		err := o.apply(g)
		n, size := int64(len(g.entries)-mark), g.size-markSize
		switch {
		case err == nil && (n >= s.maxCount || size >= s.maxSize):
			err = ErrTooBig
		case err == nil && (int64(len(g.entries)) >= s.maxCount || g.size >= s.maxSize ||
			len(done) > 0 && g.vlogN >= s.maxVlog):
			// Does not fit beside the ops before it: next transaction.
			// (The value-log bound keeps what one transaction may write
			// through Badger's maps within the free-space floor.)
			g.rollback(mark, markSize, markVlog, markInl)
			rest = ops[i:]
		}
		if len(rest) > 0 {
			break
		}
		if err != nil {
			g.rollback(mark, markSize, markVlog, markInl)
			o.err = err
			close(o.done)
			continue
		}
		done = append(done, o)
	}
	if len(done) == 0 {
		return rest
	}
	start := time.Now() // a latency, not a timestamp
	err := s.write(g.entries)
	took := time.Since(start)
	if g.vlog && err == nil {
		// After the write, not before: a sync already under way (the
		// previous group's, while this one is lazy or did not fit beside
		// it) may clear the mark at any moment, and only a sync that
		// starts after the values are in the file covers them. Marked
		// before the write, that sync could take the mark, sync the value
		// log before the values landed, and leave this group's next sync
		// with the memtable log alone: values its keys point to, not on
		// disk after a power cut.
		s.vlogDirty.Store(true)
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		// Our estimate disagreed with Badger's; nothing was written.
		for _, o := range done {
			o.err = ErrTooBig
			close(o.done)
		}
		return rest
	}
	if err != nil {
		s.fail(err)
		for _, o := range done {
			o.err = s.Err()
			close(o.done)
		}
		return rest
	}
	s.space.wrote(uint64(g.size + g.vlogN))
	s.inl.wrote(g.inlined + g.vlogN)
	s.writes.Add(1)
	if o := s.opts.Observer; o != nil {
		w := 0
		for _, op := range done {
			w += op.weight
		}
		o.Committed(len(done), w, took)
	}
	if err := s.syncBeforeFlush(); err != nil {
		s.fail(err)
		for _, o := range done {
			o.err = s.Err()
			close(o.done)
		}
		return rest
	}
	var wait []*op
	for _, o := range done {
		if o.after != nil {
			o.after()
		}
		if o.lazy {
			close(o.done)
		} else {
			wait = append(wait, o)
		}
	}
	if len(wait) > 0 {
		s.toSync(wait)
	}
	return rest
}

func (g *group) rollback(mark int, markSize, markVlog, markInl int64) {
	g.entries, g.size, g.vlogN, g.inlined = g.entries[:mark], markSize, markVlog, markInl
	for _, k := range g.undo {
		delete(g.idem, k)
	}
	for _, k := range g.undoT {
		delete(g.types, k)
	}
	g.cursors.rollback()
	g.vers.rollback()
	g.floors.rollback()
	g.gone.rollback()
}

// write commits entries in one Badger transaction, not synced yet.
func (s *Store) write(entries []entry) error {
	if e := s.injectErr.Load(); e != nil {
		return *e
	}
	if f := s.beforeWrite.Load(); f != nil {
		(*f)()
	}
	if len(entries) == 0 {
		return nil
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, w := range entries {
		var err error
		if w.del {
			err = txn.Delete(w.e.Key)
		} else {
			err = txn.SetEntry(w.e)
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}
