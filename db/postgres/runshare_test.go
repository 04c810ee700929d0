package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
)

// TestTenantRuns_ClaimersOfATenantFarFromItsLimitDoNotTakeTurns: while
// one claim of a tenant well below its run limit is open, another claim
// of the same tenant counts at once instead of waiting for it (claimers
// of one busy tenant on several instances used to take turns on the
// tenant's row), and each is allowed only its reserve, so that together
// they cannot go over the limit. Near the limit the second one waits.
func TestTenantRuns_ClaimersOfATenantFarFromItsLimitDoNotTakeTurns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := dbtest.Postgres(t)
	tn := &geoetl.Tenant{Name: "runshare"}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	wf := &geoetl.Workflow{TenantID: tn.ID, Name: "wf", Definition: json.RawMessage(`{"nodes":[]}`)}
	if err := st.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	inst := "node-1"
	// claim opens a claim that counts with the limit, takes one run and
	// stays open until release closes; counted receives what it counted.
	claim := func(limit int, counted chan<- int, release <-chan struct{}) <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- st.Claim(ctx, func(tx geoetl.ClaimTx) error {
				got, err := tx.TenantRuns(map[string]int{tn.ID: 1}, limit)
				if err != nil {
					return err
				}
				now := tx.Now()
				e := &geoetl.Execution{TenantID: tn.ID, WorkflowID: wf.ID, ScheduledAt: now, DueAt: now, Trigger: geoetl.TriggerManual,
					Status: geoetl.ExecPending, InstanceID: &inst, HeartbeatAt: &now}
				if _, err := tx.InsertExecutions([]*geoetl.Execution{e}); err != nil {
					return err
				}
				counted <- got[tn.ID]
				<-release
				return nil
			})
		}()
		return done
	}
	wait := func(ch <-chan int, what string) int {
		t.Helper()
		select {
		case n := <-ch:
			return n
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not count", what)
			return 0
		}
	}

	// A limit of 1,000: each claimer holding one of the 8 shares may start
	// min(62, 1000 - runs - 7·62) runs, so it takes 938 as held.
	const limit = 1000
	release := make(chan struct{})
	first, second := make(chan int, 1), make(chan int, 1)
	done1 := claim(limit, first, release)
	if n := wait(first, "the first claimer"); n != limit-62 {
		t.Fatalf("the first claimer took %d runs as held, want %d", n, limit-62)
	}
	done2 := claim(limit, second, release)
	if n := wait(second, "the second claimer, while the first is open,"); n != limit-62 {
		t.Fatalf("the second claimer took %d runs as held, want %d", n, limit-62)
	}
	close(release)
	for _, d := range []<-chan error{done1, done2} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}

	// The tenant holds 2 runs: a limit of 3 leaves no room for shares,
	// so the second claimer waits for the first and then counts its run.
	release = make(chan struct{})
	first, second = make(chan int, 1), make(chan int, 1)
	done1 = claim(3, first, release)
	if n := wait(first, "the first claimer"); n != 2 {
		t.Fatalf("the first claimer counted %d runs, want 2", n)
	}
	done2 = claim(3, second, release)
	select {
	case n := <-second:
		close(release)
		t.Fatalf("the second claimer counted %d while the first, near the limit, was open", n)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	if n := wait(second, "the second claimer"); n != 3 {
		t.Fatalf("the second claimer counted %d runs, want the first one's too (3)", n)
	}
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
}
