package cron

import (
	"math"
	"math/bits"
	"time"
)

// This file finds occurrences. Instants are Unix seconds; a "wall" value is
// a local wall-clock time written the same way (seconds since 1970-01-01
// 00:00 on the local calendar), so wall = instant + UTC offset.
//
// A zone's history is a series of segments with a constant offset
// (time.Time.ZoneBounds). Inside one segment instants and wall times map one
// to one, so the next occurrence there is the next matching wall time,
// found field by field on bit sets. The rules for the edges of segments,
// where wall times are skipped or repeated, are applied on top.

const secondsPerDay = 86400

// maxShift bounds how far apart two offsets of one zone can be (UTC-12 to
// UTC+14, with a margin), and so how far back a repeated wall time can have
// been seen first.
const maxShift = 27 * 3600

// segment is a stretch of instants [start, end) with one UTC offset. The
// first and last segments of a zone are open ended.
type segment struct {
	start, end int64
	off        int64
}

const (
	beginningOfTime = math.MinInt64
	endOfTime       = math.MaxInt64
)

func segmentAt(loc *time.Location, t int64) segment {
	if loc == time.UTC {
		return segment{start: beginningOfTime, end: endOfTime}
	}
	tt := time.Unix(t, 0).In(loc)
	_, off := tt.Zone()
	s, e := tt.ZoneBounds()
	seg := segment{start: beginningOfTime, end: endOfTime, off: int64(off)}
	if !s.IsZero() {
		seg.start = s.Unix()
	}
	if !e.IsZero() {
		seg.end = e.Unix()
	}
	if seg.end <= t {
		// In years served by the zone's POSIX TZ rule, ZoneBounds ends the
		// last stretch of a leap year on 31 December instead of 1 January
		// (golang/go#81583), before the instant asked about. The offset is
		// right and really lasts to the end of the year, one day later.
		seg.end += secondsPerDay
		if seg.end <= t {
			seg.end = t + 1 // never seen; keeps the search moving
		}
	}
	return seg
}

func offsetAt(loc *time.Location, t int64) int64 {
	_, off := time.Unix(t, 0).In(loc).Zone()
	return int64(off)
}

// nextAt returns the first instant t in [start, limit] at which the
// expression fires in loc.
func (e *Expression) nextAt(loc *time.Location, start, limit int64) (int64, bool) {
	cur := start
	for cur <= limit {
		seg := segmentAt(loc, cur)
		if cur == seg.start {
			// The clock may have jumped forward here: if a skipped wall
			// time matches, the occurrence moves to the jump itself.
			if prev := offsetAt(loc, cur-1); prev < seg.off {
				if _, ok := e.nextWall(cur+prev, cur+seg.off-1); ok {
					return cur, true
				}
			}
		}
		last := limit
		if seg.end-1 < last {
			last = seg.end - 1
		}
		w := cur + seg.off
		for {
			match, ok := e.nextWall(w, last+seg.off)
			if !ok {
				break
			}
			t := match - seg.off
			if e.interval {
				return t, true
			}
			repeated, until := earlierTwin(loc, t, seg)
			if !repeated {
				return t, true
			}
			// A fixed-time expression fired at this wall time in the
			// first pass; skip the rest of the second pass.
			w = until + seg.off
		}
		if seg.end == endOfTime || seg.end > limit {
			return 0, false
		}
		cur = seg.end
	}
	return 0, false
}

// earlierTwin reports whether the wall time of instant t (in segment seg)
// already occurred at an earlier instant, which happens in the second pass
// after clocks go back. If so, until is the end of the stretch of seg that
// repeats that earlier segment's wall times.
func earlierTwin(loc *time.Location, t int64, seg segment) (repeated bool, until int64) {
	wall := t + seg.off
	for s := seg.start; s != beginningOfTime && t-s < maxShift; {
		p := time.Unix(s-1, 0).In(loc)
		_, po := p.Zone()
		ps, _ := p.ZoneBounds()
		pstart := int64(beginningOfTime)
		if !ps.IsZero() {
			pstart = ps.Unix()
		}
		if tp := wall - int64(po); tp >= pstart && tp < s {
			return true, s + int64(po) - seg.off
		}
		if pstart >= s {
			break
		}
		s = pstart
	}
	return false, 0
}

// nextWall returns the first wall time in [from, to] that matches the
// expression's fields.
func (e *Expression) nextWall(from, to int64) (int64, bool) {
	if from > to {
		return 0, false
	}
	day := floorDiv(from, secondsPerDay)
	sod := int(from - day*secondsPerDay)
	var w int64
	if e.everyDay {
		// Every day matches: the answer is later today or the first time
		// of tomorrow, and the calendar is not needed at all.
		if tod, ok := e.nextTimeOfDay(sod/3600, sod/60%60, sod%60); ok {
			w = day*secondsPerDay + int64(tod)
		} else {
			w = (day+1)*secondsPerDay + int64(e.firstTime)
		}
		return w, w <= to
	}
	next, ok := e.nextDay(day, floorDiv(to, secondsPerDay))
	if !ok {
		return 0, false
	}
	if next == day {
		if tod, ok := e.nextTimeOfDay(sod/3600, sod/60%60, sod%60); ok {
			w = day*secondsPerDay + int64(tod)
			return w, w <= to
		}
		if next, ok = e.nextDay(day+1, floorDiv(to, secondsPerDay)); !ok {
			return 0, false
		}
	}
	w = next*secondsPerDay + int64(e.firstTime)
	return w, w <= to
}

