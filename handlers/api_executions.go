package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
)

// Log pages: how many lines one answer holds.
const (
	defaultLogLines = 1000
	maxLogLines     = 5000
)

// executionFilter reads the filters of execution lists. Enum and id checks
// are the service's; here only the shapes of the values.
func executionFilter(c echo.Context) (geoetl.ExecutionFilter, error) {
	var f geoetl.ExecutionFilter
	fe := geoetl.FieldErrors{}
	var err error
	if f.Page, err = pageParams(c); err != nil {
		merge(fe, err)
	}
	if f.Since, err = queryTime(c, "since"); err != nil {
		merge(fe, err)
	}
	if f.Until, err = queryTime(c, "until"); err != nil {
		merge(fe, err)
	}
	f.Status = geoetl.ExecutionStatus(c.QueryParam("status"))
	f.Trigger = geoetl.Trigger(c.QueryParam("trigger"))
	if f.Status != "" && !f.Status.Valid() {
		fe.Add("status", "must be one of pending, running, completed, failed, skipped, cancelled")
	}
	if f.Trigger != "" && !f.Trigger.Valid() {
		fe.Add("trigger", "must be one of schedule, manual, retry, catchup, backfill, dependency")
	}
	return f, fe.Err()
}

// handleListExecutions is GET /executions.
func (s *Server) handleListExecutions(c echo.Context) error {
	f, err := executionFilter(c)
	if err != nil {
		return err
	}
	f.ScheduleID = c.QueryParam("scheduleId")
	f.WorkflowID = c.QueryParam("workflowId")
	items, total, next, err := s.svc.ListExecutions(c.Request().Context(), principal(c), f)
	if err != nil {
		return err
	}
	return writeList(c, items, total, next)
}

// handleGetExecution is GET /executions/{id}.
func (s *Server) handleGetExecution(c echo.Context) error {
	e, err := s.svc.GetExecution(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, e)
}

// handleExecutionNodes is GET /executions/{id}/nodes.
func (s *Server) handleExecutionNodes(c echo.Context) error {
	nodes, err := s.svc.ExecutionNodes(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []*geoetl.NodeRun{}
	}
	return writeList(c, nodes, len(nodes), "")
}

// logPage is the answer of GET /executions/{id}/logs. A log grows while
// its run goes on, so it has no total; nextCursor is set when the page is
// full and more lines may follow.
type logPage struct {
	Items      []*geoetl.LogEntry `json:"items"`
	NextCursor *string            `json:"nextCursor"`
}

// handleExecutionLogs is GET /executions/{id}/logs.
func (s *Server) handleExecutionLogs(c echo.Context) error {
	fe := geoetl.FieldErrors{}
	limit, err := queryInt(c, "limit", defaultLogLines, 1, maxLogLines)
	merge(fe, err)
	after, err := queryInt(c, "afterSeq", 0, 0, 1<<53)
	merge(fe, err)
	if cur := c.QueryParam("cursor"); cur != "" {
		n, err := strconv.Atoi(cur)
		if err != nil || n < 0 {
			fe.Add("cursor", "is not a valid cursor for this list")
		}
		after = n
	}
	if err := fe.Err(); err != nil {
		return err
	}
	lines, err := s.svc.ExecutionLogs(c.Request().Context(), principal(c), c.Param("id"), int64(after), limit)
	if err != nil {
		return err
	}
	page := logPage{Items: lines}
	if page.Items == nil {
		page.Items = []*geoetl.LogEntry{}
	}
	if len(lines) == limit {
		next := strconv.FormatInt(lines[len(lines)-1].Seq, 10)
		page.NextCursor = &next
	}
	return writeJSON(c, http.StatusOK, page)
}

// handleExecutionNotifications is GET /executions/{id}/notifications.
func (s *Server) handleExecutionNotifications(c echo.Context) error {
	ds, err := s.svc.ExecutionDeliveries(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []*geoetl.Delivery{}
	}
	return writeList(c, ds, len(ds), "")
}

// handleCancelExecution is POST /executions/{id}/cancel.
func (s *Server) handleCancelExecution(c echo.Context) error {
	e, err := s.svc.CancelExecution(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/executions/"+e.ID)
	return writeJSON(c, http.StatusAccepted, e)
}
