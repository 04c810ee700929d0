package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/views"
)

// handleConsoleAuditPage is GET /geoetl/audit: the tenant's changes, newest
// first, filtered by object type and action.
func (s *Server) handleConsoleAuditPage(c echo.Context) error {
	d := views.AuditData{ObjectType: strings.TrimSpace(c.QueryParam("objectType")), Action: strings.TrimSpace(c.QueryParam("action"))}
	items, total, next, err := s.svc.ListAudit(c.Request().Context(), principal(c), geoetl.AuditFilter{
		ObjectType: d.ObjectType, Action: d.Action, Page: geoetl.Page{Limit: 50, Cursor: c.QueryParam("cursor")},
	})
	if err != nil {
		return err
	}
	d.Items, d.Total, d.NextCursor = items, total, next
	pg := s.page(c, "Audit log", "audit")
	return s.render(c, http.StatusOK, pg, views.AuditMain(pg, d))
}

// handleConsoleSettingsPage is GET /geoetl/settings.
func (s *Server) handleConsoleSettingsPage(c echo.Context) error {
	return s.renderSettings(c, http.StatusOK, views.SettingsData{})
}

// renderSettings fills in the lists and renders the page with what an
// action left in d (a form with errors, a new token, a message).
func (s *Server) renderSettings(c echo.Context, status int, d views.SettingsData) error {
	ctx := c.Request().Context()
	p := principal(c)
	pg := s.page(c, "Settings", "settings")
	if pg.IsAdmin() {
		var err error
		if d.Users, err = s.svc.ListUsers(ctx, p); err != nil {
			return err
		}
		if d.Tokens, err = s.svc.ListTokens(ctx, p); err != nil {
			return err
		}
		d.Secret, err = s.svc.WebhookSecret(ctx, p)
		if err != nil {
			d.SecretNote = "The webhook secret cannot be read: " + geoetl.ErrorMessage(err)
		}
	}
	limits, err := s.svc.TenantLimits(ctx, p)
	if err != nil {
		return err
	}
	d.Limits = limitRows(limits)
	if d.UserForm.Role == "" {
		d.UserForm.Role = string(geoetl.RoleViewer)
	}
	if d.TokenForm.Role == "" {
		d.TokenForm.Role = string(geoetl.RoleViewer)
	}
	return s.render(c, status, pg, views.SettingsMain(pg, d))
}

// formStatus is the status for a form answered with its errors: 200 for
// htmx, which only swaps what it is told to, 422 for a plain form.
func formStatus(c echo.Context) int {
	if isHTMX(c) {
		return http.StatusOK
	}
	return http.StatusUnprocessableEntity
}

// handleConsoleUserCreate is POST /geoetl/settings/users.
func (s *Server) handleConsoleUserCreate(c echo.Context) error {
	uf := views.UserForm{Name: strings.TrimSpace(c.FormValue("name")), Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role")}
	u := &geoetl.User{Name: uf.Name, Email: uf.Email, Role: geoetl.Role(uf.Role)}
	if err := s.checkNameProbe(c); err != nil {
		return err
	}
	_, err := s.svc.CreateUser(c.Request().Context(), principal(c), u, c.FormValue("password"))
	s.countNameProbe(c, err)
	switch geoetl.ErrorCode(err) {
	case "":
		return s.renderSettings(c, http.StatusOK, views.SettingsData{Message: "Added the user " + uf.Name + "."})
	case geoetl.EINVALID:
		uf.Errors = geoetl.ErrorFields(err)
	case geoetl.ECONFLICT:
		uf.Errors = map[string][]string{"name": {"this name or email cannot be used; names and emails are unique across all tenants"}}
	default:
		return err
	}
	return s.renderSettings(c, formStatus(c), views.SettingsData{UserForm: uf})
}

// handleConsoleUserRole is POST /geoetl/settings/users/{id}/role.
func (s *Server) handleConsoleUserRole(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	role := geoetl.Role(c.FormValue("role"))
	u, err := s.svc.UpdateUser(c.Request().Context(), principal(c), id, geoetl.UserUpdate{Role: &role}, nil)
	if err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, views.SettingsData{Message: u.Name + " is now " + string(u.Role) + "."})
}

