package scheduler

import (
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func TestDispatcher_RunsEachOccurrenceOnceAtItsTime(t *testing.T) {
	t.Parallel()
	setupEach(t, func(t *testing.T, b *bundle) {
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defEmpty), "* * * * *", nil)
		for i := 1; i <= 3; i++ {
			b.advanceTo(t0.Add(time.Duration(i) * time.Minute))
			b.waitStatus(sc, geoetl.ExecCompleted, 1)
		}
		h := b.history(sc)
		if len(h) != 3 {
			t.Fatalf("got %d executions, want 3", len(h))
		}
		for i, e := range h {
			want := t0.Add(time.Duration(i+1) * time.Minute)
			if !e.ScheduledAt.Equal(want) || e.Trigger != geoetl.TriggerSchedule || e.Status != geoetl.ExecCompleted {
				t.Errorf("execution %d: %s %s %s, want a completed schedule run at %s", i, e.ScheduledAt, e.Trigger, e.Status, want)
			}
			if e.ExecutedAt == nil || !e.ExecutedAt.Equal(want) {
				t.Errorf("execution %d started at %v, want exactly %s", i, e.ExecutedAt, want)
			}
			if e.CompletedAt == nil || e.DurationMs == nil || str(e.InstanceID) != "i1" {
				t.Errorf("execution %d: completedAt %v durationMs %v instance %s", i, e.CompletedAt, e.DurationMs, str(e.InstanceID))
			}
			if b.engine.runCount(e.ID) != 1 {
				t.Errorf("execution %d ran %d times", i, b.engine.runCount(e.ID))
			}
		}
		if next := b.reload(sc).NextRunAt; next == nil || !next.Equal(t0.Add(4*time.Minute)) {
			t.Errorf("next run = %v, want %s", next, t0.Add(4*time.Minute))
		}
	})
}

func TestDispatcher_NeverStartsBeforeTheOccurrence(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	b.start("i1", nil)
	sc := b.schedule(b.workflow(defEmpty), "* * * * *", nil)
	// Inside the lookahead the occurrence is claimed but must not start.
	b.advanceTo(t0.Add(time.Minute - 200*time.Millisecond))
	b.waitEvent("the claim", func(ev geoetl.ExecutionEvent) bool { return ev.ScheduleID == sc.ID && ev.Status == geoetl.ExecPending })
	b.advanceTo(t0.Add(time.Minute - time.Millisecond))
	// The firer arms its timer for the occurrence once it holds the claim;
	// until then a wrong start could still come, so wait for that timer.
	for deadline := time.Now().Add(testWait); !b.clock.TimerAt(t0.Add(time.Minute)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the firer never set a timer for the occurrence")
		}
	}
	b.mu.Lock()
	for _, ev := range b.seen {
		if ev.Status != geoetl.ExecPending {
			t.Fatalf("event %+v before the occurrence", ev)
		}
	}
	b.mu.Unlock()
	b.advanceTo(t0.Add(time.Minute))
	ev := b.waitStatus(sc, geoetl.ExecCompleted, 1)[0]
	if e := b.execution(ev.ExecutionID); !e.ExecutedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("started at %v", e.ExecutedAt)
	}
}

// A due occurrence the claim leaves alone because this instance holds all
// it may (MaxClaimed) is claimed once a held run ends. The work the
// dispatcher waits for then happens in real time, so it must not wait on
// the scheduler's clock: a fake clock stopped at the occurrence never
// moves on by itself, nor does a real one stalled in a test.
func TestDispatcher_ClaimsWorkLeftForCapacityWhenARunEnds(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	b.start("i1", func(c *Config) { c.MaxClaimed = 1 })
	wf := b.workflow(defEmpty)
	a := b.schedule(wf, "* * * * *", nil)
	c := b.schedule(wf, "* * * * *", nil)
	b.advanceTo(t0.Add(time.Minute))
	b.waitStatus(a, geoetl.ExecCompleted, 1)
	b.waitStatus(c, geoetl.ExecCompleted, 1)
	for _, sc := range []*geoetl.Schedule{a, c} {
		if h := b.history(sc); len(h) != 1 || h[0].ExecutedAt == nil || !h[0].ScheduledAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("history %+v, want one run of the occurrence", h)
		}
	}
}

// After downtime the claim that records the miss and claims the catch-up
// also claims the next occurrence, whose slot the catch-up holds. Once the
// catch-up has ended here, that occurrence starts at its time like an
// uncontended one, without a decider transaction: on-time runs after a
// restart do not wait for one behind the catch-up's writes.
func TestDispatcher_OnTimeRunAfterRestartDoesNotWaitForTheCatchUp(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i1", nil)
	sc := b.schedule(b.workflow(defEmpty), "* * * * *", nil) // run_once, skip overlap
	b.advanceTo(t0.Add(30 * time.Second))
	// Down from 0:30 to 5:59.5: 1:00 to 5:00 missed, 6:00 inside the lookahead.
	s = b.restart(s, t0.Add(6*time.Minute-500*time.Millisecond), nil)
	b.waitEvent("the catch-up", func(ev geoetl.ExecutionEvent) bool {
		return ev.ScheduleID == sc.ID && ev.Status == geoetl.ExecCompleted && b.execution(ev.ExecutionID).Trigger == geoetl.TriggerCatchup
	})
	b.advanceTo(t0.Add(6 * time.Minute))
	ev := b.waitEvent("the 0:06 run", func(ev geoetl.ExecutionEvent) bool {
		return ev.ScheduleID == sc.ID && ev.Status == geoetl.ExecCompleted && b.execution(ev.ExecutionID).Trigger == geoetl.TriggerSchedule
	})
	if e := b.execution(ev.ExecutionID); !e.ScheduledAt.Equal(t0.Add(6*time.Minute)) || !e.ExecutedAt.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("on-time run of %s started at %v, want both at 0:06", e.ScheduledAt, e.ExecutedAt)
	}
	if n := s.decider.txs.Load(); n != 0 {
		t.Fatalf("%d decider transactions, want none: the slot was held only by this instance's finished catch-up", n)
	}
	wantStatuses(t, b.statuses(sc), "skipped: "+geoetl.SkipReasonSuperseded+" (schedule)", "completed (catchup)", "completed (schedule)")
}
