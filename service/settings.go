package service

import (
	"context"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/notify"
)

// WebhookSecret returns the tenant's webhook signing secret, creating it on
// first use. Receivers need it to check X-GeoETL-Signature.
func (s *Service) WebhookSecret(ctx context.Context, p geoetl.Principal) (string, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return "", err
	}
	return notify.EnsureWebhookSecret(ctx, s.Store, p.TenantID)
}

// RotateWebhookSecret gives the tenant a new webhook secret. The previous
// one keeps signing alongside it for notify.SecretOverlap, so receivers can
// switch without dropping deliveries.
func (s *Service) RotateWebhookSecret(ctx context.Context, p geoetl.Principal) (string, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return "", err
	}
	secret, err := notify.RotateWebhookSecret(ctx, s.Store, p.TenantID, s.Clock.Now().UTC())
	if err != nil {
		return "", err
	}
	// The secret itself never goes into the audit log.
	s.audit(ctx, p, "tenant.webhook_secret.rotate", "tenant", p.TenantID, nil, map[string]any{"rotated": true})
	return secret, nil
}
