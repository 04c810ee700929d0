package cron

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func mustLoad(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// TestNext_DaylightSaving pins the daylight-saving rules (README, "Cron dialect and daylight saving") in many zones.
// Each case lists the next occurrences in UTC; the comments give the wall
// times. Transitions used (all from the tz database):
//   - America/New_York 2027: 03-14 02:00 EST -> 03:00 EDT (07:00Z);
//     11-07 02:00 EDT -> 01:00 EST (06:00Z).
//   - Europe/Berlin 2026: 03-29 02:00 -> 03:00 (01:00Z); 10-25 03:00 -> 02:00 (01:00Z).
//   - Europe/London 2026: 03-29 01:00 -> 02:00 (01:00Z); 10-25 02:00 -> 01:00 (01:00Z).
//   - Australia/Sydney 2026: 04-05 03:00 -> 02:00 (04-04 16:00Z); 10-04 02:00 -> 03:00 (10-03 16:00Z).
//   - Australia/Lord_Howe 2026, a 30-minute shift: 04-05 02:00 +11 -> 01:30
//     +10:30 (04-04 15:00Z); 10-04 02:00 +10:30 -> 02:30 +11 (10-03 15:30Z).
//   - America/Santiago 2026, at midnight: 04-05 00:00 -03 -> 04-04 23:00 -04
//     (03:00Z); 09-06 00:00 -04 -> 01:00 -03 (04:00Z).
//   - America/Havana 2026: 03-08 00:00 -> 01:00 (05:00Z); 11-01 01:00 -> 00:00 (05:00Z).
//   - Asia/Beirut 2026: 03-29 00:00 -> 01:00 (03-28 22:00Z); 10-25 00:00 -> 10-24 23:00 (21:00Z).
//   - Pacific/Apia 2011: 12-30 00:00 -10 -> 12-31 00:00 +14 (12-30 10:00Z), a whole day skipped.
func TestNext_DaylightSaving(t *testing.T) {
	tests := []struct {
		name, zone, expr, from, want string
	}{
		// The examples the README gives for the daylight-saving rules.
		{"NewYork_SkippedFixedTimeFiresAtTheJump", "America/New_York", "30 2 * * *", "2027-03-13T12:00:00Z",
			"2027-03-14T07:00:00Z 2027-03-15T06:30:00Z"}, // 03:00 EDT, then 02:30 EDT
		{"NewYork_RepeatedFixedTimeFiresInTheFirstPassOnly", "America/New_York", "30 1 * * *", "2027-11-06T12:00:00Z",
			"2027-11-07T05:30:00Z 2027-11-08T06:30:00Z"}, // 01:30 EDT, then 01:30 EST
		{"NewYork_IntervalFiresInBothPasses", "America/New_York", "30 * * * *", "2027-11-07T04:00:00Z",
			"2027-11-07T04:30:00Z 2027-11-07T05:30:00Z 2027-11-07T06:30:00Z 2027-11-07T07:30:00Z"},
		{"NewYork_IntervalAcrossTheGapFiresOnceAtTheJump", "America/New_York", "*/30 * * * *", "2027-03-14T06:00:00Z",
			"2027-03-14T06:30:00Z 2027-03-14T07:00:00Z 2027-03-14T07:30:00Z"},

		// New York, more.
		{"NewYork_GapMatchAndNormalMatchAreOneOccurrence", "America/New_York", "0 2,3 * * *", "2027-03-14T00:00:00Z",
			"2027-03-14T07:00:00Z 2027-03-15T06:00:00Z 2027-03-15T07:00:00Z"},
		{"NewYork_FromJustBeforeTheJump", "America/New_York", "30 2 * * *", "2027-03-14T06:59:59Z",
			"2027-03-14T07:00:00Z"},
		{"NewYork_FromTheJumpItself", "America/New_York", "30 2 * * *", "2027-03-14T07:00:00Z",
			"2027-03-15T06:30:00Z"},
		{"NewYork_FixedListInTheRepeatedHour", "America/New_York", "0,30 1 * * *", "2027-11-07T04:00:00Z",
			"2027-11-07T05:00:00Z 2027-11-07T05:30:00Z 2027-11-08T06:00:00Z"},
		{"NewYork_FixedSixFieldInTheRepeatedHour", "America/New_York", "15 30 1 * * *", "2027-11-07T04:00:00Z",
			"2027-11-07T05:30:15Z 2027-11-08T06:30:15Z"},
		{"NewYork_SecondsIntervalInTheRepeatedHour", "America/New_York", "*/20 59 1 * * *", "2027-11-07T05:59:00Z",
			"2027-11-07T05:59:20Z 2027-11-07T05:59:40Z 2027-11-07T06:59:00Z 2027-11-07T06:59:20Z 2027-11-07T06:59:40Z 2027-11-08T06:59:00Z"},
		{"NewYork_FromInsideTheSecondPass", "America/New_York", "30 1 * * *", "2027-11-07T06:10:00Z",
			"2027-11-08T06:30:00Z"},

		// Europe/Berlin.
		{"Berlin_SkippedFixedTime", "Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00Z",
			"2026-03-29T01:00:00Z 2026-03-30T00:30:00Z"},
		{"Berlin_RepeatedFixedTime", "Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00Z",
			"2026-10-25T00:30:00Z 2026-10-26T01:30:00Z"},
		{"Berlin_IntervalInTheRepeatedHour", "Europe/Berlin", "*/20 2 * * *", "2026-10-25T00:00:00Z",
			"2026-10-25T00:20:00Z 2026-10-25T00:40:00Z 2026-10-25T01:00:00Z 2026-10-25T01:20:00Z 2026-10-25T01:40:00Z 2026-10-26T01:00:00Z"},
		{"Berlin_IntervalInsideTheGapFiresOnce", "Europe/Berlin", "*/20 2 * * *", "2026-03-28T12:00:00Z",
			"2026-03-29T01:00:00Z 2026-03-30T00:00:00Z"},

		// Europe/London.
		{"London_SkippedFixedTime", "Europe/London", "15 1 * * *", "2026-03-28T12:00:00Z",
			"2026-03-29T01:00:00Z 2026-03-30T00:15:00Z"},
		{"London_RepeatedFixedTime", "Europe/London", "15 1 * * *", "2026-10-24T12:00:00Z",
			"2026-10-25T00:15:00Z 2026-10-26T01:15:00Z"},
		{"London_MidnightIsUntouched", "Europe/London", "0 0 * * *", "2026-03-28T12:00:00Z",
			"2026-03-29T00:00:00Z 2026-03-29T23:00:00Z"},

		// Australia/Sydney (southern hemisphere: back in April, forward in October).
		{"Sydney_SkippedFixedTime", "Australia/Sydney", "30 2 * * *", "2026-10-02T12:00:00Z",
			"2026-10-02T16:30:00Z 2026-10-03T16:00:00Z 2026-10-04T15:30:00Z"},
		{"Sydney_RepeatedFixedTime", "Australia/Sydney", "30 2 * * *", "2026-04-04T12:00:00Z",
			"2026-04-04T15:30:00Z 2026-04-05T16:30:00Z"},
		{"Sydney_HourlyInBothPasses", "Australia/Sydney", "0 * * * *", "2026-04-04T14:30:00Z",
			"2026-04-04T15:00:00Z 2026-04-04T16:00:00Z 2026-04-04T17:00:00Z"},

		// Australia/Lord_Howe, where the clock moves by 30 minutes.
		{"LordHowe_SkippedHalfHour", "Australia/Lord_Howe", "15 2 * * *", "2026-10-03T12:00:00Z",
			"2026-10-03T15:30:00Z 2026-10-04T15:15:00Z"},
		{"LordHowe_TimeAfterTheHalfHourGapIsNormal", "Australia/Lord_Howe", "45 2 * * *", "2026-10-03T12:00:00Z",
			"2026-10-03T15:45:00Z"},
		{"LordHowe_IntervalAcrossTheGap", "Australia/Lord_Howe", "*/15 * * * *", "2026-10-03T15:00:00Z",
			"2026-10-03T15:15:00Z 2026-10-03T15:30:00Z 2026-10-03T15:45:00Z"},
		{"LordHowe_RepeatedHalfHourFixed", "Australia/Lord_Howe", "45 1 * * *", "2026-04-04T12:00:00Z",
			"2026-04-04T14:45:00Z 2026-04-05T15:15:00Z"},
		{"LordHowe_RepeatedHalfHourInterval", "Australia/Lord_Howe", "*/15 1 * * *", "2026-04-04T14:00:00Z",
			"2026-04-04T14:15:00Z 2026-04-04T14:30:00Z 2026-04-04T14:45:00Z 2026-04-04T15:00:00Z 2026-04-04T15:15:00Z 2026-04-05T14:30:00Z"},

		// America/Santiago, where the clocks change at midnight.
		{"Santiago_SkippedMidnightFiresAtOneOClock", "America/Santiago", "0 0 * * *", "2026-09-04T12:00:00Z",
			"2026-09-05T04:00:00Z 2026-09-06T04:00:00Z 2026-09-07T03:00:00Z"},
		{"Santiago_SkippedMidnightOfAOneDayExpression", "America/Santiago", "0 0 6 9 *", "2026-01-01T00:00:00Z",
			"2026-09-06T04:00:00Z 2027-09-06T03:00:00Z"},
		{"Santiago_MidnightAfterTheRepeatIsNormal", "America/Santiago", "0 0 * * *", "2026-04-03T12:00:00Z",
			"2026-04-04T03:00:00Z 2026-04-05T04:00:00Z 2026-04-06T04:00:00Z"},
		{"Santiago_RepeatedLateEveningFixed", "America/Santiago", "30 23 * * *", "2026-04-03T12:00:00Z",
			"2026-04-04T02:30:00Z 2026-04-05T02:30:00Z 2026-04-06T03:30:00Z"},
		{"Santiago_RepeatedLateEveningInterval", "America/Santiago", "*/30 23 * * *", "2026-04-05T01:59:00Z",
			"2026-04-05T02:00:00Z 2026-04-05T02:30:00Z 2026-04-05T03:00:00Z 2026-04-05T03:30:00Z 2026-04-06T03:00:00Z"},

		// America/Havana and Asia/Beirut, also at midnight.
		{"Havana_SkippedMidnight", "America/Havana", "0 0 * * *", "2026-03-07T00:00:00Z",
			"2026-03-07T05:00:00Z 2026-03-08T05:00:00Z 2026-03-09T04:00:00Z"},
		{"Havana_RepeatedMidnightFixed", "America/Havana", "0 0 * * *", "2026-10-31T00:00:00Z",
			"2026-10-31T04:00:00Z 2026-11-01T04:00:00Z 2026-11-02T05:00:00Z"},
		{"Havana_RepeatedMidnightInterval", "America/Havana", "*/30 0 * * *", "2026-11-01T03:59:00Z",
			"2026-11-01T04:00:00Z 2026-11-01T04:30:00Z 2026-11-01T05:00:00Z 2026-11-01T05:30:00Z 2026-11-02T05:00:00Z"},
		{"Beirut_SkippedMidnight", "Asia/Beirut", "0 0 * * *", "2026-03-27T12:00:00Z",
			"2026-03-27T22:00:00Z 2026-03-28T22:00:00Z 2026-03-29T21:00:00Z"},
		{"Beirut_RepeatedLateEveningFixed", "Asia/Beirut", "30 23 * * *", "2026-10-24T12:00:00Z",
			"2026-10-24T20:30:00Z 2026-10-25T21:30:00Z"},

		// Asia/Kolkata has no daylight saving: every day is alike.
		{"Kolkata_FixedTime", "Asia/Kolkata", "30 2 * * *", "2026-03-08T00:00:00Z",
			"2026-03-08T21:00:00Z 2026-03-09T21:00:00Z"},
		{"Kolkata_Interval", "Asia/Kolkata", "*/45 * * * *", "2026-03-08T00:00:00Z",
			"2026-03-08T00:15:00Z 2026-03-08T00:30:00Z 2026-03-08T01:15:00Z"},

		// Far ahead the tz data gives way to each zone's POSIX rule, where
		// Go's ZoneBounds misreports 31 December of leap years
		// (golang/go#81583); the search must neither hang nor skip it.
		{"Warsaw_LastDayOfALeapYearUnderTheTZRule", "Europe/Warsaw", "0 */6 31 12 *", "2040-12-30T12:00:00Z",
			"2040-12-30T23:00:00Z 2040-12-31T05:00:00Z 2040-12-31T11:00:00Z 2040-12-31T17:00:00Z 2041-12-30T23:00:00Z"},
		{"Santiago_AcrossTheEndOfALeapYearUnderTheTZRule", "America/Santiago", "0 0,23 31 12 *", "2040-12-30T12:00:00Z",
			"2040-12-31T03:00:00Z 2041-01-01T02:00:00Z 2041-12-31T03:00:00Z"},

		// Pacific/Apia skipped 30 December 2011 altogether.
		{"Apia_NoonOfTheSkippedDayFiresAtTheJump", "Pacific/Apia", "0 12 * * *", "2011-12-28T00:00:00Z",
			"2011-12-28T22:00:00Z 2011-12-29T22:00:00Z 2011-12-30T10:00:00Z 2011-12-30T22:00:00Z"},
		{"Apia_TheSkippedDateFiresAtTheJump", "Pacific/Apia", "0 0 30 12 *", "2011-12-01T00:00:00Z",
			"2011-12-30T10:00:00Z 2012-12-29T10:00:00Z"},
		{"Apia_SkippedAndFollowingDayAreOneOccurrence", "Pacific/Apia", "0 0 30,31 12 *", "2011-12-01T00:00:00Z",
			"2011-12-30T10:00:00Z 2012-12-29T10:00:00Z 2012-12-30T10:00:00Z"},
		{"Apia_SkippedFridayFiresAtTheJump", "Pacific/Apia", "0 9 * * FRI", "2011-12-20T00:00:00Z",
			"2011-12-23T19:00:00Z 2011-12-30T10:00:00Z 2012-01-05T19:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustLoad(t, tt.zone)
			e := mustParse(t, tt.expr)
			n := len(strings.Fields(tt.want))
			got := formatTimes(e.NextN(utc(t, tt.from), loc, n))
			if got != tt.want {
				t.Errorf("%q in %s from %s:\n got %s\nwant %s", tt.expr, tt.zone, tt.from, got, tt.want)
			}
		})
	}
}

