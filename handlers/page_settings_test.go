package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// TestSettings_TokenSecretIsShownOnce checks that a new API token's secret
// appears in the answer to its creation and nowhere after, and that it
// works as a bearer token until revoked.
func TestSettings_TokenSecretIsShownOnce(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	b := env.signedIn("admin")
	res := b.post("/geoetl/settings/tokens", url.Values{"name": {"ci pipeline"}, "role": {"editor"}}, htmx("main")).want(http.StatusOK)
	m := regexp.MustCompile(`id="new-token" type="text" readonly value="(` + service.TokenPrefix + `[a-z0-9]+)"`).FindStringSubmatch(res.Body)
	if m == nil {
		t.Fatalf("no token shown:\n%s", res.Body)
	}
	secret := m[1]
	res.has("shown only once", "ci pipeline")
	p, err := env.svc.AuthenticateToken(ctx, secret)
	if err != nil || p.Role != geoetl.RoleEditor || p.TenantID != env.tenant {
		t.Fatalf("the shown token does not authenticate: %+v %v", p, err)
	}
	again := b.get("/geoetl/settings", nil).want(http.StatusOK)
	again.has("ci pipeline", secret[:len(service.TokenPrefix)+6]).lacks(secret)

	toks, _ := env.svc.ListTokens(ctx, env.admin)
	b.post("/geoetl/settings/tokens/"+toks[0].ID+"/revoke", nil, htmx("main")).want(http.StatusOK).has("Revoked")
	if _, err := env.svc.AuthenticateToken(ctx, secret); err == nil {
		t.Fatal("a revoked token still authenticates")
	}
	b.post("/geoetl/settings/tokens", url.Values{"name": {""}, "role": {"editor"}}, htmx("main")).want(http.StatusOK).has(`id="err-name"`)
}

// TestSettings_UsersAndRoles checks adding a user with field errors shown,
// changing a role, and that an admin cannot demote themselves.
func TestSettings_UsersAndRoles(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	b := env.signedIn("admin")
	b.get("/geoetl/settings", nil).want(http.StatusOK).has("editor@example.com", "Add a user")
	b.post("/geoetl/settings/users", url.Values{"name": {"bad name"}, "email": {"nope"}, "password": {"short"}, "role": {"editor"}}, nil).
		want(http.StatusUnprocessableEntity).has(`id="err-name"`, `id="err-email"`, `id="err-password"`, `value="bad name"`)
	b.post("/geoetl/settings/users", url.Values{"name": {"carol"}, "email": {"carol@example.com"}, "password": {consolePassword}, "role": {"editor"}}, htmx("main")).
		want(http.StatusOK).has("Added the user carol.")
	c := env.signedIn("carol")
	c.get("/geoetl/schedules/new", nil).want(http.StatusOK)
	c.get("/geoetl/settings", nil).want(http.StatusOK).has("managed by admins").lacks("API tokens", "Add a user")
	c.post("/geoetl/settings/tokens", url.Values{"name": {"x"}, "role": {"admin"}}, nil).want(http.StatusForbidden)

	users, _ := env.svc.ListUsers(ctx, env.admin)
	var carolID string
	for _, u := range users {
		if u.Name == "carol" {
			carolID = u.ID
		}
	}
	b.post("/geoetl/settings/users/"+carolID+"/role", url.Values{"role": {"viewer"}}, htmx("main")).want(http.StatusOK).has("carol is now viewer")
	c.get("/geoetl/schedules/new", nil).want(http.StatusForbidden)
	res := b.post("/geoetl/settings/users/"+env.admin.UserID+"/role", url.Values{"role": {"viewer"}}, htmx("main")).want(http.StatusConflict)
	res.has("cannot demote")

	// Disabling ends carol's access at once, session included.
	b.post("/geoetl/settings/users/"+carolID+"/disabled", url.Values{"disabled": {"true"}}, htmx("main")).want(http.StatusOK).has("carol is disabled.", "Enable carol")
	c.get("/", nil).want(http.StatusSeeOther)
	env.browser().post("/login", url.Values{"login": {"carol"}, "password": {consolePassword}}, nil).want(http.StatusUnauthorized)
	b.post("/geoetl/settings/users/"+carolID+"/disabled", url.Values{"disabled": {"false"}}, htmx("main")).want(http.StatusOK).has("carol is enabled.")
	env.signedIn("carol")
}

