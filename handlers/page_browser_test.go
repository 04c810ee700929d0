package handlers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/scheduler"
)

// chromiumPath finds the browser, or skips the test (fails in CI, which
// installs Debian's chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run installs Debian's chromium")
	}
	t.Skip("skipping browser tests: chromium is not installed (apt-get install chromium)")
	return ""
}

// browserEnv is the whole service on loopback: real handlers, a real
// SQLite store, the real scheduler and the real etl engine with the
// sample data, and one headless Chromium for all its tests.
type browserEnv struct {
	*consoleEnv
	browser context.Context
	sched   *scheduler.Scheduler
}

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	path := chromiumPath(t)
	if testing.Short() {
		t.Skip("skipping browser tests in -short mode")
	}
	store := dbtest.SQLite(t)
	dataDir := t.TempDir()
	// The console's tenant is acme (see newConsoleEnvWith).
	if err := etl.InstallSampleDataFor(dataDir, "acme"); err != nil {
		t.Fatal(err)
	}
	eng, err := etl.New(etl.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := scheduler.New(scheduler.Config{Store: store, Engine: eng, Clock: clock.Real{}, Dispatch: true, InstanceID: "browser-test", Workers: 2})
	if err != nil {
		t.Fatalf("scheduler: %v", err)
	}
	env := newConsoleEnvWith(t, consoleOptions{store: store, engine: eng, dataDir: dataDir, scheduler: sched, events: sched})
	ctx, cancel := context.WithCancel(context.Background())
	if err := sched.Start(ctx); err != nil {
		t.Fatalf("scheduler start: %v", err)
	}
	t.Cleanup(func() {
		stopCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		cancel()
		_ = sched.Stop(stopCtx)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// The network is closed here: keep the browser from trying.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, stop := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(stop)
	// The browser starts once, here, without a deadline (as chromedp
	// asks); each test opens its tabs in it.
	browser, closeBrowser := chromedp.NewContext(alloc)
	t.Cleanup(closeBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start browser: %v", err)
	}
	return &browserEnv{consoleEnv: env, browser: browser, sched: sched}
}

// tab opens a new tab for one test, under a time limit, in a browser
// context of its own, so that the tests sharing the browser do not share
// cookies (a session signed in by the one before).
func (be *browserEnv) tab(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(be.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run opens the tab without a deadline, as chromedp asks;
	// the time limit applies to the test's actions.
	if err := chromedp.Do(ctx, chromedp.Func(watchPageProblems)); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	t.Cleanup(func() { checkPageProblems(t, ctx) })
	tctx, tcancel := context.WithTimeout(ctx, limit)
	t.Cleanup(tcancel)
	return tctx
}

// watchPageProblems makes every page of the tab record what the browser
// refused under the content security policy and every script error, from
// before the page's own scripts run.
func watchPageProblems(ctx context.Context, t *chromedp.Target) error {
	_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__problems = [];
		document.addEventListener("securitypolicyviolation", e => window.__problems.push("CSP refused " + e.violatedDirective + " " + e.blockedURI));
		window.addEventListener("error", e => window.__problems.push("script error: " + e.message));`})
	return err
}

// checkPageProblems fails the test if the page last shown recorded a
// refused resource or a script error.
func checkPageProblems(t *testing.T, ctx context.Context) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	problems, err := chromedp.Run(cctx, chromedp.Evaluate[[]string](`window.__problems || []`))
	if err != nil {
		return // the tab is gone; its test has failed already
	}
	for _, p := range problems {
		t.Errorf("the page reported: %s", p)
	}
}

func (be *browserEnv) url(path string) string { return be.http.URL + path }

// signIn signs in through the form, as a person would.
func (be *browserEnv) signIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	mustOK(t, chromedp.Do(ctx,
		chromedp.Navigate(be.url("/login")),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), user),
		chromedp.SendKeys(chromedp.ID("password"), consolePassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	))
	waitText(t, ctx, "h1", "Dashboard")
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitText waits until the first element matching css contains want.
func waitText(t *testing.T, ctx context.Context, css, want string) {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, css, want)
	// A poll fails when the page navigates under it (a form post); poll
	// again on the new page until the test's own deadline.
	var err error
	for ctx.Err() == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second)))
		if err == nil {
			return
		}
	}
	body, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("waiting for %q in %s: %v\npage text:\n%s", want, css, err, body)
}

// waitHTMX waits until htmx has taken charge of the element matching css
// (its internal data carries the hash of the attributes it processed).
// Content swapped in is processed a moment after it shows, and a click in
// between submits the form the plain way: it still works, but not in
// place, which is what the tests look at.
func waitHTMX(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !!e['htmx-internal-data'] && !!e['htmx-internal-data'].initHash; })()`, css)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("waiting for htmx to process %s: %v", css, err)
	}
}

// evalBool evaluates a JavaScript expression.
func evalBool(t *testing.T, ctx context.Context, expr string) bool {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	mustOK(t, err)
	return v
}

// slowSampleWorkflow is the sample workflow with a wait in the middle, so
// a run stays "running" long enough to be watched.
const slowSampleWorkflow = `{
  "metadata": {"name": "Slow cities"},
  "parameters": {"min_population": {"type": "integer", "defaultValue": 1000000}},
  "nodes": [
    {"id": "cities", "type": "data_source.file", "parameters": {"file_path": "samples/european_cities.geojson"}},
    {"id": "pause", "type": "control.wait", "parameters": {"seconds": 1.5}},
    {"id": "large", "type": "geoprocessing.filter", "parameters": {"expression": "population >= {{parameters.min_population}}"}},
    {"id": "out", "type": "data_sink.geojson", "parameters": {"output_path": "out/slow.geojson"}}
  ],
  "edges": [{"from": "cities", "to": "pause"}, {"from": "pause", "to": "large"}, {"from": "large", "to": "out"}]
}`

// TestBrowser_MainFlows drives the console in headless Chromium through
// what a new user does: sign in, create a schedule in the editor with the
// live preview, pause and resume it from the list, run it and watch the
// status change live, and read its history. Each flow has a tab and a
// browser context (cookies) of its own in the one browser.
func TestBrowser_MainFlows(t *testing.T) {
	// Most of its time is the browser and the runs it waits for, so the
	// API tests run beside it.
	t.Parallel()
	be := newBrowserEnv(t)
	slow := be.workflow("Slow cities", slowSampleWorkflow)

	t.Run("SignInShowsDashboard", func(t *testing.T) {
		ctx := be.tab(t, 30*time.Second)
		be.signIn(t, ctx, "admin")
		if !evalBool(t, ctx, `!!document.querySelector('nav a[aria-current=page][href="/"]')`) {
			t.Error("the dashboard is not marked as the current menu entry")
		}
	})

	t.Run("WrongPasswordSaysSo", func(t *testing.T) {
		ctx := be.tab(t, 30*time.Second)
		mustOK(t, chromedp.Do(ctx,
			chromedp.Navigate(be.url("/login")),
			chromedp.SendKeys(chromedp.ID("login"), "admin"),
			chromedp.SendKeys(chromedp.ID("password"), "not the password"),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		))
		waitText(t, ctx, "#login-error", "Wrong user name, email or password")
	})

	t.Run("CreateScheduleWithLivePreview", func(t *testing.T) {
		ctx := be.tab(t, 45*time.Second)
		be.signIn(t, ctx, "editor")
		mustOK(t, chromedp.Do(ctx,
			chromedp.Navigate(be.url("/geoetl/schedules/new")),
			chromedp.WaitVisible(chromedp.ID("cronExpression")),
			chromedp.SendKeys(chromedp.ID("name"), "Cities every weekday"),
			chromedp.SetValue(chromedp.ID("workflowId"), slow.ID),
			chromedp.SendKeys(chromedp.ID("cronExpression"), "0 9 * * MON-FRI"),
		))
		waitText(t, ctx, "#cron-preview", "Monday through Friday")
		if !evalBool(t, ctx, `document.querySelectorAll('#cron-preview ol.next-runs li').length === 5`) {
			t.Error("the preview does not list five next runs")
		}
		// A mistake shows at once, next to the field.
		mustOK(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("cronExpression"), " 99")))
		waitText(t, ctx, "#cron-preview", "✖")
		// A quick template replaces the expression and the preview follows.
		mustOK(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[data-cron="0 2 * * *"]`))))
		waitText(t, ctx, "#cron-preview", "02:00")
		mustOK(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("timezone"), "Europe/Berlin"),
			chromedp.Click(chromedp.CSS(`#schedule-form button[type=submit]`)),
		))
		waitText(t, ctx, "h1", "Cities every weekday")
		waitText(t, ctx, "#flash", "Created Cities every weekday")
		got, _, _, err := be.svc.ListSchedules(context.Background(), be.admin, geoetl.ScheduleFilter{Q: "Cities every weekday"})
		mustOK(t, err)
		if len(got) != 1 || got[0].CronExpression != "0 2 * * *" || got[0].Timezone != "Europe/Berlin" || got[0].WorkflowID != slow.ID {
			t.Fatalf("stored schedule = %+v", got)
		}
	})

	t.Run("PauseAndResumeFromTheList", func(t *testing.T) {
		sc := be.schedule("Pausable", "*/30 * * * *", slow)
		ctx := be.tab(t, 45*time.Second)
		be.signIn(t, ctx, "editor")
		row := "#" + "sched-row-" + sc.ID
		mustOK(t, chromedp.Do(ctx,
			chromedp.Navigate(be.url("/geoetl/schedules?q=Pausable")),
			chromedp.WaitVisible(chromedp.CSS(row)),
		))
		waitHTMX(t, ctx, row+` form[action$="/pause"]`)
		mustOK(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row+" summary")),
			chromedp.SendKeys(chromedp.CSS(row+` input[name=reason]`), "data source down"),
			chromedp.Click(chromedp.CSS(row+` form[action$="/pause"] button`)),
		))
		waitText(t, ctx, row, "Paused")
		waitText(t, ctx, row, "data source down")
		st, err := be.store.FindScheduleByID(context.Background(), be.tenant, sc.ID)
		mustOK(t, err)
		if st.Status != geoetl.StatusPaused || st.StatusReason == nil || *st.StatusReason != "data source down" {
			t.Fatalf("after pause: status %s, reason %v", st.Status, st.StatusReason)
		}
		waitHTMX(t, ctx, row+` form[action$="/resume"]`)
		mustOK(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(row+" summary")),
			chromedp.Click(chromedp.CSS(row+` form[action$="/resume"] button`)),
		))
		waitText(t, ctx, row, "Active")
		st, err = be.store.FindScheduleByID(context.Background(), be.tenant, sc.ID)
		mustOK(t, err)
		if st.Status != geoetl.StatusActive || st.NextRunAt == nil {
			t.Fatalf("after resume: status %s, next run %v", st.Status, st.NextRunAt)
		}
	})

	t.Run("RunNowAndWatchTheStatusChangeLive", func(t *testing.T) {
		sc := be.schedule("Watch me", "0 3 1 1 *", slow)
		ctx := be.tab(t, 60*time.Second)
		be.signIn(t, ctx, "editor")
		mustOK(t, chromedp.Do(ctx,
			chromedp.Navigate(be.url("/geoetl/schedules/"+sc.ID)),
			chromedp.WaitVisible(chromedp.CSS(`form[action$="/run-now"] button`)),
		))
		// Wait for the live stream of the recent runs before starting one.
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('[sse-connect]')`)); err != nil {
			t.Fatal(err)
		}
		waitHTMX(t, ctx, `form[action$="/run-now"]`)
		mustOK(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action$="/run-now"] button`))))
		// The recent runs table shows the run as running, then completed,
		// without reloading the page.
		waitText(t, ctx, "#exec-rows", "Running")
		marker := `document.body.dataset.marker = "same page"`
		_, _ = chromedp.Run(ctx, chromedp.Evaluate[any](marker))
		waitText(t, ctx, "#exec-rows", "Completed")
		if !evalBool(t, ctx, `document.body.dataset.marker === "same page"`) {
			t.Error("the page was reloaded; the status should change in place")
		}
		// The run's own page shows its nodes and log.
		mustOK(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#exec-rows a`))))
		waitText(t, ctx, "h1", "Run of Slow cities")
		waitText(t, ctx, "#exec-live", "pause")
		waitText(t, ctx, "#exec-status", "Completed")
	})

	t.Run("ReadTheHistory", func(t *testing.T) {
		sc := be.schedule("With history", "0 4 1 1 *", slow)
		for i := 0; i < 2; i++ {
			e, err := be.svc.RunNow(context.Background(), be.admin, sc.ID, map[string]any{"min_population": float64(5000000 * (i + 1))}, true)
			mustOK(t, err)
			waitFinished(t, be, e.ID)
		}
		ctx := be.tab(t, 30*time.Second)
		be.signIn(t, ctx, "viewer")
		mustOK(t, chromedp.Do(ctx,
			chromedp.Navigate(be.url("/geoetl/schedules/"+sc.ID+"/history")),
			chromedp.WaitVisible(chromedp.CSS("#exec-rows")),
		))
		waitText(t, ctx, "h1", "History of With history")
		if !evalBool(t, ctx, `document.querySelectorAll('#exec-rows tr').length === 2`) {
			t.Error("the history does not list both runs")
		}
		waitText(t, ctx, "#exec-rows", "Manual")
		// Viewers see no buttons that would fail.
		if evalBool(t, ctx, `!!document.querySelector('form[action$="/run-now"]')`) {
			t.Error("a viewer is offered run now")
		}
		// The status filter narrows the list in place.
		mustOK(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("h-status"), "failed")))
		_, err := chromedp.Run(ctx, chromedp.Evaluate[any](`document.getElementById('h-status').dispatchEvent(new Event('change', {bubbles: true}))`))
		mustOK(t, err)
		waitText(t, ctx, "#exec-rows", "No runs yet")
	})

	t.Run("Screenshots", func(t *testing.T) {
		dir := os.Getenv("GEOETL_SCREENSHOTS")
		if dir == "" {
			t.Skip("set GEOETL_SCREENSHOTS to a folder to save screenshots of the main pages")
		}
		be.screenshots(t, dir)
	})
}

