package db_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
)

// seedWorld creates a tenant and a workflow.
func seedWorld(b testing.TB, st geoetl.Store) (*geoetl.Tenant, *geoetl.Workflow) {
	b.Helper()
	ctx := context.Background()
	ten := &geoetl.Tenant{Name: "bench"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		b.Fatal(err)
	}
	w := &geoetl.Workflow{TenantID: ten.ID, Name: "w", Definition: []byte(`{}`)}
	if err := st.CreateWorkflow(ctx, w); err != nil {
		b.Fatal(err)
	}
	return ten, w
}

// BenchmarkClaimInsert10k inserts 10,000 occurrence executions in one claim
// transaction (one op = 10,000 rows).
func BenchmarkClaimInsert10k(b *testing.B) {
	each(b, func(b *testing.B, st geoetl.Store) {
		ctx := context.Background()
		ten, w := seedWorld(b, st)
		s := geoetl.NewSchedule()
		s.TenantID, s.WorkflowID, s.Name, s.CronExpression = ten.ID, w.ID, "s", "* * * * *"
		if err := st.CreateSchedule(ctx, s); err != nil {
			b.Fatal(err)
		}
		inst := "bench"
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			execs := make([]*geoetl.Execution, 10000)
			for j := range execs {
				at := base.Add(time.Duration(i*10000+j) * time.Second)
				execs[j] = &geoetl.Execution{TenantID: ten.ID, ScheduleID: &s.ID, WorkflowID: w.ID, ScheduledAt: at,
					Trigger: geoetl.TriggerSchedule, InstanceID: &inst, HeartbeatAt: &at}
			}
			err := st.Claim(ctx, func(tx geoetl.ClaimTx) error {
				ok, err := tx.InsertExecutions(execs)
				if err == nil && !ok[len(ok)-1] {
					err = fmt.Errorf("row not inserted")
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkListSearch100k lists one page of a tenant with 100,000 schedules
// (with the total), searched, filtered and sorted in the ways the console
// does, on both backends, asked again (warm) and after a change to the
// tenant's schedules (afterChange). It reports the median.
func BenchmarkListSearch100k(b *testing.B) {
	if testing.Short() {
		b.Skip("seeding 100,000 schedules takes a while")
	}
	eachURL(b, func(b *testing.B, st geoetl.Store, url string) {
		ctx := context.Background()
		ten, w := seedWorld(b, st)
		const n = 100000
		words := []string{"parcels", "roads", "rivers", "buildings", "zoning", "trees", "addresses", "railways"}
		var first *geoetl.Schedule
		var batch []*geoetl.Schedule
		for i := 0; i < n; i++ {
			s := geoetl.NewSchedule()
			if first == nil {
				first = s
			}
			s.TenantID, s.WorkflowID, s.CronExpression = ten.ID, w.ID, "0 2 * * *"
			s.Name = fmt.Sprintf("%s %s %06d", words[i%len(words)], words[(i/8)%len(words)], i)
			s.Description = fmt.Sprintf("Nightly load of %s for district %d", words[(i/3)%len(words)], i%97)
			next := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
			s.NextRunAt = &next
			s.Tags = []string{words[i%3]}
			// In batches, as an import writes them: one transaction each
			// takes minutes on PostgreSQL.
			if batch = append(batch, s); len(batch) == 1000 || i == n-1 {
				res, err := st.CreateSchedules(ctx, batch, 0, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, err := range res {
					if err != nil {
						b.Fatal(err)
					}
				}
				batch = nil
			}
		}
		// Autovacuum analyzes tables this size within a minute of a load;
		// until then the planner takes the tenant for a few hundred rows
		// and sorts all of them for a page (about 1 s for a list in name
		// order). The lists are measured with statistics, not at a moment
		// that depends on when autovacuum comes.
		if strings.HasPrefix(url, "postgres") {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			_, err = conn.Exec(ctx, "ANALYZE")
			conn.Close(ctx)
			if err != nil {
				b.Fatal(err)
			}
		}
		for _, f := range []geoetl.ScheduleFilter{
			{Q: "rivers"},        // broad: a third of the schedules
			{Q: "district 42"},   // narrow: about 1,000
			{Q: "no such thing"}, // none
			{},                   // the first page
			{Sort: geoetl.SortByNextRunAt},
			{Sort: geoetl.SortByUpdatedAt, Q: "roads"}, // broad, in another order
			{Tag: "roads"},
			{Page: geoetl.Page{Offset: 60000}}, // a deep page by offset
		} {
			f.TenantID = ten.ID
			name := fmt.Sprintf("q=%q,sort=%s,tag=%s,offset=%d", f.Q, f.Sort, f.Tag, f.Offset)
			// warm: the list asked again, as pages, refreshes and the
			// console do; afterChange: a schedule of the tenant edited
			// before each list (untimed), so a kept total must follow
			// the change.
			// readers8: the list asked by 8 readers at once (one op: each
			// of them lists once), as the console of a busy tenant does.
			// readers8first: the same, each round from a store opened
			// anew (untimed), which has kept nothing: the first round of a
			// process, when every reader finds the list never counted.
			b.Run(name+",readers8", func(b *testing.B) {
				readers8(b, func() geoetl.Store { return st }, f)
			})
			b.Run(name+",readers8first", func(b *testing.B) {
				var fresh geoetl.Store
				defer func() {
					if fresh != nil {
						fresh.Close()
					}
				}()
				readers8(b, func() geoetl.Store {
					if fresh != nil {
						fresh.Close()
					}
					var err error
					if fresh, err = db.Open(ctx, url, db.Options{}); err != nil {
						b.Fatal(err)
					}
					// Its sessions opened and used before the round, as a
					// process's would be by then: the first page of the
					// whole list, whose total the store does not keep.
					var wg sync.WaitGroup
					for r := 0; r < 8; r++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							if _, _, _, err := fresh.FindSchedules(ctx, geoetl.ScheduleFilter{TenantID: ten.ID, Page: geoetl.Page{Limit: 1}}); err != nil {
								b.Error(err)
							}
						}()
					}
					wg.Wait()
					return fresh
				}, f)
			})
			for _, changed := range []bool{false, true} {
				mode := "warm"
				if changed {
					mode = "afterChange"
				}
				b.Run(name+","+mode, func(b *testing.B) {
					var d []time.Duration
					var cpu time.Duration
					for i := 0; i < b.N; i++ {
						if changed {
							b.StopTimer()
							if _, err := st.UpdateSchedule(ctx, ten.ID, first.ID, nil, func(s *geoetl.Schedule) error {
								s.Description = fmt.Sprintf("edited %d", i)
								return nil
							}); err != nil {
								b.Fatal(err)
							}
							b.StartTimer()
						}
						cpu0 := cpuTime()
						t0 := time.Now()
						if _, _, _, err := st.FindSchedules(ctx, f); err != nil {
							b.Fatal(err)
						}
						d = append(d, time.Since(t0))
						cpu += cpuTime() - cpu0
					}
					sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
					b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "median-ms")
					// CPU time per list tells the cost apart from waiting
					// for a core on a busy machine.
					b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
				})
			}
		}
	})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func each(b *testing.B, body func(b *testing.B, st geoetl.Store)) {
	eachURL(b, func(b *testing.B, st geoetl.Store, _ string) { body(b, st) })
}

// eachURL is each with the store's URL, for a benchmark that opens the
// same database again.
func eachURL(b *testing.B, body func(b *testing.B, st geoetl.Store, url string)) {
	b.Run("sqlite", func(b *testing.B) {
		st, u := dbtest.SQLiteURL(b, db.Options{})
		body(b, st, u)
	})
	b.Run("postgres", func(b *testing.B) {
		st, u := dbtest.Postgres(b)
		body(b, st, u)
	})
}

// readers8 lists f with 8 readers at once, b.N times, from the store
// open returns for each round, and reports the median and the p99 of
// their lists.
func readers8(b *testing.B, open func() geoetl.Store, f geoetl.ScheduleFilter) {
	const readers = 8
	ctx := context.Background()
	var d []time.Duration
	var mu sync.Mutex
	for i := 0; i < b.N; i++ {
		st := open()
		var wg sync.WaitGroup
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				if _, _, _, err := st.FindSchedules(ctx, f); err != nil {
					b.Error(err)
				}
				mu.Lock()
				d = append(d, time.Since(t0))
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
}
