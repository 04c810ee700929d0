package service

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/etl"
)

// BenchmarkImportSQLite imports 100,000 schedules, 5,000 an import, into a
// SQLite file, in process: the service and the store without HTTP. It
// reports the time and the CPU of the whole import.
func BenchmarkImportSQLite(b *testing.B) {
	const total, chunk = 100_000, 5_000
	for range b.N {
		ctx := context.Background()
		store, err := db.Open(ctx, dbtest.MigratedSQLiteURL(b), db.Options{})
		if err != nil {
			b.Fatal(err)
		}
		eng, err := etl.New(etl.Config{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		svc := New(Service{Store: store, Engine: eng, Scheduler: &recordingScheduler{}, Clock: clock.Real{}})
		svc.Limits.MaxSchedules = 10_000_000
		tn, err := svc.CreateTenant(ctx, "acme")
		if err != nil {
			b.Fatal(err)
		}
		p := geoetl.Principal{TenantID: tn.ID, ActorID: "u1", Actor: "ed", Role: geoetl.RoleEditor, UserID: "u1"}
		name := "Workflow"
		w, err := svc.CreateWorkflow(ctx, p, WorkflowInput{Name: &name, Definition: json.RawMessage(testDefinition)})
		if err != nil {
			b.Fatal(err)
		}
		bodies := make([][]byte, 0, total/chunk)
		for at := 0; at < total; at += chunk {
			items := make([]map[string]any, 0, chunk)
			for i := at; i < at+chunk; i++ {
				items = append(items, map[string]any{"name": fmt.Sprintf("bench-%06d", i), "workflowId": w.ID, "cronExpression": "* * * * * *", "enabled": false})
			}
			body, _ := json.Marshal(map[string]any{"schedules": items})
			bodies = append(bodies, body)
		}
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		t0 := time.Now()
		for _, body := range bodies {
			res, err := svc.ImportSchedules(ctx, p, body)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Action != "created" {
					b.Fatalf("item %d: %+v", r.Index, r)
				}
			}
		}
		took := time.Since(t0)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime)-syscall.TimevalToNsec(ru0.Utime)) + time.Duration(syscall.TimevalToNsec(ru1.Stime)-syscall.TimevalToNsec(ru0.Stime))
		b.ReportMetric(took.Seconds(), "s/import")
		b.ReportMetric(cpu.Seconds(), "cpu-s/import")
		store.Close()
	}
}
