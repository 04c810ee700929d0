package geoetl

import "time"

// DefaultTenantName is the tenant that the first start creates.
const DefaultTenantName = "default"

// Tenant is an isolated customer space: every schedule, workflow,
// execution, user and token belongs to exactly one tenant.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`

	// WebhookSecret signs outgoing webhooks. After a rotation the previous
	// secret stays valid until PreviousSecretExpiresAt so receivers can
	// switch over without dropping deliveries.
	WebhookSecret           string     `json:"-"`
	PreviousWebhookSecret   string     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"-"`
}

// ValidateTenantName checks a tenant name: 1-100 characters of letters,
// digits, '-', '_' and '.', not starting with '.', so it is safe on a
// command line, in a URL and as the name of the tenant's data folder.
func ValidateTenantName(name string) error {
	fe := FieldErrors{}
	if name == "" {
		fe.Add("name", "is required")
	} else if len(name) > 100 {
		fe.Add("name", "must be at most 100 characters")
	} else {
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				fe.Add("name", "may only contain letters, digits, '-', '_' and '.'")
				break
			}
		}
		if name[0] == '.' {
			fe.Add("name", "must not start with '.'")
		}
	}
	return fe.Err()
}
