package scheduler

import (
	"context"
	"time"

	"github.com/geoetl/geoetl"
)

// startFeed starts this instance's feed of the cluster's changes.
func (a *announcer) startFeed(ctx context.Context) error {
	feed := a.cfg.Cluster.NewChangeFeed(&geoetl.ChangeFeedParams{
		InstanceID: a.id, OnChange: a.received, OnResync: a.resync, Logger: a.log,
	})
	if err := feed.Start(ctx); err != nil {
		feed.Close()
		return err
	}
	a.feed = feed
	return nil
}

func (a *announcer) closeFeed() {
	if a.feed != nil {
		a.feed.Close()
	}
}

// publish tells the other instances of a change, if any may listen.
func (a *announcer) publish(ctx context.Context, c geoetl.Change) {
	if a.feed != nil {
		a.feed.Publish(ctx, c)
	}
}

// received acts on a change another instance published.
func (a *announcer) received(c geoetl.Change) {
	if c.Wake {
		a.resync()
	}
	for _, id := range c.Cancel {
		a.held.cancel(id, stopRemote)
	}
	var freed, touched []string
	for _, ev := range c.Events {
		a.events.publish(ev)
		if ev.ScheduleID != "" {
			touched = append(touched, ev.ScheduleID)
		}
		if ev.Status.Finished() && ev.ScheduleID != "" {
			freed = append(freed, ev.ScheduleID)
		}
	}
	if len(freed) > 0 {
		a.claimer.unblock(freed...)
	}
	a.claimer.tenantsFreed(c.Events)
	// A contended occurrence may be waiting for exactly this outcome.
	if len(touched) > 0 && a.held.awaitsOutcome(touched...) {
		a.decider.poke()
	}
}

// resync forgets what the dispatcher believed blocked and wakes it.
func (a *announcer) resync() {
	a.claimer.unblockAll()
	a.claimer.poke()
}

// electorIdleTimeout is how long the leader's lock session may stay silent
// before the server ends it: half the lease, so that another instance
// takes the chores over, and reaps the silent leader's runs, about when
// they are due.
func (c *Config) electorIdleTimeout() time.Duration { return c.LeaseTimeout / 2 }
