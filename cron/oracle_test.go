package cron

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file checks the fast search against a brute-force reference that
// applies the firing rule of the package documentation literally: it visits
// every instant (every second, or for five-field expressions every whole
// minute plus every instant at which the offset changes), and decides for
// each one from first principles whether it fires. Day matching is
// re-derived from the definitions with the time package's calendar, not
// from the bit masks the search uses.

// oracle is the reference implementation for one expression in one zone.
type oracle struct {
	e       *Expression
	loc     *time.Location
	offsets []int64 // every UTC offset the zone uses near the window
}

func offsetOf(loc *time.Location, t int64) int64 {
	_, off := time.Unix(t, 0).In(loc).Zone()
	return int64(off)
}

// newOracle prepares a reference for instants in (from, to]; it collects
// the zone's offsets from a day before the window, far enough back to see
// the first pass of any repeated wall time.
func newOracle(e *Expression, loc *time.Location, from, to int64) *oracle {
	o := &oracle{e: e, loc: loc}
	for t := from - maxShift; t <= to+60; t += 60 {
		if off := offsetOf(loc, t); !slices.Contains(o.offsets, off) {
			o.offsets = append(o.offsets, off)
		}
	}
	return o
}

// between returns every instant in (from, to] that fires.
func (o *oracle) between(from, to int64) []int64 {
	step := int64(1)
	if !o.e.hasSeconds && o.wholeMinuteOffsets() {
		step = 60
	}
	var out []int64
	visit := func(t int64) {
		if t > from && t <= to && o.fires(t) && (len(out) == 0 || out[len(out)-1] != t) {
			out = append(out, t)
		}
	}
	t := floorDiv(from, step) * step
	for ; t <= to; t += step {
		// An offset change between two grid points happens at an instant
		// off the grid; find it by bisection and visit it too.
		if prev := t - step; offsetOf(o.loc, prev) != offsetOf(o.loc, t) && step > 1 {
			lo, hi := prev, t // offset(lo) differs from offset(hi)
			for hi-lo > 1 {
				mid := lo + (hi-lo)/2
				if offsetOf(o.loc, mid) == offsetOf(o.loc, lo) {
					lo = mid
				} else {
					hi = mid
				}
			}
			if hi != t {
				visit(hi)
			}
		}
		visit(t)
	}
	return out
}

func (o *oracle) wholeMinuteOffsets() bool {
	for _, off := range o.offsets {
		if off%60 != 0 {
			return false
		}
	}
	return true
}

// fires is the rule of the package documentation, word for word.
func (o *oracle) fires(t int64) bool {
	off := offsetOf(o.loc, t)
	wall := t + off
	if o.matches(wall) && (!o.seenBefore(t, wall) || o.e.interval) {
		return true
	}
	prevOff := offsetOf(o.loc, t-1)
	if prevOff < off {
		// t is the instant the clock jumps forward; the skipped wall
		// times are [t+prevOff, t+off).
		for w := t + prevOff; w < t+off; w++ {
			if o.matches(w) {
				return true
			}
		}
	}
	return false
}

// seenBefore reports whether some earlier instant had the same wall time,
// that is whether t is past the first pass of a repeated wall time.
func (o *oracle) seenBefore(t, wall int64) bool {
	for _, off := range o.offsets {
		if earlier := wall - off; earlier < t && offsetOf(o.loc, earlier) == off {
			return true
		}
	}
	return false
}

// matches reports whether a wall-clock time (seconds on the local calendar)
// matches every field.
func (o *oracle) matches(wall int64) bool {
	c := time.Unix(wall, 0).UTC()
	f := &o.e.fields
	if !plainFieldHas(fSecond, f[fSecond], c.Second()) || !plainFieldHas(fMinute, f[fMinute], c.Minute()) ||
		!plainFieldHas(fHour, f[fHour], c.Hour()) || !plainFieldHas(fMonth, f[fMonth], int(c.Month())) {
		return false
	}
	return domHas(f[fDom], c) && dowHas(f[fDow], c)
}

func plainFieldHas(k fieldKind, f fieldSpec, v int) bool {
	for _, it := range f.items {
		if itemHas(k, it, v) {
			return true
		}
	}
	return false
}

