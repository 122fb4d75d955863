package wal

import (
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// EventInput is one event to append. Type and Data are required and already
// validated by the caller; Key is the optional idempotency key.
type EventInput struct {
	Type string
	Key  string
	Refs []Ref // sorted by Name (SortRefs)
	Data []byte
}

// AppendResult says what became of each input, in order.
type AppendResult struct {
	IDs       []ID   // the stored event's ID (the original one for a duplicate)
	Duplicate []bool // true when the idempotency key was already known
}

// Accepted is the number of events newly stored.
func (r AppendResult) Accepted() int {
	n := 0
	for _, d := range r.Duplicate {
		if !d {
			n++
		}
	}
	return n
}

// Append stores events for tenant and returns only once they are synced to
// disk, together with one queue record for each active webhook of the tenant
// whose filter matches (fan-out), and any event type not seen before.
// Events with a known idempotency key are not stored again and fan out to
// nobody. The request is all or nothing. The store keeps a reference to
// the Data (and Refs) of events that fanned out, to serve them from memory
// for a while: callers must not change them afterwards.
func (s *Store) Append(tenant string, evs []EventInput) (AppendResult, error) {
	res := AppendResult{IDs: make([]ID, len(evs)), Duplicate: make([]bool, len(evs))}
	var newTypes []string
	var fanned map[ID]int
	var hot []*Event // events fanned out to someone: the engine reads them soon
	var stored []int // indexes in evs of the events stored (not duplicates)
	o := &op{weight: len(evs)}
	o.apply = func(g *group) error {
		newTypes = newTypes[:0]
		clear(fanned)
		hot = hot[:0]
		stored = stored[:0]
		tc := s.tenantCacheRO(tenant)
		types := tc.typeCount() // registered; new ones stop at maxEventTypes
		size, ms := 0, g.now.UnixMilli()
		for i := range evs {
			in := &evs[i]
			size += encodedEventSize(in.Type, in.Key, in.Refs, len(in.Data), ms)
		}
		buf := make([]byte, 0, size) // every record is a slice of it
		var hotBuf []Event           // events fanned out to someone, one allocation
		if tc != nil {
			hotBuf = make([]Event, 0, len(evs))
		}
		for i := range evs {
			in := &evs[i]
			if in.Key != "" {
				if id, ok, err := g.lookupIdem(tenant, in.Key); err != nil {
					return err
				} else if ok {
					res.IDs[i], res.Duplicate[i] = id, true
					continue
				}
			}
			id := s.ids.New(g.now)
			res.IDs[i], res.Duplicate[i] = id, false
			stored = append(stored, i)
			e := Event{Type: in.Type, Key: in.Key, Refs: in.Refs, Data: in.Data, CreatedAt: g.now}
			start := len(buf)
			buf = encodeEvent(buf, &e)
			g.set(eventKey(tenant, id), buf[start:len(buf):len(buf)], s.opts.Retention)
			if in.Key != "" {
				g.set(idemKey(tenant, in.Key), append([]byte(nil), id[:]...), s.opts.Retention)
				g.noteIdem(tenant, in.Key, id)
			}
			if tc != nil {
				if slices.ContainsFunc(tc.active, func(w *Webhook) bool { return w.Matches(in.Type) }) {
					// As decodeEvent would return it: ms precision, no empty refs.
					he := e
					he.ID, he.Tenant = id, tenant
					he.CreatedAt = time.UnixMilli(ms).UTC()
					if len(he.Refs) == 0 {
						he.Refs = nil
					}
					hotBuf = append(hotBuf, he) // never grows
				}
			}
			if (tc == nil || !tc.hasType(in.Type)) && types+len(newTypes) < maxEventTypes && g.noteType(tenant, in.Type) {
				newTypes = append(newTypes, in.Type)
				g.set(eventTypeKey(tenant, in.Type), encodeEventType(EventType{Name: in.Type, CreatedAt: g.now}), 0)
			}
		}
		if len(hotBuf) < cap(hotBuf)/2 {
			// The cache keeps the array as long as any of its events:
			// at most two Events' room for each event it holds.
			hotBuf = append([]Event(nil), hotBuf...)
		}
		for i := range hotBuf {
			hot = append(hot, &hotBuf[i])
		}
		if tc != nil && len(stored) > 0 {
			fanned = s.fanOut(g, tc.active, evs, stored, res.IDs, fanned)
		}
		return nil
	}
	o.after = func() {
		if len(newTypes) > 0 {
			s.addTypes(tenant, newTypes)
		}
		s.recent.add(hot) // committed: from now on they may be served
		if l := s.queued.Load(); l != nil && len(fanned) > 0 {
			(*l)(fanned)
		}
	}
	if err := s.submit(o); err != nil {
		return AppendResult{}, err
	}
	return res, nil
}

// fanOut writes one queue record per matching webhook for this append,
// expiring with its events, and counts what each webhook got into fanned
// (made when nil). Memory does not grow with webhooks × events: one
// webhook's IDs are gathered in a scratch slice at a time, and consecutive
// webhooks whose filters pick the same events (all of a tenant's
// catch-alls, say) share one encoded record, allocated once.
func (s *Store) fanOut(g *group, active []*Webhook, evs []EventInput, stored []int, ids []ID, fanned map[ID]int) map[ID]int {
	var picked, prev []ID
	var rec []byte // prev's record, shared while webhooks pick the same events
	for _, w := range active {
		picked = picked[:0]
		for _, i := range stored {
			if w.Matches(evs[i].Type) {
				picked = append(picked, ids[i])
			}
		}
		if len(picked) == 0 {
			continue
		}
		if rec == nil || !slices.Equal(picked, prev) {
			rec, prev = encodeQueue(picked), append(prev[:0], picked...)
		}
		g.set(queueKey(w.ID, picked[len(picked)-1]), rec, s.opts.Retention)
		if fanned == nil {
			fanned = map[ID]int{}
		}
		fanned[w.ID] = len(picked)
	}
	return fanned
}

func (g *group) lookupIdem(tenant, key string) (ID, bool, error) {
	var id ID
	if g.idem != nil {
		if id, ok := g.idem[tenant+"\x00"+key]; ok {
			return id, true, nil
		}
	}
	item, err := g.snapshot().Get(idemKey(tenant, key))
	if err == badger.ErrKeyNotFound {
		return id, false, nil
	}
	if err != nil {
		return id, false, err
	}
	err = item.Value(func(v []byte) error {
		if len(v) != len(id) {
			return errCorrupt
		}
		copy(id[:], v)
		return nil
	})
	return id, err == nil, err
}

func (g *group) noteIdem(tenant, key string, id ID) {
	if g.idem == nil {
		g.idem = map[string]ID{}
	}
	k := tenant + "\x00" + key
	g.idem[k] = id
	g.undo = append(g.undo, k)
}

// noteType reports whether typ is new in this group for tenant.
func (g *group) noteType(tenant, typ string) bool {
	if g.types == nil {
		g.types = map[string]struct{}{}
	}
	k := tenant + "\x00" + typ
	if _, ok := g.types[k]; ok {
		return false
	}
	g.types[k] = struct{}{}
	g.undoT = append(g.undoT, k)
	return true
}

// GetEvent reads one event of tenant.
func (s *Store) GetEvent(tenant string, id ID) (*Event, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	e := &Event{ID: id, Tenant: tenant}
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(eventKey(tenant, id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return decodeEvent(v, e) })
	})
	if err != nil {
		return nil, translate(err)
	}
	return e, nil
}

// QueueDepth counts the queue entries of one webhook (events fanned out to
// it and not yet taken into a batch).
func (s *Store) QueueDepth(webhook ID) (int, error) {
	if err := s.readable(); err != nil {
		return 0, err
	}
	n := 0
	cur := s.cursor(webhook)
	err := s.view(func(txn *badger.Txn) error {
		return eachQueued(txn, webhook, cur, func(ID) bool { n++; return true })
	})
	return n, translate(err)
}

// EventByKey returns the ID of tenant's event published with idempotency
// key key (within retention), or ErrNotFound.
func (s *Store) EventByKey(tenant, key string) (ID, error) {
	var id ID
	if err := s.readable(); err != nil {
		return id, err
	}
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(idemKey(tenant, key))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != len(id) {
				return errCorrupt
			}
			copy(id[:], v)
			return nil
		})
	})
	return id, translate(err)
}
