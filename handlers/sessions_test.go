package handlers

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

// api sends a JSON API request with the browser's session cookie and CSRF
// token, as the console's own scripts would.
func (b *browser) api(method, path, body string) *pageResponse {
	b.env.t.Helper()
	req, err := http.NewRequest(method, b.env.http.URL+APIPrefix+path, strings.NewReader(body))
	if err != nil {
		b.env.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", b.csrf())
	res, err := b.client.Do(req)
	if err != nil {
		b.env.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := &pageResponse{t: b.env.t, Code: res.StatusCode, Header: res.Header, Body: string(data)}
	if out.Code >= 500 {
		b.env.t.Fatalf("%s %s answered %d:\n%s", method, path, out.Code, out.Body)
	}
	return out
}

func (env *consoleEnv) userID(name string) string {
	env.t.Helper()
	u, err := env.store.FindUserByLogin(context.Background(), name)
	if err != nil {
		env.t.Fatal(err)
	}
	return u.ID
}

// signedOut reports whether the browser's session no longer works.
func (b *browser) signedOut() bool {
	return b.get("/", nil).Code == http.StatusSeeOther
}

// TestSessions_EndWhenAnAdminChangesThePasswordOrDisables checks that an
// admin's password change ends the user's sessions, and that disabling
// ends them for good: enabling the user again brings none back.
func TestSessions_EndWhenAnAdminChangesThePasswordOrDisables(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	admin := env.signedIn("admin")
	one, two := env.signedIn("editor"), env.signedIn("editor")
	viewer := env.signedIn("viewer")
	id := env.userID("editor")
	admin.api(http.MethodPut, "/users/"+id, `{"role":"editor"}`).want(http.StatusOK)
	if one.signedOut() || two.signedOut() {
		t.Fatal("a role change ended the sessions")
	}
	admin.api(http.MethodPut, "/users/"+id, `{"password":"a brand new password"}`).want(http.StatusOK)
	if !one.signedOut() || !two.signedOut() {
		t.Fatal("sessions outlived the password they came from")
	}
	if viewer.signedOut() || admin.signedOut() {
		t.Fatal("another user's session ended")
	}
	three := env.browser()
	three.post("/login", map[string][]string{"login": {"editor"}, "password": {"a brand new password"}}, nil).want(http.StatusSeeOther)
	admin.api(http.MethodPut, "/users/"+id, `{"disabled":true}`).want(http.StatusOK)
	admin.api(http.MethodPut, "/users/"+id, `{"disabled":false}`).want(http.StatusOK)
	if !three.signedOut() {
		t.Fatal("disabling and enabling brought an old session back")
	}
	// The console's disable button does the same.
	four := env.browser()
	four.post("/login", map[string][]string{"login": {"editor"}, "password": {"a brand new password"}}, nil).want(http.StatusSeeOther)
	admin.post("/geoetl/settings/users/"+id+"/disabled", map[string][]string{"disabled": {"true"}}, nil)
	admin.post("/geoetl/settings/users/"+id+"/disabled", map[string][]string{"disabled": {"false"}}, nil)
	if !four.signedOut() {
		t.Fatal("the console's disable left the session alive")
	}
}

// TestChangeOwnPassword_NeedsTheCurrentOneAndEndsOtherSessions checks the
// self-service change: the current password is required (and a wrong one
// counts as a failed sign-in), the session making the change survives,
// the user's other sessions end; an admin changing their own password
// through the users route must give the current one too.
func TestChangeOwnPassword_NeedsTheCurrentOneAndEndsOtherSessions(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	here, elsewhere := env.signedIn("viewer"), env.signedIn("viewer")
	res := here.api(http.MethodPut, "/me/password", `{"password":"a brand new password"}`).want(http.StatusBadRequest)
	res.has("currentPassword")
	here.api(http.MethodPut, "/me/password", `{"currentPassword":"wrong one","password":"a brand new password"}`).want(http.StatusBadRequest).has("currentPassword")
	here.api(http.MethodPut, "/me/password", `{"currentPassword":"`+consolePassword+`","password":"short"}`).want(http.StatusBadRequest).has("password")
	if elsewhere.signedOut() {
		t.Fatal("a refused change ended a session")
	}
	here.api(http.MethodPut, "/me/password", `{"currentPassword":"`+consolePassword+`","password":"a brand new password"}`).want(http.StatusNoContent)
	if here.signedOut() {
		t.Fatal("the session that changed the password ended")
	}
	if !elsewhere.signedOut() {
		t.Fatal("another session outlived the password change")
	}
	env.browser().post("/login", map[string][]string{"login": {"viewer"}, "password": {consolePassword}}, nil).want(http.StatusUnauthorized)
	env.browser().post("/login", map[string][]string{"login": {"viewer"}, "password": {"a brand new password"}}, nil).want(http.StatusSeeOther)

	// An admin through PUT /users/{own id}.
	admin, adminElsewhere := env.signedIn("admin"), env.signedIn("admin")
	id := env.userID("admin")
	admin.api(http.MethodPut, "/users/"+id, `{"password":"a brand new password"}`).want(http.StatusBadRequest).has("currentPassword")
	admin.api(http.MethodPut, "/users/"+id, `{"password":"a brand new password","currentPassword":"`+consolePassword+`"}`).want(http.StatusOK)
	if admin.signedOut() || !adminElsewhere.signedOut() {
		t.Fatal("admin's own change: want this session kept and the other ended")
	}

	// Guessing the current password is throttled like sign-in.
	guesser := env.signedIn("editor")
	for i := 0; i < signinPerAccountAddr.free; i++ {
		guesser.api(http.MethodPut, "/me/password", `{"currentPassword":"guess","password":"a brand new password"}`).want(http.StatusBadRequest)
	}
	guesser.api(http.MethodPut, "/me/password", `{"currentPassword":"`+consolePassword+`","password":"a brand new password"}`).want(http.StatusTooManyRequests)

	// Tokens belong to the tenant and have no password.
	if err := env.svc.ChangeOwnPassword(context.Background(), geoetl.Principal{TenantID: env.tenant, Role: geoetl.RoleAdmin, TokenID: "t"}, consolePassword, "a brand new password", ""); geoetl.ErrorCode(err) != geoetl.EFORBIDDEN {
		t.Errorf("a token changed a password: %v", err)
	}
}

// TestUsers_TakenNameOrEmailGetsOneNeutralAnswer checks that a name or
// email taken in another tenant is refused exactly as one taken in the
// caller's own, without saying where or which, and that such refusals are
// throttled like failed sign-ins.
func TestUsers_TakenNameOrEmailGetsOneNeutralAnswer(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	acme, globex := env.signedIn("admin"), env.signedIn("globexadmin")
	acme.api(http.MethodPost, "/users", `{"name":"alice","email":"alice@example.org","role":"viewer","password":"long enough pw"}`).want(http.StatusCreated)
	var bodies []string
	for _, tc := range []struct {
		b    *browser
		body string
	}{
		{acme, `{"name":"alice","role":"viewer","password":"long enough pw"}`},                                // same tenant, name
		{globex, `{"name":"alice","role":"viewer","password":"long enough pw"}`},                              // other tenant, name
		{globex, `{"name":"alice2","email":"ALICE@example.org","role":"viewer","password":"long enough pw"}`}, // other tenant, email
		{acme, `{"name":"alice3","email":"alice@example.org","role":"viewer","password":"long enough pw"}`},   // same tenant, email
	} {
		res := tc.b.api(http.MethodPost, "/users", tc.body).want(http.StatusConflict)
		res.has("This name or email cannot be used").lacks("alice", "tenant")
		bodies = append(bodies, res.Body)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("answers differ:\n%s\n%s", bodies[0], b)
		}
	}
	// An email change runs into the same answer.
	id := env.userID("globexadmin")
	globex.api(http.MethodPut, "/users/"+id, `{"email":"alice@example.org"}`).want(http.StatusConflict).has("This name or email cannot be used")
	// The console says the same, and that names are global.
	globex.post("/geoetl/settings/users", map[string][]string{"name": {"alice"}, "role": {"viewer"}, "password": {"long enough pw"}}, nil).
		has("this name or email cannot be used")
	// globex has now had 4 refusals, acme 2: one more for globex and it
	// is throttled; acme is not.
	for i := 0; i < signinPerAccountAddr.free-4; i++ {
		globex.api(http.MethodPost, "/users", `{"name":"alice","role":"viewer","password":"long enough pw"}`).want(http.StatusConflict)
	}
	res := globex.api(http.MethodPost, "/users", `{"name":"fresh-name","role":"viewer","password":"long enough pw"}`).want(http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	acme.api(http.MethodPost, "/users", `{"name":"bob","role":"viewer","password":"long enough pw"}`).want(http.StatusCreated)
}

// TestConsoleForms_RefuseTextTheAPIRefuses checks that console forms and
// query parameters refuse invalid UTF-8 and NUL as the API does, naming
// the field, and store nothing.
func TestConsoleForms_RefuseTextTheAPIRefuses(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	admin := env.signedIn("admin")
	for _, bad := range []string{"bad \xff\xfe name", "nul\x00name"} {
		res := admin.post("/geoetl/settings/users", map[string][]string{"name": {bad}, "role": {"viewer"}, "password": {"long enough pw"}}, nil)
		if res.Code != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", bad, res.Code)
		}
		res.has("name")
		w := env.workflow("W "+geoetl.NewID(), `{"nodes":[]}`)
		res = admin.post("/geoetl/schedules/new", map[string][]string{"name": {bad}, "workflowId": {w.ID}, "cronExpression": {"@daily"}, "timezone": {"UTC"}}, nil)
		if res.Code != http.StatusBadRequest {
			t.Errorf("schedule %q: status %d, want 400", bad, res.Code)
		}
		admin.get("/geoetl/schedules?q="+url.QueryEscape(bad), nil).want(http.StatusBadRequest)
	}
	users, err := env.store.ListUsers(context.Background(), env.tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 {
		t.Errorf("%d users, want the 3 there were", len(users))
	}
}

// TestAccountPage_ChangesOwnPasswordWithTheCurrentOne checks the console's
// self-service form: any role may use it, the current password is needed,
// and the user's other sessions end while this one stays.
func TestAccountPage_ChangesOwnPasswordWithTheCurrentOne(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	here, elsewhere := env.signedIn("viewer"), env.signedIn("viewer")
	here.get("/geoetl/account", nil).want(http.StatusOK).has(`action="/geoetl/account/password"`, `autocomplete="current-password"`)
	here.post("/geoetl/account/password", map[string][]string{"password": {"a brand new password"}}, nil).
		want(http.StatusUnprocessableEntity).has("Current password is not your current password")
	here.post("/geoetl/account/password", map[string][]string{"currentPassword": {"wrong"}, "password": {"a brand new password"}}, nil).
		want(http.StatusUnprocessableEntity)
	here.post("/geoetl/account/password", map[string][]string{"currentPassword": {consolePassword}, "password": {"short"}}, nil).
		want(http.StatusUnprocessableEntity).has("New password must be at least 8 characters")
	if elsewhere.signedOut() {
		t.Fatal("a refused change ended a session")
	}
	here.post("/geoetl/account/password", map[string][]string{"currentPassword": {consolePassword}, "password": {"a brand new password"}}, nil).
		want(http.StatusOK).has("Password changed")
	if here.signedOut() || !elsewhere.signedOut() {
		t.Fatal("want this session kept and the other ended")
	}
	env.browser().post("/login", map[string][]string{"login": {"viewer"}, "password": {"a brand new password"}}, nil).want(http.StatusSeeOther)
}

// TestAudit_ViewersDoNotSeeUsersDetails checks that the audit log shows
// viewers and editors who changed a user, but not the user's email (the
// users routes are admin-only); admins see everything.
func TestAudit_ViewersDoNotSeeUsersDetails(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	admin := env.signedIn("admin")
	admin.api(http.MethodPost, "/users", `{"name":"carol","email":"carol.secret@example.org","role":"viewer","password":"long enough pw"}`).want(http.StatusCreated)
	admin.api(http.MethodPost, "/tokens", `{"name":"ci-token-name","role":"viewer"}`).want(http.StatusCreated)
	for _, who := range []string{"viewer", "editor"} {
		b := env.signedIn(who)
		b.api(http.MethodGet, "/audit?action=user.create", "").want(http.StatusOK).has("user.create").lacks("carol.secret@example.org", "carol")
		b.api(http.MethodGet, "/audit?objectType=token", "").want(http.StatusOK).has("token.create").lacks("ci-token-name")
		b.get("/geoetl/audit?action=user.create", nil).want(http.StatusOK).has("user.create").lacks("carol.secret@example.org")
	}
	admin.api(http.MethodGet, "/audit?action=user.create", "").want(http.StatusOK).has("carol.secret@example.org")
}
