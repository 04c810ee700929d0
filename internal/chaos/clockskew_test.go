package chaos

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/postgres"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/scheduler"
)

// skews are the clock errors of the skewed instances: minutes ahead and
// minutes behind.
var skews = []time.Duration{5 * time.Minute, -3 * time.Minute}

// TestChaos_ClockSkew: instances whose clocks are minutes off run beside
// instances with a true clock. Due checks, leases and recorded times use
// the database's clock, so no occurrence may run twice and none may start
// before its time, measured on the true clock.
//
// The issue asks for Debian's faketime. libfaketime moves the clock of
// programs that read it through the C library; a Go binary reads it
// through the vDSO, so faketime does not move it (the test checks this
// every time and says which case it is in). When faketime does move the
// binary's clock, the skewed instances are `faketime -f ±Nm geoetl
// serve` processes; when it does not, they are schedulers started in this
// test process with a clock that is off by the same amounts (the
// scheduler takes every reading of local time from its clock), on the
// same database as two real geoetl serve processes.
func TestChaos_ClockSkew(t *testing.T) {
	t.Parallel()
	moved := faketimeMovesTheBinary(t)
	var wrapped [][]string
	if moved {
		for _, d := range skews {
			wrapped = append(wrapped, []string{"faketime", "-f", fmt.Sprintf("%+ds", int(d.Seconds()))})
		}
	}
	f := newFleet(t, 2)
	if moved {
		for i, wrap := range wrapped {
			id := fmt.Sprintf("skewed-%d", i)
			in := &Instance{ID: id, Bin: bin, DB: withAppName(t, f.url, "geoetl-"+id), Dir: filepath.Join(t.TempDir(), id),
				Args: append([]string{"--shutdown-grace", "10s"}, leaseArgs()...), Wrap: wrap, Log: f.nodes[0].Log}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := in.Start(ctx); err != nil {
				cancel()
				t.Fatal(err)
			}
			cancel()
			f.nodes = append(f.nodes, in)
		}
	}
	schedules := mix(t, f.store, f.tenant.ID, pick(10, 30), pick(6, 12))
	var rec *recordingEngine
	if !moved {
		rec = startSkewedSchedulers(t, f.url)
	}
	w := windowFrom(2 * time.Second)
	time.Sleep(time.Until(w.From.Add(pick(10*time.Second, 3*time.Minute))))
	w = w.closeAt(time.Now())
	settleAndCheck(t, f.store, f.tenant.ID, schedules, w, settle)
	f.stopAll()
	if rec != nil {
		rec.stopAll(t)
	}
	v, err := Check(context.Background(), f.store, f.tenant.ID, schedules, w)
	if err != nil {
		t.Fatal(err)
	}
	report(t, fmt.Sprintf("clock skew %v (faketime moves the binary's clock: %v)", skews, moved), v)

	// The skewed instances took their share, and none of their runs began
	// before its occurrence on the true clock.
	byInstance := map[string]int{}
	for _, e := range f.executions(geoetl.ExecutionFilter{Status: geoetl.ExecCompleted, Since: &w.From, Until: &w.To}) {
		byInstance[str(e.InstanceID)]++
	}
	t.Logf("completed runs by instance: %v", byInstance)
	for i := range skews {
		id := fmt.Sprintf("skewed-%d", i)
		if byInstance[id] == 0 {
			t.Errorf("the skewed instance %s ran nothing", id)
		}
	}
	if rec != nil {
		early, checked := rec.early()
		t.Logf("%d runs of skewed instances checked against the true clock, %d began early", checked, len(early))
		for _, e := range early {
			t.Errorf("skewed instance began a run early: %s", e)
		}
	}
}

// faketimeMovesTheBinary runs `faketime -f +10m geoetl cron next` and
// reports whether the binary saw the moved clock.
func faketimeMovesTheBinary(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("faketime"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("faketime is not installed (CI=true, so this fails; .ci/run installs it)")
		}
		t.Log("faketime is not installed; the skewed instances run in this process")
		return false
	}
	out, err := exec.Command("faketime", "-f", "+10m", bin, "cron", "next", "* * * * * *", "--count", "1").Output()
	if err != nil {
		t.Fatalf("faketime geoetl cron next: %v", err)
	}
	next, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("geoetl cron next printed %q: %v", out, err)
	}
	moved := next.Sub(time.Now()) > 5*time.Minute
	t.Logf("faketime -f +10m: the geoetl binary's next second is %s, %s from now: its clock moved: %v",
		next.Format(time.RFC3339), time.Until(next).Round(time.Second), moved)
	return moved
}

// offsetClock is the real clock off by a fixed amount.
type offsetClock struct{ off time.Duration }

func (c offsetClock) Now() time.Time                       { return time.Now().Add(c.off) }
func (c offsetClock) NewTimer(d time.Duration) clock.Timer { return clock.Real{}.NewTimer(d) }

// recordingEngine is the real workflow engine, noting when (on the true
// clock) each run began, so early starts are measured, not taken from the
// instance's own records.
type recordingEngine struct {
	geoetl.WorkflowEngine
	mu      sync.Mutex
	begun   []string // runs that began before their occurrence
	scheds  []*scheduler.Scheduler
	checked int
}

func (r *recordingEngine) Run(ctx context.Context, req geoetl.RunRequest) (geoetl.RunSummary, error) {
	now := time.Now()
	r.mu.Lock()
	r.checked++
	if now.Before(req.ScheduledAt) && req.Trigger.IsOccurrence() {
		r.begun = append(r.begun, fmt.Sprintf("execution %s of %s began at %s", req.ExecutionID, req.ScheduledAt.Format(time.RFC3339), now.Format(time.RFC3339Nano)))
	}
	r.mu.Unlock()
	return r.WorkflowEngine.Run(ctx, req)
}

func (r *recordingEngine) early() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.begun...), r.checked
}

// startSkewedSchedulers starts one scheduler per skew on the database at
// u, with the real workflow engine.
func startSkewedSchedulers(t *testing.T, u string) *recordingEngine {
	t.Helper()
	engine, err := etl.New(etl.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingEngine{WorkflowEngine: engine}
	for i, off := range skews {
		id := fmt.Sprintf("skewed-%d", i)
		st, err := db.Open(context.Background(), withAppName(t, u, "geoetl-"+id), db.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		s, err := scheduler.New(scheduler.Config{Store: st, Engine: rec, Clock: offsetClock{off}, InstanceID: id, Cluster: postgres.NewCluster(u),
			Dispatch: true, ShutdownGrace: 10 * time.Second, LeaseTimeout: lease, HeartbeatInterval: lease / 6, ReapInterval: reapEach,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		rec.scheds = append(rec.scheds, s)
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	return rec
}

func (r *recordingEngine) stopAll(t *testing.T) {
	for _, s := range r.scheds {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
		cancel()
	}
}
