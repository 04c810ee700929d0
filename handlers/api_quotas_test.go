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
	"github.com/geoetl/geoetl/db/dbtest"
)

// wantOverLimit checks a 403 problem whose detail names the limit.
func wantOverLimit(t *testing.T, r *apiResponse, limit string) Problem {
	t.Helper()
	p := r.want(http.StatusForbidden).problem()
	if !strings.HasPrefix(p.Detail, limit+": ") {
		t.Fatalf("detail %q does not name the limit %s", p.Detail, limit)
	}
	return p
}

func TestTenantQuotas_SchedulesOverTheLimitAreRefusedWith403(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, dbtest.SQLite(t), Config{})
	e.svc.Limits = geoetl.TenantLimits{MaxSchedules: 2}
	wf := e.createWorkflow("Parcels")
	e.createSchedule("one", wf, nil)
	e.createSchedule("two", wf, nil)
	ed := e.as(geoetl.RoleEditor)
	wantOverLimit(t, ed.post("/schedules", map[string]any{"name": "three", "workflowId": wf, "cronExpression": "0 2 * * *"}), geoetl.LimitMaxSchedules)
	// Another tenant has its own count.
	e.inOther()
	// Updating, and restoring a version, do not add a schedule.
	one := e.createScheduleID(t, "one")
	ed.put("/schedules/"+one, map[string]any{"description": "changed"}).want(http.StatusOK)
	ed.post("/schedules/"+one+"/versions/1/restore", nil).want(http.StatusOK)

	var lim struct {
		Limits []struct {
			Name  string   `json:"name"`
			Limit *float64 `json:"limit"`
			Used  *int     `json:"used"`
			Unit  string   `json:"unit"`
		} `json:"limits"`
	}
	e.as(geoetl.RoleViewer).get("/tenant/limits").want(http.StatusOK).decode(&lim)
	for _, l := range lim.Limits {
		if l.Name == geoetl.LimitMaxSchedules && (l.Limit == nil || *l.Limit != 2 || l.Used == nil || *l.Used != 2 || l.Unit != "schedules") {
			t.Fatalf("tenant-max-schedules shows %+v, want limit 2 used 2", l)
		}
	}
}

// createScheduleID finds a schedule of our tenant by name.
func (e *apiEnv) createScheduleID(t *testing.T, name string) string {
	t.Helper()
	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	e.as(geoetl.RoleViewer).get("/schedules?q=" + url.QueryEscape(name)).want(http.StatusOK).decode(&page)
	for _, it := range page.Items {
		if it.Name == name {
			return it.ID
		}
	}
	t.Fatalf("no schedule %q", name)
	return ""
}

func TestTenantQuotas_TooFrequentSchedulesAreRefusedWith403NamingTheField(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, dbtest.SQLite(t), Config{})
	e.svc.Limits = geoetl.TenantLimits{MinInterval: time.Minute}
	wf := e.createWorkflow("Parcels")
	ed := e.as(geoetl.RoleEditor)
	for _, expr := range []string{"* * * * * *", "0,1 * * * * *", "*/30 * * * * *"} {
		p := wantOverLimit(t, ed.post("/schedules", map[string]any{"name": "fast", "workflowId": wf, "cronExpression": expr}), geoetl.LimitMinInterval)
		if len(p.Errors["cronExpression"]) == 0 {
			t.Fatalf("%s: errors %v do not name cronExpression", expr, p.Errors)
		}
	}
	// Every minute is allowed; in a zone with daylight saving, so is a
	// time that can come closer than a day, since a minute is the limit.
	sc := e.createSchedule("minutely", wf, map[string]any{"cronExpression": "* * * * *", "timezone": "America/New_York"})
	id := sc["id"].(string)
	// An update that makes it faster is refused and changes nothing.
	wantOverLimit(t, ed.put("/schedules/"+id, map[string]any{"cronExpression": "*/10 * * * * *"}), geoetl.LimitMinInterval)
	// Clocks going back repeat 01:xx in New York: an interval expression
	// fires at 01:59:00 EDT and again at 01:00:00 EST, a minute later,
	// while its occurrences are at least 59 minutes apart in UTC.
	e.svc.Limits.MinInterval = 2 * time.Minute
	p := wantOverLimit(t, ed.put("/schedules/"+id, map[string]any{"cronExpression": "0 */59 1 * * *"}), geoetl.LimitMinInterval)
	if !strings.Contains(p.Detail, "1m0s apart (in America/New_York)") {
		t.Fatalf("detail %q does not give the gap and the zone", p.Detail)
	}
	ed.put("/schedules/"+id, map[string]any{"cronExpression": "0 */59 1 * * *", "timezone": "UTC"}).want(http.StatusOK)
	// Restoring a version that is now too frequent is refused too.
	e.svc.Limits.MinInterval = 2 * time.Hour
	wantOverLimit(t, ed.post("/schedules/"+id+"/versions/1/restore", nil), geoetl.LimitMinInterval)
	got := ed.get("/schedules/" + id).want(http.StatusOK).object()
	if got["cronExpression"] != "0 */59 1 * * *" || got["timezone"] != "UTC" {
		t.Fatalf("refused changes were stored: %v %v", got["cronExpression"], got["timezone"])
	}
}

