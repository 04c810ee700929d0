package service

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/geoetl/geoetl"
)

// newSchedule builds and checks a new schedule of p's tenant from in, with
// its first run, ready to store.
func (s *Service) newSchedule(ctx context.Context, p geoetl.Principal, in geoetl.ScheduleUpdate) (*geoetl.Schedule, error) {
	sc := geoetl.NewSchedule()
	in.Apply(sc)
	// Time-ordered, so that an import's rows land on the last pages of
	// the id indexes (schedules, versions, audit entries by object)
	// instead of a random page each: with random ids an import of 100,000
	// rewrote most of those indexes in every batch, and wrote 2.4 times
	// as many bytes to SQLite's WAL as it does now.
	sc.ID = geoetl.NewTimeID()
	sc.TenantID = p.TenantID
	sc.CreatedBy, sc.UpdatedBy = p.Actor, p.Actor
	if sc.Status != geoetl.StatusActive && sc.Status != geoetl.StatusPaused {
		return nil, invalid("status", "can only be set to active or paused")
	}
	if err := s.checkSchedule(ctx, sc); err != nil {
		return nil, err
	}
	if err := s.checkMinInterval(sc); err != nil {
		return nil, err
	}
	if err := s.scheduleNext(sc, s.Clock.Now().UTC()); err != nil {
		return nil, err
	}
	return sc, nil
}

// CreateSchedule creates a schedule from the fields set in in (the rest
// take the API's defaults), owned by p's tenant.
func (s *Service) CreateSchedule(ctx context.Context, p geoetl.Principal, in geoetl.ScheduleUpdate) (*geoetl.Schedule, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	sc, err := s.newSchedule(ctx, p, in)
	if err != nil {
		return nil, err
	}
	if err := s.Store.CreateScheduleCapped(ctx, sc, s.Limits.MaxSchedules); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "schedule.create", "schedule", sc.ID, nil, sc)
	s.Scheduler.Changed(ctx)
	return sc, nil
}

