package cron

import (
	"math"
	"math/bits"
	"time"
)

// gregorianCycle is the length of the Gregorian calendar's cycle in days
// (400 years): dates, weekdays and leap days repeat exactly after it, and
// so do the days an expression matches.
const gregorianCycle = 146097

// MinGap returns the shortest time between two consecutive occurrences of
// the expression in loc (nil means UTC) from from on, exactly: not by
// sampling occurrences.
//
// Between two offset changes of the zone, instants and wall times move
// together, so the gaps there are gaps between consecutive matching wall
// times. Those are found on the expression's fields: the matching times
// of day (the same every matching day) and the matching days, over a whole
// 400-year Gregorian cycle, after which the calendar repeats. Only a pair
// of occurrences around an offset change can be closer: clocks going
// forward fire the skipped matches at the jump, which may come soon after
// the occurrence before it or shortly before the next one; clocks going
// back repeat an hour, in which an interval expression fires again. Those
// pairs are computed with Next at each of the zone's offset changes over
// the next 400 years (the tz rules repeat yearly and the calendar every
// 400 years, so later ones repeat these).
func (e *Expression) MinGap(from time.Time, loc *time.Location) time.Duration {
	loc = locOrUTC(loc)
	gap := e.wallGap()
	if loc == time.UTC {
		return time.Duration(gap) * time.Second
	}
	start := max(from.Unix(), minInstant)
	end := min(start+gregorianCycle*secondsPerDay, maxInstant)
	for t := start; t < end; {
		seg := segmentAt(loc, t)
		if seg.end == endOfTime || seg.end >= end {
			break
		}
		t = seg.end
		if offsetAt(loc, t-1) == offsetAt(loc, t) {
			continue // a bound without a change (see segmentAt)
		}
		gap = min(gap, e.gapAround(loc, t, gap))
	}
	return time.Duration(gap) * time.Second
}

// gapAround returns the shortest gap of the occurrences next to the
// offset change at instant t, given that no gap elsewhere is shorter than
// known: the last occurrence before t, the first at or after t, and the
// one after that.
func (e *Expression) gapAround(loc *time.Location, t, known int64) int64 {
	best := int64(math.MaxInt64)
	next, ok := e.nextAt(loc, t, maxInstant)
	if !ok {
		return best
	}
	if after, ok := e.nextAt(loc, next+1, maxInstant); ok {
		best = after - next
	}
	// An occurrence before t further back than known is too far to
	// matter, and within known of t there is at most one per stretch of
	// constant offset, so this reads a handful.
	var last int64
	found := false
	for from := max(t-known, minInstant); from < t; {
		o, ok := e.nextAt(loc, from, t-1)
		if !ok {
			break
		}
		last, found = o, true
		from = o + 1
	}
	if found {
		best = min(best, next-last)
	}
	return best
}

// wallGap returns the shortest time, in seconds, between two consecutive
// matching wall-clock times.
func (e *Expression) wallGap() int64 {
	// Times of day, in order: at most 86,400.
	first, last, prev := -1, -1, -1
	within := int64(math.MaxInt64)
	for h := e.hour; h != 0; h &= h - 1 {
		hh := bits.TrailingZeros32(h)
		for m := e.min; m != 0; m &= m - 1 {
			mm := bits.TrailingZeros64(m)
			for s := e.sec; s != 0; s &= s - 1 {
				tod := hh*3600 + mm*60 + bits.TrailingZeros64(s)
				if first < 0 {
					first = tod
				}
				if prev >= 0 {
					within = min(within, int64(tod-prev))
				}
				prev, last = tod, tod
			}
		}
	}
	days := e.minDayStep()
	return min(within, days*secondsPerDay-int64(last-first))
}

// minDayStep returns the fewest days between two consecutive matching
// days, over a whole Gregorian cycle and across its end.
func (e *Expression) minDayStep() int64 {
	if e.everyDay {
		return 1
	}
	best := int64(math.MaxInt64)
	firstDay, prev := int64(-1), int64(-1)
	base := daysFromCivil(2000, 1, 1)
	for y := int64(2000); y < 2400; y++ {
		for m := 1; m <= 12; m++ {
			if e.month&(1<<uint(m)) == 0 {
				continue
			}
			first := daysFromCivil(y, m, 1)
			dim := daysIn(y, m)
			wd1 := weekday(first)
			for days := e.domMask(dim, wd1) & e.dowMask(dim, wd1); days != 0; days &= days - 1 {
				d := first + int64(bits.TrailingZeros32(days)-1) - base
				if firstDay < 0 {
					firstDay = d
				}
				if prev >= 0 {
					best = min(best, d-prev)
				}
				prev = d
			}
		}
	}
	if firstDay >= 0 {
		best = min(best, firstDay+gregorianCycle-prev)
	}
	return best
}
