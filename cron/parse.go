package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// MaxExpressionLen is the longest input Parse accepts, in bytes. Real
// expressions are a few dozen bytes; the limit keeps hostile input from
// costing time or memory.
const MaxExpressionLen = 1000

// ParseError reports why an expression is invalid. Field names the part
// that is wrong: second, minute, hour, day-of-month, month, day-of-week, or
// expression for problems with the whole.
type ParseError struct {
	Field   string
	Message string
}

func (e *ParseError) Error() string { return e.Field + ": " + e.Message }

// fieldKind identifies one of the six fields.
type fieldKind int

const (
	fSecond fieldKind = iota
	fMinute
	fHour
	fDom
	fMonth
	fDow
)

var fieldNames = [...]string{"second", "minute", "hour", "day-of-month", "month", "day-of-week"}

// fieldBounds are the inclusive value ranges; day-of-week allows 7 as a
// second name for Sunday.
var fieldBounds = [...][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}

func (k fieldKind) String() string { return fieldNames[k] }

var monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
var dayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

var macros = map[string]string{
	"@every_second": "* * * * * *",
	"@every_minute": "* * * * *",
	"@hourly":       "0 * * * *",
	"@daily":        "0 0 * * *",
	"@midnight":     "0 0 * * *",
	"@weekly":       "0 0 * * 0",
	"@monthly":      "0 0 1 * *",
	"@yearly":       "0 0 1 1 *",
	"@annually":     "0 0 1 1 *",
}

// itemKind is the shape of one comma-separated element of a field.
type itemKind int

const (
	itemStar        itemKind = iota // * or ?, optionally with a step
	itemValue                       // n
	itemRange                       // a-b, optionally with a step; wraps when a > b
	itemFrom                        // a/step: from a to the field's maximum
	itemLast                        // L (day-of-month)
	itemLastOffset                  // L-n (day-of-month)
	itemLastWeekday                 // LW or L-nW (day-of-month)
	itemNearest                     // nW (day-of-month)
	itemDowLast                     // nL (day-of-week)
	itemDowNth                      // n#k (day-of-week)
)

// item is one parsed element. lo and hi are the values (for itemNearest,
// itemDowLast and itemDowNth lo is the day; for itemDowNth hi is the
// ordinal; for itemLastOffset and itemLastWeekday lo is n, 0 for LW), step
// is 1 unless given.
type item struct {
	kind   itemKind
	lo, hi int
	step   int
}

// fieldSpec is one parsed field: its items, for Describe, and the set of
// plain values they select.
type fieldSpec struct {
	text  string
	items []item
	bits  uint64
}

// isStar reports whether the field is a bare * or ?, which selects every value.
func (f *fieldSpec) isStar() bool {
	return len(f.items) == 1 && f.items[0].kind == itemStar && f.items[0].step == 1
}

// isFixed reports whether the field is a list of single values.
func (f *fieldSpec) isFixed() bool {
	for _, it := range f.items {
		if it.kind != itemValue {
			return false
		}
	}
	return true
}

// Parse parses a cron expression in the dialect described in the package
// documentation. Its errors are *ParseError.
func Parse(expr string) (*Expression, error) {
	if len(expr) > MaxExpressionLen {
		return nil, &ParseError{"expression", fmt.Sprintf("is %d bytes long; at most %d are allowed", len(expr), MaxExpressionLen)}
	}
	src := strings.TrimSpace(expr)
	if src == "" {
		return nil, &ParseError{"expression", "is empty"}
	}
	text := src
	if strings.HasPrefix(src, "@") {
		m, ok := macros[strings.ToLower(src)]
		if !ok {
			return nil, &ParseError{"expression", fmt.Sprintf("unknown macro %q; known macros are @every_second, @every_minute, @hourly, @daily, @midnight, @weekly, @monthly, @yearly and @annually", src)}
		}
		text = m
	}
	parts := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' })
	for _, p := range parts {
		if i := strings.IndexFunc(p, func(r rune) bool { return r < 0x21 || r > 0x7e }); i >= 0 {
			return nil, &ParseError{"expression", fmt.Sprintf("unexpected character %q", []rune(p[i:])[0])}
		}
	}
	if len(parts) != 5 && len(parts) != 6 {
		return nil, &ParseError{"expression", fmt.Sprintf("expected 5 or 6 fields, got %d", len(parts))}
	}
	e := &Expression{src: src, hasSeconds: len(parts) == 6}
	if !e.hasSeconds {
		parts = append([]string{"0"}, parts...)
	}
	for k := fSecond; k <= fDow; k++ {
		f, err := parseField(k, parts[k])
		if err != nil {
			return nil, err
		}
		e.fields[k] = f
	}
	e.compile()
	if err := e.checkCanFire(); err != nil {
		return nil, err
	}
	return e, nil
}