// waitFinished waits for an execution to finish through the scheduler's
// own events.
func waitFinished(t *testing.T, be *browserEnv, id string) {
	t.Helper()
	events, cancel := be.sched.Subscribe(be.tenant)
	defer cancel()
	deadline := time.After(30 * time.Second)
	for {
		e, err := be.store.FindExecutionByID(context.Background(), be.tenant, id)
		mustOK(t, err)
		if e.Status.Finished() {
			return
		}
		select {
		case <-events:
		case <-time.After(time.Second):
		case <-deadline:
			t.Fatalf("execution %s still %s after 30 s", id, e.Status)
		}
	}
}

// screenshots saves the main pages at a desktop and a phone width, for a
// person to look at.
func (be *browserEnv) screenshots(t *testing.T, dir string) {
	mustOK(t, os.MkdirAll(dir, 0o755))
	w := be.workflow("Parcels to GeoPackage", paramWorkflow)
	sc := be.schedule("Nightly parcels", "30 2 * * *", w)
	e, err := be.svc.RunNow(context.Background(), be.admin, sc.ID, nil, true)
	mustOK(t, err)
	waitFinished(t, be, e.ID)
	pages := map[string]string{
		"dashboard": "/", "schedules": "/geoetl/schedules", "editor": "/geoetl/schedules/" + sc.ID + "/edit",
		"detail": "/geoetl/schedules/" + sc.ID, "history": "/geoetl/schedules/" + sc.ID + "/history",
		"execution": "/geoetl/executions/" + e.ID, "workflow": "/geoetl/workflows/" + w.ID,
		"workflows": "/geoetl/workflows", "audit": "/geoetl/audit", "settings": "/geoetl/settings",
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		ctx := be.tab(t, 90*time.Second)
		mustOK(t, chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h, chromedp.EmulateScale(1))))
		mustOK(t, chromedp.Do(ctx, chromedp.Navigate(be.url("/login"))))
		screenshot(t, ctx, filepath.Join(dir, "login-"+size.name+".png"))
		be.signIn(t, ctx, "admin")
		for name, path := range pages {
			mustOK(t, chromedp.Do(ctx, chromedp.Navigate(be.url(path)), chromedp.WaitVisible(chromedp.CSS("h1"))))
			screenshot(t, ctx, filepath.Join(dir, name+"-"+size.name+".png"))
		}
	}
}

func screenshot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	// Quality 100 makes a PNG.
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	mustOK(t, err)
	mustOK(t, os.WriteFile(file, b, 0o644))
}
