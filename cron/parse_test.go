package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func mustParse(tb testing.TB, expr string) *Expression {
	tb.Helper()
	e, err := Parse(expr)
	if err != nil {
		tb.Fatalf("Parse(%q): %v", expr, err)
	}
	return e
}

func utc(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatalf("bad time %q: %v", s, err)
	}
	return t
}

func formatTimes(ts []time.Time) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(time.RFC3339)
	}
	return strings.Join(out, " ")
}

// TestParse_SyntaxSelectsTheRightTimes pins every syntax rule by the
// occurrences it produces in UTC. Calendar notes for 2026: January 1st is
// a Thursday, August 1st a Saturday, May 31st a Sunday.
func TestParse_SyntaxSelectsTheRightTimes(t *testing.T) {
	tests := []struct {
		name, expr, from, want string
	}{
		{"EveryMinute", "* * * * *", "2026-01-01T00:00:00Z",
			"2026-01-01T00:01:00Z 2026-01-01T00:02:00Z 2026-01-01T00:03:00Z"},
		{"QuestionMarkIsStar", "? ? ? ? ?", "2026-01-01T00:00:30Z",
			"2026-01-01T00:01:00Z 2026-01-01T00:02:00Z 2026-01-01T00:03:00Z"},
		{"StrictlyAfterFrom", "0 0 * * *", "2026-01-02T00:00:00Z",
			"2026-01-03T00:00:00Z 2026-01-04T00:00:00Z 2026-01-05T00:00:00Z"},
		{"SubSecondFromStillMovesOn", "* * * * * *", "2026-01-01T00:00:00.999Z",
			"2026-01-01T00:00:01Z 2026-01-01T00:00:02Z 2026-01-01T00:00:03Z"},
		{"List", "0 8,12,18 * * *", "2026-01-01T10:00:00Z",
			"2026-01-01T12:00:00Z 2026-01-01T18:00:00Z 2026-01-02T08:00:00Z"},
		{"Range", "0 9-10 * * *", "2026-01-01T09:30:00Z",
			"2026-01-01T10:00:00Z 2026-01-02T09:00:00Z 2026-01-02T10:00:00Z"},
		{"StarStep", "*/20 * * * *", "2026-01-01T00:00:00Z",
			"2026-01-01T00:20:00Z 2026-01-01T00:40:00Z 2026-01-01T01:00:00Z"},
		{"RangeStep", "10-40/10 0 * * *", "2026-01-01T00:00:00Z",
			"2026-01-01T00:10:00Z 2026-01-01T00:20:00Z 2026-01-01T00:30:00Z 2026-01-01T00:40:00Z 2026-01-02T00:10:00Z"},
		{"StartStepRunsToTheMaximum", "5/15 0 * * *", "2026-01-01T00:00:00Z",
			"2026-01-01T00:05:00Z 2026-01-01T00:20:00Z 2026-01-01T00:35:00Z 2026-01-01T00:50:00Z 2026-01-02T00:05:00Z"},
		{"ReversedHourRangeWraps", "0 22-2 * * *", "2026-01-01T00:00:00Z",
			"2026-01-01T01:00:00Z 2026-01-01T02:00:00Z 2026-01-01T22:00:00Z 2026-01-01T23:00:00Z 2026-01-02T00:00:00Z"},
		{"ReversedRangeStepContinuesAcrossTheWrap", "0 22-4/2 * * *", "2026-01-01T00:00:00Z",
			"2026-01-01T02:00:00Z 2026-01-01T04:00:00Z 2026-01-01T22:00:00Z 2026-01-02T00:00:00Z"},
		{"ReversedMonthNamesWrap", "0 0 1 DEC-FEB *", "2026-01-15T00:00:00Z",
			"2026-02-01T00:00:00Z 2026-12-01T00:00:00Z 2027-01-01T00:00:00Z"},
		{"ReversedWeekdayNamesWrap", "0 0 * * FRI-MON", "2026-01-01T00:00:00Z",
			"2026-01-02T00:00:00Z 2026-01-03T00:00:00Z 2026-01-04T00:00:00Z 2026-01-05T00:00:00Z 2026-01-09T00:00:00Z"},
		{"SevenIsSunday", "0 0 * * 7", "2026-01-01T00:00:00Z",
			"2026-01-04T00:00:00Z 2026-01-11T00:00:00Z"},
		{"ZeroIsSunday", "0 0 * * 0", "2026-01-01T00:00:00Z",
			"2026-01-04T00:00:00Z 2026-01-11T00:00:00Z"},
		{"WeekdayRangeEndingOnSeven", "0 0 * * 6-7", "2026-01-01T00:00:00Z",
			"2026-01-03T00:00:00Z 2026-01-04T00:00:00Z 2026-01-10T00:00:00Z"},
		{"NamesAreCaseInsensitive", "0 0 1 jan,Jul * ", "2026-01-01T00:00:00Z",
			"2026-07-01T00:00:00Z 2027-01-01T00:00:00Z"},
		{"TabsAndRunsOfSpaces", " \t0\t\t12   *  * \t mon ", "2026-01-01T00:00:00Z",
			"2026-01-05T12:00:00Z 2026-01-12T12:00:00Z"},
		{"SixFieldsHaveSeconds", "15,45 * * * * *", "2026-01-01T00:00:00Z",
			"2026-01-01T00:00:15Z 2026-01-01T00:00:45Z 2026-01-01T00:01:15Z"},
		{"LastDayOfMonth", "0 0 L * *", "2026-01-15T00:00:00Z",
			"2026-01-31T00:00:00Z 2026-02-28T00:00:00Z 2026-03-31T00:00:00Z 2026-04-30T00:00:00Z"},
		{"LastDayInLeapFebruary", "0 0 L 2 *", "2027-06-01T00:00:00Z",
			"2028-02-29T00:00:00Z 2029-02-28T00:00:00Z"},
		{"DaysBeforeTheLastDay", "0 0 L-2 * *", "2026-01-15T00:00:00Z",
			"2026-01-29T00:00:00Z 2026-02-26T00:00:00Z 2026-03-29T00:00:00Z"},
		{"NearestWeekdayOnAWeekday", "0 0 15W * *", "2026-01-01T00:00:00Z",
			"2026-01-15T00:00:00Z 2026-02-16T00:00:00Z 2026-03-16T00:00:00Z"},
		{"NearestWeekdaySaturdayFirstIsMondayThird", "0 0 1W 8 *", "2026-01-01T00:00:00Z",
			"2026-08-03T00:00:00Z"},
		{"NearestWeekdaySunday31stIsFriday29th", "0 0 31W 5 *", "2026-01-01T00:00:00Z",
			"2026-05-29T00:00:00Z"},
		{"NearestWeekdaySaturdayIsFriday", "0 0 15W 8 *", "2026-01-01T00:00:00Z",
			"2026-08-14T00:00:00Z"},
		{"NearestWeekdaySkipsMonthsWithoutTheDay", "0 0 31W * *", "2026-01-01T00:00:00Z",
			"2026-01-30T00:00:00Z 2026-03-31T00:00:00Z 2026-05-29T00:00:00Z"},
		{"LastWeekday", "0 0 LW * *", "2026-01-01T00:00:00Z",
			"2026-01-30T00:00:00Z 2026-02-27T00:00:00Z 2026-03-31T00:00:00Z 2026-04-30T00:00:00Z 2026-05-29T00:00:00Z"},
		{"LastFriday", "0 0 * * 5L", "2026-01-01T00:00:00Z",
			"2026-01-30T00:00:00Z 2026-02-27T00:00:00Z 2026-03-27T00:00:00Z"},
		{"LastFridayByName", "0 0 * * fril", "2026-01-01T00:00:00Z",
			"2026-01-30T00:00:00Z 2026-02-27T00:00:00Z 2026-03-27T00:00:00Z"},
		{"LastSundayAsSeven", "0 0 * * 7L", "2026-01-01T00:00:00Z",
			"2026-01-25T00:00:00Z 2026-02-22T00:00:00Z"},
		{"ThirdSaturday", "0 0 * * 6#3", "2026-01-01T00:00:00Z",
			"2026-01-17T00:00:00Z 2026-02-21T00:00:00Z 2026-03-21T00:00:00Z"},
		{"ThirdSaturdayByName", "0 0 * * sat#3", "2026-01-01T00:00:00Z",
			"2026-01-17T00:00:00Z 2026-02-21T00:00:00Z 2026-03-21T00:00:00Z"},
		{"FifthMondayOnlyInMonthsThatHaveOne", "0 0 * * MON#5", "2026-01-01T00:00:00Z",
			"2026-03-30T00:00:00Z 2026-06-29T00:00:00Z 2026-08-31T00:00:00Z 2026-11-30T00:00:00Z"},
		{"BothDayFieldsMustMatch", "0 0 13 * FRI", "2026-01-01T00:00:00Z",
			"2026-02-13T00:00:00Z 2026-03-13T00:00:00Z 2026-11-13T00:00:00Z 2027-08-13T00:00:00Z"},
		{"LastDayThatIsASunday", "0 0 L * SUN", "2026-01-01T00:00:00Z",
			"2026-05-31T00:00:00Z 2027-01-31T00:00:00Z"},
		{"ListMixingPlainAndSpecialDays", "0 0 1,L * *", "2026-01-15T00:00:00Z",
			"2026-01-31T00:00:00Z 2026-02-01T00:00:00Z 2026-02-28T00:00:00Z 2026-03-01T00:00:00Z"},
		{"MacroHourly", "@hourly", "2026-01-01T00:30:00Z",
			"2026-01-01T01:00:00Z 2026-01-01T02:00:00Z"},
		{"MacroIsCaseInsensitive", "@DAILY", "2026-01-01T00:30:00Z",
			"2026-01-02T00:00:00Z 2026-01-03T00:00:00Z"},
		{"MacroMidnight", "@midnight", "2026-01-01T00:30:00Z",
			"2026-01-02T00:00:00Z 2026-01-03T00:00:00Z"},
		{"MacroWeeklyIsSunday", "@weekly", "2026-01-01T00:00:00Z",
			"2026-01-04T00:00:00Z 2026-01-11T00:00:00Z"},
		{"MacroMonthly", "@monthly", "2026-01-01T00:00:00Z",
			"2026-02-01T00:00:00Z 2026-03-01T00:00:00Z"},
		{"MacroYearly", "@yearly", "2026-01-01T00:00:00Z",
			"2027-01-01T00:00:00Z 2028-01-01T00:00:00Z"},
		{"MacroAnnually", "@annually", "2026-01-01T00:00:00Z",
			"2027-01-01T00:00:00Z 2028-01-01T00:00:00Z"},
		{"MacroEverySecond", "@every_second", "2026-01-01T00:00:00Z",
			"2026-01-01T00:00:01Z 2026-01-01T00:00:02Z"},
		{"MacroEveryMinute", "@every_minute", "2026-01-01T00:00:00Z",
			"2026-01-01T00:01:00Z 2026-01-01T00:02:00Z"},
		{"LeapDay", "0 0 29 2 *", "2026-01-01T00:00:00Z",
			"2028-02-29T00:00:00Z 2032-02-29T00:00:00Z"},
		{"DayStepFromStar", "0 0 */10 1 *", "2026-01-01T00:00:00Z",
			"2026-01-11T00:00:00Z 2026-01-21T00:00:00Z 2026-01-31T00:00:00Z 2027-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, tt.expr)
			n := len(strings.Fields(tt.want))
			got := formatTimes(e.NextN(utc(t, tt.from), time.UTC, n))
			if got != tt.want {
				t.Errorf("%q from %s:\n got %s\nwant %s", tt.expr, tt.from, got, tt.want)
			}
		})
	}
}

