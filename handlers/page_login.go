package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
	"github.com/geoetl/geoetl/views/urls"
)

// handleConsoleLoginPage is GET /login.
func (s *Server) handleConsoleLoginPage(c echo.Context) error {
	if _, ok := c.Get(ctxPrincipal).(geoetl.Principal); ok && c.Get(ctxAuthVia) == "session" {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	p := s.page(c, "Sign in", "")
	p.User = ""
	return s.render(c, http.StatusOK, p, views.LoginMain(p, views.LoginData{Next: safeNext(c.QueryParam("next"))}))
}

// handleConsoleLogin is POST /login: checks the password, opens a session and
// sets its cookie.
func (s *Server) handleConsoleLogin(c echo.Context) error {
	login := strings.TrimSpace(c.FormValue("login"))
	next := safeNext(c.FormValue("next"))
	p := s.page(c, "Sign in", "")
	p.User = ""
	fail := func(status int, msg string) error {
		return s.render(c, status, p, views.LoginMain(p, views.LoginData{Login: login, Next: next, Error: msg}))
	}
	ctx := c.Request().Context()
	now := s.svc.Clock.Now()
	addr := clientAddr(c)
	account, err := s.svc.LoginAccount(ctx, login)
	if err != nil {
		return err
	}
	lim := s.signinLimits()
	if wait := lim.wait(account, addr, now); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-in attempts. Wait %d s, then try again.", secs))
	}
	id, sess, _, err := s.svc.Login(ctx, login, c.FormValue("password"))
	if geoetl.ErrorCode(err) == geoetl.EUNAUTHORIZED {
		lim.fail(account, addr, now)
		return fail(http.StatusUnauthorized, service.ErrBadLogin.Message)
	} else if err != nil {
		return err
	}
	lim.succeed(account, addr)
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	// A new CSRF token with the new session, so a token planted or seen
	// before sign-in is worth nothing after it.
	c.SetCookie(&http.Cookie{
		Name: csrfCookie, Value: service.NewCSRFToken(), Path: "/",
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
		MaxAge: csrfCookieMaxAge,
	})
	return c.Redirect(http.StatusSeeOther, next)
}

// handleConsoleLogoutPage is GET /logout: a button, since signing out by a plain
// link would let other sites sign users out.
func (s *Server) handleConsoleLogoutPage(c echo.Context) error {
	p := s.page(c, "Sign out", "")
	return s.render(c, http.StatusOK, p, views.LogoutMain(p))
}

// handleConsoleLogout is POST /logout: ends the session and clears the cookie.
func (s *Server) handleConsoleLogout(c echo.Context) error {
	if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
		if err := s.svc.Logout(c.Request().Context(), ck.Value); err != nil && !geoetl.IsNotFound(err) {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", urls.Login())
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, urls.Login())
}

// safeNext keeps a post-login destination only when it is a path on this
// site, so the sign-in page cannot be used to send users elsewhere.
// Browsers drop TAB, CR and LF from URLs and read a backslash as a slash,
// so "/\t/evil.example" or "/\\evil.example" would become "//evil.example",
// another site: anything with a control character or a backslash is
// refused outright rather than cleaned.
func safeNext(next string) string {
	if !sameSitePath(next) {
		return urls.Dashboard()
	}
	// Also once decoded: a server or proxy on the way may decode it, and
	// "/%09/evil.example" means nothing good on this site either.
	if dec, err := url.PathUnescape(next); err != nil || !sameSitePath(strings.ReplaceAll(dec, " ", "%20")) {
		return urls.Dashboard()
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return urls.Dashboard()
	}
	return next
}

// sameSitePath reports whether p is a path that no browser can read as
// another origin.
func sameSitePath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || len(p) > 2000 {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || r == utf8.RuneError || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