func TestNext_ReturnsUTC(t *testing.T) {
	loc := mustLoad(t, "Europe/Berlin")
	next := mustParse(t, "0 12 * * *").Next(utc(t, "2026-06-01T00:00:00Z").In(loc), loc)
	if next.Location() != time.UTC {
		t.Errorf("location = %v, want UTC", next.Location())
	}
	if want := utc(t, "2026-06-01T10:00:00Z"); !next.Equal(want) {
		t.Errorf("Next = %v, want %v", next, want)
	}
}

func TestNext_NilLocationIsUTC(t *testing.T) {
	got := mustParse(t, "0 12 * * *").Next(utc(t, "2026-06-01T00:00:00Z"), nil)
	if want := utc(t, "2026-06-01T12:00:00Z"); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
}

func TestNext_FindsOccurrencesDecadesAhead(t *testing.T) {
	// 29 February is a Monday in 2016, 2044, 2072 and then 2112: 2100 is
	// not a leap year, so the gap exceeds the 28-year cycle.
	e := mustParse(t, "0 0 29 2 MON")
	got := e.NextN(utc(t, "2026-01-01T00:00:00Z"), time.UTC, 3)
	want := []time.Time{utc(t, "2044-02-29T00:00:00Z"), utc(t, "2072-02-29T00:00:00Z"), utc(t, "2112-02-29T00:00:00Z")}
	if !slices.Equal(got, want) {
		t.Errorf("NextN from 2026 = %v, want %v", got, want)
	}
	// 5 May on a Friday: 2017, then 2023.
	if got, want := mustParse(t, "5 5 5 5 5").Next(utc(t, "2017-05-05T05:05:00Z"), time.UTC), utc(t, "2023-05-05T05:05:00Z"); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
	// The 31st on a Sunday in December of a leap year, with a zone.
	ny, _ := time.LoadLocation("America/New_York")
	if got := mustParse(t, "0 0 31 12 SUN").Next(utc(t, "2026-01-01T00:00:00Z"), ny); got.IsZero() || got.In(ny).Weekday() != time.Sunday {
		t.Errorf("Next = %v, want a Sunday the 31st of December", got)
	}
}

