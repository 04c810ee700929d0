package scheduler

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// otherTenant is a second tenant in the bundle's store with one schedule
// of a workflow, and the channel of its events on s.
func (b *bundle) otherTenant(def, expr string) (*geoetl.Tenant, *geoetl.Schedule) {
	b.t.Helper()
	ctx := context.Background()
	tn := &geoetl.Tenant{Name: "other-" + geoetl.NewID()[:8]}
	if err := b.store.CreateTenant(ctx, tn); err != nil {
		b.t.Fatal(err)
	}
	wf := &geoetl.Workflow{TenantID: tn.ID, Name: "wf", Definition: json.RawMessage(def)}
	if err := b.store.CreateWorkflow(ctx, wf); err != nil {
		b.t.Fatal(err)
	}
	sc := geoetl.NewSchedule()
	sc.TenantID, sc.WorkflowID, sc.Name, sc.CronExpression = tn.ID, wf.ID, "b", expr
	next, err := sc.ComputeNextRun(b.clock.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	sc.NextRunAt = next
	if err := b.store.CreateSchedule(ctx, sc); err != nil {
		b.t.Fatal(err)
	}
	return tn, sc
}

func (b *bundle) tenantExecutions(tenantID string) []*geoetl.Execution {
	b.t.Helper()
	list, _, _, err := b.store.FindExecutions(context.Background(), geoetl.ExecutionFilter{TenantID: tenantID, Page: geoetl.Page{Limit: 500}})
	if err != nil {
		b.t.Fatal(err)
	}
	return list
}

// TestTenantShare_OneTenantsBurstNeitherDelaysAnotherNorLosesRuns: tenant
// A has 50 runs due at 10:01 and tenant B one, with at most 4 runs per
// tenant. B's run starts on time; A's first 4 start and the other 46 wait,
// pending, with the reason; as A's runs end the waiting ones start, never
// more than 4 at once, until all 50 ran once. None is skipped.
func TestTenantShare_OneTenantsBurstNeitherDelaysAnotherNorLosesRuns(t *testing.T) {
	setupEach(t, func(t *testing.T, b *bundle) {
		const limit, burst = 4, 50
		due := t0.Add(time.Minute)
		wf := b.workflow(defWait(10))
		seen := map[string]bool{}
		for range burst {
			sc := b.schedule(wf, "0 1 10 * * *", nil)
			seen[sc.ID] = true
		}
		other, bsc := b.otherTenant(defWait(10), "0 1 10 * * *")
		s := b.start("i1", func(c *Config) { c.TenantMaxRuns = limit; c.Workers = 16 })
		bEvents, cancel := s.Subscribe(other.ID)
		defer cancel()

		b.advanceTo(due)
		running := func(n int) {
			for range n {
				ev := b.waitEvent("a run of tenant A starting", func(ev geoetl.ExecutionEvent) bool { return ev.Status == geoetl.ExecRunning })
				select {
				case <-b.engine.settledCh(ev.ExecutionID):
				case <-time.After(testWait):
					t.Fatalf("run %s never settled", ev.ExecutionID)
				}
			}
		}
		running(limit)
		waitOther := func(st geoetl.ExecutionStatus) geoetl.ExecutionEvent {
			deadline := time.After(testWait)
			for {
				select {
				case ev := <-bEvents:
					if ev.ScheduleID == bsc.ID && ev.Status == st {
						return ev
					}
				case <-deadline:
					t.Fatalf("tenant B's run never became %s", st)
				}
			}
		}
		bRun := waitOther(geoetl.ExecRunning)
		s.runner.writer.drainForTest(t)
		if got := b.execution2(other.ID, bRun.ExecutionID); got.ExecutedAt == nil || !got.ExecutedAt.Equal(due) {
			t.Fatalf("tenant B's run started at %v, want on time (%s) while tenant A waits", got.ExecutedAt, due)
		}
		b.waitFor("all of tenant A's occurrences recorded", func(evs []geoetl.ExecutionEvent) bool {
			n := 0
			for _, ev := range evs {
				if ev.Status == geoetl.ExecPending {
					n++
				}
			}
			return n >= burst-limit
		})
		waiting, holding := 0, 0
		for _, e := range b.tenantExecutions(b.tenant.ID) {
			switch {
			case e.Status == geoetl.ExecRunning || e.InstanceID != nil:
				holding++
			case e.Status == geoetl.ExecPending && str(e.WaitReason) == geoetl.TenantWaitReason(limit, limit):
				waiting++
			default:
				t.Fatalf("execution %s: %s, wait reason %s", e.ID, e.Status, str(e.WaitReason))
			}
		}
		if holding != limit || waiting != burst-limit {
			t.Fatalf("tenant A: %d running, %d waiting with the reason; want %d and %d", holding, waiting, limit, burst-limit)
		}

		// Each round ends the running ones (10 s) and starts the next ones.
		for started := limit; started < burst; {
			b.clock.Advance(10 * time.Second)
			n := min(limit, burst-started)
			running(n)
			started += n
			holding := 0
			for _, e := range b.tenantExecutions(b.tenant.ID) {
				if e.Status == geoetl.ExecRunning || (e.Status == geoetl.ExecPending && e.InstanceID != nil) {
					holding++
				}
			}
			if holding > limit {
				t.Fatalf("tenant A holds %d runs at once, over its limit of %d", holding, limit)
			}
		}
		b.clock.Advance(10 * time.Second)
		b.waitFor("all of tenant A's runs completed", func(evs []geoetl.ExecutionEvent) bool {
			n := 0
			for _, ev := range evs {
				if ev.Status == geoetl.ExecCompleted {
					n++
				}
			}
			return n == burst
		})
		list := b.tenantExecutions(b.tenant.ID)
		if len(list) != burst {
			t.Fatalf("tenant A has %d executions, want %d (one per occurrence)", len(list), burst)
		}
		for _, e := range list {
			if e.Status != geoetl.ExecCompleted || e.Skipped || !seen[*e.ScheduleID] || b.engine.runCount(e.ID) != 1 {
				t.Fatalf("execution %s of tenant A: %s (skipped %v), ran %d times", e.ID, e.Status, e.Skipped, b.engine.runCount(e.ID))
			}
		}
		waitOther(geoetl.ExecCompleted)
	})
}

func (b *bundle) execution2(tenantID, id string) *geoetl.Execution {
	b.t.Helper()
	e, err := b.store.FindExecutionByID(context.Background(), tenantID, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return e
}

// inFlight is an engine that counts the runs inside it at once.
type inFlight struct {
	geoetl.WorkflowEngine
	mu       sync.Mutex
	cur, max int
}

func (e *inFlight) Run(ctx context.Context, req geoetl.RunRequest) (geoetl.RunSummary, error) {
	e.mu.Lock()
	e.cur++
	e.max = max(e.max, e.cur)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.cur--
		e.mu.Unlock()
	}()
	return e.WorkflowEngine.Run(ctx, req)
}

// TestTenantShare_TheLimitHoldsOverInstances: two instances on one
// PostgreSQL database share one tenant limit of 3. Twelve runs due at once
// all run once, and the engines never hold more than 3 of them together.
func TestTenantShare_TheLimitHoldsOverInstances(t *testing.T) {
	limitOverInstances(t, 12, 3, func(cfg *Config) { cfg.Workers = 8 })
}

// TestTenantShare_TheLimitHoldsOverInstancesCountingAtOnce: the same with
// a limit of 32 and claims of two rows, which claimers of the two
// instances count at once while the tenant holds at most half of its
// limit and take turns for above it: 60 runs all run once, never more
// than 32 together.
func TestTenantShare_TheLimitHoldsOverInstancesCountingAtOnce(t *testing.T) {
	limitOverInstances(t, 60, 32, func(cfg *Config) { cfg.Workers, cfg.BatchSize = 24, 2 })
}

// limitOverInstances starts two instances sharing a tenant limit, with
// runs due at once, and checks that each runs once and that the engines
// never hold more than the limit together.
func limitOverInstances(t *testing.T, runs, limit int, edit func(*Config)) {
	if testing.Short() {
		t.Skip("real-time cluster test")
	}
	// A database of its own, and it checks counts, not timing.
	t.Parallel()
	c := newCluster(t)
	eng := &inFlight{WorkflowEngine: c.engine}
	wf := c.workflow(`{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":0.3}}]}`)
	now := time.Now().UTC()
	for i := range runs {
		at := now.Add(time.Duration(i) * time.Microsecond)
		e := &geoetl.Execution{TenantID: c.tenant.ID, WorkflowID: wf.ID, ScheduledAt: at, DueAt: at, Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending}
		if err := c.store.CreateExecution(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	var events <-chan geoetl.ExecutionEvent
	for _, id := range []string{"node-1", "node-2"} {
		s := c.instance(id, func(cfg *Config) {
			cfg.Engine, cfg.TenantMaxRuns = eng, limit
			edit(cfg)
		})
		if events == nil {
			var cancel func()
			events, cancel = s.Subscribe(c.tenant.ID) // its own and, through the change feed, the other's
			defer cancel()
		}
	}
	finished := map[string]bool{}
	timeout := time.After(testWait)
	for len(finished) < runs {
		select {
		case ev := <-events:
			if ev.Status.Finished() {
				finished[ev.ExecutionID] = true
			}
		case <-timeout:
			t.Fatalf("%d of %d runs finished", len(finished), runs)
		}
	}
	for _, e := range c.executions() {
		if e.Status != geoetl.ExecCompleted || c.engine.runCount(e.ID) != 1 {
			t.Fatalf("execution %s: %s, ran %d times", e.ID, e.Status, c.engine.runCount(e.ID))
		}
	}
	if eng.max > limit || eng.max < 2 {
		t.Fatalf("at most %d runs at once over both instances, want up to the limit of %d", eng.max, limit)
	}
}
