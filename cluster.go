package geoetl

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Cluster is what the instances sharing one database use to stay in step:
// a feed of changes between them and an election of the one instance that
// runs the singleton chores. Each store family provides its own (package
// db chooses it from the database URL), so the scheduler never knows which
// database it runs on.
type Cluster interface {
	// NewChangeFeed returns a feed for one instance.
	NewChangeFeed(p *ChangeFeedParams) ChangeFeed
	// NewElector returns an elector for one instance.
	NewElector(p *ElectorParams) Elector
	// MultiProcess reports whether instances in other processes may share
	// the database, and so contend for the same occurrences.
	MultiProcess() bool
}

// Change is what one instance tells the others: ids and statuses only,
// never schedule contents, since receivers read the database.
type Change struct {
	// Wake says schedules or pending executions changed.
	Wake bool
	// Cancel lists executions whose cancellation was requested.
	Cancel []string
	// Events are status changes of executions.
	Events []ExecutionEvent
}

// ChangeFeedParams configure a change feed.
type ChangeFeedParams struct {
	// InstanceID names the instance; its own changes are not delivered
	// back to it.
	InstanceID string
	// OnChange receives each change another instance published.
	OnChange func(Change)
	// OnResync is called whenever changes may have been missed (the feed
	// was not listening for a while): the instance must look at the
	// database again.
	OnResync func()
	Logger   *slog.Logger
}

// ChangeFeed carries changes between instances. Delivery is a fast path
// only: a lost change must be caught by looking at the database later.
type ChangeFeed interface {
	// Start begins listening and returns once the feed is in place (or
	// ctx ends), so that a change made right after it is not missed.
	Start(ctx context.Context) error
	// Publish queues c for the other instances; it never blocks.
	Publish(ctx context.Context, c Change)
	// Close stops listening and sending.
	Close()
}

// ElectorParams configure an elector.
type ElectorParams struct {
	// IdleTimeout is how long a leader may stay silent before it loses
	// the leadership, so that a frozen leader does not keep it.
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Elector picks the one instance that runs the singleton chores.
type Elector interface {
	// IsLeader returns nil when this instance leads (it may just have
	// been elected) and ErrNotLeader when another one does.
	IsLeader(ctx context.Context) error
	// Close gives the leadership up.
	Close()
}

// ErrNotLeader is IsLeader's answer when another instance leads.
var ErrNotLeader = errors.New("another instance runs the singleton chores")