func TestNext_StopsAtTheEndOfYear9999(t *testing.T) {
	e := mustParse(t, "0 0 1 1 *")
	if got := e.Next(utc(t, "9999-06-01T00:00:00Z"), time.UTC); !got.IsZero() {
		t.Errorf("Next = %v, want the zero Time", got)
	}
	got := mustParse(t, "59 23 31 12 *").Next(utc(t, "9999-06-01T00:00:00Z"), time.UTC)
	if want := utc(t, "9999-12-31T23:59:00Z"); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
}

func TestNextN_NonPositiveCountGivesNothing(t *testing.T) {
	e := mustParse(t, "* * * * *")
	for _, n := range []int{0, -1} {
		if got := e.NextN(utc(t, "2026-01-01T00:00:00Z"), time.UTC, n); got != nil {
			t.Errorf("NextN(%d) = %v, want nil", n, got)
		}
	}
}

func TestBetween_HalfOpenRangeOldestFirst(t *testing.T) {
	loc := mustLoad(t, "America/New_York")
	e := mustParse(t, "0 * * * *")
	from, to := utc(t, "2027-11-07T04:00:00Z"), utc(t, "2027-11-07T08:00:00Z")
	tests := []struct {
		name  string
		limit int
		want  string
	}{
		{"All", 100, "2027-11-07T05:00:00Z 2027-11-07T06:00:00Z 2027-11-07T07:00:00Z 2027-11-07T08:00:00Z"},
		{"Limited", 2, "2027-11-07T05:00:00Z 2027-11-07T06:00:00Z"},
		{"ZeroLimit", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatTimes(e.Between(from, to, loc, tt.limit)); got != tt.want {
				t.Errorf("got %s\nwant %s", got, tt.want)
			}
		})
	}
	if got := e.Between(to, from, loc, 10); got != nil {
		t.Errorf("Between with to before from = %v, want nil", got)
	}
}

func TestBetween_SearchesBeyondFiveYears(t *testing.T) {
	e := mustParse(t, "0 0 29 2 MON")
	got := formatTimes(e.Between(utc(t, "2017-01-01T00:00:00Z"), utc(t, "2100-01-01T00:00:00Z"), time.UTC, 10))
	want := "2044-02-29T00:00:00Z 2072-02-29T00:00:00Z"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestNext_ConcurrentUseIsSafe(t *testing.T) {
	e := mustParse(t, "*/7 * * * *")
	loc := mustLoad(t, "Europe/Berlin")
	from := utc(t, "2026-03-29T00:00:00Z")
	want := e.NextN(from, loc, 50)
	done := make(chan []time.Time)
	for range 4 {
		go func() { done <- e.NextN(from, loc, 50) }()
	}
	for range 4 {
		if got := <-done; formatTimes(got) != formatTimes(want) {
			t.Errorf("concurrent NextN differs:\n got %s\nwant %s", formatTimes(got), formatTimes(want))
		}
	}
}
