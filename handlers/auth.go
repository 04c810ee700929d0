package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/views/urls"
)

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "geoetl_session"

const (
	ctxPrincipal = "geoetl.principal"
	ctxSession   = "geoetl.session"
	ctxAuthVia   = "geoetl.authvia" // "token" or "session"
)

// authenticate resolves the caller from a bearer token or the session
// cookie. It never refuses a request itself; routes that need a caller
// use requireAuth, so bad credentials on public routes are harmless.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
			scheme, token, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				c.Set(ctxAuthVia, "bad")
				return next(c)
			}
			p, err := s.svc.AuthenticateToken(ctx, strings.TrimSpace(token))
			if err != nil {
				if geoetl.ErrorCode(err) != geoetl.EUNAUTHORIZED {
					return err
				}
				c.Set(ctxAuthVia, "bad")
				return next(c)
			}
			c.Set(ctxPrincipal, p)
			c.Set(ctxAuthVia, "token")
			return next(c)
		}
		if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
			p, sess, err := s.svc.AuthenticateSession(ctx, ck.Value)
			if err == nil {
				c.Set(ctxPrincipal, p)
				c.Set(ctxSession, sess)
				c.Set(ctxAuthVia, "session")
			} else if geoetl.ErrorCode(err) != geoetl.EUNAUTHORIZED {
				return err
			}
		}
		return next(c)
	}
}

// requireAuth refuses callers without valid credentials: 401 problem for
// the API, a redirect to the sign-in page for the console.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := c.Get(ctxPrincipal).(geoetl.Principal); ok {
			return next(c)
		}
		if isAPI(c) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="geoetl"`)
			msg := "Authentication required: send Authorization: Bearer <token>."
			if c.Get(ctxAuthVia) == "bad" {
				msg = "Invalid or revoked token."
			}
			return geoetl.Errorf(geoetl.EUNAUTHORIZED, "%s", msg)
		}
		return redirectToLogin(c)
	}
}

// redirectToLogin sends a browser to the sign-in page, remembering where
// it wanted to go. HTMX requests get HX-Redirect, since a 302 would be
// followed inside the fragment swap.
func redirectToLogin(c echo.Context) error {
	target := urls.Login()
	if r := c.Request(); r.Method == http.MethodGet && r.URL.Path != urls.Dashboard() {
		target += "?next=" + urlQueryEscape(r.URL.RequestURI())
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", target)
		return c.NoContent(http.StatusUnauthorized)
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// principal returns the authenticated caller; only valid behind
// requireAuth.
func principal(c echo.Context) geoetl.Principal {
	p, _ := c.Get(ctxPrincipal).(geoetl.Principal)
	return p
}

// session returns the console session, or nil for token callers.
func session(c echo.Context) *geoetl.Session {
	s, _ := c.Get(ctxSession).(*geoetl.Session)
	return s
}

// csrfMiddleware protects state changes made with the session cookie,
// using echo's CSRF middleware: browsers pass by fetch metadata
// (Sec-Fetch-Site: same-origin), other clients by the X-CSRF-Token header or
// the csrf form field matching the CSRF cookie. API callers with a bearer
// token are exempt, since a browser never sends one on its own; API
// callers with no credentials are left to requireAuth's 401.
func (s *Server) csrfMiddleware() echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		Skipper: func(c echo.Context) bool {
			return isAPI(c) && c.Get(ctxAuthVia) != "session"
		},
		TokenLookup:    "header:X-CSRF-Token,form:csrf",
		ContextKey:     CSRFContextKey,
		CookieName:     csrfCookie,
		CookieMaxAge:   csrfCookieMaxAge,
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.cfg.SecureCookies,
		CookieSameSite: http.SameSiteStrictMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return geoetl.Errorf(geoetl.EFORBIDDEN, "Missing or wrong CSRF token; reload the page and try again.")
		},
	})
}

// csrfCookie holds the CSRF token; sign-in replaces it.
const (
	csrfCookie       = "geoetl_csrf"
	csrfCookieMaxAge = 86400 // echo's default
)

// CSRFContextKey is where the CSRF token for forms is kept in the echo
// context; pages put it in forms and in hx-headers.
const CSRFContextKey = "csrf"

// csrfToken returns the CSRF token to embed in the page being rendered.
func csrfToken(c echo.Context) string {
	t, _ := c.Get(CSRFContextKey).(string)
	return t
}
