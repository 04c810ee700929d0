// Package load is the load test of GeoETL: a real `geoetl
// serve` process fires many every-second schedules while concurrent API
// readers and writers hit it, and the report gives the API's latency per
// route class, its error rate and 5xx count, and the scheduler's start
// lateness with and without the API load; then a tenant with 100,000
// schedules is listed and searched. `make load` runs it through
// internal/cmd/geoetl-load.
package load

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/internal/chaos"
	"github.com/geoetl/geoetl/service"
)

// Config sets the size of a load run. Zero fields take the defaults named.
type Config struct {
	Bin string // the geoetl binary (chaos.Build)
	// DB is the database URL; "" means a new SQLite file in Dir.
	DB  string
	Dir string // working folder

	Schedules int           // every-second schedules firing (1,000)
	Duration  time.Duration // each measured phase (30 s)
	Runs      int           // quiet/loaded pairs, reported as medians (3)
	Readers   int           // concurrent API readers (8)
	Writers   int           // concurrent API writers (4)
	// Rate is the API requests per second of readers and writers together,
	// each on a fixed timetable; 0 sends as fast as answers come.
	Rate          float64
	ListSchedules int       // schedules of the tenant listed and searched (100,000; negative skips)
	Log           io.Writer // progress lines; nil discards
}

func (c *Config) defaults() {
	if c.Schedules == 0 {
		c.Schedules = 1000
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Readers == 0 {
		c.Readers = 8
	}
	if c.Writers == 0 {
		c.Writers = 4
	}
	if c.ListSchedules == 0 {
		c.ListSchedules = 100_000
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Report is what a load run measured.
type Report struct {
	Backend   string
	Schedules int
	Duration  time.Duration
	Readers   int
	Writers   int
	Rate      float64
	Quiet     []Lateness // per run, without API load
	Loaded    []Phase    // per run, with API load
	List      *Phase     // the 100,000-schedule tenant (nil when skipped)
	ListSize  int
}

// Lateness is the scheduler's side of a phase: start lateness of every
// occurrence, and whether any ran twice or was missed.
type Lateness struct {
	P50, P99, Max time.Duration
	Expected      int
	Twice, Missed int
	Explained     int
	Reasons       map[string]int // explained occurrences by recorded reason
}

// Phase is one measured stretch of API load with the scheduler's lateness
// during it.
type Phase struct {
	Routes   map[string]*Stats // by route class
	Lateness Lateness
}

// Run runs the load test and returns its report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(cfg.Dir, "geoetl.db")
	}
	backend := "sqlite"
	if strings.HasPrefix(cfg.DB, "postgres") {
		backend = "postgres"
	}
	in := &chaos.Instance{ID: "load", Bin: cfg.Bin, DB: cfg.DB, Dir: cfg.Dir, Args: []string{"--shutdown-grace", "10s"}}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err := in.Start(startCtx)
	cancel()
	if err != nil {
		return nil, err
	}
	defer in.Kill()
	store, err := db.Open(ctx, cfg.DB, db.Options{})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	e, err := newEnv(ctx, store, in.URL())
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "load: %s, %d every-second schedules\n", backend, cfg.Schedules)
	fired, err := e.fireEverySecond(ctx, cfg.Schedules)
	if err != nil {
		return nil, err
	}
	rep := &Report{Backend: backend, Schedules: cfg.Schedules, Duration: cfg.Duration, Readers: cfg.Readers, Writers: cfg.Writers, Rate: cfg.Rate}
	for run := range cfg.Runs {
		// Quiet: the scheduler alone.
		from := time.Now().Truncate(time.Second).Add(2 * time.Second)
		time.Sleep(time.Until(from.Add(cfg.Duration)))
		q, err := e.lateness(ctx, fired, from, from.Add(cfg.Duration))
		if err != nil {
			return nil, err
		}
		rep.Quiet = append(rep.Quiet, q)
		fmt.Fprintf(cfg.Log, "load: run %d quiet: lateness p50 %s p99 %s, twice %d, missed %d\n", run+1, q.P50, q.P99, q.Twice, q.Missed)

		// Loaded: the same, with readers and writers.
		from = time.Now().Truncate(time.Second).Add(2 * time.Second)
		time.Sleep(time.Until(from))
		routes := e.hammer(ctx, cfg.Readers, cfg.Writers, cfg.Rate, from.Add(cfg.Duration), rand.New(rand.NewPCG(uint64(run), 1)))
		time.Sleep(time.Until(from.Add(cfg.Duration)))
		l, err := e.lateness(ctx, fired, from, from.Add(cfg.Duration))
		if err != nil {
			return nil, err
		}
		rep.Loaded = append(rep.Loaded, Phase{Routes: routes, Lateness: l})
		fmt.Fprintf(cfg.Log, "load: run %d loaded: %s; lateness p50 %s p99 %s\n", run+1, summary(routes), l.P50, l.P99)
	}
	if err := e.pauseAll(ctx, fired); err != nil {
		return nil, err
	}
	if cfg.ListSchedules > 0 {
		fmt.Fprintf(cfg.Log, "load: creating a tenant with %d schedules\n", cfg.ListSchedules)
		list, err := e.listPhase(ctx, cfg.ListSchedules, cfg.Readers, cfg.Rate, cfg.Duration)
		if err != nil {
			return nil, err
		}
		rep.List, rep.ListSize = list, cfg.ListSchedules
	}
	if err := in.Stop(time.Minute); err != nil {
		return rep, err
	}
	return rep, nil
}

