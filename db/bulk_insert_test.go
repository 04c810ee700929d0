package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/sqlite"
)

// A batch created through CreateSchedules, whose bulk path turns the
// insert triggers off and does their work per batch (migration 00013),
// leaves the search index, the status counts and the list-change log
// exactly as creating the same schedules one by one does, pruning
// included.
func TestCreateSchedules_BulkPathWritesWhatTheTriggersWould(t *testing.T) {
	ctx := context.Background()
	st, u := dbtest.SQLiteURL(t, db.Options{})
	oneByOne, w1 := seedWorld(t, st)
	bulk := &geoetl.Tenant{Name: "bulk"}
	if err := st.CreateTenant(ctx, bulk); err != nil {
		t.Fatal(err)
	}
	w2 := &geoetl.Workflow{TenantID: bulk.ID, Name: "w", Definition: []byte(`{}`)}
	if err := st.CreateWorkflow(ctx, w2); err != nil {
		t.Fatal(err)
	}
	_, path, _ := strings.Cut(u, "sqlite:")
	conn, err := sql.Open("sqlite", sqlite.DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Both tenants' logs start 30 short of the 10,000 changes a tenant
	// keeps, so the second batch prunes. It is larger than one INSERT
	// carries (900 rows), so the bulk statements find the rows of several.
	for _, ten := range []string{oneByOne.ID, bulk.ID} {
		if _, err := conn.ExecContext(ctx, `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 9970)
			INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
			SELECT ?, n, 1, 'active', 'w', '[]', 'old' FROM g`, ten); err != nil {
			t.Fatal(err)
		}
	}
	const first, second = 25, 940
	schedules := func(ten *geoetl.Tenant, w *geoetl.Workflow, from, to int) []*geoetl.Schedule {
		var list []*geoetl.Schedule
		for i := from; i < to; i++ {
			s := geoetl.NewSchedule()
			s.TenantID, s.WorkflowID, s.CronExpression = ten.ID, w.ID, "0 2 * * *"
			s.Name, s.Description = fmt.Sprintf("river %05d", i), fmt.Sprintf("Gauge %d", i%7)
			s.Tags = []string{fmt.Sprintf("t%d", i%3)}
			if i%5 == 0 {
				s.Status = geoetl.StatusPaused
			}
			list = append(list, s)
		}
		return list
	}
	for _, r := range [][2]int{{0, first}, {first, first + second}} {
		for _, s := range schedules(oneByOne, w1, r[0], r[1]) {
			if err := st.CreateSchedule(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		batch := schedules(bulk, w2, r[0], r[1])
		// A taken name in the batch is refused and logs nothing.
		dup := *batch[1]
		batch = append(batch, &dup)
		errs, err := st.CreateSchedules(ctx, batch, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if errs[len(errs)-1] == nil {
			t.Fatal("the repeated name was created")
		}
	}
	dump := func(q string, args ...any) string {
		t.Helper()
		rows, err := conn.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, q := range []string{
		`SELECT status, n FROM schedule_status_counts WHERE tenant_id = ? ORDER BY status`,
		`SELECT generation, sign, status, tags, search_lc FROM schedule_list_changes WHERE tenant_id = ? ORDER BY generation`,
		// The schedules a search term's index entries lead to.
		`SELECT name FROM schedules WHERE tenant_id = ? AND rowid IN (SELECT rowid FROM schedule_search WHERE schedule_search MATCH '"003"') ORDER BY name`,
		`SELECT name FROM schedules WHERE tenant_id = ? AND rowid IN (SELECT rowid FROM schedule_search WHERE schedule_search MATCH '"e 3"') ORDER BY name`,
	} {
		want, got := dump(q, oneByOne.ID), dump(q, bulk.ID)
		if got != want || want == "" {
			t.Fatalf("%s\none by one:\n%.500s\nin bulk:\n%.500s", q, want, got)
		}
	}
	if n := dump(`SELECT count(*), min(generation) FROM schedule_list_changes WHERE tenant_id = ?`, bulk.ID); n != "10000 936\n" {
		t.Fatalf("log of the bulk tenant: %s, want its newest 10,000 changes", n)
	}
	// The index holds exactly the trigrams of every row, and the
	// triggers are on again for the next insert.
	if _, err := conn.ExecContext(ctx, `INSERT INTO schedule_search (schedule_search, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Fatalf("search index: %v", err)
	}
	if n := dump(`SELECT count(*) FROM schedule_bulk_insert`); n != "0\n" {
		t.Fatalf("the triggers were left off: %s", n)
	}
}
