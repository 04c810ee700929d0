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
package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/metrics"
)

// Scheduler is one instance's dispatcher, worker pool and chores. It
// implements service.Scheduler and the console's event source.
type Scheduler struct {
	cfg    Config
	store  Store
	clock  clock.Clock
	log    *slog.Logger
	m      *metrics.Metrics
	id     string
	isPG   bool
	rand   func() float64
	events *hub

	wake       chan struct{} // wakes the dispatcher
	fireWake   chan struct{} // wakes the firer (an earlier job)
	decideWake chan struct{} // wakes the decider (contended jobs due)
	ready      chan *job     // jobs due, for the workers
	late       chan *job     // catch-ups and backlog: workers take them only when ready is empty
	offsets    offsetTracker
	rate       claimRate   // of claim transactions, for the adaptive lookahead
	window     claimWindow // how far claims reach for a large set due together
	writer     *writer
	feed       geoetl.ChangeFeed // nil without a cluster
	elector    geoetl.Elector    // nil without a cluster
	chores     gocron.Scheduler
	localJobs  gocron.Scheduler

	mu      sync.Mutex
	jobs    map[string]*job     // claimed or running here, until their finish is written
	timers  jobHeap             // claimed jobs waiting for their start
	blocked map[string]struct{} // schedules whose pending rows wait for a slot
	share   tenantGate          // tenants whose runs wait for a run slot
	// deciding are the contended jobs due, for the decider; undecided
	// counts those the decider left waiting, by schedule.
	deciding  []*job
	undecided map[string]int
	stopped   bool

	runCtx    context.Context // parent of every run's context
	runCancel context.CancelFunc
	stopCtx   context.Context // cancelled when Stop begins
	stopFn    context.CancelFunc
	loops     sync.WaitGroup // the writer
	claimers  sync.WaitGroup // dispatcher and firer: they add and hand out jobs
	workers   sync.WaitGroup
	started   bool
	onSleep   func() // called when the dispatcher goes to sleep (tests and benchmarks)

	tenantNames sync.Map // tenant id -> name, for RunRequest.TenantName
}

// New checks cfg and returns a scheduler; Start runs it.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Scheduler{
		cfg:        cfg,
		store:      cfg.Store,
		clock:      cfg.Clock,
		log:        cfg.Logger.With("component", "scheduler", "instance", cfg.InstanceID),
		m:          cfg.Metrics,
		id:         cfg.InstanceID,
		rand:       rand.Float64,
		events:     newHub(),
		wake:       make(chan struct{}, 1),
		fireWake:   make(chan struct{}, 1),
		decideWake: make(chan struct{}, 1),
		undecided:  map[string]int{},
		ready:      make(chan *job, cfg.MaxClaimed+cfg.BatchSize),
		late:       make(chan *job, cfg.MaxClaimed+cfg.BatchSize),
		jobs:       map[string]*job{},
		blocked:    map[string]struct{}{},
	}
	s.isPG = cfg.Cluster != nil && cfg.Cluster.MultiProcess()
	s.writer = newWriter(s)
	s.runCtx, s.runCancel = context.WithCancel(context.Background())
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
		s.feed = s.newFeed()
		if err := s.feed.Start(ctx); err != nil {
			s.feed.Close()
			s.feed = nil
			return err
		}
	}
	if !s.cfg.Dispatch {
		return nil
	}
	s.loops.Add(1)
	go s.writer.loop()
	for range s.cfg.Workers {
		s.workers.Add(1)
		go s.worker()
	}
	s.claimers.Add(3)
	go s.firer()
	go s.decider()
	go s.dispatcher()
	if err := s.startChores(); err != nil {
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
	s.stopChores()
	if !s.cfg.Dispatch {
		s.loops.Wait()
		if s.feed != nil {
			s.feed.Close()
		}
		return nil
	}

	// Once nothing claims or hands out jobs any more, hand back what has
	// not started, so another instance (or the next start of this one)
	// runs it on time.
	s.claimers.Wait()
	unstarted := s.takeUnstarted()
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
	close(s.ready)
	close(s.late)
	grace := time.NewTimer(s.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		s.cancelRunning(stopShutdown)
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, errors.New("scheduler: runs did not stop before the shutdown deadline"))
		}
	case <-ctx.Done():
		s.cancelRunning(stopShutdown)
		errs = append(errs, errors.New("scheduler: shutdown deadline reached during the grace period"))
	}
	s.writer.close(ctx)
	s.stopHeartbeats()
	s.loops.Wait()
	s.runCancel()
	if s.feed != nil {
		s.feed.Close()
	}
	if s.elector != nil {
		s.elector.Close()
	}
	return errors.Join(errs...)
}

// Changed wakes the dispatchers, here and (on PostgreSQL) on the other
// instances, after schedules or pending executions changed.
func (s *Scheduler) Changed(ctx context.Context) {
	s.unblockAll()
	s.poke()
	s.publish(ctx, geoetl.Change{Wake: true})
}

// CancelExecution stops an execution at once if this instance holds it;
// the store has recorded the request, so other instances learn of it
// through the database (at once on PostgreSQL, else at their next
// heartbeat).
func (s *Scheduler) CancelExecution(ctx context.Context, id string) {
	if s.cancelLocal(id, stopUser) {
		return
	}
	s.publish(ctx, geoetl.Change{Cancel: []string{id}})
}

// Subscribe returns the status changes of the tenant's executions (this
// instance's and, on PostgreSQL, the others') until cancel is called. A
// subscriber that does not keep up loses events; it never slows the
// scheduler.
func (s *Scheduler) Subscribe(tenantID string) (<-chan geoetl.ExecutionEvent, func()) {
	return s.events.subscribe(tenantID)
}

// poke wakes the dispatcher without blocking.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) unblockAll() {
	s.mu.Lock()
	clear(s.blocked)
	s.mu.Unlock()
	s.share.clear()
}

// unblock forgets that a schedule's pending rows wait for a slot (one of
// its runs finished) and wakes the dispatcher if they did.
func (s *Scheduler) unblock(scheduleIDs ...string) {
	s.mu.Lock()
	n := 0
	for _, id := range scheduleIDs {
		if _, ok := s.blocked[id]; ok {
			delete(s.blocked, id)
			n++
		}
	}
	s.mu.Unlock()
	if n > 0 {
		s.poke()
	}
}

func (s *Scheduler) blockedList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.blocked))
	for id := range s.blocked {
		out = append(out, id)
	}
	return out
}

// dbNow estimates the database's clock from the local one.
func (s *Scheduler) dbNow() time.Time { return s.clock.Now().Add(s.offsets.get()).UTC() }

// offsetTracker keeps the offset between the database clock and the local
// one, as measured by the latest claim. Each measurement is a lower bound
// (the database read its clock before the local clock was read), so runs
// timed with it never start early; only the latest is kept, so a step of
// the local clock is followed at the next claim.
type offsetTracker struct{ d atomic.Int64 }

func (o *offsetTracker) add(d time.Duration) { o.d.Store(int64(d)) }

func (o *offsetTracker) get() time.Duration { return time.Duration(o.d.Load()) }
