package handlers

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/geoetl/geoetl"
)

// RateLimit bounds how fast one caller may use the API: per credential
// (token or signed-in user) for authenticated calls, per client address
// for anonymous ones, which also slows down token guessing.
type RateLimit struct {
	PerSecond float64 // authenticated callers; 0 turns limiting off
	Burst     int
	// AnonymousPerSecond and AnonymousBurst apply per client address to
	// calls without valid credentials.
	AnonymousPerSecond float64
	AnonymousBurst     int
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// rateLimiter keeps one token bucket per key and forgets idle ones.
type rateLimiter struct {
	mu        sync.Mutex
	cfg       RateLimit
	buckets   map[string]*limiterEntry
	lastSweep time.Time
}

func newRateLimiter(cfg RateLimit) *rateLimiter {
	return &rateLimiter{cfg: cfg, buckets: map[string]*limiterEntry{}}
}

// reserve takes one request from key's bucket; when none is left it
// returns how long the caller should wait.
func (r *rateLimiter) reserve(key string, perSecond float64, burst int, now time.Time) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSweep) > time.Minute {
		for k, e := range r.buckets {
			if now.Sub(e.seen) > 10*time.Minute {
				delete(r.buckets, k)
			}
		}
		r.lastSweep = now
	}
	e, ok := r.buckets[key]
	if !ok {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
		r.buckets[key] = e
	}
	e.seen = now
	res := e.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimitMiddleware answers 429 with Retry-After when an API caller goes
// over its allowance. It runs after authenticate, so it knows who is
// calling. Echo applies middleware on every request, so the buckets are
// made here, once.
func (s *Server) rateLimitMiddleware() echo.MiddlewareFunc {
	rl := newRateLimiter(s.cfg.RateLimit)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			return s.limit(rl, next, c)
		}
	}
}

// limit lets the request through or answers 429.
func (s *Server) limit(rl *rateLimiter, next echo.HandlerFunc, c echo.Context) error {
	if s.cfg.RateLimit.PerSecond <= 0 || !isAPI(c) {
		return next(c)
	}
	key, per, burst := "", s.cfg.RateLimit.PerSecond, s.cfg.RateLimit.Burst
	if p, ok := c.Get(ctxPrincipal).(geoetl.Principal); ok {
		key = "actor:" + p.ActorID
	} else {
		key = "addr:" + clientAddr(c)
		per, burst = s.cfg.RateLimit.AnonymousPerSecond, s.cfg.RateLimit.AnonymousBurst
	}
	if ok, wait := rl.reserve(key, per, burst, time.Now()); !ok {
		secs := int(wait/time.Second) + 1
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return geoetl.Errorf(geoetl.ERATELIMIT, "Too many requests; try again in %d s.", secs)
	}
	return next(c)
}

// clientAddr is the connection's address; X-Forwarded-For is not trusted
// because any client can send it.
func clientAddr(c echo.Context) string {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}
