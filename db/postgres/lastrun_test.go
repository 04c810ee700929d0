package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// TestFinishExecutions_DoesNotWaitForAScheduleRowAClaimerHolds: an outcome
// must be committed even while a claimer holds its schedule's row (claims
// lock due schedules until they commit), and the schedule's last run then
// follows once the row is free. Outcome transactions that waited for
// claimers while holding their execution rows formed, under CPU
// starvation, a convoy with the claims (which skip schedule rows an outcome
// transaction holds): outcomes fell thousands behind and occurrences went
// unclaimed for over a minute in the cluster benchmark.
func TestFinishExecutions_DoesNotWaitForAScheduleRowAClaimerHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newRowHold(t, "lastrun")
	st, tn, wf := h.st, h.ten, h.wf
	now := time.Now().UTC().Truncate(time.Microsecond)
	sc := h.schedule(t, "s", &now)
	inst := "i1"
	e := &geoetl.Execution{TenantID: tn.ID, ScheduleID: &sc.ID, WorkflowID: wf.ID, ScheduledAt: now, DueAt: now,
		Trigger: geoetl.TriggerSchedule, Status: geoetl.ExecRunning, ExecutedAt: &now, InstanceID: &inst, HeartbeatAt: &now}
	if err := st.CreateExecution(ctx, e); err != nil {
		t.Fatal(err)
	}

	release := h.hold(t, sc.ID)

	done := make(chan error, 1)
	go func() {
		finished := *e
		finished.Status = geoetl.ExecCompleted
		completed := now.Add(time.Millisecond)
		finished.CompletedAt = &completed
		done <- st.FinishExecutions(ctx, []geoetl.ExecutionResult{{Execution: &finished}})
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		got, err := st.FindExecutionByID(ctx, tn.ID, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == geoetl.ExecCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the outcome was not committed while a claimer held the schedule row: the outcome transaction waited for it")
		}
		time.Sleep(20 * time.Millisecond)
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FinishExecutions did not return once the schedule row was free")
	}
	got, err := st.FindScheduleByID(ctx, tn.ID, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastRunID == nil || *got.LastRunID != e.ID || got.LastRunStatus == nil || *got.LastRunStatus != geoetl.ExecCompleted {
		t.Fatalf("last run = %v %v, want %s completed", got.LastRunID, got.LastRunStatus, e.ID)
	}
}
