package views

import (
	"time"

	"github.com/a-h/templ"

	"github.com/geoetl/geoetl"
)

// Page is what every page and fragment knows about the request: who is
// signed in, the CSRF token to embed, where the assets are, and the
// current time for relative dates.
type Page struct {
	Title   string
	Section string // the highlighted menu entry: dashboard, schedules, workflows, audit, settings
	User    string // empty on the sign-in page
	Role    geoetl.Role
	CSRF    string
	Assets  func(name string) string
	Now     time.Time
	Flash   *Flash
}

// Flash is a one-off message shown above the page content.
type Flash struct {
	Kind     string // ok, error, info
	Text     string
	Link     string
	LinkText string
}

// Asset returns the cache-busted URL of a static file.
func (p Page) Asset(name string) string {
	if p.Assets == nil {
		return "/static/" + name
	}
	return p.Assets(name)
}

// CanEdit reports whether the user may change schedules and workflows.
func (p Page) CanEdit() bool { return p.Role.Allows(geoetl.RoleEditor) }

// IsAdmin reports whether the user may manage users, tokens and settings.
func (p Page) IsAdmin() bool { return p.Role.Allows(geoetl.RoleAdmin) }

// htmxConfig makes htmx swap error answers (the server sends them as
// fragments aimed at the flash area), keeps its indicator styles out of
// the page (the CSP forbids inline styles; app.css has them), and never
// evaluates script from attributes.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true},{"code":"...","swap":false}]}`

func csrfHeaders(token string) string {
	s, _ := templ.JSONString(map[string]string{"X-CSRF-Token": token})
	return s
}
