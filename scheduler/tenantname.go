package scheduler

import (
	"context"
	"fmt"
)

// tenantName returns the name of a tenant, which the engine needs for the
// tenant's data folder and connection grants. Tenants are never renamed,
// so names are kept once read.
func (s *Scheduler) tenantName(ctx context.Context, tenantID string) (string, error) {
	if v, ok := s.tenantNames.Load(tenantID); ok {
		return v.(string), nil
	}
	t, err := s.store.FindTenantByID(ctx, tenantID)
	if err != nil {
		return "", fmt.Errorf("looking up the run's tenant: %w", err)
	}
	s.tenantNames.Store(tenantID, t.Name)
	return t.Name, nil
}
