package sqlstore_test

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/internal/sqlstore"
)

// TestListChanges_PrunedPastWhatWasKeptOnPostgres: the triggers prune a
// tenant's change log to about its newest 10,000 changes (PostgreSQL
// 00012). A search total, a narrow search's keys and a deep page's
// anchor kept before changes that were pruned since cannot be brought up
// to date from what is left; each list is read afresh and agrees with a
// store that keeps nothing.
func TestListChanges_PrunedPastWhatWasKeptOnPostgres(t *testing.T) {
	t.Parallel()
	st, u := dbtest.Postgres(t)
	store := st.(*sqlstore.Store)
	ten := &geoetl.Tenant{Name: "prune"}
	if err := st.CreateTenant(bg, ten); err != nil {
		t.Fatal(err)
	}
	wf := &geoetl.Workflow{TenantID: ten.ID, Name: "w", Definition: []byte(`{}`)}
	if err := st.CreateWorkflow(bg, wf); err != nil {
		t.Fatal(err)
	}
	create := func(prefix, desc string, from, n int) []*geoetl.Schedule {
		t.Helper()
		var all []*geoetl.Schedule
		for i := from; i < from+n; i += 1000 {
			var batch []*geoetl.Schedule
			for j := i; j < min(i+1000, from+n); j++ {
				x := geoetl.NewSchedule()
				x.TenantID, x.WorkflowID, x.CronExpression = ten.ID, wf.ID, "0 2 * * *"
				x.Name, x.Description = fmt.Sprintf("%s %05d", prefix, j), desc
				batch = append(batch, x)
			}
			errs, err := st.CreateSchedules(bg, batch, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			all = append(all, batch...)
		}
		return all
	}
	hits := create("m", "hit", 0, 600)
	fills := create("m", "fill", 600, 600)

	// "hit" is narrow (its keys are kept), "fill" broad for a store that
	// lets the index find at most 100 (its total is kept), and the page at
	// offset 1,100 by name seeks from an anchor once asked for.
	narrow, broad := store, sqlstore.WithSearchLimits(store, 100, 0)
	fresh := sqlstore.WithoutSearchIndex(store)
	lists := []struct {
		st *sqlstore.Store
		f  geoetl.ScheduleFilter
	}{
		{narrow, geoetl.ScheduleFilter{TenantID: ten.ID, Q: "hit", Page: geoetl.Page{Limit: 5, Offset: 590}}},
		{broad, geoetl.ScheduleFilter{TenantID: ten.ID, Q: "fill", Page: geoetl.Page{Limit: 5}}},
		{narrow, geoetl.ScheduleFilter{TenantID: ten.ID, Page: geoetl.Page{Limit: 5, Offset: 1100}}},
	}
	same := func(when string) {
		t.Helper()
		for _, l := range lists {
			got, gotN, _, err := l.st.FindSchedules(bg, l.f)
			if err != nil {
				t.Fatal(err)
			}
			want, wantN, _, err := fresh.FindSchedules(bg, l.f)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != ids(want) || gotN != wantN {
				t.Fatalf("%s, q=%q offset %d: total %d, page %s; read afresh: total %d, page %s", when, l.f.Q, l.f.Offset, gotN, ids(got), wantN, ids(want))
			}
		}
	}
	same("first lists")

	// Changes each list must follow: two matches of each search gone, and
	// a schedule before the anchor's row that matches both.
	for _, x := range []*geoetl.Schedule{hits[0], hits[1], fills[0], fills[1]} {
		if err := st.DeleteSchedule(bg, ten.ID, x.ID); err != nil {
			t.Fatal(err)
		}
	}
	create("a", "hit fill", 0, 1)
	// Then more than 10,000 changes in later transactions, matching none
	// of the searches and after the anchor's row: the prune drops the
	// changes above.
	create("z", "other", 0, 11_000)
	conn, err := pgx.Connect(bg, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	var left int
	if err := conn.QueryRow(bg, `SELECT count(*) FROM schedule_list_changes WHERE tenant_id = $1 AND (sign < 0 OR name_lc < 'z')`, ten.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d changes before the 11,000 are still logged: the log was not pruned past them", left)
	}
	same("after the prune")
}
