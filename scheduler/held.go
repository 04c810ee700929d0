package scheduler

import (
	"container/heap"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
)

// held is what this instance holds: every job from its claim until its
// outcome is written, the claimed ones by start time, and the contended
// ones the decider has to decide. The claimer, decider, runner and chores
// all move jobs through it; one mutex guards it all because a job's state
// and the lists it is in change together (a claimed job becomes deciding
// or ready in one step), and a reader must never see it half moved.
type held struct {
	mu     sync.Mutex
	jobs   map[string]*job // claimed or running here, until their finish is written
	timers jobHeap         // claimed jobs waiting for their start
	// deciding are the contended jobs due, for the decider; undecided
	// counts those the decider left waiting, by schedule.
	deciding  []*job
	undecided map[string]int
}

func newHeld() *held {
	return &held{jobs: map[string]*job{}, undecided: map[string]int{}}
}

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
	// trusts its claim (see Config.fence); guarded by held.mu.
	leaseUntil time.Time
	state      jobState
	// contended is set when the claim found the schedule's slot taken:
	// at its time the overlap policy decides whether it starts.
	contended bool
	// after, set on a contended job, lists the jobs held here that held
	// its slot when it was claimed, when no one else did: once they have
	// all finished here, nothing of another instance can hold the slot
	// that would not also hold it against an uncontended claim, so the
	// job starts without the decider's transaction. Guarded by held.mu.
	after  []string
	fenced bool                    // stopped because its lease lapsed
	cancel context.CancelCauseFunc // set once running
	index  int                     // in the timer heap, -1 when not in it
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

// add holds freshly claimed jobs and reports whether one of them is now
// the soonest to start.
func (h *held) add(jobs []*job) (sooner bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sooner = len(h.timers) == 0
	for _, j := range jobs {
		if !sooner && j.fireAt.Before(h.timers[0].fireAt) {
			sooner = true
		}
		h.jobs[j.exec.ID] = j
		heap.Push(&h.timers, j)
	}
	return sooner
}

// count is how many executions this instance holds.
func (h *held) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.jobs)
}

// dropLocked forgets a job that will not run here.
func (h *held) dropLocked(j *job) {
	j.state = jobDropped
	if j.index >= 0 {
		heap.Remove(&h.timers, j.index)
	}
	delete(h.jobs, j.exec.ID)
}

// forget removes jobs whose outcome has been written.
func (h *held) forget(ids []string) {
	h.mu.Lock()
	for _, id := range ids {
		delete(h.jobs, id)
	}
	h.mu.Unlock()
}

// cancel stops a job held here: a running one through its context, a
// claimed one by dropping it (the store has already cancelled the row).
// It reports whether the job was here.
func (h *held) cancel(id string, cause *stopCause) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	j, ok := h.jobs[id]
	if !ok {
		return false
	}
	switch j.state {
	case jobClaimed, jobDeciding, jobReady:
		h.dropLocked(j)
	case jobRunning:
		j.cancel(cause)
	}
	return true
}

// takeUnstarted drops every job that has not started and returns their
// ids, for handing back at shutdown.
func (h *held) takeUnstarted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, j := range h.jobs {
		if j.state == jobClaimed || j.state == jobDeciding || j.state == jobReady {
			ids = append(ids, j.exec.ID)
			h.dropLocked(j)
		}
	}
	return ids
}

// cancelRunning cancels every running job with cause.
func (h *held) cancelRunning(cause *stopCause) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, j := range h.jobs {
		if j.state == jobRunning {
			j.cancel(cause)
		}
	}
}

// leaseIDs returns the ids of everything held, for the heartbeat: claims
// and runs first, outcomes waiting for the writer last, so that if a slow
// round ends early, what lapses is work already done, which the writer is
// about to record, not work that would then not start. It also counts
// queued and running jobs (here rather than on every change: it walks all
// jobs).
func (h *held) leaseIDs() (ids []string, queued, running int) {
	h.mu.Lock()
	var finished []string
	for id, j := range h.jobs {
		switch j.state {
		case jobFinished:
			finished = append(finished, id)
			continue
		case jobClaimed, jobDeciding, jobReady:
			queued++
		case jobRunning:
			running++
		}
		ids = append(ids, id)
	}
	h.mu.Unlock()
	slices.Sort(ids)
	slices.Sort(finished)
	return append(ids, finished...), queued, running
}