// itemHas decides membership arithmetically, without building sets.
func itemHas(k fieldKind, it item, v int) bool {
	min, max := fieldBounds[k][0], fieldBounds[k][1]
	switch it.kind {
	case itemStar:
		return v >= min && v <= max && (v-min)%it.step == 0
	case itemValue:
		return v == it.lo
	case itemFrom:
		return v >= it.lo && v <= max && (v-it.lo)%it.step == 0
	case itemRange:
		lo, hi := it.lo, it.hi
		if k == fDow && lo > hi {
			lo, hi, min, max, v = lo%7, hi%7, 0, 6, v%7
		}
		if lo <= hi {
			return v >= lo && v <= hi && (v-lo)%it.step == 0
		}
		switch {
		case v >= lo && v <= max:
			return (v-lo)%it.step == 0
		case v >= min && v <= hi:
			return (max-lo+1+v-min)%it.step == 0
		}
	}
	return false
}

func daysInMonth(c time.Time) int {
	return time.Date(c.Year(), c.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func isWeekday(c time.Time, day int) bool {
	wd := time.Date(c.Year(), c.Month(), day, 0, 0, 0, 0, time.UTC).Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

func domHas(f fieldSpec, c time.Time) bool {
	if f.isStar() {
		return true
	}
	d, dim := c.Day(), daysInMonth(c)
	for _, it := range f.items {
		switch it.kind {
		case itemLast:
			if d == dim {
				return true
			}
		case itemLastOffset:
			if d == dim-it.lo {
				return true
			}
		case itemLastWeekday:
			if it.lo == 0 {
				// A weekday with no weekday after it in the month.
				if isWeekday(c, d) && !slices.ContainsFunc(seq(d+1, dim), func(x int) bool { return isWeekday(c, x) }) {
					return true
				}
				break
			}
			// The weekday of the month closest to lo days before the
			// last day, if that day exists.
			if target := dim - it.lo; target >= 1 && isWeekday(c, d) {
				closer := slices.ContainsFunc(seq(1, dim), func(x int) bool {
					return isWeekday(c, x) && abs(x-target) < abs(d-target)
				})
				if !closer {
					return true
				}
			}
		case itemNearest:
			// The weekday of the month closest to day lo, if that day
			// exists in this month.
			if it.lo <= dim && isWeekday(c, d) {
				closer := slices.ContainsFunc(seq(1, dim), func(x int) bool {
					return isWeekday(c, x) && abs(x-it.lo) < abs(d-it.lo)
				})
				if !closer {
					return true
				}
			}
		default:
			if itemHas(fDom, it, d) {
				return true
			}
		}
	}
	return false
}

func dowHas(f fieldSpec, c time.Time) bool {
	if f.isStar() {
		return true
	}
	wd, d, dim := int(c.Weekday()), c.Day(), daysInMonth(c)
	for _, it := range f.items {
		switch it.kind {
		case itemDowLast:
			if wd == it.lo && d+7 > dim {
				return true
			}
		case itemDowNth:
			if wd == it.lo && (d-1)/7+1 == it.hi {
				return true
			}
		default:
			if itemHas(fDow, it, wd) || wd == 0 && itemHas(fDow, it, 7) {
				return true
			}
		}
	}
	return false
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func formatUnix(ts []int64) string {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = time.Unix(t, 0)
	}
	return formatTimes(out)
}

// TestOracle_AgreesWithHandWrittenVectors makes sure the reference itself
// reads the rule as the hand-computed vectors do, so that agreement with it
// means something.
func TestOracle_AgreesWithHandWrittenVectors(t *testing.T) {
	cases := []struct{ zone, expr, from, want string }{
		{"America/New_York", "30 2 * * *", "2027-03-13T12:00:00Z", "2027-03-14T07:00:00Z 2027-03-15T06:30:00Z"},
		{"America/New_York", "30 1 * * *", "2027-11-06T12:00:00Z", "2027-11-07T05:30:00Z 2027-11-08T06:30:00Z"},
		{"America/New_York", "30 * * * *", "2027-11-07T04:00:00Z", "2027-11-07T04:30:00Z 2027-11-07T05:30:00Z 2027-11-07T06:30:00Z 2027-11-07T07:30:00Z"},
		{"America/New_York", "*/30 * * * *", "2027-03-14T06:00:00Z", "2027-03-14T06:30:00Z 2027-03-14T07:00:00Z 2027-03-14T07:30:00Z"},
		{"America/New_York", "*/20 59 1 * * *", "2027-11-07T05:59:00Z", "2027-11-07T05:59:20Z 2027-11-07T05:59:40Z 2027-11-07T06:59:00Z 2027-11-07T06:59:20Z 2027-11-07T06:59:40Z"},
		{"Australia/Lord_Howe", "*/15 1 * * *", "2026-04-04T14:00:00Z", "2026-04-04T14:15:00Z 2026-04-04T14:30:00Z 2026-04-04T14:45:00Z 2026-04-04T15:00:00Z 2026-04-04T15:15:00Z 2026-04-05T14:30:00Z"},
		{"America/Santiago", "0 0 * * *", "2026-09-04T12:00:00Z", "2026-09-05T04:00:00Z 2026-09-06T04:00:00Z 2026-09-07T03:00:00Z"},
		{"Pacific/Apia", "0 9 * * FRI", "2011-12-28T00:00:00Z", "2011-12-30T10:00:00Z"},
		{"Pacific/Apia", "0 12 * * *", "2011-12-28T00:00:00Z", "2011-12-28T22:00:00Z 2011-12-29T22:00:00Z 2011-12-30T10:00:00Z 2011-12-30T22:00:00Z"},
	}
	for _, c := range cases {
		loc := mustLoad(t, c.zone)
		e := mustParse(t, c.expr)
		want := strings.Fields(c.want)
		from, to := utc(t, c.from).Unix(), utc(t, want[len(want)-1]).Unix()
		if got := formatUnix(newOracle(e, loc, from, to).between(from, to)); got != c.want {
			t.Errorf("oracle for %q in %s from %s:\n got %s\nwant %s", c.expr, c.zone, c.from, got, c.want)
		}
	}
}

// oracleZones are the zones the random comparison runs in, with the years
// whose transitions it starts near.
var oracleZones = []struct {
	name          string
	fromY, toY    int
	extraInstants []string
}{
	{"America/New_York", 2024, 2030, nil},
	{"Europe/Berlin", 2024, 2030, nil},
	{"Europe/London", 2024, 2030, nil},
	{"Europe/Dublin", 2024, 2027, nil},                                                     // negative DST in the tz data
	{"Australia/Sydney", 2024, 2030, nil},                                                  // southern hemisphere
	{"Australia/Lord_Howe", 2024, 2030, nil},                                               // 30-minute shift
	{"America/Santiago", 2024, 2030, nil},                                                  // transitions at midnight
	{"America/Havana", 2024, 2030, nil},                                                    // transitions at midnight
	{"Asia/Beirut", 2020, 2026, nil},                                                       // transitions at midnight
	{"Asia/Tehran", 2018, 2022, nil},                                                       // midnight, +03:30/+04:30
	{"Pacific/Chatham", 2024, 2030, nil},                                                   // +12:45/+13:45
	{"America/St_Johns", 2024, 2030, nil},                                                  // -03:30/-02:30
	{"Africa/Casablanca", 2024, 2028, nil},                                                 // back and forth around Ramadan
	{"America/Nuuk", 2023, 2027, nil},                                                      // transitions at 22:00/23:00 local
	{"Pacific/Apia", 2011, 2012, nil},                                                      // 2011-12-30 skipped
	{"Pacific/Kiritimati", 1994, 1995, nil},                                                // 1994-12-31 skipped
	{"Asia/Kolkata", 2026, 2026, []string{"2026-03-08T00:00:00Z", "2026-10-31T20:00:00Z"}}, // no DST
	{"UTC", 2026, 2026, []string{"2026-01-01T00:00:00Z", "2028-02-28T12:00:00Z"}},
	// Years served by the POSIX rule, including the end of a leap year
	// (golang/go#81583).
	{"Europe/Warsaw", 2039, 2041, []string{"2040-12-31T00:00:00Z"}},
	{"America/Santiago", 2039, 2041, []string{"2040-12-31T00:00:00Z"}},
}

// transitions lists the instants at which loc changes offset in the years
// [fromY, toY].
func transitions(loc *time.Location, fromY, toY int) []int64 {
	var out []int64
	t := time.Date(fromY, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(toY+1, 1, 1, 0, 0, 0, 0, time.UTC)
	for t.Before(end) {
		_, next := t.In(loc).ZoneBounds()
		if next.IsZero() || !next.Before(end) {
			break
		}
		if !next.After(t) { // golang/go#81583
			t = t.Add(24 * time.Hour)
			continue
		}
		if offsetOf(loc, next.Unix()-1) != offsetOf(loc, next.Unix()) {
			out = append(out, next.Unix())
		}
		t = next
	}
	return out
}

// TestNext_AgreesWithBruteForceNearTransitions compares Between, Next and
// NextN with the reference for random valid expressions, in windows that
// start shortly before daylight-saving transitions.
func TestNext_AgreesWithBruteForceNearTransitions(t *testing.T) {
	cases := 2000
	if testing.Short() {
		cases = 300
	}
	rng := rand.New(rand.NewPCG(20260101, 42))
	type anchor struct {
		loc *time.Location
		at  int64
	}
	var anchors []anchor
	for _, z := range oracleZones {
		loc := mustLoad(t, z.name)
		for _, s := range z.extraInstants {
			anchors = append(anchors, anchor{loc, utc(t, s).Unix()})
		}
		tr := transitions(loc, z.fromY, z.toY)
		if len(tr) == 0 && len(z.extraInstants) == 0 {
			t.Fatalf("no transitions found for %s in %d-%d", z.name, z.fromY, z.toY)
		}
		for _, at := range tr {
			anchors = append(anchors, anchor{loc, at})
		}
	}
	compared, occurrences, atJumps := 0, 0, 0
	for i := range cases {
		a := anchors[rng.IntN(len(anchors))]
		expr := randomExpression(rng, a.loc, a.at)
		e, err := Parse(expr)
		if err != nil {
			continue // an impossible combination; Parse's tests cover those
		}
		var from, to int64
		if e.hasSeconds {
			from = a.at - rng.Int64N(3*3600) - rng.Int64N(60)
			to = from + 5*3600
		} else {
			from = a.at - rng.Int64N(14*3600) - rng.Int64N(120)
			to = from + 28*3600
		}
		want := newOracle(e, a.loc, from, to).between(from, to)
		fromT, toT := time.Unix(from, 0), time.Unix(to, 0)
		ctx := fmt.Sprintf("case %d: %q in %s, (%s, %s]", i, expr, a.loc, fromT.UTC().Format(time.RFC3339), toT.UTC().Format(time.RFC3339))
		gotBetween := e.Between(fromT, toT, a.loc, len(want)+10)
		if formatTimes(gotBetween) != formatUnix(want) {
			t.Fatalf("%s\nBetween: %s\n oracle: %s", ctx, formatTimes(gotBetween), formatUnix(want))
		}
		next := e.NextN(fromT, a.loc, len(want)+1)
		if len(next) < len(want) || formatTimes(next[:len(want)]) != formatUnix(want) {
			t.Fatalf("%s\n NextN: %s\noracle: %s", ctx, formatTimes(next), formatUnix(want))
		}
		if len(next) > len(want) && !next[len(want)].After(toT) {
			t.Fatalf("%s\nNextN gave %s inside the window, which the oracle does not fire", ctx, next[len(want)].Format(time.RFC3339))
		}
		compared++
		occurrences += len(want)
		if slices.Contains(want, a.at) {
			atJumps++
		}
	}
	t.Logf("compared %d expressions, %d occurrences, %d firing at a transition instant", compared, occurrences, atJumps)
}

// randomExpression builds an expression likely to fire near instant at:
// hours are often the local hours around it, and day fields often select
// its date, so the transitions are actually exercised.
func randomExpression(rng *rand.Rand, loc *time.Location, at int64) string {
	before := time.Unix(at-1, 0).In(loc)
	after := time.Unix(at, 0).In(loc)
	pick := func(opts ...string) string { return opts[rng.IntN(len(opts))] }
	num := func(lo, hi int) string { return strconv.Itoa(lo + rng.IntN(hi-lo+1)) }
	subField := func(max int) string {
		switch rng.IntN(9) {
		case 0:
			return "*"
		case 1:
			return "*/" + num(2, 30)
		case 2:
			return num(0, max)
		case 3:
			return num(0, max) + "," + num(0, max)
		case 4:
			return num(0, max/2) + "-" + num(max/2, max)
		case 5:
			return num(0, max) + "/" + num(5, 25)
		case 6:
			return num(0, max/2) + "-" + num(max/2, max) + "/" + num(2, 20)
		case 7:
			return num(max/2, max) + "-" + num(0, max/2) // wraps
		default:
			return pick("0", "30", "0,30", "15,45", "59")
		}
	}
	hourField := func() string {
		h1, h2 := before.Hour(), after.Hour()
		switch rng.IntN(10) {
		case 0:
			return "*"
		case 1:
			return "*/" + num(2, 7)
		case 2, 3:
			return strconv.Itoa(h1)
		case 4:
			return strconv.Itoa(h2)
		case 5:
			return strconv.Itoa(h1) + "," + strconv.Itoa(h2)
		case 6:
			return strconv.Itoa((h1+23)%24) + "-" + strconv.Itoa((h2+1)%24)
		case 7:
			return num(0, 23) + "/" + num(2, 6)
		case 8:
			return num(0, 23)
		default:
			return strconv.Itoa(h1) + "," + num(0, 23)
		}
	}
	d1, d2 := before.Day(), after.Day()
	dom := "*"
	switch rng.IntN(12) {
	case 0:
		dom = strconv.Itoa(d1)
	case 1:
		dom = strconv.Itoa(d2)
	case 2:
		dom = pick("L", "L-"+num(0, 5), "LW", "L-"+num(0, 5)+"W", strconv.Itoa(d1)+"W", strconv.Itoa(d2)+"W", "1W", "31W")
	case 3:
		dom = strconv.Itoa(d1) + "," + strconv.Itoa(d2) + "," + pick("L", "L-2", "1")
	case 4:
		dom = "*/" + num(2, 5)
	case 5:
		dom = strconv.Itoa(max(1, d1-3)) + "-" + strconv.Itoa(min(28, d2+3))
	}
	month := "*"
	switch rng.IntN(8) {
	case 0:
		month = strconv.Itoa(int(before.Month()))
	case 1:
		month = strings.ToLower(monthNames[after.Month()-1])
	case 2:
		month = monthNames[(int(before.Month())+10)%12] + "-" + monthNames[int(after.Month())%12] // often wraps
	}
	wd1, wd2 := int(before.Weekday()), int(after.Weekday())
	dow := "*"
	switch rng.IntN(10) {
	case 0:
		dow = strconv.Itoa(wd1)
	case 1:
		dow = dayNames[wd2]
	case 2:
		dow = dayNames[wd1] + "-" + dayNames[(wd2+2)%7] // may wrap
	case 3:
		dow = strconv.Itoa(wd1) + "L"
	case 4:
		dow = dayNames[wd2] + "#" + strconv.Itoa((after.Day()-1)/7+1)
	case 5:
		dow = pick("1-5", "0,6", "7", "6-7", "5-1")
	}
	fields := []string{subField(59), hourField(), dom, month, dow}
	if rng.IntN(4) == 0 {
		fields = append([]string{subField(59)}, fields...)
	}
	return strings.Join(fields, " ")
}

// TestDayMasks_AgreeWithDefinitions checks the month bit masks of every
// special day form, alone and combined with a weekday field, against the
// definitions for every month of a full 28-year calendar cycle.
func TestDayMasks_AgreeWithDefinitions(t *testing.T) {
	doms := []string{"*", "1", "15", "31", "L", "LW", "1,L", "10-20/3", "25-5", "*/7"}
	for n := 0; n <= 30; n++ {
		doms = append(doms, "L-"+strconv.Itoa(n), "L-"+strconv.Itoa(n)+"W")
	}
	for d := 1; d <= 31; d++ {
		doms = append(doms, strconv.Itoa(d)+"W")
	}
	dows := []string{"*", "1-5", "FRI-MON", "0", "7", "1/2"}
	for d := 0; d <= 7; d++ {
		dows = append(dows, strconv.Itoa(d)+"L")
		for k := 1; k <= 5; k++ {
			dows = append(dows, strconv.Itoa(d)+"#"+strconv.Itoa(k))
		}
	}
	// Each form alone, and a few combinations: the two masks are simply
	// intersected, so every pair adds little.
	var exprs []string
	for _, dom := range doms {
		exprs = append(exprs, "0 0 "+dom+" * *")
	}
	for _, dow := range dows {
		exprs = append(exprs, "0 0 * * "+dow)
	}
	exprs = append(exprs, "0 0 13 * FRI", "0 0 L * SUN", "0 0 LW * 1-5", "0 0 1W * MON", "0 0 L-3 * 2#4", "0 0 31W * 5L")
	for _, expr := range exprs {
		e := mustParse(t, expr)
		for y := 2001; y <= 2028; y++ {
			for m := time.January; m <= time.December; m++ {
				first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
				dim := daysInMonth(first)
				mask := e.domMask(dim, int(first.Weekday())) & e.dowMask(dim, int(first.Weekday()))
				for d := 1; d <= dim; d++ {
					c := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
					want := domHas(e.fields[fDom], c) && dowHas(e.fields[fDow], c)
					if got := mask&(1<<uint(d)) != 0; got != want {
						t.Fatalf("%q on %s: mask says %v, definition says %v", e, c.Format("2006-01-02 Mon"), got, want)
					}
				}
			}
		}
	}
}
