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
