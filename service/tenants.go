package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/notify"
)

// CreateTenant creates a tenant (from the command line).
func (s *Service) CreateTenant(ctx context.Context, name string) (*geoetl.Tenant, error) {
	if err := geoetl.ValidateTenantName(name); err != nil {
		return nil, err
	}
	// A tenant's name is its data folder's name: two names that differ
	// only in case would share one folder on a case-insensitive file
	// system.
	all, err := s.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if strings.EqualFold(o.Name, name) && o.Name != name {
			return nil, &geoetl.Error{Code: geoetl.ECONFLICT, Message: fmt.Sprintf("tenant %q already exists; names that differ only in case would share a data folder", o.Name)}
		}
	}
	// The webhook secret is made with the tenant, so two instances can
	// never race to create different first secrets later.
	secret, err := notify.NewWebhookSecret()
	if err != nil {
		return nil, err
	}
	t := &geoetl.Tenant{ID: geoetl.NewID(), Name: name, CreatedAt: s.Clock.Now().UTC(), WebhookSecret: secret}
	if err := s.Store.CreateTenant(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// TenantByName finds a tenant for the command line, with a message that
// says what to do when it is missing.
func (s *Service) TenantByName(ctx context.Context, name string) (*geoetl.Tenant, error) {
	t, err := s.Store.FindTenantByName(ctx, name)
	if geoetl.IsNotFound(err) {
		return nil, geoetl.Errorf(geoetl.ENOTFOUND, "no tenant named %q (create it with: geoetl tenant create %s)", name, name)
	}
	return t, err
}

// Bootstrap prepares an empty database for its first use: the tenant
// "default" and the user "admin". It returns the admin password when it
// generated one (so the caller can print it once), "" otherwise. On a
// database that has users already it does nothing.
func (s *Service) Bootstrap(ctx context.Context, adminPassword string) (tenant *geoetl.Tenant, generated string, created bool, err error) {
	n, err := s.Store.CountUsers(ctx)
	if err != nil {
		return nil, "", false, err
	}
	if n > 0 {
		return nil, "", false, nil
	}
	tenant, err = s.Store.FindTenantByName(ctx, geoetl.DefaultTenantName)
	if geoetl.IsNotFound(err) {
		tenant, err = s.CreateTenant(ctx, geoetl.DefaultTenantName)
		if geoetl.IsConflict(err) { // another instance won the race
			tenant, err = s.Store.FindTenantByName(ctx, geoetl.DefaultTenantName)
		}
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("create default tenant: %w", err)
	}
	pw := adminPassword
	if pw == "" {
		pw = RandomPassword()
		generated = pw
	}
	_, err = s.CreateUserAsSystem(ctx, &geoetl.User{TenantID: tenant.ID, Name: geoetl.AdminUserName, Role: geoetl.RoleAdmin}, pw)
	if geoetl.IsConflict(err) {
		return tenant, "", false, nil // another instance created it first
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("create admin user: %w", err)
	}
	return tenant, generated, true, nil
}
