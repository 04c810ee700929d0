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
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "plan.db")
	conn, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p, err := migrations.NewProvider(migrations.SQLite, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT id FROM executions WHERE ` + dialect.NotIndexed("tenant_id") + ` = ? AND schedule_id = ? ORDER BY scheduled_at DESC, created_at DESC, id DESC LIMIT 21`,
		`SELECT count(*) FROM executions WHERE ` + dialect.NotIndexed("tenant_id") + ` = ? AND schedule_id = ?`,
	} {
		rows, err := conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, "t", "s")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "executions_schedule_history_idx") {
			t.Errorf("plan of %q:\n%s\nwant the schedule's history index", q, p)
		}
	}
}
