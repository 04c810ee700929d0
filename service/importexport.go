package service

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/geoetl/geoetl"
)

// Export is the document that export writes and import reads.
type Export struct {
	Version   int                `json:"version"`
	Schedules []*geoetl.Schedule `json:"schedules"`
}

// ExportSchedules returns all of p's tenant's schedules, with webhook URLs
// masked (importing into the same tenant keeps the stored secrets).
func (s *Service) ExportSchedules(ctx context.Context, p geoetl.Principal) (*Export, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	out := &Export{Version: 1, Schedules: []*geoetl.Schedule{}}
	f := geoetl.ScheduleFilter{TenantID: p.TenantID, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}}
	for {
		page, _, next, err := s.Store.FindSchedules(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, sc := range page {
			out.Schedules = append(out.Schedules, MaskedSchedule(sc))
		}
		if next == "" {
			return out, nil
		}
		f.Cursor = next
	}
}

// MaxImportItems bounds one import.
const MaxImportItems = 10000

// ImportResult reports what import did with one item.
type ImportResult struct {
	Index  int                 `json:"index"`
	Name   string              `json:"name"`
	Action string              `json:"action"` // created, updated, failed
	ID     string              `json:"id,omitempty"`
	Error  string              `json:"error,omitempty"`
	Errors map[string][]string `json:"errors,omitempty"`
}

// ImportSchedules creates or updates schedules by name. Each item is
// applied on its own; a bad item is reported and does not stop the rest.
// Items may name their workflow by workflowId or workflowName.
func (s *Service) ImportSchedules(ctx context.Context, p geoetl.Principal, body []byte) ([]ImportResult, error) {
	if err := requireRole(p, geoetl.RoleEditor); err != nil {
		return nil, err
	}
	if err := CheckJSONText(body); err != nil {
		return nil, err
	}
	var doc struct {
		Schedules []json.RawMessage `json:"schedules"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Schedules == nil {
		var arr []json.RawMessage
		if err2 := json.Unmarshal(body, &arr); err2 != nil {
			return nil, invalid("schedules", "expected {\"schedules\":[...]} or a JSON array of schedules")
		}
		doc.Schedules = arr
	}
	if len(doc.Schedules) > MaxImportItems {
		return nil, invalid("schedules", fmt.Sprintf("at most %d schedules per import", MaxImportItems))
	}
	// The tenant comes from the caller only: an item that names another
	// tenant refuses the whole import before anything changes.
	for i, raw := range doc.Schedules {
		var item struct {
			TenantID *string `json:"tenantId"`
		}
		if json.Unmarshal(raw, &item) == nil && item.TenantID != nil && *item.TenantID != p.TenantID {
			return nil, &geoetl.Error{Code: geoetl.EFORBIDDEN, Message: "tenantId must be your own tenant.", Fields: map[string][]string{fmt.Sprintf("schedules[%d].tenantId", i): {"must be your own tenant"}}}
		}
	}
	results := make([]ImportResult, 0, len(doc.Schedules))
	for i, raw := range doc.Schedules {
		results = append(results, s.importOne(ctx, p, i, raw))
	}
	return results, nil
}

func (s *Service) importOne(ctx context.Context, p geoetl.Principal, i int, raw json.RawMessage) ImportResult {
	r := ImportResult{Index: i}
	upd, extra, err := DecodeScheduleJSON(raw)
	if err != nil {
		return failed(r, err)
	}
	if upd.Name != nil {
		r.Name = *upd.Name
	}
	if extra.TenantID != nil && *extra.TenantID != p.TenantID {
		return failed(r, geoetl.Errorf(geoetl.EFORBIDDEN, "tenantId must be your own tenant"))
	}
	if extra.WorkflowName != "" && (upd.WorkflowID == nil || *upd.WorkflowID == "") {
		id, err := s.workflowIDByName(ctx, p.TenantID, extra.WorkflowName)
		if err != nil {
			return failed(r, err)
		}
		upd.WorkflowID = &id
	}
	if r.Name == "" {
		return failed(r, invalid("name", "is required"))
	}
	existing, err := s.Store.FindScheduleByName(ctx, p.TenantID, r.Name)
	switch {
	case err == nil:
		upd.ExpectedVersion = nil
		sc, err := s.UpdateSchedule(ctx, p, existing.ID, upd)
		if err != nil {
			return failed(r, err)
		}
		r.Action, r.ID = "updated", sc.ID
	case geoetl.IsNotFound(err):
		sc, err := s.CreateSchedule(ctx, p, upd)
		if err != nil {
			return failed(r, err)
		}
		r.Action, r.ID = "created", sc.ID
	default:
		return failed(r, err)
	}
	return r
}

func (s *Service) workflowIDByName(ctx context.Context, tenantID, name string) (string, error) {
	f := geoetl.WorkflowFilter{TenantID: tenantID, Q: name, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}}
	ws, _, _, err := s.Store.FindWorkflows(ctx, f)
	if err != nil {
		return "", err
	}
	for _, w := range ws {
		if w.Name == name {
			return w.ID, nil
		}
	}
	return "", invalid("workflowName", "no workflow named "+name)
}

func failed(r ImportResult, err error) ImportResult {
	r.Action = "failed"
	r.Error = geoetl.ErrorMessage(err)
	r.Errors = geoetl.ErrorFields(err)
	return r
}
