package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/service"
)

// BenchmarkListSchedules100k lists and searches 100,000 schedules of one
// tenant on SQLite through the HTTP handler, as a client does. It reports
// the mean (ms/op), the median (median-ms) and the CPU time (cpu-ms/op)
// per request; the contract is a median of at most 20 ms. Seeding takes a
// while, so the store is filled once for all sub-benchmarks.
func BenchmarkListSchedules100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	store := dbtest.SQLite(b)
	svc := service.New(service.Service{Store: store})
	tenant, err := svc.CreateTenant(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	_, token, err := svc.CreateTokenAsSystem(ctx, tenant.ID, "bench", geoetl.RoleViewer)
	if err != nil {
		b.Fatal(err)
	}
	p := geoetl.Principal{TenantID: tenant.ID, Actor: "bench", ActorID: "bench", Role: geoetl.RoleAdmin}
	name := "Bench workflow"
	w, err := svc.CreateWorkflow(ctx, p, service.WorkflowInput{Name: &name, Definition: json.RawMessage(`{"nodes":[]}`)})
	if err != nil {
		b.Fatal(err)
	}
	regions := []string{"north", "south", "east", "west", "centre"}
	start := time.Now()
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		sc := geoetl.NewSchedule()
		sc.ID, sc.TenantID, sc.WorkflowID = geoetl.NewID(), tenant.ID, w.ID
		sc.Name = fmt.Sprintf("Parcels %s %06d", regions[i%len(regions)], i)
		sc.Description = fmt.Sprintf("Loads the %s parcels, batch %d", regions[(i/7)%len(regions)], i%97)
		sc.CronExpression = "0 2 * * *"
		sc.CreatedBy, sc.UpdatedBy = "bench", "bench"
		next := now.Add(time.Duration(i) * time.Minute)
		sc.NextRunAt = &next
		if err := store.CreateSchedule(ctx, sc); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d schedules in %s", n, time.Since(start).Round(time.Second))
	srv := New(svc, Config{})

	for _, bc := range []struct{ name, query string }{
		{"FirstPage", ""},
		{"FirstPageByNextRun", "?sort=nextRunAt"},
		{"Search", "?q=north%20000"},
		{"SearchBroad", "?q=north"},
		{"SearchNoMatch", "?q=nothing-matches-this"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, APIPrefix+"/schedules"+bc.query, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				rec := httptest.NewRecorder()
				t0 := time.Now()
				srv.ServeHTTP(rec, req)
				lat = append(lat, time.Since(t0))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
			b.StopTimer()
			// CPU time per request tells the cost apart from waiting for a
			// core on a busy machine.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
