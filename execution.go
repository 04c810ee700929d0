package geoetl

import (
	"fmt"
	"time"
)

// ExecutionStatus is where one execution stands.
type ExecutionStatus string

const (
	ExecPending   ExecutionStatus = "pending"   // waiting for its due time, a slot, or a worker
	ExecRunning   ExecutionStatus = "running"   // started by an instance
	ExecCompleted ExecutionStatus = "completed" // finished without error
	ExecFailed    ExecutionStatus = "failed"    // finished with an error (it may have a retry)
	ExecSkipped   ExecutionStatus = "skipped"   // never ran; SkipReason says why
	ExecCancelled ExecutionStatus = "cancelled" // stopped on request or at shutdown
)

// Valid reports whether s is a known status.
func (s ExecutionStatus) Valid() bool {
	switch s {
	case ExecPending, ExecRunning, ExecCompleted, ExecFailed, ExecSkipped, ExecCancelled:
		return true
	}
	return false
}

// Finished reports whether s is a final status.
func (s ExecutionStatus) Finished() bool {
	switch s {
	case ExecCompleted, ExecFailed, ExecSkipped, ExecCancelled:
		return true
	}
	return false
}

// Trigger says why an execution exists.
type Trigger string

const (
	TriggerSchedule   Trigger = "schedule"   // an occurrence of the cron expression
	TriggerManual     Trigger = "manual"     // run-now, or an ad hoc workflow run
	TriggerRetry      Trigger = "retry"      // a later attempt after a failure
	TriggerCatchup    Trigger = "catchup"    // a missed occurrence run after downtime
	TriggerBackfill   Trigger = "backfill"   // an occurrence in a range asked for by a user
	TriggerDependency Trigger = "dependency" // started by another run
)

// Valid reports whether t is a known trigger.
func (t Trigger) Valid() bool {
	switch t {
	case TriggerSchedule, TriggerManual, TriggerRetry, TriggerCatchup, TriggerBackfill, TriggerDependency:
		return true
	}
	return false
}

// IsOccurrence reports whether executions of this trigger stand for a cron
// occurrence and so are unique per (schedule, scheduledAt).
func (t Trigger) IsOccurrence() bool { return t == TriggerSchedule || t == TriggerCatchup }

// Reasons recorded on skipped or failed executions. Tests and clients match
// on these, so they are part of the contract.
const (
	SkipReasonOverlap   = "overlap: previous execution still running"
	SkipReasonQueueFull = "overlap: an execution is already queued"
	// MissedPrefix begins the reason of every miss record.
	MissedPrefix             = "missed"
	SkipReasonMissed         = "missed: scheduler down"
	SkipReasonOutsideWindow  = "missed: outside catch-up window"
	SkipReasonSuperseded     = "missed: superseded by a later occurrence"
	ErrorInstanceLost        = "instance lost"
	ErrorCancelledByUser     = "cancelled by user"
	ErrorCancelledShutdown   = "cancelled at shutdown"
	ErrorCancelledByNewerRun = "cancelled: a newer occurrence started (cancel_previous)"
	ErrorWorkflowMissing     = "workflow not found"
)

// TimedOutError is the message of an execution stopped by its time-out.
func TimedOutError(d time.Duration) string { return fmt.Sprintf("timed out after %s", d) }

// Execution is one attempt at running a schedule's workflow (or an ad hoc
// workflow run). Every attempt of an occurrence is its own row, so the
// history shows all of them.
type Execution struct {
	ID            string          `json:"id"`
	TenantID      string          `json:"tenantId"`
	ScheduleID    *string         `json:"scheduleId"`
	WorkflowID    string          `json:"workflowId"`
	WorkflowRunID string          `json:"workflowRunId"`
	ScheduledAt   time.Time       `json:"scheduledAt"` // the occurrence (logical fire time)
	DueAt         time.Time       `json:"dueAt"`       // earliest start (later than ScheduledAt for retries)
	Trigger       Trigger         `json:"trigger"`
	Status        ExecutionStatus `json:"status"`
	ExecutedAt    *time.Time      `json:"executedAt"`
	CompletedAt   *time.Time      `json:"completedAt"`
	DurationMs    *int64          `json:"durationMs"`
	RetryCount    int             `json:"retryCount"`
	RetryOf       *string         `json:"retryOf"` // the attempt this one retries
	ErrorMessage  *string         `json:"errorMessage"`
	Skipped       bool            `json:"skipped"`
	SkipReason    *string         `json:"skipReason"`
	// A miss record (skipReason "missed: …") stands for MissedCount
	// occurrences of its schedule, from ScheduledAt to MissedUntil: one
	// row per schedule and gap instead of one per occurrence.
	MissedUntil     *time.Time     `json:"missedUntil,omitempty"`
	MissedCount     int            `json:"missedCount,omitempty"`
	InstanceID      *string        `json:"instanceId"`
	ParameterValues map[string]any `json:"parameterValues"`
	Summary         map[string]any `json:"summary"`
	Force           bool           `json:"force,omitempty"` // run-now that ignores the overlap policy
	HeartbeatAt     *time.Time     `json:"heartbeatAt,omitempty"`
	CancelRequested bool           `json:"cancelRequested,omitempty"`
	CreatedAt       time.Time      `json:"createdAt"`
	CreatedBy       string         `json:"createdBy,omitempty"`
	// WaitReason says why a due pending execution has not started yet,
	// such as its tenant's limit of concurrent runs; nil otherwise.
	WaitReason *string `json:"waitReason"`
}

// ExecutionFilter selects executions of one tenant, newest first.
type ExecutionFilter struct {
	TenantID   string
	ScheduleID string
	WorkflowID string
	Status     ExecutionStatus
	Trigger    Trigger
	Since      *time.Time // scheduledAt at or after
	Until      *time.Time // scheduledAt before
	Page
}

// NodeRun is the record of one workflow node within one execution.
type NodeRun struct {
	ExecutionID string     `json:"executionId"`
	NodeID      string     `json:"nodeId"`
	NodeType    string     `json:"nodeType"`
	Status      string     `json:"status"` // pending, running, completed, failed, skipped, cancelled
	StartedAt   *time.Time `json:"startedAt"`
	CompletedAt *time.Time `json:"completedAt"`
	DurationMs  *int64     `json:"durationMs"`
	FeaturesIn  int64      `json:"featuresIn"`
	FeaturesOut int64      `json:"featuresOut"`
	Error       *string    `json:"error"`
}

// LogEntry is one line of an execution's log.
type LogEntry struct {
	ExecutionID string    `json:"executionId"`
	Seq         int64     `json:"seq"`
	At          time.Time `json:"at"`
	Level       string    `json:"level"` // debug, info, warn, error
	NodeID      string    `json:"nodeId,omitempty"`
	Message     string    `json:"message"`
}

// ExecutionEvent says that an execution changed status. The scheduler
// publishes these (for its own runs and, through the database, for other
// instances' runs) so the console can follow executions live.
type ExecutionEvent struct {
	TenantID    string          `json:"tenantId"`
	ExecutionID string          `json:"executionId"`
	ScheduleID  string          `json:"scheduleId,omitempty"`
	Status      ExecutionStatus `json:"status"`
}
