package scheduler

import (
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func occ(id string, status geoetl.ExecutionStatus, claimed bool) *geoetl.Execution {
	e := &geoetl.Execution{ID: id, Status: status}
	if claimed {
		inst := "i1"
		e.InstanceID = &inst
	}
	return e
}

func TestSlotsDecide(t *testing.T) {
	t.Parallel()
	running := occ("r", geoetl.ExecRunning, false)
	queued := occ("q", geoetl.ExecPending, false)
	tests := []struct {
		name   string
		policy geoetl.OverlapPolicy
		limit  int
		occ    []*geoetl.Execution
		kind   candidateKind
		self   string
		want   decision
	}{
		{"FreeSlotStarts", geoetl.OverlapSkip, 1, nil, kindFresh, "", decideStart},
		{"SkipWhenBusy", geoetl.OverlapSkip, 1, []*geoetl.Execution{running}, kindFresh, "", decideSkipOverlap},
		{"ClaimedHoldsTheSlot", geoetl.OverlapSkip, 1, []*geoetl.Execution{occ("c", geoetl.ExecPending, true)}, kindFresh, "", decideSkipOverlap},
		{"SecondSlotOfTwoStarts", geoetl.OverlapSkip, 2, []*geoetl.Execution{running}, kindFresh, "", decideStart},
		{"ZeroLimitIsUnlimited", geoetl.OverlapSkip, 0, []*geoetl.Execution{running, running}, kindFresh, "", decideStart},
		{"QueueWaitsWhenNoneWaits", geoetl.OverlapQueue, 1, []*geoetl.Execution{running}, kindFresh, "", decideWait},
		{"QueueFullWhenOneWaits", geoetl.OverlapQueue, 1, []*geoetl.Execution{running, queued}, kindFresh, "", decideSkipQueueFull},
		{"QueuedRowDoesNotWaitBehindItself", geoetl.OverlapQueue, 1, []*geoetl.Execution{running, queued}, kindFresh, "q", decideWait},
		{"CancelPreviousCancelsAndRuns", geoetl.OverlapCancelPrevious, 1, []*geoetl.Execution{running}, kindFresh, "", decideCancelAndRun},
		{"AllowIgnoresLimit", geoetl.OverlapAllow, 1, []*geoetl.Execution{running}, kindFresh, "", decideStart},
		{"BackfillWaitsEvenUnderSkip", geoetl.OverlapSkip, 1, []*geoetl.Execution{running}, kindWaiting, "", decideWait},
		{"BackfillWaitsEvenUnderCancelPrevious", geoetl.OverlapCancelPrevious, 1, []*geoetl.Execution{running}, kindWaiting, "", decideWait},
		{"RetryRunsWhenBusy", geoetl.OverlapSkip, 1, []*geoetl.Execution{running}, kindAlways, "", decideStart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := geoetl.NewSchedule()
			s.OverlapPolicy, s.MaxConcurrentExecutions = tt.policy, tt.limit
			sl := newSlots(s, tt.occ)
			if got := sl.decide(tt.policy, tt.kind, tt.self); got != tt.want {
				t.Fatalf("decide = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	sid := "s"
	tests := []struct {
		name string
		e    geoetl.Execution
		want candidateKind
	}{
		{"AdHoc", geoetl.Execution{Trigger: geoetl.TriggerManual}, kindAlways},
		{"Retry", geoetl.Execution{ScheduleID: &sid, Trigger: geoetl.TriggerRetry}, kindAlways},
		{"ForcedRunNow", geoetl.Execution{ScheduleID: &sid, Trigger: geoetl.TriggerManual, Force: true}, kindAlways},
		{"RunNow", geoetl.Execution{ScheduleID: &sid, Trigger: geoetl.TriggerManual}, kindFresh},
		{"Backfill", geoetl.Execution{ScheduleID: &sid, Trigger: geoetl.TriggerBackfill}, kindWaiting},
		{"QueuedOccurrence", geoetl.Execution{ScheduleID: &sid, Trigger: geoetl.TriggerSchedule}, kindWaiting},
		{"RunAllCatchup", geoetl.Execution{ScheduleID: &sid, Trigger: geoetl.TriggerCatchup}, kindWaiting},
	}
	for _, tt := range tests {
		if got := kindOf(&tt.e); got != tt.want {
			t.Errorf("%s: kind = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetryFor(t *testing.T) {
	t.Parallel()
	sid := "0b5c3f4e-3e0b-4a53-9a53-4c8f0a1d2e3f"
	now := mustTime(t, "2027-01-01T10:00:00Z")
	failed := &geoetl.Execution{ID: "f", TenantID: "t", ScheduleID: &sid, ScheduledAt: now.Add(-time.Minute), Trigger: geoetl.TriggerSchedule}
	s := geoetl.NewSchedule()
	s.RetryAttempts, s.RetryDelayMinutes, s.RetryBackoff, s.MaxRetryDelayMinutes = 3, 2, geoetl.BackoffExponential, 5

	t.Run("FirstRetryWaitsTheBaseDelay", func(t *testing.T) {
		r := retryFor(s, failed, now, 0.5) // u = 0.5 is no jitter
		if r == nil || r.Trigger != geoetl.TriggerRetry || r.RetryCount != 1 || *r.RetryOf != "f" || !r.ScheduledAt.Equal(failed.ScheduledAt) {
			t.Fatalf("retry = %+v", r)
		}
		if !r.DueAt.Equal(now.Add(2 * time.Minute)) {
			t.Fatalf("due = %v", r.DueAt)
		}
	})
	t.Run("ExponentialIsCapped", func(t *testing.T) {
		f := *failed
		f.RetryCount = 2
		r := retryFor(s, &f, now, 0.5)
		if r == nil || !r.DueAt.Equal(now.Add(5*time.Minute)) || r.RetryCount != 3 {
			t.Fatalf("retry = %+v, want due after the 5 min cap", r)
		}
	})
	t.Run("NoneAfterTheLastAttempt", func(t *testing.T) {
		f := *failed
		f.RetryCount = 3
		if r := retryFor(s, &f, now, 0.5); r != nil {
			t.Fatalf("retry = %+v, want none", r)
		}
	})
	t.Run("AdHocRunsAreNotRetried", func(t *testing.T) {
		f := *failed
		f.ScheduleID = nil
		if r := retryFor(s, &f, now, 0.5); r != nil {
			t.Fatalf("retry = %+v, want none", r)
		}
	})
	t.Run("JitterStaysWithinTenPercentAndNeverNegative", func(t *testing.T) {
		base := 2 * time.Minute
		for _, u := range []float64{0, 0.25, 0.999999} {
			d := jittered(base, u)
			if d < base*9/10 || d > base*11/10 {
				t.Errorf("jittered(%v, %v) = %v", base, u, d)
			}
		}
		if d := jittered(0, 0); d != 0 {
			t.Errorf("jittered(0) = %v", d)
		}
		if jittered(base, 0) == jittered(base, 0.99) {
			t.Error("jitter does not move the delay")
		}
	})
}
