package geoetl

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSchedule_Diff_NamesTheChangedFields(t *testing.T) {
	at := time.Date(2027, 1, 2, 3, 4, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(*Schedule)
		want   []string
	}{
		{"Nothing", func(s *Schedule) {}, []string{}},
		{"Name", func(s *Schedule) { s.Name = "Nightly parcels" }, []string{"name"}},
		{"CronAndZone", func(s *Schedule) { s.CronExpression = "0 3 * * *"; s.Timezone = "Europe/Berlin" }, []string{"cronExpression", "timezone"}},
		{"Disabled", func(s *Schedule) { s.Enabled = false }, []string{"enabled"}},
		{"Paused", func(s *Schedule) { s.Status = StatusPaused; s.StatusReason = Ptr("maintenance") }, []string{"status", "statusReason"}},
		{"ParameterValue", func(s *Schedule) { s.ParameterValues = map[string]any{"bbox": "1,2,3,4"} }, []string{"parameterValues"}},
		{"TagAdded", func(s *Schedule) { s.Tags = []string{"nightly"} }, []string{"tags"}},
		{"TimeoutSet", func(s *Schedule) { s.TimeoutMinutes = Ptr(30) }, []string{"timeoutMinutes"}},
		{"ExpirySet", func(s *Schedule) { s.ExpiresAt = &at }, []string{"expiresAt"}},
		{"WebhookAdded", func(s *Schedule) { s.NotificationConfig.WebhookURLs = []string{"https://example.com/hook"} }, []string{"notificationConfig"}},
		{"RetryPolicy", func(s *Schedule) { s.RetryAttempts = 3; s.RetryBackoff = BackoffExponential }, []string{"retryAttempts", "retryBackoff"}},
		{"RuntimeOnly", func(s *Schedule) {
			s.NextRunAt, s.LastRunAt, s.LastRunID = &at, &at, Ptr("run")
			s.Version, s.UpdatedAt, s.UpdatedBy = 7, at, "someone"
		}, []string{}},
		{"NilTagsAreNoTags", func(s *Schedule) { s.Tags = nil }, []string{}},
		{"NilParametersAreNoParameters", func(s *Schedule) { s.ParameterValues = nil }, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			was := validSchedule()
			now := was.Clone()
			tt.change(now)
			if got := was.Diff(now); !slices.Equal(got, tt.want) {
				t.Errorf("Diff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUpdateBetween_AppliedTurnsOneScheduleIntoTheOther(t *testing.T) {
	was := validSchedule()
	now := was.Clone()
	now.Name, now.Description, now.Enabled = "Renamed", "now described", false
	now.Tags = []string{"a", "b"}
	now.TimeoutMinutes = Ptr(15)
	now.NotificationConfig.EmailAddresses = []string{"ops@example.com"}

	u := UpdateBetween(was, now)
	if got, want := u.Fields(), []string{"description", "enabled", "name", "notificationConfig", "tags", "timeoutMinutes"}; !slices.Equal(got, want) {
		t.Fatalf("update sets %v, want %v", got, want)
	}
	got := was.Clone()
	u.Apply(got)
	if d := got.Diff(now); len(d) != 0 {
		t.Errorf("after Apply the schedules still differ in %v", d)
	}
}

func TestScheduleUpdate_Apply_KeepsFieldsTheUpdateLeavesOut(t *testing.T) {
	s := validSchedule()
	s.Description = "kept"
	s.TimeoutMinutes = Ptr(10)
	u := ScheduleUpdate{Name: Ptr("New name"), TimeoutMinutes: Ptr[*int](nil)}
	u.Apply(s)
	if s.Name != "New name" || s.TimeoutMinutes != nil {
		t.Errorf("set fields not applied: name %q, timeout %v", s.Name, s.TimeoutMinutes)
	}
	if s.Description != "kept" || s.CronExpression != "0 2 * * *" {
		t.Errorf("fields the update left out changed: %+v", s)
	}
}

func TestSchedule_DefinitionUpdate_LeavesStatusAlone(t *testing.T) {
	old := validSchedule()
	old.Status, old.StatusReason = StatusPaused, Ptr("old pause")
	u := old.DefinitionUpdate()
	if u.Status != nil || u.StatusReason != nil {
		t.Errorf("definition update sets the status: %v", u.Fields())
	}
	cur := validSchedule()
	cur.Name, cur.Enabled, cur.Tags = "Current", false, []string{"x"}
	u.Apply(cur)
	if d := old.Diff(cur); !slices.Equal(d, []string{"status", "statusReason"}) {
		t.Errorf("after restoring the definition the schedules differ in %v, want only the status", d)
	}
}

// A field added to Schedule must be either diffed and updatable, or
// listed here as identity or runtime state; otherwise the console, the
// API and the version history would silently ignore it.
func TestScheduleFields_CoverEverySchedulesField(t *testing.T) {
	notUpdatable := map[string]bool{
		"id": true, "tenantId": true, "nextRunAt": true, "lastRunAt": true, "lastRunStatus": true, "lastRunId": true,
		"createdAt": true, "createdBy": true, "updatedAt": true, "updatedBy": true, "version": true,
	}
	listed := map[string]bool{}
	for _, f := range scheduleFields {
		listed[f.name] = true
	}
	st := reflect.TypeOf(Schedule{})
	for i := 0; i < st.NumField(); i++ {
		name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ",")
		if !listed[name] && !notUpdatable[name] {
			t.Errorf("Schedule.%s (%q) is neither in scheduleFields nor a runtime field", st.Field(i).Name, name)
		}
	}

	var u ScheduleUpdate
	for _, f := range scheduleFields {
		f.take(&u, validSchedule())
	}
	uv := reflect.ValueOf(u)
	for i := 0; i < uv.NumField(); i++ {
		name := uv.Type().Field(i).Name
		if name != "ExpectedVersion" && uv.Field(i).IsNil() {
			t.Errorf("ScheduleUpdate.%s is set by no entry of scheduleFields", name)
		}
	}
}

func TestSchedule_Diff_OfDecodedSnapshots(t *testing.T) {
	var a, b Schedule
	if err := json.Unmarshal([]byte(`{"name":"a","tags":[]}`), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"name":"a","tags":null,"description":"new"}`), &b); err != nil {
		t.Fatal(err)
	}
	if got := a.Diff(&b); !slices.Equal(got, []string{"description"}) {
		t.Errorf("Diff = %v, want [description]", got)
	}
}
