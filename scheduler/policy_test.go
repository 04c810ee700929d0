package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// statuses returns the status (and skip reason or error) of each execution
// of sc, oldest occurrence first.
func (b *bundle) statuses(sc *geoetl.Schedule) []string {
	var out []string
	for _, e := range b.history(sc) {
		s := string(e.Status)
		switch {
		case e.SkipReason != nil:
			s += ": " + *e.SkipReason
		case e.ErrorMessage != nil:
			s += ": " + *e.ErrorMessage
		}
		out = append(out, s+" ("+string(e.Trigger)+")")
	}
	return out
}

func wantStatuses(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("executions:\n got %q\nwant %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("executions:\n got %q\nwant %q", got, want)
		}
	}
}

func TestOverlap(t *testing.T) {
	// Every minute, each run takes 90 s: the second occurrence comes while
	// the first still runs.
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

	t.Run("SkipRecordsTheOverlappingOccurrence", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(90)), "* * * * *", nil)
		b.advanceTo(minute(1))
		b.waitStatus(sc, geoetl.ExecRunning, 1)
		b.advanceTo(minute(2))
		b.waitStatus(sc, geoetl.ExecSkipped, 1)
		b.advanceTo(minute(2).Add(30 * time.Second))
		b.waitStatus(sc, geoetl.ExecCompleted, 1)
		wantStatuses(t, b.statuses(sc),
			"completed (schedule)",
			"skipped: "+geoetl.SkipReasonOverlap+" (schedule)")
	})

	t.Run("QueueRunsOneWaitingAfterThePreviousAndSkipsMore", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(150)), "* * * * *", func(s *geoetl.Schedule) { s.OverlapPolicy = geoetl.OverlapQueue })
		b.advanceTo(minute(1))
		first := b.waitStatus(sc, geoetl.ExecRunning, 1)[0]
		b.advanceTo(minute(2))                  // queued
		b.waitStatus(sc, geoetl.ExecPending, 2) // the first one's claim, then the queued one
		b.advanceTo(minute(3))                  // queue full
		b.waitStatus(sc, geoetl.ExecSkipped, 1)
		b.advanceTo(minute(3).Add(30 * time.Second)) // the first finishes; the queued one starts at once
		b.waitStatus(sc, geoetl.ExecCompleted, 1)
		second := b.waitStatus(sc, geoetl.ExecRunning, 1)[0]
		if second.ExecutionID == first.ExecutionID {
			t.Fatal("the queued run is the first one")
		}
		e := b.execution(second.ExecutionID)
		if !e.ScheduledAt.Equal(minute(2)) {
			t.Fatalf("the run started after the first is the occurrence of %s, want %s; history %q", e.ScheduledAt, minute(2), b.statuses(sc))
		}
		b.advanceTo(minute(6)) // the queued one ends; 4, 5 and 6 were skipped meanwhile or run
		b.waitStatus(sc, geoetl.ExecCompleted, 1)
		got := b.statuses(sc)
		wantStatuses(t, got[:3],
			"completed (schedule)",
			"completed (schedule)",
			"skipped: "+geoetl.SkipReasonQueueFull+" (schedule)")
	})

	t.Run("CancelPreviousCancelsTheRunningOneAndStarts", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(90)), "* * * * *", func(s *geoetl.Schedule) { s.OverlapPolicy = geoetl.OverlapCancelPrevious })
		b.advanceTo(minute(1))
		b.waitStatus(sc, geoetl.ExecRunning, 1)
		for i := 2; i <= 3; i++ {
			b.advanceTo(minute(i))
			b.waitStatus(sc, geoetl.ExecCancelled, 1)
			b.waitStatus(sc, geoetl.ExecRunning, 1)
		}
		b.sched.runner.writer.drainForTest(t)
		got := b.statuses(sc)
		wantStatuses(t, got[:2],
			"cancelled: "+geoetl.ErrorCancelledByNewerRun+" (schedule)",
			"cancelled: "+geoetl.ErrorCancelledByNewerRun+" (schedule)")
		if got[2] != "running (schedule)" {
			t.Fatalf("third = %s", got[2])
		}
	})

	t.Run("AllowRunsThemTogether", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(90)), "* * * * *", func(s *geoetl.Schedule) { s.OverlapPolicy = geoetl.OverlapAllow })
		b.advanceTo(minute(1))
		b.waitStatus(sc, geoetl.ExecRunning, 1)
		b.advanceTo(minute(2))
		b.waitStatus(sc, geoetl.ExecRunning, 1)
		b.advanceTo(minute(3).Add(30 * time.Second))
		b.waitStatus(sc, geoetl.ExecCompleted, 2)
	})

	t.Run("MaxConcurrentTwoSkipsTheThird", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(150)), "* * * * *", func(s *geoetl.Schedule) { s.MaxConcurrentExecutions = 2 })
		for i := 1; i <= 2; i++ {
			b.advanceTo(minute(i))
			b.waitStatus(sc, geoetl.ExecRunning, 1)
		}
		b.advanceTo(minute(3))
		b.waitStatus(sc, geoetl.ExecSkipped, 1)
	})

	t.Run("ZeroMaxConcurrentIsUnlimited", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(300)), "* * * * *", func(s *geoetl.Schedule) { s.MaxConcurrentExecutions = 0 })
		for i := 1; i <= 3; i++ {
			b.advanceTo(minute(i))
			b.waitStatus(sc, geoetl.ExecRunning, 1)
		}
	})
}

