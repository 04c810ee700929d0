package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/internal/sqlstore"
	"github.com/geoetl/geoetl/db/postgres"
)

// TestOpen_AStoppedClientLosesItsTransactionAndLocks: a store whose client
// stops inside a transaction (a frozen process) must not hold the
// transaction's row locks for long: the server ends the session after the
// idle-in-transaction timeout (postgres.IdleInTransactionTimeout, or the
// URL's value), and another session can then lock the rows. Found by the
// chaos scenario TestChaos_FrozenInstance, where an instance frozen during
// a claim kept its schedules from firing anywhere while it was frozen.
func TestOpen_AStoppedClientLosesItsTransactionAndLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, u := dbtest.Postgres(t)

	def, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	var setting string
	if err := def.(*sqlstore.Store).Backend().InTx(ctx, sqlstore.ReadOnly, "", func(tx sqlstore.Tx) error {
		return tx.QueryRow(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&setting)
	}); err != nil {
		t.Fatal(err)
	}
	if want := "5s"; setting != want || postgres.IdleInTransactionTimeout != 5*time.Second {
		t.Fatalf("idle_in_transaction_session_timeout = %q, want %q", setting, want)
	}

	// The behaviour, with a short timeout from the URL.
	p, _ := url.Parse(u)
	q := p.Query()
	q.Set("idle_in_transaction_session_timeout", "300")
	p.RawQuery = q.Encode()
	stopped, err := postgres.Open(ctx, p.String(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stopped.Close()
	other, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tn := &geoetl.Tenant{Name: "locked"}
	if err := other.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	errStopped := stopped.(*sqlstore.Store).Backend().InTx(ctx, sqlstore.ReadWrite, "", func(tx sqlstore.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT id FROM tenants WHERE id = $1 FOR UPDATE`, tn.ID); err != nil {
			return err
		}
		// The client stops here, holding the row lock, well past the
		// timeout; meanwhile another session must get the row.
		lockCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got := make(chan error, 1)
		go func() {
			got <- other.(*sqlstore.Store).Backend().InTx(lockCtx, sqlstore.ReadWrite, "", func(tx sqlstore.Tx) error {
				_, err := tx.Exec(lockCtx, `SELECT id FROM tenants WHERE id = $1 FOR UPDATE`, tn.ID)
				return err
			})
		}()
		if err := <-got; err != nil {
			t.Errorf("another session could not lock the row of a stopped transaction: %v", err)
		}
		_, err := tx.Exec(ctx, `SELECT 1`)
		return err
	})
	if errStopped == nil || errors.Is(errStopped, context.DeadlineExceeded) {
		t.Fatalf("the stopped transaction went on after its session timed out: %v", errStopped)
	}
}
