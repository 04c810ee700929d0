package scheduler

import (
	"context"
	"time"

	"github.com/geoetl/geoetl"
)

// newFeed makes this instance's feed of the cluster's changes.
func (s *Scheduler) newFeed() geoetl.ChangeFeed {
	return s.cfg.Cluster.NewChangeFeed(&geoetl.ChangeFeedParams{
		InstanceID: s.id, OnChange: s.received, OnResync: s.resync, Logger: s.log,
	})
}

// publish tells the other instances of a change, if any may listen.
func (s *Scheduler) publish(ctx context.Context, c geoetl.Change) {
	if s.feed != nil {
		s.feed.Publish(ctx, c)
	}
}

// received acts on a change another instance published.
func (s *Scheduler) received(c geoetl.Change) {
	if c.Wake {
		s.resync()
	}
	for _, id := range c.Cancel {
		s.cancelLocal(id, stopRemote)
	}
	var freed, touched []string
	for _, ev := range c.Events {
		s.events.publish(ev)
		if ev.ScheduleID != "" {
			touched = append(touched, ev.ScheduleID)
		}
		if ev.Status.Finished() && ev.ScheduleID != "" {
			freed = append(freed, ev.ScheduleID)
		}
	}
	if len(freed) > 0 {
		s.unblock(freed...)
	}
	s.tenantsFreed(c.Events)
	// A contended occurrence may be waiting for exactly this outcome.
	if len(touched) > 0 && s.awaitsOutcome(touched...) {
		s.pokeDecider()
	}
}

// resync forgets what the dispatcher believed blocked and wakes it.
func (s *Scheduler) resync() {
	s.unblockAll()
	s.poke()
}

// electorIdleTimeout is how long the leader's lock session may stay silent
// before the server ends it: half the lease, so that another instance
// takes the chores over, and reaps the silent leader's runs, about when
// they are due.
func (c *Config) electorIdleTimeout() time.Duration { return c.LeaseTimeout / 2 }
