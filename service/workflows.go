package service

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/geoetl/geoetl"
)

// WorkflowInput is a workflow as a client sends it: either an envelope
// with name, description and definition, or a bare Honua definition whose
// metadata supplies the name.
type WorkflowInput struct {
	Name            *string
	Description     *string
	Definition      json.RawMessage
	ExpectedVersion *int
}

// ParseWorkflowInput reads either accepted shape from a request body.
func ParseWorkflowInput(body []byte) (WorkflowInput, error) {
	var env struct {
		Name        *string         `json:"name"`
		Description *string         `json:"description"`
		Definition  json.RawMessage `json:"definition"`
		Version     *int            `json:"version"`
		Nodes       json.RawMessage `json:"nodes"`
		Metadata    *struct {
			Name        *string `json:"name"`
			Description *string `json:"description"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return WorkflowInput{}, invalid("body", "must be a JSON object: "+err.Error())
	}
	in := WorkflowInput{Name: env.Name, Description: env.Description, Definition: env.Definition, ExpectedVersion: env.Version}
	if len(in.Definition) == 0 || string(in.Definition) == "null" {
		in.Definition = nil
		if env.Nodes != nil || env.Metadata != nil {
			// A bare Honua definition.
			in.Definition = json.RawMessage(body)
		}
	}
	if env.Metadata != nil && in.Name == nil {
		in.Name = env.Metadata.Name
	}
	if env.Metadata != nil && in.Description == nil {
		in.Description = env.Metadata.Description
	}
	return in, nil
}

// CreateWorkflow validates and stores a new workflow.
func (s *Service) CreateWorkflow(ctx context.Context, p geoetl.Principal, in WorkflowInput) (*geoetl.Workflow, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	w := &geoetl.Workflow{ID: geoetl.NewID(), TenantID: p.TenantID, Definition: in.Definition, Version: 1, CreatedBy: p.Actor, UpdatedBy: p.Actor}
	if in.Name != nil {
		w.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		w.Description = *in.Description
	}
	if err := s.validateWorkflow(w); err != nil {
		return nil, err
	}
	if err := s.Store.CreateWorkflow(ctx, w); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.create", "workflow", w.ID, nil, w)
	return w, nil
}

// UpdateWorkflow changes a workflow; the previous definition stays in its
// version history. Schedules that use it run the new definition from
// their next run on.
func (s *Service) UpdateWorkflow(ctx context.Context, p geoetl.Principal, id string, in WorkflowInput) (*geoetl.Workflow, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	before, err := s.Store.FindWorkflowByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	probe := *before
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		in.Name = &n
		probe.Name = n
	}
	if in.Description != nil {
		probe.Description = *in.Description
	}
	if in.Definition != nil {
		probe.Definition = in.Definition
	}
	if err := s.validateWorkflow(&probe); err != nil {
		return nil, err
	}
	upd := geoetl.WorkflowUpdate{Name: in.Name, Description: in.Description, ExpectedVersion: in.ExpectedVersion}
	if in.Definition != nil {
		d := in.Definition
		upd.Definition = &d
	}
	w, err := s.Store.UpdateWorkflow(ctx, p.TenantID, id, upd, p.Actor)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.update", "workflow", id, before, w)
	return w, nil
}

// DeleteWorkflow deletes a workflow. Without force it refuses while
// schedules use it; with force those schedules go to status error.
func (s *Service) DeleteWorkflow(ctx context.Context, p geoetl.Principal, id string, force bool) error {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return err
	}
	before, err := s.Store.FindWorkflowByID(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	errored, err := s.Store.DeleteWorkflow(ctx, p.TenantID, id, force)
	if err != nil {
		return err
	}
	s.audit(ctx, p, "workflow.delete", "workflow", id, before, map[string]any{"force": force, "schedulesPutInError": errored})
	if len(errored) > 0 {
		s.notifyScheduleEvents(ctx, p.TenantID, errored, "schedule.error")
		s.Scheduler.Changed(ctx)
	}
	return nil
}

func (s *Service) notifyScheduleEvents(ctx context.Context, tenantID string, ids []string, event string) {
	if s.Notifier == nil {
		return
	}
	var ds []*geoetl.Delivery
	for _, id := range ids {
		sc, err := s.Store.FindScheduleByID(ctx, tenantID, id)
		if err != nil {
			continue
		}
		ds = append(ds, s.Notifier.PlanScheduleEvent(sc, event)...)
	}
	if len(ds) == 0 {
		return
	}
	if err := s.Store.CreateDeliveries(ctx, ds); err != nil {
		s.Logger.Error("recording notifications failed", "event", event, "err", err)
		return
	}
	s.Notifier.Kick()
}

// GetWorkflow returns one workflow of p's tenant.
func (s *Service) GetWorkflow(ctx context.Context, p geoetl.Principal, id string) (*geoetl.Workflow, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	return s.Store.FindWorkflowByID(ctx, p.TenantID, id)
}

// ListWorkflows returns a page of p's tenant's workflows.
func (s *Service) ListWorkflows(ctx context.Context, p geoetl.Principal, f geoetl.WorkflowFilter) ([]*geoetl.Workflow, int, string, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, 0, "", err
	}
	f.TenantID = p.TenantID
	f.Page = f.Page.Normalize()
	return s.Store.FindWorkflows(ctx, f)
}

// WorkflowVersions lists the kept versions of a workflow.
func (s *Service) WorkflowVersions(ctx context.Context, p geoetl.Principal, id string) ([]*geoetl.WorkflowVersion, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	return s.Store.WorkflowVersions(ctx, p.TenantID, id)
}

// ValidateDefinition checks a definition without storing it.
func (s *Service) ValidateDefinition(ctx context.Context, p geoetl.Principal, def json.RawMessage) error {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return err
	}
	w := &geoetl.Workflow{Name: "validate", Definition: def}
	return s.validateWorkflow(w)
}

// WorkflowParameters lists the parameters a workflow declares.
func (s *Service) WorkflowParameters(ctx context.Context, p geoetl.Principal, id string) ([]geoetl.WorkflowParameter, error) {
	w, err := s.GetWorkflow(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if s.Engine == nil {
		return nil, nil
	}
	return s.Engine.Parameters(w.Definition)
}

// RunWorkflow starts an ad hoc run of a workflow, outside any schedule.
func (s *Service) RunWorkflow(ctx context.Context, p geoetl.Principal, id string, params map[string]any) (*geoetl.Execution, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	w, err := s.Store.FindWorkflowByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if params == nil {
		params = map[string]any{}
	}
	if s.Engine != nil {
		declared, err := s.Engine.Parameters(w.Definition)
		if err != nil {
			return nil, invalid("definition", err.Error())
		}
		if err := CheckParameterValues(declared, params, "parameterValues"); err != nil {
			return nil, err
		}
	}
	now := s.Clock.Now().UTC()
	e := &geoetl.Execution{
		ID: geoetl.NewID(), TenantID: p.TenantID, WorkflowID: w.ID, WorkflowRunID: geoetl.NewID(),
		ScheduledAt: now, DueAt: now, Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending,
		ParameterValues: params, CreatedAt: now, CreatedBy: p.Actor,
	}
	if err := s.Store.CreateExecution(ctx, e); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "workflow.run", "workflow", w.ID, nil, map[string]any{"executionId": e.ID, "parameterValues": params})
	s.Scheduler.Changed(ctx)
	return e, nil
}

func (s *Service) validateWorkflow(w *geoetl.Workflow) error {
	fe := geoetl.FieldErrors{}
	if err := w.Validate(); err != nil {
		for k, v := range geoetl.ErrorFields(err) {
			fe[k] = append(fe[k], v...)
		}
	}
	if _, bad := fe["definition"]; !bad && s.Engine != nil {
		if err := s.Engine.Validate(w.Definition); err != nil {
			f := geoetl.ErrorFields(err)
			if f == nil {
				fe.Add("definition", "%s", err.Error())
			}
			for k, v := range f {
				key := k
				if !strings.HasPrefix(k, "definition") {
					key = "definition." + k
				}
				fe[key] = append(fe[key], v...)
			}
		}
	}
	return fe.Err()
}
