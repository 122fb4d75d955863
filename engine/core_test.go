package engine

import (
	"testing"
	"time"

	"hookd/wal"
)

func TestCoreNextWake(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	wh1, wh2 := wal.ID{1}, wal.ID{2}
	hook := func(c *Core, id wal.ID, size int, delay time.Duration) {
		c.SetHook(HookConfig{ID: id, Active: true, MaxBatchSize: size, MaxBatchTimeDelay: delay})
	}
	batch := func(c *Core, id wal.ID, n byte, next time.Time) {
		c.Restore(BatchState{ID: wal.ID{9, n}, Hook: id, MaxAttempts: 8, NextAttemptAt: next})
	}
	for _, tc := range []struct {
		name   string
		setup  func(c *Core)
		want   time.Duration // from t0
		wantOK bool
	}{
		{"empty core", func(c *Core) {}, 0, false},
		{"a new hook is dirty: step now", func(c *Core) { hook(c, wh1, 10, time.Second) }, 0, true},
		{"an idle hook after a step", func(c *Core) { hook(c, wh1, 10, time.Second); c.Step(t0) }, 0, false},
		{"queued, not stepped yet", func(c *Core) {
			hook(c, wh1, 10, time.Second)
			c.Step(t0)
			c.Queued(t0, wh1, 3, time.Time{})
		}, 0, true},
		{"a partial batch waits for the delay", func(c *Core) {
			hook(c, wh1, 10, 250*time.Millisecond)
			c.Queued(t0, wh1, 3, time.Time{})
			c.Step(t0)
		}, 250 * time.Millisecond, true},
		{"the delay runs from the oldest event", func(c *Core) {
			hook(c, wh1, 10, time.Minute)
			c.Queued(t0, wh1, 3, t0.Add(-40*time.Second))
			c.Step(t0)
		}, 20 * time.Second, true},
		{"a batch's next attempt", func(c *Core) {
			hook(c, wh1, 1, 0)
			batch(c, wh1, 1, t0.Add(time.Hour))
			c.Step(t0)
		}, time.Hour, true},
		{"the earliest of two hooks", func(c *Core) {
			hook(c, wh1, 1, 0)
			batch(c, wh1, 1, t0.Add(time.Hour))
			hook(c, wh2, 10, 5*time.Second)
			c.Queued(t0, wh2, 1, time.Time{})
			c.Step(t0)
		}, 5 * time.Second, true},
		{"in flight: only a result makes work", func(c *Core) {
			hook(c, wh1, 1, 0)
			batch(c, wh1, 1, t0)
			c.Step(t0)
		}, 0, false},
		{"a result is dirty", func(c *Core) {
			hook(c, wh1, 1, 0)
			batch(c, wh1, 1, t0)
			c.Step(t0)
			c.Result(t0, wal.ID{9, 1}, Verdict{Kind: Retry}, true)
		}, 0, true},
		{"a retry waits on the schedule", func(c *Core) {
			hook(c, wh1, 1, 0)
			batch(c, wh1, 1, t0)
			c.Step(t0)
			c.Result(t0, wal.ID{9, 1}, Verdict{Kind: Retry}, true)
			c.Step(t0)
		}, 5 * time.Second, true},
		{"backpressure: again in 50ms", func(c *Core) {
			hook(c, wh1, 1, 0)
			batch(c, wh1, 1, t0)
			c.Step(t0)
			c.Result(t0, wal.ID{9, 1}, Verdict{Kind: Retry, Class: ClassBackpressure}, false)
			c.Step(t0)
		}, 50 * time.Millisecond, true},
		{"a rate limit spaces sends", func(c *Core) {
			c.SetHook(HookConfig{ID: wh1, Active: true, MaxBatchSize: 1, RateLimit: 4})
			batch(c, wh1, 1, t0)
			batch(c, wh1, 2, t0)
			c.Step(t0)
		}, 250 * time.Millisecond, true},
		{"an inactive hook never wakes", func(c *Core) {
			c.SetHook(HookConfig{ID: wh1, Active: false, MaxBatchSize: 10, MaxBatchTimeDelay: time.Second})
			c.Queued(t0, wh1, 3, time.Time{})
			batch(c, wh1, 1, t0.Add(time.Minute))
			c.Step(t0)
		}, 0, false},
		{"a wake that came is gone", func(c *Core) {
			hook(c, wh1, 1, 0)
			batch(c, wh1, 1, t0.Add(time.Minute))
			c.Step(t0)
			c.Step(t0.Add(time.Minute)) // sends it
		}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCore(CoreOptions{})
			tc.setup(c)
			got, ok := c.NextWake()
			want := time.Time{}
			if tc.wantOK && tc.want > 0 {
				want = t0.Add(tc.want)
			}
			if !got.Equal(want) || ok != tc.wantOK {
				t.Errorf("NextWake() = %v, %v; want %v, %v", got, ok, want, tc.wantOK)
			}
		})
	}
}

// TestCoreOverlappingOpens: once an open has read the queue (Took), the
// next open may start before the first one's commit returns (Added), and
// batches still committing count against MaxOpen.
func TestCoreOverlappingOpens(t *testing.T) {
	c := NewCore(CoreOptions{MaxInFlight: 2, MaxOpen: 4})
	var id wal.ID
	id[0] = 1
	now := time.Unix(1000, 0)
	c.SetHook(HookConfig{ID: id, Active: true, MaxBatchSize: 1})
	c.RestoreHealth(id, wal.HookHealth{LastSuccess: now}) // good standing: both slots (fair.go)
	c.Queued(now, id, 10, now)
	acts := c.Step(now)
	if len(acts) != 1 || acts[0].Kind != ActOpen || acts[0].Count != 4 {
		t.Fatalf("first step = %+v, want one open of 4", acts)
	}
	if acts := c.Step(now); len(acts) != 0 {
		t.Fatalf("while the queue is being read: %+v, want nothing", acts)
	}
	c.Took(now, id, 4, 4, 4, now)
	if acts := c.Step(now); len(acts) != 0 {
		t.Fatalf("4 committing of MaxOpen 4: %+v, want nothing", acts)
	}
	var states []BatchState
	for i := range 4 {
		var b wal.ID
		b[0], b[15] = 2, byte(i)
		states = append(states, BatchState{ID: b, Hook: id, MaxAttempts: 3, NextAttemptAt: now})
	}
	c.Added(id, states[:2], 2) // a partial view: 2 stored, 2 still committing
	acts = c.Step(now)
	sends := 0
	for _, a := range acts {
		if a.Kind == ActSend {
			sends++
		}
		if a.Kind == ActOpen {
			t.Fatalf("open with 2 open + 2 committing (low-water 2): %+v", a)
		}
	}
	if sends != 2 {
		t.Fatalf("sends = %d, want 2 (MaxInFlight)", sends)
	}
	c.Result(now, states[0].ID, Verdict{Kind: Done}, true)
	c.Added(id, states[2:], 2)
	// 3 open, none committing: above the low-water mark (4 − 2), so no
	// open; one slot is free, so one send.
	acts = c.Step(now)
	if len(acts) != 1 || acts[0].Kind != ActSend {
		t.Fatalf("after one delivered = %+v, want exactly one send", acts)
	}
}
