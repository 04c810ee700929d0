package cron

import (
	"time"
)

// Expression is a parsed cron expression. It is immutable and safe for
// concurrent use.
type Expression struct {
	src        string
	hasSeconds bool
	interval   bool
	fields     [6]fieldSpec

	// Plain value sets, bit v for value v.
	sec, min uint64
	hour     uint32
	month    uint16

	// everyDay is set when every day of every month matches, and
	// firstTime is the first matching time of day in seconds.
	everyDay  bool
	firstTime int

	// Day-of-month: domAll for * or ?, domBits for plain days, and the
	// special forms: L-n as bit n of domLastOff (L is bit 0), nW as bit n
	// of domNearest, LW as domLastWeekday.
	domAll         bool
	domPlain       bool
	domBits        uint32
	domLastOff     uint32
	domNearest     uint32
	domLastNearest uint32

	// Day-of-week: dowAll for * or ?, dowBits for plain weekdays (0 is
	// Sunday), nL as bit n of dowLast, n#k as bit k of dowNth[n].
	dowAll   bool
	dowPlain bool
	dowBits  uint8
	dowLast  uint8
	dowNth   [7]uint8
}

// searchDays is how far ahead Next and NextN look for an occurrence: one
// whole Gregorian cycle of 400 years. The calendar repeats after it (and
// 146,097 days are a whole number of weeks), so an expression that Parse
// accepts, whose days occur in some year, has an occurrence in every span
// this long; a sparse one can wait decades ("0 0 29 2 MON": 2044, 2072,
// 2112).
const searchDays = 146097

// Next returns the first occurrence strictly after from, as a UTC time,
// computed in loc (nil means UTC) under the daylight-saving rules of the
// package documentation. Every expression that Parse accepts has a next
// occurrence, however far ahead ("5 5 5 5 5" from 2017-05-05 fires in 2023);
// Next returns the zero Time only past the year 9999, where occurrences are
// no longer sought.
func (e *Expression) Next(from time.Time, loc *time.Location) time.Time {
	start, limit, ok := searchWindow(from)
	if !ok {
		return time.Time{}
	}
	t, ok := e.nextAt(locOrUTC(loc), start, limit)
	if !ok {
		return time.Time{}
	}
	return time.Unix(t, 0).UTC()
}

// NextN returns up to n consecutive occurrences after from, oldest first. It
// stops early where Next would return the zero Time.
func (e *Expression) NextN(from time.Time, loc *time.Location, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	loc = locOrUTC(loc)
	out := make([]time.Time, 0, min(n, 1024))
	for len(out) < n {
		next := e.Next(from, loc)
		if next.IsZero() {
			break
		}
		out = append(out, next)
		from = next
	}
	return out
}

// Between returns the occurrences in (from, to], oldest first, at most limit
// of them (none when limit is not positive). It searches the whole range,
// however long, and only within the years 1 to 9999.
func (e *Expression) Between(from, to time.Time, loc *time.Location, limit int) []time.Time {
	if limit <= 0 || !to.After(from) {
		return nil
	}
	loc = locOrUTC(loc)
	start := max(from.Unix()+1, minInstant)
	end := min(to.Unix(), maxInstant)
	var out []time.Time
	for len(out) < limit && start <= end {
		t, ok := e.nextAt(loc, start, end)
		if !ok {
			break
		}
		out = append(out, time.Unix(t, 0).UTC())
		start = t + 1
	}
	return out
}

// String returns the expression as given to Parse, without surrounding
// white space.
func (e *Expression) String() string { return e.src }

// HasSeconds reports whether the expression has a seconds field (six
// fields, or @every_second).
func (e *Expression) HasSeconds() bool { return e.hasSeconds }

// IsInterval reports whether the second, minute or hour field contains *,
// ?, a range or a step. Interval expressions fire in both passes of a
// repeated hour when clocks go back; fixed-time expressions fire only in
// the first.
func (e *Expression) IsInterval() bool { return e.interval }

// Describe parses expr and describes it in plain English.
func Describe(expr string) (string, error) {
	e, err := Parse(expr)
	if err != nil {
		return "", err
	}
	return e.Describe(), nil
}

func locOrUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// minInstant and maxInstant bound the instants this package computes with:
// the start of year 1 and the end of year 9999, in Unix seconds.
var (
	minInstant = daysFromCivil(1, 1, 1) * secondsPerDay
	maxInstant = daysFromCivil(10000, 1, 1)*secondsPerDay - 1
)

// searchWindow returns the first whole second after from and the last one
// Next looks at, a 400-year cycle later.
func searchWindow(from time.Time) (start, limit int64, ok bool) {
	if from.Unix() >= maxInstant {
		return 0, 0, false
	}
	start = max(from.Unix()+1, minInstant)
	limit = min(start-1+searchDays*secondsPerDay, maxInstant)
	return start, limit, start <= limit
}
