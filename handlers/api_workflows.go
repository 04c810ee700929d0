package handlers

import (
	"net/http"
	"reflect"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

func workflowAnswer(c echo.Context, status int, w *geoetl.Workflow) error {
	setVersionTag(c, w.Version)
	return writeJSON(c, status, w)
}

// readWorkflow reads a workflow body in either accepted shape.
func readWorkflow(c echo.Context) (service.WorkflowInput, error) {
	o, body, err := readObject(c, false)
	if err != nil {
		return service.WorkflowInput{}, err
	}
	return service.DecodeWorkflow(o, body)
}

// handleListWorkflows is GET /workflows.
func (s *Server) handleListWorkflows(c echo.Context) error {
	var f geoetl.WorkflowFilter
	fe := geoetl.FieldErrors{}
	var err error
	if f.Page, err = pageParams(c); err != nil {
		merge(fe, err)
	}
	if f.Q, err = query(c, "q", 200); err != nil {
		merge(fe, err)
	}
	if err := fe.Err(); err != nil {
		return err
	}
	items, total, next, err := s.svc.ListWorkflows(c.Request().Context(), principal(c), f)
	if err != nil {
		return err
	}
	return writeList(c, items, total, next)
}

// handleCreateWorkflow is POST /workflows.
func (s *Server) handleCreateWorkflow(c echo.Context) error {
	in, err := readWorkflow(c)
	if err != nil {
		return err
	}
	w, err := s.svc.CreateWorkflow(c.Request().Context(), principal(c), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/workflows/"+w.ID)
	return workflowAnswer(c, http.StatusCreated, w)
}

// handleGetWorkflow is GET /workflows/{id}.
func (s *Server) handleGetWorkflow(c echo.Context) error {
	w, err := s.svc.GetWorkflow(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return workflowAnswer(c, http.StatusOK, w)
}

// handleUpdateWorkflow is PUT /workflows/{id}.
func (s *Server) handleUpdateWorkflow(c echo.Context) error {
	in, err := readWorkflow(c)
	if err != nil {
		return err
	}
	if in.ExpectedVersion, err = expectedVersion(c, in.ExpectedVersion); err != nil {
		return err
	}
	w, err := s.svc.UpdateWorkflow(c.Request().Context(), principal(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return workflowAnswer(c, http.StatusOK, w)
}

// handleDeleteWorkflow is DELETE /workflows/{id}.
func (s *Server) handleDeleteWorkflow(c echo.Context) error {
	force, err := queryBool(c, "force", false)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteWorkflow(c.Request().Context(), principal(c), c.Param("id"), force); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleWorkflowVersions is GET /workflows/{id}/versions.
func (s *Server) handleWorkflowVersions(c echo.Context) error {
	vs, err := s.svc.WorkflowVersions(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []*geoetl.WorkflowVersion{}
	}
	return writeList(c, vs, len(vs), "")
}

// handleWorkflowParameters is GET /workflows/{id}/parameters.
func (s *Server) handleWorkflowParameters(c echo.Context) error {
	ps, err := s.svc.WorkflowParameters(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []geoetl.WorkflowParameter{}
	}
	return writeList(c, ps, len(ps), "")
}

// validationResult is the answer of a successful POST /workflows/validate.
type validationResult struct {
	Valid      bool                       `json:"valid"`
	Parameters []geoetl.WorkflowParameter `json:"parameters"`
}

// handleValidateWorkflow is POST /workflows/validate.
func (s *Server) handleValidateWorkflow(c echo.Context) error {
	in, err := readWorkflow(c)
	if err != nil {
		return err
	}
	params, err := s.svc.ValidateDefinition(c.Request().Context(), principal(c), in.Definition)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, validationResult{Valid: true, Parameters: params})
}

// handleWorkflowCatalog is GET /workflows/catalog.
func (s *Server) handleWorkflowCatalog(c echo.Context) error {
	if s.cfg.Catalog == nil {
		return geoetl.Errorf(geoetl.EUNAVAILABLE, "This instance has no workflow engine configured.")
	}
	// The engine's catalog is a list of node types; it is answered in the
	// list shape every other list has.
	if v := reflect.ValueOf(s.cfg.Catalog); v.Kind() == reflect.Slice {
		return writeList(c, s.cfg.Catalog, v.Len(), "")
	}
	return writeJSON(c, http.StatusOK, s.cfg.Catalog)
}

// handleRunWorkflow is POST /workflows/{id}/run.
func (s *Server) handleRunWorkflow(c echo.Context) error {
	o, _, err := readObject(c, true)
	if err != nil {
		return err
	}
	params := o.Map("parameterValues")
	if err := o.Err(); err != nil {
		return err
	}
	var values map[string]any
	if params != nil {
		values = *params
	}
	e, err := s.svc.RunWorkflow(c.Request().Context(), principal(c), c.Param("id"), values)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/executions/"+e.ID)
	return writeJSON(c, http.StatusAccepted, e)
}
