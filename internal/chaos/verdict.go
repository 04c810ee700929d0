package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
)

// Verdict classifies every occurrence that the schedules' cron expressions
// define in a window by what the executions table says happened to it.
//
// An occurrence is one (schedule, scheduledAt). Its attempts are the rows
// of that schedule and time with trigger schedule, catchup or retry
// (manual and backfill runs are not occurrences). It counts as:
//   - Once: exactly one attempt completed.
//   - Twice: more than one attempt completed, or the occurrence was claimed
//     more than once (two schedule or catchup rows). Always a failure.
//   - Unresolved: no attempt completed and one is still pending or running.
//   - Explained: no attempt completed, and the last one records why: a skip
//     reason (overlap, scheduler down, superseded) or an error. Explained
//     by the reason, which the report lists.
//   - Missed: no row at all, or rows that end without a reason. Always a
//     failure.
type Verdict struct {
	Window     Window
	Schedules  int
	Expected   int
	Once       int
	Twice      int
	Missed     int
	Unresolved int
	Explained  map[string]int // by recorded reason

	Attempts int // rows in the window, all triggers of occurrences
	Retried  int // occurrences that needed more than one attempt
	Lost     int // attempts failed with "instance lost"
	// Early counts attempts whose recorded start (database clock) is before
	// their occurrence.
	Early int
	// Lateness of each occurrence's first completed attempt: executedAt
	// minus scheduledAt.
	P50, P99, Max time.Duration

	// Problems names the first occurrences behind a failure, to read in a
	// test log.
	Problems []string
}

// Window is a half-open range of occurrence times, [From, To). Both ends
// are whole seconds.
type Window struct{ From, To time.Time }

// maxProblems bounds Verdict.Problems.
const maxProblems = 20

// Check reads the tenant's executions in w from store and classifies every
// occurrence of the schedules in w. The schedules' expressions and zones
// decide which occurrences are expected.
func Check(ctx context.Context, store geoetl.Store, tenantID string, schedules []*geoetl.Schedule, w Window) (*Verdict, error) {
	if w.From.Nanosecond() != 0 || w.To.Nanosecond() != 0 || !w.To.After(w.From) {
		return nil, fmt.Errorf("chaos: window %s..%s must be whole seconds, From before To", w.From, w.To)
	}
	v := &Verdict{Window: w, Schedules: len(schedules), Explained: map[string]int{}}
	rows, err := executionsIn(ctx, store, tenantID, w)
	if err != nil {
		return nil, err
	}
	type key struct {
		schedule string
		at       int64 // Unix microseconds: time.Time keys compare locations too
	}
	// A miss record stands for every occurrence from its scheduledAt to
	// its missedUntil; one that began before the window may reach into it.
	earlier, err := missRecordsBefore(ctx, store, tenantID, w)
	if err != nil {
		return nil, err
	}
	ranges := map[string][]*geoetl.Execution{}
	for _, e := range append(earlier, rows...) {
		if e.ScheduleID != nil && e.MissedUntil != nil && e.MissedUntil.After(e.ScheduledAt) {
			ranges[*e.ScheduleID] = append(ranges[*e.ScheduleID], e)
		}
	}
	attempts := map[key][]*geoetl.Execution{}
	for _, e := range rows {
		if e.ScheduleID == nil || !(e.Trigger.IsOccurrence() || e.Trigger == geoetl.TriggerRetry) {
			continue
		}
		k := key{*e.ScheduleID, e.ScheduledAt.UnixMicro()}
		attempts[k] = append(attempts[k], e)
	}
	var late []time.Duration
	for _, sc := range schedules {
		occ, err := Occurrences(sc, w)
		if err != nil {
			return nil, err
		}
		for _, at := range occ {
			v.Expected++
			list := attempts[key{sc.ID, at.UnixMicro()}]
			if len(list) == 0 {
				for _, r := range ranges[sc.ID] {
					if !at.Before(r.ScheduledAt) && !at.After(*r.MissedUntil) {
						list = []*geoetl.Execution{r}
						break
					}
				}
			}
			if d, ok := v.classify(sc, at, list); ok {
				late = append(late, d)
			}
		}
	}
	slices.Sort(late)
	if n := len(late); n > 0 {
		v.P50, v.P99, v.Max = late[n/2], late[min(n-1, n*99/100)], late[n-1]
	}
	return v, nil
}

// classify files one occurrence and returns the lateness of its first
// completed attempt, if it has one.
func (v *Verdict) classify(sc *geoetl.Schedule, at time.Time, list []*geoetl.Execution) (time.Duration, bool) {
	v.Attempts += len(list)
	if len(list) > 1 {
		v.Retried++
	}
	// Oldest attempt first: retries are created after what they retry.
	sort.Slice(list, func(i, j int) bool {
		if list[i].RetryCount != list[j].RetryCount {
			return list[i].RetryCount < list[j].RetryCount
		}
		return list[i].CreatedAt.Before(list[j].CreatedAt)
	})
	claims, completed, active := 0, 0, 0
	var first *geoetl.Execution
	for _, e := range list {
		if e.Trigger.IsOccurrence() {
			claims++
		}
		switch e.Status {
		case geoetl.ExecCompleted:
			completed++
			if first == nil {
				first = e
			}
		case geoetl.ExecPending, geoetl.ExecRunning:
			active++
		}
		if e.Status == geoetl.ExecFailed && str(e.ErrorMessage) == geoetl.ErrorInstanceLost {
			v.Lost++
		}
		if e.ExecutedAt != nil && e.ExecutedAt.Before(e.ScheduledAt) {
			v.Early++
			v.problem("%s %s: attempt %s started at %s, before its occurrence", sc.Name, at.Format(time.RFC3339), e.ID, e.ExecutedAt.Format(time.RFC3339Nano))
		}
	}
	switch {
	case claims > 1 || completed > 1:
		v.Twice++
		v.problem("%s %s: claimed %d times, completed %d times (%s)", sc.Name, at.Format(time.RFC3339), claims, completed, describe(list))
	case completed == 1:
		v.Once++
	case active > 0:
		v.Unresolved++
		v.problem("%s %s: unresolved (%s)", sc.Name, at.Format(time.RFC3339), describe(list))
	case len(list) == 0:
		v.Missed++
		v.problem("%s %s: no execution recorded", sc.Name, at.Format(time.RFC3339))
	default:
		last := list[len(list)-1]
		reason := str(last.SkipReason)
		if reason == "" && last.ErrorMessage != nil {
			reason = string(last.Status) + ": " + *last.ErrorMessage
		}
		if reason == "" {
			v.Missed++
			v.problem("%s %s: ended %s without a reason", sc.Name, at.Format(time.RFC3339), last.Status)
		} else {
			v.Explained[reason]++
		}
	}
	if first == nil || first.ExecutedAt == nil {
		return 0, false
	}
	return first.ExecutedAt.Sub(first.ScheduledAt), true
}

