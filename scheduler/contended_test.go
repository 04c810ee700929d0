package scheduler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func defWaitSeconds(s float64) string {
	return fmt.Sprintf(`{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":%g}}]}`, s)
}

// TestOverlap_OccurrenceClaimedWhileTheSlotIsTakenStartsOnTimeIfItIsFreeThen:
// the claim of an occurrence (a second before it) finds the previous run
// still running; the run ends before the occurrence is due. The occurrence
// is claimed all the same (so it starts at its exact time, with nothing to
// read then but its schedule's occupancy) and, the slot being free at its
// time, runs: only a run still going at the occurrence's time makes it
// skip. A run still going then does (see TestOverlap).
func TestOverlap_OccurrenceClaimedWhileTheSlotIsTakenStartsOnTimeIfItIsFreeThen(t *testing.T) {
	t.Parallel() // a store, a clock and schedulers of its own
	setupEach(t, func(t *testing.T, b *bundle) {
		minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWaitSeconds(59.5)), "* * * * *", nil)
		b.advanceTo(minute(1))
		first := b.waitStatus(sc, geoetl.ExecRunning, 1)[0]

		b.advanceTo(minute(2).Add(-time.Second)) // the claim of 10:02, while 10:01 runs
		b.waitFor("the claim of 10:02", func(seen []geoetl.ExecutionEvent) bool {
			for _, ev := range seen {
				if ev.ScheduleID == sc.ID && ev.ExecutionID != first.ExecutionID && ev.Status == geoetl.ExecPending {
					return true
				}
			}
			return false
		})
		h := b.history(sc)
		if len(h) != 2 || !h[1].ScheduledAt.Equal(minute(2)) || h[1].Status != geoetl.ExecPending || str(h[1].InstanceID) != "i1" {
			t.Fatalf("before 10:02: %q, want the 10:02 occurrence claimed ahead by i1", b.statuses(sc))
		}

		b.advanceTo(minute(2).Add(-500 * time.Millisecond)) // 10:01 ends
		b.waitStatus(sc, geoetl.ExecCompleted, 1)
		b.advanceTo(minute(2))
		ev := b.waitStatus(sc, geoetl.ExecRunning, 1)[0]
		b.sched.runner.writer.drainForTest(t)
		e := b.execution(ev.ExecutionID)
		if !e.ScheduledAt.Equal(minute(2)) || e.ExecutedAt == nil || !e.ExecutedAt.Equal(minute(2)) {
			t.Fatalf("10:02 started at %v, want exactly %s", e.ExecutedAt, minute(2))
		}
		wantStatuses(t, b.statuses(sc), "completed (schedule)", "running (schedule)")
	})
}

// TestOverlap_CancelPreviousCancelsAtTheOccurrencesTimeNotAtItsClaim: the
// claim a second ahead finds the previous run going; cancel_previous must
// not cancel it then, only when the new occurrence is due.
func TestOverlap_CancelPreviousCancelsAtTheOccurrencesTimeNotAtItsClaim(t *testing.T) {
	t.Parallel() // a store, a clock and schedulers of its own
	b := setupSQLite(t)
	b.start("i1", nil)
	sc := b.schedule(b.workflow(defWait(90)), "* * * * *", func(s *geoetl.Schedule) { s.OverlapPolicy = geoetl.OverlapCancelPrevious })
	b.advanceTo(t0.Add(time.Minute))
	first := b.waitStatus(sc, geoetl.ExecRunning, 1)[0]
	b.advanceTo(t0.Add(2*time.Minute - time.Second))
	b.waitStatus(sc, geoetl.ExecPending, 2) // both claims
	b.sched.runner.writer.drainForTest(t)
	if got := b.execution(first.ExecutionID); got.Status != geoetl.ExecRunning || got.CancelRequested {
		t.Fatalf("a second before the next occurrence the running one is %s (cancel requested %v)", got.Status, got.CancelRequested)
	}
	b.advanceTo(t0.Add(2 * time.Minute))
	b.waitStatus(sc, geoetl.ExecCancelled, 1)
	ev := b.waitStatus(sc, geoetl.ExecRunning, 1)[0]
	b.sched.runner.writer.drainForTest(t)
	if e := b.execution(ev.ExecutionID); !e.ExecutedAt.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("the newer run started at %v", e.ExecutedAt)
	}
}

