package chaos

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
)

// bin is the geoetl binary that TestMain builds.
var bin string

// long is set by GEOETL_CHAOS_LONG=1: scenarios run for minutes instead
// of seconds, and the PostgreSQL server itself is restarted.
var long = os.Getenv("GEOETL_CHAOS_LONG") == "1"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "geoetl-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err = Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	flag.Parse()
	allAtOnce()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// atOnce is how many tests of this package run at once in the short
// mode: every scenario (and each DST day) has a database or file and
// processes of its own and spends most of its time waiting on its clock,
// so they all run together instead of -parallel at a time. Only the
// PostgreSQL scenarios open server sessions, and there are four of them,
// as many as -parallel 4 already ran together. The long mode keeps
// -parallel: its scenarios are heavier and run for minutes.
const atOnce = 10

// allAtOnce raises -parallel to atOnce in the short mode, unless it asks
// for one test at a time.
func allAtOnce() {
	f := flag.Lookup("test.parallel")
	if f == nil || long {
		return
	}
	if n, err := strconv.Atoi(f.Value.String()); err == nil && n > 1 && n < atOnce {
		_ = f.Value.Set(strconv.Itoa(atOnce))
	}
}

// pick returns the short value, or the long one under GEOETL_CHAOS_LONG.
func pick[T any](short, longer T) T {
	if long {
		return longer
	}
	return short
}

// The lease the instances run with (--lease): in the long mode the
// production default, 30 s, heartbeated and reaped every 5 s; in the short
// mode 6 s, heartbeated and reaped every second (a sixth, as in
// production), so that a lost run is found and retried in seconds. Every
// ordering the scenarios depend on scales with it: the leader's lock
// session ends after half a lease of silence, an instance stops trusting
// its runs after three quarters of one, and the server's 5 s limit on a
// session idle inside a transaction stays below the lease (so 6 s is as
// short as it goes without changing that limit too).
var (
	lease    = pick(6*time.Second, 30*time.Second)
	reapEach = lease / 6
	// settle is how long after its last fault a scenario waits at most for
	// every occurrence to be resolved: a lost run is reaped one lease
	// after its last heartbeat, at the reaper's next pass, and retried.
	settle = lease + 2*reapEach + 20*time.Second
)

// leaseArgs are the serve flags that set the lease.
func leaseArgs() []string { return []string{"--lease", lease.String()} }

// fleet is several geoetl serve processes on one PostgreSQL database,
// with a store of its own (application_name chaos-checker, so that
// terminating the instances' sessions spares it) for set-up and checks.
type fleet struct {
	t      *testing.T
	url    string
	store  geoetl.Store
	tenant *geoetl.Tenant
	nodes  []*Instance
	logs   *os.File
}

