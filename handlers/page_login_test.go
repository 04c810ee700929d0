package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// sessionCookie returns the session cookie a response sets, or nil.
func sessionCookie(r *pageResponse) *http.Cookie {
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == SessionCookie {
			return ck
		}
	}
	return nil
}

// TestLogin_ByNameOrEmailSetsAHardenedCookie checks sign-in by user name
// and by email, and the session cookie's attributes.
func TestLogin_ByNameOrEmailSetsAHardenedCookie(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	for _, login := range []string{"editor", "EDITOR@example.com"} {
		b := env.browser()
		res := b.post("/login", url.Values{"login": {login}, "password": {consolePassword}, "next": {"/geoetl/audit"}}, nil).want(http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/geoetl/audit" {
			t.Errorf("%s: Location = %q", login, loc)
		}
		ck := sessionCookie(res)
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
			t.Fatalf("%s: session cookie %+v", login, ck)
		}
		b.get("/geoetl/audit", nil).want(http.StatusOK).has("Sign out editor")
	}
}

// TestLogin_SecureCookieBehindTLS checks the Secure flag when the console
// is served over TLS (SecureCookies).
func TestLogin_SecureCookieBehindTLS(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	env.srv.cfg.SecureCookies = true
	res := env.browser().post("/login", url.Values{"login": {"admin"}, "password": {consolePassword}}, nil).want(http.StatusSeeOther)
	if ck := sessionCookie(res); ck == nil || !ck.Secure {
		t.Fatalf("session cookie %+v, want Secure", ck)
	}
}

// TestLogin_WrongPasswordSaysSoAndKeepsTheName checks the failed sign-in:
// one message whatever was wrong, the name kept (escaped), no cookie.
func TestLogin_WrongPasswordSaysSoAndKeepsTheName(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.browser()
	for _, login := range []string{"admin", "nobody", `"><b>x</b>`} {
		res := b.post("/login", url.Values{"login": {login}, "password": {"wrong password"}}, nil).want(http.StatusUnauthorized)
		res.has("Wrong user name, email or password", `aria-invalid="true"`).lacks("<b>x</b>")
		if sessionCookie(res) != nil {
			t.Errorf("%s: a failed sign-in set a session cookie", login)
		}
	}
	b.get("/", nil).want(http.StatusSeeOther)
}

// TestLogin_NextStaysOnThisSite checks that the post-login destination
// cannot send the user to another site.
func TestLogin_NextStaysOnThisSite(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"/geoetl/schedules?q=x": "/geoetl/schedules?q=x", "": "/", "//evil.example/": "/",
		"https://evil.example/": "/", `/\evil.example`: "/", "/ok\r\nSet-Cookie: x=1": "/",
	}
	for in, want := range cases {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLogout_EndsTheSession checks that signing out is a POST (a link
// could be triggered by another site) and that the old cookie no longer
// works afterwards.
func TestLogout_EndsTheSession(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.signedIn("admin")
	u, _ := url.Parse(env.http.URL)
	var old string
	for _, ck := range b.client.Jar.Cookies(u) {
		if ck.Name == SessionCookie {
			old = ck.Value
		}
	}
	b.get("/logout", nil).want(http.StatusOK).has(`action="/logout"`)
	b.get("/", nil).want(http.StatusOK) // GET /logout signed nobody out
	res := b.post("/logout", nil, nil).want(http.StatusSeeOther)
	if res.Header.Get("Location") != "/login" {
		t.Errorf("Location = %q", res.Header.Get("Location"))
	}
	b.get("/", nil).want(http.StatusSeeOther)
	// The old session id is dead on the server, not just forgotten here.
	replay := env.browser()
	replay.client.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: old, Path: "/"}})
	replay.get("/", nil).want(http.StatusSeeOther)
	if !strings.HasPrefix(env.signedIn("admin").get("/", htmx("main")).Body, "<title>") {
		t.Error("signing in again does not work")
	}
}

// TestLogin_FormNeedsTheCSRFToken checks that the sign-in form itself is
// protected, so another site cannot sign a browser into its account.
func TestLogin_FormNeedsTheCSRFToken(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.browser()
	b.do(http.MethodPost, "/login", url.Values{"login": {"admin"}, "password": {consolePassword}}, nil).want(http.StatusForbidden)
	b.post("/login", url.Values{"login": {"admin"}, "password": {consolePassword}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}).want(http.StatusForbidden)
}
