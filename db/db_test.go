package db_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/sqlite"
)

func TestParse_KnowsBothDatabasesAndRejectsOthersInOneLine(t *testing.T) {
	for _, tc := range []struct {
		url    string
		kind   db.Kind
		target string
		err    string
	}{
		{url: "sqlite:geoetl.db", kind: db.SQLite, target: "geoetl.db"},
		{url: "sqlite://data/geoetl.db", kind: db.SQLite, target: "data/geoetl.db"},
		{url: "sqlite:///var/lib/geoetl.db", kind: db.SQLite, target: "/var/lib/geoetl.db"},
		{url: "file:x.db?cache=private", kind: db.SQLite, target: "file:x.db?cache=private"},
		{url: "sqlite::memory:", kind: db.SQLite, target: ":memory:"},
		{url: "postgres://u@h/db", kind: db.Postgres, target: "postgres://u@h/db"},
		{url: "postgresql://u@h/db?sslmode=disable", kind: db.Postgres, target: "postgresql://u@h/db?sslmode=disable"},
		{url: "mysql://u@h/db", err: `unsupported database URL scheme "mysql" (use sqlite:PATH or postgres://…)`},
		{url: "geoetl.db", err: `database URL "geoetl.db" has no scheme (use sqlite:PATH or postgres://…)`},
		{url: "", err: "empty database URL (use sqlite:PATH or postgres://…)"},
		{url: "sqlite:", err: "sqlite URL has no path (use sqlite:PATH)"},
	} {
		kind, target, err := db.Parse(tc.url)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Parse(%q) error = %v, want %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil || kind != tc.kind || target != tc.target {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q, %q", tc.url, kind, target, err, tc.kind, tc.target)
		}
	}
	if _, err := db.Open(context.Background(), "mysql://x", db.Options{}); err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open(mysql) = %v, want one line", err)
	}
}

