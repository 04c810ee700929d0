package scheduler

import (
	"fmt"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/cron"
)

// occurrence is one execution row that claiming a due schedule writes.
type occurrence struct {
	At      time.Time
	Trigger geoetl.Trigger // schedule, or catchup for missed occurrences
	// Skip, when set, records the occurrence as skipped with this reason;
	// it never runs.
	Skip string
	// Wait makes the row wait for a free slot instead of going through the
	// overlap policy (run_all catch-ups: each missed occurrence runs, one
	// after another).
	Wait bool
	// Until and Count make a skipped row a miss record standing for Count
	// occurrences from At to Until (Count 1: At alone).
	Until time.Time
	Count int
}

// schedulePlan is what claiming one due schedule does: the rows to write,
// oldest first, and where the schedule moves on to.
type schedulePlan struct {
	Occurrences []occurrence
	NextRunAt   *time.Time
	// Status is set when the schedule can no longer fire (error), with
	// Reason saying why.
	Status *geoetl.ScheduleStatus
	Reason string
	// misfired is set when the due occurrence was past the grace.
	misfired bool
}

// planOptions tune planSchedule.
type planOptions struct {
	// Grace is how late an occurrence may be claimed and still count as on
	// time rather than missed.
	Grace time.Duration
	// MaxMissed bounds how many missed occurrences of one schedule run_all
	// catches up after downtime: the latest ones; older ones are recorded
	// as missed. Misses themselves are one record per gap whatever their
	// number.
	MaxMissed int
}

// planSchedule decides what to do with a schedule whose next_run_at is due
// (at or before now plus the lookahead). now is the database's clock.
//
// An occurrence no later than Grace behind now is on time: it is claimed
// and the schedule moves to the following occurrence. An older one means
// no instance was running when it fell due; every occurrence from it up to
// now was missed and the misfire policy decides: run_once runs the latest
// (trigger catchup) and records the rest as superseded; skip records them
// all as missed; run_all runs those inside the catch-up window, oldest
// first, and records the older ones as outside the window. The schedule
// then moves to the first occurrence after now. Occurrences at or after the
// schedule's expiry never run (the expiry chore then marks it expired), and
// a schedule whose expression or zone no longer parses goes to error.
func planSchedule(s *geoetl.Schedule, now time.Time, o planOptions) schedulePlan {
	if s.NextRunAt == nil {
		return schedulePlan{}
	}
	expr, err := parsedCron(s.CronExpression)
	if err != nil {
		return errorPlan(fmt.Sprintf("invalid cron expression: %v", err))
	}
	loc, err := loadedLocation(s.Timezone)
	if err != nil {
		return errorPlan(fmt.Sprintf("invalid time zone: %v", err))
	}
	due := s.NextRunAt.UTC()
	if s.ExpiresAt != nil && !due.Before(*s.ExpiresAt) {
		return schedulePlan{}
	}
	var p schedulePlan
	from := due
	if !due.Before(now.Add(-o.Grace)) {
		p.Occurrences = []occurrence{{At: due, Trigger: geoetl.TriggerSchedule}}
	} else {
		upTo := now
		if s.ExpiresAt != nil && !upTo.Before(*s.ExpiresAt) {
			upTo = s.ExpiresAt.Add(-time.Nanosecond)
		}
		// One more than kept: when some are left out, the first returned
		// is the last of those.
		keep := max(1, o.MaxMissed)
		missed, omitted := latestOccurrences(expr, loc, due, upTo, keep+1)
		g := gap{missed: missed}
		if omitted || len(missed) > keep {
			g.omittedUntil, g.missed = missed[0], missed[1:]
			g.omitted = countOccurrences(expr, loc, due, g.omittedUntil)
		}
		g.first = due
		p.Occurrences = applyMisfire(s, g, now)
		p.misfired = true
		if now.After(from) {
			from = now
		}
	}
	next := expr.Next(from, loc)
	switch {
	case next.IsZero():
		st := geoetl.StatusError
		p.Status, p.Reason = &st, "the cron expression has no further occurrence before the year 10000"
	case s.ExpiresAt != nil && !next.Before(*s.ExpiresAt):
		// No further run; the expiry chore sets the status.
	default:
		next = next.UTC()
		p.NextRunAt = &next
	}
	return p
}

func errorPlan(reason string) schedulePlan {
	st := geoetl.StatusError
	return schedulePlan{Status: &st, Reason: reason}
}

