package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
)

// TestHeartbeat_DoesNotWaitForARowAnotherTransactionHolds pins down the
// cause of the cluster stall under load: the heartbeat updated every held
// row in one transaction and waited for rows the instance's own writer
// held (starting or finishing them), while the writer waited for the
// heartbeat's rows. Under CPU starvation the heartbeats then timed out one
// after another, every lease went stale, and the reapers handed every claim
// back again and again. A heartbeat must renew the rows it can and leave a
// locked one for its next round, without reporting it as lost.
func TestHeartbeat_DoesNotWaitForARowAnotherTransactionHolds(t *testing.T) {
	fc := clock.NewFake(t0)
	st, u := dbtest.PostgresWith(t, db.Options{Clock: fc})
	b := newBundle(t, st, u, fc)
	s := b.start("i1", nil)
	locked := b.runNow(b.schedule(b.workflow(defWait(3600)), "0 0 1 1 *", nil), nil, false)
	free := b.runNow(b.schedule(b.workflow(defWait(3600)), "0 0 1 1 *", nil), nil, false)
	b.waitFor("both runs running", func(seen []geoetl.ExecutionEvent) bool {
		n := 0
		for _, ev := range seen {
			if ev.Status == geoetl.ExecRunning && (ev.ExecutionID == locked.ID || ev.ExecutionID == free.ID) {
				n++
			}
		}
		return n == 2
	})
	s.runner.writer.drainForTest(t)

	// Another transaction (as the writer finishing it would) holds one row.
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM executions WHERE id = $1 FOR UPDATE`, locked.ID); err != nil {
		t.Fatal(err)
	}

	b.advanceTo(t0.Add(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	s.chores.heartbeat(ctx)
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("the heartbeat took %s: it waited for the locked row", took)
	}
	if hb := b.execution(free.ID).HeartbeatAt; hb == nil || !hb.Equal(t0.Add(time.Minute)) {
		t.Fatalf("heartbeat of the free row = %v, want %s", hb, t0.Add(time.Minute))
	}
	s.held.mu.Lock()
	j := s.held.jobs[locked.ID]
	running := j != nil && j.state == jobRunning
	s.held.mu.Unlock()
	if !running {
		t.Fatal("the locked row's run was stopped: a row the heartbeat skipped is still held")
	}
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.chores.heartbeat(context.Background())
	if hb := b.execution(locked.ID).HeartbeatAt; hb == nil || !hb.Equal(t0.Add(time.Minute)) {
		t.Fatalf("heartbeat of the row once unlocked = %v, want %s", hb, t0.Add(time.Minute))
	}
}
