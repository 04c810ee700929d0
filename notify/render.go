package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/geoetl/geoetl"
)

// Events a delivery can carry.
const (
	EventExecutionCompleted = "execution.completed"
	EventExecutionFailed    = "execution.failed"
	EventScheduleError      = "schedule.error"
	EventScheduleExpired    = "schedule.expired"
)

// message is everything a notification says, before it is rendered for a
// channel.
type message struct {
	Event        string
	TenantID     string
	Schedule     *geoetl.Schedule
	WorkflowName string
	Execution    *geoetl.Execution // nil for schedule events
	Link         string            // execution or schedule page; "" without a public URL
}

// status is the word that goes into subjects and headings: the execution's
// status, or the schedule's for schedule events.
func (m *message) status() string {
	if m.Execution != nil {
		return string(m.Execution.Status)
	}
	return string(m.Schedule.Status)
}

// title is the subject line, also the heading of chat messages.
func (m *message) title() string {
	return "[GeoETL] " + oneLine(m.Schedule.Name) + ": " + m.status()
}

// failed reports whether the message is bad news, for colours in chats.
func (m *message) failed() bool {
	return m.Event == EventExecutionFailed || m.Event == EventScheduleError
}

// fact is one labelled line of a message.
type fact struct{ Label, Value string }

// facts are the lines every channel shows, in this order.
func (m *message) facts() []fact {
	fs := []fact{{"Schedule", m.Schedule.Name}}
	if m.WorkflowName != "" {
		fs = append(fs, fact{"Workflow", m.WorkflowName})
	}
	fs = append(fs, fact{"Status", m.status()})
	e := m.Execution
	if e == nil {
		return fs
	}
	fs = append(fs, fact{"Occurrence", formatTime(e.ScheduledAt)})
	if e.ExecutedAt != nil {
		fs = append(fs, fact{"Started", formatTime(*e.ExecutedAt)})
	}
	if e.DurationMs != nil {
		fs = append(fs, fact{"Duration", formatDuration(*e.DurationMs)})
	}
	fs = append(fs, fact{"Trigger", string(e.Trigger)})
	if e.RetryCount > 0 {
		fs = append(fs, fact{"Attempt", fmt.Sprintf("%d (after %d %s)", e.RetryCount+1, e.RetryCount, plural(e.RetryCount, "retry", "retries"))})
	}
	return fs
}

// errorText is the execution's error, or the schedule's status reason.
func (m *message) errorText() string {
	if m.Execution != nil {
		if m.Execution.ErrorMessage != nil {
			return *m.Execution.ErrorMessage
		}
		return ""
	}
	if m.Schedule.StatusReason != nil {
		return *m.Schedule.StatusReason
	}
	return ""
}

// summary is one sentence saying what happened.
func (m *message) summary() string {
	name := oneLine(m.Schedule.Name)
	switch m.Event {
	case EventExecutionCompleted:
		return fmt.Sprintf("A run of the schedule %q completed.", name)
	case EventExecutionFailed:
		return fmt.Sprintf("A run of the schedule %q failed.", name)
	case EventScheduleError:
		return fmt.Sprintf("The schedule %q went into error and no longer runs.", name)
	case EventScheduleExpired:
		return fmt.Sprintf("The schedule %q expired and no longer runs.", name)
	}
	return name + ": " + m.status()
}

// linkLabel is the text of the link to the console.
func (m *message) linkLabel() string {
	if m.Execution != nil {
		return "View execution"
	}
	return "View schedule"
}

// executionJSON is the execution object of the API contract.
type executionJSON struct {
	ID              string                 `json:"id"`
	ScheduleID      *string                `json:"scheduleId"`
	WorkflowID      string                 `json:"workflowId"`
	WorkflowRunID   string                 `json:"workflowRunId"`
	ScheduledAt     time.Time              `json:"scheduledAt"`
	Trigger         geoetl.Trigger         `json:"trigger"`
	Status          geoetl.ExecutionStatus `json:"status"`
	ExecutedAt      *time.Time             `json:"executedAt"`
	CompletedAt     *time.Time             `json:"completedAt"`
	DurationMs      *int64                 `json:"durationMs"`
	RetryCount      int                    `json:"retryCount"`
	ErrorMessage    *string                `json:"errorMessage"`
	Skipped         bool                   `json:"skipped"`
	SkipReason      *string                `json:"skipReason"`
	InstanceID      *string                `json:"instanceId"`
	ParameterValues map[string]any         `json:"parameterValues"`
	Summary         map[string]any         `json:"summary"`
}

