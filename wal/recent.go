package wal

import (
	"sync"
	"time"
)

// recent keeps the last events that fanned out to a webhook, once their
// commit has returned, so that the engine opening their batches a few
// milliseconds later does not read them back from Badger. It is bounded by
// bytes and forgets the oldest first; a miss is only slower.
type recent struct {
	mu   sync.RWMutex
	max  int64
	size int64
	fifo []*Event // oldest first, from head
	head int
	byID map[ID]*Event
}

// recentBytes bounds the cache: at 100,000 events/s of ~300 bytes it holds
// the last few hundred milliseconds, which is what a delivery that keeps up
// needs.
const recentBytes = 16 << 20

func newRecent(max int64) *recent {
	return &recent{max: max, byID: map[ID]*Event{}}
}

func recentSize(e *Event) int64 { return int64(len(e.Data)+len(e.Type)+len(e.Key)) + 160 }

// add caches committed events (the cache keeps them; nobody may change them).
func (r *recent) add(evs []*Event) {
	if r == nil || len(evs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.fifo = append(r.fifo, e)
		r.byID[e.ID] = e
		r.size += recentSize(e)
	}
	for r.size > r.max && r.head < len(r.fifo) {
		old := r.fifo[r.head]
		r.fifo[r.head] = nil
		r.head++
		delete(r.byID, old.ID)
		r.size -= recentSize(old)
	}
	if r.head > len(r.fifo)/2 {
		r.fifo = append(r.fifo[:0], r.fifo[r.head:]...)
		r.head = 0
	}
}

// get returns a copy of the cached event of tenant, if it is cached and
// its retention has not ended.
func (r *recent) get(tenant string, id ID, now time.Time, retention time.Duration) (*Event, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	e, ok := r.byID[id]
	r.mu.RUnlock()
	if !ok || e.Tenant != tenant || !now.Before(e.CreatedAt.Add(retention)) {
		return nil, false
	}
	c := *e
	return &c, true
}
