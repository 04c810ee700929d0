package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// newScheduleForm is the editor's form for a new schedule as a user fills
// it in.
func newScheduleForm(workflowID string) url.Values {
	return url.Values{
		"name": {"Parcels nightly"}, "description": {"Refresh the parcels"}, "workflowId": {workflowID},
		"cronExpression": {"30 1 * * MON-FRI"}, "timezone": {"Europe/Berlin"}, "enabled": {"true"},
		"param.region": {"south"}, "param.limit": {"250"},
		"overlapPolicy": {"queue"}, "maxConcurrentExecutions": {"2"}, "misfirePolicy": {"skip"}, "catchupWindowMinutes": {"60"},
		"retryAttempts": {"3"}, "retryDelayMinutes": {"2"}, "retryBackoff": {"exponential"}, "maxRetryDelayMinutes": {"30"},
		"timeoutMinutes": {"45"}, "expiresAt": {"2030-06-01T12:00"}, "tags": {"parcels, nightly"},
		"notifyOnFailure": {"true"}, "emailAddresses": {"ops@example.com\n\nteam@example.com"},
		"webhookUrls": {"https://hooks.example.com/geoetl/secret-token"}, "slackWebhookUrl": {""}, "teamsWebhookUrl": {""},
	}
}

// TestScheduleEditor_CreatesEveryFieldFromTheForm checks that a plain form
// post stores every field with its type (integers, times in the chosen
// zone, lists) and redirects to the new schedule.
func TestScheduleEditor_CreatesEveryFieldFromTheForm(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	res := b.post("/geoetl/schedules/new", newScheduleForm(w.ID), nil).want(http.StatusSeeOther)
	loc := res.Header.Get("Location")
	id := strings.TrimPrefix(loc, "/geoetl/schedules/")
	if !geoetl.IsUUID(id) {
		t.Fatalf("Location = %q", loc)
	}
	sc, err := env.store.FindScheduleByID(context.Background(), env.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	wantExpiry := time.Date(2030, 6, 1, 12, 0, 0, 0, berlin)
	switch {
	case sc.Name != "Parcels nightly" || sc.Description != "Refresh the parcels" || sc.WorkflowID != w.ID:
		t.Errorf("basics: %+v", sc)
	case sc.CronExpression != "30 1 * * MON-FRI" || sc.Timezone != "Europe/Berlin" || !sc.Enabled:
		t.Errorf("timing: %q %q %v", sc.CronExpression, sc.Timezone, sc.Enabled)
	case sc.ParameterValues["region"] != "south" || sc.ParameterValues["limit"] != float64(250):
		t.Errorf("parameters: %#v", sc.ParameterValues)
	case sc.OverlapPolicy != geoetl.OverlapQueue || sc.MaxConcurrentExecutions != 2 || sc.MisfirePolicy != geoetl.MisfireSkip || sc.CatchupWindowMinutes != 60:
		t.Errorf("policies: %+v", sc)
	case sc.RetryAttempts != 3 || sc.RetryDelayMinutes != 2 || sc.RetryBackoff != geoetl.BackoffExponential || sc.MaxRetryDelayMinutes != 30:
		t.Errorf("retries: %+v", sc)
	case sc.TimeoutMinutes == nil || *sc.TimeoutMinutes != 45 || sc.ExpiresAt == nil || !sc.ExpiresAt.Equal(wantExpiry):
		t.Errorf("time-out %v, expiry %v (want %v)", sc.TimeoutMinutes, sc.ExpiresAt, wantExpiry)
	case strings.Join(sc.Tags, "|") != "parcels|nightly":
		t.Errorf("tags: %q", sc.Tags)
	case !sc.NotificationConfig.NotifyOnFailure || sc.NotificationConfig.NotifyOnSuccess ||
		strings.Join(sc.NotificationConfig.EmailAddresses, "|") != "ops@example.com|team@example.com" ||
		len(sc.NotificationConfig.WebhookURLs) != 1 || sc.NotificationConfig.WebhookURLs[0] != "https://hooks.example.com/geoetl/secret-token":
		t.Errorf("notifications: %+v", sc.NotificationConfig)
	}
	// The next page shows what was done.
	b.get(loc, nil).want(http.StatusOK).has("Created Parcels nightly")
}

// TestScheduleEditor_CreateKeepsZerosTheUserTyped checks that a number
// left at 0 on the form is stored as 0, never replaced
// by the API's default for an omitted field (catch-up 1440, retry delay 5,
// concurrency 1): the form sends every field, so none of them is omitted.
func TestScheduleEditor_CreateKeepsZerosTheUserTyped(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	form := newScheduleForm(w.ID)
	form.Set("catchupWindowMinutes", "0")
	form.Set("retryDelayMinutes", "0")
	form.Set("retryAttempts", "0")
	res := b.post("/geoetl/schedules/new", form, nil).want(http.StatusSeeOther)
	id := strings.TrimPrefix(res.Header.Get("Location"), "/geoetl/schedules/")
	sc, err := env.store.FindScheduleByID(context.Background(), env.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if sc.CatchupWindowMinutes != 0 || sc.RetryDelayMinutes != 0 || sc.RetryAttempts != 0 {
		t.Errorf("catch-up %d, retry delay %d, attempts %d; want the zeros typed",
			sc.CatchupWindowMinutes, sc.RetryDelayMinutes, sc.RetryAttempts)
	}

	form = newScheduleForm(w.ID)
	form.Set("name", "Unlimited")
	form.Set("maxConcurrentExecutions", "0") // 0 means no limit
	res = b.post("/geoetl/schedules/new", form, nil).want(http.StatusSeeOther)
	id = strings.TrimPrefix(res.Header.Get("Location"), "/geoetl/schedules/")
	if sc, err = env.store.FindScheduleByID(context.Background(), env.tenant, id); err != nil {
		t.Fatal(err)
	}
	if sc.MaxConcurrentExecutions != 0 {
		t.Errorf("maxConcurrentExecutions = %d, want the 0 (unlimited) typed", sc.MaxConcurrentExecutions)
	}
}

// TestScheduleEditor_HTMXSubmitNavigatesWithHXLocation checks that htmx
// gets HX-Location (a 303 would be followed inside the swap).
func TestScheduleEditor_HTMXSubmitNavigatesWithHXLocation(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	res := b.post("/geoetl/schedules/new", newScheduleForm(w.ID), htmx("schedule-form")).want(http.StatusOK)
	if loc := res.Header.Get("HX-Location"); !strings.Contains(loc, `"path":"/geoetl/schedules/`) || !strings.Contains(loc, `"target":"#main"`) {
		t.Errorf("HX-Location = %q", loc)
	}
}

// TestScheduleEditor_ErrorsShowNextToTheirFieldsWithInputKept checks
// validation: htmx gets the form back with 200 (so it swaps it), plain
// forms the page with 422, each message under its field, and what the
// user typed stays.
func TestScheduleEditor_ErrorsShowNextToTheirFieldsWithInputKept(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	form := newScheduleForm(w.ID)
	form.Set("cronExpression", "0 0 30 2 *")
	form.Set("timezone", "Mars/Olympus")
	form.Set("retryAttempts", "three")
	form.Set("param.limit", "many")
	form.Set("param.colour", "blue")
	form.Set("name", "Kept <name>")

	frag := b.post("/geoetl/schedules/new", form, htmx("schedule-form")).want(http.StatusOK)
	if frag.isFullPage() {
		t.Fatal("htmx got a whole page")
	}
	frag.has(`id="err-retryAttempts"`, `id="err-parameterValues.limit"`, "must be a whole number", "must be an integer", `value="Kept &lt;name&gt;"`)
	// The service's checks run once the form's own are met.
	form.Set("retryAttempts", "3")
	form.Set("param.limit", "5")
	frag = b.post("/geoetl/schedules/new", form, htmx("schedule-form")).want(http.StatusOK)
	frag.has(`id="err-cronExpression"`, `id="err-timezone"`, "Mars/Olympus", "parameterValues.colour")

	page := b.post("/geoetl/schedules/new", form, nil).want(http.StatusUnprocessableEntity)
	if !page.isFullPage() {
		t.Fatal("a plain form post did not get the page back")
	}
	page.has(`id="err-cronExpression"`, `aria-invalid="true"`)
	if _, n, _, _ := env.svc.ListSchedules(context.Background(), env.admin, geoetl.ScheduleFilter{}); n != 0 {
		t.Fatalf("%d schedules were created from invalid forms", n)
	}
}

// TestScheduleEditor_EditSendsOnlyTouchedFields submits the edit form as
// rendered with one field changed: everything else, including a webhook
// URL the form only shows masked and a field someone else changed
// meanwhile, keeps its stored value.
func TestScheduleEditor_EditSendsOnlyTouchedFields(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	loc := b.post("/geoetl/schedules/new", newScheduleForm(w.ID), nil).want(http.StatusSeeOther).Header.Get("Location")
	id := strings.TrimPrefix(loc, "/geoetl/schedules/")

	edit := b.get(loc+"/edit", nil).want(http.StatusOK)
	edit.lacks("secret-token") // webhook URLs are secrets: the form shows them masked
	form := formValues(t, edit.Body, "schedule-form")
	form.Set("name", "Parcels nightly (renamed)")

	// Someone changes another field after the form was opened.
	desc := "changed elsewhere"
	if _, err := env.svc.UpdateSchedule(ctx, env.admin, id, geoetl.ScheduleUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	b.post(loc+"/edit", form, nil).want(http.StatusSeeOther)

	sc, err := env.store.FindScheduleByID(ctx, env.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "Parcels nightly (renamed)" {
		t.Errorf("name = %q", sc.Name)
	}
	if sc.Description != desc {
		t.Errorf("description = %q: the edit reset a field the user did not touch", sc.Description)
	}
	if got := sc.NotificationConfig.WebhookURLs; len(got) != 1 || got[0] != "https://hooks.example.com/geoetl/secret-token" {
		t.Errorf("webhook URLs = %q: the masked value replaced the secret", got)
	}
	if sc.ExpiresAt == nil || sc.TimeoutMinutes == nil || *sc.TimeoutMinutes != 45 || sc.ParameterValues["limit"] != float64(250) || sc.Version != 3 {
		t.Errorf("other fields changed: %+v", sc)
	}
}

// TestScheduleEditor_SameFieldChangedTwiceAsksTheUser checks that when
// someone else changed the very field the user changed, nothing is saved
// and the user's value is kept with an explanation.
func TestScheduleEditor_SameFieldChangedTwiceAsksTheUser(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Original", "0 2 * * *", w)
	b := env.signedIn("editor")
	form := formValues(t, b.get("/geoetl/schedules/"+sc.ID+"/edit", nil).Body, "schedule-form")
	form.Set("cronExpression", "0 3 * * *")
	other := "0 4 * * *"
	if _, err := env.svc.UpdateSchedule(ctx, env.admin, sc.ID, geoetl.ScheduleUpdate{CronExpression: &other}); err != nil {
		t.Fatal(err)
	}
	res := b.post("/geoetl/schedules/"+sc.ID, form, htmx("schedule-form")).want(http.StatusOK)
	res.has("Someone else changed cronExpression", `value="0 3 * * *"`, `name="version" value="2"`)
	got, _ := env.store.FindScheduleByID(ctx, env.tenant, sc.ID)
	if got.CronExpression != other {
		t.Fatalf("cron = %q, want the other user's %q kept", got.CronExpression, other)
	}
	// Saving again applies the user's value over the new version.
	form.Set("version", "2")
	b.post("/geoetl/schedules/"+sc.ID, form, nil).want(http.StatusSeeOther)
	got, _ = env.store.FindScheduleByID(ctx, env.tenant, sc.ID)
	if got.CronExpression != "0 3 * * *" {
		t.Fatalf("cron = %q after saving again", got.CronExpression)
	}
}

// TestScheduleEditor_ParamsFollowTheChosenWorkflow checks the fragment
// that replaces the parameter inputs when another workflow is picked.
func TestScheduleEditor_ParamsFollowTheChosenWorkflow(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	empty := env.workflow("Nothing", `{"nodes":[]}`)
	b := env.signedIn("editor")
	b.get("/geoetl/schedules/params?workflowId="+w.ID+"&param.region=east", htmx("params")).want(http.StatusOK).
		has(`id="params"`, `name="param.region"`, `value="east"`, `name="param.limit"`, "integer", "default north")
	b.get("/geoetl/schedules/params?workflowId="+empty.ID, htmx("params")).want(http.StatusOK).has("declares no parameters")
	b.get("/geoetl/schedules/params?workflowId="+geoetl.NewID(), htmx("params")).want(http.StatusOK).has("does not exist")
}

// TestScheduleEditor_ViewersCannotOpenIt checks that the editor is refused
// to viewers before they type anything.
func TestScheduleEditor_ViewersCannotOpenIt(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("viewer")
	b.get("/geoetl/schedules/new", nil).want(http.StatusForbidden).has("editor role")
	b.post("/geoetl/schedules/new", newScheduleForm(w.ID), nil).want(http.StatusForbidden)
}

// TestCronPreview_DescribesOrExplainsInline checks the editor's live
// preview: 200 in every case, so htmx swaps messages in too.
func TestCronPreview_DescribesOrExplainsInline(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.signedIn("viewer")
	cases := []struct {
		name, query string
		want        []string
	}{
		{"Valid", "cronExpression=0+9+*+*+MON-FRI&timezone=America/New_York", []string{"Monday through Friday", "EST", `<ol class="next-runs">`}},
		{"LastDayOfMonth", "cronExpression=0+23+L+*+*&timezone=UTC", []string{"last day"}},
		{"InvalidField", "cronExpression=0+25+*+*+*&timezone=UTC", []string{"hour", "✖"}},
		{"NeverFires", "cronExpression=0+0+30+2+*&timezone=UTC", []string{"✖"}},
		{"BadZone", "cronExpression=0+1+*+*+*&timezone=Nowhere/Land", []string{"Time zone", "Nowhere/Land"}},
		{"Empty", "cronExpression=&timezone=UTC", []string{"Type a cron expression"}},
		{"Escaped", "cronExpression=0+%3Cscript%3E+*+*+*&timezone=UTC", []string{"&lt;SCRIPT&gt;"}},
		{"TooLongForTheService", "cronExpression=0" + strings.Repeat(",0", 500) + "+0+*+*+*&timezone=UTC", []string{"✖", "at most 1000 characters"}},
	}
	// The cases share the parent's browser, whose checks fail the parent
	// test; each failure message names the body it looked at.
	for _, tc := range cases {
		r := b.get("/geoetl/cron/preview?"+tc.query, htmx("cron-preview")).want(http.StatusOK).has(tc.want...)
		r.lacks("<script>", "<SCRIPT>")
		if n := strings.Count(r.Body, "<li>"); tc.name == "Valid" && n != previewCount {
			t.Errorf("%s: %d next runs listed, want %d", tc.name, n, previewCount)
		}
	}
}