// renew extends, to until, the local lease of the jobs among ids that
// are not in stop.
func (h *held) renew(ids, stop []string, until time.Time) {
	stopSet := make(map[string]bool, len(stop))
	for _, id := range stop {
		stopSet[id] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if j := h.jobs[id]; j != nil && !stopSet[id] {
			j.leaseUntil = until
		}
	}
}

// ownOccupancy returns this instance's jobs of the given schedules, for a
// claim to leave out of its occupancy read: except lists every such job,
// and active holds, by schedule, a row standing for each that still holds
// a slot (claimed, deciding, ready or running; finished ones hold none,
// whatever the database still says). The rows are built from the fields
// that do not change once a job is claimed, so that the runner may go on
// writing the job's own row meanwhile.
func (h *held) ownOccupancy(schedules map[string]*geoetl.Schedule, instance string) (except []string, active map[string][]*geoetl.Execution) {
	h.mu.Lock()
	defer h.mu.Unlock()
	active = map[string][]*geoetl.Execution{}
	for id, j := range h.jobs {
		e := j.exec
		if e.ScheduleID == nil || j.state == jobDropped {
			continue
		}
		if _, ok := schedules[*e.ScheduleID]; !ok {
			continue
		}
		except = append(except, id)
		if j.state == jobFinished {
			continue
		}
		status := geoetl.ExecPending
		if j.state == jobRunning {
			status = geoetl.ExecRunning
		}
		inst := instance
		active[*e.ScheduleID] = append(active[*e.ScheduleID], &geoetl.Execution{
			ID: e.ID, TenantID: e.TenantID, ScheduleID: e.ScheduleID, WorkflowID: e.WorkflowID, WorkflowRunID: e.WorkflowRunID,
			ScheduledAt: e.ScheduledAt, DueAt: e.DueAt, Trigger: e.Trigger, Force: e.Force, CreatedAt: e.CreatedAt,
			CreatedBy: e.CreatedBy, Status: status, InstanceID: &inst, WaitReason: e.WaitReason,
		})
	}
	return except, active
}

// statesOf returns what this instance's memory says of its own rows among
// occupancy: whether they run, wait or are gone.
func (h *held) statesOf(occ map[string][]*geoetl.Execution, instance string) map[string]jobState {
	mine := map[string]jobState{}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rows := range occ {
		for _, e := range rows {
			if e.InstanceID != nil && *e.InstanceID == instance {
				if j := h.jobs[e.ID]; j != nil {
					mine[e.ID] = j.state
				} else {
					mine[e.ID] = jobDropped
				}
			}
		}
	}
	return mine
}

// ownHolders returns the ids of a slot's holders when every one is a job
// held here or about to be (fresh, claimed in the same transaction), and
// false when any is not.
func (h *held) ownHolders(holders []*geoetl.Execution, fresh map[string]bool) ([]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(holders))
	for _, e := range holders {
		if j := h.jobs[e.ID]; !fresh[e.ID] && (j == nil || j.state == jobDropped) {
			return nil, false
		}
		ids = append(ids, e.ID)
	}
	return ids, true
}

// ownVerdict is what the firer decides, without the decider's
// transaction, about a contended job whose slot only this instance's own
// jobs held when it was claimed (its after list).
type ownVerdict int

const (
	ownUndecided ownVerdict = iota // the decider decides
	ownStart                       // the slot is free, or freed: run it
)