// TestCluster_NoOverlapSkipsWhenTheOtherInstancesOutcomeIsWrittenLate:
// three instances, every-second schedules with the default policy skip,
// runs of a few milliseconds, and outcomes written 1.2 s after the runs end
// (as on a loaded machine). The occurrence after a run on another instance
// finds that run still unfinished in the database; it must wait for the
// outcome rather than be skipped. A schedule whose run really goes on is
// still skipped.
func TestCluster_NoOverlapSkipsWhenTheOtherInstancesOutcomeIsWrittenLate(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time cluster test")
	}
	// Real time, mostly waiting, each on its own database: these overlap.
	t.Parallel()
	c := newCluster(t)
	quick := c.workflow(defWaitSeconds(0.005))
	var fast []*geoetl.Schedule
	for range 10 {
		fast = append(fast, c.schedule(quick, "* * * * * *", nil))
	}
	long := c.schedule(c.workflow(defWait(600)), "* * * * * *", nil)
	start := time.Now().Truncate(time.Second).Add(2 * time.Second)
	var list []*Scheduler
	for i := range 3 {
		list = append(list, c.instance(fmt.Sprintf("node-%d", i), func(cfg *Config) { cfg.FlushInterval = 1200 * time.Millisecond }))
	}
	end := start.Add(4 * time.Second)
	time.Sleep(time.Until(end.Add(6 * time.Second))) // real time is what this test is about
	// Stopping ends the long run (cancelled at shutdown) on its instance
	// while another may still be up, and that one then rightly starts the
	// occurrence waiting for the slot: runs from then on do not count.
	stopping := time.Now()
	for _, s := range list {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
		cancel()
	}
	completed := map[string]int{}
	longRuns, longSkips := 0, 0
	var longRows []string
	for _, e := range c.executions() {
		if e.SkipReason != nil && *e.SkipReason == geoetl.SkipReasonOverlap && str(e.ScheduleID) != long.ID {
			t.Errorf("occurrence %s of a quick schedule skipped as an overlap", e.ScheduledAt.Format(time.TimeOnly))
		}
		if str(e.ScheduleID) == long.ID {
			longRows = append(longRows, fmt.Sprintf("%s %s on %s: %s%s", e.ScheduledAt.Format("15:04:05"), e.Status, str(e.InstanceID), str(e.SkipReason), str(e.ErrorMessage)))
			if e.ExecutedAt != nil && e.ExecutedAt.Before(stopping) {
				longRuns++
			}
			if e.SkipReason != nil && *e.SkipReason == geoetl.SkipReasonOverlap {
				longSkips++
			}
		}
		if e.Status == geoetl.ExecCompleted {
			completed[str(e.ScheduleID)+e.ScheduledAt.Format(time.RFC3339)]++
		}
		if c.engine.runCount(e.ID) > 1 {
			t.Errorf("execution %s ran %d times", e.ID, c.engine.runCount(e.ID))
		}
	}
	for _, sc := range fast {
		for at := start; at.Before(end); at = at.Add(time.Second) {
			if n := completed[sc.ID+at.UTC().Format(time.RFC3339)]; n != 1 {
				t.Errorf("schedule %s, occurrence %s: %d completed runs, want 1", sc.ID, at.Format(time.TimeOnly), n)
			}
		}
	}
	if longRuns != 1 || longSkips == 0 {
		t.Errorf("the long-running schedule: %d runs and %d overlap skips, want 1 run and the occurrences after it skipped:\n%s", longRuns, longSkips, strings.Join(longRows, "\n"))
	}
}
