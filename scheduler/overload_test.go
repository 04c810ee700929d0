package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

const defGate = `{"nodes":[{"id":"g","type":"test.gate"}]}`

// waitFired waits until the firer has handed out every job due at or
// before at (the fake clock stands there), so that what the test does
// next happens after the occurrences of at were decided.
func waitFired(t *testing.T, s *Scheduler, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		h := s.runner.held
		h.mu.Lock()
		done := len(h.timers) == 0 || h.timers[0].fireAt.After(at)
		h.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the firer never handed out the jobs due at %s", at.Format(time.TimeOnly))
		}
		time.Sleep(time.Millisecond)
	}
}

// waitClaimed waits until this instance holds n claims of occurrences at
// at.
func waitClaimed(t *testing.T, s *Scheduler, at time.Time, n int) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for {
		h := s.runner.held
		h.mu.Lock()
		got := 0
		for _, j := range h.jobs {
			if j.exec.ScheduledAt.Equal(at) {
				got++
			}
		}
		h.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d claims of the %s occurrences, want %d", got, at.Format(time.TimeOnly), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Sustained overload: six every-second schedules, two workers, and runs
// that end only when the test lets them (one pair a second). Whatever
// cannot run is missed; what must not happen is that the workers spend
// themselves on older occurrences still queued while the occurrence due
// now is skipped (as an overlap with the queued one), so that no run ever
// starts on time again: each second, the workers freed must start runs of
// that second's occurrences.
func TestOverload_OnTimeRunsKeepStartingWhileOlderOnesAreMissed(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i1", func(c *Config) { c.Workers = 2 })
	wf := b.workflow(defGate)
	var list []*geoetl.Schedule
	for range 6 {
		list = append(list, b.schedule(wf, "* * * * * *", nil))
	}
	scheduledAt := map[string]time.Time{}
	startedOf := func(at time.Time) func(geoetl.ExecutionEvent) bool {
		return func(ev geoetl.ExecutionEvent) bool {
			if ev.Status != geoetl.ExecRunning {
				return false
			}
			when, ok := scheduledAt[ev.ExecutionID]
			if !ok {
				when = b.execution(ev.ExecutionID).ScheduledAt
				scheduledAt[ev.ExecutionID] = when
			}
			return when.Equal(at)
		}
	}
	const seconds = 12
	for k := 1; k <= seconds; k++ {
		at := t0.Add(time.Duration(k) * time.Second)
		if k > 1 {
			waitClaimed(t, s, at, len(list)) // a lookahead before
		}
		b.advanceTo(at)
		waitFired(t, s, at)
		if k > 1 {
			b.engine.gate <- struct{}{} // the two runs of the second before end
			b.engine.gate <- struct{}{}
		}
		for i := range 2 {
			b.waitEvent(fmt.Sprintf("run %d of the %s occurrences starting", i+1, at.Format(time.TimeOnly)), startedOf(at))
		}
	}
	for range 2 {
		b.engine.gate <- struct{}{}
	}
	stopNow(t, s)
	completed, superseded := 0, 0
	for _, sc := range list {
		seen := map[time.Time]bool{}
		for _, e := range b.history(sc) {
			if e.ExecutedAt != nil {
				if seen[e.ScheduledAt] {
					t.Errorf("occurrence %s of %s ran twice", e.ScheduledAt.Format(time.TimeOnly), sc.Name)
				}
				seen[e.ScheduledAt] = true
			}
			if e.Status == geoetl.ExecCompleted {
				completed++
			}
			if e.SkipReason != nil && *e.SkipReason == geoetl.SkipReasonSuperseded {
				superseded += e.MissedCount
			}
			if e.Status == geoetl.ExecRunning || (e.Status == geoetl.ExecPending && e.InstanceID != nil) {
				t.Errorf("execution %s left %s after the stop", e.ID, e.Status)
			}
		}
	}
	if completed != 2*seconds || superseded == 0 {
		t.Fatalf("%d runs completed (want %d: two a second) and %d occurrences recorded superseded (want some)", completed, 2*seconds, superseded)
	}
}

// A schedule that falls more than the misfire grace behind while this
// instance is up (it held no capacity for it: overload) has its whole gap
// recorded as one miss record, with no catch-up run, and its next
// occurrence claimed on time: a catch-up would only compete with the
// on-time runs, or be superseded by the next one. After downtime the
// catch-up still runs (TestDispatcher_OnTimeRunAfterRestartDoesNotWaitForTheCatchUp).
func TestOverload_AScheduleThatFellBehindMissesItsGapWithoutACatchUp(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	b.start("i1", func(c *Config) { c.MaxClaimed = 1 })
	sc := b.schedule(b.workflow(defGate), "* * * * * *", nil)
	b.advanceTo(t0.Add(time.Second))
	b.waitStatus(sc, geoetl.ExecRunning, 1)
	// The one claim this instance may hold is running: 0:02 to 0:10 fall
	// due and stay unclaimed meanwhile.
	b.advanceTo(t0.Add(10 * time.Second))
	b.engine.gate <- struct{}{}
	b.waitStatus(sc, geoetl.ExecCompleted, 1)
	b.waitEvent("the miss record", func(ev geoetl.ExecutionEvent) bool {
		return ev.ScheduleID == sc.ID && ev.Status == geoetl.ExecSkipped
	})
	b.advanceTo(t0.Add(11 * time.Second))
	b.waitStatus(sc, geoetl.ExecRunning, 1)
	b.engine.gate <- struct{}{}
	b.waitStatus(sc, geoetl.ExecCompleted, 1)
	wantStatuses(t, b.statuses(sc), "completed (schedule)", "skipped: "+geoetl.SkipReasonSuperseded+" (schedule)", "completed (schedule)")
	h := b.history(sc)
	if m := h[1]; !m.ScheduledAt.Equal(t0.Add(2*time.Second)) || m.MissedUntil == nil || !m.MissedUntil.Equal(t0.Add(10*time.Second)) || m.MissedCount != 9 {
		t.Fatalf("miss record %s to %v, count %d; want 0:02 to 0:10, 9", m.ScheduledAt, m.MissedUntil, m.MissedCount)
	}
	if e := h[2]; !e.ScheduledAt.Equal(t0.Add(11*time.Second)) || !e.ExecutedAt.Equal(t0.Add(11*time.Second)) {
		t.Fatalf("next run of %s started at %v, want both at 0:11", e.ScheduledAt, e.ExecutedAt)
	}
}
