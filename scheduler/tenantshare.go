package scheduler

import (
	"slices"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
)

// Fair shares between tenants (Config.TenantMaxRuns).
//
// A run holds one of its tenant's slots from the moment an instance claims
// it (up to the lookahead before its time) until its outcome is written,
// wherever it runs: the slots are counted in the database, over every
// instance. The claim transaction counts them (ClaimTx.TenantRuns, whose
// locks keep claimers of one tenant on PostgreSQL from going over the
// limit together, without making them take turns while the tenant is well
// below it) before it starts anything, and a run over the limit is not
// claimed: it stays
// pending, unclaimed, with a wait reason, and is claimed like any due row
// once a slot is free, oldest first. Nothing is skipped or dropped for the
// limit. A row that waited for its tenant then waits for its schedule's
// slot like a queued one, whatever the overlap policy, so it still runs.
//
// So that waiting rows are not read again by every claim, an instance
// leaves out the rows of a tenant it found full until a run of that
// tenant ends (here, or on another instance through the change feed), a change
// wakes the dispatcher, or SweepInterval passed: the last is the safety
// net for a slot freed without news reaching this instance (a claim
// handed back elsewhere, say), so a waiting run is looked at again within
// about a second whatever happens.

// tenantGate is what this instance believes about full tenants. A run
// may end while a claim that found its tenant full is in flight: that
// claim must not then mark the tenant full, or its waiting rows would be
// left out with a slot free. Releases are numbered for that.
type tenantGate struct {
	mu      sync.Mutex
	full    map[string]time.Time // tenant id -> local time it was found full
	gen     uint64               // releases so far
	freedAt map[string]uint64    // tenant id -> number of its latest release
	cleared uint64               // number of the latest release of all
}

// generation is the number a claim reads before it starts.
func (g *tenantGate) generation() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen
}

// waitingTenants returns the tenants whose rows claims leave out now,
// forgetting those found full longer than ttl ago.
func (g *tenantGate) waitingTenants(now time.Time, ttl time.Duration) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.full))
	for id, at := range g.full {
		if now.Sub(at) >= ttl || now.Before(at) {
			delete(g.full, id)
			continue
		}
		out = append(out, id)
	}
	return out
}

// markFull records the tenants a claim found full, except those released
// since the claim began (gen); it reports whether there were such, so
// that the caller claims again.
func (g *tenantGate) markFull(now time.Time, ids []string, gen uint64) (stale bool) {
	if len(ids) == 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.full == nil {
		g.full = map[string]time.Time{}
	}
	for _, id := range ids {
		if g.cleared > gen || g.freedAt[id] > gen {
			stale = true
			continue
		}
		g.full[id] = now
	}
	return stale
}

// release forgets that the tenants are full and reports whether any was.
func (g *tenantGate) release(ids ...string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	if g.freedAt == nil {
		g.freedAt = map[string]uint64{}
	}
	n := 0
	for _, id := range ids {
		g.freedAt[id] = g.gen
		if _, ok := g.full[id]; ok {
			delete(g.full, id)
			n++
		}
	}
	return n > 0
}

func (g *tenantGate) clear() {
	g.mu.Lock()
	g.gen++
	g.cleared = g.gen
	clear(g.full)
	g.mu.Unlock()
}

// tenantsWaiting is the list of full tenants for a claim or a wake-up
// computation.
func (cl *claimer) tenantsWaiting() []string {
	if cl.cfg.TenantMaxRuns <= 0 {
		return nil
	}
	return cl.share.waitingTenants(cl.clock.Now(), cl.cfg.SweepInterval)
}

// tenantsFreed is told of finished runs (their events): their tenants
// may have a free slot, so the dispatcher looks again.
func (cl *claimer) tenantsFreed(events []geoetl.ExecutionEvent) {
	if cl.cfg.TenantMaxRuns <= 0 {
		return
	}
	var ids []string
	for _, ev := range events {
		if ev.Status.Finished() {
			ids = append(ids, ev.TenantID)
		}
	}
	if len(ids) > 0 && cl.share.release(ids...) {
		cl.poke()
	}
}

// loadTenantRuns counts, for every tenant with something the claim may
// start, its runs holding a slot (as the claim must take them: see
// ClaimTx.TenantRuns). It takes those tenants' run-share locks, so it
// comes after the claim's other locking reads.
func (c *claimCtx) loadTenantRuns(pending []*geoetl.Execution, due []*geoetl.Schedule) error {
	if c.cl.cfg.TenantMaxRuns <= 0 {
		return nil
	}
	want := map[string]int{}
	for _, e := range pending {
		want[e.TenantID]++
	}
	for _, sc := range due {
		want[sc.TenantID]++
	}
	if len(want) == 0 {
		return nil
	}
	runs, err := c.tx.TenantRuns(want, c.cl.cfg.TenantMaxRuns)
	if err != nil {
		return err
	}
	c.tenantRuns = runs
	return nil
}

// tenantWaits takes one of the tenant's run slots for e and reports
// false, or, when the tenant has none free, records e waiting (a row to
// insert when fresh, else its wait reason is updated) and reports true.
func (c *claimCtx) tenantWaits(e *geoetl.Execution, fresh bool) bool {
	limit := c.cl.cfg.TenantMaxRuns
	if limit <= 0 {
		return false
	}
	used := c.tenantRuns[e.TenantID]
	if used < limit {
		c.tenantRuns[e.TenantID] = used + 1
		e.WaitReason = nil
		return false
	}
	reason := geoetl.TenantWaitReason(used, limit)
	if !fresh && (e.WaitReason == nil || *e.WaitReason != reason) {
		c.updates = append(c.updates, e)
	}
	e.WaitReason = &reason
	if !slices.Contains(c.res.fullTenants, e.TenantID) {
		c.res.fullTenants = append(c.res.fullTenants, e.TenantID)
	}
	return true
}

// waitedForTenant reports whether a pending row was held back by its
// tenant's limit: it is no claim handed back, so no later occurrence
// supersedes it.
func waitedForTenant(e *geoetl.Execution) bool {
	return e.WaitReason != nil
}
