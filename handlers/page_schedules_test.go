package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// TestSchedulesList_SearchFiltersSortAndPaging checks the list's query
// parameters and that a filter change from the page gets only the results.
func TestSchedulesList_SearchFiltersSortAndPaging(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	a := env.workflow("Alpha", paramWorkflow)
	bw := env.workflow("Beta", paramWorkflow)
	for i := 0; i < scheduleListLimit+3; i++ {
		env.schedule(fmt.Sprintf("Bulk %02d", i), "0 * * * *", a)
	}
	env.schedule("Harbour hourly", "5 * * * *", bw)
	paused := env.schedule("Harbour paused", "0 3 * * *", bw)
	if _, err := env.svc.PauseSchedule(ctx, env.admin, paused.ID, "maintenance"); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("viewer")

	first := b.get("/geoetl/schedules", nil).want(http.StatusOK)
	if n := strings.Count(first.Body, `id="sched-row-`); n != scheduleListLimit {
		t.Errorf("first page has %d rows, want %d", n, scheduleListLimit)
	}
	first.has(fmt.Sprintf("%d of %d shown", scheduleListLimit, scheduleListLimit+5), "Next page")
	next := strings.ReplaceAll(textBetween(t, first.Body, `class="pager"`, "Next page"), "&amp;", "&")
	href := textBetween(t, next, `href="`, `"`)
	second := b.get(href, nil).want(http.StatusOK)
	if n := strings.Count(second.Body, `id="sched-row-`); n != 5 {
		t.Errorf("second page has %d rows, want 5", n)
	}

	b.get("/geoetl/schedules?q=harbour", nil).want(http.StatusOK).has("Harbour hourly", "Harbour paused").lacks("Bulk 01")
	b.get("/geoetl/schedules?status=paused", nil).want(http.StatusOK).has("Harbour paused", "maintenance", "b-paused").lacks("Harbour hourly")
	b.get("/geoetl/schedules?workflowId="+bw.ID, nil).want(http.StatusOK).has("Harbour hourly").lacks("Bulk 01")
	// A bad filter is a 400 as in the API; the page still shows, with the
	// message (and htmx, which swaps only 2xx, gets it with a 200).
	b.get("/geoetl/schedules?status=sleeping", nil).want(http.StatusBadRequest).has("status: must be one of")
	b.get("/geoetl/schedules?status=sleeping", htmx("schedule-results")).want(http.StatusOK).has("status: must be one of")

	// "Ordered Z" fires about 10 minutes from now, "Ordered A" about 30:
	// by name A comes first, by next run Z.
	m := time.Now().UTC().Add(10 * time.Minute).Minute()
	env.schedule("Ordered Z", fmt.Sprintf("%d * * * *", m), bw)
	env.schedule("Ordered A", fmt.Sprintf("%d * * * *", (m+20)%60), bw)
	byName := b.get("/geoetl/schedules?sort=name&q=ordered", nil).want(http.StatusOK).Body
	byNext := b.get("/geoetl/schedules?sort=nextRunAt&q=ordered", nil).want(http.StatusOK).Body
	if strings.Index(byName, "Ordered A") > strings.Index(byName, "Ordered Z") {
		t.Error("sorted by name, Ordered Z comes first")
	}
	if strings.Index(byNext, "Ordered Z") > strings.Index(byNext, "Ordered A") {
		t.Error("sorted by next run, Ordered A comes first")
	}

	res := b.get("/geoetl/schedules?q=harbour", htmx("schedule-results")).want(http.StatusOK)
	if res.isFullPage() || !strings.HasPrefix(strings.TrimSpace(res.Body), `<div id="schedule-results">`) {
		t.Fatalf("a filter change did not get the results alone:\n%s", res.Body)
	}
	res.lacks(`id="f-q"`) // the search box is not replaced while the user types
	// Each row says what its cron expression means.
	b.get("/geoetl/schedules?q=harbour", nil).has("5 * * * *", "At 5 minutes past the hour")
}

// between returns the text after from up to the next to.
func textBetween(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("%q not found in:\n%s", from, s)
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		t.Fatalf("%q not found after %q", to, from)
	}
	return s[:j]
}

// TestSchedulesList_EmptyStateLeadsToCreating checks the first visit: no
// schedules, and a way to create the first one for those who may.
func TestSchedulesList_EmptyStateLeadsToCreating(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	env.signedIn("editor").get("/geoetl/schedules", nil).want(http.StatusOK).
		has("No schedules yet", `href="/geoetl/schedules/new"`, "Create your first schedule")
	env.signedIn("viewer").get("/geoetl/schedules", nil).want(http.StatusOK).
		has("No schedules yet").lacks("Create your first schedule", "New schedule")
}

