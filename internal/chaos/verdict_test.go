package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
)

// TestCheck_ClassifiesEveryKindOfOutcome writes executions by hand for an
// every-second schedule, one kind of outcome per second, and checks that
// the verdict files each where it belongs, so that a scenario's clean
// verdict means something.
func TestCheck_ClassifiesEveryKindOfOutcome(t *testing.T) {
	store := dbtest.SQLite(t)
	ctx := context.Background()
	tn := &geoetl.Tenant{Name: "verdict"}
	if err := store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	wf := workflow(t, store, tn.ID, "noop", defNoop)
	sc := schedule(t, store, tn.ID, wf, "every-second", "* * * * * *", nil)
	from := time.Date(2027, 1, 4, 10, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return from.Add(time.Duration(i) * time.Second) }
	row := func(i int, trig geoetl.Trigger, st geoetl.ExecutionStatus, edit func(*geoetl.Execution)) *geoetl.Execution {
		id := sc.ID
		e := &geoetl.Execution{TenantID: tn.ID, ScheduleID: &id, WorkflowID: wf.ID, ScheduledAt: at(i), DueAt: at(i), Trigger: trig, Status: st}
		started := at(i).Add(3 * time.Millisecond)
		if st != geoetl.ExecPending {
			e.ExecutedAt = &started
		}
		if edit != nil {
			edit(e)
		}
		if err := store.CreateExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	msg := func(s string) *string { return &s }
	// 0: once. 1: lost, then retried and completed: once, one retry.
	row(0, geoetl.TriggerSchedule, geoetl.ExecCompleted, nil)
	lost := row(1, geoetl.TriggerSchedule, geoetl.ExecFailed, func(e *geoetl.Execution) { e.ErrorMessage = msg(geoetl.ErrorInstanceLost) })
	row(1, geoetl.TriggerRetry, geoetl.ExecCompleted, func(e *geoetl.Execution) { e.RetryCount, e.RetryOf = 1, &lost.ID })
	// 2: completed by the original and by a retry: twice.
	first := row(2, geoetl.TriggerSchedule, geoetl.ExecCompleted, nil)
	row(2, geoetl.TriggerRetry, geoetl.ExecCompleted, func(e *geoetl.Execution) { e.RetryCount, e.RetryOf = 1, &first.ID })
	// 3: skipped with a reason: explained. 4: nothing: missed.
	row(3, geoetl.TriggerSchedule, geoetl.ExecSkipped, func(e *geoetl.Execution) {
		e.Skipped, e.SkipReason, e.ExecutedAt = true, msg(geoetl.SkipReasonSuperseded), nil
	})
	// 5: still running: unresolved. 6: started a second early: early.
	row(5, geoetl.TriggerSchedule, geoetl.ExecRunning, nil)
	row(6, geoetl.TriggerSchedule, geoetl.ExecCompleted, func(e *geoetl.Execution) {
		early := at(6).Add(-time.Second)
		e.ExecutedAt = &early
	})
	// 7: a manual run is not an occurrence: missed all the same.
	row(7, geoetl.TriggerManual, geoetl.ExecCompleted, nil)

	v, err := Check(ctx, store, tn.ID, []*geoetl.Schedule{sc}, Window{From: at(0), To: at(8)})
	if err != nil {
		t.Fatal(err)
	}
	want := Verdict{Expected: 8, Once: 3, Twice: 1, Missed: 2, Unresolved: 1, Lost: 1, Early: 1, Retried: 2}
	got := Verdict{Expected: v.Expected, Once: v.Once, Twice: v.Twice, Missed: v.Missed, Unresolved: v.Unresolved, Lost: v.Lost, Early: v.Early, Retried: v.Retried}
	if got.Expected != want.Expected || got.Once != want.Once || got.Twice != want.Twice || got.Missed != want.Missed ||
		got.Unresolved != want.Unresolved || got.Lost != want.Lost || got.Early != want.Early || got.Retried != want.Retried {
		t.Fatalf("verdict %s\nwant expected 8, once 3, twice 1, missed 2, unresolved 1, lost 1, early 1, retried 2", v)
	}
	if v.Explained[geoetl.SkipReasonSuperseded] != 1 || v.ExplainedCount() != 1 {
		t.Errorf("explained = %v, want one %q", v.Explained, geoetl.SkipReasonSuperseded)
	}
	if v.Err() == nil {
		t.Error("Err() is nil for a verdict with duplicates, misses and early starts")
	}
	if v.P50 != 3*time.Millisecond {
		t.Errorf("lateness p50 = %s, want 3ms", v.P50)
	}
}

func TestCheck_OccurrencesFollowTheZone(t *testing.T) {
	sc := geoetl.NewSchedule()
	sc.CronExpression, sc.Timezone = "30 2 * * *", "America/New_York"
	// Spring forward: 02:30 does not exist and fires at the jump, 07:00Z.
	got, err := Occurrences(sc, Window{From: time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Equal(time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("occurrences = %v, want [2027-03-14T07:00:00Z]", got)
	}
}
