package postgres_test

import (
	"context"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/internal/sqlstore"
	"github.com/geoetl/geoetl/db/postgres"
)

// TestInTx_TenantScopeRunsAsAppRoleUnderRowSecurity measures, from inside
// the store's own transactions, that a tenant-scoped transaction runs as
// geoetl_app with its tenant set, and that row-level security then hides
// another tenant's rows even from a query without a tenant filter.
func TestInTx_TenantScopeRunsAsAppRoleUnderRowSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := dbtest.Postgres(t)
	a, b := &geoetl.Tenant{Name: "a"}, &geoetl.Tenant{Name: "b"}
	for _, ten := range []*geoetl.Tenant{a, b} {
		if err := st.CreateTenant(ctx, ten); err != nil {
			t.Fatal(err)
		}
		if err := st.AppendAudit(ctx, &geoetl.AuditEntry{TenantID: ten.ID, Action: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	be := st.(*sqlstore.Store).Backend()
	probe := func(t *testing.T, mode sqlstore.TxMode, tenant string) (user, setting string, rows int) {
		t.Helper()
		err := be.InTx(ctx, mode, tenant, func(tx sqlstore.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT current_user, coalesce(current_setting('geoetl.tenant_id', true), '')`).Scan(&user, &setting); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&rows)
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, mode := range []sqlstore.TxMode{sqlstore.ReadOnly, sqlstore.ReadWrite} {
		user, setting, rows := probe(t, mode, a.ID)
		if user != postgres.AppRole || setting != a.ID || rows != 1 {
			t.Fatalf("tenant scope (mode %d): user %q tenant %q sees %d audit rows; want %q, %q, 1", mode, user, setting, rows, postgres.AppRole, a.ID)
		}
		user, _, rows = probe(t, mode, "")
		if user == postgres.AppRole || rows != 2 {
			t.Fatalf("cross-tenant scope (mode %d): user %q sees %d rows; want the connecting role seeing 2", mode, user, rows)
		}
	}
}
