package chaos

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/sqlite"
)

// TestChaos_SQLiteKilledDuringWrites: one instance on SQLite, writing
// dozens of executions a second, is killed with SIGKILL again and again.
// Right before each kill the test reads every committed execution through
// a separate connection; after the kill the file must open cleanly (the
// WAL recovers, PRAGMA integrity_check says ok) and every execution read
// must still be there, a finished one with the same status. Restarted,
// the instance must leave no occurrence run twice or missed without a
// recorded reason.
func TestChaos_SQLiteKilledDuringWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "geoetl.db")
	in := &Instance{ID: "solo", Bin: bin, DB: "sqlite:" + path, Dir: dir, Args: append([]string{"--shutdown-grace", "10s"}, leaseArgs()...)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last log lines:\n%s", in.Tail(30))
		}
		in.Kill()
	})
	start := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := in.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start()
	store := openSQLite(t, in.DB)
	tenant, err := store.FindTenantByName(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	schedules := mix(t, store, tenant.ID, pick(40, 100), pick(4, 8))
	store.Close() // the checks below open the file afresh after each kill
	reader := openReader(t, path)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	w := windowFrom(2 * time.Second)
	time.Sleep(time.Until(w.From))

	end := time.Now().Add(pick(12*time.Second, 4*time.Minute))
	kills, checked := 0, 0
	for time.Now().Before(end) {
		time.Sleep(time.Duration(pick(3000, 2000)+rng.IntN(3000)) * time.Millisecond)
		before := committed(t, reader)
		in.Kill()
		kills++
		checked += checkAfterKill(t, in.DB, before)
		time.Sleep(pick(time.Second, time.Duration(500+rng.IntN(3000))*time.Millisecond))
		start()
	}
	w = w.closeAt(time.Now())
	store = openSQLite(t, in.DB)
	settleAndCheck(t, store, tenant.ID, schedules, w, settle)
	if err := in.Stop(30 * time.Second); err != nil {
		t.Error(err)
	}
	v, err := Check(context.Background(), store, tenant.ID, schedules, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills; %d committed executions checked after them", kills, checked)
	report(t, "SQLite killed during writes", v)
}

// openSQLite opens a store on the file, as the server does.
func openSQLite(t *testing.T, u string) geoetl.Store {
	t.Helper()
	st, err := db.Open(context.Background(), u, db.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openReader opens a plain read connection, which sees committed
// transactions only.
func openReader(t *testing.T, path string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("sqlite", sqlite.DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// committed reads every execution's status as committed now.
func committed(t *testing.T, conn *sql.DB) map[string]string {
	t.Helper()
	rows, err := conn.Query(`SELECT id, status FROM executions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		out[id] = status
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkAfterKill opens the killed instance's file as the server would,
// checks its integrity and that every execution committed before the kill
// survived (finished ones unchanged), and returns how many it checked.
func checkAfterKill(t *testing.T, u string, before map[string]string) int {
	t.Helper()
	st, err := db.Open(context.Background(), u, db.Options{})
	if err != nil {
		t.Fatalf("the database does not open after a kill: %v", err)
	}
	defer st.Close()
	path, err := sqlite.URLPath(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", sqlite.DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var integrity string
	if err := conn.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check after a kill: %q, %v", integrity, err)
	}
	after := committed(t, conn)
	lost := 0
	for id, status := range before {
		now, ok := after[id]
		finished := geoetl.ExecutionStatus(status).Finished()
		if !ok || (finished && now != status) {
			lost++
			if lost <= 5 {
				t.Errorf("execution %s was %s before the kill, is %q after it", id, status, now)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d committed executions lost or changed by a kill", lost, len(before))
	}
	return len(before)
}
