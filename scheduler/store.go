package scheduler

import (
	"context"
	"time"

	"github.com/geoetl/geoetl"
)

// Store is what the scheduler reads and writes; geoetl.Store has it all.
// Listing only these methods shows what the scheduler touches and lets a
// test wrap the store by the few methods it needs.
type Store interface {
	// Claiming and waking.
	Now(ctx context.Context) (time.Time, error)
	Claim(ctx context.Context, fn func(tx geoetl.ClaimTx) error) error
	NextWakeAt(ctx context.Context, p *geoetl.NextWakeAtParams) (*time.Time, error)
	CountDueSchedules(ctx context.Context, until time.Time, limit int) (int, error)

	// Running and recording.
	StartExecutions(ctx context.Context, starts []geoetl.ExecutionStart) error
	FinishExecutions(ctx context.Context, results []geoetl.ExecutionResult) error
	Heartbeat(ctx context.Context, instanceID string, ids []string) ([]string, error)
	ReleaseClaims(ctx context.Context, ids []string) error
	AppendNodeRuns(ctx context.Context, nodes []*geoetl.NodeRun) error
	AppendLogs(ctx context.Context, logs []*geoetl.LogEntry) error
	CreateDeliveries(ctx context.Context, ds []*geoetl.Delivery) error

	// Chores: reaping, expiry, retention.
	StaleExecutions(ctx context.Context, before time.Time, limit int) ([]*geoetl.Execution, error)
	SetScheduleStatus(ctx context.Context, tenantID, id string, status geoetl.ScheduleStatus, reason *string) error
	ExpiredSchedules(ctx context.Context, now time.Time, limit int) ([]*geoetl.Schedule, error)
	DeleteFinishedExecutionsBefore(ctx context.Context, t time.Time, limit int) (int, error)

	// Lookups for a run.
	FindExecutionByID(ctx context.Context, tenantID, id string) (*geoetl.Execution, error)
	FindScheduleByID(ctx context.Context, tenantID, id string) (*geoetl.Schedule, error)
	FindTenantByID(ctx context.Context, id string) (*geoetl.Tenant, error)
	FindWorkflowByID(ctx context.Context, tenantID, id string) (*geoetl.Workflow, error)
}

var _ Store = geoetl.Store(nil)
