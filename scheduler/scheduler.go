// Package scheduler runs schedules: a dispatcher claims due occurrences in
// the database, a worker pool runs them through a geoetl.WorkflowEngine, and
// batching writers record what happened.
//
// How it holds together:
//
//   - The database is the source of truth. The dispatcher sleeps on one
//     timer until the soonest next run minus Lookahead (never longer than
//     SweepInterval), then claims due schedules and pending executions in a
//     short transaction: it inserts one execution row per occurrence under
//     the unique (schedule, occurrence) key, claimed by this instance with
//     a fresh heartbeat (the claim lease), and advances next_run_at, all at
//     once and in the database's clock. Overlap and misfire policies are
//     decided in that transaction.
//   - A claimed execution starts at exactly its occurrence: the local timer
//     is corrected by the measured offset between the database's clock and
//     the local one, and never fires early. Starts, finishes, heartbeats,
//     node records and logs are written in batches (group commit).
//   - An instance that dies leaves claims whose heartbeat goes stale; the
//     reaper (a singleton chore) hands unstarted claims back and fails
//     started runs with "instance lost", applying the retry policy. An
//     instance cut off from the database stops its own runs before the
//     reaper could act, so nothing runs twice.
//   - Changes wake the other instances through the cluster's change feed,
//     and the singleton chores run on the instance its elector picks
//     (Config.Cluster). The scheduler never learns which database it runs
//     on: the store and the cluster (db.OpenCluster) hide it.
//
// Where each part lives (Scheduler only wires them together):
//
//   - claimer (dispatch.go, claim.go, lookahead.go, tenantshare.go): the
//     dispatcher loop and the claim transactions that turn due schedules
//     and pending rows into jobs held here.
//   - decider (decide.go, with the pure decideOverlap): contended jobs,
//     whose overlap policy is decided at their time, not at their claim.
//   - runner (pool.go, run.go, writer.go): the firer that starts each job
//     at its time, the workers that run it through the engine, and the
//     writer that records what happened.
//   - held (held.go): the jobs this instance holds, shared by the above.
//   - announcer (announce.go, changes.go): telling subscribers, other
//     instances, metrics and notifications what happened, and acting on
//     what the other instances tell.
//   - chores (chores.go): heartbeats and the fence on every instance; the
//     reaper, expiry and retention on the elected one.
package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/metrics"
)

// Scheduler is one instance's dispatcher, worker pool and chores. It
// implements service.Scheduler and the console's event source. It owns the
// lifecycle (which goroutines run, and the order they stop in); the work
// itself is done by its parts.
type Scheduler struct {
	*deps
	held    *held
	claimer *claimer
	decider *decider
	runner  *runner
	out     *announcer
	chores  *chores

	mu      sync.Mutex // guards started and stopped
	started bool
	stopped bool

	stopCtx  context.Context // cancelled when Stop begins: no more claims
	stopFn   context.CancelFunc
	loops    sync.WaitGroup // the writer
	claimers sync.WaitGroup // dispatcher, firer and decider: they add and hand out jobs
	workers  sync.WaitGroup
}

// deps is what every part of the scheduler shares: they read the same
// configuration, store and clocks, so a test that replaces one (rand, say)
// replaces it for all.
type deps struct {
	cfg   *Config
	store Store
	clock clock.Clock
	db    *dbClock
	log   *slog.Logger
	m     *metrics.Metrics
	id    string
	isPG  bool
	rand  func() float64
}

// New checks cfg and returns a scheduler; Start runs it.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	d := &deps{
		cfg:   &cfg,
		store: cfg.Store,
		clock: cfg.Clock,
		db:    &dbClock{local: cfg.Clock},
		log:   cfg.Logger.With("component", "scheduler", "instance", cfg.InstanceID),
		m:     cfg.Metrics,
		id:    cfg.InstanceID,
		isPG:  cfg.Cluster != nil && cfg.Cluster.MultiProcess(),
		rand:  rand.Float64,
	}
	s := &Scheduler{deps: d, held: newHeld()}
	s.out = &announcer{deps: d, held: s.held, events: newHub()}
	s.claimer = newClaimer(d, s.held, s.out)
	s.runner = newRunner(d, s.held, s.out)
	s.decider = &decider{deps: d, held: s.held, wake: make(chan struct{}, 1)}
	s.chores = &chores{deps: d, held: s.held, out: s.out}
	// The parts call one another for what happens next: a claim hands its
	// jobs to the runner, a run's outcome frees a slot the claimer and the
	// decider wait for.
	s.claimer.runner = s.runner
	s.runner.decider = s.decider
	s.decider.runner, s.decider.claimer, s.decider.out = s.runner, s.claimer, s.out
	s.out.claimer, s.out.decider = s.claimer, s.decider
	s.stopCtx, s.stopFn = context.WithCancel(context.Background())
	return s, nil
}

// InstanceID returns the id this instance claims under.
func (s *Scheduler) InstanceID() string { return s.id }

