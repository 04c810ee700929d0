package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

// planOne plans a failed execution with one target on the given channel
// and returns its delivery.
func planOne(t *testing.T, nc geoetl.NotificationConfig, status geoetl.ExecutionStatus) (*geoetl.Delivery, *geoetl.Schedule, *geoetl.Execution) {
	t.Helper()
	n := planNotifier(t, Config{SMTPURL: "smtp://mail.example.com"})
	nc.NotifyOnSuccess, nc.NotifyOnFailure = true, true
	s := testSchedule(nc)
	e := testExecution(s, status)
	ds := n.PlanExecution(ExecutionEvent{Schedule: s, WorkflowName: "Parcels to GeoPackage", Execution: e})
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	return ds[0], s, e
}

func TestWebhookBody_ExecutionHasTheContractShape(t *testing.T) {
	d, s, e := planOne(t, geoetl.NotificationConfig{WebhookURLs: []string{"https://hooks.example.com/x"}}, geoetl.ExecFailed)
	var got map[string]any
	if err := json.Unmarshal(d.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"event":    "execution.failed",
		"tenantId": s.TenantID,
		"schedule": map[string]any{"id": s.ID, "name": "Daily parcels"},
		"execution": map[string]any{
			"id": e.ID, "scheduleId": s.ID, "workflowId": s.WorkflowID, "workflowRunId": "run-1",
			"scheduledAt": "2027-03-14T07:00:00Z", "trigger": "schedule", "status": "failed",
			"executedAt": "2027-03-14T07:00:01Z", "completedAt": "2027-03-14T07:00:02.834Z", "durationMs": 1834,
			"retryCount": 2, "errorMessage": "step out: disk full <sda1> & more", "skipped": false, "skipReason": nil,
			"instanceId": "node-a", "parameterValues": map[string]any{"region": "north"},
			"summary": map[string]any{"featuresRead": 1200, "featuresWritten": 1187},
		},
	}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("body\n got %s\nwant %s", g, w)
	}
}

func TestSlackBody_TextAndBlocks(t *testing.T) {
	d, _, e := planOne(t, geoetl.NotificationConfig{SlackWebhookURL: geoetl.Ptr("https://hooks.slack.com/services/x")}, geoetl.ExecFailed)
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type, Text string
			} `json:"text"`
			Fields []struct{ Type, Text string } `json:"fields"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(d.Payload, &msg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg.Text, "[GeoETL] Daily parcels: failed") {
		t.Errorf("text %q", msg.Text)
	}
	if len(msg.Blocks) < 3 || msg.Blocks[0].Type != "header" || msg.Blocks[0].Text.Type != "plain_text" || msg.Blocks[0].Text.Text != "[GeoETL] Daily parcels: failed" {
		t.Fatalf("blocks %+v: want a plain_text header first", msg.Blocks)
	}
	all := string(d.Payload)
	// Slack's mrkdwn reserves <, > and &; the error must come through escaped.
	if !strings.Contains(all, "disk full &lt;sda1&gt; &amp; more") || strings.Contains(all, "<sda1>") {
		t.Errorf("error not escaped for mrkdwn: %s", all)
	}
	link := "https://geoetl.example.com/geoetl/executions/" + e.ID
	if !strings.Contains(all, "<"+link+"|View execution>") {
		t.Errorf("no link to %s in %s", link, all)
	}
	for _, f := range []string{"*Workflow*\\nParcels to GeoPackage", "*Occurrence*\\n2027-03-14T07:00:00Z", "*Duration*\\n1.834s"} {
		if !strings.Contains(all, f) {
			t.Errorf("no field %q in %s", f, all)
		}
	}
}

func TestTeamsBody_AdaptiveCardAttachment(t *testing.T) {
	d, _, e := planOne(t, geoetl.NotificationConfig{TeamsWebhookURL: geoetl.Ptr("https://example.webhook.office.com/x")}, geoetl.ExecCompleted)
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Schema  string           `json:"$schema"`
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
				Actions []struct {
					Type, Title, URL string
				} `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(d.Payload, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 {
		t.Fatalf("message %+v: want type message with one attachment", msg)
	}
	a := msg.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" || a.Content.Version != "1.4" {
		t.Fatalf("attachment %+v: want an Adaptive Card 1.4", a)
	}
	if len(a.Content.Body) == 0 || a.Content.Body[0]["text"] != "[GeoETL] Daily parcels: completed" || a.Content.Body[0]["color"] != "Good" {
		t.Errorf("first block %v: want the title in green", a.Content.Body)
	}
	if len(a.Content.Actions) != 1 || a.Content.Actions[0].Type != "Action.OpenUrl" || a.Content.Actions[0].URL != "https://geoetl.example.com/geoetl/executions/"+e.ID {
		t.Errorf("actions %+v: want one OpenUrl to the execution", a.Content.Actions)
	}
}

func TestEmailParts_SubjectBodiesAndLink(t *testing.T) {
	d, _, e := planOne(t, geoetl.NotificationConfig{EmailAddresses: []string{"ops@example.com"}}, geoetl.ExecFailed)
	var p emailParts
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Subject != "[GeoETL] Daily parcels: failed" {
		t.Errorf("subject %q", p.Subject)
	}
	link := "https://geoetl.example.com/geoetl/executions/" + e.ID
	for _, want := range []string{"Daily parcels", "Parcels to GeoPackage", "2027-03-14T07:00:00Z", "1.834s", "step out: disk full <sda1> & more", link, "Attempt:    3 (after 2 retries)"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text body lacks %q:\n%s", want, p.Text)
		}
	}
	for _, want := range []string{"Parcels to GeoPackage", "disk full &lt;sda1&gt; &amp; more", `href="` + link + `"`} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("HTML body lacks %q:\n%s", want, p.HTML)
		}
	}
}

func TestTitle_NameCannotBreakTheSubjectLine(t *testing.T) {
	s := testSchedule(geoetl.NotificationConfig{})
	s.Name = "evil\r\nBcc: victim@example.com"
	m := &message{Event: EventExecutionCompleted, Schedule: s, Execution: testExecution(s, geoetl.ExecCompleted)}
	if strings.ContainsAny(m.title(), "\r\n") {
		t.Fatalf("title %q holds a line break", m.title())
	}
}

func TestFormatDuration(t *testing.T) {
	for ms, want := range map[int64]string{0: "0s", 1834: "1.834s", 59999: "59.999s", 61400: "1m1s", 3723000: "1h2m3s"} {
		if got := formatDuration(ms); got != want {
			t.Errorf("formatDuration(%d) = %q, want %q", ms, got, want)
		}
	}
}
