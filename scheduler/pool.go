package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
)

// runner starts claimed jobs at their time and runs them: the firer moves
// each job whose time has come to the workers (or, when contended, to the
// decider), the workers run it through the engine (run.go), and the writer
// records starts, node records, logs and outcomes in batches (writer.go).
type runner struct {
	*deps
	held    *held
	out     *announcer
	decider *decider // takes contended jobs as they fall due

	fireWake chan struct{} // wakes the firer (an earlier job)
	ready    chan *job     // jobs due, for the workers
	late     chan *job     // catch-ups and backlog: workers take them only when ready is empty
	writer   *writer

	runCtx    context.Context // parent of every run's context
	runCancel context.CancelFunc

	tenantNames sync.Map // tenant id -> name, for RunRequest.TenantName
}

func newRunner(d *deps, h *held, out *announcer) *runner {
	r := &runner{
		deps:     d,
		held:     h,
		out:      out,
		fireWake: make(chan struct{}, 1),
		ready:    make(chan *job, d.cfg.MaxClaimed+d.cfg.BatchSize),
		late:     make(chan *job, d.cfg.MaxClaimed+d.cfg.BatchSize),
	}
	r.writer = newWriter(d, out.finished)
	r.runCtx, r.runCancel = context.WithCancel(context.Background())
	return r
}

// hold adds freshly claimed jobs and wakes the firer if one of them is
// now the soonest.
func (r *runner) hold(jobs []*job) {
	if len(jobs) == 0 {
		return
	}
	if r.held.add(jobs) {
		select {
		case r.fireWake <- struct{}{}:
		default:
		}
	}
}

// firer moves jobs whose start time has come to the workers, sleeping on
// one timer for the soonest.
func (r *runner) firer(ctx context.Context) {
	h := r.held
	t := r.clock.NewTimer(time.Hour)
	defer t.Stop()
	for {
		contended := false
		var skipped []geoetl.ExecutionResult
		h.mu.Lock()
		now := r.clock.Now()
		for len(h.timers) > 0 && !h.timers[0].fireAt.After(now) {
			j := heap.Pop(&h.timers).(*job)
			if j.state != jobClaimed {
				continue
			}
			if j.contended {
				v, rows := h.decideOwnLocked(j, now, r.db.now())
				skipped = append(skipped, rows...)
				if v == ownUndecided {
					j.state = jobDeciding
					h.deciding = append(h.deciding, j)
					contended = true
					continue
				}
			}
			j.state = jobReady
			r.dispatchReady(j, now)
		}
		deadline := now.Add(time.Hour)
		if len(h.timers) > 0 {
			deadline = h.timers[0].fireAt
		}
		h.mu.Unlock()
		r.recordSkipped(skipped)
		if contended {
			r.decider.poke()
		}
		t.Stop()
		select { // drop a stale tick
		case <-t.C():
		default:
		}
		resetAt(r.clock, t, deadline)
		select {
		case <-t.C():
		case <-r.fireWake:
		case <-ctx.Done():
			return
		}
	}
}

// dispatchReady hands a due job to the workers. Catch-ups and jobs
// already further behind than the misfire grace go to the late queue,
// which workers serve only when no on-time job waits: under overload or
// after downtime, runs that can still start on time come first. It cannot
// block: each queue holds MaxClaimed plus a batch.
func (r *runner) dispatchReady(j *job, now time.Time) {
	if j.exec.Trigger == geoetl.TriggerCatchup || now.Sub(j.fireAt) > r.cfg.MisfireGrace {
		r.late <- j
		return
	}
	r.ready <- j
}

// worker runs due jobs, on-time ones first, until closeQueues.
func (r *runner) worker() {
	for {
		var j *job
		var ok bool
		select {
		case j, ok = <-r.ready:
		default:
			select {
			case j, ok = <-r.ready:
			case j, ok = <-r.late:
			}
		}
		if !ok {
			return
		}
		r.run(j)
	}
}

// closeQueues lets the workers end once they have run what is queued;
// nothing may hand out jobs any more.
func (r *runner) closeQueues() {
	close(r.ready)
	close(r.late)
}
