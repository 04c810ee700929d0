package load

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Print writes the report: per route class the requests, latency
// percentiles, error rate and 5xx count over all loaded runs together;
// the scheduler's lateness as the median over runs, quiet and loaded; and
// the 100,000-schedule list.
func (r *Report) Print(w io.Writer) {
	pace := "each sending as soon as it has its answer"
	if r.Rate > 0 {
		pace = fmt.Sprintf("%g requests/s together on a fixed timetable", r.Rate)
	}
	fmt.Fprintf(w, "## Load: %s, %d every-second schedules, %d readers + %d writers (%s), %d runs of %s each\n\n",
		r.Backend, r.Schedules, r.Readers, r.Writers, pace, len(r.Loaded), r.Duration)
	all := map[string]*Stats{}
	for _, p := range r.Loaded {
		for k, s := range p.Routes {
			if all[k] == nil {
				all[k] = &Stats{}
			}
			all[k].merge(s)
		}
	}
	printRoutes(w, all)
	n := 0
	for _, s := range all {
		n += s.Count
	}
	fmt.Fprintf(w, "\nAchieved: %.0f requests/s.\n\n", float64(n)/(float64(len(r.Loaded))*r.Duration.Seconds()))
	fmt.Fprintln(w, "| scheduler | lateness p50 (median of runs) | p99 (median) | worst p99 | occurrences | twice | missed | explained (recorded reasons) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	printLateness(w, "without API load", r.Quiet)
	var loaded []Lateness
	for _, p := range r.Loaded {
		loaded = append(loaded, p.Lateness)
	}
	printLateness(w, "with API load", loaded)
	if r.List != nil {
		fmt.Fprintf(w, "\n### Console list: one tenant with %d schedules, %d concurrent readers (%s)\n\n", r.ListSize, r.Readers, pace)
		printRoutes(w, r.List.Routes)
	}
}

func printRoutes(w io.Writer, routes map[string]*Stats) {
	names := make([]string, 0, len(routes))
	for n := range routes {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "| route class | requests | p50 | p99 | errors | 5xx |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, n := range names {
		s := routes[n]
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.2f%% | %d |\n", n, s.Count, s.P50(), s.P99(), 100*s.ErrorRate(), s.ServerErrors)
	}
}

func printLateness(w io.Writer, label string, runs []Lateness) {
	var p50, p99 []time.Duration
	var worst time.Duration
	expected, twice, missed, explained := 0, 0, 0, 0
	reasons := map[string]int{}
	for _, l := range runs {
		for r, n := range l.Reasons {
			reasons[r] += n
		}
		p50, p99 = append(p50, l.P50), append(p99, l.P99)
		worst = max(worst, l.P99)
		expected += l.Expected
		twice += l.Twice
		missed += l.Missed
		explained += l.Explained
	}
	var why []string
	for r, n := range reasons {
		why = append(why, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(why)
	detail := ""
	if len(why) > 0 {
		detail = " (" + strings.Join(why, "; ") + ")"
	}
	fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %d | %d%s |\n", label, round(median(p50)), round(median(p99)), round(worst),
		expected, twice, missed, explained, detail)
}

func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// ServerErrors counts the 5xx answers of the whole run.
func (r *Report) ServerErrors() int {
	n := 0
	for _, p := range append(append([]Phase{}, r.Loaded...), phaseOrNone(r.List)...) {
		for _, s := range p.Routes {
			n += s.ServerErrors
		}
	}
	return n
}

// Twice counts occurrences that ran twice in any phase.
func (r *Report) Twice() int {
	n := 0
	for _, l := range r.Quiet {
		n += l.Twice
	}
	for _, p := range r.Loaded {
		n += p.Lateness.Twice
	}
	return n
}

func phaseOrNone(p *Phase) []Phase {
	if p == nil {
		return nil
	}
	return []Phase{*p}
}
