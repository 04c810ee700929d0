package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// handleListUsers is GET /users.
func (s *Server) handleListUsers(c echo.Context) error {
	us, err := s.svc.ListUsers(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	if us == nil {
		us = []*geoetl.User{}
	}
	return writeList(c, us, len(us), "")
}

// handleCreateUser is POST /users.
func (s *Server) handleCreateUser(c echo.Context) error {
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	name, email, role, password := o.String("name"), o.String("email"), o.String("role"), o.String("password")
	if err := o.Err(); err != nil {
		return err
	}
	u := &geoetl.User{}
	if name != nil {
		u.Name = *name
	}
	if email != nil {
		u.Email = *email
	}
	if role != nil {
		u.Role = geoetl.Role(*role)
	}
	pw := ""
	if password != nil {
		pw = *password
	}
	if err := s.checkNameProbe(c); err != nil {
		return err
	}
	u, err = s.svc.CreateUser(c.Request().Context(), principal(c), u, pw)
	s.countNameProbe(c, err)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, APIPrefix+"/users/"+u.ID)
	return writeJSON(c, http.StatusCreated, u)
}

// handleGetUser is GET /users/{id}.
func (s *Server) handleGetUser(c echo.Context) error {
	u, err := s.svc.GetUser(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, u)
}

// handleUpdateUser is PUT /users/{id}.
func (s *Server) handleUpdateUser(c echo.Context) error {
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	var upd geoetl.UserUpdate
	upd.Email = o.String("email")
	if r := o.String("role"); r != nil {
		role := geoetl.Role(*r)
		upd.Role = &role
	}
	upd.Disabled = o.Bool("disabled")
	password, current := o.String("password"), o.String("currentPassword")
	if err := o.Err(); err != nil {
		return err
	}
	var pw *service.PasswordChange
	if password != nil {
		pw = &service.PasswordChange{New: *password, Current: current}
		if sess := session(c); sess != nil {
			pw.KeepSession = sess.IDHash
		}
	}
	if err := s.checkPasswordGuess(c); err != nil {
		return err
	}
	if err := s.checkNameProbe(c); err != nil {
		return err
	}
	u, err := s.svc.UpdateUser(c.Request().Context(), principal(c), c.Param("id"), upd, pw)
	s.countPasswordGuess(c, err)
	s.countNameProbe(c, err)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, u)
}

// handleChangeOwnPassword is PUT /me/password.
func (s *Server) handleChangeOwnPassword(c echo.Context) error {
	if principal(c).UserID == "" {
		return s.svc.ChangeOwnPassword(c.Request().Context(), principal(c), "", "", "")
	}
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	current, password := o.String("currentPassword"), o.String("password")
	if password == nil {
		o.Fail("password", "is required")
	}
	if err := o.Err(); err != nil {
		return err
	}
	if err := s.checkPasswordGuess(c); err != nil {
		return err
	}
	keep := ""
	if sess := session(c); sess != nil {
		keep = sess.IDHash
	}
	cur := ""
	if current != nil {
		cur = *current
	}
	err = s.svc.ChangeOwnPassword(c.Request().Context(), principal(c), cur, *password, keep)
	s.countPasswordGuess(c, err)
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleDeleteUser is DELETE /users/{id}.
func (s *Server) handleDeleteUser(c echo.Context) error {
	if err := s.svc.DeleteUser(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleListTokens is GET /tokens.
func (s *Server) handleListTokens(c echo.Context) error {
	ts, err := s.svc.ListTokens(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []*geoetl.APIToken{}
	}
	return writeList(c, ts, len(ts), "")
}

// newToken is a created token with its secret, shown only this once.
type newToken struct {
	*geoetl.APIToken
	Secret string `json:"secret"`
}

// handleCreateToken is POST /tokens.
func (s *Server) handleCreateToken(c echo.Context) error {
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	name, role := o.String("name"), o.String("role")
	if err := o.Err(); err != nil {
		return err
	}
	var n string
	var r geoetl.Role
	if name != nil {
		n = *name
	}
	if role != nil {
		r = geoetl.Role(*role)
	}
	t, secret, err := s.svc.CreateToken(c.Request().Context(), principal(c), n, r)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusCreated, newToken{APIToken: t, Secret: secret})
}

// handleRevokeToken is DELETE /tokens/{id}.
func (s *Server) handleRevokeToken(c echo.Context) error {
	if err := s.svc.RevokeToken(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// webhookSecretAnswer carries the tenant's webhook signing secret.
type webhookSecretAnswer struct {
	Secret string `json:"secret"`
}

// handleGetWebhookSecret is GET /settings/webhook-secret.
func (s *Server) handleGetWebhookSecret(c echo.Context) error {
	secret, err := s.svc.WebhookSecret(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, webhookSecretAnswer{Secret: secret})
}

// handleRotateWebhookSecret is POST /settings/webhook-secret/rotate.
func (s *Server) handleRotateWebhookSecret(c echo.Context) error {
	secret, err := s.svc.RotateWebhookSecret(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, webhookSecretAnswer{Secret: secret})
}
