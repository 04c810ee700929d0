package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// handleCronPreview is POST /cron/preview.
func (s *Server) handleCronPreview(c echo.Context) error {
	o, _, err := readObject(c, false)
	if err != nil {
		return err
	}
	expr, tz := o.String("cronExpression"), o.String("timezone")
	from, count := o.Time("from"), o.Int("count")
	if err := o.Err(); err != nil {
		return err
	}
	var e, zone string
	if expr != nil {
		e = *expr
	}
	if tz != nil {
		zone = *tz
	}
	var start time.Time
	if from != nil {
		start = *from
	}
	n := service.DefaultPreviewCount
	if count != nil {
		n = *count
	}
	pv, err := s.svc.PreviewCron(c.Request().Context(), principal(c), e, zone, start, n)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, pv)
}

// handleTenantStats is GET /stats.
func (s *Server) handleTenantStats(c echo.Context) error {
	days, err := queryInt(c, "days", 30, 1, 3650)
	if err != nil {
		return err
	}
	st, err := s.svc.TenantStats(c.Request().Context(), principal(c), days)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, st)
}

// handleListAudit is GET /audit.
func (s *Server) handleListAudit(c echo.Context) error {
	var f geoetl.AuditFilter
	fe := geoetl.FieldErrors{}
	var err error
	if f.Page, err = pageParams(c); err != nil {
		merge(fe, err)
	}
	if f.ObjectType, err = query(c, "objectType", 50); err != nil {
		merge(fe, err)
	}
	if f.Action, err = query(c, "action", 100); err != nil {
		merge(fe, err)
	}
	f.ObjectID = c.QueryParam("objectId")
	if err := fe.Err(); err != nil {
		return err
	}
	items, total, next, err := s.svc.ListAudit(c.Request().Context(), principal(c), f)
	if err != nil {
		return err
	}
	return writeList(c, items, total, next)
}

// handleTenantLimits is GET /tenant/limits.
func (s *Server) handleTenantLimits(c echo.Context) error {
	limits, err := s.svc.TenantLimits(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]any{"limits": limits})
}

// meAnswer says who the credentials belong to.
type meAnswer struct {
	TenantID string      `json:"tenantId"`
	ActorID  string      `json:"actorId"`
	Actor    string      `json:"actor"`
	Role     geoetl.Role `json:"role"`
	UserID   *string     `json:"userId"`
	TokenID  *string     `json:"tokenId"`
}

// handleMe is GET /me.
func (s *Server) handleMe(c echo.Context) error {
	p := principal(c)
	a := meAnswer{TenantID: p.TenantID, ActorID: p.ActorID, Actor: p.Actor, Role: p.Role}
	if p.UserID != "" {
		a.UserID = &p.UserID
	}
	if p.TokenID != "" {
		a.TokenID = &p.TokenID
	}
	return writeJSON(c, http.StatusOK, a)
}