func TestParse_RejectsWithFieldAndReason(t *testing.T) {
	tests := []struct {
		name, expr, want string
	}{
		{"Empty", "", "expression: is empty"},
		{"OnlyBlanks", " \t ", "expression: is empty"},
		{"TooFewFields", "* * * *", "expression: expected 5 or 6 fields, got 4"},
		{"TooManyFields", "* * * * * * *", "expression: expected 5 or 6 fields, got 7"},
		{"TooLong", strings.Repeat("1,", 600) + "1 * * * *", "expression: is 1209 bytes long; at most 1000 are allowed"},
		{"UnknownMacro", "@fortnightly", `expression: unknown macro "@fortnightly"; known macros are @every_second, @every_minute, @hourly, @daily, @midnight, @weekly, @monthly, @yearly and @annually`},
		{"MacroWithFields", "@daily 5", `expression: unknown macro "@daily 5"; known macros are @every_second, @every_minute, @hourly, @daily, @midnight, @weekly, @monthly, @yearly and @annually`},
		{"ControlCharacter", "* * * * *\x00", `expression: unexpected character '\x00'`},
		{"NonASCII", "* * * * lundi×", `expression: unexpected character '×'`},
		{"SecondOutOfRange", "60 * * * * *", "second: 60 is out of range 0-59"},
		{"MinuteOutOfRange", "60 * * * *", "minute: 60 is out of range 0-59"},
		{"HourOutOfRange", "0 24 * * *", "hour: 24 is out of range 0-23"},
		{"DayOfMonthZero", "0 0 0 * *", "day-of-month: 0 is out of range 1-31"},
		{"DayOfMonthOutOfRange", "0 0 32 * *", "day-of-month: 32 is out of range 1-31"},
		{"MonthZero", "0 0 1 0 *", "month: 0 is out of range 1-12"},
		{"MonthOutOfRange", "0 0 1 13 *", "month: 13 is out of range 1-12"},
		{"DayOfWeekOutOfRange", "0 0 * * 8", "day-of-week: 8 is out of range 0-7"},
		{"HugeNumber", "99999999999999999999 * * * *", "minute: 99999999999999999999 is out of range 0-59"},
		{"RangeEndOutOfRange", "0 20-25 * * *", "hour: 25 is out of range 0-23"},
		{"StepZero", "*/0 * * * *", "minute: step 0 is out of range 1-59"},
		{"StepOverRange", "*/60 * * * *", "minute: step 60 is out of range 1-59"},
		{"HourStepOverRange", "0 */24 * * *", "hour: step 24 is out of range 1-23"},
		{"StepNotANumber", "*/x * * * *", `minute: step "X" in "*/x" is not a number`},
		{"StepMissing", "*/ * * * *", `minute: step "" in "*/" is not a number`},
		{"StepWithoutBase", "/5 * * * *", `minute: missing value before the step in "/5"`},
		{"NotANumber", "abc * * * *", `minute: "ABC" is not a number`},
		{"NameInNumericField", "0 MON * * *", `hour: "MON" is not a number`},
		{"UnknownMonthName", "0 0 1 JANUARY *", `month: unknown month name "JANUARY"`},
		{"UnknownDayName", "0 0 * * FUN", `day-of-week: unknown day name "FUN"`},
		{"EmptyListItem", "1,,2 * * * *", "minute: empty value in the list"},
		{"TrailingComma", "0 0 * * 1,", "day-of-week: empty value in the list"},
		{"OpenRange", "0 5- * * *", `hour: "5-" is missing a value`},
		{"LInMinute", "L * * * *", `minute: "L": L is only allowed in day-of-month and day-of-week`},
		{"LInMonth", "0 0 1 L *", `month: "L": L is only allowed in day-of-month and day-of-week`},
		{"WInHour", "0 5W * * *", `hour: "5W": W is only allowed in day-of-month`},
		{"WInDayOfWeek", "0 0 * * 1W", `day-of-week: "1W": W is only allowed in day-of-month`},
		{"LWInDayOfWeek", "0 0 * * LW", `day-of-week: "LW": W is only allowed in day-of-month`},
		{"LOffsetInDayOfWeek", "0 0 * * L-2", `day-of-week: "L-2": L-n is only allowed in day-of-month`},
		{"HashInDayOfMonth", "0 0 1#2 * *", `day-of-month: "1#2": # is only allowed in day-of-week`},
		{"HashInMinute", "1#2 * * * *", `minute: "1#2": # is only allowed in day-of-week`},
		{"WeekdayLInDayOfMonth", "0 0 5L * *", `day-of-month: "5L": a weekday followed by L is only allowed in day-of-week`},
		{"BareLInDayOfWeek", "0 0 * * L", `day-of-week: "L": L needs a weekday before it, e.g. 5L or FRIL for the last Friday`},
		{"OrdinalZero", "0 0 * * 6#0", `day-of-week: "6#0": ordinal 0 is out of range 1-5`},
		{"OrdinalSix", "0 0 * * SAT#6", `day-of-week: "SAT#6": ordinal 6 is out of range 1-5`},
		{"OrdinalNotANumber", "0 0 * * 6#x", `day-of-week: "6#x": the ordinal after # must be a number`},
		{"HashWeekdayOutOfRange", "0 0 * * 8#1", "day-of-week: 8 is out of range 0-7"},
		{"LastOffsetTooLarge", "0 0 L-31 * *", `day-of-month: "L-31": offset 31 is out of range 0-30`},
		{"LastOffsetNotANumber", "0 0 L-x * *", `day-of-month: "L-x": the offset after L- must be a number`},
		{"NearestWeekdayZero", "0 0 0W * *", "day-of-month: 0 is out of range 1-31"},
		{"NearestWeekdayWithRange", "0 0 1-5W * *", `day-of-month: "1-5W": W must follow a single day number, e.g. 15W`},
		{"LWithStep", "0 0 L/2 * *", `day-of-month: "L/2": L and W cannot be combined with ranges or steps`},
		{"NeverFiresThirtiethOfFebruary", "0 0 30 2 *", "day-of-month: 30 never occurs in February"},
		{"NeverFiresThirtyFirstOfShortMonths", "0 0 31 4,6 *", "day-of-month: 31 never occurs in April or June"},
		{"NeverFiresNearestWeekdayOf30thInFebruary", "0 0 30W FEB *", "day-of-month: 30W never occurs in February"},
		{"NeverFiresDayAndWeekdayNeverCoincide", "0 0 1 * MON#5", "expression: day-of-month 1 and day-of-week MON#5 never fall on the same day"},
		{"NeverFiresInTheAllowedMonths", "0 0 30 1 MON#4", "expression: day-of-month 30 and day-of-week MON#4 never fall on the same day in January"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error %q", tt.expr, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error is %T, want *ParseError", tt.expr, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q):\n got %s\nwant %s", tt.expr, err, tt.want)
			}
			if _, derr := Describe(tt.expr); derr == nil || derr.Error() != tt.want {
				t.Errorf("Describe(%q) error = %v, want %s", tt.expr, derr, tt.want)
			}
		})
	}
}