func TestMigrate_UpStatusDownOnSQLite(t *testing.T) {
	ctx := context.Background()
	u := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	st, err := db.Open(ctx, u, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ok, _ := st.MigrationsCurrent(ctx); ok {
		t.Fatal("MigrationsCurrent = true before migrating")
	}
	var out bytes.Buffer
	if err := db.Migrate(ctx, u, "status", &out); err != nil || !strings.Contains(out.String(), "pending") {
		t.Fatalf("status before up: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := db.Migrate(ctx, u, "up", &out); err != nil || !strings.Contains(out.String(), "applied 00001_init.sql") {
		t.Fatalf("up: %v\n%s", err, out.String())
	}
	if ok, err := st.MigrationsCurrent(ctx); !ok || err != nil {
		t.Fatalf("MigrationsCurrent after up = %v, %v", ok, err)
	}
	out.Reset()
	if err := db.Migrate(ctx, u, "up", &out); err != nil || !strings.Contains(out.String(), "no pending migrations") {
		t.Fatalf("second up: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := db.Migrate(ctx, u, "down", &out); err != nil || !strings.Contains(out.String(), "rolled back 00014_execution_history_index_narrow.sql") {
		t.Fatalf("down: %v\n%s", err, out.String())
	}
	if err := db.Migrate(ctx, u, "sideways", &out); err == nil {
		t.Fatal("unknown direction accepted")
	}
}

func TestOpen_InMemorySQLiteIsReadyToUse(t *testing.T) {
	ctx := context.Background()
	st, err := db.Open(ctx, "sqlite::memory:", db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateTenant(ctx, &geoetl.Tenant{Name: "mem"}); err != nil {
		t.Fatal(err)
	}
	list, err := st.ListTenants(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListTenants = %v, %v", list, err)
	}
}

// TestMigrateUp_SeveralInstancesAtOnceOnPostgres starts migrations from
// several goroutines against one fresh database, as instances starting
// together would: the session lock lets one migrate and the rest find
// nothing to do.
func TestMigrateUp_SeveralInstancesAtOnceOnPostgres(t *testing.T) {
	t.Parallel() // a database of its own, mostly waiting for the server
	u := dbtest.NewPostgresDB(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.MigrateUp(ctx, u)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent MigrateUp: %v", err)
		}
	}
	st, err := db.Open(ctx, u, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ok, err := st.MigrationsCurrent(ctx); !ok || err != nil {
		t.Fatalf("MigrationsCurrent = %v, %v", ok, err)
	}
	var out bytes.Buffer
	files, _ := filepath.Glob("migrations/postgres/*.sql")
	if err := db.Migrate(ctx, u, "status", &out); err != nil || len(files) == 0 || strings.Count(out.String(), "applied") != len(files) {
		t.Fatalf("status: %v\n%s", err, out.String())
	}
}

// TestMigrate_TwoDatabasesOfOneClusterAtOnce migrates two databases at the
// same moment: both create the cluster-wide role, and neither may fail.
func TestMigrate_TwoDatabasesOfOneClusterAtOnce(t *testing.T) {
	t.Parallel() // a database of its own, mostly waiting for the server
	a, b := dbtest.NewPostgresDB(t), dbtest.NewPostgresDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, u := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.MigrateUp(context.Background(), u)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrate_DownAndUpAgainOnPostgres(t *testing.T) {
	t.Parallel() // a database of its own, mostly waiting for the server
	u := dbtest.NewPostgresDB(t)
	ctx := context.Background()
	var out bytes.Buffer
	for _, dir := range []string{"up", "down", "down", "up"} {
		if err := db.Migrate(ctx, u, dir, &out); err != nil {
			t.Fatalf("%s: %v\n%s", dir, err, out.String())
		}
	}
}

// The list counts of migration 00006 start from the schedules already
// there, so an upgraded database reports the same totals as before.
func TestMigrate_ListCountsStartFromExistingSchedules(t *testing.T) {
	ctx := context.Background()
	st, u := dbtest.SQLiteURL(t, db.Options{})
	ten, w := seedWorld(t, st)
	for i := 0; i < 5; i++ {
		s := geoetl.NewSchedule()
		s.TenantID, s.WorkflowID, s.Name, s.CronExpression = ten.ID, w.ID, string(rune('a'+i)), "0 2 * * *"
		if i < 2 {
			s.Status = geoetl.StatusPaused
		}
		if err := st.CreateSchedule(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// Down to before 00006 (later migrations first), then up again.
	var out bytes.Buffer
	for i := 0; !strings.Contains(out.String(), "rolled back 00006"); i++ {
		if err := db.Migrate(ctx, u, "down", &out); err != nil || i == 10 {
			t.Fatalf("down: %v\n%s", err, out.String())
		}
	}
	if err := db.Migrate(ctx, u, "up", &out); err != nil {
		t.Fatal(err)
	}
	for status, want := range map[geoetl.ScheduleStatus]int{"": 5, geoetl.StatusPaused: 2, geoetl.StatusActive: 3} {
		_, total, _, err := st.FindSchedules(ctx, geoetl.ScheduleFilter{TenantID: ten.ID, Status: status, Page: geoetl.Page{Limit: 1}})
		if err != nil || total != want {
			t.Errorf("status %q: total %d, %v; want %d", status, total, err, want)
		}
	}
}

// A list total kept from before the oldest change the log still holds
// (the triggers prune all but a tenant's newest 10,000) is counted again,
// not updated from the changes that are left.
func TestListTotals_CountAgainPastThePrunedChanges(t *testing.T) {
	ctx := context.Background()
	st, u := dbtest.SQLiteURL(t, db.Options{})
	ten, w := seedWorld(t, st)
	create := func(i int) {
		s := geoetl.NewSchedule()
		s.TenantID, s.WorkflowID, s.Name, s.CronExpression = ten.ID, w.ID, fmt.Sprintf("s%d", i), "0 2 * * *"
		s.Tags = []string{"t"}
		if err := st.CreateSchedule(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	total := func() int {
		_, n, _, err := st.FindSchedules(ctx, geoetl.ScheduleFilter{TenantID: ten.ID, Tag: "t", Page: geoetl.Page{Limit: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := 0; i < 4; i++ {
		create(i)
	}
	if n := total(); n != 4 {
		t.Fatalf("total %d, want 4", n)
	}
	// Two more changes (generations 5 and 6), the first pruned as if
	// 10,000 had followed it: the log no longer holds all since 4.
	create(4)
	create(5)
	_, path, _ := strings.Cut(u, "sqlite:")
	conn, err := sql.Open("sqlite", sqlite.DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `DELETE FROM schedule_list_changes WHERE tenant_id = ? AND generation <= 5`, ten.ID); err != nil {
		t.Fatal(err)
	}
	if n := total(); n != 6 {
		t.Fatalf("total %d, want 6", n)
	}
}
