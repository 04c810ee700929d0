// Package notify tells people and programs about finished executions and
// about schedules that stopped: by email over SMTP, by signed webhooks, and
// by Slack and Microsoft Teams messages.
//
// Notifications travel as deliveries. When an execution finishes, the
// scheduler asks PlanExecution for its deliveries and stores them in the
// same transaction as the outcome, so each is created exactly once. Run
// then claims due deliveries from the store (a lease, so one instance of a
// cluster sends each attempt), sends them and records every attempt.
// Network errors, HTTP 5xx and 429 are retried with backoff; other
// answers are final. A delivery never changes an execution.
//
// Recipients: each email address gets its own delivery (one message with
// one recipient), so a bad address fails alone and each shows its own
// record; each webhook URL gets its own delivery, and Slack and Teams one
// each. Targets listed twice are sent to once.
//
// Webhook signatures: X-GeoETL-Signature is "sha256=<hex>" where hex is the
// HMAC-SHA256 of "<X-GeoETL-Timestamp>.<body>" with the tenant's webhook
// secret. For SecretOverlap after a rotation the header carries two
// entries, "sha256=<current>, sha256=<previous>"; a receiver accepts the
// request if any entry matches its secret (VerifySignature does this).
package notify

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/netguard"
)

// Config configures a Notifier. Zero values take the defaults named.
type Config struct {
	// SMTPURL is smtp://[user[:pass]@]host[:port] (STARTTLS when the server
	// offers it, port 25 by default) or smtps://… (implicit TLS, port 465
	// by default). "" means email is not configured: email deliveries are
	// then recorded as failed with "SMTP not configured".
	SMTPURL string
	// From is the sender address; default geoetl@<host name>.
	From string
	// SMTPTLSConfig, when set, is used for STARTTLS and smtps (for a
	// private CA, say); ServerName defaults to the SMTP host.
	SMTPTLSConfig *tls.Config
	// PublicURL is the base of links to the console; "" leaves links out.
	PublicURL string
	// Network decides which addresses webhooks may reach.
	Network netguard.Policy
	// InstanceID names this instance in delivery leases; default host
	// name and process id.
	InstanceID string
	Clock      clock.Clock  // default the wall clock
	Logger     *slog.Logger // default slog.Default()

	// HTTPTimeout bounds one webhook, Slack or Teams request; default 15 s.
	HTTPTimeout time.Duration
	// SMTPTimeout bounds each step of an SMTP conversation; default 30 s.
	SMTPTimeout time.Duration
	// MaxAttempts is how often a delivery is tried at most; default 5.
	MaxAttempts int
	// Backoff returns the wait after the given number of failed attempts
	// (1, 2, …); default DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// PollInterval is how often Run looks for due deliveries when not
	// kicked; default 5 s.
	PollInterval time.Duration
	// Concurrency is how many deliveries one instance sends at once, and
	// the size of each claim; default 8.
	Concurrency int
	// Metrics counts attempts by channel and outcome ("sent", "retry",
	// "failed"); nil counts nothing. *metrics.Metrics fits.
	Metrics Metrics
}

// Metrics receives one call per recorded attempt.
type Metrics interface {
	Delivery(channel, outcome string)
}

// Store is what the notifier keeps its deliveries in and reads tenants'
// webhook secrets from.
type Store interface {
	geoetl.DeliveryStore
	geoetl.TenantStore
}

// Notifier plans, sends and records notifications.
type Notifier struct {
	cfg       Config
	store     Store
	clock     clock.Clock
	log       *slog.Logger
	mailer    *mailer // nil when SMTP is not configured
	http      *http.Client
	publicURL string
	kick      chan struct{}
	smtpCreds []string // secrets of the SMTP URL, scrubbed from errors
}

// New checks cfg and returns a Notifier on store.
func New(cfg Config, store Store) (*Notifier, error) {
	if store == nil {
		return nil, errors.New("notify: a store is required")
	}
	n := &Notifier{store: store, kick: make(chan struct{}, 1)}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = fmt.Sprintf("%s-%d", hostname(), os.Getpid())
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 15 * time.Second
	}
	if cfg.SMTPTimeout <= 0 {
		cfg.SMTPTimeout = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.From == "" {
		cfg.From = "geoetl@" + heloName()
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("notify: sender address %q is not a valid email address", cfg.From)
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("notify: public URL %q must be an absolute http or https URL", cfg.PublicURL)
		}
		n.publicURL = strings.TrimRight(cfg.PublicURL, "/")
	}
	if cfg.SMTPURL != "" {
		server, err := parseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		n.mailer = &mailer{server: server, from: cfg.From, timeout: cfg.SMTPTimeout, tlsConfig: cfg.SMTPTLSConfig}
		n.smtpCreds = []string{cfg.SMTPURL}
		if server.pass != "" {
			n.smtpCreds = append(n.smtpCreds, server.pass)
		}
	}
	n.cfg = cfg
	n.clock = cfg.Clock
	n.log = cfg.Logger.With("component", "notify")
	n.http = newHTTPClient(cfg.Network, cfg.HTTPTimeout)
	return n, nil
}

// DefaultBackoff waits about 30 s, 2 min, 8 min, then 30 min between
// attempts, each ±20 % so that deliveries failed together spread out.
func DefaultBackoff(attempt int) time.Duration {
	steps := []time.Duration{30 * time.Second, 2 * time.Minute, 8 * time.Minute, 30 * time.Minute}
	if attempt < 1 {
		attempt = 1
	}
	d := steps[min(attempt, len(steps))-1]
	return jitter(d, 0.2)
}

// maskTarget is how a URL target is shown and logged.
func maskTarget(target string) string { return geoetl.MaskURL(target) }

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return strings.ToLower(h)
}
