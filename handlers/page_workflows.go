package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
	"github.com/geoetl/geoetl/views/urls"
)

// newWorkflowTemplate starts the editor with a small valid definition to
// change, so nobody starts from a blank page.
const newWorkflowTemplate = `{
  "metadata": {"name": "", "description": ""},
  "parameters": {},
  "nodes": [
    {"id": "src", "type": "data_source.file", "parameters": {"file_path": "input.geojson"}},
    {"id": "out", "type": "data_sink.geojson", "parameters": {"output_path": "out/output.geojson"}}
  ],
  "edges": [{"from": "src", "to": "out"}]
}`

// handleConsoleWorkflowsPage is GET /geoetl/workflows.
func (s *Server) handleConsoleWorkflowsPage(c echo.Context) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	items, total, next, err := s.svc.ListWorkflows(c.Request().Context(), principal(c), geoetl.WorkflowFilter{Q: q, Page: geoetl.Page{Limit: 50, Cursor: c.QueryParam("cursor")}})
	if err != nil {
		return err
	}
	pg := s.page(c, "Workflows", "workflows")
	return s.render(c, http.StatusOK, pg, views.WorkflowsMain(pg, views.WorkflowListData{Q: q, Items: items, Total: total, NextCursor: next}))
}

// catalog returns the node catalog in the views' shape; the handlers know
// it only as JSON-able data (Config.Catalog).
func (s *Server) catalog() []views.CatalogEntry {
	if s.cfg.Catalog == nil {
		return nil
	}
	b, err := json.Marshal(s.cfg.Catalog)
	if err != nil {
		return nil
	}
	var out []views.CatalogEntry
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// handleConsoleWorkflowNew is GET /geoetl/workflows/new.
func (s *Server) handleConsoleWorkflowNew(c echo.Context) error {
	if err := requireEditor(c); err != nil {
		return err
	}
	pg := s.page(c, "New workflow", "workflows")
	d := views.WorkflowFormData{Definition: newWorkflowTemplate, Catalog: s.catalog()}
	return s.render(c, http.StatusOK, pg, views.WorkflowMain(pg, d))
}

// handleConsoleWorkflowPage is GET /geoetl/workflows/{id}.
func (s *Server) handleConsoleWorkflowPage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	w, err := s.svc.GetWorkflow(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	d := s.workflowData(c, w)
	pg := s.page(c, w.Name, "workflows")
	return s.render(c, http.StatusOK, pg, views.WorkflowMain(pg, d))
}

// workflowData fills the workflow page from a stored workflow.
func (s *Server) workflowData(c echo.Context, w *geoetl.Workflow) views.WorkflowFormData {
	ctx := c.Request().Context()
	p := principal(c)
	d := views.WorkflowFormData{W: w, Name: w.Name, Description: w.Description, Definition: views.JSONIndent(w.Definition), Version: w.Version, Catalog: s.catalog(), ParamValues: map[string]string{}}
	if params, err := s.svc.WorkflowParameters(ctx, p, w.ID); err == nil {
		d.Params = params
	}
	scheds, _, _, err := s.svc.ListSchedules(ctx, p, geoetl.ScheduleFilter{WorkflowID: w.ID, Page: geoetl.Page{Limit: 100}})
	if err == nil {
		d.Schedules = scheds
	}
	return d
}

// handleConsoleWorkflowCreate is POST /geoetl/workflows/new.
func (s *Server) handleConsoleWorkflowCreate(c echo.Context) error {
	return s.saveWorkflow(c, nil)
}

// handleConsoleWorkflowSave is POST /geoetl/workflows/{id}: save, or only
// validate when the "Validate only" button was used.
func (s *Server) handleConsoleWorkflowSave(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	w, err := s.svc.GetWorkflow(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	return s.saveWorkflow(c, w)
}

func (s *Server) saveWorkflow(c echo.Context, w *geoetl.Workflow) error {
	ctx := c.Request().Context()
	p := principal(c)
	name, desc, def := c.FormValue("name"), c.FormValue("description"), c.FormValue("definition")
	version, _ := strconv.Atoi(c.FormValue("version"))
	d := views.WorkflowFormData{W: w, Name: name, Description: desc, Definition: def, Version: version, Catalog: s.catalog()}
	if w != nil {
		full := s.workflowData(c, w)
		d.Params, d.Schedules, d.ParamValues = full.Params, full.Schedules, full.ParamValues
	}
	raw := json.RawMessage(bytes.TrimSpace([]byte(def)))
	if !json.Valid(raw) {
		d.Errors = map[string][]string{"definition": {"is not valid JSON: " + jsonSyntaxHint(raw)}}
		return s.workflowFormFailed(c, d)
	}
	if c.FormValue("validateOnly") == "true" {
		if _, err := s.svc.ValidateDefinition(ctx, p, raw); err != nil {
			if geoetl.ErrorCode(err) != geoetl.EINVALID {
				return err
			}
			d.Errors = prefixFields(geoetl.ErrorFields(err))
			return s.workflowFormFailed(c, d)
		}
		d.Message = ""
		return s.workflowFormOK(c, d, "The definition is valid.")
	}
	in := service.WorkflowInput{Name: &name, Description: &desc, Definition: raw}
	var saved *geoetl.Workflow
	var err error
	if w == nil {
		saved, err = s.svc.CreateWorkflow(ctx, p, in)
	} else {
		if version > 0 {
			in.ExpectedVersion = &version
		}
		saved, err = s.svc.UpdateWorkflow(ctx, p, w.ID, in)
	}
	switch geoetl.ErrorCode(err) {
	case "":
	case geoetl.EINVALID:
		d.Errors = geoetl.ErrorFields(err)
		if len(d.Errors) == 0 {
			d.Message = geoetl.ErrorMessage(err)
		}
		return s.workflowFormFailed(c, d)
	case geoetl.ECONFLICT:
		d.Message = geoetl.ErrorMessage(err)
		if w != nil && w.Version != version {
			d.Message = "Someone saved this workflow (version " + strconv.Itoa(w.Version) + ") since you opened it. Your text is kept below; save again to replace theirs."
			d.Version = w.Version
		}
		return s.workflowFormFailed(c, d)
	default:
		return err
	}
	if w == nil {
		return s.navigate(c, urls.Workflow(saved.ID), &views.Flash{Kind: "ok", Text: "Created " + saved.Name + "."})
	}
	d = s.workflowData(c, saved)
	d.Saved = true
	return s.workflowFormOK(c, d, "")
}

// prefixFields names definition errors as the service does for saves.
func prefixFields(fe map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range fe {
		if !strings.HasPrefix(k, "definition") {
			k = "definition." + k
		}
		out[k] = append(out[k], v...)
	}
	return out
}

func jsonSyntaxHint(raw []byte) string {
	var v any
	err := json.Unmarshal(raw, &v)
	if err == nil {
		return "empty"
	}
	return err.Error()
}

// workflowFormFailed answers a form with problems: the form alone (200)
// for htmx, the page (422) otherwise.
func (s *Server) workflowFormFailed(c echo.Context, d views.WorkflowFormData) error {
	pg := s.page(c, "Workflow", "workflows")
	if hxTarget(c) == "workflow-form" {
		return s.renderHTML(c, http.StatusOK, views.WorkflowForm(pg, d))
	}
	return s.render(c, http.StatusUnprocessableEntity, pg, views.WorkflowMain(pg, d))
}

func (s *Server) workflowFormOK(c echo.Context, d views.WorkflowFormData, note string) error {
	pg := s.page(c, d.Name, "workflows")
	if note != "" {
		pg.Flash = &views.Flash{Kind: "ok", Text: note}
	}
	if hxTarget(c) == "workflow-form" {
		return s.renderHTML(c, http.StatusOK, views.WorkflowForm(pg, d), views.FlashOOB(pg.Flash))
	}
	return s.render(c, http.StatusOK, pg, views.WorkflowMain(pg, d))
}

// handleConsoleWorkflowRun is POST /geoetl/workflows/{id}/run: an ad hoc run with
// the parameter values typed.
func (s *Server) handleConsoleWorkflowRun(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := principal(c)
	w, err := s.svc.GetWorkflow(ctx, p, id)
	if err != nil {
		return err
	}
	d := s.workflowData(c, w)
	types := map[string]string{}
	for _, prm := range d.Params {
		types[prm.Name] = prm.Type
	}
	texts := map[string]string{}
	if form, err := c.FormParams(); err == nil {
		for k, vals := range form {
			if name, ok := strings.CutPrefix(k, "param."); ok && name != "" && len(vals) > 0 {
				texts[name] = vals[0]
			}
		}
	}
	d.ParamValues = texts
	fe := geoetl.FieldErrors{}
	values := typedParams(texts, types, fe)
	if len(fe) == 0 {
		e, err := s.svc.RunWorkflow(ctx, p, id, values)
		if err == nil {
			return s.navigate(c, urls.Execution(e.ID), &views.Flash{Kind: "ok", Text: "Run of " + w.Name + " requested."})
		}
		if geoetl.ErrorCode(err) != geoetl.EINVALID {
			return err
		}
		fe = geoetl.ErrorFields(err)
	}
	d.RunErrors = fe
	pg := s.page(c, w.Name, "workflows")
	if hxTarget(c) == "run-form" {
		return s.renderHTML(c, http.StatusOK, views.WorkflowRunForm(pg, d))
	}
	return s.render(c, http.StatusUnprocessableEntity, pg, views.WorkflowMain(pg, d))
}

// handleConsoleWorkflowDelete is POST /geoetl/workflows/{id}/delete; force puts
// the schedules that use it into error.
func (s *Server) handleConsoleWorkflowDelete(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	w, err := s.svc.GetWorkflow(ctx, principal(c), id)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteWorkflow(ctx, principal(c), id, c.FormValue("force") == "true"); err != nil {
		return err
	}
	return s.navigate(c, urls.Workflows(), &views.Flash{Kind: "ok", Text: "Deleted " + w.Name + "."})
}