// restart stops s and returns a new scheduler on the same store after the
// fake clock moved to at.
func (b *bundle) restart(s *Scheduler, at time.Time, edit func(*Config)) *Scheduler {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		b.t.Fatal(err)
	}
	b.advanceTo(at)
	return b.start("i2", edit)
}

func TestMisfireAfterRestart(t *testing.T) {
	t.Parallel() // a store, a clock and schedulers of its own
	// Every ten minutes; the instance is down from 10:05 to 10:45:30:
	// 10:10, 10:20, 10:30 and 10:40 are missed.
	down, up := t0.Add(5*time.Minute), t0.Add(45*time.Minute+30*time.Second)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	// What does not run is one miss record per gap: its occurrence is the
	// first missed, with the last and the count.
	tests := []struct {
		policy   geoetl.MisfirePolicy
		window   int
		want     []string
		at       []int // scheduledAt of each row, minutes after t0
		missedTo int   // missedUntil of the record
		missedN  int   // missedCount of the record
		ran      int
	}{
		{geoetl.MisfireRunOnce, 1440, []string{
			"skipped: " + geoetl.SkipReasonSuperseded + " (schedule)",
			"completed (catchup)"}, []int{10, 40}, 30, 3, 1},
		{geoetl.MisfireSkip, 1440, []string{
			"skipped: " + geoetl.SkipReasonMissed + " (schedule)"}, []int{10}, 40, 4, 0},
		{geoetl.MisfireRunAll, 30, []string{
			"skipped: " + geoetl.SkipReasonOutsideWindow + " (schedule)",
			"completed (catchup)",
			"completed (catchup)",
			"completed (catchup)"}, []int{10, 20, 30, 40}, 10, 1, 3},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			b := setupSQLite(t)
			s := b.start("i1", nil)
			sc := b.schedule(b.workflow(defEmpty), "*/10 * * * *", func(s *geoetl.Schedule) {
				s.MisfirePolicy, s.CatchupWindowMinutes = tt.policy, tt.window
			})
			b.advanceTo(down)
			b.restart(s, up, nil)
			switch {
			case tt.ran > 0:
				b.waitStatus(sc, geoetl.ExecCompleted, tt.ran)
			default:
				b.waitStatus(sc, geoetl.ExecSkipped, 1)
			}
			wantStatuses(t, b.statuses(sc), tt.want...)
			h := b.history(sc)
			for i, m := range tt.at {
				if !h[i].ScheduledAt.Equal(at(m)) {
					t.Errorf("execution %d is the occurrence of %s, want %s", i, h[i].ScheduledAt, at(m))
				}
			}
			if rec := h[0]; rec.MissedCount != tt.missedN || rec.MissedUntil == nil || !rec.MissedUntil.Equal(at(tt.missedTo)) {
				t.Errorf("miss record: count %d until %v, want %d until %s", rec.MissedCount, rec.MissedUntil, tt.missedN, at(tt.missedTo))
			}
			if next := b.reload(sc).NextRunAt; next == nil || !next.Equal(at(50)) {
				t.Errorf("next run = %v, want %s", next, at(50))
			}
			// Then the schedule fires on time again.
			b.advanceTo(at(50))
			b.waitEvent("the 10:50 run", func(ev geoetl.ExecutionEvent) bool {
				return ev.ScheduleID == sc.ID && ev.Status == geoetl.ExecCompleted && b.execution(ev.ExecutionID).ScheduledAt.Equal(at(50))
			})
		})
	}
}