func newExecutionJSON(e *geoetl.Execution) executionJSON {
	out := executionJSON{
		ID: e.ID, ScheduleID: e.ScheduleID, WorkflowID: e.WorkflowID, WorkflowRunID: e.WorkflowRunID,
		ScheduledAt: e.ScheduledAt.UTC(), Trigger: e.Trigger, Status: e.Status,
		ExecutedAt: utcPtr(e.ExecutedAt), CompletedAt: utcPtr(e.CompletedAt), DurationMs: e.DurationMs,
		RetryCount: e.RetryCount, ErrorMessage: e.ErrorMessage, Skipped: e.Skipped, SkipReason: e.SkipReason,
		InstanceID: e.InstanceID, ParameterValues: e.ParameterValues, Summary: e.Summary,
	}
	if out.ParameterValues == nil {
		out.ParameterValues = map[string]any{}
	}
	if out.Summary == nil {
		out.Summary = map[string]any{}
	}
	return out
}

type scheduleRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type scheduleStatusRef struct {
	ID           string                `json:"id"`
	Name         string                `json:"name"`
	Status       geoetl.ScheduleStatus `json:"status"`
	StatusReason *string               `json:"statusReason"`
}

// webhookBody renders the JSON body of a generic webhook.
func webhookBody(m *message) ([]byte, error) {
	if m.Execution != nil {
		return marshal(struct {
			Event     string        `json:"event"`
			TenantID  string        `json:"tenantId"`
			Schedule  scheduleRef   `json:"schedule"`
			Execution executionJSON `json:"execution"`
		}{m.Event, m.TenantID, scheduleRef{m.Schedule.ID, m.Schedule.Name}, newExecutionJSON(m.Execution)})
	}
	return marshal(struct {
		Event    string            `json:"event"`
		TenantID string            `json:"tenantId"`
		Schedule scheduleStatusRef `json:"schedule"`
	}{m.Event, m.TenantID, scheduleStatusRef{m.Schedule.ID, m.Schedule.Name, m.Schedule.Status, m.Schedule.StatusReason}})
}

// Slack limits (Block Kit): header text 150 characters, a section's text
// 3,000, a field 2,000.
const (
	slackHeaderMax = 150
	slackTextMax   = 2900
	slackFieldMax  = 1900
)

// slackBody renders an incoming-webhook message: a plain text for
// notifications and old clients, and blocks for the chat itself.
func slackBody(m *message) ([]byte, error) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type   string `json:"type"`
		Text   *text  `json:"text,omitempty"`
		Fields []text `json:"fields,omitempty"`
	}
	blocks := []block{{Type: "header", Text: &text{"plain_text", truncate(m.title(), slackHeaderMax)}}}
	var fields []text
	for _, f := range m.facts() {
		fields = append(fields, text{"mrkdwn", truncate("*"+f.Label+"*\n"+slackEscape(f.Value), slackFieldMax)})
	}
	blocks = append(blocks, block{Type: "section", Fields: fields})
	if e := m.errorText(); e != "" {
		label := "Error"
		if m.Execution == nil {
			label = "Reason"
		}
		blocks = append(blocks, block{Type: "section", Text: &text{"mrkdwn", "*" + label + "*\n```" + truncate(slackEscape(e), slackTextMax) + "```"}})
	}
	if m.Link != "" {
		blocks = append(blocks, block{Type: "section", Text: &text{"mrkdwn", "<" + slackEscape(m.Link) + "|" + m.linkLabel() + ">"}})
	}
	fallback := m.title()
	if e := m.errorText(); e != "" {
		fallback += " (" + truncate(oneLine(e), 300) + ")"
	}
	return marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{slackEscape(fallback), blocks})
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// teamsBody renders a Teams message carrying an Adaptive Card 1.4, the form
// both Teams incoming webhooks and Workflows (Power Automate) accept.
func teamsBody(m *message) ([]byte, error) {
	color := "Good"
	if m.failed() {
		color = "Attention"
	} else if m.Event == EventScheduleExpired {
		color = "Warning"
	}
	type factJSON struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	var facts []factJSON
	for _, f := range m.facts() {
		facts = append(facts, factJSON{f.Label, f.Value})
	}
	body := []map[string]any{
		{"type": "TextBlock", "text": m.title(), "size": "Medium", "weight": "Bolder", "color": color, "wrap": true},
		{"type": "TextBlock", "text": m.summary(), "wrap": true},
		{"type": "FactSet", "facts": facts},
	}
	if e := m.errorText(); e != "" {
		body = append(body, map[string]any{"type": "TextBlock", "text": truncate(e, 4000), "wrap": true, "fontType": "Monospace", "color": color})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	if m.Link != "" {
		card["actions"] = []map[string]any{{"type": "Action.OpenUrl", "title": m.linkLabel(), "url": m.Link}}
	}
	return marshal(map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	})
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// formatDuration shows milliseconds under a minute and whole seconds above.
func formatDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d >= time.Minute {
		d = d.Round(time.Second)
	}
	return d.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// oneLine replaces control characters (line breaks above all) by spaces,
// so a name cannot break a header line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate cuts s to at most max runes, marking the cut with an ellipsis.
func truncate(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// marshal is json.Marshal without HTML escaping: the bodies go to programs
// and chats, not into web pages, and "<" reads better than "\u003c".
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
