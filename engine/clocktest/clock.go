// Package clocktest is the fake clock for tests of engine and of what runs
// it (api): time moves only when the test says, and due functions run
// inside Advance. FakeClock implements engine.Clock (engine.Timer is an
// alias of interface{ Stop() bool }, so this package need not import
// engine, and engine's own tests can use it).
package clocktest

import (
	"slices"
	"sync"
	"time"
)

// FakeClock is a manual Clock for tests: time moves only when Advance is
// called, and due functions run synchronously inside Advance, in order of
// due time (ties in the order they were scheduled). It is safe for
// concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	timers  []*fakeTimer
	waiters []fakeWaiter
}

type fakeWaiter struct {
	by time.Time
	ch chan struct{}
}

type fakeTimer struct {
	c   *FakeClock
	at  time.Time
	seq uint64
	f   func()
}

// New returns a FakeClock that reads start.
func New(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d. A d ≤ 0 is due at the next Advance
// (including Advance(0)).
func (c *FakeClock) AfterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	c.waiters = slices.DeleteFunc(c.waiters, func(w fakeWaiter) bool {
		if t.at.After(w.by) {
			return false
		}
		close(w.ch)
		return true
	})
	return t
}

// ScheduledBy returns a channel closed once a function due at or before
// by is scheduled: a test advancing time to a retry waits on it first, as
// the code under test may schedule that retry after the test saw the
// attempt before it.
func (c *FakeClock) ScheduledBy(by time.Time) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	for _, t := range c.timers {
		if !t.at.After(by) {
			close(ch)
			return ch
		}
	}
	c.waiters = append(c.waiters, fakeWaiter{by: by, ch: ch})
	return ch
}

// Advance moves time forward by d, running every function that falls due
// on the way. While a function runs, Now() reads its due time, and timers it
// schedules within the window fire in the same Advance.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(max(d, 0))
	for {
		t := c.popDueLocked(end)
		if t == nil {
			break
		}
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// Pending reports how many functions are scheduled and not yet run.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// popDueLocked removes and returns the earliest timer due at or before end.
func (c *FakeClock) popDueLocked(end time.Time) *fakeTimer {
	if len(c.timers) == 0 {
		return nil
	}
	i := 0
	for j, t := range c.timers[1:] {
		if earlier(t, c.timers[i]) {
			i = j + 1
		}
	}
	t := c.timers[i]
	if t.at.After(end) {
		return nil
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	return t
}

func earlier(a, b *fakeTimer) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}

func (t *fakeTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = slices.Delete(c.timers, i, i+1)
			return true
		}
	}
	return false
}
