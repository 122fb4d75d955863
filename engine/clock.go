package engine

import "time"

// Clock is the engine's only source of time. The scheduler and batcher take
// one so that tests can drive hours of retries with a fake clock
// (hookd/engine/clocktest).
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has elapsed: in its own goroutine
	// (RealClock), or synchronously from the test's Advance (a fake clock).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call. Stop prevents the call; it reports
// false if the call already happened or was already stopped.
//
// It is an alias of the unnamed interface so that a clock outside engine
// (clocktest.FakeClock) implements Clock without importing engine, which
// lets engine's own tests use it.
type Timer = interface{ Stop() bool }

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
