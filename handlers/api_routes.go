package handlers

import (
	"net/http"

	"github.com/geoetl/geoetl"
)

// Query parameters shared by several routes.
var (
	listQuery = []queryParam{
		{Name: "limit", Schema: intSchema(1, geoetl.MaxPageLimit, geoetl.DefaultPageLimit), Doc: "Page size."},
		{Name: "cursor", Schema: strSchema(), Doc: "The nextCursor of the previous page (opaque)."},
		{Name: "offset", Schema: intSchema(0, 1_000_000_000, 0), Doc: "Items to skip when no cursor is given."},
	}
	scheduleStatusQuery = queryParam{Name: "status", Schema: enumSchema("active", "paused", "expired", "error"), Doc: "Only schedules with this status."}
	execStatusQuery     = queryParam{Name: "status", Schema: enumSchema("pending", "running", "completed", "failed", "skipped", "cancelled"), Doc: "Only executions with this status."}
	triggerQuery        = queryParam{Name: "trigger", Schema: enumSchema("schedule", "manual", "retry", "catchup", "backfill", "dependency"), Doc: "Only executions with this trigger."}
	daysQuery           = queryParam{Name: "days", Schema: intSchema(1, 3650, 30), Doc: "How many days back to aggregate."}
)

// sortDoc says which way each schedule order runs.
const sortDoc = "Order of the list: name (default, case-insensitive A-Z), nextRunAt (soonest first, schedules without a next run last) or updatedAt (most recently changed first)."

func withList(q ...queryParam) []queryParam { return append(q, listQuery...) }

