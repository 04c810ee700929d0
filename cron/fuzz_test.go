package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var fuzzSeeds = []string{
	"* * * * *", "*/5 * * * *", "0 2 * * 1-5", "0 0 L * *", "0 0 13 * FRI", "*/1 * * * * *",
	"0 0 L-3 * *", "0 0 15W * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * FRIL", "0 0 * * 6#3", "0 0 * * SAT#5",
	"0 22-2 * * *", "0 0 1 DEC-FEB *", "0 0 * * FRI-MON", "5/15 * * * *", "10-40/10 * * * *", "? ? ? ? ?",
	"@hourly", "@every_second", "@yearly", "@bogus", "", " ", "* * * *", "0 0 30 2 *", "0 0 31 4,6 *",
	"1,,2 * * * *", "*/0 * * * *", "0 0 * * 8", "0 0 1#2 * *", "L * * * *", "0 0 * * 6#6", "\x00",
	"0 0 29 2 MON", "0 0 31W 2,3 *", "59 59 23 31 12 7", "0 0 * * 7-0", "0 5-5/30 * * *",
}

// FuzzParse checks that Parse never panics, returns either an expression
// or a *ParseError, and that every valid expression can be described,
// printed and parsed again to the same schedule.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field == "" || pe.Message == "" {
				t.Fatalf("Parse(%q) error %v is not a complete *ParseError", s, err)
			}
			if e != nil {
				t.Fatalf("Parse(%q) returned both an expression and an error", s)
			}
			return
		}
		if d := e.Describe(); d == "" {
			t.Fatalf("Describe(%q) is empty", s)
		}
		if e.String() != strings.TrimSpace(s) {
			t.Fatalf("String() = %q, want the trimmed input %q", e.String(), strings.TrimSpace(s))
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v", s, err)
		}
		from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if a, b := formatTimes(e.NextN(from, time.UTC, 3)), formatTimes(again.NextN(from, time.UTC, 3)); a != b {
			t.Fatalf("re-parsed %q fires differently: %s vs %s", s, a, b)
		}
	})
}

var fuzzZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Pacific/Apia", "Asia/Kolkata", "Pacific/Chatham"}

// FuzzNext checks that Next never panics, that an occurrence is strictly
// after from, and that NextN is strictly increasing, for any valid
// expression, zone and starting instant.
func FuzzNext(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint8(i), int64(1_800_000_000+i*7_777_777), uint32(i*1_000_003))
	}
	f.Add("30 2 * * *", uint8(1), int64(1_805_007_600-1), uint32(0))    // New York, just before a jump
	f.Add("0 12 * * *", uint8(5), int64(1_325_152_800-3600), uint32(0)) // Apia's skipped day
	f.Add("* * * * * *", uint8(0), int64(253_402_300_790), uint32(0))   // the end of year 9999
	f.Add("0 0 * * *", uint8(0), int64(-62_135_596_800-86_400), uint32(5))
	locs := make([]*time.Location, len(fuzzZones))
	for i, z := range fuzzZones {
		locs[i] = mustLoad(f, z)
	}
	f.Fuzz(func(t *testing.T, s string, zone uint8, sec int64, nsec uint32) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		loc := locs[int(zone)%len(locs)]
		from := time.Unix(sec, int64(nsec%1_000_000_000))
		next := e.Next(from, loc)
		if !next.IsZero() && !next.After(from) {
			t.Fatalf("Next(%q, %v, %s) = %v, not after from", s, from, loc, next)
		}
		prev := from
		for _, n := range e.NextN(from, loc, 5) {
			if !n.After(prev) {
				t.Fatalf("NextN(%q, %v, %s) is not strictly increasing at %v", s, from, loc, n)
			}
			prev = n
		}
	})
}
