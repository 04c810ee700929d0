package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/cron"
	"github.com/geoetl/geoetl/views"
	"github.com/geoetl/geoetl/views/urls"
)

// scheduleListLimit is the page size of the schedule list.
const scheduleListLimit = 25

// handleConsoleSchedulesPage is GET /geoetl/schedules: search, filters, sort and
// cursor paging. A filter change from the page asks for the results only.
func (s *Server) handleConsoleSchedulesPage(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	pg := s.page(c, "Schedules", "schedules")
	f := views.ScheduleFilter{
		Q: strings.TrimSpace(c.QueryParam("q")), Status: c.QueryParam("status"),
		WorkflowID: c.QueryParam("workflowId"), Sort: c.QueryParam("sort"),
	}
	d := views.ScheduleListData{Filter: f}
	items, total, next, err := s.svc.ListSchedules(ctx, p, geoetl.ScheduleFilter{
		Q: f.Q, Status: geoetl.ScheduleStatus(f.Status), WorkflowID: f.WorkflowID, Sort: geoetl.ScheduleSort(f.Sort),
		Page: geoetl.Page{Limit: scheduleListLimit, Cursor: c.QueryParam("cursor")},
	})
	if geoetl.ErrorCode(err) == geoetl.EINVALID {
		d.Errors = geoetl.ErrorFields(err) // a bad filter shows as a message; the page still works
	} else if err != nil {
		return err
	}
	d.Total, d.NextCursor = total, next
	d.Workflows = s.allWorkflows(c)
	names := map[string]string{}
	for _, w := range d.Workflows {
		names[w.ID] = w.Name
	}
	for _, sc := range items {
		d.Rows = append(d.Rows, scheduleRow(sc, names[sc.WorkflowID]))
	}
	d.StreamURL = s.streamURL(url.Values{})
	// A bad filter is a 400 like in the API, with the page still usable;
	// htmx swaps only 2xx answers, so it gets the message with a 200.
	status := http.StatusOK
	if d.Errors != nil && !isHTMX(c) {
		status = http.StatusBadRequest
	}
	if hxTarget(c) == "schedule-results" {
		return s.renderHTML(c, status, views.ScheduleResults(pg, d), views.FlashOOB(pg.Flash))
	}
	return s.render(c, status, pg, views.SchedulesMain(pg, d))
}

// allWorkflows returns the tenant's workflows for pickers and names (the
// first 500, the API's page limit; more would not fit a picker anyway).
func (s *Server) allWorkflows(c echo.Context) []*geoetl.Workflow {
	ws, _, _, err := s.svc.ListWorkflows(c.Request().Context(), principal(c), geoetl.WorkflowFilter{Page: geoetl.Page{Limit: geoetl.MaxPageLimit}})
	if err != nil {
		s.log.Warn("listing workflows for a page failed", "err", err)
		return nil
	}
	return ws
}

func scheduleRow(sc *geoetl.Schedule, workflowName string) views.ScheduleRow {
	if workflowName == "" {
		workflowName = "(workflow missing)"
	}
	return views.ScheduleRow{S: sc, WorkflowName: workflowName, CronText: cronText(sc.CronExpression)}
}

// cronText is the plain-English description of an expression, or the
// parse error for a stored one that no longer parses.
func cronText(expr string) string {
	e, err := cron.Parse(expr)
	if err != nil {
		return err.Error()
	}
	return e.Describe()
}

// rowFor renders one schedule's list row, for in-place actions.
func (s *Server) rowFor(c echo.Context, sc *geoetl.Schedule) views.ScheduleRow {
	name := ""
	if w, err := s.svc.GetWorkflow(c.Request().Context(), principal(c), sc.WorkflowID); err == nil {
		name = w.Name
	}
	return scheduleRow(sc, name)
}

