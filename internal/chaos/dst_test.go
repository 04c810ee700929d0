package chaos

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/scheduler"
)

// dstDay is one local day with a clock change, and what the cron
// dialect's daylight-saving rules say must happen on it, written out by
// hand (not computed by the cron package, which the dispatcher itself
// uses).
type dstDay struct {
	name, zone string
	date       time.Time // the local date (year, month, day)
	// want maps an expression to its exact occurrences (UTC, RFC 3339),
	// or, for long lists, count gives only how many.
	want  map[string][]string
	count map[string]int
}

var dstDays = []dstDay{
	{name: "NewYorkSpringForward", zone: "America/New_York", date: time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC),
		// 02:30 does not exist: it fires once, at the jump (03:00 EDT).
		want:  map[string][]string{"30 2 * * *": {"2027-03-14T07:00:00Z"}, "30 1 * * *": {"2027-03-14T06:30:00Z"}},
		count: map[string]int{"*/15 * * * *": 23 * 4, "0 * * * *": 23}},
	{name: "NewYorkFallBack", zone: "America/New_York", date: time.Date(2027, 11, 7, 0, 0, 0, 0, time.UTC),
		// A fixed time in the repeated hour fires once, in the first pass;
		// interval expressions fire in both passes.
		want:  map[string][]string{"30 1 * * *": {"2027-11-07T05:30:00Z"}, "30 2 * * *": {"2027-11-07T07:30:00Z"}},
		count: map[string]int{"*/15 * * * *": 25 * 4, "0 * * * *": 25}},
	{name: "LordHoweSpringForward", zone: "Australia/Lord_Howe", date: time.Date(2027, 10, 3, 0, 0, 0, 0, time.UTC),
		// The clock goes from 02:00 +10:30 to 02:30 +11:00: 02:15 does not
		// exist and fires at the jump, 2027-10-02T15:30Z.
		want:  map[string][]string{"15 2 * * *": {"2027-10-02T15:30:00Z"}, "45 1 * * *": {"2027-10-02T15:15:00Z"}},
		count: map[string]int{"0 * * * *": 24}},
	{name: "LordHoweFallBack", zone: "Australia/Lord_Howe", date: time.Date(2027, 4, 4, 0, 0, 0, 0, time.UTC),
		// The clock goes back from 02:00 +11:00 to 01:30 +10:30: 01:45
		// comes twice, a fixed time fires in the first pass only.
		want:  map[string][]string{"45 1 * * *": {"2027-04-03T14:45:00Z"}, "15 2 * * *": {"2027-04-03T15:45:00Z"}},
		count: map[string]int{"*/15 * * * *": 24*4 + 2, "0 * * * *": 24}},
}

// dstExpressions are scheduled on every day: those the day pins down and a
// few more (an interval inside the changing hours, every five minutes).
var dstExpressions = []string{"30 2 * * *", "30 1 * * *", "15 2 * * *", "45 1 * * *", "*/15 * * * *", "0 * * * *", "*/20 1-3 * * *", "*/5 * * * *"}

// TestChaos_DSTDays drives whole days with a clock change through the
// real dispatcher, worker pool and workflow engine on a fake clock (which
// is also the database's clock), stepping the clock to each occurrence in
// turn. Every occurrence the cron package defines must run exactly once,
// at its exact time, and the days' occurrences must be those the
// daylight-saving rules prescribe.
func TestChaos_DSTDays(t *testing.T) {
	t.Parallel()
	for _, day := range dstDays {
		t.Run(day.name, func(t *testing.T) {
			t.Parallel() // each day has a store and a clock of its own
			loc, err := time.LoadLocation(day.zone)
			if err != nil {
				t.Fatalf("zone data: %v", err)
			}
			y, m, d := day.date.Date()
			w := Window{From: time.Date(y, m, d, 0, 0, 0, 0, loc).UTC(), To: time.Date(y, m, d+1, 0, 0, 0, 0, loc).UTC()}
			v, runs := driveDay(t, day.zone, w)
			report(t, "DST day "+day.name, v)
			if v.Once != v.Expected || v.Max != 0 {
				t.Errorf("%d of %d occurrences ran once; latest start %s after its occurrence (want all, at their exact time)", v.Once, v.Expected, v.Max)
			}
			for expr, want := range day.want {
				var got []string
				for _, at := range runs[expr] {
					got = append(got, at.Format(time.RFC3339))
				}
				if !slices.Equal(got, want) {
					t.Errorf("%q in %s: ran at %v, want %v", expr, day.zone, got, want)
				}
			}
			for expr, want := range day.count {
				if got := len(runs[expr]); got != want {
					t.Errorf("%q in %s: %d runs, want %d", expr, day.zone, got, want)
				}
			}
		})
	}
}