// env is the tenant, tokens and workflow the load works with.
type env struct {
	store  geoetl.Store
	svc    *service.Service
	base   string
	tenant *geoetl.Tenant
	editor string // bearer token
	wf     *geoetl.Workflow
	// targets are paused schedules the writers update and readers read.
	targets []string
}

func newEnv(ctx context.Context, store geoetl.Store, base string) (*env, error) {
	e := &env{store: store, svc: service.New(service.Service{Store: store}), base: base}
	var err error
	if e.tenant, err = e.svc.CreateTenant(ctx, "load-"+geoetl.NewID()[:8]); err != nil {
		return nil, err
	}
	if _, e.editor, err = e.svc.CreateTokenAsSystem(ctx, e.tenant.ID, "load", geoetl.RoleEditor); err != nil {
		return nil, err
	}
	e.wf = &geoetl.Workflow{TenantID: e.tenant.ID, Name: "noop", Definition: []byte(`{"nodes":[]}`)}
	if err := store.CreateWorkflow(ctx, e.wf); err != nil {
		return nil, err
	}
	for i := range 50 {
		s := e.newSchedule(fmt.Sprintf("target-%02d", i), "0 3 * * *")
		s.Status = geoetl.StatusPaused
		s.NextRunAt = nil
		if err := store.CreateSchedule(ctx, s); err != nil {
			return nil, err
		}
		e.targets = append(e.targets, s.ID)
	}
	return e, nil
}

func (e *env) newSchedule(name, expr string) *geoetl.Schedule {
	s := geoetl.NewSchedule()
	s.TenantID, s.WorkflowID, s.Name, s.CronExpression = e.tenant.ID, e.wf.ID, name, expr
	s.Description = "load test schedule " + name
	return s
}

// fireEverySecond creates n every-second schedules, first run two seconds
// from now.
func (e *env) fireEverySecond(ctx context.Context, n int) ([]*geoetl.Schedule, error) {
	next := time.Now().Truncate(time.Second).Add(2 * time.Second).UTC()
	var out []*geoetl.Schedule
	for i := range n {
		s := e.newSchedule(fmt.Sprintf("every-second-%04d", i), "* * * * * *")
		s.NextRunAt = &next
		if err := e.store.CreateSchedule(ctx, s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// pauseAll stops the every-second schedules.
func (e *env) pauseAll(ctx context.Context, list []*geoetl.Schedule) error {
	for _, s := range list {
		if err := e.store.SetScheduleStatus(ctx, e.tenant.ID, s.ID, geoetl.StatusPaused, nil); err != nil {
			return err
		}
	}
	return nil
}

// lateness judges the occurrences of list in [from, to) once they have
// all been recorded (or 60 s have passed).
func (e *env) lateness(ctx context.Context, list []*geoetl.Schedule, from, to time.Time) (Lateness, error) {
	w := chaos.Window{From: from.UTC(), To: to.UTC()}
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := chaos.Check(ctx, e.store, e.tenant.ID, list, w)
		if err != nil {
			return Lateness{}, err
		}
		if (v.Unresolved == 0 && v.Missed == 0) || time.Now().After(deadline) {
			return Lateness{P50: v.P50, P99: v.P99, Max: v.Max, Expected: v.Expected, Twice: v.Twice, Missed: v.Missed + v.Unresolved,
				Explained: v.ExplainedCount(), Reasons: v.Explained}, nil
		}
		time.Sleep(time.Second)
	}
}

// median returns the median of xs (the lower middle for an even count).
func median(xs []time.Duration) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func summary(routes map[string]*Stats) string {
	names := make([]string, 0, len(routes))
	for n := range routes {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		s := routes[n]
		parts = append(parts, fmt.Sprintf("%s %d req p50 %s p99 %s err %d 5xx %d", n, s.Count, s.P50(), s.P99(), s.Errors, s.ServerErrors))
	}
	return strings.Join(parts, "; ")
}
