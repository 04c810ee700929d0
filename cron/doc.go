// Package cron implements GeoETL's cron dialect: parsing, validation,
// plain-English descriptions and the computation of occurrences in any time
// zone, with exact rules for daylight-saving transitions. The dialect is
// compatible with Cronos, the library the original system used. It needs
// only the standard library.
//
// # Fields
//
// An expression has five fields, or six with seconds first:
//
//	[second] minute hour day-of-month month day-of-week
//	  0-59    0-59  0-23    1-31      1-12     0-7
//
// A five-field expression fires at second 0. Fields are separated by any run
// of spaces or tabs, and surrounding white space is ignored. Input over
// 1,000 bytes is rejected.
//
// Each field is a comma-separated list of:
//
//	5            one value
//	1-5          a range; a reversed range wraps: hours 22-2 are 22, 23, 0, 1, 2;
//	             months DEC-FEB and weekdays FRI-MON wrap the same way
//	* or ?       every value (? is the same as *)
//	*/15         every 15th value from the field's minimum
//	10-40/10     every 10th value of a range (10, 20, 30, 40); steps continue
//	             across the wrap of a reversed range
//	5/15         every 15th value from 5 to the field's maximum
//
// A step must be at least 1 and at most the field's maximum (59 for
// minutes, 12 for months: "*/12" in the month field is January only), as in
// Cronos. Months and weekdays may be written as three-letter English names
// (JAN-DEC, SUN-SAT); names and the letters below are case-insensitive.
// Day-of-week 0 and 7 are both Sunday.
//
// Day-of-month also accepts:
//
//	L      the last day of the month
//	L-3    three days before the last day (L-0 to L-30)
//	15W    the weekday (Monday to Friday) nearest the 15th, never leaving the
//	       month: 1W on a Saturday is Monday the 3rd, 31W on a Sunday is
//	       Friday the 29th; a month without the day has no match
//	LW     the last weekday of the month
//	L-2W   the weekday nearest two days before the last day (L-0W is LW)
//
// Day-of-week also accepts:
//
//	5L or FRIL     the last Friday of the month
//	6#3 or SAT#3   the third Saturday of the month (#1 to #5; #5 fires only
//	               in months that have a fifth one)
//
// These may be mixed with plain values in a list ("1,L", "MON,5L"), except
// the W forms: as in Cronos and Quartz, the nearest weekday is defined for
// a single day, so "1,15W" is refused.
//
// Macros (case-insensitive) stand for whole expressions: @every_second
// (* * * * * *), @every_minute (* * * * *), @hourly (0 * * * *), @daily and
// @midnight (0 0 * * *), @weekly (0 0 * * 0), @monthly (0 0 1 * *),
// @yearly and @annually (0 0 1 1 *).
//
// # Day-of-month and day-of-week together
//
// When both day fields are restricted, a day must match both: "0 0 13 * FRI"
// fires on Friday the 13th only. This differs from Vixie cron (and from
// most Unix crons), where such a day matches either field.
//
// # Validation
//
// Parse reports problems as a *ParseError naming the field (second, minute,
// hour, day-of-month, month, day-of-week, or expression for the whole) and
// the problem, for example "day-of-week: 8 is out of range 0-7" or
// "expression: expected 5 or 6 fields, got 4". An expression that can never
// fire is invalid: "0 0 30 2 *" gives "day-of-month: 30 never occurs in
// February", and day fields that never coincide ("0 0 1 * MON#5") are
// rejected too. The check is exact, because which days match depends only on
// the leap year and the weekday of January 1st, and 28 consecutive years of
// the Gregorian calendar between 1901 and 2099 cover every combination.
//
// # Time zones and daylight saving
//
// Occurrences are computed in a time zone (a *time.Location from the tz
// database) and returned as UTC instants. For a whole-second instant t, let
// wall(t) be its wall-clock time in the zone. The instant t fires if and
// only if
//
//   - wall(t) matches the expression, and either wall(t) occurs only once,
//     or t is its first occurrence (the first pass, at the earlier offset,
//     when clocks go back), or the expression is an interval expression; or
//   - t is an instant at which the clock jumps forward, and some wall time
//     in the skipped interval matches the expression.
//
// Each instant fires at most once, so a skipped match and a normal match at
// the instant of the jump are one occurrence.
//
// An interval expression is one whose second, minute or hour field contains
// *, ?, a range or a step (a five-field expression's implicit second field
// is the fixed value 0). A fixed-time expression has only lists of single
// values there. So, in America/New_York:
//
//   - "30 2 * * *" on 2027-03-14, when 02:00 jumps to 03:00, fires once at
//     03:00 EDT (07:00Z): nothing is skipped.
//   - "30 1 * * *" on 2027-11-07, when 01:00-02:00 happens twice, fires at
//     01:30 EDT (05:30Z) only: nothing doubles.
//   - "30 * * * *" from 2027-11-07T04:00Z gives 04:30Z, 05:30Z, 06:30Z and
//     07:30Z: an interval fires in both passes.
//   - "*/30 * * * *" from 2027-03-14T06:00Z gives 06:30Z, 07:00Z, 07:30Z.
//
// The rules hold in every zone, whatever the size of the shift (30 minutes
// on Lord Howe Island) or the time of day of the transition (midnight in
// Santiago or Havana, where "0 0 * * *" then fires at 01:00), and for a
// whole skipped day (Pacific/Apia on 2011-12-30, whose matches all fire at
// the jump, 00:00 on the 31st).
//
// # Searching
//
// Next searches up to one Gregorian cycle (400 years) ahead, which is
// exhaustive: the calendar repeats after it, and Parse refuses expressions
// whose days never occur. So a valid expression always has a next
// occurrence, even a sparse one such as "0 0 29 2 MON" (2044, 2072, then
// 2112: the gap can exceed the 28-year cycle across a century year that is
// not a leap year). Occurrences are only sought in the years 1 to 9999. The search steps
// field by field over precomputed bit sets and one constant-offset stretch
// of the zone at a time, so it costs well under a microsecond for typical
// expressions.
package cron
