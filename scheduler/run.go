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
func (s *Scheduler) run(j *job) {
	s.mu.Lock()
	if j.state != jobReady {
		s.mu.Unlock()
		return
	}
	now := s.clock.Now()
	if now.After(j.leaseUntil) {
		// This instance could not confirm its claim in time (cut off from
		// the database, or frozen): another instance may hold it by now,
		// so it must not start here. The reaper hands it back if not.
		s.dropLocked(j)
		s.mu.Unlock()
		s.log.Warn("claim lapsed before its start; not starting it", "execution", j.exec.ID)
		return
	}
	ctx, cancel := context.WithCancelCause(s.runCtx)
	j.cancel = cancel
	j.state = jobRunning
	s.mu.Unlock()
	defer cancel(nil)

	e := j.exec
	started := now.Add(s.offsets.get()).UTC()
	if started.Before(e.DueAt) {
		started = e.DueAt // the offset moved between claim and start
	}
	e.Status, e.ExecutedAt, e.InstanceID = geoetl.ExecRunning, &started, &s.id
	s.writer.start(geoetl.ExecutionStart{ExecutionID: e.ID, InstanceID: s.id, ExecutedAt: started})
	s.events.publish(eventOf(e))
	s.m.Started(started.Sub(e.DueAt).Seconds())

	if d := j.timeout(); d > 0 {
		t := s.clock.NewTimer(d)
		go func() {
			select {
			case <-t.C():
				cancel(&stopCause{status: geoetl.ExecFailed, msg: geoetl.TimedOutError(d), retry: true})
			case <-ctx.Done():
				t.Stop()
			}
		}()
	}
	rec := &recorder{s: s, executionID: e.ID}
	summary, runErr := s.runWorkflow(ctx, j, rec)
	s.finish(j, summary, runErr, context.Cause(ctx), started)
}

func (j *job) timeout() time.Duration {
	if j.schedule == nil {
		return 0
	}
	return j.schedule.Timeout()
}

// runWorkflow calls the engine, turning a panic into an error so that one
// bad workflow cannot take the instance down.
func (s *Scheduler) runWorkflow(ctx context.Context, j *job, rec *recorder) (sum geoetl.RunSummary, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("workflow engine panicked", "execution", j.exec.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error: the workflow engine panicked: %v", p)
		}
	}()
	params := j.exec.ParameterValues
	if params == nil {
		params = map[string]any{}
	}
	tenantName, err := s.tenantName(ctx, j.exec.TenantID)
	if err != nil {
		return geoetl.RunSummary{}, err
	}
	return s.cfg.Engine.Run(ctx, geoetl.RunRequest{
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
func (s *Scheduler) finish(j *job, sum geoetl.RunSummary, runErr, cause error, started time.Time) {
	e := j.exec
	completed := s.dbNow()
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
			msg = s.remoteCancelReason(e)
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
		retry = retryFor(j.schedule, e, completed, s.rand())
	}
	var deliveries []*geoetl.Delivery
	if s.cfg.Notifier != nil && j.schedule != nil {
		deliveries = s.cfg.Notifier.PlanExecution(notify.ExecutionEvent{
			Schedule: j.schedule, WorkflowName: j.workflow.Name, Execution: e, WillRetry: retry != nil,
		})
	}
	s.mu.Lock()
	j.state = jobFinished
	s.mu.Unlock()
	s.writer.finish(geoetl.ExecutionResult{Execution: e, Retry: retry, Deliveries: deliveries})
}

// remoteCancelReason reads why an execution was cancelled through the
// database: cancel_previous records its reason on the row, a user's
// request does not.
func (s *Scheduler) remoteCancelReason(e *geoetl.Execution) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	row, err := s.store.FindExecutionByID(ctx, e.TenantID, e.ID)
	if err == nil && row.ErrorMessage != nil && *row.ErrorMessage != "" {
		return *row.ErrorMessage
	}
	return geoetl.ErrorCancelledByUser
}

// recorder hands a run's node records and log lines to the writer. It
// numbers the lines itself: an execution runs once, on one instance, so
// the store need not look up the last number of each execution.
type recorder struct {
	s           *Scheduler
	executionID string
	mu          sync.Mutex
	seq         int64
}

func (r *recorder) Node(n geoetl.NodeRun) {
	n.ExecutionID = r.executionID
	if n.Error != nil {
		msg := redact.SystemText(*n.Error)
		n.Error = &msg
	}
	r.s.writer.node(&n)
}

func (r *recorder) Log(level, nodeID, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.s.writer.log(&geoetl.LogEntry{ExecutionID: r.executionID, Seq: r.seq, At: r.s.dbNow(), Level: level, NodeID: nodeID, Message: redact.SystemText(message)})
}

// eventOf is the status event of an execution.
func eventOf(e *geoetl.Execution) geoetl.ExecutionEvent {
	ev := geoetl.ExecutionEvent{TenantID: e.TenantID, ExecutionID: e.ID, Status: e.Status}
	if e.ScheduleID != nil {
		ev.ScheduleID = *e.ScheduleID
	}
	return ev
}
