package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/notify"
)

// testEngine is a small geoetl.WorkflowEngine for scheduler tests: a
// workflow without nodes does nothing, "control.wait" waits its "seconds"
// on the engine's clock and stops at once when cancelled, "test.fail"
// fails, and "test.fail_first" fails the first runs (its
// "times" of each occurrence.
type testEngine struct {
	clock clock.Clock

	mu      sync.Mutex
	runs    map[string]int // runs per execution id
	reqs    []geoetl.RunRequest
	settled map[string]chan struct{} // closed once a run waits on its timer or returned
	gate    chan struct{}            // each value lets one test.gate node through
}

func newTestEngine(c clock.Clock) *testEngine {
	return &testEngine{clock: c, runs: map[string]int{}, settled: map[string]chan struct{}{}, gate: make(chan struct{}, 1000)}
}

// settledCh returns the channel closed once the run of id waits on the
// clock or has returned, so a test can move a fake clock without racing
// the run's timer.
func (e *testEngine) settledCh(id string) chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.settled[id]
	if !ok {
		c = make(chan struct{})
		e.settled[id] = c
	}
	return c
}

func (e *testEngine) settle(id string) {
	c := e.settledCh(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

type testDef struct {
	Nodes []struct {
		ID         string         `json:"id"`
		Type       string         `json:"type"`
		Parameters map[string]any `json:"parameters"`
	} `json:"nodes"`
}

func (e *testEngine) Validate(def json.RawMessage) error {
	var d testDef
	return json.Unmarshal(def, &d)
}

func (e *testEngine) ValidateFor(_ string, def json.RawMessage) error { return e.Validate(def) }

func (e *testEngine) Parameters(json.RawMessage) ([]geoetl.WorkflowParameter, error) { return nil, nil }

func (e *testEngine) Run(ctx context.Context, req geoetl.RunRequest) (geoetl.RunSummary, error) {
	defer e.settle(req.ExecutionID)
	e.mu.Lock()
	e.runs[req.ExecutionID]++
	e.reqs = append(e.reqs, req)
	e.mu.Unlock()
	var d testDef
	if err := json.Unmarshal(req.Workflow.Definition, &d); err != nil {
		return geoetl.RunSummary{}, err
	}
	for _, n := range d.Nodes {
		req.Recorder.Log("info", n.ID, "node "+n.Type)
		switch n.Type {
		case "control.wait", "test.wait_unless_retry":
			if n.Type == "test.wait_unless_retry" && req.Trigger == geoetl.TriggerRetry {
				break
			}
			secs, _ := n.Parameters["seconds"].(float64)
			t := e.clock.NewTimer(time.Duration(secs * float64(time.Second)))
			e.settle(req.ExecutionID)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				return geoetl.RunSummary{}, ctx.Err()
			}
		case "test.gate":
			// Holds its worker until the test lets one run through.
			e.settle(req.ExecutionID)
			select {
			case <-e.gate:
			case <-ctx.Done():
				return geoetl.RunSummary{}, ctx.Err()
			}
		case "test.fail":
			return geoetl.RunSummary{}, errors.New("boom")
		case "test.fail_first":
			times, _ := n.Parameters["times"].(float64)
			if e.attemptOf(req) <= int(times) {
				return geoetl.RunSummary{}, errors.New("boom")
			}
		}
		now := e.clock.Now()
		req.Recorder.Node(geoetl.NodeRun{NodeID: n.ID, NodeType: n.Type, Status: "completed", StartedAt: &now, CompletedAt: &now})
	}
	return geoetl.RunSummary{FeaturesRead: 1}, nil
}

// attemptOf counts the runs of req's occurrence so far, this one included.
func (e *testEngine) attemptOf(req geoetl.RunRequest) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.reqs {
		if r.ScheduledAt.Equal(req.ScheduledAt) && r.Workflow.ID == req.Workflow.ID {
			n++
		}
	}
	return n
}

// runCount is how often an execution was run.
func (e *testEngine) runCount(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[id]
}

func (e *testEngine) requests() []geoetl.RunRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]geoetl.RunRequest(nil), e.reqs...)
}

const (
	defEmpty = `{"nodes":[]}`
	defFail  = `{"nodes":[{"id":"f","type":"test.fail"}]}`
)

func defWait(seconds int) string {
	return fmt.Sprintf(`{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":%d}}]}`, seconds)
}

// bundle is one test's store, clock, engine and tenant, and the
// schedulers started on them.
type bundle struct {
	t      *testing.T
	store  geoetl.Store
	url    string
	clock  *clock.Fake
	engine *testEngine
	tenant *geoetl.Tenant
	sched  *Scheduler // the latest started

	mu   sync.Mutex
	seen []geoetl.ExecutionEvent // every event of the tenant, in arrival order
	used map[int]bool            // events a waitEvent returned
	kick chan struct{}
}

