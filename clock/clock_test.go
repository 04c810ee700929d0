package clock

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC)

func fired(tm Timer) bool {
	select {
	case <-tm.C():
		return true
	default:
		return false
	}
}

func TestFake_TimerFiresOnlyOnceTheClockReachesItsDeadline(t *testing.T) {
	f := NewFake(t0)
	tm := f.NewTimer(time.Minute)
	if !f.TimerAt(t0.Add(time.Minute)) || f.ActiveTimers() != 1 {
		t.Fatalf("TimerAt %v, ActiveTimers %d; want a timer at the deadline", f.TimerAt(t0.Add(time.Minute)), f.ActiveTimers())
	}
	f.Set(t0.Add(time.Minute - time.Nanosecond))
	if fired(tm) {
		t.Fatal("fired before its deadline")
	}
	f.Set(t0.Add(-time.Hour)) // a clock stepped back fires nothing
	if fired(tm) {
		t.Fatal("fired when the clock went back")
	}
	f.Set(t0.Add(time.Minute))
	if !fired(tm) {
		t.Fatal("did not fire at its deadline")
	}
	if f.TimerAt(t0.Add(time.Minute)) || f.ActiveTimers() != 0 {
		t.Fatal("a fired timer still counts as waiting")
	}
}

func TestFake_StoppedAndResetTimersMoveTheirDeadline(t *testing.T) {
	f := NewFake(t0)
	tm := f.NewTimer(time.Second)
	if !tm.Stop() || tm.Stop() {
		t.Fatal("Stop should report true once, then false")
	}
	if f.TimerAt(t0.Add(time.Second)) {
		t.Fatal("a stopped timer is still waiting")
	}
	created := f.TimerCreated()
	tm.Reset(time.Hour)
	select {
	case <-created:
	default:
		t.Fatal("Reset did not wake the TimerCreated waiters")
	}
	if !f.TimerAt(t0.Add(time.Hour)) {
		t.Fatal("no timer at the reset deadline")
	}
	f.Advance(time.Hour)
	if !fired(tm) {
		t.Fatal("the reset timer did not fire")
	}
}