// Start starts the dispatcher, the workers and the chores (or, when
// Dispatch is off, only change propagation and events). It returns once
// they run; ctx only bounds the start itself.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("scheduler: already started")
	}
	s.started = true
	s.mu.Unlock()

	if s.cfg.Cluster != nil {
		if err := s.out.startFeed(ctx); err != nil {
			return err
		}
	}
	if !s.cfg.Dispatch {
		return nil
	}
	s.loops.Add(1)
	go func() { defer s.loops.Done(); s.runner.writer.loop() }()
	for range s.cfg.Workers {
		s.workers.Add(1)
		go func() { defer s.workers.Done(); s.runner.worker() }()
	}
	s.claimers.Add(3)
	go func() { defer s.claimers.Done(); s.runner.firer(s.stopCtx) }()
	go func() { defer s.claimers.Done(); s.decider.loop(s.stopCtx) }()
	go func() { defer s.claimers.Done(); s.claimer.dispatcher(s.stopCtx) }()
	if err := s.chores.start(); err != nil {
		return err
	}
	return nil
}

// Stop shuts down gracefully: no new claims, unstarted claims are handed
// back, running executions get ShutdownGrace to finish and are then
// cancelled and recorded as such. ctx bounds the whole stop.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped || !s.started {
		s.stopped = true
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	s.stopFn()
	s.chores.stopSingletons()
	if !s.cfg.Dispatch {
		s.loops.Wait()
		s.out.closeFeed()
		return nil
	}

	// Once nothing claims or hands out jobs any more, hand back what has
	// not started, so another instance (or the next start of this one)
	// runs it on time.
	s.claimers.Wait()
	unstarted := s.held.takeUnstarted()
	var errs []error
	if len(unstarted) > 0 {
		if err := s.releaseClaims(ctx, unstarted); err != nil {
			errs = append(errs, err)
		}
	}

	// Let running executions finish within the grace period, then cancel
	// them; they record themselves as cancelled at shutdown.
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	s.runner.closeQueues()
	grace := time.NewTimer(s.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		s.held.cancelRunning(stopShutdown)
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, errors.New("scheduler: runs did not stop before the shutdown deadline"))
		}
	case <-ctx.Done():
		s.held.cancelRunning(stopShutdown)
		errs = append(errs, errors.New("scheduler: shutdown deadline reached during the grace period"))
	}
	s.runner.writer.close(ctx)
	s.chores.stopHeartbeats()
	s.loops.Wait()
	s.runner.runCancel()
	s.out.closeFeed()
	s.chores.closeElector()
	return errors.Join(errs...)
}

// releaseClaims hands unstarted claims back to the pool, retrying while
// the database is unreachable until ctx ends.
func (s *Scheduler) releaseClaims(ctx context.Context, ids []string) error {
	for failures := 1; ; failures++ {
		err := s.store.ReleaseClaims(ctx, ids)
		if err == nil {
			s.log.Info("handed back unstarted claims", "count", len(ids))
			return nil
		}
		s.log.Warn("handing back claims failed; retrying", "err", err, "count", len(ids))
		if !clock.SleepContext(ctx, clock.Backoff(failures)) {
			return err
		}
	}
}

// Changed wakes the dispatchers, here and (on PostgreSQL) on the other
// instances, after schedules or pending executions changed.
func (s *Scheduler) Changed(ctx context.Context) { s.out.changed(ctx) }

// CancelExecution stops an execution at once if this instance holds it;
// the store has recorded the request, so other instances learn of it
// through the database (at once on PostgreSQL, else at their next
// heartbeat).
func (s *Scheduler) CancelExecution(ctx context.Context, id string) {
	if s.held.cancel(id, stopUser) {
		return
	}
	s.out.publish(ctx, geoetl.Change{Cancel: []string{id}})
}

// Subscribe returns the status changes of the tenant's executions (this
// instance's and, on PostgreSQL, the others') until cancel is called. A
// subscriber that does not keep up loses events; it never slows the
// scheduler.
func (s *Scheduler) Subscribe(tenantID string) (<-chan geoetl.ExecutionEvent, func()) {
	return s.out.events.subscribe(tenantID)
}

// dbClock estimates the database's clock from the local one, by the
// offset between them that the latest claim measured. Each measurement is
// a lower bound (the database read its clock before the local clock was
// read), so runs timed with it never start early; only the latest is
// kept, so a step of the local clock is followed at the next claim.
type dbClock struct {
	local  clock.Clock
	offset atomic.Int64 // time.Duration
}

// now is the database's clock, about.
func (c *dbClock) now() time.Time { return c.local.Now().Add(c.lead()).UTC() }

// lead is how far the database's clock is ahead of the local one.
func (c *dbClock) lead() time.Duration { return time.Duration(c.offset.Load()) }

// measured records the offset a claim measured.
func (c *dbClock) measured(d time.Duration) { c.offset.Store(int64(d)) }
