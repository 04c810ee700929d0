package geoetl

import (
	"context"
	"time"
)

// Store is everything the application keeps. It has two implementations,
// db/sqlite and db/postgres, held to the same behaviour by db/storetest.
//
// Rules every implementation follows:
//   - Tenant-scoped methods take the tenant id and treat another tenant's
//     object exactly as a missing one (ENOTFOUND).
//   - Times are stored in UTC at microsecond precision and come back in UTC.
//   - Errors are *Error with ENOTFOUND, ECONFLICT or EINVALID where the
//     caller can act on them; anything else is internal.
//   - Create methods assign an id when the object has none, and set
//     CreatedAt/UpdatedAt from the store's clock when they are zero.
type Store interface {
	TenantStore
	UserStore
	TokenStore
	SessionStore
	WorkflowStore
	ScheduleStore
	ExecutionStore
	AuditStore
	DeliveryStore
	SchedulerStore

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// MigrationsCurrent reports whether every migration has been applied.
	MigrationsCurrent(ctx context.Context) (bool, error)
	Close() error
}

// TenantStore keeps tenants.
type TenantStore interface {
	CreateTenant(ctx context.Context, t *Tenant) error // ECONFLICT on a taken name
	FindTenantByID(ctx context.Context, id string) (*Tenant, error)
	FindTenantByName(ctx context.Context, name string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// SetWebhookSecrets stores the tenant's current and previous webhook
	// secrets (rotation keeps the previous one valid until prevExpires).
	SetWebhookSecrets(ctx context.Context, tenantID, secret, previous string, prevExpires *time.Time) error
}

// UserStore keeps users. Names and emails are unique across all tenants,
// because people sign in with either and no tenant.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error // ECONFLICT on a taken name or email
	FindUserByID(ctx context.Context, tenantID, id string) (*User, error)
	// FindUserByLogin finds a user by name or, case-insensitively, email.
	FindUserByLogin(ctx context.Context, login string) (*User, error)
	ListUsers(ctx context.Context, tenantID string) ([]*User, error)
	// UpdateUser applies upd. A new password hash or disabling the user
	// ends, in the same transaction, every session of the user except
	// upd.KeepSession, so credentials that changed cannot be used through
	// an old session, and enabling the user again brings none back.
	UpdateUser(ctx context.Context, tenantID, id string, upd UserUpdate) (*User, error)
	DeleteUser(ctx context.Context, tenantID, id string) error
	CountUsers(ctx context.Context) (int, error)
}

// UserUpdate is a partial update of a user.
type UserUpdate struct {
	Email        *string
	Role         *Role
	PasswordHash *string
	Disabled     *bool
	// KeepSession is the id hash of a session that survives a password
	// change (the user's own, when they change their own password).
	KeepSession string
}

