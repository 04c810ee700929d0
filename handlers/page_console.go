package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
)

// checkFormTextExcept refuses console requests whose form fields or query
// parameters are not text the stores can keep, with the same check (and
// message) as the API's query parameters and bodies: not UTF-8, or
// holding NUL. Without it a form could store what the API refuses. The
// fields named in skip are left to their handler.
func checkFormTextExcept(skip ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := checkFormText(c, skip); err != nil {
				return err
			}
			return next(c)
		}
	}
}

func checkFormText(c echo.Context, skip []string) error {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return geoetl.Errorf(geoetl.EINVALID, "The form could not be read.")
	}
	for name, values := range r.Form {
		if slices.Contains(skip, name) {
			continue
		}
		if err := service.CheckText("form field", name); err != nil {
			return err
		}
		for _, v := range values {
			if err := service.CheckText(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// consoleCSP allows only this origin's scripts, styles and connections:
// the console loads nothing from elsewhere and runs no inline script.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// isHTMX reports whether htmx made the request (boosted or not).
func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// wantsFragment reports whether the answer should be a fragment rather
// than the whole page: htmx asked, and not for a boosted navigation or a
// history restore, both of which replace the whole page.
func wantsFragment(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-Boosted") == "" && h.Get("HX-History-Restore-Request") == ""
}

// hxTarget returns the id of the element htmx will swap, "" if none.
func hxTarget(c echo.Context) string {
	if !wantsFragment(c) {
		return ""
	}
	return c.Request().Header.Get("HX-Target")
}

// page returns what every view needs to know about the request,
// including the message kept for it by the previous action.
func (s *Server) page(c echo.Context, title, section string) views.Page {
	p := s.basePage(c, title, section)
	p.Flash = takeFlash(c)
	return p
}

// basePage is page without the flash message, for answers that are not a
// page the user navigated to (live updates).
func (s *Server) basePage(c echo.Context, title, section string) views.Page {
	p := principal(c)
	return views.Page{
		Title:   title,
		Section: section,
		User:    p.Actor,
		Role:    p.Role,
		CSRF:    pageCSRF(c),
		Assets:  assetURL,
		Now:     s.svc.Clock.Now(),
	}
}

// pageCSRF is the token to put into forms. When the browser sent fetch
// metadata, echo passes requests by that and keeps no token; the form
// field then stays empty, which is harmless.
func pageCSRF(c echo.Context) string {
	t := csrfToken(c)
	if t == middleware.CSRFUsingSecFetchSite {
		return ""
	}
	return t
}

// render answers with the page's main content as a fragment or inside the
// layout, as the request wants.
func (s *Server) render(c echo.Context, status int, p views.Page, main templ.Component) error {
	if wantsFragment(c) {
		return s.renderHTML(c, status, views.Fragment(p, main))
	}
	return s.renderHTML(c, status, views.Full(p, main))
}

// renderHTML renders into a buffer first, so a failing component never
// leaves half a page, then sends it with the console's headers.
func (s *Server) renderHTML(c echo.Context, status int, comps ...templ.Component) error {
	var buf bytes.Buffer
	ctx := c.Request().Context()
	for _, comp := range comps {
		if err := comp.Render(ctx, &buf); err != nil {
			return err
		}
	}
	h := c.Response().Header()
	h.Add(echo.HeaderVary, "HX-Request")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Content-Security-Policy", consoleCSP)
	return c.HTMLBlob(status, buf.Bytes())
}

// navigate sends the browser to url after a form action: a 303 for plain
// forms, HX-Location for htmx (which fetches url's fragment into the main
// area and pushes it to the history, where a redirect would be followed
// inside the swap).
func (s *Server) navigate(c echo.Context, target string, flash *views.Flash) error {
	if flash != nil {
		s.setFlash(c, flash)
	}
	if isHTMX(c) {
		b, _ := json.Marshal(map[string]string{"path": target, "target": "#main"})
		c.Response().Header().Set("HX-Location", string(b))
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, target)
}

const flashCookie = "geoetl_flash"

// setFlash keeps a message for the next page, across the redirect.
func (s *Server) setFlash(c echo.Context, f *views.Flash) {
	v := url.Values{"k": {f.Kind}, "t": {f.Text}, "l": {f.Link}, "lt": {f.LinkText}}
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: v.Encode(), Path: "/", MaxAge: 60, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// takeFlash returns the message kept for this page and forgets it. Links
// are only kept when they stay on this site.
func takeFlash(c echo.Context) *views.Flash {
	ck, err := c.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	v, err := url.ParseQuery(ck.Value)
	if err != nil || v.Get("t") == "" {
		return nil
	}
	f := &views.Flash{Kind: v.Get("k"), Text: v.Get("t"), Link: v.Get("l"), LinkText: v.Get("lt")}
	if !strings.HasPrefix(f.Link, "/") || strings.HasPrefix(f.Link, "//") {
		f.Link = ""
	}
	return f
}

// renderPageError shows an error as a page, or for htmx as a message in the
// flash area (htmx swaps error answers there, see the layout's config).
func (s *Server) renderPageError(c echo.Context, p Problem) error {
	if p.Status == http.StatusUnauthorized {
		return redirectToLogin(c)
	}
	detail := p.Detail
	if detail == "" {
		detail = p.Title
	}
	for _, field := range views.SortedKeys(p.Errors) {
		detail += " " + field + ": " + strings.Join(p.Errors[field], "; ") + "."
	}
	if isHTMX(c) && c.Request().Header.Get("HX-Boosted") == "" {
		h := c.Response().Header()
		h.Set("HX-Retarget", "#flash")
		h.Set("HX-Reswap", "innerHTML")
		return s.renderHTML(c, p.Status, views.FlashContent(&views.Flash{Kind: "error", Text: detail}))
	}
	pg := s.page(c, p.Title, "")
	return s.render(c, p.Status, pg, views.ErrorMain(pg, p.Status, p.Title, detail))
}

// pathID returns the :id path parameter, refusing what is not a UUID with
// a 404 (an id that cannot exist).
func pathID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !geoetl.IsUUID(id) {
		return "", geoetl.NotFound("Page")
	}
	return strings.ToLower(id), nil
}
