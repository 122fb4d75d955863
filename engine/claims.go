package engine

import (
	"go.uber.org/zap"

	"hookd/wal"
)

// Work arrives by partition (Store.Claims): the engine delivers the
// webhooks of the partitions it holds, with the claim's fence on every
// delivery write, and lets a partition go when its claim is lost. The
// Badger store has one partition, claimed from Start to Close.

// partHeld is a claimed partition: the fence its writes carry and the
// stop of its fan-out notifications.
type partHeld struct {
	fence wal.Fence
	stop  func()
}

// fenceLocked is the fence of the partition webhook id of tenant belongs
// to, nil when this engine does not hold it. e.mu is held.
func (e *Engine) fenceLocked(tenant string, id wal.ID) wal.Fence {
	if p := e.parts[e.store.PartOf(tenant, id)]; p != nil {
		return p.fence
	}
	return nil
}

// fence is fenceLocked taking e.mu.
func (e *Engine) fence(tenant string, id wal.ID) wal.Fence {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fenceLocked(tenant, id)
}

// claim takes a partition: it listens to its fan-out first (what is
// appended while it loads is either seen by the peeks below or waits in
// the inbox; an entry counted twice is corrected by the open that finds
// fewer), loads its webhooks, what waits in their queues and its open
// batches, and watches for the claim's loss. It reads the store without
// holding the engine's lock.
func (e *Engine) claim(c wal.Claim) error {
	now := e.clock.Now()
	stop := e.store.OnQueued(c.Part, func(counts map[wal.ID]int) { e.inbox.push(e.clock.Now(), counts) })
	e.mu.Lock()
	e.parts[c.Part] = &partHeld{fence: c.Fence, stop: stop}
	e.mu.Unlock()
	st, err := e.store.LoadPart(c.Part)
	if err != nil {
		e.release(c.Part)
		return err
	}
	queued := make([][]wal.Queued, len(st.Webhooks))
	for i, w := range st.Webhooks {
		if queued[i], err = e.store.PeekQueue(w.ID, wal.Cursor{}, max(w.MaxBatchSize, 1)+1); err != nil {
			e.release(c.Part)
			return err
		}
	}
	var open []BatchState // bounded: at most MaxOpen per webhook
	if err := e.store.EachOpenBatch(c.Part, func(b *wal.Batch) error {
		open = append(open, stateOf(b, now))
		return nil
	}); err != nil {
		e.release(c.Part)
		return err
	}
	e.mu.Lock()
	for i, w := range st.Webhooks {
		if _, known := e.hooks[w.ID]; known {
			continue // changed while we loaded: WebhookChanged has the newer one
		}
		e.setHookLocked(w)
		if h, ok := st.Health[w.ID]; ok && w.IsActive {
			e.core.RestoreHealth(w.ID, h)
		}
		if q := queued[i]; len(q) > 0 {
			e.core.Queued(now, w.ID, len(q), q[0].Event.Time())
		}
	}
	for _, s := range open {
		e.core.Restore(s)
	}
	e.mu.Unlock()
	e.goDo(func() {
		select {
		case <-c.Lost:
			e.release(c.Part)
		case <-e.stopped:
		}
	})
	e.kick()
	return nil
}

// release lets partition p go: its webhooks leave the core (their open
// batches stay open in the store, for the partition's next holder), its
// notifications stop. Attempts in flight end without their result stored
// (the fence refuses it); the next holder sends those batches again.
func (e *Engine) release(p wal.Part) {
	e.mu.Lock()
	held := e.parts[p]
	delete(e.parts, p)
	n := 0
	for id, w := range e.hooks {
		if e.store.PartOf(w.Tenant, id) != p {
			continue
		}
		e.core.RemoveHook(id)
		delete(e.hooks, id)
		delete(e.taken, id)
		n++
	}
	for id, f := range e.fresh {
		if e.hooks[f.batch.WebhookID] == nil {
			delete(e.fresh, id)
			e.freshN -= f.size
		}
	}
	e.mu.Unlock()
	if held != nil {
		held.stop()
	}
	e.log.Info("engine: partition released", zap.Uint16("shard", p.Shard), zap.Uint16("slot", p.Slot), zap.Int("webhooks", n))
}
