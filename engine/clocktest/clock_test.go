package clocktest

import (
	"slices"
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestFakeClockFiresInTimeOrder(t *testing.T) {
	c := New(epoch)
	var got []string
	at := map[string]time.Duration{}
	add := func(name string, d time.Duration) {
		c.AfterFunc(d, func() {
			got = append(got, name)
			at[name] = c.Now().Sub(epoch)
		})
	}
	add("c", 3*time.Second)
	add("a", time.Second)
	add("b1", 2*time.Second)
	add("b2", 2*time.Second)
	add("late", time.Minute)

	c.Advance(2 * time.Second)
	if want := []string{"a", "b1", "b2"}; !slices.Equal(got, want) {
		t.Fatalf("after 2s got %v; want %v", got, want)
	}
	if at["a"] != time.Second || at["b2"] != 2*time.Second {
		t.Errorf("Now() inside callbacks: got %v; want a=1s b2=2s", at)
	}
	c.Advance(time.Second)
	if want := []string{"a", "b1", "b2", "c"}; !slices.Equal(got, want) {
		t.Fatalf("after 3s got %v; want %v", got, want)
	}
	if got, want := c.Now(), epoch.Add(3*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v; want %v", got, want)
	}
	if got, want := c.Pending(), 1; got != want {
		t.Errorf("Pending() = %d; want %d", got, want)
	}
}

func TestFakeClockStop(t *testing.T) {
	c := New(epoch)
	fired := false
	tm := c.AfterFunc(time.Second, func() { fired = true })
	if !tm.Stop() {
		t.Fatal("first Stop() = false; want true")
	}
	if tm.Stop() {
		t.Error("second Stop() = true; want false")
	}
	c.Advance(time.Hour)
	if fired {
		t.Error("stopped timer fired")
	}

	tm = c.AfterFunc(time.Second, func() {})
	c.Advance(time.Second)
	if tm.Stop() {
		t.Error("Stop() after firing = true; want false")
	}
}

func TestFakeClockChainedTimersFireWithinOneAdvance(t *testing.T) {
	c := New(epoch)
	var ticks []time.Duration
	var tick func()
	tick = func() {
		ticks = append(ticks, c.Now().Sub(epoch))
		c.AfterFunc(10*time.Second, tick)
	}
	c.AfterFunc(10*time.Second, tick)
	c.Advance(35 * time.Second)
	want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second}
	if !slices.Equal(ticks, want) {
		t.Errorf("ticks = %v; want %v", ticks, want)
	}
}

func TestFakeClockZeroDelayFiresOnAdvanceZero(t *testing.T) {
	c := New(epoch)
	n := 0
	c.AfterFunc(0, func() { n++ })
	c.AfterFunc(-time.Second, func() { n++ })
	if n != 0 {
		t.Fatal("AfterFunc ran synchronously; want it to wait for Advance")
	}
	c.Advance(0)
	if n != 2 {
		t.Errorf("fired %d; want 2", n)
	}
	if got := c.Now(); !got.Equal(epoch) {
		t.Errorf("Now() = %v; want %v (negative delay must not move time back)", got, epoch)
	}
}

func TestFakeClockScheduledBy(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(t0)
	c.AfterFunc(3*time.Hour, func() {})
	select {
	case <-c.ScheduledBy(t0.Add(3 * time.Hour)):
	default:
		t.Fatal("a function due at the limit is not reported")
	}
	ch := c.ScheduledBy(t0.Add(time.Hour))
	c.AfterFunc(2*time.Hour, func() {})
	select {
	case <-ch:
		t.Fatal("reported a function due after the limit")
	default:
	}
	c.AfterFunc(time.Hour, func() {})
	select {
	case <-ch:
	default:
		t.Fatal("a function scheduled later within the limit is not reported")
	}
}
