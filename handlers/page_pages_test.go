package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

// TestConsolePages_FullPageOrFragmentByHTMXHeaders checks every page: a
// plain request gets the whole document, an htmx request its fragment, and
// boosted navigations and history restores the whole document again; all
// vary on HX-Request so caches keep them apart.
func TestConsolePages_FullPageOrFragmentByHTMXHeaders(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Nightly parcels", "0 2 * * *", w)
	e, err := env.svc.RunNow(context.Background(), env.admin, sc.ID, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("admin")
	pages := map[string]string{
		"/":                                       "Dashboard",
		"/geoetl/schedules":                       "Nightly parcels",
		"/geoetl/schedules/new":                   "New schedule",
		"/geoetl/schedules/" + sc.ID:              "Version history",
		"/geoetl/schedules/" + sc.ID + "/edit":    "Edit schedule",
		"/geoetl/schedules/" + sc.ID + "/history": "History of Nightly parcels",
		"/geoetl/executions/" + e.ID:              "Run of Parcels",
		"/geoetl/workflows":                       "Parcels",
		"/geoetl/workflows/" + w.ID:               "Node catalog",
		"/geoetl/workflows/new":                   "New workflow",
		"/geoetl/audit":                           "schedule.create",
		"/geoetl/settings":                        "API tokens",
		"/logout":                                 "Sign out",
	}
	for path, marker := range pages {
		t.Run(path, func(t *testing.T) {
			full := b.get(path, nil).want(http.StatusOK).has(marker)
			if !full.isFullPage() || !strings.Contains(full.Body, `id="main"`) {
				t.Fatalf("plain request did not get the whole page:\n%s", full.Body)
			}
			if !strings.Contains(strings.Join(full.Header.Values("Vary"), ","), "HX-Request") {
				t.Errorf("Vary = %q, want it to name HX-Request", full.Header.Values("Vary"))
			}
			if csp := full.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP = %q", csp)
			}
			frag := b.get(path, htmx("main")).want(http.StatusOK).has(marker, "<title>")
			if frag.isFullPage() || strings.Contains(frag.Body, `id="main"`) {
				t.Fatalf("htmx request got the whole page:\n%s", frag.Body)
			}
			boosted := htmx("")
			boosted.Set("HX-Boosted", "true")
			if r := b.get(path, boosted).want(http.StatusOK); !r.isFullPage() {
				t.Errorf("boosted request got a fragment")
			}
			restore := htmx("")
			restore.Set("HX-History-Restore-Request", "true")
			if r := b.get(path, restore).want(http.StatusOK); !r.isFullPage() {
				t.Errorf("history restore got a fragment")
			}
		})
	}
}

// TestConsole_SignedOutPagesRedirectToLogin checks that pages send a
// browser to the sign-in page, remembering where it wanted to go, and
// htmx requests get HX-Redirect (a 302 would land inside the swap).
func TestConsole_SignedOutPagesRedirectToLogin(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.browser()
	r := b.get("/geoetl/schedules?status=paused", nil).want(http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/login?next=%2Fgeoetl%2Fschedules%3Fstatus%3Dpaused" {
		t.Errorf("Location = %q", loc)
	}
	r = b.get("/geoetl/schedules", htmx("main"))
	if r.Header.Get("HX-Redirect") == "" {
		t.Errorf("htmx request got no HX-Redirect (status %d)", r.Code)
	}
}

// TestConsole_OtherTenantsObjectsAreNotFound checks tenant isolation on
// the pages: another tenant's schedule is a 404 page, as if missing.
func TestConsole_OtherTenantsObjectsAreNotFound(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Mine", "0 2 * * *", w)
	b := env.signedIn("globexadmin")
	b.get("/geoetl/schedules/"+sc.ID, nil).want(http.StatusNotFound).has("not found")
	b.get("/geoetl/workflows/"+w.ID, nil).want(http.StatusNotFound)
	b.post("/geoetl/schedules/"+sc.ID+"/pause", nil, nil).want(http.StatusNotFound)
	b.get("/geoetl/schedules", nil).want(http.StatusOK).lacks("Mine")
	got, err := env.store.FindScheduleByID(context.Background(), env.tenant, sc.ID)
	if err != nil || got.Status != geoetl.StatusActive {
		t.Fatalf("the other tenant's pause reached the schedule: %v %v", got.Status, err)
	}
}