// decideOwnLocked decides a contended job at its time from this instance's
// memory alone, when every holder of its slot at the claim was a job of
// this instance (after): nothing of another instance can hold the slot
// then that would not also hold it against an uncontended claim, which
// starts with no look at the database. The holders are, by now:
//   - finished (or gone): the slot is free;
//   - not started yet (a catch-up or an earlier occurrence still waiting
//     for a worker): under overload or after downtime they are late, and
//     the on-time occurrence supersedes them (recorded missed, one row
//     each), as the claim supersedes a handed-back one: on-time runs come
//     before catch-up work, and the schedule never runs backwards. Not
//     under overlap queue or misfire run_all, which run every one;
//   - running: cancel_previous cancels them; other policies go to the
//     decider.
//
// Anything else (a queue, a lapsed lease) goes to the decider too. It returns the rows of superseded
// holders, to record through the writer. h.mu is held.
func (h *held) decideOwnLocked(j *job, now, dbNow time.Time) (ownVerdict, []geoetl.ExecutionResult) {
	if len(j.after) == 0 || now.After(j.leaseUntil) {
		return ownUndecided, nil
	}
	sc := j.schedule
	var running, unstarted []*job
	for _, id := range j.after {
		o := h.jobs[id]
		if o == nil {
			continue
		}
		switch o.state {
		case jobRunning:
			running = append(running, o)
		case jobClaimed, jobReady, jobDeciding:
			// A holder the decider is deciding has not started either; if
			// superseded here, whatever the decider then decides for it is
			// dropped (applyDecisions), and a skip it writes meanwhile
			// leaves the row skipped all the same.
			unstarted = append(unstarted, o)
		}
	}
	limit := sc.ConcurrencyLimit()
	blocked := func() bool { return limit > 0 && len(running)+len(unstarted) >= limit }
	var out []geoetl.ExecutionResult
	if blocked() && len(unstarted) > 0 {
		if !supersedes(j, sc) {
			return ownUndecided, nil
		}
		for _, o := range unstarted {
			if !o.exec.ScheduledAt.Before(j.exec.ScheduledAt) || now.After(o.leaseUntil) ||
				(o.exec.Trigger != geoetl.TriggerSchedule && o.exec.Trigger != geoetl.TriggerCatchup) || o.exec.Force {
				return ownUndecided, nil
			}
		}
		for _, o := range unstarted {
			if o.index >= 0 {
				heap.Remove(&h.timers, o.index)
			}
			// Finished here: it holds no slot, leaves with its row written
			// (held.forget), and a worker that finds it queued passes it by.
			o.state = jobFinished
			out = append(out, skippedResult(o.exec, geoetl.SkipReasonSuperseded, dbNow))
		}
		unstarted = nil
	}
	if !blocked() {
		return ownStart, out
	}
	if sc.OverlapPolicy == geoetl.OverlapCancelPrevious && len(unstarted) == 0 {
		for _, o := range running {
			o.cancel(stopNewerRun)
		}
		return ownStart, out
	}
	// A run of its own still going: the decider applies the policy. Its
	// transaction takes a moment, and a run that started late on a stalled
	// machine and is about to end then frees the slot rather than costing
	// this occurrence.
	return ownUndecided, out
}

// supersedes reports whether j, an on-time occurrence, may supersede the
// earlier occurrences of its schedule that have not started (the rule of
// slots.supersededBy).
func supersedes(j *job, sc *geoetl.Schedule) bool {
	return j.exec.Trigger == geoetl.TriggerSchedule && sc.OverlapPolicy != geoetl.OverlapQueue && sc.MisfirePolicy != geoetl.MisfireRunAll
}

// skippedResult is the outcome that records a claimed row skipped with
// reason, a miss record of one occurrence when the reason is a miss.
func skippedResult(e *geoetl.Execution, reason string, dbNow time.Time) geoetl.ExecutionResult {
	x := *e
	x.Status, x.Skipped, x.SkipReason, x.CompletedAt = geoetl.ExecSkipped, true, &reason, &dbNow
	if strings.HasPrefix(reason, geoetl.MissedPrefix) {
		at := x.ScheduledAt
		x.MissedCount, x.MissedUntil = 1, &at
	}
	return geoetl.ExecutionResult{Execution: &x}
}

// awaitsOutcome reports whether a contended job waits for an outcome of
// the schedule, so that news of it should wake the decider.
func (h *held) awaitsOutcome(scheduleIDs ...string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range scheduleIDs {
		if h.undecided[id] > 0 {
			return true
		}
	}
	return false
}
