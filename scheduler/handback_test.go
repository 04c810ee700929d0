package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// A claim handed back by a lost (or stopping) instance waits for a free
// slot. When a newer occurrence of its schedule was claimed meanwhile, the
// slot is never free for it on a schedule firing about as often as the
// lookahead (each occurrence is claimed before the previous one ends), so
// under run_once and skip it is recorded as superseded rather than left
// pending for ever; queue and run_all keep it waiting, as they promise.
func TestHandedBackClaim_SupersededByANewerClaimedOccurrence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		overlap geoetl.OverlapPolicy
		misfire geoetl.MisfirePolicy
		want    geoetl.ExecutionStatus // of the handed-back row after a claim
	}{
		{"SkipRunOnceSkipsIt", geoetl.OverlapSkip, geoetl.MisfireRunOnce, geoetl.ExecSkipped},
		{"SkipMisfireSkipSkipsIt", geoetl.OverlapSkip, geoetl.MisfireSkip, geoetl.ExecSkipped},
		{"CancelPreviousSkipsIt", geoetl.OverlapCancelPrevious, geoetl.MisfireRunOnce, geoetl.ExecSkipped},
		{"QueueKeepsItWaiting", geoetl.OverlapQueue, geoetl.MisfireRunOnce, geoetl.ExecPending},
		{"RunAllKeepsItWaiting", geoetl.OverlapSkip, geoetl.MisfireRunAll, geoetl.ExecPending},
	}
	setupEach(t, func(t *testing.T, b *bundle) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				sc := b.schedule(b.workflow(defEmpty), "0 0 1 1 *", func(s *geoetl.Schedule) {
					s.OverlapPolicy, s.MisfirePolicy = tt.overlap, tt.misfire
				})
				other, beat := "i1", t0
				row := func(at time.Time, inst *string) *geoetl.Execution {
					e := &geoetl.Execution{TenantID: b.tenant.ID, ScheduleID: &sc.ID, WorkflowID: sc.WorkflowID,
						ScheduledAt: at, DueAt: at, Trigger: geoetl.TriggerSchedule, Status: geoetl.ExecPending}
					if inst != nil {
						e.InstanceID, e.HeartbeatAt = inst, &beat
					}
					if err := b.store.CreateExecution(ctx, e); err != nil {
						t.Fatal(err)
					}
					return e
				}
				handedBack := row(t0.Add(-time.Second), nil)
				newer := row(t0.Add(500*time.Millisecond), &other) // claimed by a live instance

				s, err := New(b.config("i2"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.claimer.claim(ctx); err != nil {
					t.Fatal(err)
				}
				got := b.execution(handedBack.ID)
				if got.Status != tt.want {
					t.Fatalf("handed-back row = %s (%s), want %s", got.Status, str(got.SkipReason), tt.want)
				}
				switch tt.want {
				case geoetl.ExecSkipped:
					if str(got.SkipReason) != geoetl.SkipReasonSuperseded {
						t.Fatalf("skip reason = %q, want %q", str(got.SkipReason), geoetl.SkipReasonSuperseded)
					}
				case geoetl.ExecPending:
					if got.InstanceID != nil {
						t.Fatalf("waiting row claimed by %s while the slot is taken", str(got.InstanceID))
					}
				}
				if n := b.execution(newer.ID); n.Status != geoetl.ExecPending || str(n.InstanceID) != other {
					t.Fatalf("newer claim changed: %s on %s", n.Status, str(n.InstanceID))
				}
			})
		}
	})
}