func TestTenantQuotas_ImportReportsEachItemOverALimit(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, dbtest.SQLite(t), Config{})
	e.svc.Limits = geoetl.TenantLimits{MaxSchedules: 3, MinInterval: time.Minute}
	wf := e.createWorkflow("Parcels")
	e.createSchedule("existing", wf, nil)
	items := []map[string]any{
		{"name": "a", "workflowId": wf, "cronExpression": "0 2 * * *"},
		{"name": "too fast", "workflowId": wf, "cronExpression": "*/5 * * * * *"},
		{"name": "b", "workflowId": wf, "cronExpression": "0 3 * * *"},
		{"name": "c", "workflowId": wf, "cronExpression": "0 4 * * *"},
		{"name": "existing", "workflowId": wf, "cronExpression": "* * * * * *"},
	}
	var rep struct {
		Created, Updated, Failed int
		Results                  []struct {
			Index  int
			Name   string
			Action string
			Error  string
			Errors map[string][]string
		}
	}
	e.as(geoetl.RoleEditor).post("/schedules/import", map[string]any{"schedules": items}).want(http.StatusOK).decode(&rep)
	want := []struct{ action, limit string }{{"created", ""}, {"failed", geoetl.LimitMinInterval}, {"created", ""}, {"failed", geoetl.LimitMaxSchedules}, {"failed", geoetl.LimitMinInterval}}
	if len(rep.Results) != len(want) || rep.Created != 2 || rep.Failed != 3 {
		t.Fatalf("report %+v", rep)
	}
	for i, w := range want {
		r := rep.Results[i]
		if r.Action != w.action || (w.limit != "" && !strings.HasPrefix(r.Error, w.limit+": ")) {
			t.Errorf("item %d (%s): %s %q, want %s naming %q", i, r.Name, r.Action, r.Error, w.action, w.limit)
		}
	}
	if len(rep.Results[1].Errors["cronExpression"]) == 0 {
		t.Errorf("the too frequent item's errors %v do not name cronExpression", rep.Results[1].Errors)
	}
}

func TestTenantQuotas_ConcurrentCreatesStopAtTheLimit(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, dbtest.SQLite(t), Config{})
	e.svc.Limits = geoetl.TenantLimits{MaxSchedules: 5}
	wf := e.createWorkflow("Parcels")
	codes := make(chan int, 20)
	for i := range 20 {
		go func() {
			r := e.as(geoetl.RoleEditor).post("/schedules", map[string]any{"name": fmt.Sprintf("s%02d", i), "workflowId": wf, "cronExpression": "0 2 * * *"})
			codes <- r.Code
		}()
	}
	created, refused := 0, 0
	for range 20 {
		switch <-codes {
		case http.StatusCreated:
			created++
		case http.StatusForbidden:
			refused++
		}
	}
	if created != 5 || refused != 15 {
		t.Fatalf("%d created, %d refused; want 5 and 15", created, refused)
	}
}

func TestTenantQuotas_ConsoleShowsTheLimitInTheFormAndOnSettings(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	env.svc.Limits = geoetl.TenantLimits{MaxRuns: 6, MaxSchedules: 1, MinInterval: time.Minute}
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	form := newScheduleForm(w.ID)
	form.Set("cronExpression", "*/10 * * * * *")
	frag := b.post("/geoetl/schedules/new", form, htmx("schedule-form")).want(http.StatusOK)
	frag.has(`id="err-cronExpression"`, "min-interval: occurrences come as close as 10s apart")
	page := b.post("/geoetl/schedules/new", form, nil).want(http.StatusUnprocessableEntity)
	page.has(`id="err-cronExpression"`, "min-interval")

	form.Set("cronExpression", "30 1 * * MON-FRI")
	b.post("/geoetl/schedules/new", form, nil).want(http.StatusSeeOther)
	form.Set("name", "Second")
	page = b.post("/geoetl/schedules/new", form, nil).want(http.StatusUnprocessableEntity)
	page.has("tenant-max-schedules: the tenant has 1 schedules and may have at most 1")
	if _, n, _, _ := env.svc.ListSchedules(context.Background(), env.admin, geoetl.ScheduleFilter{}); n != 1 {
		t.Fatalf("%d schedules, want 1", n)
	}

	for _, user := range []string{"viewer", "admin"} {
		env.signedIn(user).get("/geoetl/settings", nil).want(http.StatusOK).
			has(`id="limits"`, "<code>tenant-max-runs</code>", "6 runs", "0 runs now", "<code>tenant-max-schedules</code>", "1 schedules", "<code>min-interval</code>", "1m0s")
	}
}

func TestTenantQuotas_AWaitingRunShowsWhyInTheAPIAndTheConsole(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Nightly", "0 2 * * *", w)
	reason := geoetl.TenantWaitReason(4, 4)
	now := time.Now().UTC()
	e := &geoetl.Execution{TenantID: env.tenant, ScheduleID: &sc.ID, WorkflowID: w.ID, ScheduledAt: now, DueAt: now,
		Trigger: geoetl.TriggerSchedule, Status: geoetl.ExecPending, WaitReason: &reason}
	if err := env.store.CreateExecution(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("viewer")
	b.get("/geoetl/executions/"+e.ID, nil).want(http.StatusOK).has("Waiting", reason)
	b.get("/geoetl/schedules/"+sc.ID, nil).want(http.StatusOK).has(reason)
	res := b.get(APIPrefix+"/executions/"+e.ID, nil).want(http.StatusOK)
	if !strings.Contains(res.Body, `"waitReason":"`+reason+`"`) {
		t.Fatalf("the API answer lacks the wait reason: %s", res.Body)
	}
}
