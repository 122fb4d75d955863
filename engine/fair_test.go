package engine

import (
	"encoding/binary"
	"testing"
	"time"

	"hookd/wal"
)

func fairID(n int) wal.ID {
	var id wal.ID
	binary.BigEndian.PutUint64(id[8:], uint64(n))
	return id
}

func TestFairShare(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ok := func(h *hook) { h.lastSuccess = t0 }
	tests := []struct {
		name      string
		n         int
		ordered   bool
		set       func(h *hook)
		wantLimit int
		wantGood  bool
	}{
		{"new", 64, false, nil, 8, false},
		{"a success", 64, false, ok, 48, true},
		{"a failure since", 64, false, func(h *hook) { ok(h); h.failures, h.lastFailure = 1, t0.Add(time.Second) }, 8, false},
		{"reactivated after failing", 64, false, func(h *hook) { ok(h); h.lastFailure = t0.Add(time.Second) }, 8, false},
		{"unhealthy", 64, false, func(h *hook) { h.failures = 5 }, 1, false},
		{"ordered", 64, true, ok, 1, true},
		{"small pool, new", 4, false, nil, 1, false},
		{"small pool, good", 4, false, ok, 3, true},
		{"one slot, good", 1, false, ok, 1, true},
		{"one slot, new", 1, false, nil, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCore(CoreOptions{MaxInFlight: tt.n})
			h := &hook{cfg: HookConfig{Ordered: tt.ordered}}
			if tt.set != nil {
				tt.set(h)
			}
			limit, good := c.share(h)
			if limit != tt.wantLimit || good != tt.wantGood {
				t.Errorf("share = %d, %v; want %d, %v", limit, good, tt.wantLimit, tt.wantGood)
			}
		})
	}
}

func TestFairRoom(t *testing.T) {
	tests := []struct {
		n, inFlight int
		good, want  bool
	}{
		{64, 47, false, true},
		{64, 48, false, false}, // the last 16 are kept for good standing
		{64, 48, true, true},
		{64, 63, true, true},
		{64, 64, true, false},
		{2, 1, false, true}, // no slot kept below 4
		{2, 2, true, false},
	}
	for _, tt := range tests {
		c := NewCore(CoreOptions{MaxInFlight: tt.n})
		if got := c.room(&dest{inFlight: tt.inFlight}, tt.good); got != tt.want {
			t.Errorf("N=%d, %d in flight, good %v: room = %v; want %v", tt.n, tt.inFlight, tt.good, got, tt.want)
		}
	}
}

// TestFairOffer: a freed slot goes to the waiting webhook that asked
// first, among those the rule admits now; one that lost its standing
// while it waited joins the others' line.
func TestFairOffer(t *testing.T) {
	c := NewCore(CoreOptions{MaxInFlight: 8}) // R = 2: the others may fill 6
	t0 := time.Unix(1000, 0)
	good, bad, fallen := fairID(1), fairID(2), fairID(3)
	for _, id := range []wal.ID{good, bad, fallen} {
		c.SetHook(HookConfig{ID: id, Active: true, Dest: "d"})
	}
	c.hooks[good].lastSuccess, c.hooks[fallen].lastSuccess = t0, t0
	d := c.dest("d")
	d.inFlight = 8
	d.wait(bad, false)
	d.wait(fallen, true)
	d.wait(good, true)
	c.hooks[fallen].failures, c.hooks[fallen].lastFailure = 1, t0.Add(time.Second)

	d.inFlight = 7 // one free, a kept one: bad waits; fallen lost its standing
	c.offer(d)
	if d.reserved[good] != 1 || d.reserved[bad] != 0 || d.reserved[fallen] != 0 || d.inFlight != 8 {
		t.Fatalf("reserved %v, in flight %d; want the slot for the good one", d.reserved, d.inFlight)
	}
	if len(d.rest) != 2 || d.rest[0].id != bad || d.rest[1].id != fallen || len(d.good) != 0 {
		t.Fatalf("lines good %v rest %v; want rest = bad, fallen", d.good, d.rest)
	}
	d.inFlight = 4 // two general slots free: in the order they asked
	c.offer(d)
	if d.reserved[bad] != 1 || d.reserved[fallen] != 1 || d.inFlight != 6 {
		t.Fatalf("reserved %v, in flight %d; want one each for bad and fallen", d.reserved, d.inFlight)
	}
}

// TestFairHangingNeighbours is the starvation case on a fake clock: 200
// webhooks whose endpoint hangs (their attempts never end) and one in
// good standing share a destination of 64 slots. Each of the healthy
// webhook's events is sent at once, while the hanging ones never hold
// more than 48 slots.
func TestFairHangingNeighbours(t *testing.T) {
	c := NewCore(CoreOptions{MaxInFlight: 64})
	now := time.Unix(1000, 0)
	healthy := fairID(0)
	ids := []wal.ID{healthy}
	for i := 1; i <= 200; i++ {
		ids = append(ids, fairID(i))
	}
	for _, id := range ids {
		c.SetHook(HookConfig{ID: id, Active: true, MaxBatchSize: 1, Dest: "https://saas:443"})
	}
	c.RestoreHealth(healthy, wal.HookHealth{LastSuccess: now})
	var seq int
	open := func(acts []Action) (sends []Action) {
		for _, a := range acts {
			switch a.Kind {
			case ActOpen:
				var states []BatchState
				for range a.Count {
					seq++
					var b wal.ID
					b[0] = 1
					binary.BigEndian.PutUint64(b[8:], uint64(seq))
					states = append(states, BatchState{ID: b, Hook: a.Hook, MaxAttempts: 3, NextAttemptAt: now})
				}
				c.Opened(now, a.Hook, states, a.Count*a.Size, a.Count*a.Size, time.Time{})
			case ActSend:
				sends = append(sends, a)
			}
		}
		return sends
	}
	step := func() (sends []Action) {
		for {
			s := open(c.Step(now))
			sends = append(sends, s...)
			if w, ok := c.NextWake(); !ok || !w.IsZero() {
				return sends
			}
		}
	}
	for _, id := range ids[1:] {
		c.Queued(now, id, 3, now)
	}
	hanging := len(step())
	if hanging != 48 {
		t.Fatalf("hanging webhooks have %d attempts in flight; want 48 (64 − 64/4)", hanging)
	}
	for i := range 100 {
		now = now.Add(10 * time.Millisecond)
		c.Queued(now, healthy, 1, now)
		sends := step()
		if len(sends) != 1 || sends[0].Hook != healthy {
			t.Fatalf("event %d of the healthy webhook: sends %+v; want one of it", i, sends)
		}
		c.Result(now, sends[0].Batch, Verdict{Kind: Done}, true)
		if more := step(); len(more) != 0 {
			t.Fatalf("after the healthy delivery %d: %d more sends; the hanging ones hold 48 already", i, len(more))
		}
	}
}