// newFleet starts n instances on a new database. The first one migrates
// and bootstraps it; the others start together after it.
func newFleet(t *testing.T, n int, extraArgs ...string) *fleet {
	t.Helper()
	u := dbtest.NewPostgresDB(t)
	logs, err := os.Create(filepath.Join(t.TempDir(), "instances.log"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, url: u, logs: logs}
	t.Cleanup(func() {
		for _, in := range f.nodes {
			if t.Failed() {
				t.Logf("last log lines of %s:\n%s", in.ID, in.Tail(30))
			}
			in.Kill()
		}
		logs.Close()
	})
	for i := range n {
		id := fmt.Sprintf("node-%d", i)
		f.nodes = append(f.nodes, &Instance{ID: id, Bin: bin, DB: withAppName(t, u, "geoetl-"+id), Dir: filepath.Join(t.TempDir(), strconv.Itoa(i)),
			Args: append(append([]string{"--shutdown-grace", "10s"}, leaseArgs()...), extraArgs...), Log: syncWriter(logs)})
	}
	f.startAll()
	f.store = openChecker(t, u)
	f.tenant, err = f.store.FindTenantByName(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// startAll starts the first node, then the rest in parallel.
func (f *fleet) startAll() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.nodes[0].Start(ctx); err != nil {
		f.t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(f.nodes))
	for _, in := range f.nodes[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- in.Start(ctx) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			f.t.Fatal(err)
		}
	}
}

// withAppName sets the application_name of every session opened with
// the database URL u, so that pg_stat_activity tells the instances apart.
func withAppName(t *testing.T, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set("application_name", name)
	p.RawQuery = q.Encode()
	return p.String()
}

// openChecker opens the store the test reads and writes through.
func openChecker(t *testing.T, u string) geoetl.Store {
	t.Helper()
	st, err := db.Open(context.Background(), withAppName(t, u, "chaos-checker"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// stopAll stops every running node gracefully, all at once (each waits
// for its own runs, so one after the other would add their graces up).
func (f *fleet) stopAll() {
	f.t.Helper()
	errs := make(chan error, len(f.nodes))
	for _, in := range f.nodes {
		go func() { errs <- in.Stop(30 * time.Second) }()
	}
	for range f.nodes {
		if err := <-errs; err != nil {
			f.t.Error(err)
		}
	}
}

// running returns the nodes that are up and not frozen.
func (f *fleet) running() []*Instance {
	var out []*Instance
	for _, in := range f.nodes {
		if in.Running() && !in.Frozen() {
			out = append(out, in)
		}
	}
	return out
}

// leader waits (up to 20 s) until exactly one running node says it holds
// the chores lock, and returns it.
func (f *fleet) leader() *Instance {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var leaders []*Instance
		for _, in := range f.running() {
			if in.Leader() {
				leaders = append(leaders, in)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d leaders among the running nodes after 20 s", len(leaders))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Workflow definitions the scenarios run: nothing, and a wait long enough
// that faults land in the middle of runs.
const (
	defNoop = `{"nodes":[]}`
	defWait = `{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":2}}]}`
)

// mix creates the scenario schedules of tenant on store: every-second
// no-op schedules (half of them with overlap allow, half with the
// defaults) and every-three-seconds schedules that wait 2 s, each
// retried up to 3 times at once. It returns them all.
func mix(t *testing.T, store geoetl.Store, tenantID string, fast, slow int) []*geoetl.Schedule {
	t.Helper()
	noop := workflow(t, store, tenantID, "noop", defNoop)
	wait := workflow(t, store, tenantID, "wait-2s", defWait)
	var out []*geoetl.Schedule
	for i := range fast {
		out = append(out, schedule(t, store, tenantID, noop, fmt.Sprintf("fast-%d", i), "* * * * * *", func(s *geoetl.Schedule) {
			if i%2 == 0 {
				s.OverlapPolicy = geoetl.OverlapAllow
			}
		}))
	}
	for i := range slow {
		out = append(out, schedule(t, store, tenantID, wait, fmt.Sprintf("slow-%d", i), "*/3 * * * * *", nil))
	}
	return out
}

func workflow(t *testing.T, store geoetl.Store, tenantID, name, def string) *geoetl.Workflow {
	t.Helper()
	w := &geoetl.Workflow{TenantID: tenantID, Name: name, Definition: []byte(def)}
	if err := store.CreateWorkflow(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

// schedule creates an active schedule with 3 immediate retries and its
// first run computed from now, as the service does.
func schedule(t *testing.T, store geoetl.Store, tenantID string, wf *geoetl.Workflow, name, expr string, edit func(*geoetl.Schedule)) *geoetl.Schedule {
	t.Helper()
	s := geoetl.NewSchedule()
	s.TenantID, s.WorkflowID, s.Name, s.CronExpression = tenantID, wf.ID, name, expr
	s.RetryAttempts, s.RetryDelayMinutes = 3, 0
	if edit != nil {
		edit(s)
	}
	next, err := s.ComputeNextRun(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.NextRunAt = next
	if err := store.CreateSchedule(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// windowFrom is a window opening at the first whole second at least lead
// from now.
func windowFrom(lead time.Duration) Window {
	from := time.Now().Add(lead).Truncate(time.Second).Add(time.Second)
	return Window{From: from.UTC()}
}

// closeAt ends the window at the whole second at or after t.
func (w Window) closeAt(t time.Time) Window {
	to := t.Truncate(time.Second)
	if to.Before(t) {
		to = to.Add(time.Second)
	}
	w.To = to.UTC()
	return w
}

// settleAndCheck waits until the window has passed and every occurrence
// in it is resolved (or limit has passed), and returns the verdict.
func settleAndCheck(t *testing.T, store geoetl.Store, tenantID string, schedules []*geoetl.Schedule, w Window, limit time.Duration) *Verdict {
	t.Helper()
	time.Sleep(time.Until(w.To.Add(time.Second)))
	deadline := time.Now().Add(limit)
	for {
		v, err := Check(context.Background(), store, tenantID, schedules, w)
		if err != nil {
			t.Fatal(err)
		}
		if (v.Unresolved == 0 && v.Missed == 0) || time.Now().After(deadline) {
			return v
		}
		time.Sleep(time.Second)
	}
}

// begin creates the scenario schedules (see mix) in the fleet's tenant and
// waits for the window to open two seconds later.
func (f *fleet) begin(fast, slow int) ([]*geoetl.Schedule, Window) {
	f.t.Helper()
	schedules := mix(f.t, f.store, f.tenant.ID, fast, slow)
	w := windowFrom(2 * time.Second)
	time.Sleep(time.Until(w.From))
	return schedules, w
}

// conclude closes the window now, waits for every occurrence in it to be
// resolved, stops the fleet gracefully, judges the window and reports the
// verdict under scenario.
func (f *fleet) conclude(schedules []*geoetl.Schedule, w Window, scenario string) *Verdict {
	f.t.Helper()
	w = w.closeAt(time.Now())
	settleAndCheck(f.t, f.store, f.tenant.ID, schedules, w, settle)
	f.stopAll()
	v, err := Check(context.Background(), f.store, f.tenant.ID, schedules, w)
	if err != nil {
		f.t.Fatal(err)
	}
	report(f.t, scenario, v)
	return v
}

// report logs a scenario's verdict in the form `make chaos` collects and
// fails the test when the verdict is not clean.
func report(t *testing.T, scenario string, v *Verdict) {
	t.Helper()
	mode := pick("short", "long")
	t.Logf("chaos report: %s (%s): %s", scenario, mode, v)
	if err := v.Err(); err != nil {
		t.Errorf("%s: %v", scenario, err)
	}
}

// syncWriter serialises writes of several instances to one log file.
func syncWriter(f *os.File) *lockedWriter { return &lockedWriter{f: f} }

type lockedWriter struct {
	mu sync.Mutex
	f  *os.File
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Write(p)
}

// sessions describes the database's sessions (state, what they wait for,
// transaction age, query), to explain a stall in a failure message.
func (f *fleet) sessions() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbtest.PostgresURL())
	if err != nil {
		return err.Error()
	}
	defer conn.Close(ctx)
	p, _ := url.Parse(f.url)
	rows, err := conn.Query(ctx, `SELECT pid, application_name, coalesce(state, ''), coalesce(wait_event_type || ':' || wait_event, ''),
		coalesce(extract(epoch FROM now() - xact_start)::int, -1), left(regexp_replace(query, '\s+', ' ', 'g'), 140)
		FROM pg_stat_activity WHERE datname = $1 ORDER BY xact_start NULLS LAST`, strings.TrimPrefix(p.Path, "/"))
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var pid, age int
		var app, state, wait, query string
		if err := rows.Scan(&pid, &app, &state, &wait, &age, &query); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "  pid %d %s: %s %s, transaction %ds: %s\n", pid, app, state, wait, age, query)
	}
	return b.String()
}
