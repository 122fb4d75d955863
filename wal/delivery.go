package wal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Delivery records: batches (one delivery unit of one webhook), attempts,
// the index of open batches the engine rebuilds from at start, each
// webhook's queue cursor, and the index behind GET /v1/events/{id}.
//
//	b/<tenant>/<webhook-id><batch-id>        batch (compact while open, then JSON: batchcodec.go)
//	a/<tenant>/<batch-id><attempt-id>        attempt (JSON)
//	o/<webhook-id><batch-id>                 open batch (pending or retrying) → tenant,
//	                                         unless at or above the floor (openfloor.go)
//	c/<webhook-id>                           → the last queue entry consumed, then the
//	                                         webhook's open floor when it has one
//	d/<tenant>/<webhook-id><last-event-id>   → batch id, then first event id unless the last
//	h/<webhook-id>                           health as of its last change (JSON)
//
// A webhook's batches are cut from its queue in order, so each batch
// carries a contiguous run of the queue: one d/ key per batch, keyed by
// its last event, finds the batch of any event (seek to the event, check
// the first). Queue records (queue.go) are never deleted: the cursor moves
// past their events in the commit that opens their batches, and they
// expire with their events (same TTL). Per event delivered at
// maxBatchSize 100 the store writes about one entry, the event itself.
const (
	pfxBatch    = 'b'
	pfxAttempt  = 'a'
	pfxOpen     = 'o'
	pfxCursor   = 'c'
	pfxDelivery = 'd'
	pfxHealth   = 'h'
)

// HookHealth is what the engine keeps of a webhook's health across
// restarts. It is written when it changes state (the first failure, the
// failure that makes the webhook unhealthy, the success that ends a
// failing streak), not after every attempt.
type HookHealth struct {
	Failures     int       `json:"failures"` // consecutive, as of the last change
	FailingSince time.Time `json:"failingSince,omitzero"`
	LastSuccess  time.Time `json:"lastSuccess,omitzero"`
	LastFailure  time.Time `json:"lastFailure,omitzero"`
}

func healthKey(wh ID) []byte { return hookKey(pfxHealth, wh, 0) }

// Health returns the stored health of a webhook (false: none stored).
func (s *Store) Health(webhook ID) (HookHealth, bool, error) {
	var h HookHealth
	if err := s.readable(); err != nil {
		return h, false, err
	}
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(healthKey(webhook))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &h) })
	})
	if err == badger.ErrKeyNotFound {
		return h, false, nil
	}
	return h, err == nil, translate(err)
}

// Batch statuses (API.md §6).
const (
	BatchPending   = "pending"
	BatchRetrying  = "retrying"
	BatchDelivered = "delivered"
	BatchExpired   = "expired"
	BatchCancelled = "cancelled"
)

// Attempt statuses and triggers.
const (
	AttemptScheduled = "scheduled"
	AttemptSucceeded = "succeeded"
	AttemptFailed    = "failed"

	TriggerAuto        = "auto"
	TriggerManual      = "manual"
	TriggerSendExpired = "sendexpired"
)

// BatchEvent is one event of a batch.
type BatchEvent struct {
	ID   ID     `json:"id"`
	Type string `json:"type"`
}

