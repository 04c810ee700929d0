package storetest

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// schedulerClaims pins down the claim primitives the scheduler added on top
// of the first ones: rows waiting for a slot, schedules read in a claim,
// cancel_previous, and the lease rules of Heartbeat and StartExecutions.
func (s *suite) schedulerClaims(t *testing.T) {
	t.Run("DuePendingLeavesOutRowsWaitingForASlot", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		busy, free := w.schedule(t, nil), w.schedule(t, nil)
		at := func(min int) time.Time { return epoch.Add(time.Duration(-min) * time.Minute) }
		w.mustExecution(t, w.execution(busy, at(9), geoetl.TriggerBackfill))
		w.mustExecution(t, w.execution(busy, at(8), geoetl.TriggerManual))
		w.mustExecution(t, w.execution(busy, at(7), geoetl.TriggerSchedule)) // a queued occurrence
		retry := w.mustExecution(t, w.execution(busy, at(6), geoetl.TriggerRetry))
		forced := w.execution(busy, at(5), geoetl.TriggerManual)
		forced.Force = true
		w.mustExecution(t, forced)
		other := w.mustExecution(t, w.execution(free, at(4), geoetl.TriggerManual))
		adhoc := w.mustExecution(t, w.execution(nil, at(3), geoetl.TriggerManual))
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: 10, Waiting: []string{busy.ID, "not-a-uuid"}})
			noErr(t, err)
			sameIDs(t, "due pending not waiting", execIDs(got), []string{retry.ID, forced.ID, other.ID, adhoc.ID})
			got, err = tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: 10})
			noErr(t, err)
			if len(got) != 7 {
				t.Fatalf("without waiting schedules got %d rows, want all 7", len(got))
			}
			return nil
		}))
		wake, err := w.st.NextWakeAt(bg, &geoetl.NextWakeAtParams{Waiting: []string{busy.ID}})
		noErr(t, err)
		if wake == nil || !wake.Equal(retry.DueAt) {
			t.Fatalf("NextWakeAt = %v, want the retry's due time %v", wake, retry.DueAt)
		}
		wake, err = w.st.NextWakeAt(bg, nil)
		noErr(t, err)
		if wake == nil || !wake.Equal(at(9)) {
			t.Fatalf("NextWakeAt(nil) = %v, want the backfill's %v", wake, at(9))
		}
	})

	t.Run("CountDueSchedulesCountsFiringSchedulesUpToTheLimit", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		soon, later := epoch.Add(time.Second), epoch.Add(time.Minute)
		for range 3 {
			w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &soon })
		}
		newWorld(t, w.st).schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &soon }) // another tenant's counts too
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &later })
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &soon; s.Enabled = false })
		w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &soon; s.Status = geoetl.StatusPaused })
		for _, tt := range []struct {
			until time.Time
			limit int
			want  int
		}{{soon, 100, 4}, {soon, 2, 2}, {later, 100, 5}, {epoch, 100, 0}} {
			n, err := w.st.CountDueSchedules(bg, tt.until, tt.limit)
			noErr(t, err)
			if n != tt.want {
				t.Fatalf("CountDueSchedules(%s, %d) = %d, want %d", tt.until, tt.limit, n, tt.want)
			}
		}
	})

	t.Run("FindSchedulesAcrossTenants", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		a := w.schedule(t, nil)
		b := newWorld(t, w.st).schedule(t, nil)
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			got, err := tx.FindSchedules([]string{a.ID, b.ID, geoetl.NewID(), "not-a-uuid"})
			noErr(t, err)
			if len(got) != 2 {
				t.Fatalf("found %d schedules, want 2", len(got))
			}
			sameJSON(t, "schedule a", got[a.ID], a)
			sameJSON(t, "schedule b", got[b.ID], b)
			// Nobody else holds them: FindFreeSchedules finds the same.
			free, held, err := tx.FindFreeSchedules([]string{a.ID, strings.ToUpper(b.ID), geoetl.NewID(), "not-a-uuid"})
			noErr(t, err)
			if len(free) != 2 || len(held) != 0 {
				t.Fatalf("FindFreeSchedules found %d schedules, %d held; want 2 and none", len(free), len(held))
			}
			sameJSON(t, "free schedule a", free[a.ID], a)
			sameJSON(t, "free schedule b", free[b.ID], b)
			return nil
		}))
	})

	t.Run("CancelExecutionsCancelsPendingFlagsRunningLeavesFinished", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		inst := "node-1"
		mk := func(min int, status geoetl.ExecutionStatus) *geoetl.Execution {
			e := w.execution(x, epoch.Add(time.Duration(min)*time.Minute), geoetl.TriggerSchedule)
			e.Status, e.InstanceID, e.HeartbeatAt = status, &inst, &epoch
			return w.mustExecution(t, e)
		}
		pending, running, done := mk(1, geoetl.ExecPending), mk(2, geoetl.ExecRunning), mk(3, geoetl.ExecCompleted)
		reason := geoetl.ErrorCancelledByNewerRun
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			return tx.CancelExecutions([]string{pending.ID, running.ID, done.ID, "not-a-uuid"}, reason)
		}))
		get := func(id string) *geoetl.Execution {
			e, err := w.st.FindExecutionByID(bg, w.ten.ID, id)
			noErr(t, err)
			return e
		}
		if e := get(pending.ID); e.Status != geoetl.ExecCancelled || e.CompletedAt == nil || e.ErrorMessage == nil || *e.ErrorMessage != reason {
			t.Fatalf("pending = %+v, want cancelled at once with the reason", e)
		}
		if e := get(running.ID); e.Status != geoetl.ExecRunning || !e.CancelRequested || e.ErrorMessage == nil || *e.ErrorMessage != reason {
			t.Fatalf("running = %+v, want still running, flagged, with the reason", e)
		}
		if e := get(done.ID); e.Status != geoetl.ExecCompleted || e.CancelRequested || e.ErrorMessage != nil {
			t.Fatalf("finished = %+v, want untouched", e)
		}
		stop, err := w.st.Heartbeat(bg, inst, []string{running.ID})
		noErr(t, err)
		sameIDs(t, "the flagged run learns it must stop", stop, []string{running.ID})
	})

	t.Run("HeartbeatTellsWhatIsNoLongerHeld", func(t *testing.T) {
		t.Parallel()
		w, _ := s.claimWorld(t)
		x := w.schedule(t, nil)
		inst := "node-1"
		mk := func(min int, status geoetl.ExecutionStatus) *geoetl.Execution {
			e := w.execution(x, epoch.Add(time.Duration(min)*time.Minute), geoetl.TriggerSchedule)
			e.Status, e.InstanceID, e.HeartbeatAt = status, &inst, &epoch
			return w.mustExecution(t, e)
		}
		kept, reaped, handed := mk(1, geoetl.ExecRunning), mk(2, geoetl.ExecRunning), mk(3, geoetl.ExecPending)
		msg := geoetl.ErrorInstanceLost
		reaped.Status, reaped.ErrorMessage = geoetl.ExecFailed, &msg
		noErr(t, w.st.FinishExecutions(bg, []geoetl.ExecutionResult{{Execution: reaped}}))
		noErr(t, w.st.ReleaseClaims(bg, []string{handed.ID}))
		noErr(t, w.st.Claim(bg, func(tx geoetl.ClaimTx) error {
			other, now := "node-2", tx.Now()
			handed.InstanceID, handed.HeartbeatAt = &other, &now
			return tx.UpdateExecutions([]*geoetl.Execution{handed})
		}))
		stop, err := w.st.Heartbeat(bg, inst, []string{kept.ID, reaped.ID, handed.ID})
		noErr(t, err)
		want := []string{reaped.ID, handed.ID}
		sort.Strings(want)
		sameIDs(t, "to stop", stop, want)
		// node-1 may not start the claim node-2 holds now.
		noErr(t, w.st.StartExecutions(bg, []geoetl.ExecutionStart{{ExecutionID: handed.ID, InstanceID: inst}}))
		e, err := w.st.FindExecutionByID(bg, w.ten.ID, handed.ID)
		noErr(t, err)
		if e.Status != geoetl.ExecPending || e.InstanceID == nil || *e.InstanceID != "node-2" {
			t.Fatalf("after node-1's start the claim is %s held by %v, want still pending with node-2", e.Status, e.InstanceID)
		}
	})
}