func parseField(k fieldKind, text string) (fieldSpec, error) {
	f := fieldSpec{text: text}
	toks := strings.Split(text, ",")
	for _, tok := range toks {
		it, err := parseItem(k, tok)
		if err != nil {
			return f, &ParseError{k.String(), err.Error()}
		}
		// As in Cronos and Quartz: the nearest weekday is defined for one
		// day, and a list of them would be read differently by each.
		if len(toks) > 1 && (it.kind == itemNearest || it.kind == itemLastWeekday) {
			return f, &ParseError{k.String(), fmt.Sprintf("%q: W (nearest weekday) cannot be used in a list; give it alone, e.g. 15W", tok)}
		}
		f.items = append(f.items, it)
		f.bits |= it.valueBits(k)
	}
	return f, nil
}

// parseItem parses one list element; its errors carry only the message, and
// parseField adds the field name.
func parseItem(k fieldKind, tok string) (item, error) {
	if tok == "" {
		return item{}, fmt.Errorf("empty value in the list")
	}
	up := strings.ToUpper(tok)
	if err := checkSpecialPlacement(k, up, tok); err != nil {
		return item{}, err
	}
	if k == fDom {
		if it, ok, err := parseDomSpecial(up, tok); ok || err != nil {
			return it, err
		}
	}
	if k == fDow {
		if it, ok, err := parseDowSpecial(up, tok); ok || err != nil {
			return it, err
		}
	}
	base, stepText, hasStep := strings.Cut(up, "/")
	min, max := fieldBounds[k][0], fieldBounds[k][1]
	step := 1
	if hasStep {
		n, ok := parseNumber(stepText)
		if stepText == "" || !ok && !allDigits(stepText) {
			return item{}, fmt.Errorf("step %q in %q is not a number", stepText, tok)
		}
		// Up to the field's maximum, as Cronos allows: */12 in the month
		// field is January only, */31 in day-of-month the 1st only.
		if !ok || n < 1 || n > max {
			return item{}, fmt.Errorf("step %s is out of range 1-%d", stepText, max)
		}
		step = n
	}
	if base == "*" || base == "?" {
		return item{kind: itemStar, lo: min, hi: max, step: step}, nil
	}
	if base == "" {
		return item{}, fmt.Errorf("missing value before the step in %q", tok)
	}
	loText, hiText, isRange := strings.Cut(base, "-")
	lo, err := parseValue(k, loText, tok)
	if err != nil {
		return item{}, err
	}
	if !isRange {
		if hasStep {
			return item{kind: itemFrom, lo: lo, hi: max, step: step}, nil
		}
		return item{kind: itemValue, lo: lo, hi: lo, step: 1}, nil
	}
	hi, err := parseValue(k, hiText, tok)
	if err != nil {
		return item{}, err
	}
	return item{kind: itemRange, lo: lo, hi: hi, step: step}, nil
}

// checkSpecialPlacement gives a clear message when L, W or # appear in a
// field that does not support them. Month and day names contain these
// letters, so only the special forms themselves are checked.
func checkSpecialPlacement(k fieldKind, up, tok string) error {
	if strings.Contains(up, "#") && k != fDow {
		return fmt.Errorf("%q: # is only allowed in day-of-week", tok)
	}
	isL := up == "L" || strings.HasPrefix(up, "L-") || up == "LW"
	isW := len(up) > 1 && strings.HasSuffix(up, "W") && allDigits(up[:len(up)-1])
	isNL := len(up) > 1 && strings.HasSuffix(up, "L") && (allDigits(up[:len(up)-1]) || dayIndex(up[:len(up)-1]) >= 0)
	switch k {
	case fDom:
		if isNL {
			return fmt.Errorf("%q: a weekday followed by L is only allowed in day-of-week", tok)
		}
	case fDow:
		if isW || up == "LW" {
			return fmt.Errorf("%q: W is only allowed in day-of-month", tok)
		}
		if strings.HasPrefix(up, "L-") {
			return fmt.Errorf("%q: L-n is only allowed in day-of-month", tok)
		}
	default:
		if isL || isNL {
			return fmt.Errorf("%q: L is only allowed in day-of-month and day-of-week", tok)
		}
		if isW {
			return fmt.Errorf("%q: W is only allowed in day-of-month", tok)
		}
	}
	return nil
}

