package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
)

// Kick wakes Run at once, after new deliveries were stored. It never
// blocks; kicks while Run is busy collapse into one.
func (n *Notifier) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx is done: a pass whenever it is kicked
// and every PollInterval otherwise, which also picks up retries that have
// come due and deliveries other instances planned.
func (n *Notifier) Run(ctx context.Context) {
	for {
		if _, err := n.SendDue(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("sending notifications", "err", err)
		}
		t := n.clock.NewTimer(n.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-n.kick:
			t.Stop()
		case <-t.C():
		}
	}
}

// SendDue makes one pass: it claims due deliveries, Concurrency at a time,
// attempts them in parallel and records each attempt, until a claim comes
// back short. It returns how many deliveries reached "sent" in this pass.
// Failed attempts are recorded on their deliveries, not returned; err is
// about the store only (or ctx ending the pass).
func (n *Notifier) SendDue(ctx context.Context) (sent int, err error) {
	for {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		leaseUntil := n.storeNow(ctx).Add(n.lease())
		batch, err := n.store.ClaimDeliveries(ctx, n.cfg.InstanceID, n.cfg.Concurrency, leaseUntil)
		if err != nil {
			return sent, fmt.Errorf("claiming deliveries: %w", err)
		}
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, d := range batch {
			wg.Go(func() { errs[i] = n.deliver(ctx, d) })
		}
		wg.Wait()
		for _, d := range batch {
			if d.Status == geoetl.DeliverySent {
				sent++
			}
		}
		if err := errors.Join(errs...); err != nil {
			return sent, err
		}
		if len(batch) < n.cfg.Concurrency {
			return sent, nil
		}
	}
}

// storeNow is the clock that due times and leases are compared with: the
// store's (the database's) when it tells, so that instances with skewed
// clocks agree on them, else this instance's.
func (n *Notifier) storeNow(ctx context.Context) time.Time {
	if s, ok := n.store.(interface {
		Now(context.Context) (time.Time, error)
	}); ok {
		if t, err := s.Now(ctx); err == nil {
			return t
		}
	}
	return n.clock.Now()
}

// attemptTimeout bounds one attempt of a channel.
func (n *Notifier) attemptTimeout(ch geoetl.DeliveryChannel) time.Duration {
	if ch == geoetl.ChannelEmail {
		// Connect, TLS, authentication and the message each get the
		// SMTP time-out from go-mail; the whole conversation gets a few.
		return 3 * n.cfg.SMTPTimeout
	}
	return n.cfg.HTTPTimeout + 5*time.Second
}

// lease is how long a claim holds its deliveries: longer than any attempt
// plus the time to record it, so no other instance takes one over while it
// is still being sent.
func (n *Notifier) lease() time.Duration {
	return max(n.attemptTimeout(geoetl.ChannelEmail), n.attemptTimeout(geoetl.ChannelWebhook)) + 30*time.Second
}

// deliver makes one attempt at d and records it. It returns only errors of
// the store.
func (n *Notifier) deliver(ctx context.Context, d *geoetl.Delivery) error {
	actx, cancel := context.WithTimeout(ctx, n.attemptTimeout(d.Channel))
	o := n.attempt(actx, d)
	cancel()
	// The outcome is recorded even when shutdown has begun: a message that
	// went out must not be sent again for want of a record.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	now := n.storeNow(rctx).UTC()
	if o.err != nil && ctx.Err() != nil {
		// Shutdown cut the attempt short; it does not count. Hand the
		// delivery back for any instance to try again.
		d.NextAttemptAt = &now
		if err := n.store.UpdateDelivery(rctx, d); err != nil {
			return fmt.Errorf("releasing delivery %s: %w", d.ID, err)
		}
		return nil
	}
	n.record(d, o, now)
	if err := n.store.UpdateDelivery(rctx, d); err != nil {
		return fmt.Errorf("recording delivery %s: %w", d.ID, err)
	}
	n.observe(d)
	return nil
}