// TokenStore keeps API tokens (hashed).
type TokenStore interface {
	CreateToken(ctx context.Context, t *APIToken) error
	// FindTokenByHash looks a token up for authentication, in any tenant.
	FindTokenByHash(ctx context.Context, hash string) (*APIToken, error)
	ListTokens(ctx context.Context, tenantID string) ([]*APIToken, error)
	RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// SessionStore keeps signed-in browser sessions, so any instance can serve
// any request.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	FindSession(ctx context.Context, idHash string) (*Session, error) // ENOTFOUND when missing or expired
	DeleteSession(ctx context.Context, idHash string) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// WorkflowStore keeps workflow definitions and their versions.
type WorkflowStore interface {
	// CreateWorkflow stores version 1 (and keeps it in the version history).
	// ECONFLICT on a name taken in the tenant.
	CreateWorkflow(ctx context.Context, w *Workflow) error
	FindWorkflowByID(ctx context.Context, tenantID, id string) (*Workflow, error)
	FindWorkflows(ctx context.Context, f WorkflowFilter) ([]*Workflow, int, string, error)
	// UpdateWorkflow applies upd, bumps the version and keeps the new one
	// in the history; ECONFLICT when upd.ExpectedVersion is stale.
	UpdateWorkflow(ctx context.Context, tenantID, id string, upd WorkflowUpdate, actor string) (*Workflow, error)
	// DeleteWorkflow deletes a workflow. If schedules use it, it fails with
	// ECONFLICT unless force, which instead sets those schedules to status
	// error with reason "workflow deleted" and clears their next run. It
	// returns the ids of the schedules it put into error.
	DeleteWorkflow(ctx context.Context, tenantID, id string, force bool) ([]string, error)
	WorkflowVersions(ctx context.Context, tenantID, id string) ([]*WorkflowVersion, error)
}

// ScheduleStore keeps schedules and their version history.
type ScheduleStore interface {
	// CreateSchedule stores a validated schedule as version 1, with the
	// NextRunAt the caller computed. ECONFLICT on a name taken in the
	// tenant; ENOTFOUND (field workflowId) when the workflow is not the
	// tenant's.
	CreateSchedule(ctx context.Context, s *Schedule) error
	// CreateSchedules stores a batch of one tenant's schedules in one
	// transaction, each as CreateSchedule, with audit's entry for each
	// created (audit may be nil; it may be called from other goroutines,
	// several at once, while the transaction runs). With max > 0 it counts the tenant's
	// schedules once, as CreateScheduleCapped, and refuses (OverLimit) the
	// items that would go over. It returns per schedule nil or why it was
	// not created (ECONFLICT, ENOTFOUND, OverLimit); an error means
	// nothing was.
	CreateSchedules(ctx context.Context, list []*Schedule, max int, audit func(*Schedule) *AuditEntry) ([]error, error)
	// CreateScheduleCapped is CreateSchedule refusing, with OverLimit
	// (LimitMaxSchedules), a schedule that would give the tenant more than
	// max schedules (no limit when max <= 0). The count and the insert are
	// one transaction that concurrent creations of the tenant take turns
	// at, so they never together go over max.
	CreateScheduleCapped(ctx context.Context, s *Schedule, max int) error
	// FindScheduleIDsByName returns the ids of the tenant's schedules
	// named exactly as one of names, keyed by name (names of no schedule
	// are absent), in one read, for imports that match thousands of
	// items by name.
	FindScheduleIDsByName(ctx context.Context, tenantID string, names []string) (map[string]string, error)
	// CountSchedules counts the tenant's schedules, whatever their status.
	CountSchedules(ctx context.Context, tenantID string) (int, error)
	FindScheduleByID(ctx context.Context, tenantID, id string) (*Schedule, error)
	FindScheduleByName(ctx context.Context, tenantID, name string) (*Schedule, error)
	// FindSchedules returns one page, the total matching the filter, and
	// the cursor of the next page ("" on the last page). Cursors are keyset
	// positions, stable while rows are inserted.
	FindSchedules(ctx context.Context, f ScheduleFilter) ([]*Schedule, int, string, error)
	// UpdateSchedule reads the schedule in a write transaction, checks
	// expectedVersion (ECONFLICT when stale), lets mutate change it, then
	// stores it as the next version and keeps that version in the history.
	// A mutate error aborts the update and is returned as is. mutate must be
	// quick and must not touch the store.
	UpdateSchedule(ctx context.Context, tenantID, id string, expectedVersion *int, mutate func(*Schedule) error) (*Schedule, error)
	// DeleteSchedule deletes a schedule; its executions stay readable by id.
	DeleteSchedule(ctx context.Context, tenantID, id string) error
	ScheduleVersions(ctx context.Context, tenantID, id string) ([]*ScheduleVersion, error)
}

// ExecutionStore keeps executions, their node records and logs.
type ExecutionStore interface {
	// CreateExecution inserts one execution (run-now, backfill, ad hoc
	// run). For occurrence triggers an existing (schedule, scheduledAt) is
	// ECONFLICT.
	CreateExecution(ctx context.Context, e *Execution) error
	FindExecutionByID(ctx context.Context, tenantID, id string) (*Execution, error)
	// FindExecutions lists newest first (scheduledAt, then createdAt).
	FindExecutions(ctx context.Context, f ExecutionFilter) ([]*Execution, int, string, error)
	// RequestCancel cancels a pending execution at once (status cancelled)
	// or flags a running one for its instance to stop. A finished one is
	// ECONFLICT.
	RequestCancel(ctx context.Context, tenantID, id string) (*Execution, error)
	ExecutionNodes(ctx context.Context, tenantID, executionID string) ([]*NodeRun, error)
	ExecutionLogs(ctx context.Context, tenantID, executionID string, afterSeq int64, limit int) ([]*LogEntry, error)
	// ExecutionStats aggregates one tenant's executions (of one schedule if
	// scheduleID is set) whose scheduledAt is at or after since.
	ExecutionStats(ctx context.Context, tenantID, scheduleID string, since time.Time) (*ExecutionStats, error)
	// CountTenantRuns counts the tenant's executions that hold one of its
	// run slots: running, or pending and claimed by an instance.
	CountTenantRuns(ctx context.Context, tenantID string) (int, error)
}

// ExecutionStats are counts and durations over a set of executions.
type ExecutionStats struct {
	Total         int                     `json:"total"`
	ByStatus      map[ExecutionStatus]int `json:"byStatus"`    // occurrences: a miss record counts its missedCount
	Missed        int                     `json:"missed"`      // occurrences missed (skipReason "missed: …")
	SuccessRate   *float64                `json:"successRate"` // completed / (completed+failed), nil when none finished
	AvgDurationMs *float64                `json:"avgDurationMs"`
	P95DurationMs *int64                  `json:"p95DurationMs"`
	LastRunAt     *time.Time              `json:"lastRunAt"`
	LastRunStatus *ExecutionStatus        `json:"lastRunStatus"`
	RunsByHour    []HourCount             `json:"runsByHour,omitempty"`
}

// HourCount is the number of executions started in one hour, by outcome.
type HourCount struct {
	Hour      time.Time `json:"hour"`
	Completed int       `json:"completed"`
	Failed    int       `json:"failed"`
	Other     int       `json:"other"`
}

// AuditStore keeps the audit log.
type AuditStore interface {
	AppendAudit(ctx context.Context, e *AuditEntry) error
	FindAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, int, string, error)
}

