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

// rowHold is what the tests of writes and reads that must not wait for a
// schedule row another session holds (a claimer, which locks due
// schedules until it commits) share: a store with a tenant and a
// workflow, schedules made in it, and a second session that holds a
// schedule's row.
type rowHold struct {
	st  geoetl.Store
	url string
	ten *geoetl.Tenant
	wf  *geoetl.Workflow
}

func newRowHold(t *testing.T, tenant string) *rowHold {
	t.Helper()
	ctx := context.Background()
	st, u := dbtest.Postgres(t)
	h := &rowHold{st: st, url: u, ten: &geoetl.Tenant{Name: tenant}}
	if err := st.CreateTenant(ctx, h.ten); err != nil {
		t.Fatal(err)
	}
	h.wf = &geoetl.Workflow{TenantID: h.ten.ID, Name: "wf", Definition: json.RawMessage(`{"nodes":[]}`)}
	if err := st.CreateWorkflow(ctx, h.wf); err != nil {
		t.Fatal(err)
	}
	return h
}

// schedule creates a schedule that runs every minute, next at next (nil:
// as the store decides).
func (h *rowHold) schedule(t *testing.T, name string, next *time.Time) *geoetl.Schedule {
	t.Helper()
	sc := geoetl.NewSchedule()
	sc.TenantID, sc.WorkflowID, sc.Name, sc.CronExpression, sc.NextRunAt = h.ten.ID, h.wf.ID, name, "* * * * *", next
	if err := h.st.CreateSchedule(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

// hold locks the schedule's row in a transaction of a session of its own,
// as a claimer holds it, until release (or the end of the test).
func (h *rowHold) hold(t *testing.T, scheduleID string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT 1 FROM schedules WHERE id = $1 FOR UPDATE`, scheduleID); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	}
}
