// Package handlers serves the REST API under /admin/api/geoetl, the HTML
// console with its HTMX fragments, and the operational endpoints. Handlers
// decode requests, call the service layer, and encode answers; they never
// talk SQL and hold no business rules of their own.
package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/metrics"
	"github.com/geoetl/geoetl/service"
)

// APIPrefix is where the REST API lives.
const APIPrefix = "/admin/api/geoetl"

// MaxBodyBytes is the largest request body accepted (413 above).
const MaxBodyBytes = 1 << 20

// Config holds what the handlers need besides the service.
type Config struct {
	Logger *slog.Logger
	// SecureCookies marks cookies Secure; set when served over TLS or
	// behind a TLS-terminating proxy (public URL starting with https).
	SecureCookies bool
	PublicURL     string
	Version       string
	// Ready reports whether the instance can serve (database reachable,
	// migrations current); used by /readyz.
	Ready func(ctx context.Context) error
	// Catalog lists the workflow node types for /workflows/catalog.
	Catalog any
	// Metrics, when set, serves /metrics.
	Metrics http.Handler
	// Events, when set, streams execution changes to the console (SSE).
	Events EventSource
	// RateLimit bounds API calls per caller; the zero value turns it off
	// (serve passes DefaultRateLimit or the --api-rate-limit setting).
	RateLimit RateLimit
	// MetricsRecorder, when set, receives per-route request counts and
	// latencies.
	MetricsRecorder *metrics.Metrics
}

// EventSource lets the console follow executions live. Each subscriber
// gets every event of its tenant until it cancels.
type EventSource interface {
	Subscribe(tenantID string) (events <-chan geoetl.ExecutionEvent, cancel func())
}

// Server is the HTTP side of one instance.
type Server struct {
	Echo *echo.Echo
	svc  *service.Service
	cfg  Config
	log  *slog.Logger
}

// New builds the echo instance with every route.
func New(svc *service.Service, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	s := &Server{Echo: e, svc: svc, cfg: cfg, log: cfg.Logger}
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic while serving", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(s.observe)
	e.Use(s.bodyLimit)
	e.Use(checkQueryString)
	e.Use(s.securityHeaders)
	e.Use(s.authenticate)
	e.Use(s.rateLimitMiddleware())
	e.Use(s.csrfMiddleware())

	// The route tables, one per surface (routes.go, api_routes.go). The
	// middleware above applies to all; a table adds its own checks.
	s.registerOperationsRoutes()
	s.registerAPIRoutes()
	s.registerConsoleRoutes()
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Echo.ServeHTTP(w, r) }

// handleHealthz is GET /healthz: the process is up.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz is GET /readyz: the database answers and is migrated.
func (s *Server) handleReadyz(c echo.Context) error {
	if s.cfg.Ready == nil {
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// bodyLimit refuses bodies over MaxBodyBytes with 413, both when the
// length is declared and when a chunked body runs over.
//
// A client that sends its whole body without waiting for an answer (no
// "Expect: 100-continue": Go, Python and most SDKs) is still writing when
// the 413 goes out. Closing the connection then, with its data unread,
// makes the kernel answer with a reset, which can destroy the 413 before
// the client reads it: the client sees "connection reset by peer". So,
// as nginx does, the server lingers: after the answer it reads and
// discards what is still coming, within a time and byte limit, and only
// then closes.
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > MaxBodyBytes {
			return s.refuseTooLarge(c, r.Body, geoetl.Errorf(geoetl.ETOOLARGE, "The request body is larger than 1 MiB."))
		}
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		raw := r.Body
		r.Body = http.MaxBytesReader(c.Response(), raw, MaxBodyBytes)
		err := next(c)
		if err != nil && !c.Response().Committed && (asMaxBytesError(err) || geoetl.ErrorCode(err) == geoetl.ETOOLARGE) {
			return s.refuseTooLarge(c, raw, err)
		}
		return err
	}
}

// checkQueryString refuses a query string that Go's parser only partly
// understands. url.Values silently drops a pair it cannot read (one with a
// semicolon, which Go no longer takes as a separator, or a bad escape), so
// "sort=name;DROP…" used to read as no sort at all and answer 200.
func checkQueryString(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := c.Request().URL.RawQuery
		if _, err := url.ParseQuery(raw); err == nil {
			return next(c)
		}
		for _, pair := range strings.Split(raw, "&") {
			key, _, _ := strings.Cut(pair, "=")
			if _, err := url.ParseQuery(pair); err == nil {
				continue
			}
			name, err := url.QueryUnescape(strings.SplitN(key, ";", 2)[0])
			if err != nil || name == "" || !utf8.ValidString(name) || len(name) > 100 {
				name = "query"
			}
			return fieldError(name, "cannot be read: use & between parameters and percent-encode ; and %")
		}
		return fieldError("query", "cannot be read")
	}
}

// Lingering after a 413: how long to keep reading, how long to wait for
// each read, and how much to read at most.
var (
	lingerTime    = 30 * time.Second
	lingerTimeout = 5 * time.Second
	lingerBytes   = int64(64 << 20)
)

// refuseTooLarge answers err (a 413), then drains body as described at
// bodyLimit and closes the connection.
func (s *Server) refuseTooLarge(c echo.Context, body io.ReadCloser, err error) error {
	rc := http.NewResponseController(c.Response())
	// Reading the body after answering needs full duplex on HTTP/1; HTTP/2
	// streams have it anyway and refuse the call.
	_ = rc.EnableFullDuplex()
	c.Response().Header().Set(echo.HeaderConnection, "close")
	c.Error(err)
	_ = rc.Flush()
	if body == nil || body == http.NoBody {
		return nil
	}
	deadline := time.Now().Add(lingerTime)
	buf := make([]byte, 32<<10)
	for read := int64(0); read < lingerBytes; {
		next := time.Now().Add(lingerTimeout)
		if next.After(deadline) {
			next = deadline
		}
		_ = rc.SetReadDeadline(next)
		n, rerr := body.Read(buf)
		read += int64(n)
		if rerr != nil || time.Now().After(deadline) {
			break
		}
	}
	return nil
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		return next(c)
	}
}

// isAPI reports whether a request is for the JSON API (as opposed to the
// console), which decides how errors and missing credentials are answered.
func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, APIPrefix) || p == "/openapi.json"
}

// asMaxBytesError reports whether err is the body limit being hit.
func asMaxBytesError(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// observe records per-route request counts and latencies. The route label
// is the pattern (/schedules/:id), never the raw path, so ids do not
// explode the metric's cardinality.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		m := s.cfg.MetricsRecorder
		if m == nil {
			return next(c)
		}
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		code := c.Response().Status
		if err != nil {
			code = problemFor(err).Status
		}
		m.HTTPRequests.WithLabelValues(route, c.Request().Method, strconv.Itoa(code)).Inc()
		m.HTTPDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return err
	}
}
