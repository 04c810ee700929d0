package service

import (
	"context"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/cron"
)

// Cron preview limits: how many occurrences one preview may list.
const (
	DefaultPreviewCount = 5
	MaxPreviewCount     = 100
)

// CronPreview is what the schedule editor shows as you type: whether the
// expression is valid, what it means in words, and when it fires next.
type CronPreview struct {
	Valid       bool        `json:"valid"`
	Description string      `json:"description"`
	Timezone    string      `json:"timezone"`
	Occurrences []time.Time `json:"occurrences"`
}

// PreviewCron checks an expression in a time zone ("" means UTC) and lists
// its next count occurrences after from (the zero time means now). Every
// bad input is reported by its field name: cronExpression, timezone, count.
func (s *Service) PreviewCron(ctx context.Context, p geoetl.Principal, expr, timezone string, from time.Time, count int) (*CronPreview, error) {
	if err := requireRole(p, geoetl.RoleViewer); err != nil {
		return nil, err
	}
	fe := geoetl.FieldErrors{}
	var parsed *cron.Expression
	if strings.TrimSpace(expr) == "" {
		fe.Add("cronExpression", "is required")
	} else if len(expr) > 1000 {
		fe.Add("cronExpression", "must be at most 1000 characters")
	} else if e, err := cron.Parse(expr); err != nil {
		fe.Add("cronExpression", "%s", err.Error())
	} else {
		parsed = e
	}
	if timezone == "" {
		timezone = "UTC"
	}
	loc, err := geoetl.LoadLocation(timezone)
	if err != nil {
		fe.Add("timezone", "%s", err.Error())
	}
	if count < 1 || count > MaxPreviewCount {
		fe.Add("count", "must be between 1 and %d", MaxPreviewCount)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if from.IsZero() {
		from = s.Clock.Now()
	}
	out := &CronPreview{Valid: true, Description: parsed.Describe(), Timezone: timezone, Occurrences: []time.Time{}}
	for _, t := range parsed.NextN(from, loc, count) {
		out.Occurrences = append(out.Occurrences, t.UTC())
	}
	return out, nil
}