// Batch is one delivery unit: 1..maxBatchSize events of one webhook.
type Batch struct {
	ID        ID           `json:"-"`
	WebhookID ID           `json:"-"`
	Tenant    string       `json:"-"`
	Status    string       `json:"status"`
	Events    []BatchEvent `json:"events"`
	Refs      []Ref        `json:"refs,omitempty"` // union of the events' refs
	// Attempts made so far; MaxAttempts is where the current budget ends
	// (sendexpired and replays extend it).
	Attempts      int       `json:"attempts"`
	MaxAttempts   int       `json:"maxAttempts"`
	CreatedAt     time.Time `json:"createdAt"`
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
	LastAttemptAt time.Time `json:"lastAttemptAt,omitzero"`
	LastStatus    string    `json:"lastAttemptStatus,omitempty"`
	LastCode      int       `json:"lastStatusCode,omitempty"`
	// LastAttemptID is the attempt that set LastStatus (or ended the batch
	// unsent): its record, read without listing the batch's attempts.
	// Zero in batches stored before it existed.
	LastAttemptID ID        `json:"lastAttemptId,omitzero"`
	DeliveredAt   time.Time `json:"deliveredAt,omitzero"`
	// NextAttemptID and NextTrigger are set when an attempt was scheduled
	// by hand (replay, sendexpired): that attempt record already exists.
	NextAttemptID ID     `json:"nextAttemptId,omitzero"`
	NextTrigger   string `json:"nextTrigger,omitempty"`
	// Version counts the batch's stored writes (SaveBatch): a write must
	// carry the version it read, or it fails with ErrConflict.
	Version uint64 `json:"version,omitempty"`
}

// Open reports whether the batch still waits for an attempt.
func (b *Batch) Open() bool { return b.Status == BatchPending || b.Status == BatchRetrying }

// Attempt is one delivery attempt of a batch.
type Attempt struct {
	ID             ID                `json:"-"`
	BatchID        ID                `json:"-"`
	WebhookID      ID                `json:"webhookId"`
	Tenant         string            `json:"-"`
	Status         string            `json:"status"`
	Trigger        string            `json:"trigger"`
	ScheduledAt    time.Time         `json:"scheduledAt"`
	StartedAt      time.Time         `json:"startedAt,omitzero"`
	Duration       time.Duration     `json:"duration,omitempty"`
	RequestHeaders map[string]string `json:"requestHeaders,omitempty"`
	ResponseCode   int               `json:"responseStatusCode,omitempty"`
	ResponseBody   string            `json:"responseBody,omitempty"`
	Error          string            `json:"error,omitempty"`
}

func batchKey(tenant string, wh, id ID) []byte {
	k := tenantKey(pfxBatch, tenant, 32)
	k = append(k, wh[:]...)
	return append(k, id[:]...)
}

func attemptKey(tenant string, batch, id ID) []byte {
	k := tenantKey(pfxAttempt, tenant, 32)
	k = append(k, batch[:]...)
	return append(k, id[:]...)
}

func openKey(wh, batch ID) []byte { return append(hookKey(pfxOpen, wh, 16), batch[:]...) }

func deliveryKey(tenant string, wh, lastEvt ID) []byte {
	k := tenantKey(pfxDelivery, tenant, 32)
	k = append(k, wh[:]...)
	return append(k, lastEvt[:]...)
}

// deliveryValue is a d/ entry's value: the batch, then its first event
// unless that is its last (in the key), as at maxBatchSize 1. The d/
// entries live as long as their events; 16 bytes less each is 5% of what
// a delivered single-event batch keeps in the LSM tree until then.
func deliveryValue(batch, first, last ID) []byte {
	if first == last {
		return append([]byte(nil), batch[:]...)
	}
	return append(append(make([]byte, 0, 32), batch[:]...), first[:]...)
}

func cursorKey(wh ID) []byte { return hookKey(pfxCursor, wh, 0) }

// NewID returns a fresh time-ordered ID (batches, attempts).
func (s *Store) NewID() ID { return s.ids.New(s.opts.Now()) }

// PeekQueue returns up to max entries queued for webhook, oldest first,
// after the cursor `after` and never one already consumed (zero: from the
// stored cursor). Each entry's At is the cursor that consuming up to it
// leaves (OpenBatches' to).
func (s *Store) PeekQueue(webhook ID, after Cursor, max int) ([]Queued, error) {
	if err := s.readable(); err != nil || max <= 0 {
		return nil, err
	}
	var out []Queued
	// Entries are queued in ID order and consumed in that order: all up to
	// the cursor are consumed (and linger until their TTL), so a peek seeks
	// past them.
	cur := maxID(after.event(), s.cursor(webhook))
	err := s.view(func(txn *badger.Txn) error {
		return eachQueued(txn, webhook, cur, func(id ID) bool {
			out = append(out, Queued{Event: id, At: cursorAt(id)})
			return len(out) < max
		})
	})
	return out, translate(err)
}

