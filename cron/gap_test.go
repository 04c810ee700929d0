package cron

import (
	"testing"
	"time"
)

func TestMinGap_IsTheShortestGapBetweenOccurrences(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		expr string
		loc  *time.Location
		want time.Duration
	}{
		{"* * * * * *", nil, time.Second},
		{"0,1 * * * * *", nil, time.Second},
		{"*/2 * * * * *", nil, 2 * time.Second},
		{"*/7 * * * * *", nil, 4 * time.Second}, // :56 to the next minute's :00
		{"10,20 * * * * *", nil, 10 * time.Second},
		{"0 * * * *", nil, time.Hour},
		{"*/15 * * * *", nil, 15 * time.Minute},
		{"0 0 0,23 * * *", nil, time.Hour}, // 23:00 to the next day's 00:00
		{"0 0 * * *", nil, day},
		{"0 0 * * MON-FRI", nil, day},
		{"0 0 * * MON", nil, 7 * day},
		{"0 0 L * *", nil, 28 * day},    // 31 January to 28 February
		{"0 0 1,L * *", nil, day},       // the last of a month to the 1st of the next
		{"0 0 * * 5L", nil, 28 * day},   // last Fridays four weeks apart
		{"0 0 15W * *", nil, 28 * day},  // weekdays nearest the 15th
		{"0 0 29 2 *", nil, 1461 * day}, // leap days, four years apart at best
		{"0 0 1 1 *", nil, 365 * day},   // yearly
		{"@every_second", nil, time.Second},
		{"0 0 2 * * *", ny, 23 * time.Hour},                 // spring forward
		{"0 30 2 * * *", ny, 23*time.Hour + 30*time.Minute}, // 02:30 skipped fires at 03:00
		{"0 30 2,3 * * *", ny, 30 * time.Minute},            // the jump at 03:00, then 03:30
		{"0 59 1,3 * * *", ny, time.Hour},                   // 01:59 EST, then 03:59 EDT
		{"0 30 * * * *", ny, 30 * time.Minute},              // 01:30 EST, the skipped 02:30 at 03:00 EDT, 03:30
		{"0 30 * * * *", nil, time.Hour},
		{"*/59 */59 1 * * *", ny, time.Second}, // 01:59:59 EDT, then 01:00:00 EST
		{"*/59 */59 1 * * *", nil, 59 * time.Second},
		{"0 0 12 * * *", ny, 23 * time.Hour}, // a day with clocks going forward lasts 23 hours
		{"0 0 12 * * *", nil, day},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if got := e.MinGap(from, tt.loc); got != tt.want {
			t.Errorf("MinGap(%q, %v) = %s, want %s", tt.expr, tt.loc, got, tt.want)
		}
	}
}

// TestMinGap_AgreesWithTheOccurrences compares MinGap with the gaps
// between the occurrences Between finds over four years, in zones with
// daylight saving (30 minutes on Lord Howe, at midnight in Santiago).
func TestMinGap_AgreesWithTheOccurrences(t *testing.T) {
	exprs := []string{
		"0 * * * *", "30 1 * * *", "0 2 * * *", "*/20 * * * *", "0 0-3 * * *", "15,45 1-2 * * *",
		"59 23 * * *", "0 0 * * *", "0 0,12 * * SUN", "0 1 L * *", "0 */5 1-3 * * *", "30 0 8 * * MON#2",
		"0 0 1,2 * * *", "*/30 */30 1 * * *",
	}
	zones := []string{"UTC", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Europe/London"}
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(4, 0, 0)
	for _, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range exprs {
			e, err := Parse(s)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			occ := e.Between(from, to, loc, 1<<20)
			var want time.Duration
			for i := 1; i < len(occ); i++ {
				if g := occ[i].Sub(occ[i-1]); want == 0 || g < want {
					want = g
				}
			}
			// Four years hold the shortest gap of these expressions: the
			// second Monday of August 2028 is 28 days before September's,
			// with Santiago's clocks going forward between (671 hours).
			if got := e.MinGap(from, loc); got != want {
				t.Errorf("MinGap(%q) in %s = %s; the occurrences' shortest gap is %s", s, z, got, want)
			}
		}
	}
}

func BenchmarkMinGap(b *testing.B) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, s := range []string{"* * * * * *", "0 30 2 * * *", "0 0 * * 5L"} {
		e, _ := Parse(s)
		for _, loc := range []*time.Location{time.UTC, ny} {
			b.Run(s+"/"+loc.String(), func(b *testing.B) {
				from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
				for b.Loop() {
					e.MinGap(from, loc)
				}
			})
		}
	}
}