func TestParse_RareButPossibleDaysAreValid(t *testing.T) {
	// Each of these fires, if only every few years, so Parse must accept it.
	for _, expr := range []string{
		"0 0 29 2 *",      // leap years
		"0 0 29 2 MON",    // 29 February on a Monday: 2044, 2072, ...
		"0 0 * 2 MON#5",   // a fifth Monday in February: 2016, 2044, ...
		"0 0 31 1-4 *",    // only January and March have a 31st
		"0 0 L-30 * *",    // the 1st of 31-day months
		"0 0 1 * MON#1",   // a Monday the 1st
		"0 0 13 * FRI",    // Friday the 13th
		"0 0 31W 2,3 *",   // March only
		"0 0 L * MON-FRI", // a last day on a weekday
	} {
		if _, err := Parse(expr); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

func TestParse_LastWeekdayOnASaturdayIsRejected(t *testing.T) {
	_, err := Parse("0 0 LW * SAT")
	want := "expression: day-of-month LW and day-of-week SAT never fall on the same day"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestExpression_StringIsTheTrimmedInput(t *testing.T) {
	for in, want := range map[string]string{
		"  0 2 * * 1-5\t": "0 2 * * 1-5",
		"@Daily":          "@Daily",
		"0\t0  * * *":     "0\t0  * * *",
	} {
		if got := mustParse(t, in).String(); got != want {
			t.Errorf("String() of %q = %q, want %q", in, got, want)
		}
	}
}

func TestExpression_HasSeconds(t *testing.T) {
	for expr, want := range map[string]bool{
		"* * * * *":     false,
		"0 * * * * *":   true,
		"@every_second": true,
		"@every_minute": false,
		"@daily":        false,
	} {
		if got := mustParse(t, expr).HasSeconds(); got != want {
			t.Errorf("HasSeconds(%q) = %v, want %v", expr, got, want)
		}
	}
}

func TestExpression_IsIntervalFollowsTheTimeFields(t *testing.T) {
	for expr, want := range map[string]bool{
		"30 1 * * *":        false, // fixed time
		"0,30 1,13 * * *":   false, // lists of single values are fixed
		"0 0 * * *":         false,
		"0 0 1 * MON-FRI":   false, // the day fields do not count
		"@daily":            false,
		"* 1 * * *":         true,
		"30 * * * *":        true,
		"30 ? * * *":        true,
		"*/30 * * * *":      true,
		"0 1-2 * * *":       true,
		"0 5/6 * * *":       true,
		"0 22-2 * * *":      true,
		"0 30 1 * * *":      false,
		"* 30 1 * * *":      true, // the seconds field is an interval
		"0-5 30 1 * * *":    true,
		"@hourly":           true,
		"@every_minute":     true,
		"@every_second":     true,
		"0,1,2,3 0 1 * * *": false,
	} {
		if got := mustParse(t, expr).IsInterval(); got != want {
			t.Errorf("IsInterval(%q) = %v, want %v", expr, got, want)
		}
	}
}
