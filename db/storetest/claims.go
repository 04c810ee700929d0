package storetest

import (
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// claimWorld is a fresh store (claims see every tenant) with one tenant.
func (s *suite) claimWorld(t *testing.T) (*world, interface{ Advance(time.Duration) }) {
	st, clk := s.fresh(t)
	return newWorld(t, st), clk
}

func (s *suite) claims(t *testing.T) {
	t.Run("DueSchedulesOnlyEnabledActiveAndDue", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		past, future := epoch.Add(-time.Minute), epoch.Add(time.Minute)
		due1 := w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past })
		early := epoch.Add(-time.Hour)
		due2 := w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &early })
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &future })
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past; s.Enabled = false })
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past; s.Status = geoetl.StatusPaused })
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past; s.Status = geoetl.StatusError })
		w.schedule(t, nil) // no next run
		other := newWorld(t, w.st)
		due3 := other.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &epoch })
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			if !tx.Now().Equal(epoch.Truncate(time.Microsecond)) {
				t.Errorf("ClaimTx.Now = %v, want the store clock %v", tx.Now(), epoch)
			}
			got, err := tx.DueSchedules(tx.Now(), 10)
			noErr(t, err)
			sameIDs(t, "due, soonest first, across tenants", scheduleIDs(got), []string{due2.ID, due1.ID, due3.ID})
			sameJSON(t, "due schedule is the full schedule", got[0], due2)
			got, err = tx.DueSchedules(tx.Now(), 1)
			noErr(t, err)
			sameIDs(t, "limit 1", scheduleIDs(got), []string{due2.ID})
			return nil
		}))
		wake, err := w.st.NextWakeAt(bg, nil)
		noErr(t, err)
		if wake == nil || !wake.Equal(early) {
			t.Fatalf("NextWakeAt = %v, want %v", wake, early)
		}
	})

	// Schedules sharing a cron expression are due at the same time; a
	// batch takes them in id order, and the next batch goes on from there.
	t.Run("DueSchedulesDueTogetherComeInIDOrder", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		at := epoch.Add(-time.Second)
		var ids []string
		for range 5 {
			ids = append(ids, w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &at }).ID)
		}
		sort.Strings(ids)
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.DueSchedules(tx.Now(), 3)
			noErr(t, err)
			sameIDs(t, "first batch", scheduleIDs(got), ids[:3])
			later := epoch.Add(time.Minute)
			return tx.AdvanceSchedules([]geoetl.ScheduleAdvance{{ScheduleID: ids[0], NextRunAt: &later}, {ScheduleID: ids[1], NextRunAt: &later}, {ScheduleID: ids[2], NextRunAt: &later}})
		}))
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.DueSchedules(tx.Now(), 3)
			noErr(t, err)
			sameIDs(t, "second batch", scheduleIDs(got), ids[3:])
			return nil
		}))
	})

	t.Run("InsertExecutionsReportsDuplicates", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		a := w.execution(x, epoch, geoetl.TriggerSchedule)
		b := w.execution(x, epoch.Add(time.Minute), geoetl.TriggerSchedule)
		var firstIDs []string
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			ok, err := tx.InsertExecutions([]*geoetl.Execution{a, b, w.execution(x, epoch, geoetl.TriggerCatchup)})
			noErr(t, err)
			if !ok[0] || !ok[1] || ok[2] {
				t.Fatalf("inserted = %v, want [true true false]", ok)
			}
			firstIDs = []string{a.ID, b.ID}
			return nil
		}))
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			ok, err := tx.InsertExecutions([]*geoetl.Execution{w.execution(x, epoch, geoetl.TriggerSchedule), w.execution(x, epoch, geoetl.TriggerRetry)})
			noErr(t, err)
			if ok[0] || !ok[1] {
				t.Fatalf("second claim inserted = %v, want [false true]", ok)
			}
			return nil
		}))
		got, total, _, err := w.st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, Trigger: geoetl.TriggerSchedule})
		noErr(t, err)
		if total != 2 {
			t.Fatalf("%d schedule executions, want 2", total)
		}
		sort.Strings(firstIDs)
		ids := execIDs(got)
		sort.Strings(ids)
		sameIDs(t, "stored", ids, firstIDs)
	})

	t.Run("ClaimErrorRollsBackEverything", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		past := epoch.Add(-time.Minute)
		x := w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past })
		boom := errors.New("boom")
		err := w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			_, err := tx.InsertExecutions([]*geoetl.Execution{w.execution(x, past, geoetl.TriggerSchedule)})
			noErr(t, err)
			noErr(t, tx.AdvanceSchedules([]geoetl.ScheduleAdvance{{ScheduleID: x.ID, NextRunAt: &epoch}}))
			return boom
		})
		if err != boom {
			t.Fatalf("Claim error = %v, want fn's error", err)
		}
		_, total, _, err := w.st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID})
		noErr(t, err)
		got, err := w.st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if total != 0 || !got.NextRunAt.Equal(past) {
			t.Fatalf("rolled back claim left %d executions, next run %v", total, got.NextRunAt)
		}
	})

	t.Run("AdvanceSchedulesMovesNextRunAndStatus", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		past := epoch.Add(-time.Minute)
		a := w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past })
		b := w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past })
		next := epoch.Add(time.Hour)
		expired, reason := geoetl.StatusExpired, "expired"
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			return tx.AdvanceSchedules([]geoetl.ScheduleAdvance{{ScheduleID: a.ID, NextRunAt: &next}, {ScheduleID: b.ID, Status: &expired, Reason: &reason}})
		}))
		ga, err := w.st.FindScheduleByID(bg, w.ten.ID, a.ID)
		noErr(t, err)
		gb, err := w.st.FindScheduleByID(bg, w.ten.ID, b.ID)
		noErr(t, err)
		if !ga.NextRunAt.Equal(next) || ga.Status != geoetl.StatusActive || ga.Version != 1 {
			t.Fatalf("a = next %v status %s version %d", ga.NextRunAt, ga.Status, ga.Version)
		}
		if gb.NextRunAt != nil || gb.Status != geoetl.StatusExpired || *gb.StatusReason != "expired" {
			t.Fatalf("b = next %v status %s", gb.NextRunAt, gb.Status)
		}
	})

	t.Run("DuePendingExcludesClaimedAndNotDue", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		inst := "node-1"
		free := w.mustExecution(t, w.execution(x, epoch.Add(-time.Minute), geoetl.TriggerRetry))
		claimed := w.execution(x, epoch.Add(-2*time.Minute), geoetl.TriggerRetry)
		claimed.InstanceID, claimed.HeartbeatAt = &inst, &epoch
		w.mustExecution(t, claimed)
		later := w.execution(x, epoch.Add(-3*time.Minute), geoetl.TriggerRetry)
		later.DueAt = epoch.Add(time.Hour)
		w.mustExecution(t, later)
		done := w.execution(x, epoch.Add(-4*time.Minute), geoetl.TriggerManual)
		done.Status = geoetl.ExecCompleted
		w.mustExecution(t, done)
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: 10})
			noErr(t, err)
			sameIDs(t, "due pending", execIDs(got), []string{free.ID})
			return nil
		}))
		wake, err := w.st.NextWakeAt(bg, nil)
		noErr(t, err)
		if wake == nil || !wake.Equal(free.DueAt) {
			t.Fatalf("NextWakeAt = %v, want the unclaimed pending one's due time %v", wake, free.DueAt)
		}
		// A released claim is due again.
		noErr(t, w.st.ReleaseClaims(bg, []string{claimed.ID}))
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: 10})
			noErr(t, err)
			sameIDs(t, "due pending after release", execIDs(got), []string{claimed.ID, free.ID})
			return nil
		}))
	})

	t.Run("OccupancyCountsRunningClaimedAndQueued", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x, y, z := w.schedule(t, nil), w.schedule(t, nil), w.schedule(t, nil)
		inst := "node-1"
		mk := func(s *geoetl.Schedule, min int, trig geoetl.Trigger, status geoetl.ExecutionStatus, claimed bool) *geoetl.Execution {
			e := w.execution(s, epoch.Add(time.Duration(min)*time.Minute), trig)
			e.Status = status
			if claimed {
				e.InstanceID, e.HeartbeatAt = &inst, &epoch
			}
			return w.mustExecution(t, e)
		}
		running := mk(x, 1, geoetl.TriggerSchedule, geoetl.ExecRunning, true)
		claimedRetry := mk(x, 2, geoetl.TriggerRetry, geoetl.ExecPending, true)
		queued := mk(x, 3, geoetl.TriggerSchedule, geoetl.ExecPending, false)
		mk(x, 4, geoetl.TriggerRetry, geoetl.ExecPending, false)    // a retry waiting for its time: no slot
		mk(x, 5, geoetl.TriggerBackfill, geoetl.ExecPending, false) // a backfill: no slot
		mk(x, 6, geoetl.TriggerSchedule, geoetl.ExecCompleted, false)
		manual := mk(y, 1, geoetl.TriggerManual, geoetl.ExecPending, false)
		mk(z, 1, geoetl.TriggerSchedule, geoetl.ExecFailed, false)
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			occ, err := tx.Occupancy(geoetl.OccupancyParams{ScheduleIDs: []string{x.ID, y.ID, z.ID, "not-a-uuid"}})
			noErr(t, err)
			sameIDs(t, "x", execIDs(occ[x.ID]), []string{running.ID, claimedRetry.ID, queued.ID})
			sameIDs(t, "y", execIDs(occ[y.ID]), []string{manual.ID})
			if len(occ[z.ID]) != 0 {
				t.Fatalf("z has %d occupying executions", len(occ[z.ID]))
			}
			return nil
		}))
	})

	t.Run("OccupancyLeavesOutOnlyTheInstancesOwnListedRows", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x, y := w.schedule(t, nil), w.schedule(t, nil)
		mk := func(s *geoetl.Schedule, min int, status geoetl.ExecutionStatus, inst string) *geoetl.Execution {
			e := w.execution(s, epoch.Add(time.Duration(min)*time.Minute), geoetl.TriggerSchedule)
			e.Status = status
			if inst != "" {
				e.InstanceID, e.HeartbeatAt = &inst, &epoch
			}
			return w.mustExecution(t, e)
		}
		mineRunning := mk(x, 1, geoetl.ExecRunning, "node-1")
		mineUnlisted := mk(x, 2, geoetl.ExecPending, "node-1")
		theirs := mk(x, 3, geoetl.ExecRunning, "node-2")
		queued := mk(x, 4, geoetl.ExecPending, "")
		mineOther := mk(y, 1, geoetl.ExecPending, "node-1")
		except := []string{mineRunning.ID, theirs.ID, queued.ID, mineOther.ID, "not-a-uuid"}
		// Checked after the transaction: a failure inside it would leave
		// it open for the parallel cases.
		var listed, unlisted map[string][]*geoetl.Execution
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			var err error
			if listed, err = tx.Occupancy(geoetl.OccupancyParams{ScheduleIDs: []string{x.ID, y.ID}, Instance: "node-1", Except: except}); err != nil {
				return err
			}
			unlisted, err = tx.Occupancy(geoetl.OccupancyParams{ScheduleIDs: []string{x.ID, y.ID}, Instance: "node-1"})
			return err
		}))
		// Listed rows of another instance or of none are still read.
		sameIDs(t, "x", execIDs(listed[x.ID]), []string{mineUnlisted.ID, theirs.ID, queued.ID})
		if len(listed[y.ID]) != 0 {
			t.Fatalf("y has %d occupying executions, want its listed own row left out", len(listed[y.ID]))
		}
		sameIDs(t, "x without except", execIDs(unlisted[x.ID]), []string{mineRunning.ID, mineUnlisted.ID, theirs.ID, queued.ID})
		sameIDs(t, "y without except", execIDs(unlisted[y.ID]), []string{mineOther.ID})
	})

	t.Run("UpdateExecutionsWritesSchedulerFields", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		e := w.mustExecution(t, w.execution(w.schedule(t, nil), epoch, geoetl.TriggerSchedule))
		inst, reason := "node-2", geoetl.SkipReasonOverlap
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			e.Status, e.Skipped, e.SkipReason, e.InstanceID, e.CompletedAt = geoetl.ExecSkipped, true, &reason, &inst, &epoch
			return tx.UpdateExecutions([]*geoetl.Execution{e})
		}))
		got, err := w.st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		sameJSON(t, "updated", got, e)
	})

	t.Run("FindWorkflowAcrossTenants", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		other := mustTenant(t, w.st)
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.FindWorkflow(w.ten.ID, w.wf.ID)
			noErr(t, err)
			sameJSON(t, "workflow", got, w.wf)
			_, err = tx.FindWorkflow(other.ID, w.wf.ID)
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = tx.FindWorkflow(w.ten.ID, "nope")
			wantCode(t, err, geoetl.ENOTFOUND)
			return nil
		}))
	})

	t.Run("StartHeartbeatAndCancel", func(t *testing.T) {
		t.Parallel()
		w, clk := s.claimWorld(t)
		x := w.schedule(t, nil)
		inst := "node-1"
		var a, b *geoetl.Execution
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			a, b = w.execution(x, epoch, geoetl.TriggerSchedule), w.execution(x, epoch.Add(time.Minute), geoetl.TriggerSchedule)
			for _, e := range []*geoetl.Execution{a, b} {
				now := tx.Now()
				e.InstanceID, e.HeartbeatAt = &inst, &now
			}
			_, err := tx.InsertExecutions([]*geoetl.Execution{a, b})
			return err
		}))
		clk.Advance(time.Second)
		noErr(t, w.st.StartExecutions(bg, []geoetl.ExecutionStart{{ExecutionID: a.ID, InstanceID: inst, ExecutedAt: epoch.Add(time.Second)}}))
		got, err := w.st.FindExecutionByID(bg, w.ten.ID, a.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecRunning || !got.ExecutedAt.Equal(epoch.Add(time.Second)) || *got.InstanceID != inst {
			t.Fatalf("started = %+v", got)
		}
		cancelled, err := w.st.Heartbeat(bg, inst, []string{a.ID, b.ID})
		noErr(t, err)
		if len(cancelled) != 0 {
			t.Fatalf("told to stop %v before anyone asked", cancelled)
		}
		_, err = w.st.RequestCancel(bg, w.ten.ID, a.ID) // running: flagged
		noErr(t, err)
		_, err = w.st.RequestCancel(bg, w.ten.ID, b.ID) // claimed but pending: cancelled at once
		noErr(t, err)
		clk.Advance(time.Second)
		cancelled, err = w.st.Heartbeat(bg, inst, []string{a.ID, b.ID, "not-a-uuid"})
		noErr(t, err)
		want := []string{a.ID, b.ID}
		sort.Strings(want)
		sameIDs(t, "must stop", cancelled, want)
		got, err = w.st.FindExecutionByID(bg, w.ten.ID, a.ID)
		noErr(t, err)
		if !got.HeartbeatAt.Equal(epoch.Add(2 * time.Second).Truncate(time.Microsecond)) {
			t.Fatalf("heartbeat = %v", got.HeartbeatAt)
		}
		// An instance that does not hold a row is told to stop it, and its
		// heartbeat does not refresh the row.
		cancelled, err = w.st.Heartbeat(bg, "node-2", []string{a.ID})
		noErr(t, err)
		sameIDs(t, "node-2 must stop", cancelled, []string{a.ID})
		got, err = w.st.FindExecutionByID(bg, w.ten.ID, a.ID)
		noErr(t, err)
		if *got.InstanceID != inst || !got.HeartbeatAt.Equal(epoch.Add(2*time.Second).Truncate(time.Microsecond)) {
			t.Fatalf("node-2 touched the row: %v %v", *got.InstanceID, got.HeartbeatAt)
		}
		// Starting the cancelled one changes nothing.
		noErr(t, w.st.StartExecutions(bg, []geoetl.ExecutionStart{{ExecutionID: b.ID, InstanceID: inst}}))
		got, err = w.st.FindExecutionByID(bg, w.ten.ID, b.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecCancelled {
			t.Fatalf("start revived a cancelled execution: %s", got.Status)
		}
	})

	t.Run("OnlyTheClaimingInstanceStarts", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		inst := "node-1"
		e := w.execution(w.schedule(t, nil), epoch, geoetl.TriggerSchedule)
		e.InstanceID, e.HeartbeatAt = &inst, &epoch
		w.mustExecution(t, e)
		noErr(t, w.st.StartExecutions(bg, []geoetl.ExecutionStart{{ExecutionID: e.ID, InstanceID: "node-2"}}))
		got, err := w.st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecPending || *got.InstanceID != inst {
			t.Fatalf("another instance started the row: %s on %s", got.Status, *got.InstanceID)
		}
	})

	t.Run("StaleExecutionsAndRelease", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		inst := "node-1"
		old, fresh := epoch.Add(-time.Minute), epoch
		mk := func(min int, status geoetl.ExecutionStatus, hb *time.Time, owner *string) *geoetl.Execution {
			e := w.execution(x, epoch.Add(time.Duration(min)*time.Minute), geoetl.TriggerSchedule)
			e.Status, e.HeartbeatAt, e.InstanceID = status, hb, owner
			return w.mustExecution(t, e)
		}
		staleRunning := mk(1, geoetl.ExecRunning, &old, &inst)
		staleClaim := mk(2, geoetl.ExecPending, &old, &inst)
		mk(3, geoetl.ExecRunning, &fresh, &inst) // fresh heartbeat
		mk(4, geoetl.ExecPending, nil, nil)      // unclaimed
		mk(5, geoetl.ExecCompleted, &old, &inst) // finished
		got, err := w.st.StaleExecutions(bg, epoch.Add(-30*time.Second), 10)
		noErr(t, err)
		ids := execIDs(got)
		sort.Strings(ids)
		want := []string{staleRunning.ID, staleClaim.ID}
		sort.Strings(want)
		sameIDs(t, "stale", ids, want)
		got, err = w.st.StaleExecutions(bg, epoch.Add(-30*time.Second), 1)
		noErr(t, err)
		if len(got) != 1 {
			t.Fatalf("limit 1 gave %d", len(got))
		}
		noErr(t, w.st.ReleaseClaims(bg, []string{staleClaim.ID, staleRunning.ID}))
		got, err = w.st.StaleExecutions(bg, epoch.Add(-30*time.Second), 10)
		noErr(t, err)
		sameIDs(t, "after release only the running one is stale", execIDs(got), []string{staleRunning.ID})
		e, err := w.st.FindExecutionByID(bg, w.ten.ID, staleClaim.ID)
		noErr(t, err)
		if e.InstanceID != nil || e.HeartbeatAt != nil || e.Status != geoetl.ExecPending {
			t.Fatalf("released claim = %+v", e)
		}
	})

	t.Run("FinishWritesRetryDeliveriesAndLastRunAtomically", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		inst := "node-1"
		e := w.execution(x, epoch, geoetl.TriggerSchedule)
		e.Status, e.InstanceID, e.ExecutedAt = geoetl.ExecRunning, &inst, &epoch
		w.mustExecution(t, e)
		done := epoch.Add(90 * time.Second)
		dur, msg := int64(90000), "boom"
		e.Status, e.CompletedAt, e.DurationMs, e.ErrorMessage, e.Summary = geoetl.ExecFailed, &done, &dur, &msg, map[string]any{"featuresRead": 3.0}
		retry := w.execution(x, epoch, geoetl.TriggerRetry)
		retry.RetryCount, retry.RetryOf, retry.DueAt = 1, &e.ID, epoch.Add(5*time.Minute)
		eid := e.ID
		d := &geoetl.Delivery{TenantID: w.ten.ID, ExecutionID: &eid, ScheduleID: &x.ID, Event: "execution.failed", Channel: geoetl.ChannelWebhook,
			Target: "https://example.com/hook/secret", Payload: []byte(`{"x":1}`)}
		noErr(t, w.st.FinishExecutions(bg, []geoetl.ExecutionResult{{Execution: e, Retry: retry, Deliveries: []*geoetl.Delivery{d}}}))
		got, err := w.st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecFailed || *got.ErrorMessage != "boom" || *got.DurationMs != dur || got.Summary["featuresRead"] != 3.0 || !got.CompletedAt.Equal(done) {
			t.Fatalf("finished = %+v", got)
		}
		r, err := w.st.FindExecutionByID(bg, w.ten.ID, retry.ID)
		noErr(t, err)
		if r.Trigger != geoetl.TriggerRetry || *r.RetryOf != e.ID || r.RetryCount != 1 || !r.DueAt.Equal(retry.DueAt) || r.Status != geoetl.ExecPending {
			t.Fatalf("retry = %+v", r)
		}
		ds, err := w.st.ListDeliveries(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if len(ds) != 1 || ds[0].Status != geoetl.DeliveryPending || string(ds[0].Payload) != `{"x":1}` || ds[0].Target != d.Target ||
			ds[0].MaskedTarget != geoetl.MaskURL(d.Target) || ds[0].NextAttemptAt == nil {
			t.Fatalf("deliveries = %+v", ds)
		}
		sch, err := w.st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if sch.LastRunID == nil || *sch.LastRunID != e.ID || *sch.LastRunStatus != geoetl.ExecFailed || !sch.LastRunAt.Equal(epoch) || sch.Version != 1 {
			t.Fatalf("schedule last run = %v %v %v", sch.LastRunID, sch.LastRunStatus, sch.LastRunAt)
		}
		// An older run finishing later does not replace the last run.
		olderAt := epoch.Add(-time.Hour)
		older := w.execution(x, olderAt, geoetl.TriggerManual)
		older.Status, older.ExecutedAt, older.InstanceID = geoetl.ExecRunning, &olderAt, &inst
		w.mustExecution(t, older)
		older.Status = geoetl.ExecCompleted
		noErr(t, w.st.FinishExecutions(bg, []geoetl.ExecutionResult{{Execution: older}}))
		sch, err = w.st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if *sch.LastRunID != e.ID {
			t.Fatalf("last run moved back to an older run")
		}
	})

	// A claimed occurrence the scheduler decided not to run when it fell
	// due (superseded by a later one, or an overlap) is recorded skipped
	// through FinishExecutions, a miss record of one, and is no run of its
	// schedule: the last run stays what it was.
	t.Run("FinishRecordsASkippedClaimWithoutMakingItTheLastRun", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		inst := "node-1"
		ran := w.execution(x, epoch, geoetl.TriggerSchedule)
		ran.Status, ran.InstanceID, ran.ExecutedAt = geoetl.ExecRunning, &inst, &epoch
		w.mustExecution(t, ran)
		ran.Status = geoetl.ExecCompleted
		noErr(t, w.st.FinishExecutions(bg, []geoetl.ExecutionResult{{Execution: ran}}))
		at := epoch.Add(time.Second)
		e := w.execution(x, at, geoetl.TriggerCatchup)
		e.InstanceID = &inst
		w.mustExecution(t, e)
		done, reason := epoch.Add(2*time.Second), geoetl.SkipReasonSuperseded
		e.Status, e.Skipped, e.SkipReason, e.CompletedAt, e.MissedCount, e.MissedUntil = geoetl.ExecSkipped, true, &reason, &done, 1, &at
		noErr(t, w.st.FinishExecutions(bg, []geoetl.ExecutionResult{{Execution: e}}))
		got, err := w.st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecSkipped || !got.Skipped || got.SkipReason == nil || *got.SkipReason != reason || got.MissedCount != 1 ||
			got.MissedUntil == nil || !got.MissedUntil.Equal(at) || got.ExecutedAt != nil {
			t.Fatalf("skipped = %+v", got)
		}
		sch, err := w.st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if sch.LastRunID == nil || *sch.LastRunID != ran.ID || *sch.LastRunStatus != geoetl.ExecCompleted {
			t.Fatalf("schedule last run = %v %v, want the completed run", sch.LastRunID, sch.LastRunStatus)
		}
	})

	// Many rows in one call, as the scheduler writes them: each advance,
	// outcome and last run lands on its own row, an outcome for a row that
	// finished meanwhile changes nothing, and a schedule with two runs in
	// the batch keeps the later as its last.
	t.Run("AdvanceAndFinishManyAtOnce", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		inst := "node-1"
		var scheds []*geoetl.Schedule
		var results []geoetl.ExecutionResult
		for i := range 7 {
			x := w.schedule(t, nil)
			scheds = append(scheds, x)
			at := epoch.Add(time.Duration(i) * time.Second)
			e := w.execution(x, at, geoetl.TriggerSchedule)
			e.Status, e.InstanceID, e.ExecutedAt = geoetl.ExecRunning, &inst, &at
			if i == 3 { // claimed, to be cancelled before it starts
				e.Status, e.ExecutedAt = geoetl.ExecPending, nil
			}
			w.mustExecution(t, e)
			e.ExecutedAt = &at
			results = append(results, geoetl.ExecutionResult{Execution: e})
		}
		later := epoch.Add(time.Hour)
		second := w.execution(scheds[0], later, geoetl.TriggerManual)
		second.Status, second.InstanceID, second.ExecutedAt = geoetl.ExecRunning, &inst, &later
		w.mustExecution(t, second)
		results = append(results, geoetl.ExecutionResult{Execution: second})
		cancelled := results[3].Execution
		_, err := w.st.RequestCancel(bg, w.ten.ID, cancelled.ID)
		noErr(t, err)

		var advances []geoetl.ScheduleAdvance
		for i, x := range scheds {
			next := epoch.Add(time.Duration(i+1) * time.Minute)
			a := geoetl.ScheduleAdvance{ScheduleID: x.ID, NextRunAt: &next}
			if i == 6 {
				a.NextRunAt = nil
			}
			advances = append(advances, a)
		}
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error { return tx.AdvanceSchedules(advances) }))

		for i, r := range results {
			done := r.Execution.ExecutedAt.Add(time.Second)
			dur := int64(1000 + i)
			r.Execution.Status, r.Execution.CompletedAt, r.Execution.DurationMs = geoetl.ExecCompleted, &done, &dur
			r.Execution.Summary = map[string]any{"featuresRead": float64(i)}
			if i == 3 {
				results[i].Retry = w.execution(scheds[3], epoch, geoetl.TriggerRetry)
			}
		}
		noErr(t, w.st.FinishExecutions(bg, results))

		for i, r := range results {
			got, err := w.st.FindExecutionByID(bg, w.ten.ID, r.Execution.ID)
			noErr(t, err)
			if i == 3 {
				if got.Status != geoetl.ExecCancelled {
					t.Errorf("row cancelled before its outcome: status %s, want cancelled to stand", got.Status)
				}
				continue
			}
			if got.Status != geoetl.ExecCompleted || got.DurationMs == nil || *got.DurationMs != int64(1000+i) ||
				got.Summary["featuresRead"] != float64(i) || !got.CompletedAt.Equal(*r.Execution.CompletedAt) || !got.ExecutedAt.Equal(*r.Execution.ExecutedAt) {
				t.Errorf("outcome %d = %+v", i, got)
			}
		}
		_, total, _, err := w.st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, Trigger: geoetl.TriggerRetry})
		noErr(t, err)
		if total != 0 {
			t.Errorf("%d retries: the ignored outcome's retry was inserted", total)
		}
		for i, x := range scheds {
			got, err := w.st.FindScheduleByID(bg, w.ten.ID, x.ID)
			noErr(t, err)
			switch {
			case i == 6 && got.NextRunAt != nil:
				t.Errorf("schedule %d next run = %v, want none", i, got.NextRunAt)
			case i < 6 && (got.NextRunAt == nil || !got.NextRunAt.Equal(*advances[i].NextRunAt)):
				t.Errorf("schedule %d next run = %v, want %v", i, got.NextRunAt, advances[i].NextRunAt)
			}
			want := results[i].Execution
			if i == 0 {
				want = second
			}
			if i == 3 {
				if got.LastRunID != nil {
					t.Errorf("schedule %d last run = %v, want none (its outcome was ignored)", i, *got.LastRunID)
				}
				continue
			}
			if got.LastRunID == nil || *got.LastRunID != want.ID || got.LastRunStatus == nil || *got.LastRunStatus != geoetl.ExecCompleted ||
				got.LastRunAt == nil || !got.LastRunAt.Equal(*want.ExecutedAt) {
				t.Errorf("schedule %d last run = %v %v %v, want %s", i, got.LastRunID, got.LastRunStatus, got.LastRunAt, want.ID)
			}
		}
	})

	t.Run("FinishOfAnAlreadyFinishedExecutionChangesNothing", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		e := w.mustExecution(t, w.execution(x, epoch, geoetl.TriggerSchedule))
		_, err := w.st.RequestCancel(bg, w.ten.ID, e.ID)
		noErr(t, err)
		e.Status = geoetl.ExecCompleted
		retry := w.execution(x, epoch, geoetl.TriggerRetry)
		noErr(t, w.st.FinishExecutions(bg, []geoetl.ExecutionResult{{Execution: e, Retry: retry}}))
		got, err := w.st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecCancelled {
			t.Fatalf("status = %s, want cancelled to stand", got.Status)
		}
		_, total, _, err := w.st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID})
		noErr(t, err)
		if total != 1 {
			t.Fatalf("%d executions: the ignored result's retry was inserted", total)
		}
	})

	t.Run("ExpiredSchedulesAndRetention", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		past, future := epoch.Add(-time.Minute), epoch.Add(time.Minute)
		expired := w.schedule(t, func(s *geoetl.Schedule) { s.ExpiresAt = &past })
		w.schedule(t, func(s *geoetl.Schedule) { s.ExpiresAt = &future })
		w.schedule(t, func(s *geoetl.Schedule) { s.ExpiresAt = &past; s.Status = geoetl.StatusExpired })
		got, err := w.st.ExpiredSchedules(bg, epoch, 10)
		noErr(t, err)
		sameIDs(t, "expired", scheduleIDs(got), []string{expired.ID})

		old := w.execution(expired, epoch.Add(-48*time.Hour), geoetl.TriggerSchedule)
		oldDone := epoch.Add(-47 * time.Hour)
		old.Status, old.CompletedAt = geoetl.ExecCompleted, &oldDone
		w.mustExecution(t, old)
		noErr(t, w.st.AppendLogs(bg, []*geoetl.LogEntry{{ExecutionID: old.ID, Level: "info", Message: "x"}}))
		noErr(t, w.st.AppendNodeRuns(bg, []*geoetl.NodeRun{{ExecutionID: old.ID, NodeID: "a", Status: "completed"}}))
		noErr(t, w.st.CreateDeliveries(bg, []*geoetl.Delivery{{TenantID: w.ten.ID, ExecutionID: &old.ID, Event: "execution.completed", Channel: geoetl.ChannelEmail, Target: "a@example.com"}}))
		oldPending := w.execution(expired, epoch.Add(-49*time.Hour), geoetl.TriggerRetry)
		w.mustExecution(t, oldPending)
		recent := w.execution(expired, epoch.Add(-time.Hour), geoetl.TriggerSchedule)
		recent.Status, recent.CompletedAt = geoetl.ExecFailed, &past
		w.mustExecution(t, recent)
		n, err := w.st.DeleteFinishedExecutionsBefore(bg, epoch.Add(-24*time.Hour), 100)
		noErr(t, err)
		if n != 1 {
			t.Fatalf("deleted %d, want 1", n)
		}
		_, err = w.st.FindExecutionByID(bg, w.ten.ID, old.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		for _, id := range []string{oldPending.ID, recent.ID} {
			if _, err := w.st.FindExecutionByID(bg, w.ten.ID, id); err != nil {
				t.Fatalf("retention removed %s: %v", id, err)
			}
		}
	})
}

