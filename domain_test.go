package geoetl

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// validSchedule returns a schedule that passes Validate, for tests that
// break one field at a time.
func validSchedule() *Schedule {
	s := NewSchedule()
	s.Name = "Daily parcels"
	s.WorkflowID = "7d7a6e64-3f2b-4c55-9d1e-2f0c7f9b6a01"
	s.CronExpression = "0 2 * * *"
	return s
}

func TestNewSchedule_PassesValidateOnceRequiredFieldsAreSet(t *testing.T) {
	if err := validSchedule().Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
}

func TestSchedule_Validate_NamesTheBadField(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Schedule)
		field  string
	}{
		{"EmptyName", func(s *Schedule) { s.Name = "  " }, "name"},
		{"LongName", func(s *Schedule) { s.Name = string(make([]rune, MaxScheduleNameLen+1)) }, "name"},
		{"WorkflowNotUUID", func(s *Schedule) { s.WorkflowID = "parcels" }, "workflowId"},
		{"MissingCron", func(s *Schedule) { s.CronExpression = "" }, "cronExpression"},
		{"BadCron", func(s *Schedule) { s.CronExpression = "0 0 * * 8" }, "cronExpression"},
		{"UnknownZone", func(s *Schedule) { s.Timezone = "Mars/Olympus" }, "timezone"},
		{"UnknownStatus", func(s *Schedule) { s.Status = "sleeping" }, "status"},
		{"TooManyTags", func(s *Schedule) { s.Tags = make([]string, MaxTags+1) }, "tags"},
		{"EmptyTag", func(s *Schedule) { s.Tags = []string{"ok", ""} }, "tags[1]"},
		{"ConcurrencyOverLimit", func(s *Schedule) { s.MaxConcurrentExecutions = MaxConcurrentLimit + 1 }, "maxConcurrentExecutions"},
		{"UnknownOverlap", func(s *Schedule) { s.OverlapPolicy = "sometimes" }, "overlapPolicy"},
		{"UnknownMisfire", func(s *Schedule) { s.MisfirePolicy = "never" }, "misfirePolicy"},
		{"NegativeRetries", func(s *Schedule) { s.RetryAttempts = -1 }, "retryAttempts"},
		{"UnknownBackoff", func(s *Schedule) { s.RetryBackoff = "linear" }, "retryBackoff"},
		{"ZeroMaxRetryDelay", func(s *Schedule) { s.MaxRetryDelayMinutes = 0 }, "maxRetryDelayMinutes"},
		{"ZeroTimeout", func(s *Schedule) { s.TimeoutMinutes = Ptr(0) }, "timeoutMinutes"},
		{"BadWebhook", func(s *Schedule) { s.NotificationConfig.WebhookURLs = []string{"ftp://example.com/x"} }, "notificationConfig.webhookUrls[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSchedule()
			tt.change(s)
			err := s.Validate()
			if ErrorCode(err) != EINVALID {
				t.Fatalf("Validate() = %v, want an EINVALID error", err)
			}
			fields := ErrorFields(err)
			if _, ok := fields[tt.field]; !ok {
				t.Fatalf("errors name %v, want %q among them", fields, tt.field)
			}
		})
	}
}

func TestSchedule_Validate_ReportsEveryBadFieldAtOnce(t *testing.T) {
	s := validSchedule()
	s.Name = ""
	s.Timezone = "Nowhere/Else"
	s.RetryAttempts = MaxRetryAttempts + 1
	fields := ErrorFields(s.Validate())
	for _, f := range []string{"name", "timezone", "retryAttempts"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("field %q not reported; got %v", f, fields)
		}
	}
}

