package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestLogin_FailuresAreThrottledPerAccountAndAddress checks sign-in
// throttling: only failures count, a user's name and email count as one
// account, the delay is answered with 429 and Retry-After, other accounts
// are not affected, and a forged X-Forwarded-For changes nothing.
func TestLogin_FailuresAreThrottledPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.browser()
	// Right passwords never count: six sign-ins in a row all succeed.
	for i := 0; i < 6; i++ {
		b.post("/login", url.Values{"login": {"editor"}, "password": {consolePassword}}, nil).want(http.StatusSeeOther)
	}
	// Failures by name and by email add up on one account.
	for i := 0; i < signinPerAccountAddr.free; i++ {
		login := "admin"
		if i%2 == 1 {
			login = "ADMIN@example.com"
		}
		b.post("/login", url.Values{"login": {login}, "password": {"guess"}}, nil).want(http.StatusUnauthorized)
	}
	res := b.post("/login", url.Values{"login": {"admin@example.com"}, "password": {consolePassword}}, nil).want(http.StatusTooManyRequests)
	res.has("Too many failed sign-in attempts")
	if ra := res.Header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1 (the first delay)", ra)
	}
	// Other accounts from the same address are not delayed.
	b.post("/login", url.Values{"login": {"viewer"}, "password": {consolePassword}}, nil).want(http.StatusSeeOther)
	// A forged X-Forwarded-For does not buy a fresh allowance.
	b.post("/login", url.Values{"login": {"admin"}, "password": {consolePassword}}, http.Header{"X-Forwarded-For": {"203.0.113.9"}}).want(http.StatusTooManyRequests)
}

// TestSigninLimits_DelayGrowsAndSuccessClears pins the back-off: free
// failures, then a delay that doubles per failure up to the cap, per
// account and address; the account's count across addresses; the
// address's count across accounts; a success clearing the account only.
func TestSigninLimits_DelayGrowsAndSuccessClears(t *testing.T) {
	t.Parallel()
	l := &signinLimits{accountAddr: newBackoff(signinPerAccountAddr), account: newBackoff(signinPerAccount), addr: newBackoff(signinPerAddr)}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		if w := l.wait("user:a", "10.0.0.1", now); w != 0 {
			t.Fatalf("failure %d: wait %v before the free allowance is used", i, w)
		}
		l.fail("user:a", "10.0.0.1", now)
	}
	var got []time.Duration
	for i := 0; i < 4; i++ {
		w := l.wait("user:a", "10.0.0.1", now)
		got = append(got, w)
		now = now.Add(w)
		l.fail("user:a", "10.0.0.1", now)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	// The real user on another machine is not delayed by that.
	if w := l.wait("user:a", "10.0.0.2", now); w != 0 {
		t.Errorf("another address waits %v", w)
	}
	if d := signinPerAccountAddr.delay(1000); d != 5*time.Minute {
		t.Errorf("delay after 1000 failures = %v, want the 5 min cap", d)
	}
	// Guessing spread over many addresses still slows down the account.
	for i := 0; i < signinPerAccount.free; i++ {
		l.fail("user:b", "10.1.0."+strconv.Itoa(i), now)
	}
	if w := l.wait("user:b", "10.2.0.1", now); w != time.Second {
		t.Errorf("account wait from a fresh address = %v, want 1s", w)
	}
	l.succeed("user:b", "10.2.0.1")
	if w := l.wait("user:b", "10.2.0.1", now); w != 0 {
		t.Errorf("after a success the account still waits %v", w)
	}
	// Many accounts from one address slow that address down, and a
	// success on one of them does not reset the address.
	for i := 0; i < signinPerAddr.free; i++ {
		l.fail("login:x"+strconv.Itoa(i), "10.9.9.9", now)
	}
	l.succeed("user:c", "10.9.9.9")
	if w := l.wait("user:d", "10.9.9.9", now); w != time.Second {
		t.Errorf("address wait = %v, want 1s", w)
	}
	// Counts are forgotten after a quiet spell.
	if w := l.wait("user:a", "10.0.0.1", now.Add(backoffForget+time.Second)); w != 0 {
		t.Errorf("wait after %v of quiet = %v", backoffForget, w)
	}
}

// TestLogin_RenewsTheCSRFCookie checks that signing in replaces the CSRF
// token the browser had before, and that only the new one works after.
func TestLogin_RenewsTheCSRFCookie(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.browser()
	b.get("/login", nil).want(http.StatusOK)
	u, _ := url.Parse(env.http.URL)
	csrf := func() string {
		for _, ck := range b.client.Jar.Cookies(u) {
			if ck.Name == csrfCookie {
				return ck.Value
			}
		}
		return ""
	}
	before := csrf()
	if before == "" {
		t.Fatal("no CSRF cookie before sign-in")
	}
	b.post("/login", url.Values{"login": {"admin"}, "password": {consolePassword}, "csrf": {before}}, nil).want(http.StatusSeeOther)
	after := csrf()
	if after == "" || after == before {
		t.Fatalf("CSRF cookie %q after sign-in, was %q", after, before)
	}
	b.do(http.MethodPost, "/logout", url.Values{"csrf": {before}}, nil).want(http.StatusForbidden)
	b.do(http.MethodPost, "/logout", url.Values{"csrf": {after}}, nil).want(http.StatusSeeOther)
}

// TestLogin_BadNextIsDroppedAndTheUserSignsIn checks, through the form and
// the sign-in page, that a destination off this site is replaced by "/"
// while the sign-in itself succeeds.
func TestLogin_BadNextIsDroppedAndTheUserSignsIn(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	for _, next := range []string{
		"/\t/evil.example", "/\r/evil.example", "/\n/evil.example", "/x\t", "\t//evil.example",
		"//evil.example", `/\evil.example`, `/\/evil.example`, "/a\\b", "https://evil.example/",
		"javascript:alert(1)", "/%09/evil.example", " /ok", "/\u2028/evil.example", "/\x00/x", "/\x7f/x",
	} {
		b := env.browser()
		if next == "/%09/evil.example" {
			// As sent in a URL: the query is decoded to a TAB.
			res := b.get("/login?next=%2F%09%2Fevil.example", nil).want(http.StatusOK)
			res.has(`name="next" value="/"`)
		}
		res := b.post("/login", url.Values{"login": {"admin"}, "password": {consolePassword}, "next": {next}}, nil).want(http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/" {
			t.Errorf("next %q: Location = %q, want /", next, loc)
		}
		if sessionCookie(res) == nil {
			t.Errorf("next %q: not signed in", next)
		}
		// Signed in already, the sign-in page redirects too: same rule.
		res = b.get("/login?next="+url.QueryEscape(next), nil).want(http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/" {
			t.Errorf("signed in, next %q: Location = %q, want /", next, loc)
		}
	}
	res := env.browser().post("/login", url.Values{"login": {"admin"}, "password": {consolePassword}, "next": {"/geoetl/schedules?q=a%20b#x"}}, nil).want(http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/geoetl/schedules?q=a%20b#x" {
		t.Errorf("a good next was changed to %q", loc)
	}
}
