package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// tenantQuotas pins down what the per-tenant limits need from a store: a
// capped schedule creation that concurrent creations cannot overrun, the
// count of a tenant's runs holding a slot (with the locks that keep
// concurrent claimers within the limit), wait reasons, and claims leaving out the rows of
// full tenants.
func (s *suite) tenantQuotas(t *testing.T) {
	t.Run("CreateScheduleCappedRefusesTheScheduleOverTheLimit", func(t *testing.T) {
		t.Parallel()
		st, _ := s.fresh(t)
		w, other := newWorld(t, st), newWorld(t, st)
		for i := range 2 {
			noErr(t, st.CreateScheduleCapped(bg, newSchedule(w.ten.ID, w.wf.ID, fmt.Sprintf("s%d", i)), 2))
		}
		err := st.CreateScheduleCapped(bg, newSchedule(w.ten.ID, w.wf.ID, "third"), 2)
		wantCode(t, err, geoetl.EFORBIDDEN)
		if !strings.HasPrefix(geoetl.ErrorMessage(err), geoetl.LimitMaxSchedules+":") {
			t.Fatalf("message %q does not name the limit", geoetl.ErrorMessage(err))
		}
		if _, err := st.FindScheduleByName(bg, w.ten.ID, "third"); !geoetl.IsNotFound(err) {
			t.Fatalf("the refused schedule was stored: %v", err)
		}
		// The limit is per tenant; a higher one, or none, lets it in.
		noErr(t, st.CreateScheduleCapped(bg, newSchedule(other.ten.ID, other.wf.ID, "third"), 2))
		noErr(t, st.CreateScheduleCapped(bg, newSchedule(w.ten.ID, w.wf.ID, "third"), 3))
		noErr(t, st.CreateSchedule(bg, newSchedule(w.ten.ID, w.wf.ID, "fourth")))
		n, err := st.CountSchedules(bg, w.ten.ID)
		noErr(t, err)
		if n != 4 {
			t.Fatalf("CountSchedules = %d, want 4", n)
		}
		if n, err := st.CountSchedules(bg, "not-a-uuid"); err != nil || n != 0 {
			t.Fatalf("CountSchedules(bad id) = %d, %v", n, err)
		}
	})

	t.Run("ConcurrentCappedCreationsNeverPassTheLastPlace", func(t *testing.T) {
		t.Parallel()
		st := s.open(t, nil)
		w := newWorld(t, st)
		const limit, writers = 5, 24
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, refused := 0, 0
		var other []error
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := st.CreateScheduleCapped(bg, newSchedule(w.ten.ID, w.wf.ID, fmt.Sprintf("racer %02d", i)), limit)
				mu.Lock()
				defer mu.Unlock()
				switch geoetl.ErrorCode(err) {
				case "":
					created++
				case geoetl.EFORBIDDEN:
					refused++
				default:
					other = append(other, err)
				}
			}()
		}
		wg.Wait()
		if len(other) > 0 {
			t.Fatalf("concurrent creations failed otherwise: %v", other)
		}
		n, err := st.CountSchedules(bg, w.ten.ID)
		noErr(t, err)
		if created != limit || refused != writers-limit || n != limit {
			t.Fatalf("created %d, refused %d, stored %d; want %d, %d, %d", created, refused, n, limit, writers-limit, limit)
		}
	})

	t.Run("TenantRunsCountsRunningAndClaimedRowsOnly", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		other := newWorld(t, w.st)
		sc := w.schedule(t, nil)
		at := epoch.Add(-time.Minute)
		inst := "node-1"
		mk := func(ww *world, status geoetl.ExecutionStatus, claimed bool, trig geoetl.Trigger, i int) {
			e := ww.execution(nil, at.Add(time.Duration(i)*time.Second), trig)
			if ww == w && trig == geoetl.TriggerSchedule {
				e = ww.execution(sc, at.Add(time.Duration(i)*time.Second), trig)
			}
			e.Status = status
			if claimed {
				e.InstanceID, e.HeartbeatAt = &inst, &at
			}
			if status == geoetl.ExecRunning {
				e.ExecutedAt = &at
			}
			if status.Finished() {
				e.CompletedAt = &at
			}
			ww.mustExecution(t, e)
		}
		mk(w, geoetl.ExecRunning, true, geoetl.TriggerSchedule, 1)
		mk(w, geoetl.ExecPending, true, geoetl.TriggerSchedule, 2)
		mk(w, geoetl.ExecPending, false, geoetl.TriggerManual, 3) // waiting: holds nothing
		mk(w, geoetl.ExecCompleted, false, geoetl.TriggerManual, 4)
		mk(w, geoetl.ExecFailed, true, geoetl.TriggerManual, 5)
		mk(other, geoetl.ExecRunning, true, geoetl.TriggerManual, 6)
		empty := newWorld(t, w.st)
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.TenantRuns(map[string]int{w.ten.ID: 1, strings.ToUpper(other.ten.ID): 1, empty.ten.ID: 1, "not-a-uuid": 1}, 4)
			noErr(t, err)
			if got[w.ten.ID] != 2 || got[other.ten.ID] != 1 || got[empty.ten.ID] != 0 {
				t.Fatalf("TenantRuns = %v, want 2, 1 and 0", got)
			}
			return nil
		}))
		n, err := w.st.CountTenantRuns(bg, w.ten.ID)
		noErr(t, err)
		if n != 2 {
			t.Fatalf("CountTenantRuns = %d, want 2", n)
		}
	})

	// A limit this small leaves no room for claimers counting at once:
	// they take turns.
	t.Run("TenantRunsNearTheLimitMakesClaimersTakeTurns", func(t *testing.T) {
		t.Parallel()
		st := s.open(t, nil)
		w := newWorld(t, st)
		inst := "node-1"
		counted := make(chan struct{})
		release := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- st.Claim(bg, func(tx geoetl.ClaimTx) error {
				got, err := tx.TenantRuns(map[string]int{w.ten.ID: 1}, 3)
				if err != nil {
					return err
				}
				if got[w.ten.ID] != 0 {
					return fmt.Errorf("first claimer counted %d", got[w.ten.ID])
				}
				now := tx.Now()
				e := w.execution(nil, now, geoetl.TriggerManual)
				e.InstanceID, e.HeartbeatAt = &inst, &now
				if _, err := tx.InsertExecutions([]*geoetl.Execution{e}); err != nil {
					return err
				}
				close(counted)
				<-release
				return nil
			})
		}()
		<-counted
		second := make(chan int, 1)
		go func() {
			var n int
			err := st.Claim(bg, func(tx geoetl.ClaimTx) error {
				got, err := tx.TenantRuns(map[string]int{w.ten.ID: 1}, 3)
				n = got[w.ten.ID]
				return err
			})
			if err != nil {
				n = -1
			}
			second <- n
		}()
		// A second claimer that did not wait would answer now, with the
		// first one's run not counted. Give it the chance to.
		select {
		case n := <-second:
			close(release)
			t.Fatalf("the second claimer counted %d while the first held the tenant", n)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		noErr(t, <-first)
		if n := <-second; n != 1 {
			t.Fatalf("the second claimer counted %d, want the first one's run (1)", n)
		}
	})

	t.Run("ConcurrentClaimersNeverGoOverTheTenantLimit", func(t *testing.T) {
		t.Parallel()
		s.concurrentTenantClaimers(t, newWorld(t, s.open(t, nil)))
	})

	t.Run("WaitReasonIsKeptWhilePendingOnly", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		reason := geoetl.TenantWaitReason(4, 4)
		var e *geoetl.Execution
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			e = w.execution(nil, tx.Now(), geoetl.TriggerManual)
			e.WaitReason = &reason
			_, err := tx.InsertExecutions([]*geoetl.Execution{e})
			return err
		}))
		got, err := w.st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got.WaitReason == nil || *got.WaitReason != reason {
			t.Fatalf("wait reason %v, want %q", got.WaitReason, reason)
		}
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got.WaitReason = nil
			return tx.UpdateExecutions([]*geoetl.Execution{got})
		}))
		if got, _ = w.st.FindExecutionByID(bg, w.ten.ID, e.ID); got.WaitReason != nil {
			t.Fatalf("wait reason %q after it was cleared", *got.WaitReason)
		}
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got.WaitReason = &reason
			return tx.UpdateExecutions([]*geoetl.Execution{got})
		}))
		_, err = w.st.RequestCancel(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got, _ = w.st.FindExecutionByID(bg, w.ten.ID, e.ID); got.Status != geoetl.ExecCancelled || got.WaitReason != nil {
			t.Fatalf("cancelled row: status %s, wait reason %v; want no wait reason", got.Status, got.WaitReason)
		}
	})

	t.Run("ClaimsLeaveOutTheRowsOfFullTenants", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		other := newWorld(t, w.st)
		sc := w.schedule(t, nil)
		at := func(min int) time.Time { return epoch.Add(time.Duration(-min) * time.Minute) }
		w.mustExecution(t, w.execution(sc, at(9), geoetl.TriggerBackfill))
		w.mustExecution(t, w.execution(sc, at(8), geoetl.TriggerRetry))
		w.mustExecution(t, w.execution(nil, at(7), geoetl.TriggerManual))
		kept := other.mustExecution(t, other.execution(nil, at(6), geoetl.TriggerManual))
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: 10, Tenants: []string{w.ten.ID}})
			noErr(t, err)
			sameIDs(t, "due pending of tenants not full", execIDs(got), []string{kept.ID})
			got, err = tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: 10, Waiting: []string{sc.ID}, Tenants: []string{other.ten.ID}})
			noErr(t, err)
			if len(got) != 2 { // the retry and the ad hoc run
				t.Fatalf("got %d rows, want the retry and the ad hoc run", len(got))
			}
			return nil
		}))
		wake, err := w.st.NextWakeAt(bg, &geoetl.NextWakeAtParams{Tenants: []string{w.ten.ID}})
		noErr(t, err)
		if wake == nil || !wake.Equal(kept.DueAt) {
			t.Fatalf("NextWakeAt = %v, want the other tenant's row %v", wake, kept.DueAt)
		}
		wake, err = w.st.NextWakeAt(bg, &geoetl.NextWakeAtParams{Tenants: []string{w.ten.ID, other.ten.ID}})
		noErr(t, err)
		if wake != nil {
			t.Fatalf("NextWakeAt = %v with every tenant full and no schedule due, want none", wake)
		}
	})
}

