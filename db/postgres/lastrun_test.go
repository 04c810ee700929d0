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
// must be committed, and FinishExecutions return, while a claimer holds its
// schedule's row (claims lock due schedules until they commit); the
// schedule's last run, set aside meanwhile, follows once the row is free.
// Outcome transactions that waited for claimers while holding their
// execution rows formed, under CPU starvation, a convoy with the claims
// (which skip schedule rows an outcome transaction holds); an outcome
// writer that waited for the row after its commit was held behind the
// claims of every instance, and the late outcomes kept their schedules'
// slots taken.
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
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FinishExecutions waited for the schedule row a claimer holds")
	}
	got, err := st.FindExecutionByID(ctx, tn.ID, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != geoetl.ExecCompleted {
		t.Fatalf("status = %s, want completed", got.Status)
	}
	other, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	var aside string
	if err := other.QueryRow(ctx, `SELECT last_run_id::text FROM schedule_last_runs WHERE schedule_id = $1`, sc.ID).Scan(&aside); err != nil || aside != e.ID {
		t.Fatalf("set-aside last run = %q (%v), want %s", aside, err, e.ID)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		got, err := st.FindScheduleByID(ctx, tn.ID, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastRunID != nil && *got.LastRunID == e.ID && got.LastRunStatus != nil && *got.LastRunStatus == geoetl.ExecCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last run = %v %v, want %s completed, once the row was free", got.LastRunID, got.LastRunStatus, e.ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var n int
	if err := other.QueryRow(ctx, `SELECT count(*) FROM schedule_last_runs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d set-aside rows left after the fold (%v)", n, err)
	}
}

// TestFoldLastRuns_KeepsTheLaterRunAndDropsGoneSchedules: a set-aside last
// run older than the schedule's own does not replace it (runs of one
// schedule finish out of order), a newer one does, and the aside row of a
// deleted schedule is dropped; rows an earlier process left are folded.
func TestFoldLastRuns_KeepsTheLaterRunAndDropsGoneSchedules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, u := dbtest.Postgres(t)
	folder, ok := st.(interface {
		FoldLastRuns(context.Context) (bool, error)
	})
	if !ok {
		t.Fatal("the PostgreSQL store has no FoldLastRuns")
	}
	tn := &geoetl.Tenant{Name: "fold"}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	wf := &geoetl.Workflow{TenantID: tn.ID, Name: "wf", Definition: json.RawMessage(`{"nodes":[]}`)}
	if err := st.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	var scs []*geoetl.Schedule
	for _, name := range []string{"older", "newer", "gone"} {
		sc := geoetl.NewSchedule()
		sc.TenantID, sc.WorkflowID, sc.Name, sc.CronExpression, sc.NextRunAt = tn.ID, wf.ID, name, "* * * * *", &now
		if err := st.CreateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	own, stale, fresh := geoetl.NewID(), geoetl.NewID(), geoetl.NewID()
	for _, sc := range scs[:2] {
		if _, err := conn.Exec(ctx, `UPDATE schedules SET last_run_at = $2, last_run_status = 'completed', last_run_id = $3 WHERE id = $1`,
			sc.ID, now, own); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO schedule_last_runs VALUES ($1, $2, 'failed', $3), ($4, $5, 'failed', $6), ($7, $5, 'failed', $6)`,
		scs[0].ID, now.Add(-time.Second), stale, scs[1].ID, now.Add(time.Second), fresh, scs[2].ID); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSchedule(ctx, tn.ID, scs[2].ID); err != nil {
		t.Fatal(err)
	}
	if left, err := folder.FoldLastRuns(ctx); err != nil || left {
		t.Fatalf("FoldLastRuns = %v, %v; want nothing left", left, err)
	}
	for i, want := range []string{own, fresh} {
		got, err := st.FindScheduleByID(ctx, tn.ID, scs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastRunID == nil || *got.LastRunID != want {
			var id string
			if got.LastRunID != nil {
				id = *got.LastRunID
			}
			t.Errorf("%s: last run %q, want %s", scs[i].Name, id, want)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schedule_last_runs`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d set-aside rows left (%v)", n, err)
	}
}