// GetEvents reads several events of one tenant. An event that is no longer
// stored (its retention ended while it waited) is a nil entry, not an
// error, so one expired event cannot stall a whole queue.
func (s *Store) GetEvents(tenant string, ids []ID) ([]*Event, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	out := make([]*Event, len(ids))
	now, missed := s.opts.Now(), 0
	for i, id := range ids {
		if e, ok := s.recent.get(tenant, id, now, s.opts.Retention); ok {
			out[i] = e
		} else {
			missed++
		}
	}
	if missed == 0 {
		return out, nil
	}
	err := s.view(func(txn *badger.Txn) error {
		if missed >= scanMin {
			if err := scanEvents(txn, tenant, ids, out); err != nil {
				return err
			}
		}
		for i, id := range ids {
			if out[i] != nil {
				continue
			}
			item, err := txn.Get(eventKey(tenant, id))
			if err == badger.ErrKeyNotFound {
				continue
			}
			if err != nil {
				return err
			}
			e := &Event{ID: id, Tenant: tenant}
			if err := item.Value(func(v []byte) error { return decodeEvent(v, e) }); err != nil {
				return err
			}
			out[i] = e
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// scanMin is how many events missing from the cache make GetEvents read
// them with one iterator (a seek, then the next keys) rather than a lookup
// each: a backlog's events are neighbours in the key space.
const scanMin = 8

// scanEvents fills the nil entries of out (ids ascending, as queues are)
// from one pass over the tenant's events between the first and the last
// missing id. It gives up, leaving the rest to lookups, once it has
// stepped over more keys than it was asked for (events the webhook does
// not take lie between).
func scanEvents(txn *badger.Txn, tenant string, ids []ID, out []*Event) error {
	first := -1
	for i := range ids {
		if out[i] == nil {
			first = i
			break
		}
	}
	pfx := tenantKey(pfxEvent, tenant, 16)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx})
	defer it.Close()
	budget := 2*len(ids) + 16
	i := first
	for it.Seek(append(pfx, ids[first][:]...)); it.ValidForPrefix(pfx) && i < len(ids) && budget > 0; it.Next() {
		budget--
		k := it.Item().Key()
		if len(k) != len(pfx)+16 {
			continue
		}
		var id ID
		copy(id[:], k[len(pfx):])
		for i < len(ids) && (out[i] != nil || compareID(ids[i], id) < 0) {
			i++ // cached, or not stored (retention ended): the lookups see
		}
		if i == len(ids) || ids[i] != id {
			continue
		}
		e := &Event{ID: id, Tenant: tenant}
		if err := it.Item().Value(func(v []byte) error { return decodeEvent(v, e) }); err != nil {
			return err
		}
		out[i] = e
		i++
	}
	return nil
}

// OpenBatches stores new batches and consumes webhook's queue entries up
// to the cursor to (the At of the last entry taken: entries between the
// batches' events, whose events are no longer stored, are consumed without
// a batch), in one commit, before any first attempt. Batches must be given
// in queue order, as the engine cuts them, each of version 0 and holding
// entries after from and up to to; on success each is stored at version 1
// and its Version says so. No batches consume without any (a deleted
// webhook's queue).
//
// from is the cursor the entries were read after: when the queue's cursor,
// as the commits before this one leave it, is not from (zero included),
// nothing is written and the error is ErrConflict: an earlier open of the
// same webhook failed, or another writer moved it, and committing this one
// would skip or repeat entries. The caller reads the cursor (Cursor) and
// the queue again. f is the fence of the webhook's partition (ErrFenced).
func (s *Store) OpenBatches(f Fence, webhook ID, from, to Cursor, bs ...*Batch) error {
	return s.openBatches(f, webhook, from, to, false, bs)
}

// OpenBatchesLazy is OpenBatches without waiting for the disk, as
// SaveResult: visible to every read on return, durable with the next
// durable write or Close; a process crash loses none, a power cut may
// lose the last ones, whose entries are then taken again into new
// batches. For batches whose webhook-id does not depend on the batch (one
// event each: the event's id), so that a receiver still deduplicates.
func (s *Store) OpenBatchesLazy(f Fence, webhook ID, from, to Cursor, bs ...*Batch) error {
	return s.openBatches(f, webhook, from, to, true, bs)
}

func (s *Store) openBatches(f Fence, webhook ID, from, to Cursor, lazy bool, bs []*Batch) error {
	if err := s.fenced(f); err != nil {
		return err
	}
	last := to.event()
	if compareID(last, from.event()) < 0 {
		return fmt.Errorf("wal: OpenBatches: cursor to is before from")
	}
	vals := make([][]byte, len(bs))
	for i, b := range bs {
		if b.Version != 0 {
			return fmt.Errorf("wal: OpenBatches: batch %s is not new (version %d)", b.ID.Text("bat_"), b.Version)
		}
		if n := len(b.Events); n == 0 || compareID(b.Events[0].ID, from.event()) <= 0 || compareID(b.Events[n-1].ID, last) > 0 {
			return fmt.Errorf("wal: OpenBatches: batch %s holds entries outside (from, to]", b.ID.Text("bat_"))
		}
		nb := *b
		nb.Version = 1
		v, err := encodeBatch(&nb)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	if from == to && len(bs) == 0 {
		return nil
	}
	o := &op{weight: max(len(bs), 1), lazy: lazy, space: spaceDelivery}
	var indexed []ID
	o.after = func() {
		s.advanceCursor(webhook, last)
		for _, b := range bs {
			s.vers[b.ID] = 1
		}
		s.unidx.opened(webhook, bs, indexed)
	}
	o.apply = func(g *group) error {
		if g.cursor(webhook) != from.event() {
			return ErrConflict
		}
		// No o/ entries for bs: the floor stored with the cursor finds
		// them (openfloor.go).
		var floor ID
		floor, indexed = g.openFloor(webhook, bs)
		g.set(cursorKey(webhook), cursorValue(last, floor), 0)
		g.setCursor(webhook, last)
		for i, b := range bs {
			g.setVersion(b.ID, 1)
			g.set(batchKey(b.Tenant, b.WebhookID, b.ID), vals[i], 0)
			first, lastEv := b.Events[0].ID, b.Events[len(b.Events)-1].ID
			g.set(deliveryKey(b.Tenant, b.WebhookID, lastEv), deliveryValue(b.ID, first, lastEv), s.opts.Retention)
		}
		return nil
	}
	if err := s.submit(o); err != nil {
		return err
	}
	for _, b := range bs {
		b.Version = 1
	}
	return nil
}

func maxID(a, b ID) ID {
	if compareID(a, b) >= 0 {
		return a
	}
	return b
}

// SaveBatch stores the batch's new state and, when a is not nil, the
// attempt, together. A batch that is no longer open leaves the open index
// and, like its attempts, expires after the retention period.
//
// Batch writes are versioned: b.Version must be the stored version (as
// read by GetBatch, ListBatches or EachOpenBatch, or set by OpenBatches;
// 0 for a batch never stored), or nothing is written and the error is
// ErrConflict (another writer saved it since: read it again). On success
// the batch is stored at b.Version+1 and b.Version is set to that. f is
// the fence of the webhook's partition (ErrFenced).
func (s *Store) SaveBatch(f Fence, b *Batch, a *Attempt) error {
	return s.saveBatch(f, b, a, nil, false)
}

// SaveResult stores what an attempt did: SaveBatch plus the webhook's
// health when h is not nil, in the same commit. It returns once written,
// without waiting for the disk: a power cut may lose the last results
// (a process crash loses none), and their batches are then sent again
// under the same webhook-id, as a receiver that deduplicates expects.
func (s *Store) SaveResult(f Fence, b *Batch, a *Attempt, h *HookHealth) error {
	return s.saveBatch(f, b, a, h, true)
}

func (s *Store) saveBatch(f Fence, b *Batch, a *Attempt, h *HookHealth, lazy bool) error {
	if err := s.fenced(f); err != nil {
		return err
	}
	var ttl time.Duration
	if !b.Open() {
		ttl = s.opts.Retention
	}
	was := b.Version
	nb := *b
	nb.Version = was + 1
	bv, err := encodeBatch(&nb)
	if err != nil {
		return err
	}
	var av, hv []byte
	if a != nil {
		if av, err = marshalAttempt(a); err != nil {
			return err
		}
	}
	if h != nil {
		if hv, err = json.Marshal(h); err != nil {
			return err
		}
	}
	open := b.Open()
	o := &op{weight: 1, lazy: lazy, space: spaceDelivery}
	o.after = func() {
		if open {
			s.vers[nb.ID] = nb.Version
		} else {
			delete(s.vers, nb.ID) // read from the record if written again
		}
		delete(s.unidx.batches, nb.ID) // indexed now, or ended
	}
	o.apply = func(g *group) error {
		if v, err := g.version(&nb); err != nil {
			return err
		} else if v != was {
			return ErrConflict
		}
		g.setVersion(nb.ID, nb.Version)
		g.set(batchKey(b.Tenant, b.WebhookID, b.ID), bv, ttl)
		switch {
		case open:
			g.set(openKey(b.WebhookID, b.ID), []byte(b.Tenant), 0)
		case !g.unindexedNow(b.ID):
			g.del(openKey(b.WebhookID, b.ID))
		}
		if _, ok := s.unidx.batches[b.ID]; ok {
			g.settle(b.ID)
		}
		if a != nil {
			g.set(attemptKey(b.Tenant, b.ID, a.ID), av, ttl)
		}
		if h != nil {
			g.set(healthKey(b.WebhookID), hv, 0)
		}
		return nil
	}
	if err := s.submit(o); err != nil {
		return err
	}
	b.Version = nb.Version
	return nil
}

// version is batch b's stored version as this group leaves it so far:
// written by an earlier op of the group, by an earlier group since Open
// (s.vers, open batches only), or else as its record says (0: no record).
func (g *group) version(b *Batch) (uint64, error) {
	if v, ok := g.vers.get(b.ID); ok {
		return v, nil
	}
	if v, ok := g.s.vers[b.ID]; ok {
		return v, nil
	}
	item, err := g.snapshot().Get(batchKey(b.Tenant, b.WebhookID, b.ID))
	if err == badger.ErrKeyNotFound {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var rec Batch
	err = item.Value(func(v []byte) error { return unmarshalBatch(v, &rec) })
	return rec.Version, err
}

// setVersion records, within this group, that batch id is now at v
// (undone on rollback).
func (g *group) setVersion(id ID, v uint64) { g.vers.set(id, v) }

func decodeBatch(item *badger.Item, tenant string) (*Batch, error) {
	k := item.Key()
	b := &Batch{Tenant: tenant}
	copy(b.WebhookID[:], k[len(k)-32:len(k)-16])
	copy(b.ID[:], k[len(k)-16:])
	err := item.Value(func(v []byte) error { return unmarshalBatch(v, b) })
	return b, err
}

// GetBatch reads one batch of a webhook of tenant.
func (s *Store) GetBatch(tenant string, webhook, id ID) (*Batch, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	var b *Batch
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(batchKey(tenant, webhook, id))
		if err != nil {
			return err
		}
		b, err = decodeBatch(item, tenant)
		return err
	})
	return b, translate(err)
}

// ListBatches returns up to limit batches of a webhook for which keep
// returns true, newest first, starting after the batch `after` (zero: from
// the newest), and whether more may follow.
func (s *Store) ListBatches(tenant string, webhook, after ID, limit int, keep func(*Batch) bool) ([]*Batch, bool, error) {
	if err := s.readable(); err != nil {
		return nil, false, err
	}
	pfx := append(tenantKey(pfxBatch, tenant, 16), webhook[:]...)
	var out []*Batch
	more := false
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx, Reverse: true, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		seek := append(append([]byte(nil), pfx...), bytes.Repeat([]byte{0xFF}, 17)...)
		if !after.IsZero() {
			seek = append(append([]byte(nil), pfx...), after[:]...)
		}
		for it.Seek(seek); it.ValidForPrefix(pfx); it.Next() {
			b, err := decodeBatch(it.Item(), tenant)
			if err != nil {
				return err
			}
			if b.ID == after || (keep != nil && !keep(b)) {
				continue
			}
			if len(out) == limit {
				more = true
				return nil
			}
			out = append(out, b)
		}
		return nil
	})
	return out, more, translate(err)
}

