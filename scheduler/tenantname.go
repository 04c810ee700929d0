package scheduler

import (
	"context"
	"fmt"
)

// tenantName returns the name of a tenant, which the engine needs for the
// tenant's data folder and connection grants. Tenants are never renamed,
// so names are kept once read.
func (r *runner) tenantName(ctx context.Context, tenantID string) (string, error) {
	if v, ok := r.tenantNames.Load(tenantID); ok {
		return v.(string), nil
	}
	t, err := r.store.FindTenantByID(ctx, tenantID)
	if err != nil {
		return "", fmt.Errorf("looking up the run's tenant: %w", err)
	}
	r.tenantNames.Store(tenantID, t.Name)
	return t.Name, nil
}
