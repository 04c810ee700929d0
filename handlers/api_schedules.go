package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// scheduleAnswer writes one schedule with masked webhook URLs and its
// version as ETag.
func scheduleAnswer(c echo.Context, status int, sc *geoetl.Schedule) error {
	setVersionTag(c, sc.Version)
	return writeJSON(c, status, service.MaskedSchedule(sc))
}

func scheduleList(c echo.Context, items []*geoetl.Schedule, total int, next string) error {
	out := make([]*geoetl.Schedule, len(items))
	for i, sc := range items {
		out[i] = service.MaskedSchedule(sc)
	}
	return writeList(c, out, total, next)
}

// scheduleFilter reads the list filters shared by the schedule lists.
func scheduleFilter(c echo.Context) (geoetl.ScheduleFilter, error) {
	var f geoetl.ScheduleFilter
	fe := geoetl.FieldErrors{}
	var err error
	if f.Page, err = pageParams(c); err != nil {
		merge(fe, err)
	}
	if f.Q, err = query(c, "q", 200); err != nil {
		merge(fe, err)
	}
	if f.Tag, err = query(c, "tag", geoetl.MaxTagLen); err != nil {
		merge(fe, err)
	}
	f.Status = geoetl.ScheduleStatus(c.QueryParam("status"))
	f.Sort = geoetl.ScheduleSort(c.QueryParam("sort"))
	f.WorkflowID = c.QueryParam("workflowId")
	return f, fe.Err()
}

func merge(fe geoetl.FieldErrors, err error) {
	for k, v := range geoetl.ErrorFields(err) {
		fe[k] = append(fe[k], v...)
	}
}

// handleListSchedules is GET /schedules.
func (s *Server) handleListSchedules(c echo.Context) error {
	f, err := scheduleFilter(c)
	if err != nil {
		return err
	}
	items, total, next, err := s.svc.ListSchedules(c.Request().Context(), principal(c), f)
	if err != nil {
		return err
	}
	return scheduleList(c, items, total, next)
}

// handleSchedulesOfWorkflow is GET /schedules/workflow/{workflowId}. A
// workflow of another tenant is 404, like a missing one.
func (s *Server) handleSchedulesOfWorkflow(c echo.Context) error {
	ctx, p := c.Request().Context(), principal(c)
	if _, err := s.svc.GetWorkflow(ctx, p, c.Param("workflowId")); err != nil {
		return err
	}
	f, err := scheduleFilter(c)
	if err != nil {
		return err
	}
	f.WorkflowID = c.Param("workflowId")
	items, total, next, err := s.svc.ListSchedules(ctx, p, f)
	if err != nil {
		return err
	}
	return scheduleList(c, items, total, next)
}

// handleCreateSchedule is POST /schedules.
func (s *Server) handleCreateSchedule(c echo.Context) error {
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	upd, _, err := service.DecodeSchedule(o)
	if err != nil {
		return err
	}
	sc, err := s.svc.CreateSchedule(c.Request().Context(), principal(c), upd)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/schedules/"+sc.ID)
	return scheduleAnswer(c, http.StatusCreated, sc)
}