// GetAttempt reads one attempt.
func (s *Store) GetAttempt(tenant string, batch, id ID) (*Attempt, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	a := &Attempt{ID: id, BatchID: batch, Tenant: tenant}
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(attemptKey(tenant, batch, id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, a) })
	})
	if err != nil {
		return nil, translate(err)
	}
	return a, nil
}

// ListAttempts returns up to limit attempts of a batch, oldest first, after
// the attempt `after`, and whether more follow.
func (s *Store) ListAttempts(tenant string, batch, after ID, limit int) ([]*Attempt, bool, error) {
	if err := s.readable(); err != nil {
		return nil, false, err
	}
	pfx := append(tenantKey(pfxAttempt, tenant, 16), batch[:]...)
	var out []*Attempt
	more := false
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx, PrefetchValues: true, PrefetchSize: 50})
		defer it.Close()
		seek := pfx
		if !after.IsZero() {
			seek = append(append(append([]byte(nil), pfx...), after[:]...), 0)
		}
		for it.Seek(seek); it.ValidForPrefix(pfx); it.Next() {
			if len(out) == limit {
				more = true
				return nil
			}
			a := &Attempt{BatchID: batch, Tenant: tenant}
			copy(a.ID[:], it.Item().Key()[len(pfx):])
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, a) }); err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, more, translate(err)
}