// TestScheduleRowActions_SwapTheRowInPlace checks the list's actions as
// htmx sends them: each answers with the row alone (plus the message out
// of band), and the change is stored.
func TestScheduleRowActions_SwapTheRowInPlace(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Nightly", "0 2 * * *", w)
	b := env.signedIn("editor")
	row := "sched-row-" + sc.ID
	base := "/geoetl/schedules/" + sc.ID

	res := b.post(base+"/pause", url.Values{"reason": {"supplier outage"}}, htmx(row)).want(http.StatusOK)
	if !strings.HasPrefix(strings.TrimSpace(res.Body), `<tr id="`+row+`"`) {
		t.Fatalf("pause did not answer with the row:\n%s", res.Body)
	}
	res.has("b-paused", "supplier outage", `id="flash"`, `hx-swap-oob="true"`, "Paused Nightly.", "/resume").lacks("<!doctype")
	got, _ := env.store.FindScheduleByID(ctx, env.tenant, sc.ID)
	if got.Status != geoetl.StatusPaused || got.NextRunAt != nil {
		t.Fatalf("after pause: %s, next %v", got.Status, got.NextRunAt)
	}

	b.post(base+"/resume", nil, htmx(row)).want(http.StatusOK).has("b-ok", "/pause")
	got, _ = env.store.FindScheduleByID(ctx, env.tenant, sc.ID)
	if got.Status != geoetl.StatusActive || got.NextRunAt == nil {
		t.Fatalf("after resume: %s, next %v", got.Status, got.NextRunAt)
	}

	res = b.post(base+"/run-now", nil, htmx(row)).want(http.StatusOK).has(`<tr id="`+row+`"`, "Run of Nightly requested", "Watch it")
	execs, _, _, _ := env.svc.ScheduleHistory(ctx, env.admin, sc.ID, geoetl.ExecutionFilter{})
	if len(execs) != 1 || execs[0].Trigger != geoetl.TriggerManual {
		t.Fatalf("run now created %d executions", len(execs))
	}
	res.has("/geoetl/executions/" + execs[0].ID)

	b.get(base+"/delete", htmx(row)).want(http.StatusOK).has(`<tr id="`+row+`" class="confirm-row"`, "Delete the schedule", "Cancel")
	b.get(base+"/row", htmx(row)).want(http.StatusOK).has(`<tr id="`+row+`"`, "Actions")
	res = b.post(base+"/delete", nil, htmx(row)).want(http.StatusOK).has("Deleted Nightly.")
	if strings.Contains(res.Body, "<tr") {
		t.Errorf("delete left a row:\n%s", res.Body)
	}
	if _, err := env.store.FindScheduleByID(ctx, env.tenant, sc.ID); !geoetl.IsNotFound(err) {
		t.Fatalf("schedule still there: %v", err)
	}
}

// TestScheduleActions_PlainFormsRedirect checks that every action works
// without htmx: a 303 to the page to see next, with the message carried.
func TestScheduleActions_PlainFormsRedirect(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Nightly", "0 2 * * *", w)
	b := env.signedIn("editor")
	base := "/geoetl/schedules/" + sc.ID
	if loc := b.post(base+"/pause", nil, nil).want(http.StatusSeeOther).Header.Get("Location"); loc != base {
		t.Errorf("pause redirects to %q", loc)
	}
	b.get(base, nil).want(http.StatusOK).has("Paused Nightly.")
	b.get(base, nil).want(http.StatusOK).lacks("Paused Nightly.") // shown once
	loc := b.post(base+"/run-now", nil, nil).want(http.StatusSeeOther).Header.Get("Location")
	if !strings.HasPrefix(loc, "/geoetl/executions/") {
		t.Errorf("run now redirects to %q", loc)
	}
	b.get(base+"/delete", nil).want(http.StatusOK).has("Delete schedule", `action="`+base+`/delete"`)
	if loc := b.post(base+"/delete", nil, nil).want(http.StatusSeeOther).Header.Get("Location"); loc != "/geoetl/schedules" {
		t.Errorf("delete redirects to %q", loc)
	}
}

