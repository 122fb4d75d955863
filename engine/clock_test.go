package engine

import (
	"testing"

	"hookd/engine/clocktest"
)

var _ Clock = (*clocktest.FakeClock)(nil)

func TestRealClockImplementsClock(t *testing.T) {
	var c Clock = RealClock{}
	done := make(chan struct{})
	c.AfterFunc(0, func() { close(done) })
	<-done
	if c.Now().IsZero() {
		t.Error("RealClock.Now() is zero")
	}
}
