package views

import (
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func TestMissedNote_SaysHowManyOccurrencesARecordStandsFor(t *testing.T) {
	at := time.Date(2027, 1, 1, 10, 0, 0, 0, time.UTC)
	until := at.Add(179 * time.Second)
	for _, tc := range []struct {
		name string
		e    geoetl.Execution
		want string
	}{
		{"Range", geoetl.Execution{ScheduledAt: at, MissedCount: 180, MissedUntil: &until}, "(180 occurrences, until "},
		{"SingleMiss", geoetl.Execution{ScheduledAt: at, MissedCount: 1, MissedUntil: &at}, ""},
		{"NotAMiss", geoetl.Execution{ScheduledAt: at}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := missedNote(&tc.e, "UTC")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("missedNote = %q, want %q", got, tc.want)
			}
		})
	}
}