// driveDay runs the DST expressions in zone through a scheduler on a fake
// clock over w, and returns the verdict and the occurrences that
// completed, by expression.
func driveDay(t *testing.T, zone string, w Window) (*Verdict, map[string][]time.Time) {
	t.Helper()
	ctx := context.Background()
	fc := clock.NewFake(w.From.Add(-time.Minute))
	store := dbtest.SQLiteWith(t, db.Options{Clock: fc})
	tn := &geoetl.Tenant{Name: "dst"}
	if err := store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	wf := workflow(t, store, tn.ID, "noop", defNoop)
	var schedules []*geoetl.Schedule
	var times []time.Time
	for _, expr := range dstExpressions {
		s := geoetl.NewSchedule()
		s.TenantID, s.WorkflowID, s.Name, s.CronExpression, s.Timezone = tn.ID, wf.ID, expr, expr, zone
		next, err := s.ComputeNextRun(fc.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.NextRunAt = next
		if err := store.CreateSchedule(ctx, s); err != nil {
			t.Fatal(err)
		}
		schedules = append(schedules, s)
		occ, err := Occurrences(s, w)
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, occ...)
	}
	engine, err := etl.New(etl.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := scheduler.New(scheduler.Config{Store: store, Engine: engine, Clock: fc, InstanceID: "dst", Dispatch: true,
		Logger: slog.New(slog.DiscardHandler), ReapInterval: -1, ExpiryInterval: -1, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	done := countCompleted(t, s, tn.ID)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })

	// Step the clock to each distinct occurrence time and wait for the
	// runs due then.
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	want := 0
	for i, at := range times {
		want++
		if i+1 < len(times) && times[i+1].Equal(at) {
			continue
		}
		fc.Set(at)
		done.wait(t, want, at)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := Check(ctx, store, tn.ID, schedules, w)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string][]time.Time{}
	for _, e := range executionsOf(t, store, tn.ID, w) {
		if e.Status == geoetl.ExecCompleted {
			for _, sc := range schedules {
				if sc.ID == *e.ScheduleID {
					runs[sc.CronExpression] = append(runs[sc.CronExpression], e.ScheduledAt)
				}
			}
		}
	}
	for _, list := range runs {
		slices.SortFunc(list, func(a, b time.Time) int { return a.Compare(b) })
	}
	return v, runs
}

func executionsOf(t *testing.T, store geoetl.Store, tenantID string, w Window) []*geoetl.Execution {
	t.Helper()
	list, err := executionsIn(context.Background(), store, tenantID, w)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// completions counts completed-execution events of one tenant.
type completions struct {
	mu   sync.Mutex
	n    int
	kick chan struct{}
}

func countCompleted(t *testing.T, s *scheduler.Scheduler, tenantID string) *completions {
	ch, cancel := s.Subscribe(tenantID)
	t.Cleanup(cancel)
	c := &completions{kick: make(chan struct{}, 1)}
	go func() {
		for ev := range ch {
			if ev.Status != geoetl.ExecCompleted {
				continue
			}
			c.mu.Lock()
			c.n++
			c.mu.Unlock()
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

// wait waits until n runs have completed in all.
func (c *completions) wait(t *testing.T, n int, at time.Time) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		got := c.n
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-c.kick:
		case <-timeout:
			t.Fatalf("at %s: %d runs completed, want %d", at.Format(time.RFC3339), got, n)
		}
	}
}
