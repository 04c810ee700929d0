package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
	"github.com/geoetl/geoetl/views/urls"
)

// expiresLayout is the value format of <input type="datetime-local">.
const expiresLayout = "2006-01-02T15:04"

// handleConsoleScheduleNew is GET /geoetl/schedules/new: the empty editor, with
// the workflow preselected when ?workflowId= names one.
func (s *Server) handleConsoleScheduleNew(c echo.Context) error {
	if err := requireEditor(c); err != nil {
		return err
	}
	sc := geoetl.NewSchedule()
	sc.WorkflowID = c.QueryParam("workflowId")
	sc.NotificationConfig.NotifyOnFailure = true
	f := formFromSchedule(sc)
	f.CronExpression = ""
	d := s.formData(c, "", 0, f, nil)
	pg := s.page(c, "New schedule", "schedules")
	return s.render(c, http.StatusOK, pg, views.ScheduleFormMain(pg, d))
}

// handleConsoleScheduleEdit is GET /geoetl/schedules/{id}/edit.
func (s *Server) handleConsoleScheduleEdit(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := requireEditor(c); err != nil {
		return err
	}
	sc, err := s.svc.GetSchedule(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	d := s.formData(c, sc.ID, sc.Version, formFromSchedule(service.MaskedSchedule(sc)), nil)
	pg := s.page(c, "Edit "+sc.Name, "schedules")
	return s.render(c, http.StatusOK, pg, views.ScheduleFormMain(pg, d))
}

// handleConsoleScheduleCreate is POST /geoetl/schedules/new.
func (s *Server) handleConsoleScheduleCreate(c echo.Context) error {
	f := readScheduleForm(c)
	base := geoetl.NewSchedule()
	cand, fe := s.scheduleFromForm(c, f, base)
	if len(fe) > 0 {
		return s.formFailed(c, "", 0, f, fe, "")
	}
	sc, err := s.svc.CreateSchedule(c.Request().Context(), principal(c), fullUpdate(cand))
	if err != nil {
		return s.formError(c, "", 0, f, err)
	}
	return s.navigate(c, urls.Schedule(sc.ID), &views.Flash{Kind: "ok", Text: "Created " + sc.Name + "."})
}

// handleConsoleScheduleSave is POST /geoetl/schedules/{id} (and …/edit). The form
// is compared with the schedule as it was when the form was opened (its
// version), and only the fields the user changed are sent. So an edit
// never resets a field the user did not touch, even when someone else
// changed that field meanwhile; only when both changed the same field is
// the user asked to decide.
func (s *Server) handleConsoleScheduleSave(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	current, err := s.svc.GetSchedule(ctx, principal(c), id)
	if err != nil {
		return err
	}
	f := readScheduleForm(c)
	version, _ := strconv.Atoi(c.FormValue("version"))
	now := service.MaskedSchedule(current)
	opened := s.scheduleAtVersion(c, id, version)
	if opened == nil {
		opened, version = now, current.Version
	}
	cand, fe := s.scheduleFromForm(c, f, opened)
	if len(fe) > 0 {
		return s.formFailed(c, id, version, f, fe, "")
	}
	upd := geoetl.UpdateBetween(opened, cand)
	if both := bothChanged(opened.Diff(now), upd.Fields()); len(both) > 0 {
		msg := fmt.Sprintf("Someone else changed %s since you opened this form (now version %d). Your values are kept below; save again to apply them.", strings.Join(both, ", "), current.Version)
		return s.formFailed(c, id, current.Version, f, nil, msg)
	}
	upd.ExpectedVersion = &current.Version // nothing may slip in between this read and the write
	sc, err := s.svc.UpdateSchedule(ctx, principal(c), id, upd)
	if err != nil {
		return s.formError(c, id, version, f, err)
	}
	return s.navigate(c, urls.Schedule(sc.ID), &views.Flash{Kind: "ok", Text: "Saved " + sc.Name + " (version " + strconv.Itoa(sc.Version) + ")."})
}

// scheduleAtVersion returns the schedule's definition as it was at a kept
// version (webhook URLs masked, as the form showed them), or nil.
func (s *Server) scheduleAtVersion(c echo.Context, id string, version int) *geoetl.Schedule {
	if version < 1 {
		return nil
	}
	vs, err := s.svc.ScheduleVersions(c.Request().Context(), principal(c), id)
	if err != nil {
		return nil
	}
	for _, v := range vs {
		if v.Version == version {
			var sc geoetl.Schedule
			if json.Unmarshal(v.Snapshot, &sc) != nil {
				return nil
			}
			return &sc
		}
	}
	return nil
}

// bothChanged returns the field names in both a and b.
func bothChanged(a, b []string) []string {
	out := []string{}
	for _, name := range a {
		if slices.Contains(b, name) {
			out = append(out, name)
		}
	}
	return out
}

// handleConsoleScheduleParams is GET /geoetl/schedules/params: the parameter
// inputs for the workflow just picked, keeping values already typed.
func (s *Server) handleConsoleScheduleParams(c echo.Context) error {
	f := readScheduleForm(c)
	d := s.formData(c, "", 0, f, nil)
	return s.renderHTML(c, http.StatusOK, views.ParamFields(d))
}

// formError shows a service error on the form: field errors next to their
// fields, anything else above the form. Internal errors go to the error
// handler.
func (s *Server) formError(c echo.Context, id string, version int, f views.ScheduleForm, err error) error {
	switch geoetl.ErrorCode(err) {
	case geoetl.EINVALID:
		return s.formFailed(c, id, version, f, geoetl.ErrorFields(err), unshownFields(geoetl.ErrorFields(err)))
	case geoetl.ECONFLICT, geoetl.ENOTFOUND:
		fields := geoetl.ErrorFields(err)
		return s.formFailed(c, id, version, f, fields, geoetl.ErrorMessage(err))
	}
	if geoetl.IsOverLimit(err) {
		// A tenant quota: next to the field it is about, if any, and at
		// the top in any case, since it names the limit.
		return s.formFailed(c, id, version, f, geoetl.ErrorFields(err), geoetl.ErrorMessage(err))
	}
	return err
}

// formFields are the fields the editor shows errors next to.
var formFields = map[string]bool{
	"name": true, "description": true, "workflowId": true, "cronExpression": true, "timezone": true,
	"overlapPolicy": true, "misfirePolicy": true, "maxConcurrentExecutions": true, "catchupWindowMinutes": true,
	"retryAttempts": true, "retryDelayMinutes": true, "maxRetryDelayMinutes": true, "timeoutMinutes": true,
	"expiresAt": true, "tags": true, "notificationConfig": true,
}

// unshownFields words the errors of fields the editor has no place for,
// so no error goes unseen.
func unshownFields(fe map[string][]string) string {
	var parts []string
	for _, k := range views.SortedKeys(fe) {
		shown := formFields[k] || strings.HasPrefix(k, "parameterValues") || strings.HasPrefix(k, "notificationConfig.") || strings.HasPrefix(k, "tags[")
		if !shown {
			parts = append(parts, k+": "+strings.Join(fe[k], "; "))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Please correct: " + strings.Join(parts, ", ") + "."
}

// formFailed re-renders the editor with the user's input and the errors:
// 200 for htmx (which swaps only 2xx by default), 422 for plain forms.
func (s *Server) formFailed(c echo.Context, id string, version int, f views.ScheduleForm, fe map[string][]string, msg string) error {
	d := s.formData(c, id, version, f, fe)
	d.Message = msg
	title := "New schedule"
	if id != "" {
		title = "Edit " + f.Name
	}
	pg := s.page(c, title, "schedules")
	if hxTarget(c) == "schedule-form" {
		return s.renderHTML(c, http.StatusOK, views.ScheduleFormBody(pg, d))
	}
	return s.render(c, http.StatusUnprocessableEntity, pg, views.ScheduleFormMain(pg, d))
}

// formData gathers what the editor shows besides the form's values.
func (s *Server) formData(c echo.Context, id string, version int, f views.ScheduleForm, fe map[string][]string) views.ScheduleFormData {
	d := views.ScheduleFormData{ID: id, Version: version, Form: f, Errors: fe, Zones: views.Zones(), Workflows: s.allWorkflows(c)}
	preview, err := s.cronPreview(c, f.CronExpression, f.Timezone)
	if err != nil {
		preview.Error = geoetl.ErrorMessage(err)
	}
	d.Preview = preview
	if geoetl.IsUUID(f.WorkflowID) {
		params, err := s.svc.WorkflowParameters(c.Request().Context(), principal(c), f.WorkflowID)
		switch {
		case geoetl.IsNotFound(err):
			d.ParamsErr = "The chosen workflow does not exist (any more)."
		case err != nil:
			d.ParamsErr = "The workflow's parameters cannot be read: " + geoetl.ErrorMessage(err)
		default:
			d.Params = params
		}
	}
	return d
}

// formFromSchedule turns a schedule into the editor's text fields.
func formFromSchedule(sc *geoetl.Schedule) views.ScheduleForm {
	f := views.ScheduleForm{
		Name: sc.Name, Description: sc.Description, WorkflowID: sc.WorkflowID,
		CronExpression: sc.CronExpression, Timezone: sc.Timezone, Enabled: sc.Enabled,
		Params:        map[string]string{},
		OverlapPolicy: string(sc.OverlapPolicy), MisfirePolicy: string(sc.MisfirePolicy),
		MaxConcurrent: strconv.Itoa(sc.MaxConcurrentExecutions), CatchupWindow: strconv.Itoa(sc.CatchupWindowMinutes),
		RetryAttempts: strconv.Itoa(sc.RetryAttempts), RetryDelay: strconv.Itoa(sc.RetryDelayMinutes),
		MaxRetry: strconv.Itoa(sc.MaxRetryDelayMinutes), RetryBackoff: string(sc.RetryBackoff),
		Tags:          strings.Join(sc.Tags, ", "),
		NotifySuccess: sc.NotificationConfig.NotifyOnSuccess, NotifyFailure: sc.NotificationConfig.NotifyOnFailure,
		Emails:   strings.Join(sc.NotificationConfig.EmailAddresses, "\n"),
		Webhooks: strings.Join(sc.NotificationConfig.WebhookURLs, "\n"),
	}
	for k, v := range sc.ParameterValues {
		f.Params[k] = views.ParamText(v)
	}
	if sc.TimeoutMinutes != nil {
		f.Timeout = strconv.Itoa(*sc.TimeoutMinutes)
	}
	if sc.ExpiresAt != nil {
		loc, err := geoetl.LoadLocation(sc.Timezone)
		if err != nil {
			loc = time.UTC
		}
		f.ExpiresAt = sc.ExpiresAt.In(loc).Format(expiresLayout)
	}
	if sc.NotificationConfig.SlackWebhookURL != nil {
		f.Slack = *sc.NotificationConfig.SlackWebhookURL
	}
	if sc.NotificationConfig.TeamsWebhookURL != nil {
		f.Teams = *sc.NotificationConfig.TeamsWebhookURL
	}
	return f
}

// readScheduleForm reads the editor's fields as submitted.
func readScheduleForm(c echo.Context) views.ScheduleForm {
	v := func(name string) string { return c.FormValue(name) }
	f := views.ScheduleForm{
		Name: v("name"), Description: v("description"), WorkflowID: strings.TrimSpace(v("workflowId")),
		CronExpression: strings.TrimSpace(v("cronExpression")), Timezone: strings.TrimSpace(v("timezone")),
		Enabled: v("enabled") == "true", Params: map[string]string{},
		OverlapPolicy: v("overlapPolicy"), MisfirePolicy: v("misfirePolicy"),
		MaxConcurrent: v("maxConcurrentExecutions"), CatchupWindow: v("catchupWindowMinutes"),
		RetryAttempts: v("retryAttempts"), RetryDelay: v("retryDelayMinutes"), MaxRetry: v("maxRetryDelayMinutes"),
		RetryBackoff: v("retryBackoff"), Timeout: v("timeoutMinutes"), ExpiresAt: v("expiresAt"), Tags: v("tags"),
		NotifySuccess: v("notifyOnSuccess") == "true", NotifyFailure: v("notifyOnFailure") == "true",
		Emails: v("emailAddresses"), Webhooks: v("webhookUrls"), Slack: strings.TrimSpace(v("slackWebhookUrl")), Teams: strings.TrimSpace(v("teamsWebhookUrl")),
	}
	if form, err := c.FormParams(); err == nil {
		for k, vals := range form {
			if name, ok := strings.CutPrefix(k, "param."); ok && name != "" && len(vals) > 0 {
				f.Params[name] = vals[0]
			}
		}
	}
	return f
}

// scheduleFromForm applies the form's values to a copy of base, reporting
// values that are not even of the right kind (numbers, times) by their
// JSON field names. Range and reference checks are the service's.
func (s *Server) scheduleFromForm(c echo.Context, f views.ScheduleForm, base *geoetl.Schedule) (*geoetl.Schedule, map[string][]string) {
	fe := geoetl.FieldErrors{}
	sc := base.Clone()
	sc.Name, sc.Description, sc.WorkflowID = strings.TrimSpace(f.Name), f.Description, f.WorkflowID
	sc.CronExpression, sc.Timezone, sc.Enabled = f.CronExpression, f.Timezone, f.Enabled
	sc.OverlapPolicy = geoetl.OverlapPolicy(f.OverlapPolicy)
	sc.MisfirePolicy = geoetl.MisfirePolicy(f.MisfirePolicy)
	sc.RetryBackoff = geoetl.RetryBackoff(f.RetryBackoff)
	atoi := func(field, text string, dst *int) {
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			fe.Add(field, "must be a whole number")
			return
		}
		*dst = n
	}
	atoi("maxConcurrentExecutions", f.MaxConcurrent, &sc.MaxConcurrentExecutions)
	atoi("catchupWindowMinutes", f.CatchupWindow, &sc.CatchupWindowMinutes)
	atoi("retryAttempts", f.RetryAttempts, &sc.RetryAttempts)
	atoi("retryDelayMinutes", f.RetryDelay, &sc.RetryDelayMinutes)
	atoi("maxRetryDelayMinutes", f.MaxRetry, &sc.MaxRetryDelayMinutes)
	sc.TimeoutMinutes = nil
	if t := strings.TrimSpace(f.Timeout); t != "" {
		var n int
		atoi("timeoutMinutes", t, &n)
		sc.TimeoutMinutes = &n
	}
	sc.ExpiresAt = nil
	if t := strings.TrimSpace(f.ExpiresAt); t != "" {
		loc, err := geoetl.LoadLocation(f.Timezone)
		if err != nil {
			loc = time.UTC
		}
		at, err := time.ParseInLocation(expiresLayout, t, loc)
		if err != nil {
			fe.Add("expiresAt", "must be a date and time (YYYY-MM-DDTHH:MM)")
		} else {
			at = at.UTC()
			sc.ExpiresAt = &at
		}
	}
	sc.Tags = splitList(f.Tags, ",")
	sc.NotificationConfig = geoetl.NotificationConfig{
		NotifyOnSuccess: f.NotifySuccess, NotifyOnFailure: f.NotifyFailure,
		EmailAddresses: splitList(f.Emails, "\n"), WebhookURLs: splitList(f.Webhooks, "\n"),
	}
	if f.Slack != "" {
		sc.NotificationConfig.SlackWebhookURL = &f.Slack
	}
	if f.Teams != "" {
		sc.NotificationConfig.TeamsWebhookURL = &f.Teams
	}
	sc.ParameterValues = s.paramsFromForm(c, f, fe)
	return sc, fe
}

// paramsFromForm types the parameter inputs by what the workflow declares;
// an empty input means "use the workflow's default". Values the workflow
// does not declare are read as JSON when they parse, else as text.
func (s *Server) paramsFromForm(c echo.Context, f views.ScheduleForm, fe geoetl.FieldErrors) map[string]any {
	types := map[string]string{}
	if geoetl.IsUUID(f.WorkflowID) {
		if declared, err := s.svc.WorkflowParameters(c.Request().Context(), principal(c), f.WorkflowID); err == nil {
			for _, p := range declared {
				types[p.Name] = p.Type
			}
		}
	}
	return typedParams(f.Params, types, fe)
}

// typedParams converts parameter inputs to JSON values of their declared
// types, adding an error per field that does not convert.
func typedParams(texts map[string]string, types map[string]string, fe geoetl.FieldErrors) map[string]any {
	out := map[string]any{}
	for name, text := range texts {
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		field := "parameterValues." + name
		typ, declared := types[name]
		if strings.HasPrefix(text, "{{") {
			out[name] = text // a template, resolved at run time
			continue
		}
		switch {
		case !declared:
			if v, ok := formJSONValue(text, field, fe); ok {
				out[name] = v
			} else {
				out[name] = text
			}
		case typ == "number":
			n, err := strconv.ParseFloat(text, 64)
			if err != nil {
				fe.Add(field, "must be a number")
				continue
			}
			out[name] = n
		case typ == "integer":
			n, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				fe.Add(field, "must be an integer")
				continue
			}
			out[name] = float64(n)
		case typ == "boolean":
			b, err := strconv.ParseBool(text)
			if err != nil {
				fe.Add(field, "must be true or false")
				continue
			}
			out[name] = b
		case typ == "string" || typ == "date" || typ == "datetime" || typ == "":
			out[name] = text
		default:
			if v, ok := formJSONValue(text, field, fe); ok {
				out[name] = v
			} else {
				out[name] = text
			}
		}
	}
	return out
}

// formJSONValue reads a parameter typed as JSON in the form, with the
// checks the API makes on JSON bodies (a key given twice is refused, as
// the API refuses it); ok is false when text is not JSON at all.
func formJSONValue(text, field string, fe geoetl.FieldErrors) (any, bool) {
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return nil, false
	}
	for k, msgs := range geoetl.ErrorFields(service.CheckJSONText([]byte(text))) {
		for _, m := range msgs {
			fe.Add(field, "%s %s", k, m)
		}
	}
	return v, true
}

func splitList(s, sep string) []string {
	out := []string{}
	for _, part := range strings.Split(s, sep) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// fullUpdate sets every field of sc's definition, zeros included: the
// form sends all of them, so a 0 the user left is meant, and must not be
// mistaken for an omitted field that the service fills with its default.
func fullUpdate(sc *geoetl.Schedule) geoetl.ScheduleUpdate {
	u := sc.DefinitionUpdate()
	u.Enabled = &sc.Enabled
	return u
}

// requireEditor refuses the editor pages to viewers before they type.
func requireEditor(c echo.Context) error {
	if !principal(c).Role.Allows(geoetl.RoleEditor) {
		return geoetl.Errorf(geoetl.EFORBIDDEN, "This needs the editor role.")
	}
	return nil
}
