package handlers

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/geoetl/geoetl/db/dbtest"
)

func TestRateLimit_AnswersTooManyRequestsPerCallerWithRetryAfter(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, dbtest.SQLite(t), Config{RateLimit: RateLimit{PerSecond: 1, Burst: 3, AnonymousPerSecond: 1, AnonymousBurst: 2}})
	viewer := e.as("viewer")
	for i := 0; i < 3; i++ {
		viewer.get("/schedules").want(http.StatusOK)
	}
	res := viewer.get("/schedules").want(http.StatusTooManyRequests)
	if p := res.problem(); p.Status != 429 || p.Detail == "" {
		t.Errorf("problem = %+v", p)
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After = %q, want whole seconds", res.Header.Get("Retry-After"))
	}
	// Another credential has its own allowance.
	e.as("editor").get("/schedules").want(http.StatusOK)

	// Anonymous callers are limited per address, more tightly.
	anon := caller{e: e}
	anon.get("/schedules").want(http.StatusUnauthorized)
	anon.get("/schedules").want(http.StatusUnauthorized)
	anon.get("/schedules").want(http.StatusTooManyRequests)
}

func TestRateLimit_ZeroConfigLimitsNothing(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, dbtest.SQLite(t), Config{})
	for i := 0; i < 50; i++ {
		e.as("viewer").get("/schedules").want(http.StatusOK)
	}
}
