package inprocess_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/inprocess"
)

func TestFeed_DeliversToTheOtherInstancesOnly(t *testing.T) {
	c := inprocess.New()
	got := map[string]chan geoetl.Change{"a": make(chan geoetl.Change, 4), "b": make(chan geoetl.Change, 4), "c": make(chan geoetl.Change, 4)}
	feeds := map[string]geoetl.ChangeFeed{}
	for id, ch := range got {
		f := c.NewChangeFeed(&geoetl.ChangeFeedParams{InstanceID: id, OnChange: func(ch2 geoetl.Change) { ch <- ch2 }, OnResync: func() {}})
		if err := f.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		feeds[id] = f
	}
	feeds["a"].Publish(context.Background(), geoetl.Change{Cancel: []string{"x1"}})
	select {
	case ch := <-got["b"]:
		if len(ch.Cancel) != 1 || ch.Cancel[0] != "x1" {
			t.Fatalf("b received %+v, want the cancellation of x1", ch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never received a's change")
	}
	feeds["b"].Close()
	// a's own change must not come back to it: the next change a receives
	// is c's alone (a queued own change would come first, or be merged).
	feeds["a"].Publish(context.Background(), geoetl.Change{Wake: true})
	feeds["c"].Publish(context.Background(), geoetl.Change{Cancel: []string{"x2"}})
	select {
	case ch := <-got["a"]:
		if ch.Wake || len(ch.Cancel) != 1 || ch.Cancel[0] != "x2" {
			t.Fatalf("a received %+v, want only c's cancellation of x2", ch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a never received c's change")
	}
	select {
	case ch := <-got["b"]:
		t.Fatalf("b received %+v after it closed", ch)
	default:
	}
}

func TestElector_TheNextInstanceLeadsOnceTheLeaderCloses(t *testing.T) {
	c := inprocess.New()
	ctx := context.Background()
	a, b := c.NewElector(&geoetl.ElectorParams{}), c.NewElector(&geoetl.ElectorParams{})
	if err := a.IsLeader(ctx); err != nil {
		t.Fatalf("first elector: %v", err)
	}
	if err := b.IsLeader(ctx); !errors.Is(err, geoetl.ErrNotLeader) {
		t.Fatalf("second elector while the first leads: %v, want ErrNotLeader", err)
	}
	a.Close()
	if err := b.IsLeader(ctx); err != nil {
		t.Fatalf("second elector after the first closed: %v", err)
	}
}
