package engine

import (
	"sync"
	"time"

	"hookd/wal"
)

// inbox is where news for the engine's loop waits: the store's fan-out
// notifications (new queue entries, told on the store's committer
// goroutine) and the engine's own open retries. Like nats-server's
// ipQueue it is a slice under a mutex plus a one-slot signal channel, and
// the loop drains it whole. push only appends and signals: it takes no
// engine lock and runs no engine code, so the store's goroutine never
// waits for the engine, and the two packages' locks are not coupled.
//
// It is bounded by the number of webhooks, never by events or commits: a
// webhook already waiting in the inbox gets the new count added to its
// entry, which keeps the time of the first.
type inbox struct {
	mu    sync.Mutex
	items []queuedNote
	index map[wal.ID]int // webhook → its entry in items
	ch    chan struct{}  // one slot: something is waiting
}

// queuedNote says that n more events wait in a webhook's queue since at.
type queuedNote struct {
	hook wal.ID
	n    int
	at   time.Time
}

func newInbox() *inbox {
	return &inbox{index: map[wal.ID]int{}, ch: make(chan struct{}, 1)}
}

// push adds the counts (which it does not keep), queued at at, and
// signals the loop.
func (q *inbox) push(at time.Time, counts map[wal.ID]int) {
	q.mu.Lock()
	for id, n := range counts {
		if n <= 0 {
			continue
		}
		if i, ok := q.index[id]; ok {
			q.items[i].n += n
			continue
		}
		q.index[id] = len(q.items)
		q.items = append(q.items, queuedNote{hook: id, n: n, at: at})
	}
	q.mu.Unlock()
	select {
	case q.ch <- struct{}{}:
	default:
	}
}

// drain returns everything waiting, in arrival order, and empties the
// inbox; spare (emptied) is the slice it fills next.
func (q *inbox) drain(spare []queuedNote) []queuedNote {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = spare[:0]
	clear(q.index)
	return out
}

// signal is ready when something was pushed since the last receive.
func (q *inbox) signal() <-chan struct{} { return q.ch }