// apiRoutes is the REST API: every route it serves, with what it needs and
// answers. Static path segments (export, workflow, catalog, validate) are
// matched before {id} by echo's router, so they are never taken for ids.
func apiRoutes() []apiRoute {
	const (
		V = geoetl.RoleViewer
		E = geoetl.RoleEditor
		A = geoetl.RoleAdmin
		P = APIPrefix
	)
	return []apiRoute{
		// Schedules.
		{Method: http.MethodGet, Path: P + "/schedules", Role: V, Handle: (*Server).handleListSchedules, Tag: "schedules",
			Summary: "List the tenant's schedules.",
			Query: withList(
				queryParam{Name: "q", Schema: strSchema(), Doc: "Case-insensitive search in name and description."},
				scheduleStatusQuery,
				queryParam{Name: "workflowId", Schema: uuidSchema(), Doc: "Only schedules of this workflow."},
				queryParam{Name: "tag", Schema: strSchema(), Doc: "Only schedules with this tag."},
				queryParam{Name: "sort", Schema: enumSchema("name", "nextRunAt", "updatedAt"), Doc: sortDoc}),
			Status: 200, Result: "ScheduleList"},
		{Method: http.MethodPost, Path: P + "/schedules", Role: E, Handle: (*Server).handleCreateSchedule, Tag: "schedules",
			Summary: "Create a schedule; name, workflowId and cronExpression are required.",
			Body:    "ScheduleInput", Status: 201, Result: "Schedule", Errors: []int{404, 409}, Location: true},
		{Method: http.MethodGet, Path: P + "/schedules/export", Role: V, Handle: (*Server).handleExportSchedules, Tag: "schedules",
			Summary: "Export all of the tenant's schedules (webhook URLs masked).",
			Status:  200, Result: "ScheduleExport"},
		{Method: http.MethodPost, Path: P + "/schedules/import", Role: E, Handle: (*Server).handleImportSchedules, Tag: "schedules",
			Summary: "Create or update schedules by name; each item is reported on its own.",
			Body:    "ScheduleImport", Status: 200, Result: "ImportReport"},
		{Method: http.MethodGet, Path: P + "/schedules/workflow/{workflowId}", Role: V, Handle: (*Server).handleSchedulesOfWorkflow, Tag: "schedules",
			Summary: "List the tenant's schedules of one workflow.",
			Query:   withList(scheduleStatusQuery, queryParam{Name: "sort", Schema: enumSchema("name", "nextRunAt", "updatedAt"), Doc: sortDoc}),
			Status:  200, Result: "ScheduleList"},
		{Method: http.MethodGet, Path: P + "/schedules/{id}", Role: V, Handle: (*Server).handleGetSchedule, Tag: "schedules",
			Summary: "One schedule.", Status: 200, Result: "Schedule"},
		{Method: http.MethodPut, Path: P + "/schedules/{id}", Role: E, Handle: (*Server).handleUpdateSchedule, Tag: "schedules",
			Summary: "Update a schedule; fields left out keep their value. version or If-Match guards against lost updates.",
			Body:    "ScheduleInput", Status: 200, Result: "Schedule", Errors: []int{409}},
		{Method: http.MethodDelete, Path: P + "/schedules/{id}", Role: E, Handle: (*Server).handleDeleteSchedule, Tag: "schedules",
			Summary: "Delete a schedule; its history stays readable through the audit log.", Status: 204},
		{Method: http.MethodPost, Path: P + "/schedules/{id}/pause", Role: E, Handle: (*Server).handlePauseSchedule, Tag: "schedules",
			Summary: "Pause a schedule, with an optional reason.",
			Body:    "PauseRequest", BodyOptional: true, Status: 200, Result: "Schedule"},
		{Method: http.MethodPost, Path: P + "/schedules/{id}/resume", Role: E, Handle: (*Server).handleResumeSchedule, Tag: "schedules",
			Summary: "Resume a schedule; its next run is computed from now.", Status: 200, Result: "Schedule", Errors: []int{409}},
		{Method: http.MethodPost, Path: P + "/schedules/{id}/run-now", Role: E, Handle: (*Server).handleRunNow, Tag: "schedules",
			Summary: "Start a manual run with optional parameter overrides; force ignores the overlap policy.",
			Body:    "RunNowRequest", BodyOptional: true, Status: 202, Result: "Execution", Errors: []int{409}, Location: true},
		{Method: http.MethodGet, Path: P + "/schedules/{id}/history", Role: V, Handle: (*Server).handleScheduleHistory, Tag: "schedules",
			Summary: "The schedule's executions, newest first.",
			Query:   withList(execStatusQuery, triggerQuery), Status: 200, Result: "ExecutionList"},
		{Method: http.MethodGet, Path: P + "/schedules/{id}/next-runs", Role: V, Handle: (*Server).handleNextRuns, Tag: "schedules",
			Summary: "The next occurrences of the schedule.",
			Query: []queryParam{
				{Name: "count", Schema: intSchema(1, 100, 5), Doc: "How many occurrences."},
				{Name: "from", Schema: timeSchema(), Doc: "Start after this time (default now)."}},
			Status: 200, Result: "NextRuns"},
		{Method: http.MethodGet, Path: P + "/schedules/{id}/stats", Role: V, Handle: (*Server).handleScheduleStats, Tag: "schedules",
			Summary: "Runs by status, success rate, average and p95 duration, last and next run.",
			Query:   []queryParam{daysQuery}, Status: 200, Result: "ScheduleStats"},
		{Method: http.MethodGet, Path: P + "/schedules/{id}/versions", Role: V, Handle: (*Server).handleScheduleVersions, Tag: "schedules",
			Summary: "Earlier versions of the definition, newest first, with who changed which fields.",
			Status:  200, Result: "ScheduleVersionList"},
		{Method: http.MethodPost, Path: P + "/schedules/{id}/versions/{version}/restore", Role: E, Handle: (*Server).handleRestoreScheduleVersion, Tag: "schedules",
			Summary: "Make an earlier version's definition current again, as a new version.",
			Status:  200, Result: "Schedule", Errors: []int{409}},
		{Method: http.MethodPost, Path: P + "/schedules/{id}/backfill", Role: E, Handle: (*Server).handleBackfill, Tag: "schedules",
			Summary: "One run per occurrence in [from, to], oldest first.",
			Body:    "BackfillRequest", Status: 202, Result: "ExecutionList", Errors: []int{409}},

		// Executions.
		{Method: http.MethodGet, Path: P + "/executions", Role: V, Handle: (*Server).handleListExecutions, Tag: "executions",
			Summary: "The tenant's executions, newest first.",
			Query: withList(
				queryParam{Name: "scheduleId", Schema: uuidSchema(), Doc: "Only runs of this schedule."},
				queryParam{Name: "workflowId", Schema: uuidSchema(), Doc: "Only runs of this workflow."},
				execStatusQuery, triggerQuery,
				queryParam{Name: "since", Schema: timeSchema(), Doc: "Occurrences at or after this time."},
				queryParam{Name: "until", Schema: timeSchema(), Doc: "Occurrences before this time."}),
			Status: 200, Result: "ExecutionList"},
		{Method: http.MethodGet, Path: P + "/executions/{id}", Role: V, Handle: (*Server).handleGetExecution, Tag: "executions",
			Summary: "One execution.", Status: 200, Result: "Execution"},
		{Method: http.MethodGet, Path: P + "/executions/{id}/nodes", Role: V, Handle: (*Server).handleExecutionNodes, Tag: "executions",
			Summary: "Per-node status, timings and feature counts.", Status: 200, Result: "NodeRunList"},
		{Method: http.MethodGet, Path: P + "/executions/{id}/logs", Role: V, Handle: (*Server).handleExecutionLogs, Tag: "executions",
			Summary: "Log lines in order; follow nextCursor (or pass afterSeq) for more.",
			Query: []queryParam{
				{Name: "afterSeq", Schema: intSchema(0, 1<<53, 0), Doc: "Only lines after this sequence number."},
				{Name: "cursor", Schema: strSchema(), Doc: "The nextCursor of the previous answer."},
				{Name: "limit", Schema: intSchema(1, maxLogLines, defaultLogLines), Doc: "At most this many lines."}},
			Status: 200, Result: "LogPage"},
		{Method: http.MethodGet, Path: P + "/executions/{id}/notifications", Role: V, Handle: (*Server).handleExecutionNotifications, Tag: "executions",
			Summary: "Notification deliveries of the execution, targets masked.", Status: 200, Result: "DeliveryList"},
		{Method: http.MethodPost, Path: P + "/executions/{id}/cancel", Role: E, Handle: (*Server).handleCancelExecution, Tag: "executions",
			Summary: "Cancel a pending execution or stop a running one; a finished one is 409.",
			Status:  202, Result: "Execution", Errors: []int{409}, Location: true},

		// Cron preview.
		{Method: http.MethodPost, Path: P + "/cron/preview", Role: V, Handle: (*Server).handleCronPreview, Tag: "cron",
			Summary: "Check a cron expression and list its next occurrences.",
			Body:    "CronPreviewRequest", Status: 200, Result: "CronPreview"},

		// Workflows.
		{Method: http.MethodGet, Path: P + "/workflows", Role: V, Handle: (*Server).handleListWorkflows, Tag: "workflows",
			Summary: "List the tenant's workflows.",
			Query:   withList(queryParam{Name: "q", Schema: strSchema(), Doc: "Case-insensitive search in name and description."}),
			Status:  200, Result: "WorkflowList"},
		{Method: http.MethodPost, Path: P + "/workflows", Role: E, Handle: (*Server).handleCreateWorkflow, Tag: "workflows",
			Summary: "Create a workflow from {name, description, definition} or a bare Honua definition.",
			Body:    "WorkflowInput", Status: 201, Result: "Workflow", Errors: []int{409}, Location: true},
		{Method: http.MethodGet, Path: P + "/workflows/catalog", Role: V, Handle: (*Server).handleWorkflowCatalog, Tag: "workflows",
			Summary: "The node types a definition may use, with their parameters.", Status: 200, Result: "Catalog", Errors: []int{503}},
		{Method: http.MethodPost, Path: P + "/workflows/validate", Role: V, Handle: (*Server).handleValidateWorkflow, Tag: "workflows",
			Summary: "Validate a definition for the caller's tenant without storing it; 400 names each bad node and parameter, such as a file path outside the tenant's data folder, a connection not granted to the tenant (connection \"X\" is not granted to this tenant) or an expression over its budget.",
			Body:    "WorkflowInput", Status: 200, Result: "ValidationResult"},
		{Method: http.MethodGet, Path: P + "/workflows/{id}", Role: V, Handle: (*Server).handleGetWorkflow, Tag: "workflows",
			Summary: "One workflow.", Status: 200, Result: "Workflow"},
		{Method: http.MethodPut, Path: P + "/workflows/{id}", Role: E, Handle: (*Server).handleUpdateWorkflow, Tag: "workflows",
			Summary: "Update a workflow; version or If-Match guards against lost updates.",
			Body:    "WorkflowInput", Status: 200, Result: "Workflow", Errors: []int{409}},
		{Method: http.MethodDelete, Path: P + "/workflows/{id}", Role: E, Handle: (*Server).handleDeleteWorkflow, Tag: "workflows",
			Summary: "Delete a workflow; 409 while schedules use it unless force=true, which puts them into error.",
			Query:   []queryParam{{Name: "force", Schema: map[string]any{"type": "boolean", "default": false}, Doc: "Delete even if schedules use it."}},
			Status:  204, Errors: []int{409}},
		{Method: http.MethodGet, Path: P + "/workflows/{id}/versions", Role: V, Handle: (*Server).handleWorkflowVersions, Tag: "workflows",
			Summary: "Kept versions of the workflow.", Status: 200, Result: "WorkflowVersionList"},
		{Method: http.MethodGet, Path: P + "/workflows/{id}/parameters", Role: V, Handle: (*Server).handleWorkflowParameters, Tag: "workflows",
			Summary: "The parameters the workflow declares.", Status: 200, Result: "WorkflowParameterList"},
		{Method: http.MethodPost, Path: P + "/workflows/{id}/run", Role: E, Handle: (*Server).handleRunWorkflow, Tag: "workflows",
			Summary: "Start an ad hoc run of the workflow, outside any schedule.",
			Body:    "WorkflowRunRequest", BodyOptional: true, Status: 202, Result: "Execution", Location: true},

		// Tenant-wide reading.
		{Method: http.MethodGet, Path: P + "/stats", Role: V, Handle: (*Server).handleTenantStats, Tag: "tenant",
			Summary: "Tenant-wide schedule counts, success rates and durations.",
			Query:   []queryParam{daysQuery}, Status: 200, Result: "TenantStats"},
		{Method: http.MethodGet, Path: P + "/audit", Role: V, Handle: (*Server).handleListAudit, Tag: "tenant",
			Summary: "The audit log, newest first: who changed what, with the object before and after.",
			Query: withList(
				queryParam{Name: "objectType", Schema: strSchema(), Doc: "schedule, workflow, execution, user, token or tenant."},
				queryParam{Name: "objectId", Schema: uuidSchema(), Doc: "Only entries about this object."},
				queryParam{Name: "action", Schema: strSchema(), Doc: "Only this action, e.g. schedule.pause."}),
			Status: 200, Result: "AuditList"},
		{Method: http.MethodGet, Path: P + "/tenant/limits", Role: V, Handle: (*Server).handleTenantLimits, Tag: "tenant",
			Summary: "The per-tenant limits in force (concurrent runs, schedules, shortest interval) and the tenant's use of each. Going over one answers 403 with the limit's name at the start of detail.",
			Status:  200, Result: "TenantLimits"},
		{Method: http.MethodGet, Path: P + "/me", Role: V, Handle: (*Server).handleMe, Tag: "tenant",
			Summary: "Who the credentials belong to: tenant, actor and role.", Status: 200, Result: "Me"},
		{Method: http.MethodPut, Path: P + "/me/password", Role: V, Handle: (*Server).handleChangeOwnPassword, Tag: "tenant",
			Summary: "Change your own password, giving the current one; your other sessions end (signed-in users only, not tokens).",
			Body:    "PasswordChange", Status: 204, Errors: []int{429}},

		// Administration (admin role).
		{Method: http.MethodGet, Path: P + "/users", Role: A, Handle: (*Server).handleListUsers, Tag: "admin",
			Summary: "The tenant's users.", Status: 200, Result: "UserList"},
		{Method: http.MethodPost, Path: P + "/users", Role: A, Handle: (*Server).handleCreateUser, Tag: "admin",
			Summary: "Add a user to the tenant.", Body: "UserInput", Status: 201, Result: "User", Errors: []int{409}, Location: true},
		{Method: http.MethodGet, Path: P + "/users/{id}", Role: A, Handle: (*Server).handleGetUser, Tag: "admin",
			Summary: "One user.", Status: 200, Result: "User"},
		{Method: http.MethodPut, Path: P + "/users/{id}", Role: A, Handle: (*Server).handleUpdateUser, Tag: "admin",
			Summary: "Change a user's email, role, password or disabled flag (not your own role or flag; your own password needs currentPassword). A new password or disabling ends the user's other sessions.",
			Body:    "UserUpdate", Status: 200, Result: "User", Errors: []int{409}},
		{Method: http.MethodDelete, Path: P + "/users/{id}", Role: A, Handle: (*Server).handleDeleteUser, Tag: "admin",
			Summary: "Remove a user (not yourself).", Status: 204, Errors: []int{409}},
		{Method: http.MethodGet, Path: P + "/tokens", Role: A, Handle: (*Server).handleListTokens, Tag: "admin",
			Summary: "The tenant's API tokens (never their secrets).", Status: 200, Result: "TokenList"},
		{Method: http.MethodPost, Path: P + "/tokens", Role: A, Handle: (*Server).handleCreateToken, Tag: "admin",
			Summary: "Create an API token; the answer holds its secret, shown only this once.",
			Body:    "TokenInput", Status: 201, Result: "NewToken"},
		{Method: http.MethodDelete, Path: P + "/tokens/{id}", Role: A, Handle: (*Server).handleRevokeToken, Tag: "admin",
			Summary: "Revoke a token at once.", Status: 204},
		{Method: http.MethodGet, Path: P + "/settings/webhook-secret", Role: A, Handle: (*Server).handleGetWebhookSecret, Tag: "admin",
			Summary: "The tenant's webhook signing secret (created on first use).", Status: 200, Result: "WebhookSecret"},
		{Method: http.MethodPost, Path: P + "/settings/webhook-secret/rotate", Role: A, Handle: (*Server).handleRotateWebhookSecret, Tag: "admin",
			Summary: "Replace the webhook secret; the previous one keeps signing alongside for a day.",
			Status:  200, Result: "WebhookSecret"},

		// Operations.
		{Method: http.MethodGet, Path: "/healthz", External: true, Tag: "operations",
			Summary: "The process is up.", Status: 200, Result: "Health"},
		{Method: http.MethodGet, Path: "/readyz", External: true, Tag: "operations",
			Summary: "The database answers and its migrations are current; 503 otherwise.", Status: 200, Result: "Health", Errors: []int{503}},
		{Method: http.MethodGet, Path: "/metrics", External: true, Tag: "operations",
			Summary: "Prometheus metrics; every name starts with geoetl_.", Status: 200, Result: "Metrics", ResultType: "text/plain"},
		{Method: http.MethodGet, Path: "/openapi.json", External: true, Tag: "operations",
			Summary: "This document.", Status: 200, Result: "OpenAPI"},
	}
}
