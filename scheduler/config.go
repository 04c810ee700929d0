package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/metrics"
	"github.com/geoetl/geoetl/notify"
)

// Notifier plans notifications; *notify.Notifier implements it.
type Notifier interface {
	// PlanExecution returns the deliveries for a finished execution; they
	// are stored in the transaction that records the outcome.
	PlanExecution(ev notify.ExecutionEvent) []*geoetl.Delivery
	// PlanScheduleEvent returns the deliveries for a schedule that went
	// into error or expired.
	PlanScheduleEvent(s *geoetl.Schedule, event string) []*geoetl.Delivery
	// Kick tells the notifier that deliveries are waiting.
	Kick()
}

// Config configures a Scheduler. Zero tunables take the defaults named.
type Config struct {
	Store    Store // a geoetl.Store will do
	Engine   geoetl.WorkflowEngine
	Notifier Notifier // may be nil: no notifications
	Clock    clock.Clock
	Logger   *slog.Logger
	Metrics  *metrics.Metrics // may be nil

	// InstanceID names this instance in claims; default host name and
	// process id.
	InstanceID string
	// Cluster carries changes between the instances sharing the database
	// and elects the one running the singleton chores (db.OpenCluster
	// gives the one for the database in use). Nil: this instance is alone,
	// nothing is propagated and it runs every chore.
	Cluster geoetl.Cluster
	// Workers is how many executions run at once; default 4 per CPU, at
	// least 8.
	Workers int
	// ShutdownGrace is how long Stop lets running executions finish before
	// cancelling them; default 30 s.
	ShutdownGrace time.Duration
	// Retention is how long finished executions are kept; 0 keeps them.
	Retention time.Duration
	// Dispatch runs schedules. False on a web-only node: the scheduler
	// then only propagates changes and streams events.
	Dispatch bool

	// TenantMaxRuns bounds the runs of one tenant that hold a slot at once,
	// over every instance (tenantshare.go); 0 means no limit. A run over
	// it waits, pending, and is never skipped for it.
	TenantMaxRuns int

	// Lookahead is how long before an occurrence it is claimed, so that
	// it starts on time; default 1 s. Changes made later than that before
	// an occurrence apply from the next one.
	Lookahead time.Duration
	// MaxLookahead bounds how much earlier than Lookahead a large set of
	// occurrences falling due together is claimed, so that claiming them
	// all ends before they are due; default 3 s (never below Lookahead;
	// equal to it turns the adaptive lookahead off). Only such sets are
	// claimed early (README: the trade-off).
	MaxLookahead time.Duration
	// MisfireGrace is how late an occurrence may be claimed and still run
	// as on time; an older one was missed (misfire policy). Default 5 s.
	MisfireGrace time.Duration
	// BatchSize bounds the rows one claim transaction reads per kind;
	// default 500.
	BatchSize int
	// MaxClaimed bounds the executions this instance holds (claimed, not
	// yet finished); default 20,000.
	MaxClaimed int
	// MaxMissed bounds the missed occurrences of one schedule written
	// after downtime (the latest ones); default 1,000.
	MaxMissed int
	// HeartbeatInterval is how often held executions are heartbeated;
	// default 5 s.
	HeartbeatInterval time.Duration
	// LeaseTimeout is how old a heartbeat may grow before the reaper takes
	// the execution's instance for lost; default 30 s. An instance that
	// cannot heartbeat for three quarters of it stops its runs itself.
	LeaseTimeout time.Duration
	// SweepInterval is the longest the dispatcher sleeps without looking
	// at the database; default 1 s.
	SweepInterval time.Duration
	// ReapInterval, ExpiryInterval and RetentionInterval are how often the
	// singleton chores run; defaults 5 s, 1 s and 1 h. A negative value
	// turns the chore off (tests drive chores themselves).
	ReapInterval      time.Duration
	ExpiryInterval    time.Duration
	RetentionInterval time.Duration
	// FlushInterval is how long the batching writer gathers starts,
	// finishes, node records and logs before writing them in one
	// transaction; default 20 ms. FlushSize caps a batch; default 2,000.
	FlushInterval time.Duration
	FlushSize     int
}

func (c *Config) setDefaults() error {
	if c.Store == nil {
		return errors.New("scheduler: a store is required")
	}
	if c.Engine == nil && c.Dispatch {
		return errors.New("scheduler: a workflow engine is required to dispatch")
	}
	if n, ok := c.Notifier.(*notify.Notifier); ok && n == nil {
		c.Notifier = nil
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.InstanceID == "" {
		h, _ := os.Hostname()
		c.InstanceID = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if c.Workers <= 0 {
		c.Workers = max(8, 4*runtime.NumCPU())
	}
	if c.ShutdownGrace < 0 {
		return errors.New("scheduler: the shutdown grace must not be negative")
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.Retention < 0 {
		return errors.New("scheduler: the retention must not be negative")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&c.Lookahead, time.Second)
	def(&c.MaxLookahead, max(3*time.Second, c.Lookahead))
	def(&c.MisfireGrace, 5*time.Second)
	defInt(&c.BatchSize, 500)
	defInt(&c.MaxClaimed, 20000)
	defInt(&c.MaxMissed, 1000)
	def(&c.HeartbeatInterval, 5*time.Second)
	def(&c.LeaseTimeout, 30*time.Second)
	def(&c.SweepInterval, time.Second)
	def(&c.ReapInterval, 5*time.Second)
	def(&c.ExpiryInterval, time.Second)
	def(&c.RetentionInterval, time.Hour)
	def(&c.FlushInterval, 20*time.Millisecond)
	defInt(&c.FlushSize, 2000)
	if c.MaxLookahead < c.Lookahead {
		return fmt.Errorf("scheduler: the maximum lookahead (%s) must not be below the lookahead (%s)", c.MaxLookahead, c.Lookahead)
	}
	if c.Lookahead < 0 || c.MisfireGrace < 0 || c.HeartbeatInterval < 0 || c.LeaseTimeout < 0 || c.SweepInterval < 0 {
		return errors.New("scheduler: durations must not be negative")
	}
	if c.LeaseTimeout < 2*c.HeartbeatInterval {
		return fmt.Errorf("scheduler: the lease timeout (%s) must be at least twice the heartbeat interval (%s)", c.LeaseTimeout, c.HeartbeatInterval)
	}
	return nil
}

// fence is how long after its last confirmed heartbeat (or claim) this
// instance still trusts that it holds an execution. It is shorter than the
// reaper's LeaseTimeout, so an instance cut off from the database stops a
// run before any other instance can take it over.
func (c *Config) fence() time.Duration { return c.LeaseTimeout * 3 / 4 }
