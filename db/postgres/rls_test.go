package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
)

// TestRowLevelSecurity_HidesOtherTenantsRows checks that the policies are
// really enforced for the role tenant-scoped transactions use, even though
// the test connects as a superuser (which bypasses row security unless it
// switches role as the store does).
func TestRowLevelSecurity_HidesOtherTenantsRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, url := dbtest.Postgres(t)
	a := &geoetl.Tenant{Name: "a"}
	b := &geoetl.Tenant{Name: "b"}
	for _, ten := range []*geoetl.Tenant{a, b} {
		if err := st.CreateTenant(ctx, ten); err != nil {
			t.Fatal(err)
		}
	}
	w := &geoetl.Workflow{TenantID: a.ID, Name: "w", Definition: []byte(`{}`)}
	if err := st.CreateWorkflow(ctx, w); err != nil {
		t.Fatal(err)
	}
	s := geoetl.NewSchedule()
	s.TenantID, s.WorkflowID, s.Name, s.CronExpression = a.ID, w.ID, "s", "* * * * *"
	if err := st.CreateSchedule(ctx, s); err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// count runs one query in a transaction scoped like the store's, with
	// tenant as geoetl.tenant_id ("" leaves it unset).
	count := func(t *testing.T, table, tenant string, asApp bool) int {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if asApp {
			if _, err := tx.Exec(ctx, `SELECT set_config('role', 'geoetl_app', true)`); err != nil {
				t.Fatal(err)
			}
		}
		if tenant != "" {
			if _, err := tx.Exec(ctx, `SELECT set_config('geoetl.tenant_id', $1, true)`, tenant); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// schedule_filter_counts holds one row for the schedule (its
	// workflow; it has no tags), schedule_search its searchable copy,
	// schedule_list_changes the schedule's creation.
	for _, table := range []string{"schedules", "workflows", "schedule_versions", "workflow_versions", "schedule_filter_counts", "schedule_search",
		"schedule_list_changes"} {
		t.Run(table, func(t *testing.T) {
			if n := count(t, table, "", false); n != 1 {
				t.Fatalf("the connecting role sees %d rows, want 1 (cross-tenant work must see all)", n)
			}
			if n := count(t, table, "", true); n != 0 {
				t.Fatalf("the app role without a tenant sees %d rows, want 0", n)
			}
			if n := count(t, table, b.ID, true); n != 0 {
				t.Fatalf("the app role as tenant b sees %d of a's rows", n)
			}
			if n := count(t, table, a.ID, true); n != 1 {
				t.Fatalf("the app role as tenant a sees %d rows, want 1", n)
			}
		})
	}
	// The search function runs as the tables' owner, so it must keep to
	// the transaction's tenant itself.
	t.Run("schedule_search_candidates", func(t *testing.T) {
		for _, tc := range []struct {
			tenant string
			want   int
		}{{"", 0}, {b.ID, 0}, {a.ID, 1}} {
			if n := count(t, "schedule_search_candidates('s', 10) c WHERE c.n > 0", tc.tenant, true); n != tc.want {
				t.Fatalf("as tenant %q the search finds %d, want %d", tc.tenant, n, tc.want)
			}
		}
	})
	t.Run("tenants", func(t *testing.T) {
		if n := count(t, "tenants", b.ID, true); n != 1 {
			t.Fatalf("tenant b sees %d tenants, want only itself", n)
		}
	})
	t.Run("WritesIntoAnotherTenantAreRefused", func(t *testing.T) {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `SELECT set_config('role', 'geoetl_app', true), set_config('geoetl.tenant_id', $1, true)`, b.ID); err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit_log (id, tenant_id, action, at) VALUES ($1, $2, 'x', now())`, geoetl.NewID(), a.ID)
		if err == nil {
			t.Fatal("tenant b inserted a row for tenant a")
		}
	})
}

// TestTenantScope_DoesNotLeakIntoPooledConnections checks that the role
// and tenant of a tenant-scoped transaction end with it: cross-tenant work
// on the same pooled connections afterwards still sees every tenant.
func TestTenantScope_DoesNotLeakIntoPooledConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := dbtest.Postgres(t)
	ten := &geoetl.Tenant{Name: "a"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := st.ListUsers(ctx, ten.ID); err != nil {
			t.Fatal(err)
		}
	}
	other := &geoetl.Tenant{Name: "b"}
	if err := st.CreateTenant(ctx, other); err != nil {
		t.Fatal(err)
	}
	all, err := st.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("ListTenants after tenant-scoped work = %d tenants, want 2", len(all))
	}
}
