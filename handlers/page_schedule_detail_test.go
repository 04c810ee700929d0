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

// TestScheduleDetail_ShowsDefinitionNextRunsAndChanges checks the
// schedule page: its definition in words, the next runs in its zone, and
// each version's changes with before and after.
func TestScheduleDetail_ShowsDefinitionNextRunsAndChanges(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	name, cron, zone := "Berlin mornings", "0 7 * * MON-FRI", "Europe/Berlin"
	sc, err := env.svc.CreateSchedule(ctx, env.admin, geoetl.ScheduleUpdate{Name: &name, CronExpression: &cron, Timezone: &zone, WorkflowID: &w.ID,
		ParameterValues: &map[string]any{"region": "east"}})
	if err != nil {
		t.Fatal(err)
	}
	later := "30 8 * * MON-FRI"
	if _, err := env.svc.UpdateSchedule(ctx, env.admin, sc.ID, geoetl.ScheduleUpdate{CronExpression: &later}); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("viewer")
	page := b.get("/geoetl/schedules/"+sc.ID, nil).want(http.StatusOK)
	page.has("At 08:30, Monday through Friday", "(Europe/Berlin)", "<code>region</code> = <code>east</code>", "Parcels",
		"Version 2", "Version 1", "cronExpression", "<del>0 7 * * MON-FRI</del>", "<ins>30 8 * * MON-FRI</ins>")
	if n := strings.Count(textBetween(t, page.Body, "<h2>Next runs</h2>", "</ol>"), "<li>"); n != detailNextRuns {
		t.Errorf("%d next runs shown, want %d", n, detailNextRuns)
	}
	if !strings.Contains(page.Body, "08:30 CET") && !strings.Contains(page.Body, "08:30 CEST") {
		t.Error("next runs are not shown in the schedule's zone")
	}
	page.lacks("/restore") // viewers cannot restore
}

// TestScheduleDetail_RestoreMakesAnEarlierVersionCurrent checks restoring
// from the version history, as htmx does it (the main area comes back).
func TestScheduleDetail_RestoreMakesAnEarlierVersionCurrent(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Restorable", "0 2 * * *", w)
	changed := "0 5 * * *"
	if _, err := env.svc.UpdateSchedule(ctx, env.admin, sc.ID, geoetl.ScheduleUpdate{CronExpression: &changed}); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("editor")
	res := b.post("/geoetl/schedules/"+sc.ID+"/versions/1/restore", nil, htmx("main")).want(http.StatusOK)
	res.has("<title>", "Restored version 1 as version 3", "Version 3").lacks("<!doctype")
	got, _ := env.store.FindScheduleByID(ctx, env.tenant, sc.ID)
	if got.CronExpression != "0 2 * * *" || got.Version != 3 {
		t.Fatalf("after restore: cron %q, version %d", got.CronExpression, got.Version)
	}
	b.post("/geoetl/schedules/"+sc.ID+"/versions/99/restore", nil, nil).want(http.StatusNotFound)
	b.post("/geoetl/schedules/"+sc.ID+"/versions/x/restore", nil, nil).want(http.StatusNotFound)
}

// TestScheduleDetail_ActionsAnswerWithTheMainArea checks pause, resume and
// run now from the schedule page under htmx: the page's main area comes
// back updated.
func TestScheduleDetail_ActionsAnswerWithTheMainArea(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Detailed", "0 2 * * *", w)
	b := env.signedIn("editor")
	base := "/geoetl/schedules/" + sc.ID
	b.post(base+"/pause", url.Values{"reason": {"holiday"}}, htmx("main")).want(http.StatusOK).has("<h1>Detailed</h1>", "holiday", "b-paused", "No upcoming run")
	b.post(base+"/resume", nil, htmx("main")).want(http.StatusOK).has("b-ok", "Resumed Detailed.")
	b.post(base+"/run-now", nil, htmx("main")).want(http.StatusOK).has("Run of Detailed requested", "Pending")
}

