package scheduler

import (
	"testing"
	"time"

	"github.com/geoetl/geoetl/clock"
)

// jumpyClock is a fake clock that a "test" moves once, right after the
// code under test has read it: the moment in which a test's advanceTo used
// to land between a timer's reading of the clock and its setting.
type jumpyClock struct {
	*clock.Fake
	jumpTo *time.Time
}

func (c *jumpyClock) Now() time.Time {
	now := c.Fake.Now()
	if c.jumpTo != nil {
		to := *c.jumpTo
		c.jumpTo = nil
		c.Fake.Set(to)
	}
	return now
}

func TestResetAt_ClockMovedWhileSettingTheTimerStillFiresAtTheDeadline(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(t0)
	timer := fc.NewTimer(time.Hour)
	jump := t0.Add(200 * time.Millisecond)
	c := &jumpyClock{Fake: fc, jumpTo: &jump}
	resetAt(c, timer, t0.Add(100*time.Millisecond))
	select {
	case <-timer.C():
	default:
		t.Fatal("the deadline passed while the timer was being set, and the timer has not fired")
	}
	resetAt(c, timer, jump.Add(time.Second))
	fc.Set(jump.Add(time.Second - time.Millisecond))
	select {
	case <-timer.C():
		t.Fatal("the timer fired before its deadline")
	default:
	}
	fc.Set(jump.Add(time.Second))
	select {
	case <-timer.C():
	default:
		t.Fatal("the timer did not fire at its deadline")
	}
}
