package geoetl

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// NotificationConfig says who hears about a schedule's finished runs.
type NotificationConfig struct {
	NotifyOnSuccess bool     `json:"notifyOnSuccess"`
	NotifyOnFailure bool     `json:"notifyOnFailure"`
	EmailAddresses  []string `json:"emailAddresses"`
	WebhookURLs     []string `json:"webhookUrls"`
	SlackWebhookURL *string  `json:"slackWebhookUrl"`
	TeamsWebhookURL *string  `json:"teamsWebhookUrl"`
}

// Limits on notification targets.
const (
	MaxEmailAddresses = 20
	MaxWebhookURLs    = 10
	MaxURLLen         = 2048
)

func (n *NotificationConfig) validateInto(fe FieldErrors, prefix string) {
	if n.EmailAddresses == nil {
		n.EmailAddresses = []string{}
	}
	if n.WebhookURLs == nil {
		n.WebhookURLs = []string{}
	}
	if len(n.EmailAddresses) > MaxEmailAddresses {
		fe.Add(prefix+".emailAddresses", "at most %d addresses", MaxEmailAddresses)
	}
	for i, a := range n.EmailAddresses {
		if p, err := mail.ParseAddress(a); err != nil || p.Address != a {
			fe.Add(fmt.Sprintf("%s.emailAddresses[%d]", prefix, i), "%q is not a valid email address", a)
		}
	}
	if len(n.WebhookURLs) > MaxWebhookURLs {
		fe.Add(prefix+".webhookUrls", "at most %d URLs", MaxWebhookURLs)
	}
	for i, u := range n.WebhookURLs {
		if err := ValidateWebhookURL(u); err != nil {
			fe.Add(fmt.Sprintf("%s.webhookUrls[%d]", prefix, i), "%s", err.Error())
		}
	}
	if n.SlackWebhookURL != nil && *n.SlackWebhookURL != "" {
		if err := ValidateWebhookURL(*n.SlackWebhookURL); err != nil {
			fe.Add(prefix+".slackWebhookUrl", "%s", err.Error())
		}
	}
	if n.TeamsWebhookURL != nil && *n.TeamsWebhookURL != "" {
		if err := ValidateWebhookURL(*n.TeamsWebhookURL); err != nil {
			fe.Add(prefix+".teamsWebhookUrl", "%s", err.Error())
		}
	}
}

// ValidateWebhookURL checks the form of a webhook URL: absolute http or
// https with a host, no credentials, not too long. Whether its address is
// allowed is checked by the network guard at send time (and at save time
// for literal addresses), since that depends on configuration.
func ValidateWebhookURL(raw string) error {
	if len(raw) > MaxURLLen {
		return fmt.Errorf("URL must be at most %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL must start with http:// or https://")
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("URL must have a host")
	}
	if u.User != nil {
		return fmt.Errorf("URL must not contain credentials")
	}
	if IsMaskedURL(raw) {
		return fmt.Errorf("URL is masked; send the full URL or the masked value unchanged")
	}
	return nil
}

// maskSuffix marks a URL whose secret part was hidden by MaskURL.
const maskSuffix = "/****"

// MaskURL hides the secret parts of a webhook URL (path and query), keeping
// the scheme and host so a person can still tell which endpoint it is:
// https://hooks.slack.com/services/T0/B0/XYZ becomes
// https://hooks.slack.com/…/****.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "****"
	}
	return u.Scheme + "://" + u.Host + "/…" + maskSuffix
}

// IsMaskedURL reports whether s looks like the output of MaskURL.
func IsMaskedURL(s string) bool {
	return strings.HasSuffix(s, "/…"+maskSuffix) || s == "****"
}

// Masked returns a copy with every webhook URL masked, for answers.
func (n NotificationConfig) Masked() NotificationConfig {
	out := n
	out.EmailAddresses = append([]string{}, n.EmailAddresses...)
	out.WebhookURLs = make([]string, len(n.WebhookURLs))
	for i, u := range n.WebhookURLs {
		out.WebhookURLs[i] = MaskURL(u)
	}
	if n.SlackWebhookURL != nil && *n.SlackWebhookURL != "" {
		m := MaskURL(*n.SlackWebhookURL)
		out.SlackWebhookURL = &m
	}
	if n.TeamsWebhookURL != nil && *n.TeamsWebhookURL != "" {
		m := MaskURL(*n.TeamsWebhookURL)
		out.TeamsWebhookURL = &m
	}
	return out
}

// Unmask replaces masked values in n, as sent back by a client that read
// them masked, with the stored values from old: a masked webhook URL at the
// same position, or the masked Slack/Teams URL, keeps the stored secret.
func (n *NotificationConfig) Unmask(old NotificationConfig) {
	for i, u := range n.WebhookURLs {
		if !IsMaskedURL(u) {
			continue
		}
		// Match by position first, then by any stored URL that masks the same.
		if i < len(old.WebhookURLs) && MaskURL(old.WebhookURLs[i]) == u {
			n.WebhookURLs[i] = old.WebhookURLs[i]
			continue
		}
		for _, o := range old.WebhookURLs {
			if MaskURL(o) == u {
				n.WebhookURLs[i] = o
				break
			}
		}
	}
	if n.SlackWebhookURL != nil && IsMaskedURL(*n.SlackWebhookURL) && old.SlackWebhookURL != nil {
		v := *old.SlackWebhookURL
		n.SlackWebhookURL = &v
	}
	if n.TeamsWebhookURL != nil && IsMaskedURL(*n.TeamsWebhookURL) && old.TeamsWebhookURL != nil {
		v := *old.TeamsWebhookURL
		n.TeamsWebhookURL = &v
	}
}

// DeliveryChannel is how a notification travels.
type DeliveryChannel string

const (
	ChannelEmail   DeliveryChannel = "email"
	ChannelWebhook DeliveryChannel = "webhook"
	ChannelSlack   DeliveryChannel = "slack"
	ChannelTeams   DeliveryChannel = "teams"
)

// DeliveryStatus is where one notification delivery stands.
type DeliveryStatus string

const (
	DeliveryPending DeliveryStatus = "pending" // waiting for its (next) attempt
	DeliverySent    DeliveryStatus = "sent"
	DeliveryFailed  DeliveryStatus = "failed" // gave up: a permanent error or out of attempts
)

// Delivery is one notification to one target, with its attempts. Target
// holds the real address; answers show MaskedTarget.
type Delivery struct {
	ID             string          `json:"id"`
	TenantID       string          `json:"tenantId"`
	ExecutionID    *string         `json:"executionId"`
	ScheduleID     *string         `json:"scheduleId"`
	Event          string          `json:"event"` // execution.completed, execution.failed, schedule.error, schedule.expired
	Channel        DeliveryChannel `json:"channel"`
	Target         string          `json:"-"`
	MaskedTarget   string          `json:"target"`
	Payload        []byte          `json:"-"` // the rendered message, fixed at creation so every attempt sends the same
	Status         DeliveryStatus  `json:"status"`
	Attempts       int             `json:"attempts"`
	LastStatusCode *int            `json:"lastStatusCode"`
	LastError      *string         `json:"lastError"`
	NextAttemptAt  *time.Time      `json:"nextAttemptAt"`
	CreatedAt      time.Time       `json:"createdAt"`
	DeliveredAt    *time.Time      `json:"deliveredAt"`
}