// TestScheduleHistory_NewestFirstFilteredAndPaged checks the history page.
func TestScheduleHistory_NewestFirstFilteredAndPaged(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Busy", "0 2 * * *", w)
	var ids []string
	for i := 0; i < historyPageSize+2; i++ {
		e, err := env.svc.RunNow(ctx, env.admin, sc.ID, nil, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	cancelled, err := env.svc.CancelExecution(ctx, env.admin, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("viewer")
	page := b.get("/geoetl/schedules/"+sc.ID+"/history", nil).want(http.StatusOK)
	if n := strings.Count(page.Body, `<tr id="exec-`); n != historyPageSize {
		t.Errorf("%d rows on the first page, want %d", n, historyPageSize)
	}
	newest, oldest := strings.Index(page.Body, ids[len(ids)-1]), strings.Index(page.Body, ids[len(ids)-3])
	if newest < 0 || oldest < 0 || newest > oldest {
		t.Error("the history is not newest first")
	}
	page.has("Next page", "sse-connect")
	next := strings.ReplaceAll(textBetween(t, textBetween(t, page.Body, `class="pager"`, "Next page"), `href="`, `"`), "&amp;", "&")
	second := b.get(next, nil).want(http.StatusOK)
	if n := strings.Count(second.Body, `<tr id="exec-`); n != 2 {
		t.Errorf("%d rows on the second page, want 2", n)
	}
	second.lacks("sse-connect") // only the first page follows new runs
	filtered := b.get("/geoetl/schedules/"+sc.ID+"/history?status=cancelled", nil).want(http.StatusOK)
	if n := strings.Count(filtered.Body, `<tr id="exec-`); n != 1 || !strings.Contains(filtered.Body, cancelled.ID) {
		t.Errorf("status filter shows %d rows", n)
	}
	b.get("/geoetl/schedules/"+sc.ID+"/history?status=bogus", nil).want(http.StatusBadRequest).has("status")
}

// TestExecutionPage_ShowsNodesCountsAndLog checks one run's page with what
// the runner recorded, and cancelling a run from it.
func TestExecutionPage_ShowsNodesCountsAndLog(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Recorded", "0 2 * * *", w)
	e, err := env.svc.RunNow(ctx, env.admin, sc.ID, map[string]any{"region": "west"}, false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ms := int64(1250)
	msg := `<img src=x onerror=alert(1)> bad geometry`
	if err := env.store.AppendNodeRuns(ctx, []*geoetl.NodeRun{
		{ExecutionID: e.ID, NodeID: "src", NodeType: "data_source.file", Status: "completed", StartedAt: &now, CompletedAt: &now, DurationMs: &ms, FeaturesOut: 123456},
		{ExecutionID: e.ID, NodeID: "out", NodeType: "data_sink.geojson", Status: "running", StartedAt: &now, FeaturesIn: 99},
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.AppendLogs(ctx, []*geoetl.LogEntry{
		{ExecutionID: e.ID, Seq: 1, At: now, Level: "info", Message: "run started"},
		{ExecutionID: e.ID, Seq: 2, At: now, Level: "warn", NodeID: "src", Message: msg},
	}); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("editor")
	page := b.get("/geoetl/executions/"+e.ID, nil).want(http.StatusOK)
	page.has("Run of Parcels", "Recorded", "<code>src</code>", "123,456", "1.2 s", "99", "Running", "run started", "WARN  [src]",
		"<code>region</code> = <code>west</code>", "Cancel run", "&lt;img src=x", "1 of 2 nodes finished", `<progress id="node-progress" value="1" max="2">`).lacks(msg)
	res := b.post("/geoetl/executions/"+e.ID+"/cancel", nil, nil).want(http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/geoetl/executions/"+e.ID {
		t.Errorf("Location = %q", loc)
	}
	b.get("/geoetl/executions/"+e.ID, nil).has("Cancellation requested.", "b-muted", "Cancelled").lacks("Cancel run")
	// A finished run cannot be cancelled again.
	b.post("/geoetl/executions/"+e.ID+"/cancel", nil, htmx("main")).want(http.StatusConflict)
	b.get("/geoetl/executions/"+geoetl.NewID(), nil).want(http.StatusNotFound)
}
