package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
)

// upcomingHours is how far ahead the dashboard lists upcoming runs.
const upcomingHours = 6

// handleConsoleDashboard is GET /: counts by status, the last 24 hours of runs,
// what is due next, and recent failures.
func (s *Server) handleConsoleDashboard(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	pg := s.page(c, "Dashboard", "dashboard")
	st, err := s.svc.TenantStats(ctx, p, 1)
	if err != nil {
		return err
	}
	d := views.DashboardData{
		ScheduleCounts: st.Schedules, SchedulesTotal: st.SchedulesTotal, Workflows: st.Workflows,
		Runs24h: st.ExecutionStats, UpcomingHours: upcomingHours,
		Chart: views.NewChart(st.RunsByHour, pg.Now, 24, "UTC"),
	}
	soon, _, _, err := s.svc.ListSchedules(ctx, p, geoetl.ScheduleFilter{Status: geoetl.StatusActive, Sort: geoetl.SortByNextRunAt, Page: geoetl.Page{Limit: 10}})
	if err != nil {
		return err
	}
	horizon := pg.Now.Add(upcomingHours * time.Hour)
	for _, sc := range soon {
		if sc.NextRunAt != nil && sc.NextRunAt.Before(horizon) {
			d.Upcoming = append(d.Upcoming, sc)
		}
	}
	failed, _, _, err := s.svc.ListExecutions(ctx, p, geoetl.ExecutionFilter{Status: geoetl.ExecFailed, Page: geoetl.Page{Limit: 8}})
	if err != nil {
		return err
	}
	d.Failures = s.execRows(c, failed)
	return s.render(c, http.StatusOK, pg, views.DashboardMain(pg, d))
}

// execRows adds schedule and workflow names (and the schedule's zone) to
// executions, looking each up once.
func (s *Server) execRows(c echo.Context, execs []*geoetl.Execution) []views.ExecRow {
	ctx := c.Request().Context()
	p := principal(c)
	scheds := map[string]*geoetl.Schedule{}
	wfs := map[string]string{}
	out := make([]views.ExecRow, 0, len(execs))
	for _, e := range execs {
		r := views.ExecRow{E: e, Zone: "UTC"}
		if e.ScheduleID != nil {
			sc, ok := scheds[*e.ScheduleID]
			if !ok {
				sc, _ = s.svc.GetSchedule(ctx, p, *e.ScheduleID)
				scheds[*e.ScheduleID] = sc
			}
			if sc != nil {
				r.ScheduleName, r.Zone = sc.Name, sc.Timezone
			} else {
				r.ScheduleName = "(deleted schedule)"
			}
		}
		name, ok := wfs[e.WorkflowID]
		if !ok {
			if w, err := s.svc.GetWorkflow(ctx, p, e.WorkflowID); err == nil {
				name = w.Name
			} else {
				name = "(deleted workflow)"
			}
			wfs[e.WorkflowID] = name
		}
		r.WorkflowName = name
		out = append(out, r)
	}
	return out
}

// previewCount is how many next runs the editor's preview lists.
const previewCount = service.DefaultPreviewCount

// handleConsoleCronPreview is GET /geoetl/cron/preview: the editor's live
// description and next runs. Invalid input is answered 200 with the
// message inline, so htmx swaps it in like any preview.
func (s *Server) handleConsoleCronPreview(c echo.Context) error {
	d, err := s.cronPreview(c, c.QueryParam("cronExpression"), c.QueryParam("timezone"))
	if err != nil {
		return err
	}
	return s.renderHTML(c, http.StatusOK, views.CronPreview(d))
}

// cronPreview describes an expression in a zone and lists its next runs,
// as the service previews them. Bad input becomes the preview's message;
// any other error (such as a missing role) is returned.
func (s *Server) cronPreview(c echo.Context, expr, zone string) (views.CronPreviewData, error) {
	expr = strings.TrimSpace(expr)
	zone = strings.TrimSpace(zone)
	if zone == "" {
		zone = "UTC"
	}
	d := views.CronPreviewData{Expr: expr, Zone: zone}
	if expr == "" {
		return d, nil
	}
	pv, err := s.svc.PreviewCron(c.Request().Context(), principal(c), expr, zone, time.Time{}, previewCount)
	if geoetl.ErrorCode(err) == geoetl.EINVALID {
		fields := geoetl.ErrorFields(err)
		switch {
		case len(fields["cronExpression"]) > 0:
			d.Error = strings.Join(fields["cronExpression"], "; ")
		case len(fields["timezone"]) > 0:
			d.Error = "Time zone: " + strings.Join(fields["timezone"], "; ")
		default:
			d.Error = geoetl.ErrorMessage(err)
		}
		return d, nil
	}
	if err != nil {
		return d, err
	}
	d.Description = pv.Description
	d.Next = pv.Occurrences
	return d, nil
}
