package engine

import "hookd/wal"

// Fair sharing of a destination. Webhooks whose URLs share a destination
// (scheme://host:port) share its MaxInFlight slots, N, as they share the
// dispatcher's connections there; many tenants' webhooks often point at
// one SaaS host. So that webhooks whose endpoints hang or fail cannot
// take the slots of the healthy ones there:
//
//   - A quarter of the slots, R = N/4 (rounded down), is kept for webhooks
//     in good standing: their last attempt succeeded (a success, and no
//     failure since). A webhook earns it with a success: a new one (or, after
//     a restart, one whose stored health shows no success since its last
//     failure) starts outside it.
//   - A webhook in good standing may use any free slot, up to N − R at a
//     time, so R slots are always left to the others.
//   - Any other webhook may take a slot only while fewer than N − R
//     attempts are in flight at the destination, and holds at most
//     C = max(1, N/8) at a time (an unhealthy one holds 1: a probe).
//
// So hanging or failing webhooks, however many, hold at most N − R slots
// of a destination, and a webhook in good standing finds a slot within
// the time a good-standing attempt there takes. A webhook that turns bad
// while in good standing holds at most N − R until its attempts fail.
//
// When a slot frees, it goes to the webhooks waiting at the destination in
// the order they asked, skipping those the rule does not admit now: two
// lines, one per standing, merged by arrival.
//
// The rule is a pure function of the core's counters; no clock or I/O.

// reserve is R: the slots of a destination kept for good standing.
func (c *Core) reserve() int { return c.opts.MaxInFlight / 4 }

// share returns how many attempts h may have in flight and whether it is
// in good standing.
func (c *Core) share(h *hook) (limit int, good bool) {
	n := c.opts.MaxInFlight
	good = h.failures == 0 && !h.lastSuccess.IsZero() && !h.lastFailure.After(h.lastSuccess)
	switch {
	case h.cfg.Ordered || h.failures >= c.opts.UnhealthyAfter:
		return 1, good // ordered: one in flight; unhealthy: one probe, not a storm
	case good:
		return n - c.reserve(), true
	default:
		return max(1, n/8), false
	}
}

// room reports whether d has a slot free for a webhook of this standing.
func (c *Core) room(d *dest, good bool) bool {
	if good {
		return d.inFlight < c.opts.MaxInFlight
	}
	return d.inFlight < c.opts.MaxInFlight-c.reserve()
}

// dest is one destination's shared in-flight count and the webhooks that
// wait for a free slot there. A slot offered to a waiting webhook is
// reserved for it (counted in inFlight) until its next step uses or
// returns it.
type dest struct {
	inFlight int
	good     []waiter        // waiting, in good standing when they asked
	rest     []waiter        // waiting, the others
	queued   map[wal.ID]bool // in line; true: in good
	seq      uint64
	reserved map[wal.ID]int
}

type waiter struct {
	id  wal.ID
	seq uint64 // arrival order across both lines
}

func (c *Core) dest(name string) *dest {
	d := c.dests[name]
	if d == nil {
		d = &dest{queued: map[wal.ID]bool{}, reserved: map[wal.ID]int{}}
		c.dests[name] = d
	}
	return d
}

// wait puts a webhook in line for a slot at d, in the line of its
// standing. One already in the other line moves to the back of this one.
func (d *dest) wait(id wal.ID, good bool) {
	if in, ok := d.queued[id]; ok {
		if in == good {
			return
		}
		line := &d.rest
		if in {
			line = &d.good
		}
		for i, w := range *line {
			if w.id == id {
				*line = append((*line)[:i], (*line)[i+1:]...)
				break
			}
		}
	}
	d.seq++
	if good {
		d.good = append(d.good, waiter{id, d.seq})
	} else {
		d.rest = append(d.rest, waiter{id, d.seq})
	}
	d.queued[id] = good
}

// release returns the slots reserved for id that it did not use.
func (c *Core) release(d *dest, id wal.ID) {
	if n := d.reserved[id]; n > 0 {
		d.inFlight -= n
		delete(d.reserved, id)
	}
}

// offer reserves each free slot at d for the next waiting webhook the
// rule admits, and touches it so that its next step uses the slot.
func (c *Core) offer(d *dest) {
	for d.inFlight < c.opts.MaxInFlight {
		fromGood := len(d.good) > 0
		if len(d.rest) > 0 && c.room(d, false) && (!fromGood || d.rest[0].seq < d.good[0].seq) {
			fromGood = false
		} else if !fromGood {
			return // nobody waits, or only those the general slots are closed to
		}
		var w waiter
		if fromGood {
			w, d.good = d.good[0], d.good[1:]
		} else {
			w, d.rest = d.rest[0], d.rest[1:]
		}
		delete(d.queued, w.id)
		h := c.hooks[w.id]
		if h == nil {
			continue
		}
		limit, good := c.share(h)
		if fromGood && !good {
			d.wait(w.id, false) // lost its standing while it waited
			continue
		}
		if h.inFlight+d.reserved[w.id] >= limit {
			continue // holds its share; its next result touches it
		}
		d.inFlight++
		d.reserved[w.id]++
		c.touch(w.id)
	}
}