// TestScheduleActions_RefusalsReachTheFlashArea checks errors of actions:
// htmx gets them retargeted to the flash area (and swaps them, by the
// page's responseHandling); plain requests get an error page.
func TestScheduleActions_RefusalsReachTheFlashArea(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Short-lived", "0 2 * * *", w)
	past := time.Now().Add(-time.Hour)
	pp := &past
	if _, err := env.svc.PauseSchedule(ctx, env.admin, sc.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.UpdateSchedule(ctx, env.admin, sc.ID, geoetl.ScheduleUpdate{ExpiresAt: &pp}); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("editor")
	res := b.post("/geoetl/schedules/"+sc.ID+"/resume", nil, htmx("sched-row-"+sc.ID)).want(http.StatusConflict)
	if res.Header.Get("HX-Retarget") != "#flash" || res.Header.Get("HX-Reswap") != "innerHTML" {
		t.Errorf("HX-Retarget %q, HX-Reswap %q", res.Header.Get("HX-Retarget"), res.Header.Get("HX-Reswap"))
	}
	res.has("expired", "flash-error").lacks("<!doctype")
	b.post("/geoetl/schedules/"+sc.ID+"/resume", nil, nil).want(http.StatusConflict).has("expired", "Go to the dashboard")

	v := env.signedIn("viewer")
	v.post("/geoetl/schedules/"+sc.ID+"/pause", nil, nil).want(http.StatusForbidden).has("editor role")
	v.get("/geoetl/schedules", nil).want(http.StatusOK).lacks("/pause", "/run-now", "Delete…")
}

// TestConsole_StateChangesNeedTheCSRFToken checks that a form post without
// the token, with a wrong one, or marked cross-site by the browser is
// refused and changes nothing, while the header (as htmx sends it) and
// same-origin fetch metadata pass.
func TestConsole_StateChangesNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Guarded", "0 2 * * *", w)
	b := env.signedIn("admin")
	paths := []string{
		"/geoetl/schedules/" + sc.ID + "/pause", "/geoetl/schedules/" + sc.ID + "/run-now", "/geoetl/schedules/" + sc.ID + "/delete",
		"/geoetl/schedules/new", "/geoetl/workflows/new", "/geoetl/settings/tokens", "/geoetl/settings/webhook-secret/rotate", "/logout",
	}
	for _, p := range paths {
		b.post(p, url.Values{"csrf": {"forged"}}, nil).want(http.StatusForbidden)
		b.do(http.MethodPost, p, url.Values{}, nil).want(http.StatusForbidden)
		cross := http.Header{"Sec-Fetch-Site": {"cross-site"}}
		b.post(p, nil, cross).want(http.StatusForbidden)
	}
	got, err := env.store.FindScheduleByID(ctx, env.tenant, sc.ID)
	if err != nil || got.Status != geoetl.StatusActive {
		t.Fatalf("a refused post changed the schedule: %v %v", got, err)
	}
	if toks, _ := env.svc.ListTokens(ctx, env.admin); len(toks) != 0 {
		t.Fatalf("a refused post created %d tokens", len(toks))
	}
	b.get("/", nil).want(http.StatusOK) // still signed in

	hdr := htmx("sched-row-" + sc.ID)
	hdr.Set("X-CSRF-Token", b.csrf())
	b.do(http.MethodPost, "/geoetl/schedules/"+sc.ID+"/pause", url.Values{}, hdr).want(http.StatusOK).has("Paused")
	same := http.Header{"Sec-Fetch-Site": {"same-origin"}}
	b.do(http.MethodPost, "/geoetl/schedules/"+sc.ID+"/resume", url.Values{}, same).want(http.StatusSeeOther)
	// The layout hands the token to htmx for every request.
	b.get("/", nil).has(`hx-headers="{&#34;X-CSRF-Token&#34;:&#34;` + b.csrf())
}

// TestConsole_EscapesUserText puts markup into every text a user controls
// and checks that each page shows it as text.
func TestConsole_EscapesUserText(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	evil := `<script>alert("x")</script>`
	attrBreak := `"><img src=x onerror=alert(1)>`
	w := env.workflow(evil, paramWorkflow)
	name, desc, reason := evil+" schedule", attrBreak, "<b>bold</b> reason"
	cron := "0 2 * * *"
	sc, err := env.svc.CreateSchedule(ctx, env.admin, geoetl.ScheduleUpdate{Name: &name, Description: &desc, CronExpression: &cron, WorkflowID: &w.ID,
		Tags: &[]string{"<i>tag</i>"}, ParameterValues: &map[string]any{"region": evil}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.PauseSchedule(ctx, env.admin, sc.ID, reason); err != nil {
		t.Fatal(err)
	}
	e, err := env.svc.RunNow(ctx, env.admin, sc.ID, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("admin")
	b.post("/geoetl/schedules/"+sc.ID+"/resume", nil, nil) // its flash names the schedule
	for _, path := range []string{
		"/", "/geoetl/schedules", "/geoetl/schedules/" + sc.ID, "/geoetl/schedules/" + sc.ID + "/edit",
		"/geoetl/schedules/" + sc.ID + "/history", "/geoetl/schedules/" + sc.ID + "/delete", "/geoetl/executions/" + e.ID,
		"/geoetl/workflows", "/geoetl/workflows/" + w.ID, "/geoetl/audit",
	} {
		r := b.get(path, nil).want(http.StatusOK)
		r.lacks(evil, "<img src=x", "<b>bold</b>", "<i>tag</i>")
		if !strings.Contains(r.Body, "&lt;script&gt;") && path != "/geoetl/audit" { // the audit log shows JSON, where < is \u003c
			t.Errorf("%s does not show the name as text", path)
		}
	}
	b.get("/geoetl/schedules/"+sc.ID, nil).has("&lt;b&gt;bold&lt;/b&gt; reason")
	b.get("/geoetl/schedules/"+sc.ID+"/edit", nil).has(`&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`)
}