func (v *Verdict) problem(format string, args ...any) {
	if len(v.Problems) < maxProblems {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	}
}

// Err is nil when no occurrence ran twice, none was missed without a
// recorded reason, none is left unresolved and no attempt started early.
func (v *Verdict) Err() error {
	if v.Twice == 0 && v.Missed == 0 && v.Unresolved == 0 && v.Early == 0 {
		return nil
	}
	return fmt.Errorf("%s\n  %s", v, strings.Join(v.Problems, "\n  "))
}

// ExplainedCount is the number of occurrences explained by a recorded
// reason.
func (v *Verdict) ExplainedCount() int {
	n := 0
	for _, c := range v.Explained {
		n += c
	}
	return n
}

// String is the one-line report of the verdict.
func (v *Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d schedules, %s..%s: expected %d, once %d, twice %d, missed %d, unresolved %d, explained %d",
		v.Schedules, v.Window.From.UTC().Format(time.RFC3339), v.Window.To.UTC().Format(time.RFC3339),
		v.Expected, v.Once, v.Twice, v.Missed, v.Unresolved, v.ExplainedCount())
	if len(v.Explained) > 0 {
		reasons := make([]string, 0, len(v.Explained))
		for r, n := range v.Explained {
			reasons = append(reasons, fmt.Sprintf("%q %d", r, n))
		}
		sort.Strings(reasons)
		fmt.Fprintf(&b, " (%s)", strings.Join(reasons, ", "))
	}
	fmt.Fprintf(&b, "; attempts %d (instance lost %d, occurrences retried %d), early starts %d; lateness p50 %s p99 %s max %s",
		v.Attempts, v.Lost, v.Retried, v.Early, round(v.P50), round(v.P99), round(v.Max))
	return b.String()
}

func round(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// Occurrences are the times in w at which sc fires, by its cron expression
// in its zone (expiry and status are not considered).
func Occurrences(sc *geoetl.Schedule, w Window) ([]time.Time, error) {
	expr, err := sc.Cron()
	if err != nil {
		return nil, fmt.Errorf("chaos: schedule %s: %w", sc.Name, err)
	}
	loc, err := sc.Location()
	if err != nil {
		return nil, fmt.Errorf("chaos: schedule %s: %w", sc.Name, err)
	}
	// Between is (from, to]; occurrences are whole seconds, so shifting
	// both ends back by a second gives [From, To).
	return expr.Between(w.From.Add(-time.Second), w.To.Add(-time.Second), loc, 10_000_000), nil
}

// executionsIn reads every execution of the tenant whose occurrence is in
// w, a page at a time.
func executionsIn(ctx context.Context, store geoetl.Store, tenantID string, w Window) ([]*geoetl.Execution, error) {
	from, to := w.From, w.To
	var out []*geoetl.Execution
	cursor := ""
	for {
		list, _, next, err := store.FindExecutions(ctx, geoetl.ExecutionFilter{TenantID: tenantID, Since: &from, Until: &to,
			Page: geoetl.Page{Limit: geoetl.MaxPageLimit, Cursor: cursor}})
		if err != nil {
			return nil, fmt.Errorf("chaos: reading executions: %w", err)
		}
		out = append(out, list...)
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// missRecordsBefore reads the tenant's skipped executions whose occurrence
// is before w and whose miss range reaches into it.
func missRecordsBefore(ctx context.Context, store geoetl.Store, tenantID string, w Window) ([]*geoetl.Execution, error) {
	until := w.From
	var out []*geoetl.Execution
	cursor := ""
	for {
		list, _, next, err := store.FindExecutions(ctx, geoetl.ExecutionFilter{TenantID: tenantID, Status: geoetl.ExecSkipped, Until: &until,
			Page: geoetl.Page{Limit: geoetl.MaxPageLimit, Cursor: cursor}})
		if err != nil {
			return nil, fmt.Errorf("chaos: reading miss records: %w", err)
		}
		for _, e := range list {
			if e.MissedUntil != nil && !e.MissedUntil.Before(w.From) {
				out = append(out, e)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// describe lists attempts for a problem line.
func describe(list []*geoetl.Execution) string {
	parts := make([]string, 0, len(list))
	for _, e := range list {
		p := fmt.Sprintf("%s %s on %s", e.Trigger, e.Status, str(e.InstanceID))
		if e.ErrorMessage != nil {
			p += " (" + *e.ErrorMessage + ")"
		}
		if e.SkipReason != nil {
			p += " (" + *e.SkipReason + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