// EachOpenBatch calls fn for every open batch of partition p (at start,
// to rebuild the schedule), each with its Version. Only batches still
// pending or retrying are visited: those in the open index, then those at
// or above their webhook's open floor that it does not hold (openfloor.go).
func (s *Store) EachOpenBatch(p Part, fn func(*Batch) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	if p != (Part{}) {
		return nil
	}
	return translate(s.view(func(txn *badger.Txn) error {
		pfx := []byte{pfxOpen, '/'}
		indexed := map[ID]bool{}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.ValidForPrefix(pfx); it.Next() {
			k := it.Item().Key()
			if len(k) != 34 {
				continue
			}
			var wh, id ID
			copy(wh[:], k[2:18])
			copy(id[:], k[18:])
			var tenant string
			if err := it.Item().Value(func(v []byte) error { tenant = string(v); return nil }); err != nil {
				return err
			}
			item, err := txn.Get(batchKey(tenant, wh, id))
			if err != nil {
				return err
			}
			b, err := decodeBatch(item, tenant)
			if err != nil {
				return err
			}
			indexed[id] = true
			if !b.Open() {
				continue // an entry its end did not delete (none should be): the record decides
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		return s.eachUnindexed(txn, func(b *Batch) error {
			if indexed[b.ID] {
				return nil
			}
			return fn(b)
		})
	}))
}

// Delivery is one webhook's delivery of an event.
type Delivery struct {
	WebhookID, BatchID ID
	Status             string
}

// EventDeliveries lists the batches that carry an event, one per webhook
// (deleted webhooks' included), plus the webhooks whose queue still holds
// it (status "queued").
func (s *Store) EventDeliveries(tenant string, evt ID) ([]Delivery, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.cacheMu.RLock()
	tc := s.tenants[tenant]
	var hooks []ID
	if tc != nil {
		for _, w := range tc.all {
			hooks = append(hooks, w.ID)
		}
	}
	s.cacheMu.RUnlock()
	var out []Delivery
	err := s.view(func(txn *badger.Txn) error {
		seen := map[ID]bool{}
		// Every webhook of the tenant that has batches: two seeks each,
		// one to the batch that may carry evt, one to the next webhook.
		pfx := tenantKey(pfxDelivery, tenant, 48)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pfx})
		defer it.Close()
		seek := make([]byte, 0, len(pfx)+33)
		for it.Seek(pfx); it.ValidForPrefix(pfx); {
			k := it.Item().Key()
			if len(k) != len(pfx)+32 {
				it.Next()
				continue
			}
			var wh ID
			copy(wh[:], k[len(pfx):])
			seek = append(append(append(seek[:0], pfx...), wh[:]...), evt[:]...)
			it.Seek(seek)
			if it.ValidForPrefix(seek[:len(pfx)+16]) {
				d, ok, err := batchOf(txn, it.Item(), tenant, wh, evt)
				if err != nil {
					return err
				}
				if ok {
					out = append(out, d)
					seen[wh] = true
				}
			}
			seek = append(append(append(seek[:0], pfx...), wh[:]...), allFF[:]...)
			it.Seek(append(seek, 0)) // past every key of wh
		}
		for _, wh := range hooks {
			if seen[wh] {
				continue
			}
			if q, err := isQueued(txn, wh, s.cursor(wh), evt); err != nil {
				return err
			} else if q {
				out = append(out, Delivery{WebhookID: wh, Status: "queued"})
			}
		}
		return nil
	})
	return out, translate(err)
}

