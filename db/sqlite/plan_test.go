package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geoetl/geoetl/db/migrations"
)

// A schedule's history (the API's /schedules/{id}/history, the console's
// schedule page) must be read through the schedule's index. Without
// statistics SQLite picked the tenant's time index, reading every run of
// the tenant newest first until it had a page of this schedule's: 12 ms
// for a schedule firing every second among 1,000, 56 ms and growing with
// the table for one that rarely runs (120,000 executions).
func TestScheduleHistory_UsesTheSchedulesIndex(t *testing.T) {
	conn := migrated(t)
	for _, q := range []string{
		`SELECT id FROM executions WHERE ` + dialect.NotIndexed("tenant_id") + ` = ? AND schedule_id = ? ORDER BY scheduled_at DESC, created_at DESC, id DESC LIMIT 21`,
		`SELECT count(*) FROM executions WHERE ` + dialect.NotIndexed("tenant_id") + ` = ? AND schedule_id = ?`,
	} {
		if p := queryPlan(t, conn, q, "t", "s"); !strings.Contains(p, "executions_schedule_history_idx") {
			t.Errorf("plan of %q:\n%s\nwant the schedule's history index", q, p)
		}
	}
}

// Every run adds an entry to its schedule's history index on a leaf page
// of that schedule's own, the one page per run that no batching shares.
// Entries of the schedule and the time alone split pages about half as
// often as entries that also carried created_at and id: at 1,000
// every-second schedules, 1.1 instead of 1.4 pages written per run.
func TestScheduleHistoryIndex_HoldsTheScheduleAndTimeOnly(t *testing.T) {
	conn := migrated(t)
	rows, err := conn.QueryContext(context.Background(), `SELECT name FROM pragma_index_info('executions_schedule_history_idx') ORDER BY seqno`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cols, ","); got != "schedule_id,scheduled_at" {
		t.Errorf("executions_schedule_history_idx holds %s, want schedule_id,scheduled_at", got)
	}
}

// The claim reads its batch of due schedules in the due index's order. A
// sort there (the index lacking the id tie-break) read every schedule due
// at the same time, whole rows, in each claim transaction: all 10,000 of
// 10,000 every-second schedules, 20 times a second.
func TestDueSchedules_ReadInTheDueIndexOrder(t *testing.T) {
	conn := migrated(t)
	q := `SELECT id, name FROM schedules WHERE enabled = TRUE AND status = 'active' AND next_run_at <= ? ORDER BY next_run_at, id LIMIT ?`
	p := queryPlan(t, conn, q, 1, 500)
	if !strings.Contains(p, "schedules_due_idx") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("plan of %q:\n%s\nwant the due index, without a sort", q, p)
	}
}

// migrated returns a connection to a new, migrated database file.
func migrated(t *testing.T) *sql.DB {
	t.Helper()
	ctx := context.Background()
	conn, err := sql.Open("sqlite", DSN(filepath.Join(t.TempDir(), "plan.db"), true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p, err := migrations.NewProvider(migrations.SQLite, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return conn
}

// queryPlan returns the details of q's query plan, joined by "; ".
func queryPlan(t *testing.T, conn *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// The scheduler's writes of many rows (Dialect.ValuesFrom) find each row
// of their VALUES list through the table's primary key, not by scanning
// the table for each.
func TestValuesUpdates_FindRowsByPrimaryKey(t *testing.T) {
	conn := migrated(t)
	for q, index := range map[string]string{
		`UPDATE schedules SET next_run_at = u.column2 FROM (VALUES (?, ?), (?, ?), (?, ?), (?, ?)) AS u WHERE schedules.id = u.column1`: "sqlite_autoindex_schedules_1",
		`UPDATE schedules SET last_run_at = u.column2 FROM (VALUES (?, ?), (?, ?), (?, ?), (?, ?)) AS u
			WHERE schedules.id = u.column1 AND (schedules.last_run_at IS NULL OR schedules.last_run_at <= u.column2)`: "sqlite_autoindex_schedules_1",
		`UPDATE executions SET status = u.column2, cancel_requested = (executions.cancel_requested OR u.column3)
			FROM (VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?), (?, ?, ?)) AS u WHERE executions.id = u.column1 AND executions.status IN ('pending', 'running')
			RETURNING id`: "sqlite_autoindex_executions_1",
	} {
		args := make([]any, strings.Count(q, "?"))
		if p := queryPlan(t, conn, q, args...); !strings.Contains(p, "INDEX "+index+" (id=?)") {
			t.Errorf("plan of %q:\n%s\nwant a search of %s", q, p, index)
		}
	}
}