// attempt sends d once over its channel.
func (n *Notifier) attempt(ctx context.Context, d *geoetl.Delivery) outcome {
	now := n.clock.Now()
	switch d.Channel {
	case geoetl.ChannelEmail:
		if n.mailer == nil {
			return outcome{err: errors.New(errSMTPNotConfigured)}
		}
		err := n.mailer.send(ctx, d.Target, n.messageID(d), d.Payload)
		return outcome{err: err, retry: err != nil && !isPermanent(err)}
	case geoetl.ChannelWebhook:
		header, err := n.webhookHeader(ctx, d, now)
		if err != nil {
			return outcome{err: fmt.Errorf("signing: %w", err), retry: !geoetl.IsNotFound(err)}
		}
		return post(ctx, n.http, d.Target, header, d.Payload, now)
	case geoetl.ChannelSlack, geoetl.ChannelTeams:
		return post(ctx, n.http, d.Target, nil, d.Payload, now)
	}
	return outcome{err: fmt.Errorf("unknown channel %q", d.Channel)}
}

// webhookHeader builds the headers of one webhook attempt: the timestamp
// is this attempt's, and the signature uses the tenant's secrets as they
// are now.
func (n *Notifier) webhookHeader(ctx context.Context, d *geoetl.Delivery, now time.Time) (http.Header, error) {
	t, err := n.store.FindTenantByID(ctx, d.TenantID)
	if err != nil {
		return nil, err
	}
	if t.WebhookSecret == "" {
		if _, err := EnsureWebhookSecret(ctx, n.store, d.TenantID); err != nil {
			return nil, err
		}
		if t, err = n.store.FindTenantByID(ctx, d.TenantID); err != nil {
			return nil, err
		}
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h := http.Header{}
	h.Set(HeaderEvent, d.Event)
	h.Set(HeaderDelivery, d.ID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, signatureHeader(signingSecrets(t, now), ts, d.Payload))
	return h, nil
}

// messageID is the Message-ID of an email delivery: the same on every
// attempt, so a mail that arrives twice after a lost answer can be told
// apart.
func (n *Notifier) messageID(d *geoetl.Delivery) string {
	domain := "geoetl"
	if a, err := mail.ParseAddress(n.cfg.From); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			domain = a.Address[i+1:]
		}
	}
	return d.ID + "@" + domain
}

// record writes the outcome of one attempt into d.
func (n *Notifier) record(d *geoetl.Delivery, o outcome, now time.Time) {
	d.Attempts++
	d.LastStatusCode = nil
	if o.statusCode != 0 {
		d.LastStatusCode = geoetl.Ptr(o.statusCode)
	}
	if o.err == nil {
		d.Status, d.LastError, d.NextAttemptAt, d.DeliveredAt = geoetl.DeliverySent, nil, nil, &now
		return
	}
	d.LastError = geoetl.Ptr(n.scrub(describeError(o.err), d))
	if o.retry && d.Attempts < n.cfg.MaxAttempts {
		wait := o.retryAfter
		if wait <= 0 {
			wait = n.cfg.Backoff(d.Attempts)
		}
		next := now.Add(wait)
		d.Status, d.NextAttemptAt = geoetl.DeliveryPending, &next
		return
	}
	d.Status, d.NextAttemptAt = geoetl.DeliveryFailed, nil
}

// scrub keeps secrets out of a message about d: its URL for the HTTP
// channels, the SMTP URL and password for email.
func (n *Notifier) scrub(msg string, d *geoetl.Delivery) string {
	if d.Channel != geoetl.ChannelEmail {
		msg = scrub(msg, d.Target)
	}
	for _, s := range n.smtpCreds {
		msg = strings.ReplaceAll(msg, s, "****")
	}
	return msg
}

// observe logs a recorded attempt and counts it.
func (n *Notifier) observe(d *geoetl.Delivery) {
	attrs := []any{"delivery", d.ID, "event", d.Event, "channel", d.Channel, "target", d.MaskedTarget, "attempt", d.Attempts}
	if d.LastStatusCode != nil {
		attrs = append(attrs, "statusCode", *d.LastStatusCode)
	}
	outcome := "failed"
	switch d.Status {
	case geoetl.DeliverySent:
		outcome = "sent"
		n.log.Info("notification sent", attrs...)
	case geoetl.DeliveryPending:
		outcome = "retry"
		n.log.Warn("notification attempt failed; will retry", append(attrs, "err", *d.LastError, "nextAttemptAt", *d.NextAttemptAt)...)
	default:
		n.log.Error("notification failed", append(attrs, "err", *d.LastError)...)
	}
	if n.cfg.Metrics != nil {
		n.cfg.Metrics.Delivery(string(d.Channel), outcome)
	}
}

// jitter spreads d by ±frac.
func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}
