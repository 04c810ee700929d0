package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// untouchedStore is a Store that fails the test if any method is called:
// planning must work without the store, since it runs inside the
// scheduler's transaction.
type untouchedStore struct{ Store }

var planNow = time.Date(2027, 3, 14, 7, 0, 5, 0, time.UTC)

func planNotifier(t *testing.T, cfg Config) *Notifier {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = clock.NewFake(planNow)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "https://geoetl.example.com/"
	}
	n, err := New(cfg, untouchedStore{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func testSchedule(nc geoetl.NotificationConfig) *geoetl.Schedule {
	s := geoetl.NewSchedule()
	s.ID, s.TenantID, s.WorkflowID = "5c0a3f43-0d7e-4f55-9b1b-6b2fbb1f0001", "5c0a3f43-0d7e-4f55-9b1b-6b2fbb1f0002", "5c0a3f43-0d7e-4f55-9b1b-6b2fbb1f0003"
	s.Name, s.CronExpression = "Daily parcels", "0 7 * * *"
	s.NotificationConfig = nc
	return s
}

func testExecution(s *geoetl.Schedule, status geoetl.ExecutionStatus) *geoetl.Execution {
	started := time.Date(2027, 3, 14, 7, 0, 1, 0, time.UTC)
	done := started.Add(1834 * time.Millisecond)
	e := &geoetl.Execution{
		ID: "5c0a3f43-0d7e-4f55-9b1b-6b2fbb1f0004", TenantID: s.TenantID, ScheduleID: &s.ID, WorkflowID: s.WorkflowID,
		WorkflowRunID: "run-1", ScheduledAt: time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC), Trigger: geoetl.TriggerSchedule,
		Status: status, ExecutedAt: &started, CompletedAt: &done, DurationMs: geoetl.Ptr(int64(1834)),
		InstanceID: geoetl.Ptr("node-a"), ParameterValues: map[string]any{"region": "north"},
		Summary: map[string]any{"featuresRead": 1200, "featuresWritten": 1187},
	}
	if status == geoetl.ExecFailed {
		e.ErrorMessage = geoetl.Ptr("step out: disk full <sda1> & more")
		e.RetryCount = 2
	}
	return e
}

func allTargets(success, failure bool) geoetl.NotificationConfig {
	return geoetl.NotificationConfig{
		NotifyOnSuccess: success, NotifyOnFailure: failure,
		EmailAddresses:  []string{"ops@example.com", "OPS@example.com", "gis@example.com"},
		WebhookURLs:     []string{"https://hooks.example.com/a/secret-a", "https://hooks.example.com/b/secret-b", "https://hooks.example.com/a/secret-a"},
		SlackWebhookURL: geoetl.Ptr("https://hooks.slack.com/services/T0/B0/slacksecret"),
		TeamsWebhookURL: geoetl.Ptr("https://example.webhook.office.com/webhookb2/teamssecret"),
	}
}

func TestPlanExecution_WhoHearsAboutWhat(t *testing.T) {
	n := planNotifier(t, Config{SMTPURL: "smtp://mail.example.com:587"})
	for _, tc := range []struct {
		name      string
		success   bool
		failure   bool
		status    geoetl.ExecutionStatus
		willRetry bool
		adHoc     bool
		event     string // "" means no deliveries
	}{
		{"CompletedWithNotifyOnSuccess", true, false, geoetl.ExecCompleted, false, false, EventExecutionCompleted},
		{"CompletedWithoutNotifyOnSuccess", false, true, geoetl.ExecCompleted, false, false, ""},
		{"FinalFailureWithNotifyOnFailure", false, true, geoetl.ExecFailed, false, false, EventExecutionFailed},
		{"FailureThatWillBeRetried", true, true, geoetl.ExecFailed, true, false, ""},
		{"FinalFailureWithoutNotifyOnFailure", true, false, geoetl.ExecFailed, false, false, ""},
		{"Cancelled", true, true, geoetl.ExecCancelled, false, false, ""},
		{"Skipped", true, true, geoetl.ExecSkipped, false, false, ""},
		{"AdHocRun", true, true, geoetl.ExecCompleted, false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSchedule(allTargets(tc.success, tc.failure))
			ev := ExecutionEvent{Schedule: s, WorkflowName: "Parcels to GeoPackage", Execution: testExecution(s, tc.status), WillRetry: tc.willRetry}
			if tc.adHoc {
				ev.Schedule = nil
			}
			ds := n.PlanExecution(ev)
			if tc.event == "" {
				if len(ds) != 0 {
					t.Fatalf("got %d deliveries, want none", len(ds))
				}
				return
			}
			// Two distinct addresses (one repeated in other case), two
			// distinct webhooks (one repeated), Slack, Teams.
			if len(ds) != 6 {
				t.Fatalf("got %d deliveries, want 6", len(ds))
			}
			for _, d := range ds {
				// Due "at once" is left to the store's clock.
				if d.Event != tc.event || d.Status != geoetl.DeliveryPending || d.NextAttemptAt != nil {
					t.Errorf("delivery %+v: want event %s, pending, no due time of its own", d, tc.event)
				}
				if d.ExecutionID == nil || *d.ExecutionID != ev.Execution.ID || d.ScheduleID == nil || *d.ScheduleID != s.ID || d.TenantID != s.TenantID {
					t.Errorf("delivery %s: wrong execution, schedule or tenant", d.ID)
				}
				if !geoetl.IsUUID(d.ID) {
					t.Errorf("delivery id %q is not a UUID", d.ID)
				}
			}
		})
	}
}

