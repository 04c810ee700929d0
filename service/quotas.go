package service

import (
	"context"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/geoetl/geoetl"
)

// Quotas per tenant (geoetl.TenantLimits). The number of schedules is
// enforced by the store, in the transaction that inserts one; the
// shortest interval here, for every door a schedule comes in by (create,
// update, import and restore all end in CreateSchedule or UpdateSchedule).
// Concurrent runs are the scheduler's (a run over the limit waits).

// gapKey names one expression in one zone.
type gapKey struct{ expr, zone string }

// gaps keeps computed shortest intervals: in a zone with daylight saving
// the computation looks at 400 years of clock changes (a few
// milliseconds), and an import repeats the same expressions.
var gaps, _ = lru.New[gapKey, time.Duration](4096)

// checkMinInterval refuses a schedule whose occurrences can come closer
// together than the minimum interval, in its zone and across its clock
// changes. The error names the limit and the field.
func (s *Service) checkMinInterval(sc *geoetl.Schedule) error {
	limit := s.Limits.MinInterval
	if limit <= time.Second {
		return nil // no expression fires more often than once a second
	}
	key := gapKey{sc.CronExpression, sc.Timezone}
	gap, ok := gaps.Get(key)
	if !ok {
		expr, err := sc.Cron()
		if err != nil {
			return nil // Validate reports it
		}
		loc, err := sc.Location()
		if err != nil {
			return nil
		}
		gap = expr.MinGap(s.Clock.Now(), loc)
		gaps.Add(key, gap)
	}
	if gap >= limit {
		return nil
	}
	msg := fmt.Sprintf("occurrences come as close as %s apart (in %s); the shortest interval allowed is %s (--min-interval)", gap, zoneName(sc.Timezone), limit)
	err := geoetl.OverLimit(geoetl.LimitMinInterval, "%s", msg)
	err.Fields = map[string][]string{"cronExpression": {geoetl.LimitMinInterval + ": " + msg}}
	return err
}

func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// Limit is one limit in force and the tenant's use of it.
type Limit struct {
	Name  string   `json:"name"`
	Limit *float64 `json:"limit"` // null when there is none
	Used  *int     `json:"used"`  // null for min-interval, a property of each schedule
	Unit  string   `json:"unit"`  // "runs", "schedules" or "seconds"
	// Description says what the limit bounds and how to raise it.
	Description string `json:"description"`
}

// TenantLimits lists the limits in force and the caller's tenant's use of
// each.
func (s *Service) TenantLimits(ctx context.Context, p geoetl.Principal) ([]Limit, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	runs, err := s.Store.CountTenantRuns(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	schedules, err := s.Store.CountSchedules(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	value := func(v float64) *float64 {
		if v <= 0 {
			return nil
		}
		return &v
	}
	return []Limit{
		{Name: geoetl.LimitMaxRuns, Limit: value(float64(s.Limits.MaxRuns)), Used: &runs, Unit: "runs",
			Description: "Runs of this tenant at once, over every instance; more wait, pending, until one ends. Raise with --tenant-max-runs (GEOETL_TENANT_MAX_RUNS)."},
		{Name: geoetl.LimitMaxSchedules, Limit: value(float64(s.Limits.MaxSchedules)), Used: &schedules, Unit: "schedules",
			Description: "Schedules of this tenant, whatever their status. Raise with --tenant-max-schedules (GEOETL_TENANT_MAX_SCHEDULES)."},
		{Name: geoetl.LimitMinInterval, Limit: value(s.Limits.MinInterval.Seconds()), Unit: "seconds",
			Description: "Shortest time between two occurrences of one schedule, in its time zone. Lower with --min-interval (GEOETL_MIN_INTERVAL)."},
	}, nil
}
