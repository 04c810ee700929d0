package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// BenchmarkTenantRuns is the count every claim that starts runs makes
// under a tenant limit: one tenant holding 2,000 runs (1,000 every-second
// schedules claimed a second or two ahead) beside 100,000 finished ones.
// One op is one claim transaction that only counts (count), or that does
// nothing (empty-claim), for comparison.
func BenchmarkTenantRuns(b *testing.B) {
	each(b, func(b *testing.B, st geoetl.Store) {
		ctx := context.Background()
		ten, w := seedWorld(b, st)
		inst := "bench"
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for batch := range 51 {
			execs := make([]*geoetl.Execution, 2000)
			for j := range execs {
				at := base.Add(time.Duration(batch*2000+j) * time.Second)
				e := &geoetl.Execution{TenantID: ten.ID, WorkflowID: w.ID, ScheduledAt: at, Trigger: geoetl.TriggerManual}
				if batch == 0 {
					e.InstanceID, e.HeartbeatAt = &inst, &at // holding
				} else {
					e.Status, e.CompletedAt = geoetl.ExecCompleted, &at
				}
				execs[j] = e
			}
			if err := st.Claim(ctx, func(tx geoetl.ClaimTx) error { _, err := tx.InsertExecutions(execs); return err }); err != nil {
				b.Fatal(err)
			}
		}
		// The count, and beside it the claim transaction alone.
		for _, count := range []bool{true, false} {
			name := map[bool]string{true: "count", false: "empty-claim"}[count]
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					err := st.Claim(ctx, func(tx geoetl.ClaimTx) error {
						if !count {
							return nil
						}
						n, err := tx.TenantRuns(map[string]int{ten.ID: 1}, 1) // alone: the exact count
						if err == nil && n[ten.ID] != 2000 {
							b.Fatalf("counted %d", n[ten.ID])
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}