var allFF = ID{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

// batchOf reads the d/ entry item, the first of webhook wh whose last event
// is at or after evt, and reports its batch if the batch carries evt.
func batchOf(txn *badger.Txn, item *badger.Item, tenant string, wh, evt ID) (Delivery, bool, error) {
	d := Delivery{WebhookID: wh}
	var first ID
	if err := item.Value(func(v []byte) error {
		switch len(v) {
		case 16: // a batch of one event
			first = keyID(item.Key())
		case 32:
			copy(first[:], v[16:])
		default:
			return errCorrupt
		}
		copy(d.BatchID[:], v[:16])
		return nil
	}); err != nil {
		return d, false, err
	}
	if compareID(first, evt) > 0 {
		return d, false, nil
	}
	bi, err := txn.Get(batchKey(tenant, wh, d.BatchID))
	if err == badger.ErrKeyNotFound {
		return d, false, nil // its retention ended
	}
	if err != nil {
		return d, false, err
	}
	b, err := decodeBatch(bi, tenant)
	if err != nil {
		return d, false, err
	}
	for _, e := range b.Events {
		if e.ID == evt {
			d.Status = b.Status
			return d, true, nil
		}
	}
	return d, false, nil // in the batch's range, not for this webhook
}

// cursor returns the last consumed queue entry of webhook (zero: none).
func (s *Store) cursor(webhook ID) ID {
	s.cursorMu.Lock()
	defer s.cursorMu.Unlock()
	return s.cursors[webhook]
}

// advanceCursor records that every queue entry of webhook up to and
// including id is consumed.
func (s *Store) advanceCursor(webhook, id ID) {
	s.cursorMu.Lock()
	defer s.cursorMu.Unlock()
	if compareID(id, s.cursors[webhook]) > 0 {
		s.cursors[webhook] = id
	}
}