// DeliveryStore keeps notification deliveries. Pending deliveries are
// claimed like executions, so exactly one instance sends each attempt.
type DeliveryStore interface {
	CreateDeliveries(ctx context.Context, ds []*Delivery) error
	// ClaimDeliveries leases up to limit pending deliveries whose next
	// attempt is due, to instanceID until leaseUntil.
	ClaimDeliveries(ctx context.Context, instanceID string, limit int, leaseUntil time.Time) ([]*Delivery, error)
	// UpdateDelivery records an attempt's outcome and releases the lease.
	UpdateDelivery(ctx context.Context, d *Delivery) error
	ListDeliveries(ctx context.Context, tenantID, executionID string) ([]*Delivery, error)
}

// SchedulerStore is what the scheduler needs beyond the tenant-scoped
// stores: claims across all tenants, in the database's clock.
type SchedulerStore interface {
	// Now returns the database's clock (or the store's injected clock in
	// tests), the only clock due checks and leases use.
	Now(ctx context.Context) (time.Time, error)
	// Claim runs fn in one short write transaction. On PostgreSQL rows
	// returned by ClaimTx's Due methods are locked FOR UPDATE SKIP LOCKED,
	// so concurrent claimers see disjoint sets; on SQLite the single writer
	// serialises claimers. If fn returns an error everything is rolled back.
	Claim(ctx context.Context, fn func(tx ClaimTx) error) error
	// NextWakeAt returns the soonest next_run_at of an active schedule or
	// due_at of an unclaimed pending execution that p does not leave out,
	// nil when there is none. A nil p leaves nothing out.
	NextWakeAt(ctx context.Context, p *NextWakeAtParams) (*time.Time, error)
	// CountDueSchedules counts the enabled, active schedules whose
	// next_run_at is at or before until, up to limit (a bounded index
	// range count), so the scheduler can tell a large set falling due
	// together in time to claim it earlier.
	CountDueSchedules(ctx context.Context, until time.Time, limit int) (int, error)
	// StartExecutions marks claimed executions running; only rows still
	// pending and claimed by the starting instance change.
	StartExecutions(ctx context.Context, starts []ExecutionStart) error
	// FinishExecutions records outcomes; for each, in the same transaction,
	// it inserts the follow-up execution (a retry) and the notification
	// deliveries if given, and updates the schedule's last run (in that
	// transaction, or right after it when a claimer holds the schedule row
	// at that moment).
	FinishExecutions(ctx context.Context, results []ExecutionResult) error
	// Heartbeat refreshes the lease of executions held by instanceID and
	// returns the ids among them that it must stop: those whose
	// cancellation was requested, and those it no longer holds (finished
	// elsewhere, such as by the reaper, or handed to another instance).
	Heartbeat(ctx context.Context, instanceID string, ids []string) ([]string, error)
	// StaleExecutions returns running or claimed executions whose
	// heartbeat is older than before (their instance is presumed lost).
	StaleExecutions(ctx context.Context, before time.Time, limit int) ([]*Execution, error)
	// ReleaseClaims returns claimed-but-unstarted executions to the pool.
	ReleaseClaims(ctx context.Context, ids []string) error
	AppendNodeRuns(ctx context.Context, nodes []*NodeRun) error
	AppendLogs(ctx context.Context, logs []*LogEntry) error
	// SetScheduleStatus changes a schedule's status and reason without a
	// new version (system transitions: expired, error); nextRunAt is
	// cleared for statuses other than active.
	SetScheduleStatus(ctx context.Context, tenantID, id string, status ScheduleStatus, reason *string) error
	// ExpiredSchedules returns active schedules whose expiresAt <= now.
	ExpiredSchedules(ctx context.Context, now time.Time, limit int) ([]*Schedule, error)
	// DeleteFinishedExecutionsBefore removes finished executions (with their
	// nodes, logs and deliveries) completed before t; retention.
	DeleteFinishedExecutionsBefore(ctx context.Context, t time.Time, limit int) (int, error)
}

