package scheduler

import (
	"math/rand/v2"
	"time"

	"github.com/geoetl/geoetl"
)

// retryJitter is the largest fraction by which a retry delay is moved
// either way, so that runs that failed together (a database down for all of
// them) do not all retry in the same instant.
const retryJitter = 0.10

// jittered returns d moved by up to ±retryJitter of itself, never negative;
// u is a uniform random number in [0, 1).
func jittered(d time.Duration, u float64) time.Duration {
	j := time.Duration((u*2 - 1) * retryJitter * float64(d))
	return max(0, d+j)
}

// retryFor returns the next attempt of a failed execution, or nil when the
// schedule allows no more attempts (or there is no schedule: ad hoc runs
// are not retried). now is the database's clock; u is a uniform random
// number in [0, 1) for the jitter.
func retryFor(s *geoetl.Schedule, failed *geoetl.Execution, now time.Time, u float64) *geoetl.Execution {
	if s == nil || failed.ScheduleID == nil || failed.RetryCount >= s.RetryAttempts {
		return nil
	}
	attempt := failed.RetryCount + 1
	due := now.Add(jittered(s.RetryDelay(attempt), u))
	id := failed.ID
	return &geoetl.Execution{
		ID:              geoetl.NewTimeID(),
		TenantID:        failed.TenantID,
		ScheduleID:      failed.ScheduleID,
		WorkflowID:      failed.WorkflowID,
		WorkflowRunID:   geoetl.NewID(),
		ScheduledAt:     failed.ScheduledAt,
		DueAt:           due,
		Trigger:         geoetl.TriggerRetry,
		Status:          geoetl.ExecPending,
		RetryCount:      attempt,
		RetryOf:         &id,
		ParameterValues: failed.ParameterValues,
		CreatedAt:       now,
		CreatedBy:       failed.CreatedBy,
	}
}

// randUnit is the jitter source; tests replace it.
var randUnit = rand.Float64
