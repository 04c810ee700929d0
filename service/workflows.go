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
	TenantID        *string // must equal the caller's tenant when present
}

// ParseWorkflowInput reads either accepted shape from a request body.
func ParseWorkflowInput(body []byte) (WorkflowInput, error) {
	o, err := ParseObject(body)
	if err != nil {
		return WorkflowInput{}, err
	}
	return DecodeWorkflow(o, body)
}

// DecodeWorkflow is ParseWorkflowInput for an object already parsed; body
// is its text, kept as the definition when it is a bare Honua definition.
func DecodeWorkflow(o *Object, body []byte) (WorkflowInput, error) {
	in := WorkflowInput{Name: o.String("name"), Description: o.String("description"), ExpectedVersion: o.Int("version"), TenantID: o.String("tenantId")}
	if v, ok := o.Nullable("definition"); ok && v != nil {
		if !isJSONObject(v) {
			o.Fail("definition", "must be a JSON object")
		} else {
			in.Definition = v
		}
	} else if o.Has("nodes") || o.Has("metadata") {
		in.Definition = json.RawMessage(body) // a bare Honua definition
		if v, ok := o.Nullable("metadata"); ok && v != nil {
			meta, err := ParseObject(v)
			if err != nil {
				o.Fail("metadata", "must be a JSON object")
			} else {
				if in.Name == nil {
					in.Name = meta.String("name")
				}
				if in.Description == nil {
					in.Description = meta.String("description")
				}
				for k, msgs := range meta.fe {
					for _, m := range msgs {
						o.Fail("metadata."+k, m)
					}
				}
			}
		}
	}
	return in, o.Err()
}

func isJSONObject(v json.RawMessage) bool {
	for _, c := range v {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// CreateWorkflow validates and stores a new workflow.
func (s *Service) CreateWorkflow(ctx context.Context, p geoetl.Principal, in WorkflowInput) (*geoetl.Workflow, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	if err := CheckTenantClaim(p, in.TenantID); err != nil {
		return nil, err
	}
	w := &geoetl.Workflow{ID: geoetl.NewID(), TenantID: p.TenantID, Definition: in.Definition, Version: 1, CreatedBy: p.Actor, UpdatedBy: p.Actor}
	if in.Name != nil {
		w.Name = strings.TrimSpace(*in.Name)
	}
	if in.Description != nil {
		w.Description = *in.Description
	}
	if err := s.validateWorkflow(ctx, p, w, true); err != nil {
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
	if err := CheckTenantClaim(p, in.TenantID); err != nil {
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
	// A rename keeps the saved definition; only a new one is checked
	// against the tenant's grants (a run checks them again).
	if err := s.validateWorkflow(ctx, p, &probe, in.Definition != nil); err != nil {
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
	if len(f.Q) > 200 {
		return nil, 0, "", invalid("q", "must be at most 200 characters")
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

// ValidateDefinition checks a definition without storing it and returns
// the parameters it declares.
func (s *Service) ValidateDefinition(ctx context.Context, p geoetl.Principal, def json.RawMessage) ([]geoetl.WorkflowParameter, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	w := &geoetl.Workflow{Name: "validate", Definition: def}
	if err := s.validateWorkflow(ctx, p, w, true); err != nil {
		return nil, err
	}
	if s.Engine == nil {
		return []geoetl.WorkflowParameter{}, nil
	}
	params, err := s.Engine.Parameters(def)
	if err != nil {
		return nil, invalid("definition", err.Error())
	}
	if params == nil {
		params = []geoetl.WorkflowParameter{}
	}
	return params, nil
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

// validateWorkflow checks a workflow; with forTenant, the definition is
// also checked against what the principal's tenant may use.
func (s *Service) validateWorkflow(ctx context.Context, p geoetl.Principal, w *geoetl.Workflow, forTenant bool) error {
	fe := geoetl.FieldErrors{}
	if err := w.Validate(); err != nil {
		for k, v := range geoetl.ErrorFields(err) {
			fe[k] = append(fe[k], v...)
		}
	}
	if _, bad := fe["definition"]; !bad {
		if err := CheckJSONText(w.Definition); err != nil {
			fe.Add("definition", "%s", geoetl.ErrorFields(err)["body"][0])
		}
	}
	if _, bad := fe["definition"]; !bad && s.Engine != nil {
		var err error
		if forTenant {
			var t *geoetl.Tenant
			if t, err = s.Store.FindTenantByID(ctx, p.TenantID); err != nil {
				return err
			}
			err = s.Engine.ValidateFor(t.Name, w.Definition)
		} else {
			err = s.Engine.Validate(w.Definition)
		}
		if err != nil {
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
