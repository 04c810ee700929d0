package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl/static"
)

// This file is the map of every URL the server answers, one table per
// surface; New calls each registerXRoutes in turn, after the global
// middleware (recovery, metrics, body limit, query check, security
// headers, authentication, rate limit, CSRF). The REST API's table lives in
// api_routes.go because it also produces /openapi.json. Links in the
// console are built by the views/urls package; TestURLs_ResolveToRoutes
// checks each of its builders against the routes registered here.

// registerOperationsRoutes adds what operators and tools read: probes,
// metrics, the API document and the console's static files. None needs
// credentials.
func (s *Server) registerOperationsRoutes() {
	e := s.Echo
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	if s.cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.cfg.Metrics))
	}
	e.GET("/openapi.json", s.handleOpenAPI)
	e.GET(static.Prefix+":hash/:name", s.handleStatic)
	e.HEAD(static.Prefix+":hash/:name", s.handleStatic)
}

// registerConsoleRoutes adds the HTML console: pages that also answer with
// their fragment for HTMX, and the form actions that post to them. Every
// page but sign-in and sign-out needs a signed-in user.
func (s *Server) registerConsoleRoutes() {
	s.registerLoginRoutes(s.Echo)
	g := s.Echo.Group("", s.requireAuth, checkFormTextExcept())
	s.registerDashboardRoutes(g)
	s.registerSchedulePageRoutes(g)
	s.registerExecutionPageRoutes(g)
	s.registerWorkflowPageRoutes(g)
	s.registerAuditPageRoutes(g)
	s.registerAccountPageRoutes(g)
	s.registerSettingsPageRoutes(g)
}

// registerLoginRoutes adds sign-in and sign-out, which need no session.
func (s *Server) registerLoginRoutes(e *echo.Echo) {
	// The destination after sign-in is checked by safeNext, which drops a
	// bad one rather than refusing the sign-in.
	e.GET("/login", s.handleConsoleLoginPage, checkFormTextExcept("next"))
	e.POST("/login", s.handleConsoleLogin, checkFormTextExcept("next"))
	e.GET("/logout", s.handleConsoleLogoutPage)
	e.POST("/logout", s.handleConsoleLogout)
}

// registerDashboardRoutes adds the dashboard and what its forms and live
// updates call.
func (s *Server) registerDashboardRoutes(g *echo.Group) {
	g.GET("/", s.handleConsoleDashboard)
	g.GET("/geoetl/cron/preview", s.handleConsoleCronPreview)
	g.GET("/geoetl/events", s.handleConsoleEvents)
}

// registerSchedulePageRoutes adds the schedule list, form, detail and the
// actions on one schedule.
func (s *Server) registerSchedulePageRoutes(g *echo.Group) {
	g.GET("/geoetl/schedules", s.handleConsoleSchedulesPage)
	g.GET("/geoetl/schedules/new", s.handleConsoleScheduleNew)
	g.POST("/geoetl/schedules/new", s.handleConsoleScheduleCreate)
	g.GET("/geoetl/schedules/params", s.handleConsoleScheduleParams)
	g.GET("/geoetl/schedules/:id", s.handleConsoleScheduleDetail)
	g.POST("/geoetl/schedules/:id", s.handleConsoleScheduleSave)
	g.GET("/geoetl/schedules/:id/edit", s.handleConsoleScheduleEdit)
	g.POST("/geoetl/schedules/:id/edit", s.handleConsoleScheduleSave)
	g.GET("/geoetl/schedules/:id/row", s.handleConsoleScheduleRow)
	g.GET("/geoetl/schedules/:id/history", s.handleConsoleScheduleHistory)
	g.GET("/geoetl/schedules/:id/delete", s.handleConsoleScheduleDeleteConfirm)
	g.POST("/geoetl/schedules/:id/delete", s.handleConsoleScheduleDelete)
	g.POST("/geoetl/schedules/:id/pause", s.handleConsoleSchedulePause)
	g.POST("/geoetl/schedules/:id/resume", s.handleConsoleScheduleResume)
	g.POST("/geoetl/schedules/:id/run-now", s.handleConsoleScheduleRunNow)
	g.POST("/geoetl/schedules/:id/versions/:version/restore", s.handleConsoleScheduleRestore)
}

// registerExecutionPageRoutes adds the run page and its cancel action.
func (s *Server) registerExecutionPageRoutes(g *echo.Group) {
	g.GET("/geoetl/executions/:id", s.handleConsoleExecutionPage)
	g.POST("/geoetl/executions/:id/cancel", s.handleConsoleExecutionCancel)
}

// registerWorkflowPageRoutes adds the workflow list, editor and actions.
func (s *Server) registerWorkflowPageRoutes(g *echo.Group) {
	g.GET("/geoetl/workflows", s.handleConsoleWorkflowsPage)
	g.GET("/geoetl/workflows/new", s.handleConsoleWorkflowNew)
	g.POST("/geoetl/workflows/new", s.handleConsoleWorkflowCreate)
	g.GET("/geoetl/workflows/:id", s.handleConsoleWorkflowPage)
	g.POST("/geoetl/workflows/:id", s.handleConsoleWorkflowSave)
	g.POST("/geoetl/workflows/:id/run", s.handleConsoleWorkflowRun)
	g.POST("/geoetl/workflows/:id/delete", s.handleConsoleWorkflowDelete)
}

// registerAuditPageRoutes adds the audit log.
func (s *Server) registerAuditPageRoutes(g *echo.Group) {
	g.GET("/geoetl/audit", s.handleConsoleAuditPage)
}

// registerAccountPageRoutes adds the signed-in user's own account.
func (s *Server) registerAccountPageRoutes(g *echo.Group) {
	g.GET("/geoetl/account", s.handleConsoleAccountPage)
	g.POST("/geoetl/account/password", s.handleConsoleAccountPassword)
}

// registerSettingsPageRoutes adds the tenant's settings: users, tokens and
// the webhook secret. The page and the service decide what each role may
// see and change.
func (s *Server) registerSettingsPageRoutes(g *echo.Group) {
	g.GET("/geoetl/settings", s.handleConsoleSettingsPage)
	g.POST("/geoetl/settings/users", s.handleConsoleUserCreate)
	g.POST("/geoetl/settings/users/:id/role", s.handleConsoleUserRole)
	g.POST("/geoetl/settings/users/:id/disabled", s.handleConsoleUserDisabled)
	g.POST("/geoetl/settings/tokens", s.handleConsoleTokenCreate)
	g.POST("/geoetl/settings/tokens/:id/revoke", s.handleConsoleTokenRevoke)
	g.POST("/geoetl/settings/webhook-secret/rotate", s.handleConsoleSecretRotate)
}
