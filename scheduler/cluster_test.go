package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/postgres"
)

// cluster is several scheduler instances, each with its own store (its own
// connections), on one PostgreSQL database and the real clock.
type cluster struct {
	t      *testing.T
	url    string
	store  geoetl.Store // for the test's own reads and writes
	tenant *geoetl.Tenant
	engine *testEngine
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	st, u := dbtest.Postgres(t)
	tn := &geoetl.Tenant{Name: "cluster"}
	if err := st.CreateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	return &cluster{t: t, url: u, store: st, tenant: tn, engine: newTestEngine(clock.Real{})}
}

// instance starts a scheduler on its own store.
func (c *cluster) instance(id string, edit func(*Config)) *Scheduler {
	c.t.Helper()
	st, err := db.Open(context.Background(), c.url, db.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := Config{Store: st, Engine: c.engine, Logger: testLogger(c.t), InstanceID: id, Cluster: postgres.NewCluster(c.url), Dispatch: true,
		ShutdownGrace: time.Second, RetentionInterval: -1}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
		_ = st.Close()
	})
	return s
}

func (c *cluster) workflow(def string) *geoetl.Workflow {
	c.t.Helper()
	w := &geoetl.Workflow{TenantID: c.tenant.ID, Name: "wf-" + geoetl.NewID()[:8], Definition: json.RawMessage(def)}
	if err := c.store.CreateWorkflow(context.Background(), w); err != nil {
		c.t.Fatal(err)
	}
	return w
}

