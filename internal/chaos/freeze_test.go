package chaos

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
)

// TestChaos_FrozenInstance: an instance in the middle of runs is frozen
// with SIGSTOP past its heartbeat and lease, then resumed. While it is
// frozen, the other instances must reap its runs ("instance lost") and
// retry them; once resumed it must not record those runs as its own
// success, and it must go back to work. The first instance frozen is the
// leader (the one running the reaper), so the others have to take the
// chores over from a process that still holds its database sessions.
func TestChaos_FrozenInstance(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	schedules, w := f.begin(pick(6, 20), pick(6, 12))
	for round := range pick(1, 4) {
		time.Sleep(pick(time.Second, 10*time.Second))
		victim := f.leader()
		if round%2 == 1 {
			victim = f.nonLeader()
		}
		f.freezeRound(victim)
	}
	f.conclude(schedules, w, "SIGSTOP past the lease, then SIGCONT")
}

// freezeRound freezes victim while it runs workflows, waits until every
// run it held is reaped and retried elsewhere, resumes it and checks what
// it does next.
func (f *fleet) freezeRound(victim *Instance) {
	f.t.Helper()
	t := f.t
	f.waitRunsOn(victim, runsWithin)
	leader := victim.Leader()
	inTx := f.freezeInTransaction(victim, 100)
	frozenAt := time.Now()
	// What it holds now, frozen: runs recorded running on it (some may
	// have ended in the process without their outcome being written).
	held := f.runningOn(victim)
	if len(held) == 0 {
		victim.Thaw()
		held = f.waitRunsOn(victim, runsWithin)
		victim.Freeze()
		frozenAt, inTx = time.Now(), false
	}
	t.Logf("froze %s (leader: %v, in the middle of a transaction: %v) holding %d running executions", victim.ID, leader, inTx, len(held))

	// Frozen past its lease: the runs it held must be failed as lost and
	// retried on another instance, by an instance that is not frozen.
	limit := lease + 3*reapEach + 20*time.Second
	var state string
	for {
		done, s := f.reapedAndRetried(held, victim.ID)
		state = s
		if done && time.Since(frozenAt) > lease+reapEach {
			break
		}
		if time.Since(frozenAt) > limit {
			sessions := f.sessions()
			victim.Thaw()
			t.Fatalf("%s frozen for %s (leader: %v, in a transaction: %v): its runs were not all reaped and retried elsewhere:\n%sdatabase sessions:\n%s",
				victim.ID, limit, leader, inTx, state, sessions)
		}
		time.Sleep(time.Second)
	}
	frozenFor := time.Since(frozenAt)
	victim.Thaw()
	thawedAt := time.Now()
	t.Logf("resumed %s after %s", victim.ID, frozenFor.Round(time.Second))

	// It takes its share of new occurrences again.
	deadline := time.Now().Add(runsWithin)
	for !f.ranOnSince(victim.ID, thawedAt) {
		if time.Now().After(deadline) {
			t.Fatalf("%s ran nothing in the %s after it resumed (completed runs by instance since: %v):\n%s",
				victim.ID, runsWithin, f.completedByInstance(thawedAt), victim.Tail(20))
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Resumed, it finishes (or is stopped in) the runs it thought it held
	// (a wait of at most 2 s, then a batched write); the records must
	// still say they were lost and retried elsewhere. The wait above
	// counts towards that time.
	time.Sleep(time.Until(thawedAt.Add(5 * time.Second)))
	if done, s := f.reapedAndRetried(held, victim.ID); !done {
		t.Errorf("after %s resumed, the records of its lost runs changed:\n%s", victim.ID, s)
	}
}

// runsWithin is how long an instance may go without a run of its own
// before the scenario gives up on it: claims go to whichever instance asks
// first, so on a busy machine one instance can miss out for a while.
const runsWithin = 45 * time.Second

// completedByInstance counts the runs completed since t, by instance, to
// explain a failure.
func (f *fleet) completedByInstance(t time.Time) map[string]int {
	out := map[string]int{}
	for _, e := range f.executions(geoetl.ExecutionFilter{Status: geoetl.ExecCompleted, Since: &t}) {
		out[str(e.InstanceID)]++
	}
	return out
}

// runningOn returns the executions recorded running on in.
func (f *fleet) runningOn(in *Instance) []*geoetl.Execution {
	var mine []*geoetl.Execution
	for _, e := range f.executions(geoetl.ExecutionFilter{Status: geoetl.ExecRunning}) {
		if str(e.InstanceID) == in.ID {
			mine = append(mine, e)
		}
	}
	return mine
}

// waitRunsOn waits until in has running executions and returns them.
func (f *fleet) waitRunsOn(in *Instance, limit time.Duration) []*geoetl.Execution {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if mine := f.runningOn(in); len(mine) > 0 {
			return mine
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s ran nothing for %s (completed runs by instance meanwhile: %v)", in.ID, limit, f.completedByInstance(deadline.Add(-limit)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reapedAndRetried reports whether every execution in held is recorded
// failed as lost on victim and has a completed retry on another instance,
// and describes each one's state.
func (f *fleet) reapedAndRetried(held []*geoetl.Execution, victim string) (bool, string) {
	f.t.Helper()
	retries := map[string]*geoetl.Execution{}
	for _, e := range f.executions(geoetl.ExecutionFilter{Trigger: geoetl.TriggerRetry}) {
		if e.RetryOf != nil {
			retries[*e.RetryOf] = e
		}
	}
	ok := true
	var b strings.Builder
	for _, h := range held {
		e, err := f.store.FindExecutionByID(context.Background(), f.tenant.ID, h.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		r := retries[e.ID]
		fmt.Fprintf(&b, "  %s %s: %s on %s (%s)", e.ID[:8], e.ScheduledAt.Format(time.TimeOnly), e.Status, str(e.InstanceID), str(e.ErrorMessage))
		if r != nil {
			fmt.Fprintf(&b, "; retry %s on %s", r.Status, str(r.InstanceID))
		}
		b.WriteByte('\n')
		lost := e.Status == geoetl.ExecFailed && str(e.ErrorMessage) == geoetl.ErrorInstanceLost && str(e.InstanceID) == victim
		retried := r != nil && r.Status == geoetl.ExecCompleted && str(r.InstanceID) != victim
		ok = ok && lost && retried
	}
	return ok, b.String()
}

// ranOnSince reports whether instance id completed a run that started
// after since.
func (f *fleet) ranOnSince(id string, since time.Time) bool {
	for _, e := range f.executions(geoetl.ExecutionFilter{Status: geoetl.ExecCompleted, Since: &since}) {
		if str(e.InstanceID) == id && e.ExecutedAt != nil && e.ExecutedAt.After(since) {
			return true
		}
	}
	return false
}

// nonLeader returns a running node that does not hold the chores lock.
func (f *fleet) nonLeader() *Instance {
	f.t.Helper()
	leader := f.leader()
	for _, in := range f.running() {
		if in != leader {
			return in
		}
	}
	f.t.Fatal("no running node besides the leader")
	return nil
}

// executions reads the tenant's executions matching filter (its tenant
// and page are set here), newest first, at most a few pages.
func (f *fleet) executions(filter geoetl.ExecutionFilter) []*geoetl.Execution {
	f.t.Helper()
	filter.TenantID = f.tenant.ID
	var out []*geoetl.Execution
	cursor := ""
	for range 20 {
		filter.Page = geoetl.Page{Limit: geoetl.MaxPageLimit, Cursor: cursor}
		list, _, next, err := f.store.FindExecutions(context.Background(), filter)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, list...)
		if next == "" {
			break
		}
		cursor = next
	}
	return out
}

// freezeInTransaction freezes in at a moment when one of its database
// sessions is inside a transaction, the worst moment: the transaction
// and its row locks stay open while the process is stopped. It tries up
// to tries times (freezing and thawing again) and reports whether it
// succeeded; the process is left frozen either way.
func (f *fleet) freezeInTransaction(in *Instance, tries int) bool {
	f.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.PostgresURL())
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i := range tries {
		in.Freeze()
		// Let a statement that was running when the process stopped end:
		// the session then waits, idle in its transaction.
		time.Sleep(30 * time.Millisecond)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'`,
			"geoetl-"+in.ID).Scan(&n); err != nil {
			f.t.Fatal(err)
		}
		if n > 0 || i == tries-1 {
			return n > 0
		}
		in.Thaw()
		time.Sleep(time.Duration(7*i%40) * time.Millisecond)
	}
	return false
}