// TestSettings_WebhookSecretShownAndRotated checks the webhook secret:
// created on first view, shown to admins, replaced by rotation.
func TestSettings_WebhookSecretShownAndRotated(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	b := env.signedIn("admin")
	b.get("/geoetl/settings", nil).want(http.StatusOK).has("Webhook signing secret")
	before, err := env.store.FindTenantByID(ctx, env.tenant)
	if err != nil || before.WebhookSecret == "" {
		t.Fatalf("no secret after the first view: %v", err)
	}
	b.get("/geoetl/settings", nil).has(`id="secret" type="text" readonly value="` + before.WebhookSecret + `"`)
	b.post("/geoetl/settings/webhook-secret/rotate", nil, htmx("main")).want(http.StatusOK).has("Rotated the webhook secret")
	after, _ := env.store.FindTenantByID(ctx, env.tenant)
	if after.WebhookSecret == before.WebhookSecret || after.PreviousWebhookSecret != before.WebhookSecret {
		t.Fatalf("rotation: new %q, previous %q (was %q)", after.WebhookSecret, after.PreviousWebhookSecret, before.WebhookSecret)
	}
	env.signedIn("editor").post("/geoetl/settings/webhook-secret/rotate", nil, nil).want(http.StatusForbidden)
}

// TestAuditPage_ListsChangesWithFilters checks the audit log page.
func TestAuditPage_ListsChangesWithFilters(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Audited", "0 2 * * *", w)
	if _, err := env.svc.PauseSchedule(ctx, env.admin, sc.ID, "why not"); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("viewer")
	all := b.get("/geoetl/audit", nil).want(http.StatusOK)
	all.has("<code>schedule.pause</code>", "<code>schedule.create</code>", "<code>workflow.create</code>", `href="/geoetl/schedules/`+sc.ID+`"`, "admin")
	b.get("/geoetl/audit?objectType=workflow", nil).want(http.StatusOK).has("<code>workflow.create</code>").lacks("<code>schedule.pause</code>")
	b.get("/geoetl/audit?action=schedule.pause", nil).want(http.StatusOK).has("<code>schedule.pause</code>").lacks("<code>workflow.create</code>")
	env.signedIn("globexadmin").get("/geoetl/audit", nil).want(http.StatusOK).lacks("<code>schedule.pause</code>", "Audited")
}

// TestDashboard_CountsRunsUpcomingAndFailures checks the dashboard's
// figures against what the store holds.
func TestDashboard_CountsRunsUpcomingAndFailures(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	soon := env.schedule("Due soon", "*/5 * * * *", w)
	env.schedule("Due next year", "0 0 1 1 *", w)
	p := env.schedule("Paused one", "0 2 * * *", w)
	if _, err := env.svc.PauseSchedule(ctx, env.admin, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	// One run that failed, recorded as the scheduler records it.
	e, err := env.svc.RunNow(ctx, env.admin, soon.ID, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := env.store.StartExecutions(ctx, []geoetl.ExecutionStart{{ExecutionID: e.ID, InstanceID: "test", ExecutedAt: now}}); err != nil {
		t.Fatal(err)
	}
	msg, ms := "source unreachable", int64(40)
	e.Status, e.ErrorMessage, e.CompletedAt, e.DurationMs, e.ExecutedAt = geoetl.ExecFailed, &msg, &now, &ms, &now
	if err := env.store.FinishExecutions(ctx, []geoetl.ExecutionResult{{Execution: e}}); err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("viewer")
	page := b.get("/", nil).want(http.StatusOK)
	page.has("3 schedules, 1 workflow", "1 run ·", "0 % succeeded", "Due soon", "source unreachable", `href="/geoetl/executions/`+e.ID+`"`,
		`role="img"`, "Runs per hour over the last 24 hours: 1 run, 1 failed", `class="bar-bad"`)
	page.lacks("Due next year") // not within the next hours
	active := textBetween(t, page.Body, `href="/geoetl/schedules?status=active"`, "</a>")
	if !strings.Contains(active, `<span class="count">2</span>`) {
		t.Errorf("active count: %s", active)
	}
}
