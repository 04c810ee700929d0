package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/postgres"
)

// TestChangeFeed_ResyncsOnStartAndDeliversToTheOtherInstancesOnly: a feed
// asks for a resync once it listens (what was notified before is lost),
// and a change reaches the other instance but never comes back to its
// publisher.
func TestChangeFeed_ResyncsOnStartAndDeliversToTheOtherInstancesOnly(t *testing.T) {
	t.Parallel()
	_, u := dbtest.Postgres(t)
	ctx := context.Background()
	type inbox struct {
		changes chan geoetl.Change
		resyncs chan struct{}
	}
	start := func(id string) (geoetl.ChangeFeed, inbox) {
		in := inbox{changes: make(chan geoetl.Change, 8), resyncs: make(chan struct{}, 8)}
		f := postgres.NewCluster(u).NewChangeFeed(&geoetl.ChangeFeedParams{InstanceID: id,
			OnChange: func(c geoetl.Change) { in.changes <- c },
			OnResync: func() { in.resyncs <- struct{}{} }})
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		select {
		case <-in.resyncs:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no resync after the feed started", id)
		}
		return f, in
	}
	a, aIn := start("a")
	b, bIn := start("b")
	a.Publish(ctx, geoetl.Change{Cancel: []string{"x1"}, Events: []geoetl.ExecutionEvent{{TenantID: "t", ExecutionID: "e", ScheduleID: "s", Status: geoetl.ExecCompleted}}})
	select {
	case c := <-bIn.changes:
		if len(c.Cancel) != 1 || c.Cancel[0] != "x1" || len(c.Events) != 1 || c.Events[0].Status != geoetl.ExecCompleted || c.Events[0].ExecutionID != "e" {
			t.Fatalf("b received %+v, want a's cancellation of x1 and e's completion", c)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("b never received a's change")
	}
	// Notifications arrive in order on one session: once b's next change
	// reaches a, a's own would already have come back had it been delivered.
	b.Publish(ctx, geoetl.Change{Wake: true})
	select {
	case c := <-aIn.changes:
		if !c.Wake || len(c.Cancel) > 0 {
			t.Fatalf("a received %+v, want only b's wake", c)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a never received b's change")
	}
}