// handleConsoleScheduleRow is GET /geoetl/schedules/{id}/row: one row of the
// list, used to cancel a delete confirmation in place.
func (s *Server) handleConsoleScheduleRow(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if !wantsFragment(c) {
		return c.Redirect(http.StatusSeeOther, urls.Schedules())
	}
	sc, err := s.svc.GetSchedule(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	pg := s.page(c, "", "schedules")
	return s.renderHTML(c, http.StatusOK, views.ScheduleRowView(pg, s.rowFor(c, sc)))
}

// afterScheduleAction answers a list or detail action: the row in place
// when the list asked, the detail page's main area when that asked, and a
// redirect for plain forms.
func (s *Server) afterScheduleAction(c echo.Context, sc *geoetl.Schedule, flash *views.Flash) error {
	pg := s.page(c, sc.Name, "schedules")
	pg.Flash = flash
	switch hxTarget(c) {
	case views.RowID(sc.ID):
		return s.renderHTML(c, http.StatusOK, views.ScheduleRowView(pg, s.rowFor(c, sc)), views.FlashOOB(flash))
	case "main":
		d, err := s.scheduleDetail(c, sc)
		if err != nil {
			return err
		}
		return s.render(c, http.StatusOK, pg, views.ScheduleDetailMain(pg, d))
	}
	return s.navigate(c, urls.Schedule(sc.ID), flash)
}

// handleConsoleSchedulePause is POST /geoetl/schedules/{id}/pause, with an
// optional reason.
func (s *Server) handleConsoleSchedulePause(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sc, err := s.svc.PauseSchedule(c.Request().Context(), principal(c), id, strings.TrimSpace(c.FormValue("reason")))
	if err != nil {
		return err
	}
	return s.afterScheduleAction(c, sc, &views.Flash{Kind: "ok", Text: "Paused " + sc.Name + "."})
}

// handleConsoleScheduleResume is POST /geoetl/schedules/{id}/resume.
func (s *Server) handleConsoleScheduleResume(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sc, err := s.svc.ResumeSchedule(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	return s.afterScheduleAction(c, sc, &views.Flash{Kind: "ok", Text: "Resumed " + sc.Name + "."})
}

// handleConsoleScheduleRunNow is POST /geoetl/schedules/{id}/run-now.
func (s *Server) handleConsoleScheduleRunNow(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	e, err := s.svc.RunNow(ctx, principal(c), id, nil, false)
	if err != nil {
		return err
	}
	sc, err := s.svc.GetSchedule(ctx, principal(c), id)
	if err != nil {
		return err
	}
	flash := &views.Flash{Kind: "ok", Text: "Run of " + sc.Name + " requested.", Link: urls.Execution(e.ID), LinkText: "Watch it"}
	if !isHTMX(c) {
		return s.navigate(c, urls.Execution(e.ID), flash)
	}
	return s.afterScheduleAction(c, sc, flash)
}

// handleConsoleScheduleDeleteConfirm is GET /geoetl/schedules/{id}/delete: the
// question in place of the row for htmx, or as a page.
func (s *Server) handleConsoleScheduleDeleteConfirm(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sc, err := s.svc.GetSchedule(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	pg := s.page(c, "Delete "+sc.Name, "schedules")
	if hxTarget(c) == views.RowID(sc.ID) {
		return s.renderHTML(c, http.StatusOK, views.DeleteConfirmRow(pg, sc))
	}
	return s.render(c, http.StatusOK, pg, views.DeleteConfirmMain(pg, sc))
}

// handleConsoleScheduleDelete is POST /geoetl/schedules/{id}/delete. In the list
// the row disappears; elsewhere the browser goes to the list.
func (s *Server) handleConsoleScheduleDelete(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sc, err := s.svc.GetSchedule(ctx, principal(c), id)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteSchedule(ctx, principal(c), id); err != nil {
		return err
	}
	flash := &views.Flash{Kind: "ok", Text: "Deleted " + sc.Name + "."}
	if hxTarget(c) == views.RowID(id) {
		return s.renderHTML(c, http.StatusOK, views.FlashOOB(flash))
	}
	return s.navigate(c, urls.Schedules(), flash)
}
