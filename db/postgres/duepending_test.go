package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// TestDuePending_LeavesOutRowsWhoseScheduleAnotherClaimerHolds: a claim
// decides about a pending row holding its schedule's row; while another
// claimer holds that row, DuePending answers at once without the pending
// row (instead of the claim waiting for it, which under load made claims
// of several instances and the outcome writers queue behind each other),
// and returns it once the row is free. A pending row whose schedule is
// gone is still returned, so the claim can fail it.
func TestDuePending_LeavesOutRowsWhoseScheduleAnotherClaimerHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newRowHold(t, "duepending")
	st, tn, wf := h.st, h.ten, h.wf
	now := time.Now().UTC().Add(-time.Minute).Truncate(time.Microsecond)
	var rows []*geoetl.Execution
	for i, name := range []string{"held", "free", "gone"} {
		sc := h.schedule(t, name, nil)
		at := now.Add(time.Duration(i) * time.Second)
		e := &geoetl.Execution{TenantID: tn.ID, ScheduleID: &sc.ID, WorkflowID: wf.ID, ScheduledAt: at, DueAt: at,
			Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending}
		if err := st.CreateExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, e)
	}
	if err := st.DeleteSchedule(ctx, tn.ID, *rows[2].ScheduleID); err != nil {
		t.Fatal(err)
	}
	due := func() []string {
		t.Helper()
		var ids []string
		done := make(chan error, 1)
		go func() {
			done <- st.Claim(ctx, func(tx geoetl.ClaimTx) error {
				got, err := tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now(), Limit: 10})
				for _, e := range got {
					ids = append(ids, e.ID)
				}
				return err
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("DuePending waited for the schedule row another claimer holds")
		}
		return ids
	}

	release := h.hold(t, *rows[0].ScheduleID)
	if got, want := due(), []string{rows[1].ID, rows[2].ID}; !slices.Equal(got, want) {
		t.Fatalf("due pending while the first schedule is held = %v, want %v", got, want)
	}
	// The decider's read: the held schedule is named, not waited for.
	if err := st.Claim(ctx, func(tx geoetl.ClaimTx) error {
		found, held, err := tx.FindFreeSchedules([]string{*rows[0].ScheduleID, *rows[1].ScheduleID, *rows[2].ScheduleID})
		if err != nil {
			return err
		}
		if len(found) != 1 || found[*rows[1].ScheduleID] == nil || !slices.Equal(held, []string{*rows[0].ScheduleID}) {
			t.Errorf("FindFreeSchedules found %d (want the free one only), held %v (want the first)", len(found), held)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	release()
	if got, want := due(), []string{rows[0].ID, rows[1].ID, rows[2].ID}; !slices.Equal(got, want) {
		t.Fatalf("due pending once it is free = %v, want %v", got, want)
	}
}
