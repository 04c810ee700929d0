package scheduler

import (
	"time"

	"github.com/geoetl/geoetl/clock"
)

// resetAt sets t to fire at the local time deadline. Timers take a
// duration, not a time: a clock that moves between reading it and setting
// the timer (a fake clock set by a test in that instant, or a stepped wall
// clock) would shift the deadline by the move, and a timer that should
// have fired at once would fire a whole move too late, or never. So the
// clock is read again after setting the timer, and the timer set again
// until no move came in between. Against the wall clock this is one
// round: the two readings are microseconds apart.
func resetAt(c clock.Clock, t clock.Timer, deadline time.Time) {
	for range 10 {
		before := c.Now()
		t.Reset(deadline.Sub(before))
		if c.Now().Sub(before) < time.Millisecond {
			return
		}
	}
}
