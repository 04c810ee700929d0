package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/postgres"
)

// TestElector_ASilentLeaderLosesTheLockToAnotherInstance: a leader whose
// process is frozen keeps its session open but sends nothing. The server
// must end that session after the elector's idle timeout, so that another
// instance takes the chores lock (and reaps the frozen leader's runs); the
// old leader, back, must find that it lost the lock. Found by the chaos
// scenario TestChaos_FrozenInstance, where a frozen leader kept every lost
// run unreaped for as long as it was frozen.
func TestElector_ASilentLeaderLosesTheLockToAnotherInstance(t *testing.T) {
	t.Parallel()
	_, u := dbtest.Postgres(t)
	ctx := context.Background()
	mk := func() geoetl.Elector {
		e := postgres.NewCluster(u).NewElector(&geoetl.ElectorParams{IdleTimeout: time.Second})
		t.Cleanup(e.Close)
		return e
	}
	a, b := mk(), mk()
	if err := a.IsLeader(ctx); err != nil {
		t.Fatalf("first elector: %v", err)
	}
	if err := b.IsLeader(ctx); !errors.Is(err, geoetl.ErrNotLeader) {
		t.Fatalf("second elector while the first leads: %v, want ErrNotLeader", err)
	}
	// a now says nothing, as a frozen process would; b keeps asking.
	deadline := time.Now().Add(15 * time.Second)
	for b.IsLeader(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the second elector never took the lock from a leader silent for 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := a.IsLeader(ctx); !errors.Is(err, geoetl.ErrNotLeader) {
		t.Fatalf("the old leader, back: %v, want ErrNotLeader", err)
	}
}