// handleConsoleUserDisabled is POST /geoetl/settings/users/{id}/disabled: a
// disabled user cannot sign in, and their sessions stop working.
func (s *Server) handleConsoleUserDisabled(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	disabled := c.FormValue("disabled") == "true"
	u, err := s.svc.UpdateUser(c.Request().Context(), principal(c), id, geoetl.UserUpdate{Disabled: &disabled}, nil)
	if err != nil {
		return err
	}
	word := "enabled"
	if u.Disabled {
		word = "disabled"
	}
	return s.renderSettings(c, http.StatusOK, views.SettingsData{Message: u.Name + " is " + word + "."})
}

// handleConsoleTokenCreate is POST /geoetl/settings/tokens: the new secret is in
// this one answer and nowhere else.
func (s *Server) handleConsoleTokenCreate(c echo.Context) error {
	tf := views.TokenForm{Name: strings.TrimSpace(c.FormValue("name")), Role: c.FormValue("role")}
	t, secret, err := s.svc.CreateToken(c.Request().Context(), principal(c), tf.Name, geoetl.Role(tf.Role))
	if geoetl.ErrorCode(err) == geoetl.EINVALID {
		tf.Errors = geoetl.ErrorFields(err)
		return s.renderSettings(c, formStatus(c), views.SettingsData{TokenForm: tf})
	} else if err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, views.SettingsData{NewToken: secret, Message: "Created the token " + t.Name + "."})
}

// handleConsoleTokenRevoke is POST /geoetl/settings/tokens/{id}/revoke.
func (s *Server) handleConsoleTokenRevoke(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.svc.RevokeToken(c.Request().Context(), principal(c), id); err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, views.SettingsData{Message: "Revoked the token."})
}

// handleConsoleSecretRotate is POST /geoetl/settings/webhook-secret/rotate.
func (s *Server) handleConsoleSecretRotate(c echo.Context) error {
	if _, err := s.svc.RotateWebhookSecret(c.Request().Context(), principal(c)); err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, views.SettingsData{Message: "Rotated the webhook secret. The previous one keeps signing alongside it for a while."})
}

// handleConsoleAccountPage is GET /geoetl/account: the signed-in user's password.
func (s *Server) handleConsoleAccountPage(c echo.Context) error {
	p := s.page(c, "Account", "account")
	return s.render(c, http.StatusOK, p, views.AccountMain(p, views.AccountData{}))
}

// handleConsoleAccountPassword is POST /geoetl/account/password: the user changes
// their own password, giving the current one, as PUT /me/password.
func (s *Server) handleConsoleAccountPassword(c echo.Context) error {
	p := s.page(c, "Account", "account")
	if err := s.checkPasswordGuess(c); err != nil {
		return err
	}
	keep := ""
	if sess := session(c); sess != nil {
		keep = sess.IDHash
	}
	err := s.svc.ChangeOwnPassword(c.Request().Context(), principal(c), c.FormValue("currentPassword"), c.FormValue("password"), keep)
	s.countPasswordGuess(c, err)
	switch geoetl.ErrorCode(err) {
	case "":
		return s.render(c, http.StatusOK, p, views.AccountMain(p, views.AccountData{Done: true}))
	case geoetl.EINVALID:
		return s.render(c, formStatus(c), p, views.AccountMain(p, views.AccountData{Errors: geoetl.ErrorFields(err)}))
	}
	return err
}

// limitRows words the limits for the settings page.
func limitRows(limits []service.Limit) []views.LimitRow {
	out := make([]views.LimitRow, 0, len(limits))
	for _, l := range limits {
		r := views.LimitRow{Name: l.Name, Limit: "none", Used: "—", Description: l.Description}
		if l.Limit != nil {
			switch l.Unit {
			case "seconds":
				r.Limit = time.Duration(*l.Limit * float64(time.Second)).String()
			default:
				r.Limit = strconv.FormatFloat(*l.Limit, 'f', -1, 64) + " " + l.Unit
			}
		}
		if l.Used != nil {
			r.Used = strconv.Itoa(*l.Used) + " " + l.Unit
			if l.Name == geoetl.LimitMaxRuns {
				r.Used += " now"
			}
		}
		out = append(out, r)
	}
	return out
}
