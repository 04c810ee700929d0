package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/notify"
	"github.com/geoetl/geoetl/redact"
)

// run starts one due job, runs its workflow and hands the outcome to the
// writer.
func (r *runner) run(j *job) {
	r.held.mu.Lock()
	if j.state != jobReady {
		r.held.mu.Unlock()
		return
	}
	now := r.clock.Now()
	if now.After(j.leaseUntil) {
		// This instance could not confirm its claim in time (cut off from
		// the database, or frozen): another instance may hold it by now,
		// so it must not start here. The reaper hands it back if not.
		r.held.dropLocked(j)
		r.held.mu.Unlock()
		r.log.Warn("claim lapsed before its start; not starting it", "execution", j.exec.ID)
		return
	}
	ctx, cancel := context.WithCancelCause(r.runCtx)
	j.cancel = cancel
	j.state = jobRunning
	r.held.mu.Unlock()
	defer cancel(nil)

	e := j.exec
	started := now.Add(r.db.lead()).UTC()
	if started.Before(e.DueAt) {
		started = e.DueAt // the offset moved between claim and start
	}
	e.Status, e.ExecutedAt, e.InstanceID = geoetl.ExecRunning, &started, &r.id
	r.writer.start(geoetl.ExecutionStart{ExecutionID: e.ID, InstanceID: r.id, ExecutedAt: started})
	r.out.events.publish(eventOf(e))
	r.m.Started(started.Sub(e.DueAt).Seconds())

	if d := j.timeout(); d > 0 {
		t := r.clock.NewTimer(d)
		go func() {
			select {
			case <-t.C():
				cancel(&stopCause{status: geoetl.ExecFailed, msg: geoetl.TimedOutError(d), retry: true})
			case <-ctx.Done():
				t.Stop()
			}
		}()
	}
	rec := &recorder{r: r, executionID: e.ID}
	summary, runErr := r.runWorkflow(ctx, j, rec)
	r.finish(j, summary, runErr, context.Cause(ctx), started)
}

func (j *job) timeout() time.Duration {
	if j.schedule == nil {
		return 0
	}
	return j.schedule.Timeout()
}

// runWorkflow calls the engine, turning a panic into an error so that one
// bad workflow cannot take the instance down.
func (r *runner) runWorkflow(ctx context.Context, j *job, rec *recorder) (sum geoetl.RunSummary, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("workflow engine panicked", "execution", j.exec.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: the workflow engine panicked: %v", p)
		}
	}()
	params := j.exec.ParameterValues
	if params == nil {
		params = map[string]any{}
	}
	tenantName, err := r.tenantName(ctx, j.exec.TenantID)
	if err != nil {
		return geoetl.RunSummary{}, err
	}
	return r.cfg.Engine.Run(ctx, geoetl.RunRequest{
		TenantID:    j.exec.TenantID,
		TenantName:  tenantName,
		ExecutionID: j.exec.ID,
		Workflow:    j.workflow,
		Parameters:  params,
		ScheduledAt: j.exec.ScheduledAt,
		Trigger:     j.exec.Trigger,
		Recorder:    rec,
	})
}

// finish works out the outcome of a run and queues it for writing, with
// its retry and notifications.
func (r *runner) finish(j *job, sum geoetl.RunSummary, runErr, cause error, started time.Time) {
	e := j.exec
	completed := r.db.now()
	if completed.Before(started) {
		completed = started
	}
	dur := completed.Sub(started).Milliseconds()
	e.CompletedAt, e.DurationMs = &completed, &dur
	var stop *stopCause
	errors.As(cause, &stop)
	retryable := false
	switch {
	case runErr == nil:
		e.Status = geoetl.ExecCompleted
		e.Summary = sum.AsMap()
	case stop != nil:
		e.Status = stop.status
		msg := stop.msg
		if stop.remote {
			msg = r.remoteCancelReason(e)
		}
		e.ErrorMessage, retryable = &msg, stop.retry
	default:
		// Viewers read it: no server addresses, DSNs or paths.
		msg := redact.SystemText(runErr.Error())
		if msg == "" {
			msg = "failed"
		}
		e.Status, e.ErrorMessage, retryable = geoetl.ExecFailed, &msg, true
	}
	var retry *geoetl.Execution
	if retryable {
		retry = retryFor(j.schedule, e, completed, r.rand())
	}
	var deliveries []*geoetl.Delivery
	if r.cfg.Notifier != nil && j.schedule != nil {
		deliveries = r.cfg.Notifier.PlanExecution(notify.ExecutionEvent{
			Schedule: j.schedule, WorkflowName: j.workflow.Name, Execution: e, WillRetry: retry != nil,
		})
	}
	r.held.mu.Lock()
	j.state = jobFinished
	r.held.mu.Unlock()
	r.writer.finish(geoetl.ExecutionResult{Execution: e, Retry: retry, Deliveries: deliveries})
}

// remoteCancelReason reads why an execution was cancelled through the
// database: cancel_previous records its reason on the row, a user's
// request does not.
func (r *runner) remoteCancelReason(e *geoetl.Execution) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	row, err := r.store.FindExecutionByID(ctx, e.TenantID, e.ID)
	if err == nil && row.ErrorMessage != nil && *row.ErrorMessage != "" {
		return *row.ErrorMessage
	}
	return geoetl.ErrorCancelledByUser
}

// recorder hands a run's node records and log lines to the writer. It
// numbers the lines itself: an execution runs once, on one instance, so
// the store need not look up the last number of each execution.
type recorder struct {
	r           *runner
	executionID string
	mu          sync.Mutex
	seq         int64
}

func (rec *recorder) Node(n geoetl.NodeRun) {
	n.ExecutionID = rec.executionID
	if n.Error != nil {
		msg := redact.SystemText(*n.Error)
		n.Error = &msg
	}
	rec.r.writer.node(&n)
}

func (rec *recorder) Log(level, nodeID, message string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.seq++
	rec.r.writer.log(&geoetl.LogEntry{ExecutionID: rec.executionID, Seq: rec.seq, At: rec.r.db.now(), Level: level, NodeID: nodeID, Message: redact.SystemText(message)})
}

// eventOf is the status event of an execution.
func eventOf(e *geoetl.Execution) geoetl.ExecutionEvent {
	ev := geoetl.ExecutionEvent{TenantID: e.TenantID, ExecutionID: e.ID, Status: e.Status}
	if e.ScheduleID != nil {
		ev.ScheduleID = *e.ScheduleID
	}
	return ev
}
