package scheduler

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// meetingStore holds each instance's first claim transaction that reads a
// given schedule's occupancy open until the other instance's does the
// same (or two seconds passed), so the two decide about its slots at the
// same moment, as they may in production.
type meetingStore struct {
	Store
	m    *meeting
	once sync.Once
}

type meeting struct {
	schedule string
	mu       sync.Mutex
	arrived  int
	all      chan struct{}
	done     sync.WaitGroup // the armed claims, until committed
}

func (s *meetingStore) Claim(ctx context.Context, fn func(tx geoetl.ClaimTx) error) error {
	armed := false
	err := s.Store.Claim(ctx, func(tx geoetl.ClaimTx) error {
		return fn(&meetingTx{ClaimTx: tx, onOccupancy: func(ids []string) {
			if !slices.Contains(ids, s.m.schedule) {
				return
			}
			s.once.Do(func() { armed = true; s.m.meet() })
		}})
	})
	if armed {
		s.m.done.Done()
	}
	return err
}

func (m *meeting) meet() {
	m.mu.Lock()
	m.arrived++
	if m.arrived == 2 {
		close(m.all)
	}
	m.mu.Unlock()
	select {
	case <-m.all:
	case <-time.After(2 * time.Second):
	}
}

type meetingTx struct {
	geoetl.ClaimTx
	onOccupancy func([]string)
}

func (t *meetingTx) Occupancy(p geoetl.OccupancyParams) (map[string][]*geoetl.Execution, error) {
	occ, err := t.ClaimTx.Occupancy(p)
	if err == nil {
		t.onOccupancy(p.ScheduleIDs)
	}
	return occ, err
}

// TestConcurrencyLimit_HoldsWhenTwoInstancesStartWaitingRowsAtOnce: two
// backfill rows of a schedule with maxConcurrentExecutions 1, claimed by
// two instances in the same instant. Without the schedule row locked
// while its slots are decided, each instance saw the slot free and started
// its row: two runs at once.
func TestConcurrencyLimit_HoldsWhenTwoInstancesStartWaitingRowsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time cluster test")
	}
	// Real time, mostly waiting, each on its own database: these overlap.
	t.Parallel()
	c := newCluster(t)
	sc := c.schedule(c.workflow(defWait(600)), "0 0 1 1 *", nil)
	now := time.Now().UTC()
	for i := range 2 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		e := &geoetl.Execution{TenantID: c.tenant.ID, ScheduleID: &sc.ID, WorkflowID: sc.WorkflowID, ScheduledAt: at, DueAt: at,
			Trigger: geoetl.TriggerBackfill, Status: geoetl.ExecPending}
		if err := c.store.CreateExecution(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	m := &meeting{schedule: sc.ID, all: make(chan struct{})}
	m.done.Add(2)
	for _, id := range []string{"node-1", "node-2"} {
		c.instance(id, func(cfg *Config) {
			// One row per claim transaction: each instance takes one.
			cfg.BatchSize = 1
			cfg.Store = &meetingStore{Store: cfg.Store, m: m}
		})
	}
	waited := make(chan struct{})
	go func() { m.done.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(testWait):
		t.Fatal("the instances never both decided about the schedule's slots")
	}
	holders := 0
	for _, e := range c.executions() {
		if e.Status == geoetl.ExecRunning || (e.Status == geoetl.ExecPending && e.InstanceID != nil) {
			holders++
		}
	}
	if holders != 1 {
		t.Fatalf("%d of the schedule's rows started or claimed, want 1 (maxConcurrentExecutions 1)", holders)
	}
}
