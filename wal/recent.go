package wal

import (
	"sync"
	"time"
)

// recent keeps the last events that fanned out to a webhook, once their
// commit has returned, so that the engine opening their batches a few
// milliseconds later does not read them back from Badger. It is bounded by
// bytes and forgets the oldest first; a miss is only slower.
//
// It holds two generations: events are added to cur, and when cur has
// half the bound it becomes old and the previous old is dropped whole. So
// the cache keeps between half and all of its bound of the latest events,
// and no event is ever deleted from a map one by one: a map that took an
// insert and a delete for every event spent most of the cache's time
// probing past deleted slots (~3% of hookd's CPU delivering 25,000
// single events/s; BenchmarkRecent).
type recent struct {
	mu       sync.RWMutex
	half     int64 // each generation's bound: half the cache's
	cur, old map[ID]*Event
	size     int64 // cur's bytes
}

// recentBytes bounds the cache: at 100,000 events/s of ~300 bytes it holds
// the last few hundred milliseconds, which is what a delivery that keeps up
// needs.
const recentBytes = 16 << 20

func newRecent(max int64) *recent {
	return &recent{half: max / 2, cur: map[ID]*Event{}}
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
		n := recentSize(e)
		if n > r.half {
			continue // larger than a generation: never cached
		}
		if r.size+n > r.half {
			r.old, r.cur, r.size = r.cur, make(map[ID]*Event, len(r.cur)), 0
		}
		r.cur[e.ID] = e
		r.size += n
	}
}

// get returns a copy of the cached event of tenant, if it is cached and
// its retention has not ended.
func (r *recent) get(tenant string, id ID, now time.Time, retention time.Duration) (*Event, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	e, ok := r.cur[id]
	if !ok {
		e, ok = r.old[id]
	}
	r.mu.RUnlock()
	if !ok || e.Tenant != tenant || !now.Before(e.CreatedAt.Add(retention)) {
		return nil, false
	}
	c := *e
	return &c, true
}
