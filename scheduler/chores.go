package scheduler

import (
	"context"
	"slices"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/notify"
)

// choreBatch bounds the rows one pass of a chore handles.
const choreBatch = 500

// startChores starts the periodic work under gocron: heartbeats on every
// instance, and the singleton chores (reaper, expiry, retention) on the
// elected instance only.
func (s *Scheduler) startChores() error {
	local, err := gocron.NewScheduler()
	if err != nil {
		return err
	}
	if _, err := local.NewJob(gocron.DurationJob(s.cfg.HeartbeatInterval), gocron.NewTask(s.heartbeat),
		gocron.WithName("heartbeat"), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
		return err
	}
	// The fence is checked on its own, not only when a heartbeat fails: a
	// heartbeat waiting on a database that does not answer would otherwise
	// check it too late, after the reaper may have handed the run out.
	if _, err := local.NewJob(gocron.DurationJob(fenceCheckInterval(s.cfg.LeaseTimeout)), gocron.NewTask(s.fenceLapsed),
		gocron.WithName("fence"), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
		return err
	}
	opts := []gocron.SchedulerOption{}
	if s.cfg.Cluster != nil {
		s.elector = s.cfg.Cluster.NewElector(&geoetl.ElectorParams{IdleTimeout: s.cfg.electorIdleTimeout(), Logger: s.log})
		opts = append(opts, gocron.WithDistributedElector(s.elector))
	}
	single, err := gocron.NewScheduler(opts...)
	if err != nil {
		return err
	}
	chores := []struct {
		name  string
		every time.Duration
		fn    func(context.Context) error
	}{
		{"reaper", s.cfg.ReapInterval, s.reap},
		{"expiry", s.cfg.ExpiryInterval, s.expire},
		{"retention", s.cfg.RetentionInterval, s.retain},
	}
	for _, c := range chores {
		if c.every < 0 || (c.name == "retention" && s.cfg.Retention == 0) {
			continue
		}
		fn, name := c.fn, c.name
		task := func(ctx context.Context) {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("chore failed; it runs again at its next interval", "chore", name, "err", err)
			}
		}
		if _, err := single.NewJob(gocron.DurationJob(c.every), gocron.NewTask(task),
			gocron.WithName(name), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
			return err
		}
	}
	s.localJobs, s.chores = local, single
	local.Start()
	single.Start()
	return nil
}

// stopChores stops the singleton chores; heartbeats go on (stopHeartbeats)
// while running executions finish, so no reaper takes them for lost.
func (s *Scheduler) stopChores() { s.shutdownScheduler(s.chores) }

func (s *Scheduler) stopHeartbeats() { s.shutdownScheduler(s.localJobs) }

func (s *Scheduler) shutdownScheduler(c gocron.Scheduler) {
	if c == nil {
		return
	}
	if err := c.Shutdown(); err != nil {
		s.log.Warn("stopping chores", "err", err)
	}
}

// heartbeatChunk bounds the executions one heartbeat transaction
// refreshes, so that each commits quickly and a slow database still
// refreshes most leases in time.
const heartbeatChunk = 500

// heartbeat refreshes the leases of everything this instance holds, stops
// what the database says to stop, and, when the database cannot be
// reached, stops runs whose lease this instance can no longer vouch for.
func (s *Scheduler) heartbeat(ctx context.Context) {
	// Claims and runs first, outcomes waiting for the writer last: if a
	// slow round ends early, what lapses is work already done, which the
	// writer is about to record, not work that would then not start.
	s.mu.Lock()
	var ids, finished []string
	for id, j := range s.jobs {
		if j.state == jobFinished {
			finished = append(finished, id)
		} else {
			ids = append(ids, id)
		}
	}
	s.setQueueMetricsLocked()
	s.mu.Unlock()
	slices.Sort(ids)
	slices.Sort(finished)
	ids = append(ids, finished...)
	if len(ids) == 0 {
		return
	}
	// A slow database is not a lost one: a round may take up to half the
	// lease (the fence chore stops runs in time meanwhile). Each chunk
	// that commits renews its leases, whatever the later ones do.
	hctx, cancel := context.WithTimeout(ctx, max(s.cfg.HeartbeatInterval, s.cfg.LeaseTimeout/2))
	defer cancel()
	for start := 0; start < len(ids); start += heartbeatChunk {
		chunk := ids[start:min(start+heartbeatChunk, len(ids))]
		sent := s.clock.Now()
		stop, err := s.store.Heartbeat(hctx, s.id, chunk)
		if err != nil {
			s.log.Warn("heartbeat failed", "err", err, "held", len(ids), "renewed", start)
			s.fenceLapsed()
			return
		}
		s.renewed(chunk, stop, sent)
	}
}

// renewed extends the local lease of the executions a heartbeat kept and
// stops those the database says this instance must stop.
func (s *Scheduler) renewed(ids, stop []string, sent time.Time) {
	stopSet := make(map[string]bool, len(stop))
	for _, id := range stop {
		stopSet[id] = true
	}
	s.mu.Lock()
	for _, id := range ids {
		if j := s.jobs[id]; j != nil && !stopSet[id] {
			j.leaseUntil = sent.Add(s.cfg.fence())
		}
	}
	s.mu.Unlock()
	for _, id := range stop {
		s.stopHeld(id)
	}
}