var t0 = time.Date(2027, 1, 4, 10, 0, 0, 0, time.UTC) // a Monday

// testWait is how long a test waits for something it expects before it
// fails: generous, because the machine may be loaded by other work and a
// wait ends as soon as its condition holds.
const testWait = 60 * time.Second

// setupSQLite returns a bundle on a fresh SQLite store with a fake clock
// shared by the store ("database time") and the scheduler.
func setupSQLite(t *testing.T) *bundle {
	t.Helper()
	fc := clock.NewFake(t0)
	st, u := dbtest.SQLiteURL(t, db.Options{Clock: fc})
	return newBundle(t, st, u, fc)
}

// setupEach runs body on SQLite and on PostgreSQL, each with a fake clock.
func setupEach(t *testing.T, body func(t *testing.T, b *bundle)) {
	t.Run("sqlite", func(t *testing.T) { body(t, setupSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		fc := clock.NewFake(t0)
		st, u := dbtest.PostgresWith(t, db.Options{Clock: fc})
		body(t, newBundle(t, st, u, fc))
	})
}

func newBundle(t *testing.T, st geoetl.Store, u string, fc *clock.Fake) *bundle {
	t.Helper()
	ctx := context.Background()
	tn := &geoetl.Tenant{Name: "t-" + geoetl.NewID()[:8]}
	if err := st.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	return &bundle{t: t, store: st, url: u, clock: fc, engine: newTestEngine(fc), tenant: tn, used: map[int]bool{}, kick: make(chan struct{}, 1)}
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("SCHEDULER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// config is the scheduler configuration tests start from: chores off
// (tests drive them), no jitter.
func (b *bundle) config(id string) Config {
	return Config{
		Store: b.store, Engine: b.engine, Clock: b.clock, Logger: testLogger(b.t), InstanceID: id,
		Dispatch: true, Workers: 4, ShutdownGrace: time.Second,
		ReapInterval: -1, ExpiryInterval: -1, RetentionInterval: -1,
		HeartbeatInterval: time.Hour, LeaseTimeout: 4 * time.Hour,
	}
}

// start starts a scheduler (stopped when the test ends) and subscribes
// b.events to the tenant's events on it.
func (b *bundle) start(id string, edit func(*Config)) *Scheduler {
	b.t.Helper()
	cfg := b.config(id)
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	s.rand = func() float64 { return 0.5 }
	b.record(s)
	b.sched = s
	if err := s.Start(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func (b *bundle) workflow(def string) *geoetl.Workflow {
	b.t.Helper()
	w := &geoetl.Workflow{TenantID: b.tenant.ID, Name: "wf-" + geoetl.NewID()[:8], Definition: json.RawMessage(def)}
	if err := b.store.CreateWorkflow(context.Background(), w); err != nil {
		b.t.Fatal(err)
	}
	return w
}

// schedule creates an active schedule of wf with its first run computed
// from the fake clock, as the service does.
func (b *bundle) schedule(wf *geoetl.Workflow, expr string, edit func(*geoetl.Schedule)) *geoetl.Schedule {
	b.t.Helper()
	s := geoetl.NewSchedule()
	s.TenantID, s.WorkflowID, s.Name, s.CronExpression = b.tenant.ID, wf.ID, "s-"+geoetl.NewID()[:8], expr
	if edit != nil {
		edit(s)
	}
	next, err := s.ComputeNextRun(b.clock.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	s.NextRunAt = next
	if err := b.store.CreateSchedule(context.Background(), s); err != nil {
		b.t.Fatal(err)
	}
	b.changed()
	return s
}

// changed tells the running scheduler that the database changed, as the
// service layer does after each change.
func (b *bundle) changed() {
	if b.sched != nil {
		b.sched.Changed(context.Background())
	}
}

// record collects every event of the bundle's tenant from s, so that
// tests can wait for them in any order.
func (b *bundle) record(s *Scheduler) {
	ch, cancel := s.Subscribe(b.tenant.ID)
	b.t.Cleanup(cancel)
	go func() {
		for ev := range ch {
			b.mu.Lock()
			b.seen = append(b.seen, ev)
			b.mu.Unlock()
			select {
			case b.kick <- struct{}{}:
			default:
			}
		}
	}()
}

// waitFor waits until cond holds over the events seen so far.
func (b *bundle) waitFor(what string, cond func(seen []geoetl.ExecutionEvent) bool) {
	b.t.Helper()
	timeout := time.After(testWait)
	for {
		b.mu.Lock()
		ok := cond(b.seen)
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-b.kick:
		case <-timeout:
			b.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitEvent waits for an event matching pred that no earlier waitEvent
// returned, and returns it.
func (b *bundle) waitEvent(what string, pred func(geoetl.ExecutionEvent) bool) geoetl.ExecutionEvent {
	b.t.Helper()
	var got geoetl.ExecutionEvent
	b.waitFor(what, func(seen []geoetl.ExecutionEvent) bool {
		for i, ev := range seen {
			if !b.used[i] && pred(ev) {
				b.used[i] = true
				got = ev
				return true
			}
		}
		return false
	})
	return got
}

// waitStatus waits for n more executions of sc reaching status st than
// earlier calls waited for, and returns their events.
func (b *bundle) waitStatus(sc *geoetl.Schedule, st geoetl.ExecutionStatus, n int) []geoetl.ExecutionEvent {
	b.t.Helper()
	var out []geoetl.ExecutionEvent
	for len(out) < n {
		ev := b.waitEvent(fmt.Sprintf("%d %s executions (have %d)", n, st, len(out)), func(ev geoetl.ExecutionEvent) bool {
			return ev.ScheduleID == sc.ID && ev.Status == st
		})
		if st == geoetl.ExecRunning {
			// Running is published before the engine sets its timer.
			select {
			case <-b.engine.settledCh(ev.ExecutionID):
			case <-time.After(testWait):
				b.t.Fatalf("run %s never settled", ev.ExecutionID)
			}
		}
		out = append(out, ev)
	}
	return out
}

// history returns a schedule's executions, oldest occurrence first.
func (b *bundle) history(sc *geoetl.Schedule) []*geoetl.Execution {
	b.t.Helper()
	list, _, _, err := b.store.FindExecutions(context.Background(), geoetl.ExecutionFilter{TenantID: b.tenant.ID, ScheduleID: sc.ID, Page: geoetl.Page{Limit: 500}})
	if err != nil {
		b.t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func (b *bundle) execution(id string) *geoetl.Execution {
	b.t.Helper()
	e, err := b.store.FindExecutionByID(context.Background(), b.tenant.ID, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return e
}

func (b *bundle) reload(sc *geoetl.Schedule) *geoetl.Schedule {
	b.t.Helper()
	s, err := b.store.FindScheduleByID(context.Background(), b.tenant.ID, sc.ID)
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// advanceTo moves the fake clock to t.
func (b *bundle) advanceTo(t time.Time) { b.clock.Set(t) }

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// drainForTest waits until everything queued so far is written.
func (w *writer) drainForTest(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(testWait)
	for w.pending() > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("the writer still has %d items after %s", w.pending(), testWait)
		}
		time.Sleep(time.Millisecond)
	}
}

// update changes a schedule in the store (and tells the scheduler).
func (b *bundle) update(sc *geoetl.Schedule, mutate func(*geoetl.Schedule)) {
	b.t.Helper()
	if _, err := b.store.UpdateSchedule(context.Background(), b.tenant.ID, sc.ID, nil, func(s *geoetl.Schedule) error {
		mutate(s)
		return nil
	}); err != nil {
		b.t.Fatal(err)
	}
	b.changed()
}

// testNotifier records what the scheduler asks to notify.
type testNotifier struct {
	mu        sync.Mutex
	execs     []notify.ExecutionEvent
	schedules chan scheduleEvent
	kicks     int
}

type scheduleEvent struct {
	schedule *geoetl.Schedule
	event    string
}

func newTestNotifier() *testNotifier { return &testNotifier{schedules: make(chan scheduleEvent, 100)} }

func (n *testNotifier) PlanExecution(ev notify.ExecutionEvent) []*geoetl.Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.execs = append(n.execs, ev)
	return nil
}

func (n *testNotifier) PlanScheduleEvent(s *geoetl.Schedule, event string) []*geoetl.Delivery {
	n.schedules <- scheduleEvent{s, event}
	return nil
}

func (n *testNotifier) Kick() {
	n.mu.Lock()
	n.kicks++
	n.mu.Unlock()
}

func (n *testNotifier) waitScheduleEvent(t *testing.T) scheduleEvent {
	t.Helper()
	select {
	case ev := <-n.schedules:
		return ev
	case <-time.After(testWait):
		t.Fatal("timed out waiting for a schedule notification")
		return scheduleEvent{}
	}
}

func (n *testNotifier) executionEvents() []notify.ExecutionEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notify.ExecutionEvent(nil), n.execs...)
}
