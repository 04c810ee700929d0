package scheduler

import (
	"context"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/notify"
)

// chores is the periodic upkeep, under gocron: on every instance the
// heartbeat that renews this instance's leases and the fence that stops
// runs whose lease lapsed; on the elected instance only, the reaper (runs
// of lost instances), expiry and retention.
type chores struct {
	*deps
	held *held
	out  *announcer

	heartbeats gocron.Scheduler // heartbeat and fence, on every instance
	singletons gocron.Scheduler // reaper, expiry, retention, on the elected one
	elector    geoetl.Elector   // nil without a cluster
}

// choreBatch bounds the rows one pass of a chore handles.
const choreBatch = 500

// start starts the periodic work under gocron: heartbeats on every
// instance, and the singleton chores (reaper, expiry, retention) on the
// elected instance only.
func (ch *chores) start() error {
	local, err := gocron.NewScheduler()
	if err != nil {
		return err
	}
	if _, err := local.NewJob(gocron.DurationJob(ch.cfg.HeartbeatInterval), gocron.NewTask(ch.heartbeat),
		gocron.WithName("heartbeat"), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
		return err
	}
	// The fence is checked on its own, not only when a heartbeat fails: a
	// heartbeat waiting on a database that does not answer would otherwise
	// check it too late, after the reaper may have handed the run out.
	if _, err := local.NewJob(gocron.DurationJob(fenceCheckInterval(ch.cfg.LeaseTimeout)), gocron.NewTask(ch.fenceLapsed),
		gocron.WithName("fence"), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
		return err
	}
	opts := []gocron.SchedulerOption{}
	if ch.cfg.Cluster != nil {
		ch.elector = ch.cfg.Cluster.NewElector(&geoetl.ElectorParams{IdleTimeout: ch.cfg.electorIdleTimeout(), Logger: ch.log})
		opts = append(opts, gocron.WithDistributedElector(ch.elector))
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
		{"reaper", ch.cfg.ReapInterval, ch.reap},
		{"expiry", ch.cfg.ExpiryInterval, ch.expire},
		{"retention", ch.cfg.RetentionInterval, ch.retain},
	}
	for _, c := range chores {
		if c.every < 0 || (c.name == "retention" && ch.cfg.Retention == 0) {
			continue
		}
		fn, name := c.fn, c.name
		task := func(ctx context.Context) {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				ch.log.Warn("chore failed; it runs again at its next interval", "chore", name, "err", err)
			}
		}
		if _, err := single.NewJob(gocron.DurationJob(c.every), gocron.NewTask(task),
			gocron.WithName(name), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
			return err
		}
	}
	ch.heartbeats, ch.singletons = local, single
	local.Start()
	single.Start()
	return nil
}

// stopSingletons stops the singleton chores; heartbeats go on
// (stopHeartbeats) while running executions finish, so no reaper takes
// them for lost.
func (ch *chores) stopSingletons() { ch.shutdownScheduler(ch.singletons) }

func (ch *chores) stopHeartbeats() { ch.shutdownScheduler(ch.heartbeats) }

func (ch *chores) closeElector() {
	if ch.elector != nil {
		ch.elector.Close()
	}
}

func (ch *chores) shutdownScheduler(c gocron.Scheduler) {
	if c == nil {
		return
	}
	if err := c.Shutdown(); err != nil {
		ch.log.Warn("stopping chores", "err", err)
	}
}

// heartbeatChunk bounds the executions one heartbeat transaction
// refreshes, so that each commits quickly and a slow database still
// refreshes most leases in time.
const heartbeatChunk = 500

// heartbeat refreshes the leases of everything this instance holds, stops
// what the database says to stop, and, when the database cannot be
// reached, stops runs whose lease this instance can no longer vouch for.
func (ch *chores) heartbeat(ctx context.Context) {
	ids, queued, running := ch.held.leaseIDs()
	if ch.m != nil {
		ch.m.SetQueue(queued, running)
	}
	if len(ids) == 0 {
		return
	}
	// A slow database is not a lost one: a round may take up to half the
	// lease (the fence chore stops runs in time meanwhile). Each chunk
	// that commits renews its leases, whatever the later ones do.
	hctx, cancel := context.WithTimeout(ctx, max(ch.cfg.HeartbeatInterval, ch.cfg.LeaseTimeout/2))
	defer cancel()
	for start := 0; start < len(ids); start += heartbeatChunk {
		chunk := ids[start:min(start+heartbeatChunk, len(ids))]
		sent := ch.clock.Now()
		stop, err := ch.store.Heartbeat(hctx, ch.id, chunk)
		if err != nil {
			ch.log.Warn("heartbeat failed", "err", err, "held", len(ids), "renewed", start)
			ch.fenceLapsed()
			return
		}
		ch.renewed(chunk, stop, sent)
	}
}

