package service

import (
	"context"

	"github.com/geoetl/geoetl"
)

// GetExecution returns one execution of p's tenant.
func (s *Service) GetExecution(ctx context.Context, p geoetl.Principal, id string) (*geoetl.Execution, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	return s.Store.FindExecutionByID(ctx, p.TenantID, id)
}

// ListExecutions returns a page of p's tenant's executions, newest first.
func (s *Service) ListExecutions(ctx context.Context, p geoetl.Principal, f geoetl.ExecutionFilter) ([]*geoetl.Execution, int, string, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, 0, "", err
	}
	fe := geoetl.FieldErrors{}
	if f.Status != "" && !f.Status.Valid() {
		fe.Add("status", "must be one of pending, running, completed, failed, skipped, cancelled")
	}
	if f.Trigger != "" && !f.Trigger.Valid() {
		fe.Add("trigger", "must be one of schedule, manual, retry, catchup, backfill, dependency")
	}
	if f.ScheduleID != "" && !geoetl.IsUUID(f.ScheduleID) {
		fe.Add("scheduleId", "must be a UUID")
	}
	if f.WorkflowID != "" && !geoetl.IsUUID(f.WorkflowID) {
		fe.Add("workflowId", "must be a UUID")
	}
	if err := fe.Err(); err != nil {
		return nil, 0, "", err
	}
	f.TenantID = p.TenantID
	f.Page = f.Page.Normalize()
	return s.Store.FindExecutions(ctx, f)
}

// ExecutionNodes returns the per-node records of an execution.
func (s *Service) ExecutionNodes(ctx context.Context, p geoetl.Principal, id string) ([]*geoetl.NodeRun, error) {
	if _, err := s.GetExecution(ctx, p, id); err != nil {
		return nil, err
	}
	return s.Store.ExecutionNodes(ctx, p.TenantID, id)
}

// ExecutionLogs returns log lines after seq afterSeq (at most limit).
func (s *Service) ExecutionLogs(ctx context.Context, p geoetl.Principal, id string, afterSeq int64, limit int) ([]*geoetl.LogEntry, error) {
	if _, err := s.GetExecution(ctx, p, id); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	return s.Store.ExecutionLogs(ctx, p.TenantID, id, afterSeq, limit)
}

// ExecutionDeliveries returns the notification deliveries of an execution.
func (s *Service) ExecutionDeliveries(ctx context.Context, p geoetl.Principal, id string) ([]*geoetl.Delivery, error) {
	if _, err := s.GetExecution(ctx, p, id); err != nil {
		return nil, err
	}
	return s.Store.ListDeliveries(ctx, p.TenantID, id)
}

// CancelExecution cancels a pending execution or asks the instance running
// it to stop. A finished execution is ECONFLICT.
func (s *Service) CancelExecution(ctx context.Context, p geoetl.Principal, id string) (*geoetl.Execution, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	e, err := s.Store.RequestCancel(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	s.Scheduler.CancelExecution(ctx, id)
	s.Scheduler.Changed(ctx)
	s.audit(ctx, p, "execution.cancel", "execution", id, nil, map[string]any{"status": e.Status})
	return e, nil
}

// TenantStats returns tenant-wide schedule counts and run statistics.
type TenantStats struct {
	Schedules      map[geoetl.ScheduleStatus]int `json:"schedules"`
	SchedulesTotal int                           `json:"schedulesTotal"`
	Workflows      int                           `json:"workflows"`
	Days           int                           `json:"days"`
	*geoetl.ExecutionStats
}

// TenantStats aggregates the tenant's schedules and runs of the last days.
func (s *Service) TenantStats(ctx context.Context, p geoetl.Principal, days int) (*TenantStats, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	if days < 1 || days > 3650 {
		return nil, invalid("days", "must be between 1 and 3650")
	}
	out := &TenantStats{Schedules: map[geoetl.ScheduleStatus]int{}, Days: days}
	for _, st := range []geoetl.ScheduleStatus{geoetl.StatusActive, geoetl.StatusPaused, geoetl.StatusExpired, geoetl.StatusError} {
		_, n, _, err := s.Store.FindSchedules(ctx, geoetl.ScheduleFilter{TenantID: p.TenantID, Status: st, Page: geoetl.Page{Limit: 1}})
		if err != nil {
			return nil, err
		}
		out.Schedules[st] = n
		out.SchedulesTotal += n
	}
	_, nw, _, err := s.Store.FindWorkflows(ctx, geoetl.WorkflowFilter{TenantID: p.TenantID, Page: geoetl.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	out.Workflows = nw
	since := s.Clock.Now().UTC().AddDate(0, 0, -days)
	out.ExecutionStats, err = s.Store.ExecutionStats(ctx, p.TenantID, "", since)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListAudit returns a page of p's tenant's audit log, newest first.
func (s *Service) ListAudit(ctx context.Context, p geoetl.Principal, f geoetl.AuditFilter) ([]*geoetl.AuditEntry, int, string, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, 0, "", err
	}
	fe := geoetl.FieldErrors{}
	if f.ObjectID != "" && !geoetl.IsUUID(f.ObjectID) {
		fe.Add("objectId", "must be a UUID")
	}
	if len(f.ObjectType) > 50 {
		fe.Add("objectType", "must be at most 50 characters")
	}
	if len(f.Action) > 100 {
		fe.Add("action", "must be at most 100 characters")
	}
	if err := fe.Err(); err != nil {
		return nil, 0, "", err
	}
	f.TenantID = p.TenantID
	f.Page = f.Page.Normalize()
	items, total, next, err := s.Store.FindAudit(ctx, f)
	if err != nil || p.Role.Allows(geoetl.RoleAdmin) {
		return items, total, next, err
	}
	for _, e := range items {
		if adminOnlyObjects[e.ObjectType] {
			// Who did what and when stays visible; the object itself
			// (a user's email, a token's name) is for admins only, as
			// the objects' own routes are.
			e.Before, e.After = nil, nil
		}
	}
	return items, total, next, nil
}

// adminOnlyObjects are the audited kinds of object that only admins may
// read through their own routes.
var adminOnlyObjects = map[string]bool{"user": true, "token": true, "tenant": true}
