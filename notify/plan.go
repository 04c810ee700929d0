package notify

import (
	"net/url"
	"strings"

	"github.com/geoetl/geoetl"
)

// ExecutionEvent is an execution that just reached its final state.
type ExecutionEvent struct {
	Schedule     *geoetl.Schedule // nil for ad hoc runs, which notify no one
	WorkflowName string
	Execution    *geoetl.Execution // final state
	WillRetry    bool              // a failed attempt that will be retried: no notification yet
}

// PlanExecution returns the deliveries for a finished execution, rendered
// and ready to store in the transaction that records the outcome: for a
// completed run when the schedule has notifyOnSuccess, for a failed run
// that will not be retried when it has notifyOnFailure, and none otherwise
// (skipped and cancelled runs, ad hoc runs, failures with a retry ahead).
func (n *Notifier) PlanExecution(ev ExecutionEvent) []*geoetl.Delivery {
	s, e := ev.Schedule, ev.Execution
	if s == nil || e == nil {
		return nil
	}
	var event string
	switch {
	case e.Status == geoetl.ExecCompleted && s.NotificationConfig.NotifyOnSuccess:
		event = EventExecutionCompleted
	case e.Status == geoetl.ExecFailed && !ev.WillRetry && s.NotificationConfig.NotifyOnFailure:
		event = EventExecutionFailed
	default:
		return nil
	}
	tenantID := e.TenantID
	if tenantID == "" {
		tenantID = s.TenantID
	}
	m := &message{Event: event, TenantID: tenantID, Schedule: s, WorkflowName: ev.WorkflowName, Execution: e,
		Link: n.link("executions", e.ID)}
	return n.plan(m, &e.ID)
}

// PlanScheduleEvent returns the deliveries for a schedule that went into
// error (event "schedule.error") or expired ("schedule.expired"); s is the
// schedule with its new status and reason. They go to every configured
// target when either notifyOnSuccess or notifyOnFailure is on, since a
// schedule that stops firing is news to anyone who listens to it. Other
// events get nil.
func (n *Notifier) PlanScheduleEvent(s *geoetl.Schedule, event string) []*geoetl.Delivery {
	if s == nil || (event != EventScheduleError && event != EventScheduleExpired) {
		return nil
	}
	if !s.NotificationConfig.NotifyOnSuccess && !s.NotificationConfig.NotifyOnFailure {
		return nil
	}
	m := &message{Event: event, TenantID: s.TenantID, Schedule: s, Link: n.link("schedules", s.ID)}
	return n.plan(m, nil)
}

// link is the console page of an object, "" without a public URL.
func (n *Notifier) link(kind, id string) string {
	if n.publicURL == "" || id == "" {
		return ""
	}
	return n.publicURL + "/geoetl/" + kind + "/" + url.PathEscape(id)
}

// plan renders m once per channel and makes one delivery per target.
// NextAttemptAt and CreatedAt are left unset: the store makes a new pending
// delivery due at once by its own (the database's) clock, the one that
// claims compare with.
func (n *Notifier) plan(m *message, executionID *string) []*geoetl.Delivery {
	cfg := m.Schedule.NotificationConfig
	var out []*geoetl.Delivery
	add := func(ch geoetl.DeliveryChannel, target, masked string, payload []byte, renderErr error) {
		d := &geoetl.Delivery{
			ID: geoetl.NewID(), TenantID: m.TenantID, ExecutionID: executionID, ScheduleID: &m.Schedule.ID,
			Event: m.Event, Channel: ch, Target: target, MaskedTarget: masked, Payload: payload,
			Status: geoetl.DeliveryPending,
		}
		switch {
		case renderErr != nil:
			// Rendering only fails on values JSON cannot hold (a NaN in a
			// summary, say); the record says so instead of vanishing.
			d.Status, d.LastError = geoetl.DeliveryFailed, geoetl.Ptr("rendering the message: "+renderErr.Error())
		case ch == geoetl.ChannelEmail && n.mailer == nil:
			d.Status, d.LastError = geoetl.DeliveryFailed, geoetl.Ptr(errSMTPNotConfigured)
		}
		out = append(out, d)
	}

	if emails := unique(cfg.EmailAddresses, strings.ToLower); len(emails) > 0 {
		payload, err := renderEmail(m)
		for _, a := range emails {
			add(geoetl.ChannelEmail, a, a, payload, err)
		}
	}
	if hooks := unique(cfg.WebhookURLs, nil); len(hooks) > 0 {
		payload, err := webhookBody(m)
		for _, u := range hooks {
			add(geoetl.ChannelWebhook, u, maskTarget(u), payload, err)
		}
	}
	if cfg.SlackWebhookURL != nil && *cfg.SlackWebhookURL != "" {
		payload, err := slackBody(m)
		add(geoetl.ChannelSlack, *cfg.SlackWebhookURL, maskTarget(*cfg.SlackWebhookURL), payload, err)
	}
	if cfg.TeamsWebhookURL != nil && *cfg.TeamsWebhookURL != "" {
		payload, err := teamsBody(m)
		add(geoetl.ChannelTeams, *cfg.TeamsWebhookURL, maskTarget(*cfg.TeamsWebhookURL), payload, err)
	}
	return out
}

// unique drops empty and repeated entries, comparing by key(s) when key is
// given, keeping the first spelling.
func unique(list []string, key func(string) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		k := s
		if key != nil {
			k = key(s)
		}
		if s == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
	}
	return out
}