// NextWakeAtParams are the pending executions NextWakeAt leaves out: rows
// that cannot start yet, so that they do not wake the scheduler over and
// over.
type NextWakeAtParams struct {
	// Waiting are schedules whose rows wait for one of their slots (every
	// trigger but retries and forced run-nows).
	Waiting []string
	// Tenants are tenants whose rows all wait for a run slot.
	Tenants []string
}

// DuePendingParams select the pending executions a claim reads.
type DuePendingParams struct {
	// Until is the latest due_at read; Limit bounds the rows.
	Until time.Time
	Limit int
	// Waiting and Tenants leave out rows waiting for a slot, as in
	// NextWakeAtParams, so they neither crowd out other due rows nor get
	// read again and again.
	Waiting []string
	Tenants []string
}

// OccupancyParams select the rows Occupancy reads.
type OccupancyParams struct {
	// ScheduleIDs are the schedules whose slots are read.
	ScheduleIDs []string
	// Except leaves out the rows claimed by Instance whose ids it lists:
	// that instance's own runs, which it knows better than the database
	// does. A row of Except that is no longer claimed by Instance (handed
	// back, or taken over) is still returned.
	Instance string
	Except   []string
}

// ClaimTx is the view of one claim transaction.
type ClaimTx interface {
	// Now is the database clock at the start of the transaction.
	Now() time.Time
	// DueSchedules returns up to limit schedules that are enabled, status
	// active and have next_run_at <= until, soonest first, locked.
	DueSchedules(until time.Time, limit int) ([]*Schedule, error)
	// DuePending returns up to p.Limit pending executions with due_at <=
	// p.Until that no live instance holds and p does not leave out,
	// soonest first, locked.
	DuePending(p *DuePendingParams) ([]*Execution, error)
	// TenantRuns returns, for each tenant in want (tenant id -> runs the
	// claim may start, as far as it knows), how many of its limit runs the
	// claim must take as held, so that it starts at most limit minus that
	// many: its executions that hold a run slot (running, or pending and
	// claimed by an instance) and, where claimers of one tenant run at
	// once (PostgreSQL, a tenant well below its limit and a want small
	// next to it), the slots the others may be taking meanwhile. Its locks
	// last until the transaction ends, so that no claimers together go
	// over the limit. Call it after every other locking read of the
	// transaction.
	TenantRuns(want map[string]int, limit int) (map[string]int, error)
	// FindSchedules returns the schedules of any tenant by id, locked (on
	// PostgreSQL FOR UPDATE, in id order) until the transaction ends, so
	// that claimers deciding about the same schedule's slots take turns;
	// missing ones are absent from the map.
	FindSchedules(ids []string) (map[string]*Schedule, error)
	// FindFreeSchedules is FindSchedules without waiting: the schedules
	// another transaction holds (PostgreSQL) are not locked or returned
	// in found but listed by id in held.
	FindFreeSchedules(ids []string) (found map[string]*Schedule, held []string, err error)
	// CancelExecutions cancels unfinished executions with reason as their
	// error: pending ones at once (status cancelled), running ones by
	// setting their cancel flag for their instance to stop them. Finished
	// ones are left alone.
	CancelExecutions(ids []string, reason string) error
	// Occupancy returns, for each schedule id, its executions that hold or
	// wait for a slot: running ones, pending ones claimed by an instance,
	// and pending queued ones (trigger other than retry or backfill).
	Occupancy(p OccupancyParams) (map[string][]*Execution, error)
	// InsertExecutions inserts the rows; a row whose occurrence key
	// (schedule, scheduledAt, occurrence trigger) exists already is skipped
	// and reported false.
	InsertExecutions(execs []*Execution) ([]bool, error)
	// UpdateExecutions writes status, instance, heartbeat, timings, error,
	// skip reason and cancel flag of existing rows.
	UpdateExecutions(execs []*Execution) error
	// AdvanceSchedules sets next_run_at (and, when Status is set, status and
	// reason) of claimed schedules.
	AdvanceSchedules(advances []ScheduleAdvance) error
	// FindWorkflow returns a workflow by id in any tenant, ENOTFOUND when
	// gone.
	FindWorkflow(tenantID, id string) (*Workflow, error)
}

// ScheduleAdvance moves a claimed schedule on.
type ScheduleAdvance struct {
	ScheduleID string
	NextRunAt  *time.Time
	Status     *ScheduleStatus
	Reason     *string
}

// ExecutionStart marks one claimed execution as started.
type ExecutionStart struct {
	ExecutionID string
	InstanceID  string
	ExecutedAt  time.Time
}

// ExecutionResult is the outcome of one execution, written with its
// follow-ups in one transaction.
type ExecutionResult struct {
	Execution  *Execution  // with final Status, CompletedAt, DurationMs, ErrorMessage, Summary
	Retry      *Execution  // the next attempt to insert, or nil
	Deliveries []*Delivery // notifications to send, or nil
}
