package handlers

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
)

// Sign-in attempts allowed: per login name (guessing one user's password)
// and per client address (trying many users). The address limit is looser
// because users behind one proxy or NAT share an address. The address is
// the connection's peer, never X-Forwarded-For, which a client can forge
// (echo's RealIP trusts it when no IP extractor is configured).
var (
	loginPerName = limit{every: 12 * time.Second, burst: 5} // 5 at once, then 5 a minute
	loginPerIP   = limit{every: 3 * time.Second, burst: 20} // 20 at once, then 20 a minute
)

type limit struct {
	every time.Duration
	burst int
}

// limiter keeps one token bucket per key, forgetting idle ones.
type limiter struct {
	mu      sync.Mutex
	l       limit
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(l limit) *limiter { return &limiter{l: l, buckets: map[string]*bucket{}} }

// allow takes one attempt from key's bucket at now.
func (lm *limiter) allow(key string, now time.Time) bool {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if now.Sub(lm.swept) > 10*time.Minute {
		for k, b := range lm.buckets {
			if now.Sub(b.last) > 10*time.Minute {
				delete(lm.buckets, k)
			}
		}
		lm.swept = now
	}
	b := lm.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Every(lm.l.every), lm.l.burst)}
		lm.buckets[key] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}

// loginLimiters holds each Server's limiters; Server is shared with the
// API's files, so the console keeps its state beside it rather than in it.
var loginLimiters sync.Map // *Server → *loginLimits

type loginLimits struct{ byName, byIP *limiter }

func (s *Server) loginLimits() *loginLimits {
	if l, ok := loginLimiters.Load(s); ok {
		return l.(*loginLimits)
	}
	l, _ := loginLimiters.LoadOrStore(s, &loginLimits{newLimiter(loginPerName), newLimiter(loginPerIP)})
	return l.(*loginLimits)
}

// pageLoginPage is GET /login.
func (s *Server) pageLoginPage(c echo.Context) error {
	if _, ok := c.Get(ctxPrincipal).(geoetl.Principal); ok && c.Get(ctxAuthVia) == "session" {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	p := s.page(c, "Sign in", "")
	p.User = ""
	return s.render(c, http.StatusOK, p, views.LoginMain(p, views.LoginData{Next: safeNext(c.QueryParam("next"))}))
}

// pageLogin is POST /login: checks the password, opens a session and
// sets its cookie.
func (s *Server) pageLogin(c echo.Context) error {
	login := strings.TrimSpace(c.FormValue("login"))
	next := safeNext(c.FormValue("next"))
	p := s.page(c, "Sign in", "")
	p.User = ""
	fail := func(status int, msg string) error {
		return s.render(c, status, p, views.LoginMain(p, views.LoginData{Login: login, Next: next, Error: msg}))
	}
	now := time.Now()
	ip := echo.ExtractIPDirect()(c.Request())
	lim := s.loginLimits()
	if !lim.byIP.allow(ip, now) || !lim.byName.allow(strings.ToLower(login), now) {
		c.Response().Header().Set("Retry-After", "60")
		return fail(http.StatusTooManyRequests, "Too many sign-in attempts. Wait a minute, then try again.")
	}
	id, sess, _, err := s.svc.Login(c.Request().Context(), login, c.FormValue("password"))
	if geoetl.ErrorCode(err) == geoetl.EUNAUTHORIZED {
		return fail(http.StatusUnauthorized, service.ErrBadLogin.Message)
	} else if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	return c.Redirect(http.StatusSeeOther, next)
}

// pageLogoutPage is GET /logout: a button, since signing out by a plain
// link would let other sites sign users out.
func (s *Server) pageLogoutPage(c echo.Context) error {
	p := s.page(c, "Sign out", "")
	return s.render(c, http.StatusOK, p, views.LogoutMain(p))
}

// pageLogout is POST /logout: ends the session and clears the cookie.
func (s *Server) pageLogout(c echo.Context) error {
	if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
		if err := s.svc.Logout(c.Request().Context(), ck.Value); err != nil && !geoetl.IsNotFound(err) {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", "/login")
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext keeps a post-login destination only when it is a path on this
// site, so the sign-in page cannot be used to send users elsewhere.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}
