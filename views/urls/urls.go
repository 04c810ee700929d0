// Package urls builds the paths of the console's pages and actions, so
// templates and handlers name a destination instead of spelling it. Ids
// are path-escaped. The routes themselves are registered in
// handlers/routes.go; a test there resolves every builder here against
// them, so a renamed route cannot leave a dead link behind.
package urls

import (
	"net/url"
	"strconv"
)

// WithQuery appends q to path, leaving path alone when q is empty.
func WithQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func seg(id string) string { return url.PathEscape(id) }

// Dashboard is the start page.
func Dashboard() string { return "/" }

// Login is the sign-in page and form.
func Login() string { return "/login" }

// Logout is the sign-out confirmation and form.
func Logout() string { return "/logout" }

// CronPreview is the live preview of a cron expression in the form.
func CronPreview() string { return "/geoetl/cron/preview" }

// Events is the stream of execution changes the console follows.
func Events() string { return "/geoetl/events" }

// Schedules is the schedule list.
func Schedules() string { return "/geoetl/schedules" }

// ScheduleNew is the form that creates a schedule.
func ScheduleNew() string { return "/geoetl/schedules/new" }

// ScheduleParams is the form fragment with a workflow's parameters.
func ScheduleParams() string { return "/geoetl/schedules/params" }

// Schedule is one schedule's page.
func Schedule(id string) string { return "/geoetl/schedules/" + seg(id) }

// ScheduleEdit is the form that changes a schedule.
func ScheduleEdit(id string) string { return Schedule(id) + "/edit" }

// ScheduleRow is a schedule's row of the list, for swapping back in.
func ScheduleRow(id string) string { return Schedule(id) + "/row" }

// ScheduleHistory is a schedule's run history.
func ScheduleHistory(id string) string { return Schedule(id) + "/history" }

// ScheduleDelete is the confirmation and the action that delete a schedule.
func ScheduleDelete(id string) string { return Schedule(id) + "/delete" }

// SchedulePause pauses a schedule.
func SchedulePause(id string) string { return Schedule(id) + "/pause" }

// ScheduleResume resumes a schedule.
func ScheduleResume(id string) string { return Schedule(id) + "/resume" }

// ScheduleRunNow starts a manual run of a schedule.
func ScheduleRunNow(id string) string { return Schedule(id) + "/run-now" }

// ScheduleRestore makes an earlier version of a schedule current again.
func ScheduleRestore(id string, version int) string {
	return Schedule(id) + "/versions/" + strconv.Itoa(version) + "/restore"
}

// Execution is one run's page.
func Execution(id string) string { return "/geoetl/executions/" + seg(id) }

// ExecutionCancel cancels or stops a run.
func ExecutionCancel(id string) string { return Execution(id) + "/cancel" }

// Workflows is the workflow list.
func Workflows() string { return "/geoetl/workflows" }

// WorkflowNew is the form that creates a workflow.
func WorkflowNew() string { return "/geoetl/workflows/new" }

// Workflow is one workflow's page and editor.
func Workflow(id string) string { return "/geoetl/workflows/" + seg(id) }

// WorkflowRun starts an ad hoc run of a workflow.
func WorkflowRun(id string) string { return Workflow(id) + "/run" }

// WorkflowDelete deletes a workflow.
func WorkflowDelete(id string) string { return Workflow(id) + "/delete" }

// Audit is the audit log.
func Audit() string { return "/geoetl/audit" }

// Account is the signed-in user's account page.
func Account() string { return "/geoetl/account" }

// AccountPassword changes the signed-in user's password.
func AccountPassword() string { return "/geoetl/account/password" }

// Settings is the tenant's settings page.
func Settings() string { return "/geoetl/settings" }

// Users adds a user to the tenant.
func Users() string { return "/geoetl/settings/users" }

// UserRole changes a user's role.
func UserRole(id string) string { return Users() + "/" + seg(id) + "/role" }

// UserDisabled disables or enables a user.
func UserDisabled(id string) string { return Users() + "/" + seg(id) + "/disabled" }

// Tokens creates an API token.
func Tokens() string { return "/geoetl/settings/tokens" }

// TokenRevoke revokes an API token.
func TokenRevoke(id string) string { return Tokens() + "/" + seg(id) + "/revoke" }

// WebhookSecretRotate replaces the tenant's webhook secret.
func WebhookSecretRotate() string { return "/geoetl/settings/webhook-secret/rotate" }
