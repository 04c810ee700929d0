package notify

import (
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func TestSign_MatchesIndependentHMAC(t *testing.T) {
	// Computed with: printf '%s' '1700000000.{"event":"execution.completed"}' |
	// openssl dgst -sha256 -hmac 'whsec-test'
	const want = "sha256=320fcc677e671b07ee622caa759f8a18773c8687fc380150e02ea170dfe491b5"
	if got := Sign("whsec-test", "1700000000", []byte(`{"event":"execution.completed"}`)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"event":"execution.failed"}`)
	const ts = "1700000000"
	cur, prev := "current-secret", "previous-secret"
	both := signatureHeader([]string{cur, prev}, ts, body)
	for _, tc := range []struct {
		name   string
		secret string
		header string
		ts     string
		body   []byte
		want   bool
	}{
		{"ValidSingle", cur, Sign(cur, ts, body), ts, body, true},
		{"RotationAcceptsCurrent", cur, both, ts, body, true},
		{"RotationAcceptsPrevious", prev, both, ts, body, true},
		{"NoSpaceAfterComma", prev, Sign(cur, ts, body) + "," + Sign(prev, ts, body), ts, body, true},
		{"WrongSecret", "other", both, ts, body, false},
		{"TamperedBody", cur, both, ts, []byte(`{"event":"execution.completed"}`), false},
		{"TamperedTimestamp", cur, both, "1700000001", body, false},
		{"EmptySecret", "", Sign("", ts, body), ts, body, false},
		{"EmptyTimestamp", cur, Sign(cur, "", body), "", body, false},
		{"MissingPrefix", cur, Sign(cur, ts, body)[len("sha256="):], ts, body, false},
		{"OtherAlgorithm", cur, "sha1=" + Sign(cur, ts, body)[len("sha256="):], ts, body, false},
		{"NotHex", cur, "sha256=zz", ts, body, false},
		{"EmptyHeader", cur, "", ts, body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifySignature(tc.secret, tc.header, tc.ts, tc.body); got != tc.want {
				t.Fatalf("VerifySignature = %v, want %v (header %q)", got, tc.want, tc.header)
			}
		})
	}
}

func TestSigningSecrets_PreviousOnlyWhileOverlapLasts(t *testing.T) {
	now := time.Date(2027, 3, 14, 12, 0, 0, 0, time.UTC)
	tenant := &geoetl.Tenant{WebhookSecret: "new", PreviousWebhookSecret: "old", PreviousSecretExpiresAt: geoetl.Ptr(now.Add(time.Hour))}
	if got := signingSecrets(tenant, now); len(got) != 2 || got[0] != "new" || got[1] != "old" {
		t.Fatalf("within overlap: %v, want [new old]", got)
	}
	if got := signingSecrets(tenant, now.Add(time.Hour)); len(got) != 1 || got[0] != "new" {
		t.Fatalf("at expiry: %v, want [new]", got)
	}
	tenant.PreviousSecretExpiresAt = nil
	if got := signingSecrets(tenant, now); len(got) != 1 {
		t.Fatalf("previous without expiry: %v, want only the current secret", got)
	}
}
