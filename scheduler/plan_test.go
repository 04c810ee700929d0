package scheduler

import (
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func planned(expr, next string, t *testing.T, edit func(*geoetl.Schedule)) *geoetl.Schedule {
	t.Helper()
	s := geoetl.NewSchedule()
	s.CronExpression = expr
	n := mustTime(t, next)
	s.NextRunAt = &n
	if edit != nil {
		edit(s)
	}
	return s
}

var testPlanOpts = planOptions{Grace: 2 * time.Second, MaxMissed: 1000}

func TestPlanSchedule_OnTimeClaimsOneOccurrenceAndAdvances(t *testing.T) {
	t.Parallel()
	s := planned("*/5 * * * *", "2027-01-01T10:05:00Z", t, nil)
	now := mustTime(t, "2027-01-01T10:04:59Z") // claimed ahead of time
	p := planSchedule(s, now, testPlanOpts)
	if len(p.Occurrences) != 1 || !p.Occurrences[0].At.Equal(*s.NextRunAt) || p.Occurrences[0].Trigger != geoetl.TriggerSchedule || p.Occurrences[0].Skip != "" {
		t.Fatalf("occurrences = %+v", p.Occurrences)
	}
	if p.NextRunAt == nil || !p.NextRunAt.Equal(mustTime(t, "2027-01-01T10:10:00Z")) {
		t.Fatalf("next = %v", p.NextRunAt)
	}
}

func TestPlanSchedule_SlightlyLateWithinGraceIsOnTime(t *testing.T) {
	t.Parallel()
	s := planned("* * * * * *", "2027-01-01T10:00:00Z", t, nil)
	p := planSchedule(s, mustTime(t, "2027-01-01T10:00:01Z"), testPlanOpts)
	if len(p.Occurrences) != 1 || p.Occurrences[0].Trigger != geoetl.TriggerSchedule {
		t.Fatalf("occurrences = %+v", p.Occurrences)
	}
	if !p.NextRunAt.Equal(mustTime(t, "2027-01-01T10:00:01Z")) {
		t.Fatalf("next = %v, want the following second (caught up one by one)", p.NextRunAt)
	}
}

func TestPlanSchedule_Misfire(t *testing.T) {
	t.Parallel()
	// Down from 10:00 to 10:30:30 with an every-ten-minutes schedule:
	// 10:00, 10:10, 10:20 and 10:30 were missed. What does not run is one
	// miss record per reason with its range and count.
	now := mustTime(t, "2027-01-01T10:30:30Z")
	at := func(s string) time.Time { return mustTime(t, s) }
	tests := []struct {
		name   string
		policy geoetl.MisfirePolicy
		window int
		want   []occurrence
	}{
		{"RunOnceRunsLatestAsCatchup", geoetl.MisfireRunOnce, 1440, []occurrence{
			{At: at("2027-01-01T10:00:00Z"), Trigger: geoetl.TriggerSchedule, Skip: geoetl.SkipReasonSuperseded, Until: at("2027-01-01T10:20:00Z"), Count: 3},
			{At: at("2027-01-01T10:30:00Z"), Trigger: geoetl.TriggerCatchup}}},
		{"SkipRecordsAllMissedInOneRecord", geoetl.MisfireSkip, 1440, []occurrence{
			{At: at("2027-01-01T10:00:00Z"), Trigger: geoetl.TriggerSchedule, Skip: geoetl.SkipReasonMissed, Until: at("2027-01-01T10:30:00Z"), Count: 4}}},
		{"RunAllRunsThoseInWindow", geoetl.MisfireRunAll, 25, []occurrence{
			{At: at("2027-01-01T10:00:00Z"), Trigger: geoetl.TriggerSchedule, Skip: geoetl.SkipReasonOutsideWindow, Until: at("2027-01-01T10:00:00Z"), Count: 1},
			{At: at("2027-01-01T10:10:00Z"), Trigger: geoetl.TriggerCatchup, Wait: true},
			{At: at("2027-01-01T10:20:00Z"), Trigger: geoetl.TriggerCatchup, Wait: true},
			{At: at("2027-01-01T10:30:00Z"), Trigger: geoetl.TriggerCatchup, Wait: true}}},
		{"RunAllWithZeroWindowRunsNothing", geoetl.MisfireRunAll, 0, []occurrence{
			{At: at("2027-01-01T10:00:00Z"), Trigger: geoetl.TriggerSchedule, Skip: geoetl.SkipReasonOutsideWindow, Until: at("2027-01-01T10:30:00Z"), Count: 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := planned("*/10 * * * *", "2027-01-01T10:00:00Z", t, func(s *geoetl.Schedule) {
				s.MisfirePolicy = tt.policy
				s.CatchupWindowMinutes = tt.window
			})
			p := planSchedule(s, now, testPlanOpts)
			if len(p.Occurrences) != len(tt.want) {
				t.Fatalf("got %d occurrences: %+v", len(p.Occurrences), p.Occurrences)
			}
			for i, w := range tt.want {
				if got := p.Occurrences[i]; !got.At.Equal(w.At) || !got.Until.Equal(w.Until) || got.Trigger != w.Trigger ||
					got.Skip != w.Skip || got.Wait != w.Wait || got.Count != w.Count {
					t.Errorf("occurrence %d = %+v, want %+v", i, got, w)
				}
			}
			if !p.NextRunAt.Equal(mustTime(t, "2027-01-01T10:40:00Z")) {
				t.Errorf("next = %v, want the first occurrence after now", p.NextRunAt)
			}
		})
	}
}

func TestPlanSchedule_LongDowntimeIsOneMissRecordAndOneCatchup(t *testing.T) {
	t.Parallel()
	// An every-second schedule down for a day: 86,401 missed occurrences
	// make two rows, the miss record counting 86,400 and the catch-up.
	s := planned("* * * * * *", "2027-01-01T00:00:00Z", t, nil)
	now := mustTime(t, "2027-01-02T00:00:00Z")
	p := planSchedule(s, now, testPlanOpts)
	if len(p.Occurrences) != 2 {
		t.Fatalf("got %d occurrences, want 2: %+v", len(p.Occurrences), p.Occurrences)
	}
	rec := p.Occurrences[0]
	if !rec.At.Equal(*s.NextRunAt) || !rec.Until.Equal(now.Add(-time.Second)) || rec.Count != 86_400 || rec.Skip != geoetl.SkipReasonSuperseded {
		t.Errorf("miss record = %+v, want %v..%v, 86400 superseded", rec, *s.NextRunAt, now.Add(-time.Second))
	}
	if last := p.Occurrences[1]; !last.At.Equal(now) || last.Trigger != geoetl.TriggerCatchup {
		t.Errorf("latest = %+v, want a catch-up at now", last)
	}
}

func TestPlanSchedule_LongDowntimeRunAllCatchesUpTheLatestMaxMissed(t *testing.T) {
	t.Parallel()
	s := planned("* * * * * *", "2027-01-01T00:00:00Z", t, func(s *geoetl.Schedule) {
		s.MisfirePolicy, s.CatchupWindowMinutes = geoetl.MisfireRunAll, 1440
	})
	now := mustTime(t, "2027-01-02T00:00:00Z")
	p := planSchedule(s, now, testPlanOpts)
	if len(p.Occurrences) != 1+testPlanOpts.MaxMissed {
		t.Fatalf("got %d occurrences, want %d", len(p.Occurrences), 1+testPlanOpts.MaxMissed)
	}
	rec, first := p.Occurrences[0], p.Occurrences[1]
	if rec.Count != 86_401-testPlanOpts.MaxMissed || !rec.Until.Equal(first.At.Add(-time.Second)) || rec.Skip != geoetl.SkipReasonOutsideWindow {
		t.Errorf("miss record = %+v, first catch-up %v", rec, first.At)
	}
	if last := p.Occurrences[len(p.Occurrences)-1]; !last.At.Equal(now) || !last.Wait {
		t.Errorf("latest = %+v, want a waiting catch-up at now", last)
	}
}

func TestLatestOccurrences_ExactlyOneMoreThanMaxDropsTheFirst(t *testing.T) {
	t.Parallel()
	s := planned("* * * * * *", "2027-01-01T00:00:00Z", t, nil)
	expr, _ := s.Cron()
	first := *s.NextRunAt
	got, omitted := latestOccurrences(expr, time.UTC, first, first.Add(3*time.Second), 3)
	if !omitted || len(got) != 3 || !got[0].Equal(first.Add(time.Second)) {
		t.Fatalf("got %v omitted=%v", got, omitted)
	}
}

func TestPlanSchedule_OccurrenceAtExpiryNeverRuns(t *testing.T) {
	t.Parallel()
	s := planned("0 * * * *", "2027-01-01T10:00:00Z", t, func(s *geoetl.Schedule) {
		exp := mustTime(t, "2027-01-01T10:00:00Z")
		s.ExpiresAt = &exp
	})
	p := planSchedule(s, mustTime(t, "2027-01-01T09:59:59.8Z"), testPlanOpts)
	if len(p.Occurrences) != 0 || p.NextRunAt != nil {
		t.Fatalf("plan = %+v, want nothing to run and no next run", p)
	}
}

func TestPlanSchedule_LastOccurrenceBeforeExpiryClearsNextRun(t *testing.T) {
	t.Parallel()
	s := planned("0 * * * *", "2027-01-01T09:00:00Z", t, func(s *geoetl.Schedule) {
		exp := mustTime(t, "2027-01-01T09:30:00Z")
		s.ExpiresAt = &exp
	})
	p := planSchedule(s, mustTime(t, "2027-01-01T09:00:00Z"), testPlanOpts)
	if len(p.Occurrences) != 1 || p.NextRunAt != nil || p.Status != nil {
		t.Fatalf("plan = %+v", p)
	}
}

func TestPlanSchedule_MissedOccurrencesStopAtExpiry(t *testing.T) {
	t.Parallel()
	s := planned("0 * * * *", "2027-01-01T06:00:00Z", t, func(s *geoetl.Schedule) {
		exp := mustTime(t, "2027-01-01T08:00:00Z")
		s.ExpiresAt = &exp
		s.MisfirePolicy = geoetl.MisfireSkip
	})
	p := planSchedule(s, mustTime(t, "2027-01-01T12:00:00Z"), testPlanOpts)
	if len(p.Occurrences) != 1 || p.Occurrences[0].Count != 2 || !p.Occurrences[0].Until.Equal(mustTime(t, "2027-01-01T07:00:00Z")) || p.NextRunAt != nil {
		t.Fatalf("plan = %+v, want one miss record of 06:00 and 07:00", p)
	}
}

func TestPlanSchedule_UnparsableScheduleGoesToError(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*geoetl.Schedule){
		"Expression": func(s *geoetl.Schedule) { s.CronExpression = "61 * * * *" },
		"Zone":       func(s *geoetl.Schedule) { s.Timezone = "Mars/Olympus_Mons" },
	} {
		t.Run(name, func(t *testing.T) {
			s := planned("* * * * *", "2027-01-01T06:00:00Z", t, edit)
			p := planSchedule(s, mustTime(t, "2027-01-01T06:00:00Z"), testPlanOpts)
			if p.Status == nil || *p.Status != geoetl.StatusError || p.Reason == "" || len(p.Occurrences) != 0 {
				t.Fatalf("plan = %+v, want status error with a reason", p)
			}
		})
	}
}
