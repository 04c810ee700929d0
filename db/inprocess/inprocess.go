// Package inprocess keeps the instances of one process in step when their
// database cannot carry messages between processes (SQLite): changes go
// from one feed to the others of the same Cluster through memory, and the
// first elector of the Cluster that is still open leads.
package inprocess

import (
	"context"
	"slices"
	"sync"

	"github.com/geoetl/geoetl"
)

// Cluster is a set of instances in one process.
type Cluster struct {
	mu       sync.Mutex
	feeds    []*feed
	electors []*elector
}

// New returns an empty cluster.
func New() *Cluster { return &Cluster{} }

// MultiProcess is false: only this process's instances share the cluster.
func (c *Cluster) MultiProcess() bool { return false }

// NewChangeFeed returns a feed that delivers to the cluster's other feeds.
func (c *Cluster) NewChangeFeed(p *geoetl.ChangeFeedParams) geoetl.ChangeFeed {
	return &feed{c: c, p: *p, kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
}

// NewElector returns an elector among the cluster's electors.
func (c *Cluster) NewElector(*geoetl.ElectorParams) geoetl.Elector {
	e := &elector{c: c}
	c.mu.Lock()
	c.electors = append(c.electors, e)
	c.mu.Unlock()
	return e
}

// feed receives on a goroutine of its own, so Publish never waits for a
// receiver; changes queued while it works are coalesced.
type feed struct {
	c       *Cluster
	p       geoetl.ChangeFeedParams
	mu      sync.Mutex
	in      geoetl.Change
	pending bool
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// Start joins the cluster; from then on no change is missed.
func (f *feed) Start(context.Context) error {
	f.c.mu.Lock()
	f.c.feeds = append(f.c.feeds, f)
	f.c.mu.Unlock()
	go f.run()
	return nil
}

// Publish hands c to every other started feed of the cluster.
func (f *feed) Publish(_ context.Context, c geoetl.Change) {
	f.c.mu.Lock()
	others := slices.Clone(f.c.feeds)
	f.c.mu.Unlock()
	for _, o := range others {
		if o != f && o.p.InstanceID != f.p.InstanceID {
			o.queue(c)
		}
	}
}

func (f *feed) queue(c geoetl.Change) {
	f.mu.Lock()
	f.in.Wake = f.in.Wake || c.Wake
	f.in.Cancel = append(f.in.Cancel, c.Cancel...)
	f.in.Events = append(f.in.Events, c.Events...)
	f.pending = true
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *feed) run() {
	defer close(f.stopped)
	for {
		select {
		case <-f.kick:
		case <-f.done:
			return
		}
		f.mu.Lock()
		c, ok := f.in, f.pending
		f.in, f.pending = geoetl.Change{}, false
		f.mu.Unlock()
		if ok {
			f.p.OnChange(c)
		}
	}
}

// Close leaves the cluster and waits for a delivery under way.
func (f *feed) Close() {
	f.once.Do(func() {
		f.c.mu.Lock()
		started := slices.Contains(f.c.feeds, f)
		f.c.feeds = slices.DeleteFunc(f.c.feeds, func(o *feed) bool { return o == f })
		f.c.mu.Unlock()
		close(f.done)
		if started {
			<-f.stopped
		}
	})
}

type elector struct{ c *Cluster }

// IsLeader returns nil for the first open elector of the cluster.
func (e *elector) IsLeader(context.Context) error {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	if len(e.c.electors) > 0 && e.c.electors[0] == e {
		return nil
	}
	return geoetl.ErrNotLeader
}

// Close hands the leadership to the next elector.
func (e *elector) Close() {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	e.c.electors = slices.DeleteFunc(e.c.electors, func(o *elector) bool { return o == e })
}
