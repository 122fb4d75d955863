package wal

import (
	"context"
	"errors"
)

// The store boundary's vocabulary: partitions and their claims, fences,
// opaque queue cursors and versioned batches. The engine speaks it (the
// contract is engine/storetest's package doc); this store is its one-node
// implementation, in which every webhook is in one partition, held by this
// process from Open to Close.

// Part names a partition of the webhooks: the unit of work one node
// delivers. A store assigns every webhook to one (PartOf).
type Part struct{ Shard, Slot uint16 }

// Fence proves a claim is still held. Delivery writes carry the fence of
// the webhook's partition and fail with ErrFenced once it is not valid: a
// node that lost a partition cannot write over the node that took it.
type Fence interface{ Valid() bool }

// Claim hands a partition to the engine: deliver its webhooks, with Fence
// on every delivery write, until Lost is closed (nil: never).
type Claim struct {
	Part  Part
	Fence Fence
	Lost  <-chan struct{}
}

// PartState is what the engine loads when it takes a partition: its
// webhooks (copies, in ID order) and the stored health of those that have
// one. Cursors are read per webhook (Cursor); open batches are streamed
// (EachOpenBatch).
type PartState struct {
	Webhooks []*Webhook
	Health   map[ID]HookHealth
}

// Cursor marks a place in one webhook's queue: the last entry consumed,
// or, in a Queued, the place just after an entry. It is opaque: the store
// makes and reads it (this one keeps the entry's event ID in it; a
// stream-backed store, a sequence number), the engine only keeps it,
// compares it for equality and hands it back. The zero Cursor is the
// start of a queue, before every entry.
type Cursor struct{ b [16]byte }

// CursorFrom makes a cursor of up to 16 bytes (a backend's own position);
// longer input is cut. Bytes gives them back, 16 of them.
func CursorFrom(b []byte) Cursor {
	var c Cursor
	copy(c.b[:], b)
	return c
}

// Bytes returns the cursor's 16 bytes.
func (c Cursor) Bytes() []byte { return append([]byte(nil), c.b[:]...) }

// IsZero reports whether c is the start of a queue.
func (c Cursor) IsZero() bool { return c == Cursor{} }

func cursorAt(id ID) Cursor { return Cursor{b: id} }
func (c Cursor) event() ID  { return ID(c.b) }

// Queued is one entry of a webhook's queue: the event, and the cursor
// that consuming it (and everything before it) leaves.
type Queued struct {
	Event ID
	At    Cursor
}

// ErrFenced: a delivery write carried the fence of a claim no longer held
// (or none); nothing was written.
var ErrFenced = errors.New("wal: partition not held by this node")

// held is this store's fence: valid while the store is open.
type held struct{ s *Store }

func (h held) Valid() bool { return h.s != nil && h.s.readable() == nil }

// fenced checks a delivery write's fence.
func (s *Store) fenced(f Fence) error {
	if h, ok := f.(held); !ok || h.s != s {
		return ErrFenced
	}
	return nil
}

// Claims hands out this store's one partition, Part{}, at once (the
// channel holds it when Claims returns) and never takes it back: Lost is
// nil. The channel closes when ctx ends.
func (s *Store) Claims(ctx context.Context) <-chan Claim {
	ch := make(chan Claim, 1)
	ch <- Claim{Part: Part{}, Fence: held{s}}
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

// PartOf returns the partition of a webhook: Part{} for every one here.
func (s *Store) PartOf(tenant string, webhook ID) Part { return Part{} }

// LoadPart returns the webhooks of partition p and their stored health.
func (s *Store) LoadPart(p Part) (PartState, error) {
	if p != (Part{}) {
		return PartState{}, ErrNotFound
	}
	st := PartState{Webhooks: s.Webhooks(), Health: map[ID]HookHealth{}}
	for _, w := range st.Webhooks {
		h, ok, err := s.Health(w.ID)
		if err != nil {
			return PartState{}, err
		}
		if ok {
			st.Health[w.ID] = h
		}
	}
	return st, nil
}

// Cursor returns webhook's stored queue cursor: where the next OpenBatches
// of it must start (zero: nothing consumed yet).
func (s *Store) Cursor(webhook ID) (Cursor, error) {
	if err := s.readable(); err != nil {
		return Cursor{}, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return Cursor{}, ErrClosed
	}
	return cursorAt(s.cursor(webhook)), nil
}