func (c *cluster) schedule(wf *geoetl.Workflow, expr string, edit func(*geoetl.Schedule)) *geoetl.Schedule {
	c.t.Helper()
	s := geoetl.NewSchedule()
	s.TenantID, s.WorkflowID, s.Name, s.CronExpression = c.tenant.ID, wf.ID, "s-"+geoetl.NewID()[:8], expr
	if edit != nil {
		edit(s)
	}
	next, err := s.ComputeNextRun(time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	s.NextRunAt = next
	if err := c.store.CreateSchedule(context.Background(), s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

// executions returns every execution of the tenant.
func (c *cluster) executions() []*geoetl.Execution {
	c.t.Helper()
	var out []*geoetl.Execution
	cursor := ""
	for {
		list, _, next, err := c.store.FindExecutions(context.Background(), geoetl.ExecutionFilter{TenantID: c.tenant.ID, Page: geoetl.Page{Limit: 500, Cursor: cursor}})
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, list...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

func TestCluster_EveryOccurrenceExactlyOnceAndClaimsSpread(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time cluster test")
	}
	// Not parallel: whether claims spread over the instances depends on
	// their waking together, which other tests' load disturbs.
	c := newCluster(t)
	wf := c.workflow(defEmpty)
	var schedules []*geoetl.Schedule
	for range 30 {
		schedules = append(schedules, c.schedule(wf, "* * * * * *", nil))
	}
	start := time.Now().Truncate(time.Second).Add(2 * time.Second)
	var list []*Scheduler
	for i := range 3 {
		list = append(list, c.instance(fmt.Sprintf("node-%d", i), nil))
	}
	// Each second's occurrences go to whichever instance wakes first (at
	// a random point of its lookahead); eight seconds make a run where
	// one instance wins them all very unlikely.
	end := start.Add(8 * time.Second)
	time.Sleep(time.Until(end.Add(time.Second))) // real time is what this test is about
	for _, s := range list {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
		cancel()
	}
	type key struct {
		schedule string
		at       int64 // Unix seconds: time.Time keys compare locations too
	}
	seen := map[key]int{}
	byInstance := map[string]int{}
	var worst time.Duration
	for _, e := range c.executions() {
		if e.ScheduledAt.Before(start) || !e.ScheduledAt.Before(end) {
			continue
		}
		seen[key{*e.ScheduleID, e.ScheduledAt.Unix()}]++
		if e.Status != geoetl.ExecCompleted || e.Trigger != geoetl.TriggerSchedule {
			t.Errorf("execution of %s: %s (%s) %s", e.ScheduledAt, e.Status, e.Trigger, str(e.ErrorMessage))
			continue
		}
		byInstance[str(e.InstanceID)]++
		worst = max(worst, e.ExecutedAt.Sub(e.ScheduledAt))
		if c.engine.runCount(e.ID) != 1 {
			t.Errorf("execution %s ran %d times", e.ID, c.engine.runCount(e.ID))
		}
	}
	for _, sc := range schedules {
		for at := start; at.Before(end); at = at.Add(time.Second) {
			if n := seen[key{sc.ID, at.Unix()}]; n != 1 {
				t.Errorf("schedule %s, occurrence %s: %d executions, want exactly 1", sc.ID, at.Format(time.TimeOnly), n)
			}
		}
	}
	if len(byInstance) < 2 {
		t.Errorf("claims by instance %v: want them spread over several instances", byInstance)
	}
	t.Logf("runs by instance %v; worst start lateness %s", byInstance, worst)
}

func TestCluster_AChangeOnAWebNodeReachesTheOthersWithinASecond(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time cluster test")
	}
	// Real time, mostly waiting, each on its own database: these overlap.
	t.Parallel()
	c := newCluster(t)
	// Long sweeps: only the notification can wake the dispatchers in time.
	slow := func(cfg *Config) { cfg.SweepInterval = time.Minute }
	c.instance("node-1", slow)
	c.instance("node-2", slow)
	web := c.instance("web", func(cfg *Config) { cfg.Dispatch = false })
	events, cancel := web.Subscribe(c.tenant.ID)
	defer cancel()
	wf := c.workflow(defEmpty)
	sc := c.schedule(wf, "0 0 1 1 *", nil)
	now := time.Now().UTC()
	e := &geoetl.Execution{TenantID: c.tenant.ID, ScheduleID: &sc.ID, WorkflowID: wf.ID, ScheduledAt: now, DueAt: now,
		Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending}
	if err := c.store.CreateExecution(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	web.Changed(context.Background())
	deadline := time.After(time.Second)
	for {
		select {
		case ev := <-events:
			if ev.ExecutionID == e.ID && ev.Status == geoetl.ExecCompleted {
				got, err := c.store.FindExecutionByID(context.Background(), c.tenant.ID, e.ID)
				if err != nil {
					t.Fatal(err)
				}
				if str(got.InstanceID) == "web" {
					t.Fatal("the web node ran it")
				}
				return
			}
		case <-deadline:
			t.Fatal("the run-now made on the web node did not complete on another node within a second")
		}
	}
}

// The kill test re-executes the test binary as a child running one
// scheduler instance (see TestMain), kills it with SIGKILL in the middle of
// a run, and checks that a surviving instance reaps the run (failed,
// "instance lost") and retries it, and that no occurrence ran twice.

const childEnv = "GEOETL_SCHEDULER_TEST_CHILD"

func TestMain(m *testing.M) {
	if u := os.Getenv(childEnv); u != "" {
		os.Exit(runChild(u))
	}
	os.Exit(m.Run())
}

// runChild runs a scheduler instance (named by GEOETL_SCHEDULER_TEST_CHILD_ID,
// default "child") with short leases until killed, or stopped by SIGTERM.
func runChild(url string) int {
	id := os.Getenv(childIDEnv)
	if id == "" {
		id = "child"
	}
	st, err := db.Open(context.Background(), url, db.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	s, err := New(Config{Store: st, Engine: newTestEngine(clock.Real{}), InstanceID: id, Cluster: postgres.NewCluster(url), Dispatch: true,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		HeartbeatInterval: time.Second, LeaseTimeout: 5 * time.Second, ReapInterval: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	if err := s.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("child ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func TestKill_RunsOfAKilledInstanceAreReapedAndRetriedNeverTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process")
	}
	// Real time, mostly waiting, each on its own database: these overlap.
	t.Parallel()
	c := newCluster(t)
	// A long run, retried once: the retry does not wait (see defWaitOnce).
	long := c.schedule(c.workflow(defWaitOnce(60)), "0 0 1 1 *", func(s *geoetl.Schedule) { s.RetryAttempts, s.RetryDelayMinutes = 1, 0 })
	every := c.schedule(c.workflow(defEmpty), "* * * * * *", func(s *geoetl.Schedule) { s.RetryAttempts, s.RetryDelayMinutes = 1, 0 })

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+c.url)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { _ = child.Process.Signal(syscall.SIGKILL); _ = child.Wait() }) }
	t.Cleanup(kill)
	buf := make([]byte, 64)
	if _, err := out.Read(buf); err != nil {
		t.Fatalf("child did not start: %v", err)
	}

	now := time.Now().UTC()
	run := &geoetl.Execution{TenantID: c.tenant.ID, ScheduleID: &long.ID, WorkflowID: long.WorkflowID, ScheduledAt: now, DueAt: now,
		Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending}
	if err := c.store.CreateExecution(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	// Wait (polling the database: the child is another process) until
	// the child runs it, let every-second runs go on a little, then kill.
	for deadline := time.Now().Add(10 * time.Second); ; {
		e, err := c.store.FindExecutionByID(context.Background(), c.tenant.ID, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status == geoetl.ExecRunning && str(e.InstanceID) == "child" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child did not start the run: %s on %s", e.Status, str(e.InstanceID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	killedAt := time.Now()
	kill()

	survivor := c.instance("survivor", func(cfg *Config) {
		cfg.HeartbeatInterval, cfg.LeaseTimeout, cfg.ReapInterval = time.Second, 5*time.Second, time.Second
	})
	events, cancel := survivor.Subscribe(c.tenant.ID)
	defer cancel()
	timeout := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-events:
			done = ev.ScheduleID == long.ID && ev.Status == geoetl.ExecCompleted
		case <-timeout:
			t.Fatal("the lost run was not retried within 20 s")
		}
	}
	time.Sleep(2 * time.Second) // every-second runs go on under the survivor
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := survivor.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	var lost, retried *geoetl.Execution
	type attempt struct{ completed, total int }
	perOccurrence := map[time.Time]*attempt{}
	for _, e := range c.executions() {
		switch {
		case e.ID == run.ID:
			lost = e
		case str(e.ScheduleID) == long.ID && e.Trigger == geoetl.TriggerRetry:
			retried = e
		case str(e.ScheduleID) == every.ID:
			a := perOccurrence[e.ScheduledAt]
			if a == nil {
				a = &attempt{}
				perOccurrence[e.ScheduledAt] = a
			}
			a.total++
			if e.Status == geoetl.ExecCompleted {
				a.completed++
			}
			if e.Trigger == geoetl.TriggerSchedule && str(e.InstanceID) == "child" && e.ScheduledAt.After(killedAt.Add(time.Second)) && e.Status != geoetl.ExecPending {
				t.Errorf("occurrence %s after the kill is recorded as run by the dead child: %s", e.ScheduledAt, e.Status)
			}
		}
	}
	if lost == nil || lost.Status != geoetl.ExecFailed || str(lost.ErrorMessage) != geoetl.ErrorInstanceLost || str(lost.InstanceID) != "child" {
		t.Fatalf("the killed run = %+v, want failed with %q on child", lost, geoetl.ErrorInstanceLost)
	}
	if retried == nil || retried.Status != geoetl.ExecCompleted || str(retried.InstanceID) != "survivor" || str(retried.RetryOf) != run.ID {
		t.Fatalf("the retry = %+v, want completed on the survivor", retried)
	}
	if c.engine.runCount(retried.ID) != 1 {
		t.Fatalf("the retry ran %d times here", c.engine.runCount(retried.ID))
	}
	for at, a := range perOccurrence {
		if a.completed > 1 || a.total > 2 {
			t.Errorf("occurrence %s: %d completed of %d attempts", at.Format(time.TimeOnly), a.completed, a.total)
		}
	}
	t.Logf("%d every-second occurrences checked across the kill", len(perOccurrence))
}

// defWaitOnce is a workflow that waits on its first attempt and not on
// retries.
func defWaitOnce(seconds int) string {
	return fmt.Sprintf(`{"nodes":[{"id":"w","type":"test.wait_unless_retry","parameters":{"seconds":%d}}]}`, seconds)
}

func TestOutage_DispatcherBacksOffAndRecoversWithoutDoubleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time outage test")
	}
	// Real time, mostly waiting, each on its own database: these overlap.
	t.Parallel()
	c := newCluster(t)
	wf := c.workflow(defEmpty)
	var schedules []*geoetl.Schedule
	for range 5 {
		schedules = append(schedules, c.schedule(wf, "* * * * * *", nil))
	}
	s := c.instance("node-1", nil)
	admin, err := pgx.Connect(context.Background(), dbtest.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	cfg, err := pgx.ParseConfig(c.url)
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.Database
	time.Sleep(2 * time.Second)
	// The database goes away for three seconds: no new connections, every
	// open one dropped.
	outage := time.Now()
	for _, q := range []string{
		`ALTER DATABASE ` + name + ` ALLOW_CONNECTIONS false`,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `'`,
	} {
		if _, err := admin.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second)
	if _, err := admin.Exec(context.Background(), `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	time.Sleep(4 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// After the outage every occurrence runs once again; during it, each
	// occurrence has at most one row and at most one completed attempt.
	perOcc := map[string]int{}
	completed := map[string]int{}
	for _, e := range c.executions() {
		k := str(e.ScheduleID) + e.ScheduledAt.Format(time.RFC3339)
		if e.Trigger == geoetl.TriggerSchedule || e.Trigger == geoetl.TriggerCatchup {
			perOcc[k]++
		}
		if e.Status == geoetl.ExecCompleted {
			completed[k]++
		}
		if c.engine.runCount(e.ID) > 1 {
			t.Errorf("execution %s ran %d times", e.ID, c.engine.runCount(e.ID))
		}
	}
	for k, n := range completed {
		if n > 1 {
			t.Errorf("occurrence %s completed %d times", k, n)
		}
	}
	from := back.Truncate(time.Second).Add(2 * time.Second)
	to := back.Add(3 * time.Second).Truncate(time.Second)
	for _, sc := range schedules {
		for at := from; at.Before(to); at = at.Add(time.Second) {
			if completed[sc.ID+at.UTC().Format(time.RFC3339)] != 1 {
				t.Errorf("schedule %s: occurrence %s after the outage did not complete once", sc.ID, at.Format(time.TimeOnly))
			}
		}
	}
	t.Logf("outage %s to %s; %d occurrence rows", outage.Format(time.TimeOnly), back.Format(time.TimeOnly), len(perOcc))
}
