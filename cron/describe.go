package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// maxListedTimes is how many times of day Describe spells out ("At 02:00
// and 14:00") before it falls back to describing each field.
const maxListedTimes = 6

// Describe returns the expression in plain English, for example "At 02:00,
// Monday through Friday", "Every 15 minutes" or "At 00:00 on day 13 of the
// month, only on Friday".
func (e *Expression) Describe() string {
	var b strings.Builder
	b.WriteString(e.describeTime())
	if s := e.describeDom(); s != "" {
		b.WriteString(" on " + s)
	}
	if s := e.describeDow(); s != "" {
		b.WriteString(", " + s)
	}
	if s := e.describeMonth(); s != "" {
		b.WriteString(", " + s)
	}
	out := b.String()
	return strings.ToUpper(out[:1]) + out[1:]
}

func (e *Expression) describeTime() string {
	sec, min, hour := &e.fields[fSecond], &e.fields[fMinute], &e.fields[fHour]
	showSeconds := sec.bits != 1
	if sec.isFixed() && min.isFixed() && hour.isFixed() &&
		popcount(sec.bits)*popcount(min.bits)*popcount(hour.bits) <= maxListedTimes {
		var times []string
		for _, h := range setValues(hour.bits) {
			for _, m := range setValues(min.bits) {
				for _, s := range setValues(sec.bits) {
					times = append(times, clock(h, m, s, showSeconds))
				}
			}
		}
		return "at " + joinWords(times, "and")
	}
	// A single minute in a range or progression of hours reads best as
	// "every hour from 09:30 to 17:30".
	if !showSeconds && popcount(min.bits) == 1 && len(hour.items) == 1 &&
		(hour.items[0].kind == itemRange && hour.items[0].lo != hour.items[0].hi || hour.items[0].kind == itemFrom) {
		m := trailingValue(min.bits)
		it := hour.items[0]
		return fmt.Sprintf("every %s from %s to %s", stepUnit(it.step, "hour", "hours"), clock(it.lo, m, 0, false), clock(lastValue(fHour, it), m, 0, false))
	}
	if showSeconds && popcount(sec.bits) == 1 && popcount(min.bits) == 1 && hour.isStar() {
		return fmt.Sprintf("at %s and %s past the hour", plural(trailingValue(min.bits), "minute", "minutes"), plural(trailingValue(sec.bits), "second", "seconds"))
	}
	var parts []string
	if showSeconds {
		parts = append(parts, describeSubField(fSecond, sec, "second", "seconds", "minute"))
	}
	switch {
	case min.isStar() && showSeconds:
		// "every second" already covers every minute.
	case !showSeconds && min.bits == 1 && hour.isStar():
		parts = append(parts, "every hour")
	case !showSeconds && min.bits == 1 && isStarStep(hour):
		parts = append(parts, "every "+stepUnit(hour.items[0].step, "hour", "hours"))
		return strings.Join(parts, ", ")
	default:
		parts = append(parts, describeSubField(fMinute, min, "minute", "minutes", "hour"))
	}
	if s := describeHours(hour); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// describeSubField describes a second or minute field: "every minute",
// "every 15 minutes", "at 30 minutes past the hour", "at minutes 0 through
// 9 past the hour".
func describeSubField(k fieldKind, f *fieldSpec, unit, units, whole string) string {
	switch {
	case f.isStar():
		return "every " + unit
	case isStarStep(f):
		return "every " + stepUnit(f.items[0].step, unit, units)
	case len(f.items) == 1 && f.items[0].step > 1:
		it := f.items[0]
		return fmt.Sprintf("every %s from %d through %d past the %s", stepUnit(it.step, unit, units), it.lo, lastValue(k, it), whole)
	case len(f.items) == 1 && f.items[0].kind == itemValue:
		v := f.items[0].lo
		if v == 1 {
			return fmt.Sprintf("at 1 %s past the %s", unit, whole)
		}
		return fmt.Sprintf("at %d %s past the %s", v, units, whole)
	}
	return fmt.Sprintf("at %s %s past the %s", units, describeItems(k, f, strconv.Itoa), whole)
}

func describeHours(f *fieldSpec) string {
	hh := func(v int) string { return fmt.Sprintf("%02d:00", v) }
	switch {
	case f.isStar():
		return ""
	case isStarStep(f):
		return "every " + stepUnit(f.items[0].step, "hour", "hours")
	case len(f.items) == 1 && f.items[0].kind == itemValue:
		v := f.items[0].lo
		return fmt.Sprintf("between %s and %02d:59", hh(v), v)
	case len(f.items) == 1 && f.items[0].kind == itemRange && f.items[0].step == 1:
		return fmt.Sprintf("between %s and %02d:59", hh(f.items[0].lo), f.items[0].hi)
	case len(f.items) == 1 && f.items[0].step > 1:
		it := f.items[0]
		return fmt.Sprintf("during every %s hour from %s to %02d:59", ordinal(it.step), hh(it.lo), lastValue(fHour, it))
	}
	return "during the hours " + describeItems(fHour, f, hh)
}

func (e *Expression) describeDom() string {
	f := &e.fields[fDom]
	if f.isStar() {
		return ""
	}
	var parts []string
	for _, it := range f.items {
		switch it.kind {
		case itemLast:
			parts = append(parts, "the last day")
		case itemLastOffset:
			switch it.lo {
			case 0:
				parts = append(parts, "the last day")
			case 1:
				parts = append(parts, "the day before the last day")
			default:
				parts = append(parts, fmt.Sprintf("the day %d days before the last day", it.lo))
			}
		case itemLastWeekday:
			switch it.lo {
			case 0:
				parts = append(parts, "the last weekday")
			case 1:
				parts = append(parts, "the weekday nearest the day before the last day")
			default:
				parts = append(parts, fmt.Sprintf("the weekday nearest the day %d days before the last day", it.lo))
			}
		case itemNearest:
			parts = append(parts, fmt.Sprintf("the weekday nearest day %d", it.lo))
		}
	}
	plain := &fieldSpec{}
	for _, it := range f.items {
		if it.kind <= itemFrom {
			plain.items = append(plain.items, it)
			plain.bits |= it.valueBits(fDom)
		}
	}
	if len(plain.items) > 0 {
		var s string
		switch {
		case isStarStep(plain):
			s = "every " + ordinal(plain.items[0].step) + " day"
		case popcount(plain.bits) == 1:
			s = "day " + strconv.Itoa(trailingValue(plain.bits))
		default:
			s = "days " + describeItems(fDom, plain, strconv.Itoa)
		}
		parts = append([]string{s}, parts...)
	}
	return joinWords(parts, "and") + " of the month"
}

func (e *Expression) describeDow() string {
	f := &e.fields[fDow]
	if f.isStar() {
		return ""
	}
	var special []string
	plain := &fieldSpec{}
	for _, it := range f.items {
		switch it.kind {
		case itemDowLast:
			special = append(special, "the last "+fullDayNames[it.lo])
		case itemDowNth:
			special = append(special, "the "+ordinalWord(it.hi)+" "+fullDayNames[it.lo])
		default:
			plain.items = append(plain.items, it)
			plain.bits |= it.valueBits(fDow)
		}
	}
	var parts []string
	if len(plain.items) == 1 && plain.items[0].kind == itemRange && plain.items[0].step == 1 && plain.items[0].lo%7 != plain.items[0].hi%7 {
		it := plain.items[0]
		parts = append(parts, fullDayNames[it.lo%7]+" through "+fullDayNames[it.hi%7])
	} else if len(plain.items) > 0 && (plain.bits != 0x7f || len(special) > 0) {
		var days []string
		for d := range 7 {
			if plain.bits&(1<<uint(d)) != 0 {
				days = append(days, fullDayNames[d])
			}
		}
		parts = append(parts, "only on "+joinWords(days, "and"))
	}
	if len(special) > 0 {
		parts = append(parts, "on "+joinWords(special, "and")+" of the month")
	}
	return strings.Join(parts, " or ")
}

func (e *Expression) describeMonth() string {
	f := &e.fields[fMonth]
	if f.bits == 0x1ffe { // every month, however written
		return ""
	}
	if len(f.items) == 1 && f.items[0].kind == itemRange && f.items[0].step == 1 {
		return fullMonthNames[f.items[0].lo-1] + " through " + fullMonthNames[f.items[0].hi-1]
	}
	var names []string
	for m := 1; m <= 12; m++ {
		if f.bits&(1<<uint(m)) != 0 {
			names = append(names, fullMonthNames[m-1])
		}
	}
	return "only in " + joinWords(names, "and")
}

// describeItems describes the items of a plain field: "0, 15 and 45",
// "9 through 17", "every 10th from 5 through 55".
func describeItems(k fieldKind, f *fieldSpec, format func(int) string) string {
	var parts []string
	for _, it := range f.items {
		switch it.kind {
		case itemValue:
			parts = append(parts, format(it.lo))
		case itemRange:
			if it.step == 1 {
				parts = append(parts, format(it.lo)+" through "+format(it.hi))
			} else {
				parts = append(parts, fmt.Sprintf("every %s from %s through %s", ordinal(it.step), format(it.lo), format(lastValue(k, it))))
			}
		default: // itemStar and itemFrom with a step
			parts = append(parts, fmt.Sprintf("every %s from %s through %s", ordinal(it.step), format(it.lo), format(lastValue(k, it))))
		}
	}
	return joinWords(parts, "and")
}

// lastValue returns the last value a range or progression reaches, going
// round the end of the field for wrapping ranges (22-4/2 ends at 4).
func lastValue(k fieldKind, it item) int {
	min, max := fieldBounds[k][0], fieldBounds[k][1]
	if it.lo <= it.hi {
		return it.lo + (it.hi-it.lo)/it.step*it.step
	}
	n := (max - it.lo + 1) + (it.hi - min + 1)
	v := it.lo + (n-1)/it.step*it.step
	if v > max {
		v -= max - min + 1
	}
	return v
}

func isStarStep(f *fieldSpec) bool {
	return len(f.items) == 1 && f.items[0].kind == itemStar && f.items[0].step > 1
}

func stepUnit(step int, unit, units string) string {
	if step == 1 {
		return unit
	}
	return strconv.Itoa(step) + " " + units
}

func plural(n int, unit, units string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + units
}

func clock(h, m, s int, seconds bool) string {
	if seconds {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

func trailingValue(set uint64) int { return bits.TrailingZeros64(set) }

// setValues lists the values in a bit set, smallest first.
func setValues(set uint64) []int {
	var out []int
	for ; set != 0; set &= set - 1 {
		out = append(out, bits.TrailingZeros64(set))
	}
	return out
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

func ordinalWord(n int) string {
	words := []string{"first", "second", "third", "fourth", "fifth"}
	if n >= 1 && n <= len(words) {
		return words[n-1]
	}
	return ordinal(n)
}
