package handlers

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors map[string][]string `json:"errors,omitempty"`
}

// statusOf maps application error codes to HTTP status codes; this is the
// only place that knows the mapping.
func statusOf(code string) int {
	switch code {
	case geoetl.EINVALID:
		return http.StatusBadRequest
	case geoetl.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case geoetl.EFORBIDDEN:
		return http.StatusForbidden
	case geoetl.ENOTFOUND:
		return http.StatusNotFound
	case geoetl.ECONFLICT:
		return http.StatusConflict
	case geoetl.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case geoetl.ERATELIMIT:
		return http.StatusTooManyRequests
	case geoetl.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// problemFor turns any error into a problem document. Internal errors are
// described generically; their details only go to the log.
func problemFor(err error) Problem {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		return Problem{Type: "about:blank", Title: http.StatusText(he.Code), Status: he.Code, Detail: msg}
	}
	if asMaxBytesError(err) {
		return Problem{Type: "about:blank", Title: http.StatusText(413), Status: 413, Detail: "The request body is larger than 1 MiB."}
	}
	code := geoetl.ErrorCode(err)
	status := statusOf(code)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: geoetl.ErrorMessage(err), Errors: geoetl.ErrorFields(err)}
	if code != geoetl.EINTERNAL {
		p.Type = "https://geoetl.dev/problems/" + code
	}
	return p
}

// handleError is echo's central error handler: problem+json for the API,
// an HTML page (or redirect to sign-in) for the console.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problemFor(err)
	if p.Status >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if !isAPI(c) {
		if perr := s.renderPageError(c, p); perr == nil {
			return
		}
	}
	writeProblem(c, p)
}

func writeProblem(c echo.Context, p Problem) {
	b, _ := json.Marshal(p)
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method != http.MethodHead {
		_, _ = c.Response().Write(b)
	}
}