func parseDomSpecial(up, tok string) (item, bool, error) {
	switch {
	case up == "L":
		return item{kind: itemLast, step: 1}, true, nil
	case up == "LW":
		return item{kind: itemLastWeekday, step: 1}, true, nil
	case strings.HasPrefix(up, "L-"):
		// L-nW is the weekday nearest to n days before the last day.
		off, nearest := strings.CutSuffix(up[2:], "W")
		n, ok := parseNumber(off)
		if !ok && !allDigits(off) || off == "" {
			return item{}, true, fmt.Errorf("%q: the offset after L- must be a number", tok)
		}
		if !ok || n > 30 {
			return item{}, true, fmt.Errorf("%q: offset %s is out of range 0-30", tok, off)
		}
		if nearest {
			return item{kind: itemLastWeekday, lo: n, step: 1}, true, nil
		}
		return item{kind: itemLastOffset, lo: n, step: 1}, true, nil
	case strings.HasSuffix(up, "W"):
		d := up[:len(up)-1]
		if !allDigits(d) || d == "" {
			return item{}, true, fmt.Errorf("%q: W must follow a single day number, e.g. 15W", tok)
		}
		n, ok := parseNumber(d)
		if !ok || n < 1 || n > 31 {
			return item{}, true, fmt.Errorf("%s is out of range 1-31", d)
		}
		return item{kind: itemNearest, lo: n, step: 1}, true, nil
	case strings.Contains(up, "L") || strings.Contains(up, "W"):
		return item{}, true, fmt.Errorf("%q: L and W cannot be combined with ranges or steps", tok)
	}
	return item{}, false, nil
}

func parseDowSpecial(up, tok string) (item, bool, error) {
	if day, ord, ok := strings.Cut(up, "#"); ok {
		d, err := parseValue(fDow, day, tok)
		if err != nil {
			return item{}, true, err
		}
		n, nok := parseNumber(ord)
		if ord == "" || !nok && !allDigits(ord) {
			return item{}, true, fmt.Errorf("%q: the ordinal after # must be a number", tok)
		}
		if !nok || n < 1 || n > 5 {
			return item{}, true, fmt.Errorf("%q: ordinal %s is out of range 1-5", tok, ord)
		}
		return item{kind: itemDowNth, lo: d % 7, hi: n, step: 1}, true, nil
	}
	if up == "L" {
		return item{}, true, fmt.Errorf("%q: L needs a weekday before it, e.g. 5L or FRIL for the last Friday", tok)
	}
	if strings.HasSuffix(up, "L") && !strings.ContainsAny(up, "-/,") {
		d, err := parseValue(fDow, up[:len(up)-1], tok)
		if err != nil {
			return item{}, true, err
		}
		return item{kind: itemDowLast, lo: d % 7, step: 1}, true, nil
	}
	return item{}, false, nil
}

// parseValue parses a number or, in the month and day-of-week fields, a
// three-letter name, and checks it against the field's range.
func parseValue(k fieldKind, s, tok string) (int, error) {
	min, max := fieldBounds[k][0], fieldBounds[k][1]
	if s == "" {
		return 0, fmt.Errorf("%q is missing a value", tok)
	}
	if allDigits(s) {
		n, ok := parseNumber(s)
		if !ok || n < min || n > max {
			return 0, fmt.Errorf("%s is out of range %d-%d", s, min, max)
		}
		return n, nil
	}
	switch k {
	case fMonth:
		if i := indexOf(monthNames, s); i >= 0 {
			return i + 1, nil
		}
		return 0, fmt.Errorf("unknown month name %q", s)
	case fDow:
		if i := dayIndex(s); i >= 0 {
			return i, nil
		}
		return 0, fmt.Errorf("unknown day name %q", s)
	}
	return 0, fmt.Errorf("%q is not a number", s)
}