// UpdateSchedule applies a partial update. Masked webhook URLs sent back
// unchanged keep their stored values. A status equal to the current one is
// no change (so a client may send back what it read); otherwise only
// active and paused can be set, and statusReason is only taken as the
// reason of a pause.
func (s *Service) UpdateSchedule(ctx context.Context, p geoetl.Principal, id string, upd geoetl.ScheduleUpdate) (*geoetl.Schedule, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	current, err := s.Store.FindScheduleByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if upd.Status != nil && *upd.Status == current.Status {
		upd.Status = nil
	}
	if upd.Status != nil && *upd.Status != geoetl.StatusActive && *upd.Status != geoetl.StatusPaused {
		return nil, invalid("status", "can only be set to active or paused")
	}
	if upd.Status == nil || *upd.Status != geoetl.StatusPaused {
		upd.StatusReason = nil
	}
	// The workflow and its declared parameters are read before the write
	// transaction, which must not touch the store. They are only checked
	// when the update touches them or makes the schedule active, so a
	// schedule whose workflow was deleted can still be renamed or paused.
	if upd.WorkflowID != nil || upd.ParameterValues != nil || upd.Status != nil {
		probe := current.Clone()
		upd.Apply(probe)
		err := s.checkWorkflowAndParams(ctx, probe)
		if geoetl.IsNotFound(err) && upd.WorkflowID == nil {
			err = geoetl.Errorf(geoetl.ECONFLICT, "The schedule's workflow no longer exists; choose another workflowId.")
		}
		if err != nil {
			return nil, err
		}
	}
	var before *geoetl.Schedule
	now := s.Clock.Now().UTC()
	updated, err := s.Store.UpdateSchedule(ctx, p.TenantID, id, upd.ExpectedVersion, func(sc *geoetl.Schedule) error {
		before = sc.Clone()
		u := upd // the transaction may be retried; each try starts from the request
		if u.NotificationConfig != nil {
			nc := *u.NotificationConfig
			nc.WebhookURLs = append([]string(nil), nc.WebhookURLs...)
			nc.Unmask(sc.NotificationConfig)
			u.NotificationConfig = &nc
		}
		u.Apply(sc)
		if u.Status != nil && *u.Status == geoetl.StatusActive {
			sc.StatusReason = nil
		}
		sc.UpdatedBy = p.Actor
		if err := s.validateSchedule(sc); err != nil {
			return err
		}
		if u.CronExpression != nil || u.Timezone != nil {
			if err := s.checkMinInterval(sc); err != nil {
				return err
			}
		}
		if u.ChangesTiming() || before.Status != sc.Status {
			return s.scheduleNext(sc, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "schedule.update", "schedule", id, before, updated)
	s.Scheduler.Changed(ctx)
	return updated, nil
}

// DeleteSchedule deletes a schedule; its executions stay readable.
func (s *Service) DeleteSchedule(ctx context.Context, p geoetl.Principal, id string) error {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return err
	}
	before, err := s.Store.FindScheduleByID(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteSchedule(ctx, p.TenantID, id); err != nil {
		return err
	}
	s.audit(ctx, p, "schedule.delete", "schedule", id, before, nil)
	s.Scheduler.Changed(ctx)
	return nil
}

// PauseSchedule stops a schedule from firing, with an optional reason.
func (s *Service) PauseSchedule(ctx context.Context, p geoetl.Principal, id, reason string) (*geoetl.Schedule, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	if len([]rune(reason)) > 500 {
		return nil, invalid("reason", "must be at most 500 characters")
	}
	var before *geoetl.Schedule
	updated, err := s.Store.UpdateSchedule(ctx, p.TenantID, id, nil, func(sc *geoetl.Schedule) error {
		before = sc.Clone()
		sc.Status = geoetl.StatusPaused
		sc.StatusReason = nil
		if reason != "" {
			sc.StatusReason = &reason
		}
		sc.NextRunAt = nil
		sc.UpdatedBy = p.Actor
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "schedule.pause", "schedule", id, before, updated)
	s.Scheduler.Changed(ctx)
	return updated, nil
}

// ResumeSchedule makes a paused (or errored) schedule active again; its
// next run is computed from now, so occurrences during the pause are not
// caught up.
func (s *Service) ResumeSchedule(ctx context.Context, p geoetl.Principal, id string) (*geoetl.Schedule, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	current, err := s.Store.FindScheduleByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := workflowGone(s.checkWorkflowAndParams(ctx, current)); err != nil {
		if f := geoetl.ErrorFields(err); geoetl.ErrorCode(err) == geoetl.EINVALID && f != nil {
			return nil, &geoetl.Error{Code: geoetl.ECONFLICT, Message: "The schedule cannot be resumed: its parameter values no longer fit the workflow.", Fields: f}
		}
		return nil, err
	}
	now := s.Clock.Now().UTC()
	var before *geoetl.Schedule
	updated, err := s.Store.UpdateSchedule(ctx, p.TenantID, id, nil, func(sc *geoetl.Schedule) error {
		before = sc.Clone()
		if sc.IsExpiredAt(now) {
			return geoetl.Errorf(geoetl.ECONFLICT, "The schedule expired at %s; change expiresAt before resuming it.", sc.ExpiresAt.UTC().Format(time.RFC3339))
		}
		sc.Status = geoetl.StatusActive
		sc.StatusReason = nil
		sc.Enabled = true
		sc.UpdatedBy = p.Actor
		return s.scheduleNext(sc, now)
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "schedule.resume", "schedule", id, before, updated)
	s.Scheduler.Changed(ctx)
	return updated, nil
}

// RunNow asks for a manual run of a schedule with optional parameter
// overrides. The execution is created pending and started by a scheduler
// as soon as the overlap policy allows (or at once when force is set).
func (s *Service) RunNow(ctx context.Context, p geoetl.Principal, id string, overrides map[string]any, force bool) (*geoetl.Execution, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	sc, err := s.Store.FindScheduleByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	params := mergeParams(sc.ParameterValues, overrides)
	probe := sc.Clone()
	probe.ParameterValues = params
	if err := workflowGone(s.checkWorkflowAndParams(ctx, probe)); err != nil {
		return nil, err
	}
	now := s.Clock.Now().UTC()
	e := &geoetl.Execution{
		ID:              geoetl.NewID(),
		TenantID:        p.TenantID,
		ScheduleID:      &sc.ID,
		WorkflowID:      sc.WorkflowID,
		WorkflowRunID:   geoetl.NewID(),
		ScheduledAt:     now,
		DueAt:           now,
		Trigger:         geoetl.TriggerManual,
		Status:          geoetl.ExecPending,
		ParameterValues: params,
		Force:           force,
		CreatedAt:       now,
		CreatedBy:       p.Actor,
	}
	if err := s.Store.CreateExecution(ctx, e); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "schedule.run_now", "schedule", sc.ID, nil, map[string]any{"executionId": e.ID, "parameterValues": params, "force": force})
	s.Scheduler.Changed(ctx)
	return e, nil
}

// MaxBackfillRuns bounds one backfill request.
const MaxBackfillRuns = 1000

// Backfill creates one pending run per occurrence in [from, to], oldest
// first. They wait for free slots rather than being skipped by the
// overlap policy.
func (s *Service) Backfill(ctx context.Context, p geoetl.Principal, id string, from, to time.Time) ([]*geoetl.Execution, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	fe := geoetl.FieldErrors{}
	if from.IsZero() {
		fe.Add("from", "is required (RFC 3339)")
	}
	if to.IsZero() {
		fe.Add("to", "is required (RFC 3339)")
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		fe.Add("to", "must not be before from")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	sc, err := s.Store.FindScheduleByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := workflowGone(s.checkWorkflowAndParams(ctx, sc)); err != nil {
		return nil, err
	}
	expr, err := sc.Cron()
	if err != nil {
		return nil, err
	}
	loc, err := sc.Location()
	if err != nil {
		return nil, err
	}
	times := expr.Between(from.Add(-time.Nanosecond), to, loc, MaxBackfillRuns+1)
	if len(times) > MaxBackfillRuns {
		return nil, invalid("to", fmt.Sprintf("the range holds more than %d occurrences; split it", MaxBackfillRuns))
	}
	if len(times) == 0 {
		return nil, invalid("from", "the range holds no occurrence of the schedule")
	}
	now := s.Clock.Now().UTC()
	out := make([]*geoetl.Execution, 0, len(times))
	for i, t := range times {
		e := &geoetl.Execution{
			ID:              geoetl.NewID(),
			TenantID:        p.TenantID,
			ScheduleID:      &sc.ID,
			WorkflowID:      sc.WorkflowID,
			WorkflowRunID:   geoetl.NewID(),
			ScheduledAt:     t.UTC(),
			DueAt:           now.Add(time.Duration(i) * time.Microsecond), // keeps oldest-first order on due_at
			Trigger:         geoetl.TriggerBackfill,
			Status:          geoetl.ExecPending,
			ParameterValues: mergeParams(sc.ParameterValues, nil),
			CreatedAt:       now,
			CreatedBy:       p.Actor,
		}
		if err := s.Store.CreateExecution(ctx, e); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	s.audit(ctx, p, "schedule.backfill", "schedule", sc.ID, nil, map[string]any{"from": from.UTC(), "to": to.UTC(), "runs": len(out)})
	s.Scheduler.Changed(ctx)
	return out, nil
}

// NextRuns previews the next count occurrences after from.
func (s *Service) NextRuns(ctx context.Context, p geoetl.Principal, id string, count int, from time.Time) ([]time.Time, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	if count < 1 || count > 100 {
		return nil, invalid("count", "must be between 1 and 100")
	}
	sc, err := s.Store.FindScheduleByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	expr, err := sc.Cron()
	if err != nil {
		return nil, err
	}
	loc, err := sc.Location()
	if err != nil {
		return nil, err
	}
	if from.IsZero() {
		from = s.Clock.Now()
	}
	out := []time.Time{}
	for _, t := range expr.NextN(from, loc, count) {
		if sc.ExpiresAt != nil && !t.Before(*sc.ExpiresAt) {
			break
		}
		out = append(out, t.UTC())
	}
	return out, nil
}

// GetSchedule returns one schedule of p's tenant.
func (s *Service) GetSchedule(ctx context.Context, p geoetl.Principal, id string) (*geoetl.Schedule, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	return s.Store.FindScheduleByID(ctx, p.TenantID, id)
}

// ListSchedules returns a page of p's tenant's schedules.
func (s *Service) ListSchedules(ctx context.Context, p geoetl.Principal, f geoetl.ScheduleFilter) ([]*geoetl.Schedule, int, string, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, 0, "", err
	}
	fe := geoetl.FieldErrors{}
	if f.Status != "" && !f.Status.Valid() {
		fe.Add("status", "must be one of active, paused, expired, error")
	}
	if !f.Sort.Valid() {
		fe.Add("sort", "must be one of name, nextRunAt, updatedAt")
	}
	if f.WorkflowID != "" && !geoetl.IsUUID(f.WorkflowID) {
		fe.Add("workflowId", "must be a UUID")
	}
	if len(f.Q) > 200 {
		fe.Add("q", "must be at most 200 characters")
	}
	if err := fe.Err(); err != nil {
		return nil, 0, "", err
	}
	f.TenantID = p.TenantID
	f.Page = f.Page.Normalize()
	return s.Store.FindSchedules(ctx, f)
}

// ScheduleHistory lists a schedule's executions, newest first.
func (s *Service) ScheduleHistory(ctx context.Context, p geoetl.Principal, id string, f geoetl.ExecutionFilter) ([]*geoetl.Execution, int, string, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, 0, "", err
	}
	if _, err := s.Store.FindScheduleByID(ctx, p.TenantID, id); err != nil {
		return nil, 0, "", err
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, 0, "", invalid("status", "must be one of pending, running, completed, failed, skipped, cancelled")
	}
	f.TenantID = p.TenantID
	f.ScheduleID = id
	f.Page = f.Page.Normalize()
	return s.Store.FindExecutions(ctx, f)
}

// ScheduleStats aggregates a schedule's runs over the last days.
type ScheduleStats struct {
	ScheduleID string     `json:"scheduleId"`
	Days       int        `json:"days"`
	NextRunAt  *time.Time `json:"nextRunAt"`
	*geoetl.ExecutionStats
}

// ScheduleStats returns run counts, success rate and durations.
func (s *Service) ScheduleStats(ctx context.Context, p geoetl.Principal, id string, days int) (*ScheduleStats, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	if days < 1 || days > 3650 {
		return nil, invalid("days", "must be between 1 and 3650")
	}
	sc, err := s.Store.FindScheduleByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	since := s.Clock.Now().UTC().Add(-time.Duration(days) * 24 * time.Hour)
	st, err := s.Store.ExecutionStats(ctx, p.TenantID, id, since)
	if err != nil {
		return nil, err
	}
	return &ScheduleStats{ScheduleID: id, Days: days, NextRunAt: sc.NextRunAt, ExecutionStats: st}, nil
}

// ScheduleVersionInfo is one kept version of a schedule with the names of
// the fields it changed from the version before (empty for version 1, the
// creation). Runtime fields (next and last run) are not part of a version's
// changes.
type ScheduleVersionInfo struct {
	*geoetl.ScheduleVersion
	Changes []string `json:"changes"`
}

// ScheduleVersions lists the kept versions of a schedule, newest first,
// with webhook URLs masked.
func (s *Service) ScheduleVersions(ctx context.Context, p geoetl.Principal, id string) ([]*ScheduleVersionInfo, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	vs, err := s.Store.ScheduleVersions(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	byVersion := map[int]json.RawMessage{}
	for _, v := range vs {
		byVersion[v.Version] = v.Snapshot
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Version > vs[j].Version })
	out := make([]*ScheduleVersionInfo, 0, len(vs))
	for _, v := range vs {
		changes := []string{}
		if prev, ok := byVersion[v.Version-1]; ok {
			changes = changedFields(prev, v.Snapshot)
		}
		v.Snapshot = maskSnapshot(v.Snapshot)
		out = append(out, &ScheduleVersionInfo{ScheduleVersion: v, Changes: changes})
	}
	return out, nil
}

// changedFields names the fields that differ between two schedule
// snapshots, sorted.
func changedFields(a, b json.RawMessage) []string {
	var sa, sb geoetl.Schedule
	if json.Unmarshal(a, &sa) != nil || json.Unmarshal(b, &sb) != nil {
		return []string{}
	}
	return sa.Diff(&sb)
}

// RestoreScheduleVersion makes an earlier version's definition current
// again, as a new version. Runtime state (status, next and last run) is
// not part of a definition and is not restored; the schedule keeps its
// current status.
func (s *Service) RestoreScheduleVersion(ctx context.Context, p geoetl.Principal, id string, version int) (*geoetl.Schedule, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	vs, err := s.Store.ScheduleVersions(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	var old *geoetl.Schedule
	for _, v := range vs {
		if v.Version == version {
			old = &geoetl.Schedule{}
			if err := jsonUnmarshal(v.Snapshot, old); err != nil {
				return nil, err
			}
		}
	}
	if old == nil {
		return nil, geoetl.NotFound("Version")
	}
	upd := old.DefinitionUpdate()
	sc, err := s.UpdateSchedule(ctx, p, id, upd)
	if geoetl.IsNotFound(err) && geoetl.ErrorFields(err) != nil {
		return nil, geoetl.Errorf(geoetl.ECONFLICT, "Version %d uses a workflow that no longer exists.", version)
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "schedule.restore", "schedule", id, nil, map[string]any{"restoredVersion": version, "newVersion": sc.Version})
	return sc, nil
}

// checkSchedule validates a new schedule and its references. A workflow
// that is not the tenant's is ENOTFOUND (404, exactly like a missing one)
// when it is the only problem; with other bad fields it is reported among
// them in one EINVALID.
func (s *Service) checkSchedule(ctx context.Context, sc *geoetl.Schedule) error {
	fe := geoetl.FieldErrors{}
	merge(fe, sc.Validate())
	s.checkNotificationTargets(sc.NotificationConfig, fe)
	if _, bad := fe["workflowId"]; bad {
		return fe.Err()
	}
	err := s.checkWorkflowAndParams(ctx, sc)
	switch {
	case err == nil:
		return fe.Err()
	case geoetl.IsNotFound(err) && len(fe) == 0:
		return err
	case geoetl.ErrorFields(err) != nil:
		merge(fe, err)
		return fe.Err()
	default:
		return err
	}
}

// merge adds the field messages of a validation error to fe.
func merge(fe geoetl.FieldErrors, err error) {
	for k, v := range geoetl.ErrorFields(err) {
		fe[k] = append(fe[k], v...)
	}
}

// validateSchedule is checkSchedule without the store lookups, for use
// inside a write transaction.
func (s *Service) validateSchedule(sc *geoetl.Schedule) error {
	fe := geoetl.FieldErrors{}
	merge(fe, sc.Validate())
	s.checkNotificationTargets(sc.NotificationConfig, fe)
	return fe.Err()
}

// checkNotificationTargets refuses webhook URLs whose literal host the
// network policy would refuse anyway, so the mistake shows at save time.
func (s *Service) checkNotificationTargets(nc geoetl.NotificationConfig, fe geoetl.FieldErrors) {
	for i, u := range nc.WebhookURLs {
		if geoetl.ValidateWebhookURL(u) == nil {
			if err := s.Network.CheckURL(u); err != nil {
				fe.Add(fmt.Sprintf("notificationConfig.webhookUrls[%d]", i), "%s", err.Error())
			}
		}
	}
	for field, u := range map[string]*string{"slackWebhookUrl": nc.SlackWebhookURL, "teamsWebhookUrl": nc.TeamsWebhookURL} {
		if u != nil && *u != "" && geoetl.ValidateWebhookURL(*u) == nil {
			if err := s.Network.CheckURL(*u); err != nil {
				fe.Add("notificationConfig."+field, "%s", err.Error())
			}
		}
	}
}

// checkWorkflowAndParams checks that the schedule's workflow is the
// tenant's (ENOTFOUND naming workflowId otherwise) and that its parameter
// values fit what the workflow declares (EINVALID).
func (s *Service) checkWorkflowAndParams(ctx context.Context, sc *geoetl.Schedule) error {
	if !geoetl.IsUUID(sc.WorkflowID) {
		return invalid("workflowId", "must be a UUID")
	}
	wf, err := s.Store.FindWorkflowByID(ctx, sc.TenantID, sc.WorkflowID)
	if geoetl.IsNotFound(err) {
		return &geoetl.Error{Code: geoetl.ENOTFOUND, Message: "Workflow not found.", Fields: map[string][]string{"workflowId": {"workflow not found"}}}
	} else if err != nil {
		return err
	}
	if s.Engine == nil {
		return nil
	}
	declared, err := s.Engine.Parameters(wf.Definition)
	if err != nil {
		return invalid("workflowId", "the workflow's definition is invalid: "+err.Error())
	}
	return CheckParameterValues(declared, sc.ParameterValues, "parameterValues")
}

// workflowGone turns "the schedule's workflow is missing" into a conflict:
// the schedule exists, but cannot run until it names a workflow again.
func workflowGone(err error) error {
	if geoetl.IsNotFound(err) {
		return geoetl.Errorf(geoetl.ECONFLICT, "The schedule's workflow no longer exists; the schedule cannot run until it names another one.")
	}
	return err
}

// scheduleNext sets the schedule's next run from now, and marks it expired
// when its expiry has passed.
func (s *Service) scheduleNext(sc *geoetl.Schedule, now time.Time) error {
	if sc.Status == geoetl.StatusActive && sc.IsExpiredAt(now) {
		sc.Status = geoetl.StatusExpired
		reason := "expired at " + sc.ExpiresAt.UTC().Format(time.RFC3339)
		sc.StatusReason = &reason
	}
	next, err := sc.ComputeNextRun(now)
	if err != nil {
		return invalid("cronExpression", err.Error())
	}
	sc.NextRunAt = next
	return nil
}

func mergeParams(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func invalid(field, msg string) error {
	return &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{field: {msg}}}
}
