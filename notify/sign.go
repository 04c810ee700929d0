package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
)

// Headers of a webhook request. Receivers read the event and the delivery
// id (the same on every attempt, so they can drop duplicates), and check
// the signature over the timestamp and the body.
const (
	HeaderEvent     = "X-GeoETL-Event"
	HeaderDelivery  = "X-GeoETL-Delivery"
	HeaderTimestamp = "X-GeoETL-Timestamp"
	HeaderSignature = "X-GeoETL-Signature"
)

// SecretOverlap is how long a rotated-out webhook secret keeps signing
// next to the new one, so receivers can switch over without dropping
// deliveries.
const SecretOverlap = 24 * time.Hour

// signaturePrefix names the algorithm in the signature header.
const signaturePrefix = "sha256="

// Sign returns one signature entry, "sha256=<hex>", of the HMAC-SHA256 of
// "<timestamp>.<body>" keyed with secret.
func Sign(secret, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// signatureHeader signs with every secret in turn and joins the entries
// with ", ". During a rotation it gets the current secret first, then the
// previous one.
func signatureHeader(secrets []string, timestamp string, body []byte) string {
	parts := make([]string, len(secrets))
	for i, s := range secrets {
		parts[i] = Sign(s, timestamp, body)
	}
	return strings.Join(parts, ", ")
}

// VerifySignature reports whether header (the X-GeoETL-Signature value, one
// or more comma-separated "sha256=<hex>" entries) holds a valid signature
// of timestamp and body under secret. Any matching entry is enough, so a
// receiver keeps working through a secret rotation whichever of the two
// secrets it holds. Receivers should also refuse timestamps far from their
// own clock (say, more than five minutes) to stop replays; that check needs
// the receiver's clock and is left to it.
func VerifySignature(secret, header, timestamp string, body []byte) bool {
	if secret == "" || timestamp == "" {
		return false
	}
	want := mac(secret, timestamp, body)
	ok := false
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if !strings.HasPrefix(part, signaturePrefix) {
			continue
		}
		got, err := hex.DecodeString(part[len(signaturePrefix):])
		if err != nil {
			continue
		}
		// Every entry is compared, so the time taken does not reveal which
		// one matched.
		if hmac.Equal(got, want) {
			ok = true
		}
	}
	return ok
}

// newSecret returns 32 random bytes as hex.
// NewWebhookSecret returns a fresh random webhook secret (64 hex digits).
func NewWebhookSecret() (string, error) { return newSecret() }

func newSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a webhook secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// EnsureWebhookSecret returns the tenant's webhook secret, creating a
// random one on first use.
//
// Two instances creating the first secret at the same moment both write
// one and the later write wins; the store has no compare-and-set for it.
// Creating the secret when the tenant is created (or printing it once with
// `geoetl tenant webhook-secret`) before any webhook goes out avoids that.
func EnsureWebhookSecret(ctx context.Context, store geoetl.TenantStore, tenantID string) (string, error) {
	t, err := store.FindTenantByID(ctx, tenantID)
	if err != nil {
		return "", err
	}
	if t.WebhookSecret != "" {
		return t.WebhookSecret, nil
	}
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	if err := store.SetWebhookSecrets(ctx, tenantID, secret, t.PreviousWebhookSecret, t.PreviousSecretExpiresAt); err != nil {
		return "", err
	}
	// Read it back, so that of two racing writers each returns what is
	// stored now rather than what it wrote.
	t, err = store.FindTenantByID(ctx, tenantID)
	if err != nil {
		return "", err
	}
	return t.WebhookSecret, nil
}

// RotateWebhookSecret gives the tenant a new random webhook secret. The
// old one keeps signing, next to the new one, until now+SecretOverlap.
func RotateWebhookSecret(ctx context.Context, store geoetl.TenantStore, tenantID string, now time.Time) (string, error) {
	t, err := store.FindTenantByID(ctx, tenantID)
	if err != nil {
		return "", err
	}
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	previous, expires := t.WebhookSecret, geoetl.Ptr(now.Add(SecretOverlap).UTC())
	if previous == "" {
		expires = nil
	}
	if err := store.SetWebhookSecrets(ctx, tenantID, secret, previous, expires); err != nil {
		return "", err
	}
	return secret, nil
}

// signingSecrets returns the secrets a webhook is signed with at now: the
// current one, and the previous one while its overlap lasts.
func signingSecrets(t *geoetl.Tenant, now time.Time) []string {
	secrets := []string{t.WebhookSecret}
	if t.PreviousWebhookSecret != "" && t.PreviousSecretExpiresAt != nil && now.Before(*t.PreviousSecretExpiresAt) {
		secrets = append(secrets, t.PreviousWebhookSecret)
	}
	return secrets
}