func dayIndex(s string) int { return indexOf(dayNames, s) }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseNumber parses a non-empty run of digits; ok is false when s is not
// one or is too large to matter (any value that long is out of range).
func parseNumber(s string) (int, bool) {
	if s == "" || !allDigits(s) || len(s) > 6 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// valueBits returns the plain values an item selects as a bit set (bit v
// for value v). Day-of-week 7 is folded onto 0. The special day items
// select nothing here; compile keeps them apart.
func (it item) valueBits(k fieldKind) uint64 {
	min, max := fieldBounds[k][0], fieldBounds[k][1]
	var set uint64
	switch it.kind {
	case itemStar, itemValue, itemFrom:
		for v := it.lo; v <= it.hi; v += it.step {
			set |= 1 << uint(v)
		}
	case itemRange:
		lo, hi := it.lo, it.hi
		if k == fDow && lo > hi {
			// Wrapping weekday ranges go round the week, where 7 and 0
			// are the same day.
			lo, hi, max = lo%7, hi%7, 6
		}
		if lo <= hi {
			for v := lo; v <= hi; v += it.step {
				set |= 1 << uint(v)
			}
			break
		}
		n := (max - lo + 1) + (hi - min + 1)
		for i := 0; i < n; i += it.step {
			v := lo + i
			if v > max {
				v -= max - min + 1
			}
			set |= 1 << uint(v)
		}
	default:
		return 0
	}
	if k == fDow && set&(1<<7) != 0 {
		set = set&^(1<<7) | 1
	}
	return set
}

// compile turns the parsed fields into the bit sets Next works on.
func (e *Expression) compile() {
	e.sec = e.fields[fSecond].bits
	e.min = e.fields[fMinute].bits
	e.hour = uint32(e.fields[fHour].bits)
	e.month = uint16(e.fields[fMonth].bits)
	for _, k := range []fieldKind{fSecond, fMinute, fHour} {
		for _, it := range e.fields[k].items {
			if it.kind != itemValue {
				e.interval = true
			}
		}
	}
	dom := &e.fields[fDom]
	e.domAll = dom.isStar()
	e.domBits = uint32(dom.bits)
	for _, it := range dom.items {
		switch it.kind {
		case itemLast:
			e.domLastOff |= 1
		case itemLastOffset:
			e.domLastOff |= 1 << uint(it.lo)
		case itemLastWeekday:
			e.domLastNearest |= 1 << uint(it.lo)
		case itemNearest:
			e.domNearest |= 1 << uint(it.lo)
		}
	}
	dow := &e.fields[fDow]
	e.dowAll = dow.isStar()
	e.dowBits = uint8(dow.bits)
	for _, it := range dow.items {
		switch it.kind {
		case itemDowLast:
			e.dowLast |= 1 << uint(it.lo)
		case itemDowNth:
			e.dowNth[it.lo] |= 1 << uint(it.hi)
		}
	}
	e.domPlain = e.domLastOff == 0 && e.domLastNearest == 0 && e.domNearest == 0
	e.dowPlain = e.dowLast == 0 && e.dowNth == [7]uint8{}
	e.everyDay = e.domAll && e.dowAll && e.month == 0x1ffe
	// Every field has a value, so some time of day always matches.
	e.firstTime, _ = e.nextTimeOfDay(0, 0, 0)
}

// checkCanFire rejects expressions whose days never occur. The day sets
// depend only on whether the year is a leap year and on the weekday of
// January 1st, and the 28 years from 2001 to 2028 contain every such
// combination, so searching them is exhaustive.
func (e *Expression) checkCanFire() error {
	domOnly, both := false, false
	for y := int64(2001); y <= 2028 && !both; y++ {
		for m := 1; m <= 12; m++ {
			if e.month&(1<<uint(m)) == 0 {
				continue
			}
			dim := daysIn(y, m)
			wd1 := weekday(daysFromCivil(y, m, 1))
			dm := e.domMask(dim, wd1)
			if dm != 0 {
				domOnly = true
			}
			if dm&e.dowMask(dim, wd1) != 0 {
				both = true
				break
			}
		}
	}
	if both {
		return nil
	}
	months := e.monthList()
	if !domOnly {
		return &ParseError{"day-of-month", fmt.Sprintf("%s never occurs in %s", e.fields[fDom].text, months)}
	}
	msg := fmt.Sprintf("day-of-month %s and day-of-week %s never fall on the same day", e.fields[fDom].text, e.fields[fDow].text)
	if !e.fields[fMonth].isStar() {
		msg += " in " + months
	}
	return &ParseError{"expression", msg}
}

// monthList names the allowed months: "April or June".
func (e *Expression) monthList() string {
	var names []string
	for m := 1; m <= 12; m++ {
		if e.month&(1<<uint(m)) != 0 {
			names = append(names, fullMonthNames[m-1])
		}
	}
	return joinWords(names, "or")
}

var fullMonthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var fullDayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// joinWords joins a list the English way: "a", "a and b", "a, b and c".
func joinWords(words []string, conj string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}

// popcount is a small convenience for Describe.
func popcount(x uint64) int { return bits.OnesCount64(x) }