// handleGetSchedule is GET /schedules/{id}.
func (s *Server) handleGetSchedule(c echo.Context) error {
	sc, err := s.svc.GetSchedule(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return scheduleAnswer(c, http.StatusOK, sc)
}

// handleUpdateSchedule is PUT /schedules/{id}.
func (s *Server) handleUpdateSchedule(c echo.Context) error {
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	upd, _, err := service.DecodeSchedule(o)
	if err != nil {
		return err
	}
	if upd.ExpectedVersion, err = expectedVersion(c, upd.ExpectedVersion); err != nil {
		return err
	}
	sc, err := s.svc.UpdateSchedule(c.Request().Context(), principal(c), c.Param("id"), upd)
	if err != nil {
		return err
	}
	return scheduleAnswer(c, http.StatusOK, sc)
}

// handleDeleteSchedule is DELETE /schedules/{id}.
func (s *Server) handleDeleteSchedule(c echo.Context) error {
	if err := s.svc.DeleteSchedule(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handlePauseSchedule is POST /schedules/{id}/pause.
func (s *Server) handlePauseSchedule(c echo.Context) error {
	o, _, err := readObject(c, true)
	if err != nil {
		return err
	}
	reason := ""
	if r := o.NullableString("reason"); r != nil && *r != nil {
		reason = **r
	}
	if err := o.Err(); err != nil {
		return err
	}
	sc, err := s.svc.PauseSchedule(c.Request().Context(), principal(c), c.Param("id"), reason)
	if err != nil {
		return err
	}
	return scheduleAnswer(c, http.StatusOK, sc)
}

// handleResumeSchedule is POST /schedules/{id}/resume.
func (s *Server) handleResumeSchedule(c echo.Context) error {
	sc, err := s.svc.ResumeSchedule(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return scheduleAnswer(c, http.StatusOK, sc)
}

// handleRunNow is POST /schedules/{id}/run-now.
func (s *Server) handleRunNow(c echo.Context) error {
	o, _, err := readObject(c, true)
	if err != nil {
		return err
	}
	params := o.Map("parameterValues")
	force := o.Bool("force")
	if err := o.Err(); err != nil {
		return err
	}
	var overrides map[string]any
	if params != nil {
		overrides = *params
	}
	e, err := s.svc.RunNow(c.Request().Context(), principal(c), c.Param("id"), overrides, force != nil && *force)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/executions/"+e.ID)
	return writeJSON(c, http.StatusAccepted, e)
}

// handleScheduleHistory is GET /schedules/{id}/history.
func (s *Server) handleScheduleHistory(c echo.Context) error {
	f, err := executionFilter(c)
	if err != nil {
		return err
	}
	items, total, next, err := s.svc.ScheduleHistory(c.Request().Context(), principal(c), c.Param("id"), f)
	if err != nil {
		return err
	}
	return writeList(c, items, total, next)
}

// nextRunsAnswer is the answer of GET /schedules/{id}/next-runs.
type nextRunsAnswer struct {
	ScheduleID string      `json:"scheduleId"`
	NextRuns   []time.Time `json:"nextRuns"`
}

// handleNextRuns is GET /schedules/{id}/next-runs.
func (s *Server) handleNextRuns(c echo.Context) error {
	fe := geoetl.FieldErrors{}
	count, err := queryInt(c, "count", 5, 1, 100)
	merge(fe, err)
	from, err := queryTime(c, "from")
	merge(fe, err)
	if err := fe.Err(); err != nil {
		return err
	}
	var start time.Time
	if from != nil {
		start = *from
	}
	id := c.Param("id")
	runs, err := s.svc.NextRuns(c.Request().Context(), principal(c), id, count, start)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, nextRunsAnswer{ScheduleID: id, NextRuns: runs})
}

// handleScheduleStats is GET /schedules/{id}/stats.
func (s *Server) handleScheduleStats(c echo.Context) error {
	days, err := queryInt(c, "days", 30, 1, 3650)
	if err != nil {
		return err
	}
	st, err := s.svc.ScheduleStats(c.Request().Context(), principal(c), c.Param("id"), days)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, st)
}

// handleScheduleVersions is GET /schedules/{id}/versions.
func (s *Server) handleScheduleVersions(c echo.Context) error {
	vs, err := s.svc.ScheduleVersions(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return writeList(c, vs, len(vs), "")
}

// handleRestoreScheduleVersion is POST /schedules/{id}/versions/{version}/restore.
func (s *Server) handleRestoreScheduleVersion(c echo.Context) error {
	v, err := strconv.Atoi(c.Param("version"))
	if err != nil || v < 1 {
		return geoetl.NotFound("Version")
	}
	sc, err := s.svc.RestoreScheduleVersion(c.Request().Context(), principal(c), c.Param("id"), v)
	if err != nil {
		return err
	}
	return scheduleAnswer(c, http.StatusOK, sc)
}

// handleBackfill is POST /schedules/{id}/backfill.
func (s *Server) handleBackfill(c echo.Context) error {
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	from, to := o.Time("from"), o.Time("to")
	if err := o.Err(); err != nil {
		return err
	}
	var f, t time.Time
	if from != nil {
		f = *from
	}
	if to != nil {
		t = *to
	}
	execs, err := s.svc.Backfill(c.Request().Context(), principal(c), c.Param("id"), f, t)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusAccepted, listAnswer{Items: execs, Total: len(execs)})
}

// handleExportSchedules is GET /schedules/export.
func (s *Server) handleExportSchedules(c echo.Context) error {
	doc, err := s.svc.ExportSchedules(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, doc)
}

// importReport is the answer of POST /schedules/import.
type importReport struct {
	Created int                    `json:"created"`
	Updated int                    `json:"updated"`
	Failed  int                    `json:"failed"`
	Results []service.ImportResult `json:"results"`
}

// handleImportSchedules is POST /schedules/import.
func (s *Server) handleImportSchedules(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	results, err := s.svc.ImportSchedules(c.Request().Context(), principal(c), body)
	if err != nil {
		return err
	}
	rep := importReport{Results: results}
	for _, r := range results {
		switch r.Action {
		case "created":
			rep.Created++
		case "updated":
			rep.Updated++
		default:
			rep.Failed++
		}
	}
	return writeJSON(c, http.StatusOK, rep)
}