// gap is the occurrences a schedule missed: the latest (missed, oldest
// first) one by one and, when there were more, the count of the older
// ones, from first to omittedUntil.
type gap struct {
	first        time.Time // the first missed occurrence
	missed       []time.Time
	omitted      int
	omittedUntil time.Time
}

// applyMisfire turns a gap into rows per the schedule's misfire policy:
// what does not run is one miss record (a skipped row with the range and
// the count) per reason, so a long gap costs two rows, not one a miss.
func applyMisfire(s *geoetl.Schedule, g gap, now time.Time) []occurrence {
	// skipped makes one record of the omitted occurrences and missed[:n].
	skipped := func(n int, reason string) []occurrence {
		if g.omitted+n == 0 {
			return nil
		}
		until := g.omittedUntil
		if n > 0 {
			until = g.missed[n-1]
		}
		return []occurrence{{At: g.first, Trigger: geoetl.TriggerSchedule, Skip: reason, Until: until, Count: g.omitted + n}}
	}
	switch s.MisfirePolicy {
	case geoetl.MisfireSkip:
		return skipped(len(g.missed), geoetl.SkipReasonMissed)
	case geoetl.MisfireRunAll:
		windowStart := now.Add(-time.Duration(s.CatchupWindowMinutes) * time.Minute)
		out := 0
		for out < len(g.missed) && g.missed[out].Before(windowStart) {
			out++
		}
		rows := skipped(out, geoetl.SkipReasonOutsideWindow)
		for _, t := range g.missed[out:] {
			rows = append(rows, occurrence{At: t, Trigger: geoetl.TriggerCatchup, Wait: true})
		}
		return rows
	default: // run_once
		last := len(g.missed) - 1
		return append(skipped(last, geoetl.SkipReasonSuperseded), occurrence{At: g.missed[last], Trigger: geoetl.TriggerCatchup})
	}
}

// countOccurrences counts the occurrences from first to upTo, both
// included, a bounded chunk at a time.
func countOccurrences(expr *cron.Expression, loc *time.Location, first, upTo time.Time) int {
	const chunk = 10_000
	n := 1
	for from := first; ; {
		got := expr.Between(from, upTo, loc, chunk)
		n += len(got)
		if len(got) < chunk {
			return n
		}
		from = got[len(got)-1]
	}
}

// latestOccurrences returns first and the occurrences after it up to and
// including upTo, oldest first, keeping only the latest max of them;
// omitted reports whether older ones were left out. The search is bounded
// whatever the length of the range: when there are more than max, a binary
// search over the range finds where the latest max begin.
func latestOccurrences(expr *cron.Expression, loc *time.Location, first, upTo time.Time, max int) (out []time.Time, omitted bool) {
	after := expr.Between(first, upTo, loc, max)
	if len(after) < max {
		return append([]time.Time{first}, after...), false
	}
	if len(expr.Between(first, upTo, loc, max+1)) == max {
		return after, true
	}
	// More than max after first: find the latest start s such that
	// (s, upTo] holds no more than max occurrences.
	lo, hi := first.Unix(), upTo.Unix() // invariant: count(lo) > max, count(hi) <= max
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if len(expr.Between(time.Unix(mid, 0), upTo, loc, max+1)) > max {
			lo = mid
		} else {
			hi = mid
		}
	}
	out = expr.Between(time.Unix(hi, 0), upTo, loc, max)
	return out, true
}

// Every due schedule is planned on each of its occurrences: an
// every-second schedule would parse its expression and load its zone once
// a second. Both are immutable once made, so they are kept, by their
// text, in caches that start over when they grow past parsedLimit (a
// bound, not an eviction policy: distinct expressions are few in
// practice).
const parsedLimit = 10000

type parsedCache[T any] struct {
	mu sync.Mutex
	m  map[string]T
}

func (c *parsedCache[T]) get(key string, load func(string) (T, error)) (T, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := load(key)
	if err != nil {
		return v, err // not kept: a schedule in error is not planned again
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= parsedLimit {
		c.m = map[string]T{}
	}
	c.m[key] = v
	c.mu.Unlock()
	return v, nil
}

var (
	crons     parsedCache[*cron.Expression]
	locations parsedCache[*time.Location]
)

func parsedCron(expr string) (*cron.Expression, error) { return crons.get(expr, cron.Parse) }

func loadedLocation(name string) (*time.Location, error) {
	return locations.get(name, geoetl.LoadLocation)
}