// renewed extends the local lease of the executions a heartbeat kept and
// stops those the database says this instance must stop.
func (ch *chores) renewed(ids, stop []string, sent time.Time) {
	ch.held.renew(ids, stop, sent.Add(ch.cfg.fence()))
	for _, id := range stop {
		ch.held.cancel(id, stopRemote)
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
func (ch *chores) fenceLapsed() {
	now := ch.clock.Now()
	ch.held.mu.Lock()
	defer ch.held.mu.Unlock()
	for _, j := range ch.held.jobs {
		if j.state == jobRunning && !j.fenced && now.After(j.leaseUntil) {
			j.fenced = true
			ch.log.Warn("lease lapsed without a heartbeat; stopping the run", "execution", j.exec.ID)
			j.cancel(stopLost)
		}
	}
}

// reap fails the runs whose instance was lost (their heartbeat went stale)
// and applies their retry policy; claims that never started are handed
// back. Safe to run on several instances at once: the store only changes
// executions that are still unfinished, so a run is reaped (and retried)
// once.
func (ch *chores) reap(ctx context.Context) error {
	now, err := ch.store.Now(ctx)
	if err != nil {
		return err
	}
	stale, err := ch.store.StaleExecutions(ctx, now.Add(-ch.cfg.LeaseTimeout), choreBatch)
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
		results = append(results, ch.lostResult(ctx, e, now, schedules))
	}
	if len(release) > 0 {
		if err := ch.store.ReleaseClaims(ctx, release); err != nil {
			return err
		}
		ch.log.Warn("reaper: handed back claims of a lost instance", "count", len(release))
	}
	if len(results) > 0 {
		if err := ch.store.FinishExecutions(ctx, results); err != nil {
			return err
		}
		ch.log.Warn("reaper: failed runs of a lost instance", "count", len(results))
		ch.out.announce(results)
	}
	ch.out.changed(ctx)
	return nil
}

// lostResult is the outcome of a run whose instance was lost.
func (ch *chores) lostResult(ctx context.Context, e *geoetl.Execution, now time.Time, cache map[string]*geoetl.Schedule) geoetl.ExecutionResult {
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
		found, err := ch.store.FindScheduleByID(ctx, e.TenantID, *e.ScheduleID)
		if err != nil {
			found = nil // deleted: no retry, no notification
		}
		sc, cache[*e.ScheduleID] = found, found
	}
	if sc == nil {
		return r
	}
	r.Retry = retryFor(sc, e, now, ch.rand())
	if ch.cfg.Notifier != nil {
		name := ""
		if w, err := ch.store.FindWorkflowByID(ctx, e.TenantID, e.WorkflowID); err == nil {
			name = w.Name
		}
		r.Deliveries = ch.cfg.Notifier.PlanExecution(notify.ExecutionEvent{Schedule: sc, WorkflowName: name, Execution: e, WillRetry: r.Retry != nil})
	}
	return r
}

// expire marks schedules past their expiry as expired and notifies.
func (ch *chores) expire(ctx context.Context) error {
	now, err := ch.store.Now(ctx)
	if err != nil {
		return err
	}
	list, err := ch.store.ExpiredSchedules(ctx, now, choreBatch)
	if err != nil || len(list) == 0 {
		return err
	}
	var done []*geoetl.Schedule
	for _, sc := range list {
		if err := ch.store.SetScheduleStatus(ctx, sc.TenantID, sc.ID, geoetl.StatusExpired, nil); err != nil {
			if geoetl.IsNotFound(err) {
				continue
			}
			return err
		}
		sc.Status, sc.StatusReason, sc.NextRunAt = geoetl.StatusExpired, nil, nil
		done = append(done, sc)
	}
	ch.out.scheduleEvents(ctx, done, notify.EventScheduleExpired)
	return nil
}

// retain deletes finished executions older than the retention.
func (ch *chores) retain(ctx context.Context) error {
	now, err := ch.store.Now(ctx)
	if err != nil {
		return err
	}
	total := 0
	for {
		n, err := ch.store.DeleteFinishedExecutionsBefore(ctx, now.Add(-ch.cfg.Retention), choreBatch*2)
		total += n
		if err != nil {
			return err
		}
		if n < choreBatch*2 {
			break
		}
	}
	if total > 0 {
		ch.log.Info("retention: deleted old executions", "count", total)
	}
	return nil
}
