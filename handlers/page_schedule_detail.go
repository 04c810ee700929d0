package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
	"github.com/geoetl/geoetl/views/urls"
)

// Sizes of the lists on the schedule pages.
const (
	detailRecentRuns = 10
	historyPageSize  = 25
	detailNextRuns   = 5
)

// handleConsoleScheduleDetail is GET /geoetl/schedules/{id}.
func (s *Server) handleConsoleScheduleDetail(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sc, err := s.svc.GetSchedule(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	d, err := s.scheduleDetail(c, sc)
	if err != nil {
		return err
	}
	pg := s.page(c, sc.Name, "schedules")
	return s.render(c, http.StatusOK, pg, views.ScheduleDetailMain(pg, d))
}

// scheduleDetail gathers the schedule page's data.
func (s *Server) scheduleDetail(c echo.Context, sc *geoetl.Schedule) (views.ScheduleDetailData, error) {
	ctx := c.Request().Context()
	p := principal(c)
	d := views.ScheduleDetailData{S: sc, CronText: cronText(sc.CronExpression), WorkflowName: "(workflow missing)"}
	if w, err := s.svc.GetWorkflow(ctx, p, sc.WorkflowID); err == nil {
		d.WorkflowName = w.Name
	}
	if sc.Status == geoetl.StatusActive && sc.Enabled {
		next, err := s.svc.NextRuns(ctx, p, sc.ID, detailNextRuns, s.svc.Clock.Now())
		if err != nil && geoetl.ErrorCode(err) == geoetl.EINTERNAL {
			return d, err
		}
		d.NextRuns = next
	}
	st, err := s.svc.ScheduleStats(ctx, p, sc.ID, 30)
	if err != nil {
		return d, err
	}
	d.Stats = st.ExecutionStats
	recent, _, _, err := s.svc.ScheduleHistory(ctx, p, sc.ID, geoetl.ExecutionFilter{Page: geoetl.Page{Limit: detailRecentRuns}})
	if err != nil {
		return d, err
	}
	d.Recent = recent
	d.StreamURL = s.streamURL(url.Values{"scheduleId": {sc.ID}, "limit": {strconv.Itoa(detailRecentRuns)}})
	vs, err := s.svc.ScheduleVersions(ctx, p, sc.ID)
	if err != nil {
		return d, err
	}
	d.Versions = versionChanges(vs, sc.Version, sc.Timezone)
	return d, nil
}

// streamURL is the live-update stream for a view, or "" when this server
// has no event source (the page then shows a snapshot).
func (s *Server) streamURL(q url.Values) string {
	if s.cfg.Events == nil {
		return ""
	}
	return urls.Events() + "?" + q.Encode()
}

// definitionFields are the snapshot fields compared between versions;
// runtime state (next run, last run, counters) is not part of a version's
// definition.
var definitionFields = []string{
	"name", "description", "workflowId", "cronExpression", "timezone", "enabled", "status", "statusReason",
	"parameterValues", "tags", "maxConcurrentExecutions", "overlapPolicy", "misfirePolicy", "catchupWindowMinutes",
	"retryAttempts", "retryDelayMinutes", "retryBackoff", "maxRetryDelayMinutes", "timeoutMinutes", "expiresAt",
	"notificationConfig",
}

// versionChanges pairs each version with the one before it and lists the
// definition fields that differ, newest first.
func versionChanges(vs []*service.ScheduleVersionInfo, current int, zone string) []views.VersionChange {
	byVersion := map[int]map[string]json.RawMessage{}
	for _, v := range vs {
		var m map[string]json.RawMessage
		if json.Unmarshal(v.Snapshot, &m) == nil {
			byVersion[v.Version] = m
		}
	}
	out := make([]views.VersionChange, 0, len(vs))
	for _, v := range vs {
		vc := views.VersionChange{Version: v.Version, ChangedBy: v.ChangedBy, ChangedAt: views.AbsTime(v.ChangedAt, zone), Current: v.Version == current}
		now, prev := byVersion[v.Version], byVersion[v.Version-1]
		for _, f := range definitionFields {
			a, b := compactJSON(prev[f]), compactJSON(now[f])
			if prev == nil {
				a = ""
			}
			if a != b {
				vc.Changes = append(vc.Changes, views.FieldChange{Field: f, Before: a, After: b})
			}
		}
		out = append(out, vc)
	}
	return out
}

func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// handleConsoleScheduleRestore is POST /geoetl/schedules/{id}/versions/{version}/restore.
func (s *Server) handleConsoleScheduleRestore(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(c.Param("version"))
	if err != nil || v < 1 {
		return geoetl.NotFound("Version")
	}
	sc, err := s.svc.RestoreScheduleVersion(c.Request().Context(), principal(c), id, v)
	if err != nil {
		return err
	}
	return s.afterScheduleAction(c, sc, &views.Flash{Kind: "ok", Text: "Restored version " + strconv.Itoa(v) + " as version " + strconv.Itoa(sc.Version) + "."})
}

// handleConsoleScheduleHistory is GET /geoetl/schedules/{id}/history: executions
// newest first, filtered by status, cursor-paged; the first page follows
// new runs live.
func (s *Server) handleConsoleScheduleHistory(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := principal(c)
	sc, err := s.svc.GetSchedule(ctx, p, id)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	cursor := c.QueryParam("cursor")
	execs, total, next, err := s.svc.ScheduleHistory(ctx, p, id, geoetl.ExecutionFilter{
		Status: geoetl.ExecutionStatus(status), Page: geoetl.Page{Limit: historyPageSize, Cursor: cursor},
	})
	if err != nil {
		return err
	}
	d := views.HistoryData{S: sc, Status: status, Execs: execs, Total: total, NextCursor: next}
	if cursor == "" {
		q := url.Values{"scheduleId": {id}, "limit": {strconv.Itoa(historyPageSize)}}
		if status != "" {
			q.Set("status", status)
		}
		d.StreamURL = s.streamURL(q)
	}
	pg := s.page(c, "History of "+sc.Name, "schedules")
	return s.render(c, http.StatusOK, pg, views.HistoryMain(pg, d))
}

// handleConsoleExecutionPage is GET /geoetl/executions/{id}: one run with its
// nodes and log, live while it runs.
func (s *Server) handleConsoleExecutionPage(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := s.executionData(c, id)
	if err != nil {
		return err
	}
	if !d.E.Status.Finished() {
		d.StreamURL = s.streamURL(url.Values{"executionId": {id}})
	}
	section := "schedules"
	if d.E.ScheduleID == nil {
		section = "workflows" // an ad hoc run belongs with its workflow
	}
	pg := s.page(c, "Run of "+d.WorkflowName, section)
	return s.render(c, http.StatusOK, pg, views.ExecutionMain(pg, d))
}

// pageMaxLogLines bounds the log shown on the run page.
const pageMaxLogLines = 2000

// executionData gathers one run's page.
func (s *Server) executionData(c echo.Context, id string) (views.ExecutionData, error) {
	ctx := c.Request().Context()
	p := principal(c)
	e, err := s.svc.GetExecution(ctx, p, id)
	if err != nil {
		return views.ExecutionData{}, err
	}
	row := s.execRows(c, []*geoetl.Execution{e})[0]
	d := views.ExecutionData{E: e, ScheduleName: row.ScheduleName, WorkflowName: row.WorkflowName, Zone: row.Zone}
	if d.Nodes, err = s.svc.ExecutionNodes(ctx, p, id); err != nil {
		return d, err
	}
	if d.Logs, err = s.svc.ExecutionLogs(ctx, p, id, 0, pageMaxLogLines); err != nil {
		return d, err
	}
	if d.Deliveries, err = s.svc.ExecutionDeliveries(ctx, p, id); err != nil {
		return d, err
	}
	return d, nil
}

// handleConsoleExecutionCancel is POST /geoetl/executions/{id}/cancel.
func (s *Server) handleConsoleExecutionCancel(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.svc.CancelExecution(c.Request().Context(), principal(c), id); err != nil {
		return err
	}
	return s.navigate(c, urls.Execution(id), &views.Flash{Kind: "ok", Text: "Cancellation requested."})
}