func TestSchedule_ComputeNextRun(t *testing.T) {
	from := time.Date(2027, 3, 13, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(*Schedule)
		want   string // RFC 3339, "" for none
	}{
		{"NextOccurrenceInZone", func(s *Schedule) { s.CronExpression = "30 2 * * *"; s.Timezone = "America/New_York" }, "2027-03-14T07:00:00Z"},
		{"PausedHasNone", func(s *Schedule) { s.Status = StatusPaused }, ""},
		{"DisabledHasNone", func(s *Schedule) { s.Enabled = false }, ""},
		{"ExpiresBeforeNextHasNone", func(s *Schedule) { s.ExpiresAt = Ptr(from.Add(time.Hour)) }, ""},
		{"ExpiresAfterNext", func(s *Schedule) { s.ExpiresAt = Ptr(from.Add(48 * time.Hour)) }, "2027-03-14T02:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSchedule()
			tt.change(s)
			next, err := s.ComputeNextRun(from)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if next != nil {
				got = next.Format(time.RFC3339)
			}
			if got != tt.want {
				t.Fatalf("ComputeNextRun = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSchedule_IsActive_FalseFromTheExpiryInstant(t *testing.T) {
	s := validSchedule()
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	s.ExpiresAt = &exp
	if !s.IsActive(exp.Add(-time.Nanosecond)) {
		t.Error("inactive before its expiry")
	}
	if s.IsActive(exp) {
		t.Error("still active at its expiry")
	}
}

func TestSchedule_RetryDelay(t *testing.T) {
	tests := []struct {
		backoff RetryBackoff
		attempt int
		want    time.Duration
	}{
		{BackoffFixed, 1, 5 * time.Minute},
		{BackoffFixed, 4, 5 * time.Minute},
		{BackoffExponential, 1, 5 * time.Minute},
		{BackoffExponential, 2, 10 * time.Minute},
		{BackoffExponential, 3, 20 * time.Minute},
		{BackoffExponential, 5, 60 * time.Minute}, // 80 min capped at maxRetryDelayMinutes
		{BackoffExponential, 60, 60 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.backoff, tt.attempt), func(t *testing.T) {
			s := validSchedule()
			s.RetryBackoff = tt.backoff
			if got := s.RetryDelay(tt.attempt); got != tt.want {
				t.Fatalf("RetryDelay(%d) = %v, want %v", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestSchedule_ConcurrencyLimit_AllowMeansUnlimited(t *testing.T) {
	s := validSchedule()
	s.MaxConcurrentExecutions = 3
	if got := s.ConcurrencyLimit(); got != 3 {
		t.Errorf("skip policy: limit %d, want 3", got)
	}
	s.OverlapPolicy = OverlapAllow
	if got := s.ConcurrencyLimit(); got != 0 {
		t.Errorf("allow policy: limit %d, want 0 (unlimited)", got)
	}
}

func TestSchedule_Clone_SharesNothingWithTheOriginal(t *testing.T) {
	s := validSchedule()
	s.Tags = []string{"a"}
	s.ParameterValues = map[string]any{"region": "north"}
	c := s.Clone()
	c.Tags[0] = "b"
	c.ParameterValues["region"] = "south"
	if s.Tags[0] != "a" || s.ParameterValues["region"] != "north" {
		t.Fatalf("changing the clone changed the original: %v %v", s.Tags, s.ParameterValues)
	}
}

func TestScheduleUpdate_Apply_LeavesNilFieldsAlone(t *testing.T) {
	s := validSchedule()
	before := s.Clone()
	(&ScheduleUpdate{}).Apply(s)
	if !reflect.DeepEqual(s, before) {
		t.Fatalf("an empty update changed the schedule:\n%+v\n%+v", s, before)
	}
	var noTimeout *int
	u := ScheduleUpdate{Name: Ptr("Nightly"), TimeoutMinutes: &noTimeout, Tags: Ptr([]string{"x"})}
	s.TimeoutMinutes = Ptr(30)
	u.Apply(s)
	if s.Name != "Nightly" || s.TimeoutMinutes != nil || !reflect.DeepEqual(s.Tags, []string{"x"}) {
		t.Fatalf("update not applied: name %q timeout %v tags %v", s.Name, s.TimeoutMinutes, s.Tags)
	}
	if s.CronExpression != before.CronExpression || s.Timezone != before.Timezone {
		t.Fatal("fields left out of the update changed")
	}
}

func TestScheduleUpdate_ChangesTiming_OnlyForFieldsThatMoveTheNextRun(t *testing.T) {
	if (&ScheduleUpdate{Name: Ptr("x"), Description: Ptr("y")}).ChangesTiming() {
		t.Error("a rename changes timing")
	}
	for name, u := range map[string]ScheduleUpdate{
		"cron":    {CronExpression: Ptr("* * * * *")},
		"zone":    {Timezone: Ptr("Europe/Berlin")},
		"enabled": {Enabled: Ptr(false)},
		"status":  {Status: Ptr(StatusPaused)},
	} {
		if !u.ChangesTiming() {
			t.Errorf("%s: ChangesTiming() = false", name)
		}
	}
}

func TestRole_Allows(t *testing.T) {
	tests := []struct {
		have, need Role
		want       bool
	}{
		{RoleViewer, RoleViewer, true},
		{RoleViewer, RoleEditor, false},
		{RoleEditor, RoleViewer, true},
		{RoleEditor, RoleAdmin, false},
		{RoleAdmin, RoleEditor, true},
		{"", RoleViewer, false},
		{"owner", RoleViewer, false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestErrorCode_SeesThroughWrappingAndHidesInternalErrors(t *testing.T) {
	nf := NotFound("Schedule")
	wrapped := fmt.Errorf("loading: %w", nf)
	if !IsNotFound(wrapped) || ErrorMessage(wrapped) != "Schedule not found." {
		t.Fatalf("wrapped not-found: code %q message %q", ErrorCode(wrapped), ErrorMessage(wrapped))
	}
	internal := errors.New("pq: connection refused on 10.0.0.5")
	if ErrorCode(internal) != EINTERNAL {
		t.Errorf("plain error code %q, want %q", ErrorCode(internal), EINTERNAL)
	}
	if msg := ErrorMessage(internal); msg != "Internal error." {
		t.Errorf("internal error leaks its text: %q", msg)
	}
	if ErrorCode(nil) != "" {
		t.Errorf("nil error has code %q", ErrorCode(nil))
	}
}

func TestFieldErrors_ErrIsNilUntilAFieldFails(t *testing.T) {
	fe := FieldErrors{}
	if fe.Err() != nil {
		t.Fatal("empty FieldErrors gave an error")
	}
	fe.Add("cronExpression", "minute: %d is out of range 0-59", 61)
	err := fe.Err()
	if ErrorCode(err) != EINVALID || err.Error() != "Validation failed.: cronExpression: minute: 61 is out of range 0-59" {
		t.Fatalf("got %v (%s)", err, ErrorCode(err))
	}
}

func TestNotificationConfig_MaskedURLsSentBackKeepTheStoredSecrets(t *testing.T) {
	slack := "https://hooks.slack.com/services/T0/B0/SECRET"
	stored := NotificationConfig{
		WebhookURLs:     []string{"https://a.example/hook/1", "https://b.example/hook/2"},
		SlackWebhookURL: &slack,
	}
	masked := stored.Masked()
	for _, u := range append(masked.WebhookURLs, *masked.SlackWebhookURL) {
		if !IsMaskedURL(u) {
			t.Fatalf("answer shows a secret: %q", u)
		}
	}
	// A client sends back the masked values, in another order, plus a new URL.
	sent := NotificationConfig{
		WebhookURLs:     []string{masked.WebhookURLs[1], masked.WebhookURLs[0], "https://c.example/new"},
		SlackWebhookURL: masked.SlackWebhookURL,
	}
	sent.Unmask(stored)
	want := []string{"https://b.example/hook/2", "https://a.example/hook/1", "https://c.example/new"}
	if !reflect.DeepEqual(sent.WebhookURLs, want) || *sent.SlackWebhookURL != slack {
		t.Fatalf("unmasked to %v %q", sent.WebhookURLs, *sent.SlackWebhookURL)
	}
}

func TestValidateWebhookURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://hooks.example.com/x":   true,
		"http://hooks.example.com:8080": true,
		"ftp://hooks.example.com/x":     false,
		"https:///x":                    false,
		"https://user:pw@example.com/x": false,
		"https://example.com/…/****":    false,
		"not a url at all":              false,
	} {
		if err := ValidateWebhookURL(raw); (err == nil) != ok {
			t.Errorf("ValidateWebhookURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}
