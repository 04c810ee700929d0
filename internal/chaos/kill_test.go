package chaos

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// TestChaos_KillNineRandomInstance: three instances; every few seconds one
// of those running workflows is killed with SIGKILL and started again
// after a pause. Every occurrence must be claimed once and completed once;
// the killed runs must show up as "instance lost" attempts, retried
// elsewhere.
func TestChaos_KillNineRandomInstance(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	schedules, w := f.begin(pick(10, 30), pick(6, 12))

	// 20 s in the short mode: with 12 s a run of two kills could land both
	// between runs (seen once), and the scenario then proves nothing.
	end := time.Now().Add(pick(20*time.Second, 5*time.Minute))
	kills := 0
	for time.Now().Before(end) {
		time.Sleep(pick(4*time.Second, time.Duration(3000+rng.IntN(5000))*time.Millisecond))
		victim := f.holderOfRuns(rng)
		victim.Kill()
		kills++
		time.Sleep(pick(2*time.Second, time.Duration(1000+rng.IntN(4000))*time.Millisecond))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := victim.Start(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
	}
	t.Logf("%d kills", kills)
	v := f.conclude(schedules, w, "kill -9 of a random instance")
	if v.Lost == 0 {
		t.Errorf("none of %d kills lost a run: the scenario did not exercise the reaper and retries", kills)
	}
}

// holderOfRuns picks a random running node among those holding running
// executions (any running node if none does), so that kills land in the
// middle of runs.
func (f *fleet) holderOfRuns(rng *rand.Rand) *Instance {
	f.t.Helper()
	running := f.running()
	list, _, _, err := f.store.FindExecutions(context.Background(), geoetl.ExecutionFilter{TenantID: f.tenant.ID, Status: geoetl.ExecRunning,
		Page: geoetl.Page{Limit: geoetl.MaxPageLimit}})
	if err != nil {
		f.t.Fatal(err)
	}
	busy := map[string]bool{}
	for _, e := range list {
		busy[str(e.InstanceID)] = true
	}
	var holders []*Instance
	for _, in := range running {
		if busy[in.ID] {
			holders = append(holders, in)
		}
	}
	if len(holders) == 0 {
		holders = running
	}
	return holders[rng.IntN(len(holders))]
}