// concurrentTenantClaimers has claimers of one tenant start runs at once,
// a few a claim as TenantRuns allows, each until it finds the tenant full
// and then finishing its runs, in several rounds: the tenant's runs never
// exceed the limit. The limit leaves room for claimers counting at once
// (PostgreSQL) while the tenant is below half of it, and makes them take
// turns above, so both ways and the change between them are crossed.
func (s *suite) concurrentTenantClaimers(t *testing.T, w *world) {
	const limit, claimers, rounds, each = 48, 6, 3, 3
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for c := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst := fmt.Sprintf("node-%d", c)
			for range rounds {
				var mine []*geoetl.Execution
				for {
					var took []*geoetl.Execution
					err := w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
						took = nil
						got, err := tx.TenantRuns(map[string]int{w.ten.ID: each}, limit)
						if err != nil {
							return err
						}
						now := tx.Now()
						for range min(each, limit-got[w.ten.ID]) {
							e := w.execution(nil, now, geoetl.TriggerManual)
							e.InstanceID, e.HeartbeatAt = &inst, &now
							took = append(took, e)
						}
						_, err = tx.InsertExecutions(took)
						return err
					})
					if err != nil {
						errs <- fmt.Errorf("claim: %w", err)
						return
					}
					n, err := w.st.CountTenantRuns(bg, w.ten.ID)
					if err != nil {
						errs <- err
						return
					}
					if n > limit {
						errs <- fmt.Errorf("the tenant holds %d runs, over its limit of %d", n, limit)
						return
					}
					if len(took) == 0 {
						break // full, as far as this claimer may tell
					}
					mine = append(mine, took...)
				}
				var done []geoetl.ExecutionResult
				for _, e := range mine {
					e.Status = geoetl.ExecCompleted
					done = append(done, geoetl.ExecutionResult{Execution: e})
				}
				if err := w.st.FinishExecutions(bg, done); err != nil {
					errs <- fmt.Errorf("finish: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, err := w.st.CountTenantRuns(bg, w.ten.ID); err != nil || n != 0 {
		t.Fatalf("%d runs left holding a slot (%v), want 0", n, err)
	}
}
