package scheduler

import (
	"container/heap"
	"context"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// job is an execution this instance holds: claimed and waiting for its
// start, running, or finished with its outcome not yet written.
type job struct {
	exec     *geoetl.Execution // as claimed
	schedule *geoetl.Schedule  // nil for ad hoc runs
	workflow *geoetl.Workflow
	// fireAt is the local time to start at: the due time in database time,
	// moved into the local clock.
	fireAt time.Time
	// leaseUntil is the local time after which this instance no longer
	// trusts its claim (see Config.fence); guarded by Scheduler.mu.
	leaseUntil time.Time
	state      jobState
	// contended is set when the claim found the schedule's slot taken:
	// at its time the overlap policy decides whether it starts.
	contended bool
	fenced    bool                    // stopped because its lease lapsed
	cancel    context.CancelCauseFunc // set once running
	index     int                     // in the timer heap, -1 when not in it
}

type jobState int

const (
	jobClaimed  jobState = iota // waiting for its start
	jobDeciding                 // contended and due: the overlap policy decides (decide.go)
	jobReady                    // due, waiting for a worker
	jobRunning                  // running
	jobFinished                 // outcome handed to the writer
	jobDropped                  // will not run here (cancelled or lease lapsed)
)

// stopCause says why a run's context was cancelled.
type stopCause struct {
	status geoetl.ExecutionStatus
	msg    string
	retry  bool // apply the retry policy
	remote bool // requested through the database: read the reason there
}

func (c *stopCause) Error() string { return c.msg }

var (
	stopUser     = &stopCause{status: geoetl.ExecCancelled, msg: geoetl.ErrorCancelledByUser}
	stopNewerRun = &stopCause{status: geoetl.ExecCancelled, msg: geoetl.ErrorCancelledByNewerRun}
	stopShutdown = &stopCause{status: geoetl.ExecCancelled, msg: geoetl.ErrorCancelledShutdown}
	stopRemote   = &stopCause{status: geoetl.ExecCancelled, msg: geoetl.ErrorCancelledByUser, remote: true}
	stopLost     = &stopCause{status: geoetl.ExecFailed, msg: geoetl.ErrorInstanceLost, retry: true}
)

// jobHeap orders claimed jobs by start time.
type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return h[i].fireAt.Before(h[j].fireAt) }
func (h jobHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *jobHeap) Push(x any)        { j := x.(*job); j.index = len(*h); *h = append(*h, j) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.index = -1
	return j
}

// hold adds freshly claimed jobs and wakes the firer if one of them is
// now the soonest.
func (s *Scheduler) hold(jobs []*job) {
	if len(jobs) == 0 {
		return
	}
	s.mu.Lock()
	earlier := len(s.timers) == 0
	for _, j := range jobs {
		if !earlier && j.fireAt.Before(s.timers[0].fireAt) {
			earlier = true
		}
		s.jobs[j.exec.ID] = j
		heap.Push(&s.timers, j)
	}
	s.mu.Unlock()
	if earlier {
		select {
		case s.fireWake <- struct{}{}:
		default:
		}
	}
}

// firer moves jobs whose start time has come to the workers, sleeping on
// one timer for the soonest.
func (s *Scheduler) firer() {
	defer s.claimers.Done()
	t := s.clock.NewTimer(time.Hour)
	defer t.Stop()
	for {
		contended := false
		s.mu.Lock()
		now := s.clock.Now()
		for len(s.timers) > 0 && !s.timers[0].fireAt.After(now) {
			j := heap.Pop(&s.timers).(*job)
			if j.state != jobClaimed {
				continue
			}
			if j.contended {
				j.state = jobDeciding
				s.deciding = append(s.deciding, j)
				contended = true
				continue
			}
			j.state = jobReady
			s.dispatchReady(j, now)
		}
		deadline := now.Add(time.Hour)
		if len(s.timers) > 0 {
			deadline = s.timers[0].fireAt
		}
		s.mu.Unlock()
		if contended {
			s.pokeDecider()
		}
		t.Stop()
		select { // drop a stale tick
		case <-t.C():
		default:
		}
		resetAt(s.clock, t, deadline)
		select {
		case <-t.C():
		case <-s.fireWake:
		case <-s.stopCtx.Done():
			return
		}
	}
}

// dispatchReady hands a due job to the workers. Catch-ups and jobs
// already further behind than the misfire grace go to the late queue,
// which workers serve only when no on-time job waits: under overload or
// after downtime, runs that can still start on time come first. It cannot
// block: each queue holds MaxClaimed plus a batch.
func (s *Scheduler) dispatchReady(j *job, now time.Time) {
	if j.exec.Trigger == geoetl.TriggerCatchup || now.Sub(j.fireAt) > s.cfg.MisfireGrace {
		s.late <- j
		return
	}
	s.ready <- j
}

// worker runs due jobs, on-time ones first, until Stop closes the queues.
func (s *Scheduler) worker() {
	defer s.workers.Done()
	for {
		var j *job
		var ok bool
		select {
		case j, ok = <-s.ready:
		default:
			select {
			case j, ok = <-s.ready:
			case j, ok = <-s.late:
			}
		}
		if !ok {
			return
		}
		s.run(j)
	}
}

// cancelLocal stops a job held here: a running one through its context,
// a claimed one by dropping it (the store has already cancelled the row).
// It reports whether the job was here.
func (s *Scheduler) cancelLocal(id string, cause *stopCause) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return false
	}
	switch j.state {
	case jobClaimed, jobDeciding, jobReady:
		s.dropLocked(j)
	case jobRunning:
		j.cancel(cause)
	}
	return true
}

// dropLocked forgets a job that will not run here.
func (s *Scheduler) dropLocked(j *job) {
	j.state = jobDropped
	if j.index >= 0 {
		heap.Remove(&s.timers, j.index)
	}
	delete(s.jobs, j.exec.ID)
}

// forget removes a job whose outcome has been written.
func (s *Scheduler) forget(ids []string) {
	s.mu.Lock()
	for _, id := range ids {
		delete(s.jobs, id)
	}
	s.mu.Unlock()
}

// takeUnstarted drops every job that has not started and returns their
// ids, for handing back at shutdown.
func (s *Scheduler) takeUnstarted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, j := range s.jobs {
		if j.state == jobClaimed || j.state == jobDeciding || j.state == jobReady {
			ids = append(ids, j.exec.ID)
			s.dropLocked(j)
		}
	}
	return ids
}

// cancelRunning cancels every running job with cause.
func (s *Scheduler) cancelRunning(cause *stopCause) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.state == jobRunning {
			j.cancel(cause)
		}
	}
}

// heldCount is how many executions this instance holds.
func (s *Scheduler) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// setQueueMetricsLocked counts queued and running jobs for the metrics
// (from the heartbeat loop, not on every change: it walks all jobs).
func (s *Scheduler) setQueueMetricsLocked() {
	if s.m == nil {
		return
	}
	queued, running := 0, 0
	for _, j := range s.jobs {
		switch j.state {
		case jobClaimed, jobDeciding, jobReady:
			queued++
		case jobRunning:
			running++
		}
	}
	s.m.SetQueue(queued, running)
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
