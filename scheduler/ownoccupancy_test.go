package scheduler

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// occupancyCounter counts the rows claim transactions read back as
// occupancy.
type occupancyCounter struct {
	Store
	mu   sync.Mutex
	rows []string // ids read
}

func (s *occupancyCounter) Claim(ctx context.Context, fn func(tx geoetl.ClaimTx) error) error {
	return s.Store.Claim(ctx, func(tx geoetl.ClaimTx) error { return fn(&occupancyCountTx{ClaimTx: tx, s: s}) })
}

func (s *occupancyCounter) read() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rows)
}

type occupancyCountTx struct {
	geoetl.ClaimTx
	s *occupancyCounter
}

func (t *occupancyCountTx) note(occ map[string][]*geoetl.Execution) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for _, list := range occ {
		for _, e := range list {
			t.s.rows = append(t.s.rows, e.ID)
		}
	}
}

func (t *occupancyCountTx) Occupancy(p geoetl.OccupancyParams) (map[string][]*geoetl.Execution, error) {
	occ, err := t.ClaimTx.Occupancy(p)
	t.note(occ)
	return occ, err
}

// The occurrence of an every-second schedule is claimed while the
// previous one still holds its slot on the same instance. The claim takes
// that from its own memory instead of reading the row back (one row read
// per run otherwise), and still decides as before: the new job is
// contended and waits only for the instance's own job. A slot held by
// another instance is still read from the database.
func TestClaim_TakesItsOwnRunsFromMemoryAndReadsOnlyOthers(t *testing.T) {
	t.Parallel()
	setupEach(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		sc := b.schedule(b.workflow(defEmpty), "* * * * * *", nil) // next run t0+1s
		counter := &occupancyCounter{Store: b.store}
		cfg := b.config("i1")
		cfg.Store = counter
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		claimOf := func(at time.Time) *job {
			t.Helper()
			for _, j := range s.held.jobs {
				if j.exec.ScheduledAt.Equal(at) {
					return j
				}
			}
			t.Fatalf("no job of the occurrence at %s held", at)
			return nil
		}
		if _, err := s.claimer.claim(ctx); err != nil {
			t.Fatal(err)
		}
		first := claimOf(t0.Add(time.Second))
		if first.contended {
			t.Fatal("the first occurrence found its slot taken")
		}

		b.advanceTo(t0.Add(time.Second))
		if _, err := s.claimer.claim(ctx); err != nil {
			t.Fatal(err)
		}
		second := claimOf(t0.Add(2 * time.Second))
		if got := counter.read(); len(got) != 0 {
			t.Fatalf("the claim read back %d rows of its own runs: %v", len(got), got)
		}
		if !second.contended || !slices.Equal(second.after, []string{first.exec.ID}) {
			t.Fatalf("second occurrence: contended %v after %v, want contended after [%s]", second.contended, second.after, first.exec.ID)
		}

		// Another instance's run holds the slot now: read, and the next
		// job waits for the decider rather than for this instance's jobs.
		other, beat := "i2", t0
		theirs := &geoetl.Execution{TenantID: b.tenant.ID, ScheduleID: &sc.ID, WorkflowID: sc.WorkflowID,
			ScheduledAt: t0.Add(-time.Minute), DueAt: t0.Add(-time.Minute), Trigger: geoetl.TriggerManual,
			Status: geoetl.ExecRunning, InstanceID: &other, HeartbeatAt: &beat}
		if err := b.store.CreateExecution(ctx, theirs); err != nil {
			t.Fatal(err)
		}
		b.advanceTo(t0.Add(2 * time.Second))
		if _, err := s.claimer.claim(ctx); err != nil {
			t.Fatal(err)
		}
		third := claimOf(t0.Add(3 * time.Second))
		if got := counter.read(); !slices.Equal(got, []string{theirs.ID}) {
			t.Fatalf("the claim read %v, want only the other instance's run %s", got, theirs.ID)
		}
		if !third.contended || third.after != nil {
			t.Fatalf("third occurrence: contended %v after %v, want contended for the decider", third.contended, third.after)
		}
	})
}

func TestMergeOccupancy_KeepsTheReadRowAndTheOrder(t *testing.T) {
	t.Parallel()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	row := func(id string, s int, status geoetl.ExecutionStatus) *geoetl.Execution {
		return &geoetl.Execution{ID: id, ScheduledAt: at(s), Status: status}
	}
	occ := map[string][]*geoetl.Execution{"a": {row("r2", 2, geoetl.ExecPending), row("handed", 3, geoetl.ExecPending)}}
	own := map[string][]*geoetl.Execution{
		"a": {row("m1", 1, geoetl.ExecRunning), row("handed", 3, geoetl.ExecRunning)},
		"b": {row("m4", 4, geoetl.ExecPending)},
	}
	mergeOccupancy(occ, own)
	ids := func(list []*geoetl.Execution) (out []string) {
		for _, e := range list {
			out = append(out, e.ID+"/"+string(e.Status))
		}
		return out
	}
	if got, want := ids(occ["a"]), []string{"m1/running", "r2/pending", "handed/pending"}; !slices.Equal(got, want) {
		t.Fatalf("a: %v, want %v", got, want)
	}
	if got, want := ids(occ["b"]), []string{"m4/pending"}; !slices.Equal(got, want) {
		t.Fatalf("b: %v, want %v", got, want)
	}
}
