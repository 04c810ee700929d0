// Package views holds the console's templ components: the layout, the
// pages and the HTMX fragments. Components take plain view data built by
// the handlers from domain types; they never reach a store or a service.
package views

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
)

//go:embed zones.txt
var zonesTxt string

// Zones lists every IANA time zone name of the tz database that Go ships,
// for the editor's zone picker.
func Zones() []string {
	return strings.Fields(zonesTxt)
}

// inZone returns t in the named zone, or in UTC when the zone is unknown.
func inZone(t time.Time, zone string) time.Time {
	if loc, err := geoetl.LoadLocation(zone); err == nil {
		return t.In(loc)
	}
	return t.UTC()
}

// AbsTime formats t as an absolute time in zone, with the zone's
// abbreviation ("2027-03-14 03:00 EDT").
func AbsTime(t time.Time, zone string) string {
	return inZone(t, zone).Format("2006-01-02 15:04 MST")
}

// UTCTime formats t in UTC for tooltips and machine-readable attributes.
func UTCTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// RelTime says how far t is from now in words: "in 12 min", "3 h ago",
// "just now".
func RelTime(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		if future {
			return "in a few seconds"
		}
		return "just now"
	case d < 90*time.Minute:
		s = fmt.Sprintf("%d min", int(math.Round(d.Minutes())))
	case d < 36*time.Hour:
		s = fmt.Sprintf("%d h", int(math.Round(d.Hours())))
	default:
		s = fmt.Sprintf("%d days", int(math.Round(d.Hours()/24)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// Duration formats milliseconds compactly ("1.8 s", "3 min 4 s").
func Duration(ms *int64) string {
	if ms == nil {
		return "–"
	}
	return durationText(time.Duration(*ms) * time.Millisecond)
}

func durationText(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Percent formats a ratio as a percentage, "–" when there is none.
func Percent(r *float64) string {
	if r == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f %%", *r*100)
}

// Title capitalises the first letter of an enum value and replaces
// underscores ("cancel_previous" becomes "Cancel previous").
func Title(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// JSONIndent renders a value as indented JSON for display.
func JSONIndent(v any) string {
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) == 0 {
			return ""
		}
		var x any
		if json.Unmarshal(raw, &x) != nil {
			return string(raw)
		}
		v = x
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// ParamText renders a parameter value as the text a form input holds:
// strings as they are, everything else as JSON.
func ParamText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// SortedKeys returns a map's keys in order, so pages render stably.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func itoa(n int) string { return fmt.Sprint(n) }

// Count says how many of a thing there are, in the right number
// ("1 run", "3 runs").
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