func TestRetries(t *testing.T) {
	t.Run("FailedRunIsRetriedAfterTheDelayThenGivesUp", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defFail), "0 * * * *", func(s *geoetl.Schedule) {
			s.RetryAttempts, s.RetryDelayMinutes, s.RetryBackoff, s.MaxRetryDelayMinutes = 2, 1, geoetl.BackoffExponential, 60
		})
		first := t0.Add(time.Hour)
		b.advanceTo(first)
		b.waitStatus(sc, geoetl.ExecFailed, 1)
		b.advanceTo(first.Add(time.Minute)) // first retry after 1 min
		b.waitStatus(sc, geoetl.ExecFailed, 1)
		b.advanceTo(first.Add(3 * time.Minute)) // second after 2 more
		b.waitStatus(sc, geoetl.ExecFailed, 1)
		h := b.history(sc)
		if len(h) != 3 {
			t.Fatalf("%d executions, want 3: %q", len(h), b.statuses(sc))
		}
		byRetry := map[int]*geoetl.Execution{}
		for _, e := range h {
			byRetry[e.RetryCount] = e
		}
		for n, wantStart := range map[int]time.Time{0: first, 1: first.Add(time.Minute), 2: first.Add(3 * time.Minute)} {
			e := byRetry[n]
			if e == nil || !e.ScheduledAt.Equal(first) || !e.ExecutedAt.Equal(wantStart) || str(e.ErrorMessage) != "boom" {
				t.Fatalf("attempt %d = %+v, want the %s occurrence started at %s", n, e, first, wantStart)
			}
			if n > 0 && (e.Trigger != geoetl.TriggerRetry || str(e.RetryOf) != byRetry[n-1].ID) {
				t.Fatalf("attempt %d: trigger %s retryOf %s", n, e.Trigger, str(e.RetryOf))
			}
		}
	})

	t.Run("PendingRetrySurvivesARestart", func(t *testing.T) {
		b := setupSQLite(t)
		s := b.start("i1", nil)
		sc := b.schedule(b.workflow(`{"nodes":[{"id":"f","type":"test.fail_first","parameters":{"times":1}}]}`), "0 * * * *", func(s *geoetl.Schedule) {
			s.RetryAttempts, s.RetryDelayMinutes = 3, 10
		})
		first := t0.Add(time.Hour)
		b.advanceTo(first)
		b.waitStatus(sc, geoetl.ExecFailed, 1)
		b.restart(s, first.Add(5*time.Minute), nil)
		b.advanceTo(first.Add(10 * time.Minute))
		ev := b.waitStatus(sc, geoetl.ExecCompleted, 1)[0]
		e := b.execution(ev.ExecutionID)
		if e.Trigger != geoetl.TriggerRetry || str(e.InstanceID) != "i2" || !e.ExecutedAt.Equal(first.Add(10*time.Minute)) {
			t.Fatalf("retry = %s on %s at %v", e.Trigger, str(e.InstanceID), e.ExecutedAt)
		}
	})

	t.Run("TimeOutFailsTheRunAndRetries", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(600)), "0 * * * *", func(s *geoetl.Schedule) {
			timeout := 1
			s.TimeoutMinutes, s.RetryAttempts, s.RetryDelayMinutes = &timeout, 1, 0
		})
		first := t0.Add(time.Hour)
		b.advanceTo(first)
		b.waitStatus(sc, geoetl.ExecRunning, 1)
		b.advanceTo(first.Add(time.Minute))
		ev := b.waitStatus(sc, geoetl.ExecFailed, 1)[0]
		if msg := str(b.execution(ev.ExecutionID).ErrorMessage); msg != geoetl.TimedOutError(time.Minute) {
			t.Fatalf("error = %q", msg)
		}
		b.waitStatus(sc, geoetl.ExecRunning, 1) // the retry, at once (delay 0)
	})
}
