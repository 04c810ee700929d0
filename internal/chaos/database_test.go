package chaos

import (
	"context"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl/db/dbtest"
)

// TestChaos_DatabaseGoesAway: three instances lose their database in the
// middle of runs. In the default (short) mode every session of the
// instances on this test's database is terminated with
// pg_terminate_backend every few seconds: the pools, the LISTEN
// connection and the elector all reconnect through the same paths as
// after a server restart, without disturbing other tests on the shared
// server. In the long mode (GEOETL_CHAOS_LONG=1) the PostgreSQL server
// itself is also restarted with pg_ctlcluster. No instance may exit, no
// occurrence may run twice, and every miss must be explained.
func TestChaos_DatabaseGoesAway(t *testing.T) {
	// Restarting the server would break the other scenarios' sessions:
	// in the long mode this one runs alone (Go runs the tests that do not
	// call Parallel before it releases those that do).
	if !long {
		t.Parallel()
	}
	f := newFleet(t, 3)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	schedules, w := f.begin(pick(10, 30), pick(6, 12))

	end := time.Now().Add(pick(12*time.Second, 4*time.Minute))
	terminated, restarts := 0, 0
	for round := 0; time.Now().Before(end); round++ {
		time.Sleep(pick(4*time.Second, time.Duration(5000+rng.IntN(10000))*time.Millisecond))
		if long && round%3 == 2 {
			f.restartServer()
			restarts++
			continue
		}
		terminated += f.terminateSessions()
	}
	for _, in := range f.nodes {
		if !in.Running() {
			t.Errorf("%s exited when its database went away:\n%s", in.ID, in.Tail(20))
		}
	}
	t.Logf("%d sessions terminated, %d server restarts", terminated, restarts)
	f.conclude(schedules, w, "database sessions dropped / server restarted")
	if terminated == 0 && restarts == 0 {
		t.Error("no session was terminated: the scenario did nothing")
	}
}

// terminateSessions ends every session of the fleet's instances (not the
// checker's) and returns how many it ended.
func (f *fleet) terminateSessions() int {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbtest.PostgresURL())
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close(ctx)
	p, _ := url.Parse(f.url)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND application_name LIKE 'geoetl-node-%'`, strings.TrimPrefix(p.Path, "/")).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// restartServer restarts the PostgreSQL cluster (long mode only: it
// interrupts every other user of the server) and waits until it answers.
func (f *fleet) restartServer() {
	f.t.Helper()
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) == 0 {
		f.t.Fatalf("cannot find the PostgreSQL cluster to restart: %v", err)
	}
	out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", "restart").CombinedOutput()
	if err != nil {
		f.t.Fatalf("pg_ctlcluster restart: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.store.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			f.t.Fatal("PostgreSQL did not come back within 30 s of its restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.t.Logf("restarted PostgreSQL %s", versions[0].Name())
}
