// Package service holds the application's use cases: what happens when
// someone creates a schedule, pauses it, runs it now, imports workflows or
// signs in. The REST API, the console and the CLI all go through it, so
// validation, auditing and waking the scheduler happen the same way
// whichever door a request came in by.
package service

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/netguard"
)

// Scheduler is what the use cases need from the scheduler. A web-only node
// passes an implementation that only tells other instances (through the
// database) that something changed.
type Scheduler interface {
	// Changed wakes the dispatchers (here and on other instances) after
	// schedules or pending executions changed.
	Changed(ctx context.Context)
	// CancelExecution stops an execution at once if this instance runs
	// it; other instances learn of the request through the database.
	CancelExecution(ctx context.Context, executionID string)
}

// Notifier plans notifications for schedule events that the use cases
// cause (a schedule put into error when its workflow is deleted).
type Notifier interface {
	PlanScheduleEvent(s *geoetl.Schedule, event string) []*geoetl.Delivery
	Kick()
}

// Service carries the dependencies of the use cases.
type Service struct {
	Store     geoetl.Store
	Engine    geoetl.WorkflowEngine
	Scheduler Scheduler
	Notifier  Notifier // may be nil
	Clock     clock.Clock
	Network   netguard.Policy
	Logger    *slog.Logger
	// Limits are the per-tenant quotas; zero values mean no limit.
	Limits geoetl.TenantLimits
}

// New returns a Service; nil Scheduler, Clock and Logger get working
// defaults (no scheduler to wake, the wall clock, slog's default).
func New(s Service) *Service {
	if s.Clock == nil {
		s.Clock = clock.Real{}
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Scheduler == nil {
		s.Scheduler = noScheduler{}
	}
	return &s
}

type noScheduler struct{}

func (noScheduler) Changed(context.Context)                 {}
func (noScheduler) CancelExecution(context.Context, string) {}

// audit appends an audit entry. A failure to audit is logged but does not
// undo the change, which has already been committed.
func (s *Service) audit(ctx context.Context, p geoetl.Principal, action, objectType, objectID string, before, after any) {
	e := s.auditEntry(p, action, objectType, objectID, before, after)
	if err := s.Store.AppendAudit(ctx, e); err != nil {
		s.Logger.Error("audit append failed", "action", action, "object", objectID, "err", err)
	}
}

// auditEntry is the audit log entry of one change.
func (s *Service) auditEntry(p geoetl.Principal, action, objectType, objectID string, before, after any) *geoetl.AuditEntry {
	return &geoetl.AuditEntry{
		ID:         geoetl.NewTimeID(), // appended to the id index, as schedules' ids are
		TenantID:   p.TenantID,
		ActorID:    p.ActorID,
		Actor:      p.Actor,
		Action:     action,
		ObjectType: objectType,
		ObjectID:   objectID,
		Before:     auditJSON(before),
		After:      auditJSON(after),
		At:         s.Clock.Now().UTC(),
	}
}

// auditJSON renders an object for the audit log with its secrets masked.
func auditJSON(v any) json.RawMessage {
	switch o := v.(type) {
	case nil:
		return nil
	case *geoetl.Schedule:
		if o == nil {
			return nil
		}
		// A copy with the secrets masked, not MaskedSchedule's deep clone:
		// it is marshalled at once, and an import audits thousands.
		c := *o
		c.NotificationConfig = o.NotificationConfig.Masked()
		v = &c
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// MaskedSchedule returns a copy of s whose webhook URLs are masked, for
// answers, exports and the audit log.
func MaskedSchedule(s *geoetl.Schedule) *geoetl.Schedule {
	c := s.Clone()
	c.NotificationConfig = s.NotificationConfig.Masked()
	return c
}

// requireRole returns EFORBIDDEN unless p holds at least role min.
func requireRole(p geoetl.Principal, min geoetl.Role) error {
	if !p.Role.Allows(min) {
		return geoetl.Errorf(geoetl.EFORBIDDEN, "This needs the %s role.", min)
	}
	return nil
}

// CheckTenantClaim refuses a request body that names a tenant other than
// the caller's: the tenant always comes from the credentials.
func CheckTenantClaim(p geoetl.Principal, claimed *string) error {
	if claimed != nil && *claimed != p.TenantID {
		return &geoetl.Error{Code: geoetl.EFORBIDDEN, Message: "tenantId must be your own tenant.", Fields: map[string][]string{"tenantId": {"must be your own tenant"}}}
	}
	return nil
}
