package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// TestZones_AllLoad checks that every zone the picker offers is accepted
// by the validation the service applies.
func TestZones_AllLoad(t *testing.T) {
	zones := Zones()
	if len(zones) < 400 {
		t.Fatalf("only %d zones", len(zones))
	}
	for _, z := range zones {
		if _, err := geoetl.LoadLocation(z); err != nil {
			t.Errorf("%s: %v", z, err)
		}
	}
	for _, want := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"} {
		found := false
		for _, z := range zones {
			found = found || z == want
		}
		if !found {
			t.Errorf("%s is missing", want)
		}
	}
}

// TestRelTime_SaysHowFar pins the relative wording.
func TestRelTime_SaysHowFar(t *testing.T) {
	now := time.Date(2027, 3, 14, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		d    time.Duration
		want string
	}{
		{12 * time.Minute, "in 12 min"}, {-3 * time.Hour, "3 h ago"}, {10 * time.Second, "in a few seconds"},
		{-10 * time.Second, "just now"}, {80 * time.Minute, "in 80 min"}, {3 * time.Hour, "in 3 h"}, {-50 * time.Hour, "2 days ago"},
	}
	for _, c := range cases {
		if got := RelTime(now.Add(c.d), now); got != c.want {
			t.Errorf("RelTime(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestAbsTime_InTheSchedulesZone checks absolute times across a DST
// change, with the zone's abbreviation.
func TestAbsTime_InTheSchedulesZone(t *testing.T) {
	at := time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC) // 03:00 EDT, just after the jump
	if got := AbsTime(at, "America/New_York"); got != "2027-03-14 03:00 EDT" {
		t.Errorf("AbsTime = %q", got)
	}
	if got := AbsTime(at, "Not/AZone"); got != "2027-03-14 07:00 UTC" {
		t.Errorf("AbsTime in an unknown zone = %q", got)
	}
}

// TestNewChart_StacksOutcomesPerHour checks the chart's layout: one slot
// per hour, bars scaled to the busiest hour, stacked by outcome.
func TestNewChart_StacksOutcomesPerHour(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 30, 0, 0, time.UTC)
	counts := []geoetl.HourCount{
		{Hour: time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC), Completed: 3, Failed: 1},
		{Hour: time.Date(2027, 1, 1, 10, 0, 0, 0, time.UTC), Other: 2},
		{Hour: time.Date(2026, 12, 30, 10, 0, 0, 0, time.UTC), Completed: 50}, // outside the window
	}
	c := NewChart(counts, now, 24, "UTC")
	if len(c.Bars) != 24 || c.Max != 4 {
		t.Fatalf("%d bars, max %d", len(c.Bars), c.Max)
	}
	last := c.Bars[23]
	if last.Completed != 3 || last.Failed != 1 || last.OkH <= last.BadH || last.BadY+last.BadH != last.OkY {
		t.Errorf("last bar %+v", last)
	}
	if full := last.OkH + last.BadH; full < chartH-chartBottom-4 {
		t.Errorf("the busiest hour fills %d of %d", full, chartH-chartBottom)
	}
	if c.Bars[21].Others != 2 || c.Bars[0].Completed != 0 {
		t.Errorf("bars 21 and 0: %+v %+v", c.Bars[21], c.Bars[0])
	}
	if !strings.Contains(c.Summary, "6 runs, 1 failed") {
		t.Errorf("summary %q", c.Summary)
	}
}

// TestBadges_SayTheStatusInWords checks that status is never shown by
// colour alone.
func TestBadges_SayTheStatusInWords(t *testing.T) {
	for st, word := range map[geoetl.ExecutionStatus]string{geoetl.ExecCompleted: "Completed", geoetl.ExecFailed: "Failed", geoetl.ExecRunning: "Running",
		geoetl.ExecPending: "Pending", geoetl.ExecSkipped: "Skipped", geoetl.ExecCancelled: "Cancelled"} {
		var buf bytes.Buffer
		if err := ExecBadge(st).Render(context.Background(), &buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), word) {
			t.Errorf("%s badge: %s", st, buf.String())
		}
	}
	var buf bytes.Buffer
	_ = ScheduleBadge(geoetl.StatusActive, false).Render(context.Background(), &buf)
	if !strings.Contains(buf.String(), "Disabled") {
		t.Errorf("a disabled active schedule shows %s", buf.String())
	}
}
