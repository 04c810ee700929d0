// Package clock lets scheduling code read time and wait through an
// interface, so tests can drive it with a fake clock instead of sleeping.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is the time source of the scheduler and everything it drives.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once d has passed on this clock.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer, like *time.Timer.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
	// Reset changes the timer to fire after d.
	Reset(d time.Duration)
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time { return time.Now() }

func (Real) NewTimer(d time.Duration) Timer { return &realTimer{t: time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r *realTimer) C() <-chan time.Time   { return r.t.C }
func (r *realTimer) Stop() bool            { return r.t.Stop() }
func (r *realTimer) Reset(d time.Duration) { r.t.Reset(d) }

// Fake is a clock that only moves when told to. Timers fire, in order,
// when Advance or Set moves the time past their deadline.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// waiters are woken whenever a timer is created, so tests can wait
	// until the code under test has gone to sleep.
	waiters []chan struct{}
}

// NewFake returns a fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clock: f, c: make(chan time.Time, 1), at: f.now.Add(d), active: true}
	f.timers = append(f.timers, t)
	f.fireLocked()
	f.notifyLocked()
	return t
}

// Advance moves the clock forward by d, firing due timers.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t, firing due timers. Moving backwards is allowed
// (to simulate a clock step) and fires nothing.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
	f.fireLocked()
}

// TimerCreated returns a channel that is closed the next time a timer is
// created or reset.
func (f *Fake) TimerCreated() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan struct{})
	f.waiters = append(f.waiters, c)
	return c
}

// ActiveTimers returns how many timers are waiting.
func (f *Fake) ActiveTimers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.timers {
		if t.active {
			n++
		}
	}
	return n
}

// TimerAt reports whether a timer is waiting to fire at exactly t. A test
// can wait for it to learn that the code under test has gone to sleep
// until t, instead of sleeping in the hope that it has.
func (f *Fake) TimerAt(t time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tm := range f.timers {
		if tm.active && tm.at.Equal(t) {
			return true
		}
	}
	return false
}

func (f *Fake) notifyLocked() {
	for _, c := range f.waiters {
		close(c)
	}
	f.waiters = nil
}

func (f *Fake) fireLocked() {
	sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.active && !t.at.After(f.now) {
			t.active = false
			select {
			case t.c <- f.now:
			default:
			}
			continue
		}
		if t.active {
			kept = append(kept, t)
		}
	}
	f.timers = kept
}

type fakeTimer struct {
	clock  *Fake
	c      chan time.Time
	at     time.Time
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	t.at = f.now.Add(d)
	if !t.active {
		t.active = true
		f.timers = append(f.timers, t)
	}
	f.fireLocked()
	f.notifyLocked()
}

// Backoff returns how long to wait after the given number of consecutive
// failures of a database round trip: 100 ms doubling to 5 s. The
// scheduler's loops and the PostgreSQL change feed share it, so they back
// off alike.
func Backoff(failures int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < failures && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// SleepContext waits d of real time or until ctx is done, and reports
// whether the whole wait passed.
func SleepContext(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