// stopHeld stops a job the database says this instance must stop.
func (s *Scheduler) stopHeld(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return
	}
	switch j.state {
	case jobClaimed, jobDeciding, jobReady:
		s.dropLocked(j)
	case jobRunning:
		j.cancel(stopRemote)
	}
}

// fenceCheckInterval is how often the fence is checked: a twentieth of
// the lease (a quarter of the margin between fence and lease), at most a
// second.
func fenceCheckInterval(lease time.Duration) time.Duration {
	return max(10*time.Millisecond, min(time.Second, lease/20))
}

// fenceLapsed stops the runs whose lease lapsed while the database was
// unreachable: the reaper of another instance may hand them out again, and
// they must not run twice. They record themselves failed with "instance
// lost" (and retry) once the database is back, unless the reaper did so
// first.
func (s *Scheduler) fenceLapsed() {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.state == jobRunning && !j.fenced && now.After(j.leaseUntil) {
			j.fenced = true
			s.log.Warn("lease lapsed without a heartbeat; stopping the run", "execution", j.exec.ID)
			j.cancel(stopLost)
		}
	}
}

// reap fails the runs whose instance was lost (their heartbeat went stale)
// and applies their retry policy; claims that never started are handed
// back. Safe to run on several instances at once: the store only changes
// executions that are still unfinished, so a run is reaped (and retried)
// once.
func (s *Scheduler) reap(ctx context.Context) error {
	now, err := s.store.Now(ctx)
	if err != nil {
		return err
	}
	stale, err := s.store.StaleExecutions(ctx, now.Add(-s.cfg.LeaseTimeout), choreBatch)
	if err != nil || len(stale) == 0 {
		return err
	}
	var release []string
	var results []geoetl.ExecutionResult
	schedules := map[string]*geoetl.Schedule{}
	for _, e := range stale {
		if e.Status == geoetl.ExecPending {
			release = append(release, e.ID)
			continue
		}
		results = append(results, s.lostResult(ctx, e, now, schedules))
	}
	if len(release) > 0 {
		if err := s.store.ReleaseClaims(ctx, release); err != nil {
			return err
		}
		s.log.Warn("reaper: handed back claims of a lost instance", "count", len(release))
	}
	if len(results) > 0 {
		if err := s.store.FinishExecutions(ctx, results); err != nil {
			return err
		}
		s.log.Warn("reaper: failed runs of a lost instance", "count", len(results))
		s.announce(results)
	}
	s.Changed(ctx)
	return nil
}

// lostResult is the outcome of a run whose instance was lost.
func (s *Scheduler) lostResult(ctx context.Context, e *geoetl.Execution, now time.Time, cache map[string]*geoetl.Schedule) geoetl.ExecutionResult {
	msg := geoetl.ErrorInstanceLost
	e.Status, e.ErrorMessage, e.CompletedAt = geoetl.ExecFailed, &msg, &now
	if e.ExecutedAt != nil {
		d := now.Sub(*e.ExecutedAt).Milliseconds()
		e.DurationMs = &d
	}
	r := geoetl.ExecutionResult{Execution: e}
	if e.ScheduleID == nil {
		return r
	}
	sc, ok := cache[*e.ScheduleID]
	if !ok {
		found, err := s.store.FindScheduleByID(ctx, e.TenantID, *e.ScheduleID)
		if err != nil {
			found = nil // deleted: no retry, no notification
		}
		sc, cache[*e.ScheduleID] = found, found
	}
	if sc == nil {
		return r
	}
	r.Retry = retryFor(sc, e, now, s.rand())
	if s.cfg.Notifier != nil {
		name := ""
		if w, err := s.store.FindWorkflowByID(ctx, e.TenantID, e.WorkflowID); err == nil {
			name = w.Name
		}
		r.Deliveries = s.cfg.Notifier.PlanExecution(notify.ExecutionEvent{Schedule: sc, WorkflowName: name, Execution: e, WillRetry: r.Retry != nil})
	}
	return r
}

// expire marks schedules past their expiry as expired and notifies.
func (s *Scheduler) expire(ctx context.Context) error {
	now, err := s.store.Now(ctx)
	if err != nil {
		return err
	}
	list, err := s.store.ExpiredSchedules(ctx, now, choreBatch)
	if err != nil || len(list) == 0 {
		return err
	}
	var done []*geoetl.Schedule
	for _, sc := range list {
		if err := s.store.SetScheduleStatus(ctx, sc.TenantID, sc.ID, geoetl.StatusExpired, nil); err != nil {
			if geoetl.IsNotFound(err) {
				continue
			}
			return err
		}
		sc.Status, sc.StatusReason, sc.NextRunAt = geoetl.StatusExpired, nil, nil
		done = append(done, sc)
	}
	s.scheduleEvents(ctx, done, notify.EventScheduleExpired)
	return nil
}

// retain deletes finished executions older than the retention.
func (s *Scheduler) retain(ctx context.Context) error {
	now, err := s.store.Now(ctx)
	if err != nil {
		return err
	}
	total := 0
	for {
		n, err := s.store.DeleteFinishedExecutionsBefore(ctx, now.Add(-s.cfg.Retention), choreBatch*2)
		total += n
		if err != nil {
			return err
		}
		if n < choreBatch*2 {
			break
		}
	}
	if total > 0 {
		s.log.Info("retention: deleted old executions", "count", total)
	}
	return nil
}
