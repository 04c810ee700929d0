package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
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
	st, u := dbtest.Postgres(t)
	tn := &geoetl.Tenant{Name: "lastrun"}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	wf := &geoetl.Workflow{TenantID: tn.ID, Name: "wf", Definition: json.RawMessage(`{"nodes":[]}`)}
	if err := st.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	sc := geoetl.NewSchedule()
	sc.TenantID, sc.WorkflowID, sc.Name, sc.CronExpression, sc.NextRunAt = tn.ID, wf.ID, "s", "* * * * *", &now
	if err := st.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	inst := "i1"
	e := &geoetl.Execution{TenantID: tn.ID, ScheduleID: &sc.ID, WorkflowID: wf.ID, ScheduledAt: now, DueAt: now,
		Trigger: geoetl.TriggerSchedule, Status: geoetl.ExecRunning, ExecutedAt: &now, InstanceID: &inst, HeartbeatAt: &now}
	if err := st.CreateExecution(ctx, e); err != nil {
		t.Fatal(err)
	}

	claimer, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer claimer.Close(ctx)
	tx, err := claimer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM schedules WHERE id = $1 FOR UPDATE`, sc.ID); err != nil {
		t.Fatal(err)
	}

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
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
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