// concurrentClaimers runs two claims at once on the same due rows and checks
// that no schedule (and no pending execution) is handed to both. On
// PostgreSQL they overlap for real and SKIP LOCKED splits the rows; on
// SQLite the single writer runs them one after the other, and the second
// finds the rows already moved on.
func (s *suite) concurrentClaimers(t *testing.T, w *world, n int) {
	past := epoch.Add(-time.Minute)
	for i := 0; i < n; i++ {
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &past })
		w.mustExecution(t, w.execution(nil, past, geoetl.TriggerManual))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
				due, err := tx.DueSchedules(tx.Now(), n)
				if err != nil {
					return err
				}
				pend, err := tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: n})
				if err != nil {
					return err
				}
				var adv []geoetl.ScheduleAdvance
				var execs []*geoetl.Execution
				next := epoch.Add(time.Hour)
				inst := "claimer"
				for _, x := range due {
					adv = append(adv, geoetl.ScheduleAdvance{ScheduleID: x.ID, NextRunAt: &next})
					// Occurrences are inserted claimed, as the dispatcher does.
					e := w.execution(x, *x.NextRunAt, geoetl.TriggerSchedule)
					now := tx.Now()
					e.InstanceID, e.HeartbeatAt = &inst, &now
					execs = append(execs, e)
				}
				for _, e := range pend {
					now := tx.Now()
					e.InstanceID, e.HeartbeatAt = &inst, &now
				}
				if _, err := tx.InsertExecutions(execs); err != nil {
					return err
				}
				if err := tx.UpdateExecutions(pend); err != nil {
					return err
				}
				if err := tx.AdvanceSchedules(adv); err != nil {
					return err
				}
				mu.Lock()
				for _, x := range due {
					seen[x.ID]++
				}
				for _, e := range pend {
					seen[e.ID]++
				}
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Errorf("Claim: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(seen) != 2*n {
		t.Fatalf("claimed %d distinct rows, want %d", len(seen), 2*n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("row %s claimed %d times", id, c)
		}
	}
	_, total, _, err := w.st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, Trigger: geoetl.TriggerSchedule})
	noErr(t, err)
	if total != n {
		t.Fatalf("%d occurrence executions, want %d", total, n)
	}
}