// nextTimeOfDay returns the first matching time of day, in seconds after
// midnight, at or after h:mi:s, if there is one before midnight.
func (e *Expression) nextTimeOfDay(h, mi, s int) (int, bool) {
	for {
		hh := e.hour &^ (1<<uint(h) - 1)
		if hh == 0 {
			return 0, false
		}
		if nh := bits.TrailingZeros32(hh); nh != h {
			h, mi, s = nh, 0, 0
		}
		mm := e.min &^ (1<<uint(mi) - 1)
		if mm == 0 {
			h, mi, s = h+1, 0, 0
			continue
		}
		if nm := bits.TrailingZeros64(mm); nm != mi {
			mi, s = nm, 0
		}
		ss := e.sec &^ (1<<uint(s) - 1)
		if ss == 0 {
			mi, s = mi+1, 0
			continue
		}
		return h*3600 + mi*60 + bits.TrailingZeros64(ss), true
	}
}

// nextDay returns the first day number at or after day, and not after
// lastDay, whose month and day match.
func (e *Expression) nextDay(day, lastDay int64) (int64, bool) {
	y, mo, d := civilFromDays(day)
	first := day - int64(d-1) // the 1st of the month
	for first <= lastDay {
		if e.month&(1<<uint(mo)) != 0 {
			dim := daysIn(y, mo)
			wd1 := weekday(first)
			days := e.domMask(dim, wd1) & e.dowMask(dim, wd1) &^ (1<<uint(d) - 1)
			if days != 0 {
				next := first + int64(bits.TrailingZeros32(days)-1)
				return next, next <= lastDay
			}
		}
		// On to the 1st of the next allowed month.
		rest := e.month &^ (1<<uint(mo+1) - 1)
		if rest != 0 {
			mo = bits.TrailingZeros16(rest)
		} else {
			y++
			mo = bits.TrailingZeros16(e.month)
		}
		d = 1
		first = daysFromCivil(y, mo, 1)
	}
	return 0, false
}

// domMask returns the days (bit d for day d) that the day-of-month field
// selects in a month of dim days whose 1st is weekday wd1 (0 is Sunday).
func (e *Expression) domMask(dim, wd1 int) uint32 {
	full := uint32(1)<<uint(dim+1) - 2
	if e.domAll {
		return full
	}
	m := e.domBits & full
	if e.domPlain {
		return m
	}
	for offs := e.domLastOff; offs != 0; offs &= offs - 1 {
		if d := dim - bits.TrailingZeros32(offs); d >= 1 {
			m |= 1 << uint(d)
		}
	}
	for near := e.domNearest & full; near != 0; near &= near - 1 {
		m |= 1 << uint(nearestWeekday(bits.TrailingZeros32(near), dim, wd1))
	}
	for offs := e.domLastNearest; offs != 0; offs &= offs - 1 {
		if d := dim - bits.TrailingZeros32(offs); d >= 1 {
			m |= 1 << uint(nearestWeekday(d, dim, wd1))
		}
	}
	return m
}

// nearestWeekday returns the Monday-to-Friday day closest to day n, staying
// inside the month: a Saturday 1st moves to Monday the 3rd and a Sunday on
// the last day moves to the Friday before.
func nearestWeekday(n, dim, wd1 int) int {
	switch (wd1 + n - 1) % 7 {
	case 6:
		if n == 1 {
			return 3
		}
		return n - 1
	case 0:
		if n == dim {
			return n - 2
		}
		return n + 1
	}
	return n
}

// dowMask returns the days (bit d for day d) that the day-of-week field
// selects in a month of dim days whose 1st is weekday wd1.
func (e *Expression) dowMask(dim, wd1 int) uint32 {
	full := uint32(1)<<uint(dim+1) - 2
	if e.dowAll {
		return full
	}
	// Bit j of week is set when day j+1 has a selected weekday; the
	// pattern repeats every seven days.
	w := uint64(e.dowBits)
	week := (w>>uint(wd1) | w<<uint(7-wd1)) & 0x7f
	m := uint32((week|week<<7|week<<14|week<<21|week<<28)<<1) & full
	if e.dowPlain {
		return m
	}
	lastWd := (wd1 + dim - 1) % 7
	for l := e.dowLast; l != 0; l &= l - 1 {
		wd := bits.TrailingZeros8(l)
		m |= 1 << uint(dim-(lastWd-wd+7)%7)
	}
	for wd, ords := range e.dowNth {
		firstDay := 1 + (wd-wd1+7)%7
		for ; ords != 0; ords &= ords - 1 {
			if d := firstDay + 7*(bits.TrailingZeros8(ords)-1); d <= dim {
				m |= 1 << uint(d)
			}
		}
	}
	return m
}

// Calendar arithmetic on day numbers (days since 1970-01-01) in the
// proleptic Gregorian calendar, after Howard Hinnant's algorithms. It is
// much cheaper than time.Date, which matters in the search loop.

func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int64) (y int64, m, d int) {
	// Shifting by whole 400-year eras keeps the arithmetic unsigned, which
	// the compiler turns into multiplications, for any day from 100,000
	// years before 1970 on.
	const eraShift = 250
	u := uint64(z + 719468 + eraShift*146097)
	era := u / 146097
	doe := u - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = int64(yoe) + (int64(era)-eraShift)*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// weekday returns the weekday of a day number, 0 for Sunday.
func weekday(day int64) int {
	return int((day%7 + 11) % 7) // 1970-01-01 was a Thursday
}

func daysIn(y int64, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