func TestPlanExecution_TargetsAndMasking(t *testing.T) {
	n := planNotifier(t, Config{SMTPURL: "smtp://mail.example.com"})
	s := testSchedule(allTargets(false, true))
	ds := n.PlanExecution(ExecutionEvent{Schedule: s, WorkflowName: "wf", Execution: testExecution(s, geoetl.ExecFailed)})
	got := map[geoetl.DeliveryChannel][]string{}
	for _, d := range ds {
		got[d.Channel] = append(got[d.Channel], d.MaskedTarget)
		if d.Channel != geoetl.ChannelEmail && strings.Contains(d.MaskedTarget, "secret") {
			t.Errorf("masked target %q shows the secret", d.MaskedTarget)
		}
	}
	want := map[geoetl.DeliveryChannel][]string{
		geoetl.ChannelEmail:   {"ops@example.com", "gis@example.com"},
		geoetl.ChannelWebhook: {"https://hooks.example.com/…/****", "https://hooks.example.com/…/****"},
		geoetl.ChannelSlack:   {"https://hooks.slack.com/…/****"},
		geoetl.ChannelTeams:   {"https://example.webhook.office.com/…/****"},
	}
	for ch, w := range want {
		if strings.Join(got[ch], " ") != strings.Join(w, " ") {
			t.Errorf("%s targets %v, want %v", ch, got[ch], w)
		}
	}
}

func TestPlanExecution_EmailWithoutSMTPIsRecordedAsFailed(t *testing.T) {
	n := planNotifier(t, Config{})
	s := testSchedule(geoetl.NotificationConfig{NotifyOnFailure: true, EmailAddresses: []string{"ops@example.com"}})
	ds := n.PlanExecution(ExecutionEvent{Schedule: s, Execution: testExecution(s, geoetl.ExecFailed)})
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.Status != geoetl.DeliveryFailed || d.LastError == nil || *d.LastError != "SMTP not configured" || d.NextAttemptAt != nil {
		t.Fatalf("delivery %+v: want failed with %q and no next attempt", d, "SMTP not configured")
	}
}

func TestPlanScheduleEvent(t *testing.T) {
	n := planNotifier(t, Config{SMTPURL: "smtp://mail.example.com"})
	for _, tc := range []struct {
		name             string
		event            string
		success, failure bool
		want             int
	}{
		{"ErrorWithNotifyOnFailure", EventScheduleError, false, true, 6},
		{"ExpiredWithNotifyOnSuccess", EventScheduleExpired, true, false, 6},
		{"NotificationsOff", EventScheduleError, false, false, 0},
		{"UnknownEvent", "schedule.paused", true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSchedule(allTargets(tc.success, tc.failure))
			s.Status, s.StatusReason = geoetl.StatusError, geoetl.Ptr("workflow deleted")
			ds := n.PlanScheduleEvent(s, tc.event)
			if len(ds) != tc.want {
				t.Fatalf("got %d deliveries, want %d", len(ds), tc.want)
			}
			for _, d := range ds {
				if d.ExecutionID != nil || d.Event != tc.event {
					t.Errorf("delivery %+v: want event %s without execution", d, tc.event)
				}
			}
		})
	}
}

func TestPlanScheduleEvent_WebhookBody(t *testing.T) {
	n := planNotifier(t, Config{})
	s := testSchedule(geoetl.NotificationConfig{NotifyOnFailure: true, WebhookURLs: []string{"https://hooks.example.com/x"}})
	s.Status, s.StatusReason = geoetl.StatusError, geoetl.Ptr("workflow deleted")
	ds := n.PlanScheduleEvent(s, EventScheduleError)
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	var got map[string]any
	if err := json.Unmarshal(ds[0].Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"event": "schedule.error", "tenantId": s.TenantID,
		"schedule": map[string]any{"id": s.ID, "name": "Daily parcels", "status": "error", "statusReason": "workflow deleted"},
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("body\n got %s\nwant %s", g, w)
	}
}

func TestNew_RejectsBadConfigurationClearly(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"UnknownScheme", Config{SMTPURL: "http://mail.example.com"}, "smtp:// or smtps://"},
		{"NoHost", Config{SMTPURL: "smtp://"}, "must have a host"},
		{"BadPort", Config{SMTPURL: "smtp://mail.example.com:99999"}, "port"},
		{"BadPortHidesPassword", Config{SMTPURL: "smtp://u:hunter2@mail.example.com:x"}, "not a valid URL"},
		{"QueryNotSupported", Config{SMTPURL: "smtp://mail.example.com?tls=off"}, "no path or query"},
		{"BadFrom", Config{From: "not an address"}, "not a valid email address"},
		{"RelativePublicURL", Config{PublicURL: "geoetl.example.com"}, "absolute http or https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, untouchedStore{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q shows the SMTP password", err)
			}
		})
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Fatal("New with a nil store succeeded")
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		raw               string
		host              string
		port              int
		implicitTLS, auth bool
		user, pass        string
	}{
		{"smtp://mail.example.com", "mail.example.com", 25, false, false, "", ""},
		{"smtp://mail.example.com:587", "mail.example.com", 587, false, false, "", ""},
		{"smtps://mail.example.com", "mail.example.com", 465, true, false, "", ""},
		{"smtp://me%40example.com:p%40ss@mail.example.com:587/", "mail.example.com", 587, false, true, "me@example.com", "p@ss"},
	} {
		s, err := parseSMTPURL(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if s.host != tc.host || s.port != tc.port || s.implicitTLS != tc.implicitTLS || s.auth != tc.auth || s.user != tc.user || s.pass != tc.pass {
			t.Errorf("%s: got %+v", tc.raw, *s)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
