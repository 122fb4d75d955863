package wal

import (
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The open index's floor.
//
// EachOpenBatch finds a webhook's open batches in two places: the open
// index (o/<webhook-id><batch-id>) and, from the webhook's floor on, the
// batch records themselves (b/<tenant>/<webhook-id><batch-id>, in ID
// order). The floor is kept in the queue cursor's value (c/<webhook-id>:
// the last entry consumed, then the floor when there is one), which every
// open commit writes anyway. So a batch opened and ended within indexAfter
// (most of them: sent once, delivered) never gets an o/ entry, and its
// result's commit has no o/ entry to delete: two entries fewer per batch,
// one of them a tombstone that Badger would carry down every level.
//
// The rule that makes an open batch findable after a crash: every open
// batch below its webhook's stored floor has an o/ entry. A batch at or
// above the floor may not. So the floor an open commit stores is the
// lowest of the batches it opens, of those still unindexed (opened before,
// not ended, no o/ entry), and of the floor an earlier op of the same
// group stored. A batch still unindexed indexAfter after it was made (a
// slow endpoint, or opened ahead of its send) gets its o/ entry in the
// next open commit of its webhook and leaves the floor's reckoning; one
// whose result leaves it open (retrying) gets it in that result's commit.
// So the scan from the floor at start reads about indexAfter's worth of a
// webhook's batches, plus those opened since its last open commit: none.
//
// Nothing here depends on IDs being made in order: the floor is a minimum,
// and the age is the ID's time against the group's. A clock that goes
// back only keeps batches unindexed (and the floor low) for longer.
const indexAfter = time.Second

// indexer keeps the store's unindexed batches: the committer's alone (and
// loadCaches's, before the committer starts).
type indexer struct {
	batches map[ID]string // open, no o/ entry: → its tenant
	byHook  map[ID][]ID   // per webhook; may hold batches since ended or indexed
}

func newIndexer() indexer {
	return indexer{batches: map[ID]string{}, byHook: map[ID][]ID{}}
}

func (x *indexer) add(webhook ID, tenant string, id ID) {
	x.batches[id] = tenant
	x.byHook[webhook] = append(x.byHook[webhook], id)
}

// opened records an open commit of webhook: bs are unindexed, indexed have
// their o/ entries now. It drops what has ended from the webhook's list.
func (x *indexer) opened(webhook ID, bs []*Batch, indexed []ID) {
	for _, id := range indexed {
		delete(x.batches, id)
	}
	ids := x.byHook[webhook][:0]
	for _, id := range x.byHook[webhook] {
		if _, ok := x.batches[id]; ok {
			ids = append(ids, id)
		}
	}
	for _, b := range bs {
		x.batches[b.ID] = b.Tenant
		ids = append(ids, b.ID)
	}
	if len(ids) == 0 {
		delete(x.byHook, webhook)
		return
	}
	x.byHook[webhook] = ids
}

// openFloor writes, in this group, the o/ entries of webhook's unindexed
// batches made indexAfter ago or more (returned), and returns the floor an
// open of bs stores: zero when nothing is left unindexed.
func (g *group) openFloor(webhook ID, bs []*Batch) (floor ID, indexed []ID) {
	lower := func(id ID) {
		if floor.IsZero() || compareID(id, floor) < 0 {
			floor = id
		}
	}
	for _, id := range g.s.unidx.byHook[webhook] {
		tenant, ok := g.s.unidx.batches[id]
		if gone, _ := g.gone.get(id); !ok || gone {
			continue // ended (or indexed) by an earlier op of this group
		}
		if g.now.Sub(id.Time()) < indexAfter {
			lower(id)
			continue
		}
		g.set(openKey(webhook, id), []byte(tenant), 0)
		indexed = append(indexed, id)
	}
	for _, b := range bs {
		lower(b.ID)
	}
	if f, ok := g.floors.get(webhook); ok && !f.IsZero() {
		lower(f)
	}
	g.floors.set(webhook, floor)
	return floor, indexed
}

// unindexedNow reports whether batch id has no o/ entry as of this group
// (ops before this one included): an open commit wrote it, and neither an
// open commit nor a result has indexed it since.
func (g *group) unindexedNow(id ID) bool {
	if gone, _ := g.gone.get(id); gone {
		return false
	}
	if _, ok := g.s.unidx.batches[id]; !ok {
		return false
	}
	// An earlier open commit in this group may have indexed it (same
	// group, same now: the same age test).
	return g.now.Sub(id.Time()) < indexAfter
}

// settle marks batch id as no longer unindexed within this group (its
// result ended it, or wrote its o/ entry); undone on rollback.
func (g *group) settle(id ID) { g.gone.set(id, true) }

// cursorValue is what c/<webhook-id> holds: the last entry consumed, then
// the floor when there is one.
func cursorValue(last, floor ID) []byte {
	v := make([]byte, 0, 32)
	v = append(v, last[:]...)
	if !floor.IsZero() {
		v = append(v, floor[:]...)
	}
	return v
}

// eachUnindexed calls fn with every batch at or above its webhook's floor
// that is open, in txn's view. A webhook deleted since has no tenant to
// look its batches up with; the engine does not restore those.
func (s *Store) eachUnindexed(txn *badger.Txn, fn func(*Batch) error) error {
	cpfx := []byte{pfxCursor, '/'}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: cpfx, PrefetchValues: true})
	type hookFloor struct {
		tenant      string
		wh, floorID ID
	}
	var floors []hookFloor
	for it.Rewind(); it.ValidForPrefix(cpfx); it.Next() {
		k := it.Item().Key()
		if len(k) != 2+16 {
			continue
		}
		var f hookFloor
		copy(f.wh[:], k[2:])
		if err := it.Item().Value(func(v []byte) error {
			if len(v) == 32 {
				copy(f.floorID[:], v[16:])
			}
			return nil
		}); err != nil {
			it.Close()
			return err
		}
		if f.floorID.IsZero() {
			continue
		}
		s.cacheMu.RLock()
		w, ok := s.hooks[f.wh]
		if ok {
			f.tenant = w.Tenant
		}
		s.cacheMu.RUnlock()
		if ok {
			floors = append(floors, f)
		}
	}
	it.Close()
	for _, f := range floors {
		pfx := batchKey(f.tenant, f.wh, ID{})
		pfx = pfx[:len(pfx)-16]
		bi := txn.NewIterator(badger.IteratorOptions{Prefix: pfx, PrefetchValues: true, PrefetchSize: 100})
		for bi.Seek(batchKey(f.tenant, f.wh, f.floorID)); bi.ValidForPrefix(pfx); bi.Next() {
			b, err := decodeBatch(bi.Item(), f.tenant)
			if err != nil {
				bi.Close()
				return err
			}
			if !b.Open() {
				continue
			}
			if err := fn(b); err != nil {
				bi.Close()
				return err
			}
		}
		bi.Close()
	}
	return nil
}

// loadUnindexed finds, at open, the batches no o/ entry indexes.
func (s *Store) loadUnindexed(txn *badger.Txn) error {
	return s.eachUnindexed(txn, func(b *Batch) error {
		_, err := txn.Get(openKey(b.WebhookID, b.ID))
		switch err {
		case badger.ErrKeyNotFound:
			s.unidx.add(b.WebhookID, b.Tenant, b.ID)
			return nil
		case nil:
			return nil
		default:
			return err
		}
	})
}
