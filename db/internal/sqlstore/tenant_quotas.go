package sqlstore

import (
	"context"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/geoetl/geoetl"
)

// holdingRun is the condition that an execution holds one of its tenant's
// run slots: running, or claimed by an instance. It is written exactly as
// the partial index executions_tenant_holding_idx is, so both databases
// answer from that index.
const holdingRun = `(status = 'running' OR (status = 'pending' AND instance_id IS NOT NULL))`

// tenantLock locks a tenant's row against the other creators of its
// schedules (on PostgreSQL; SQLite's single writer serialises them). It
// is FOR NO KEY UPDATE, not FOR UPDATE, because every insert of a row
// referring to the tenant (an execution, an audit entry, a session) takes
// FOR KEY SHARE on it, which FOR UPDATE would make wait.
func (s *Store) tenantLock() string {
	if s.d.Lock == "" {
		return ""
	}
	return " FOR NO KEY UPDATE"
}

// checkScheduleRoom locks the tenant's row and refuses a new schedule when
// the tenant has max already.
func (s *Store) checkScheduleRoom(ctx context.Context, tx Tx, tid string, max int) error {
	n, err := s.lockAndCountSchedules(ctx, tx, tid)
	if err != nil {
		return err
	}
	if n >= max {
		return geoetl.OverLimit(geoetl.LimitMaxSchedules, "the tenant has %d schedules and may have at most %d; delete some, or raise the limit (--tenant-max-schedules)", n, max)
	}
	return nil
}

// lockAndCountSchedules locks the tenant's row and counts its schedules.
func (s *Store) lockAndCountSchedules(ctx context.Context, tx Tx, tid string) (int, error) {
	var got string
	err := tx.QueryRow(ctx, `SELECT id FROM tenants WHERE id = $1`+s.tenantLock(), tid).Scan(str(&got))
	if isNoRows(err) {
		return 0, geoetl.NotFound("Tenant")
	}
	if err != nil {
		return 0, err
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM schedules WHERE tenant_id = $1`, tid).Scan(&n); err != nil {
		return 0, err
	}
	return int(n), nil
}

// CountSchedules counts the tenant's schedules, whatever their status.
func (s *Store) CountSchedules(ctx context.Context, tenant string) (int, error) {
	tid, ok := tenantID(tenant)
	if !ok {
		return 0, nil
	}
	var n int64
	err := s.read(ctx, tid, func(tx Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM schedules WHERE tenant_id = $1`, tid).Scan(&n)
	})
	return int(n), err
}

// CountTenantRuns counts the tenant's executions that hold a run slot.
func (s *Store) CountTenantRuns(ctx context.Context, tenant string) (int, error) {
	tid, ok := tenantID(tenant)
	if !ok {
		return 0, nil
	}
	var n int64
	err := s.read(ctx, tid, func(tx Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM executions WHERE tenant_id = $1 AND `+holdingRun, tid).Scan(&n)
	})
	return int(n), err
}

// Run shares among claimers (PostgreSQL).
//
// A claim that starts runs of a tenant must not be counted past by another
// claimer starting runs of the same tenant at the same moment, on this
// instance or another. Claimers used to take turns on the tenant's row for
// that: with one busy tenant, every claim of every instance then waited
// for the one before it while holding the schedule rows it had locked, and
// the outcome writers and the other claimers waited for those in turn.
//
// Instead each tenant has runShards advisory locks (transaction-scoped,
// keys from runShareKey). A claimer wanting at most reserve runs of a
// tenant well below its limit (its runs, counted without a lock, at most
// limit - runShards·reserve, where reserve = limit / (2·runShards): half
// the limit) takes one of those locks that nobody holds, without waiting,
// counts the runs, and may start at most
//
//	min(reserve, limit - runs - (runShards-1)·reserve)
//
// of them. A claimer of a tenant nearer its limit, or wanting more, takes
// all runShards locks, waiting, in key order, so it is alone with the
// tenant and may start limit - runs: the turns of old, where they matter.
//
// Why the limit holds: the runs committed plus, for each claim holding
// one lock and having counted, what it may start, never exceed the limit.
// A claim that counts sees every committed run, and at most runShards-1
// others hold a lock, each allowed at most reserve, so what it allows
// itself keeps the sum within the limit; a claim holding every lock has
// no such others; a commit only turns allowance into runs, and a run that
// ends lowers the sum. Far from the limit, up to runShards claimers of one
// tenant so start runs at once without waiting for each other.
//
// Deadlocks: locks taken waiting are taken first, all in key order; the
// locks taken without waiting come after. Only a claimer that finds all
// runShards locks of a tenant held (more than runShards claimers of it at
// once) then waits for one of them while holding others' locks:
// PostgreSQL breaks a cycle, should one form, and the claim runs again.
const runShards = 8

// runShareReserve is what one claimer holding one of a tenant's run-share
// locks may start at most (0: limits this small are counted alone).
func runShareReserve(limit int) int { return limit / (2 * runShards) }

// runShareKey is the advisory lock key of shard i of a tenant's run
// share.
func runShareKey(tenantID string, i int) int64 {
	h := fnv.New64a()
	h.Write([]byte("geoetl tenant run share\x00"))
	h.Write([]byte(tenantID))
	h.Write([]byte{0, byte(i)})
	return int64(h.Sum64())
}

// TenantRuns returns, for each tenant in want, how many of its limit runs
// the claim must take as held: its executions that hold a run slot
// (running, or pending and claimed by an instance), and on PostgreSQL,
// for a tenant well below its limit whose want is at most the reserve,
// also the slots other claimers may be taking at the same moment (see
// runShards). It takes the tenants' run-share locks, held until the
// transaction ends.
func (c *claimTx) TenantRuns(want map[string]int, limit int) (map[string]int, error) {
	out := map[string]int{}
	wants := make(map[string]int, len(want))
	for id, n := range want {
		if nid, ok := normID(id); ok {
			wants[nid] += n
		}
	}
	ids := slices.Sorted(maps.Keys(wants))
	if len(ids) == 0 {
		return out, nil
	}
	if !c.s.d.AdvisoryLocks || limit <= 0 {
		// SQLite's single writer serialises claimers.
		return c.countTenantRuns(ids)
	}
	reserve := runShareReserve(limit)
	var shared, alone []string
	if reserve > 0 {
		before, err := c.countTenantRuns(ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if wants[id] <= reserve && before[id] <= limit-runShards*reserve {
				shared = append(shared, id)
			} else {
				alone = append(alone, id)
			}
		}
	} else {
		alone = ids
	}
	// Locks taken waiting first, in key order.
	var keys []int64
	for _, id := range alone {
		for i := range runShards {
			keys = append(keys, runShareKey(id, i))
		}
	}
	if err := c.waitForLocks(keys); err != nil {
		return nil, err
	}
	busy, err := c.tryRunShares(shared)
	if err != nil {
		return nil, err
	}
	if len(busy) > 0 {
		keys = keys[:0]
		for _, id := range busy {
			keys = append(keys, runShareKey(id, rand.IntN(runShards)))
		}
		if err := c.waitForLocks(keys); err != nil {
			return nil, err
		}
	}
	runs, err := c.countTenantRuns(ids)
	if err != nil {
		return nil, err
	}
	for _, id := range shared {
		may := max(0, min(reserve, limit-runs[id]-(runShards-1)*reserve))
		runs[id] = limit - may
	}
	return runs, nil
}

// waitForLocks takes the advisory locks, in key order, waiting for their
// holders.
func (c *claimTx) waitForLocks(keys []int64) error {
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	// unnest returns the keys in array order, and the locks are taken as
	// rows come.
	_, err := c.tx.Exec(c.ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`, keys)
	return err
}

// tryRunShares takes, for each tenant, one of its run-share locks that
// nobody holds, trying them from a random one on, and returns the
// tenants whose locks were all held.
func (c *claimTx) tryRunShares(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]int64, 0, len(ids)*runShards)
	for _, id := range ids {
		first := rand.IntN(runShards)
		for i := range runShards {
			keys = append(keys, runShareKey(id, (first+i)%runShards))
		}
	}
	// Per tenant, its slice of the keys; LIMIT 1 stops at the first lock
	// taken.
	rows, err := c.tx.Query(c.ctx, `SELECT n, (SELECT k FROM unnest(($1::bigint[])[n * $2 + 1 : n * $2 + $2]) AS k
		WHERE pg_try_advisory_xact_lock(k) LIMIT 1) IS NOT NULL FROM generate_series(0, $3 - 1) AS n`,
		keys, int64(runShards), int64(len(ids)))
	if err != nil {
		return nil, err
	}
	type got struct {
		n  int64
		ok bool
	}
	list, err := collect(rows, func(r Row) (got, error) {
		var x got
		return x, r.Scan(&x.n, &x.ok)
	})
	if err != nil {
		return nil, err
	}
	var busy []string
	for _, x := range list {
		if !x.ok {
			busy = append(busy, ids[x.n])
		}
	}
	return busy, nil
}

// countTenantRuns counts each tenant's executions that hold a run slot.
func (c *claimTx) countTenantRuns(ids []string) (map[string]int, error) {
	rows, err := c.tx.Query(c.ctx, `SELECT tenant_id, count(*) FROM executions WHERE `+c.s.d.InIDs("tenant_id", 1)+` AND `+holdingRun+`
		GROUP BY tenant_id`, c.s.d.IDList(ids))
	if err != nil {
		return nil, err
	}
	type count struct {
		id string
		n  int64
	}
	list, err := collect(rows, func(r Row) (count, error) {
		var x count
		return x, r.Scan(str(&x.id), &x.n)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(ids))
	for _, id := range ids {
		out[id] = 0
	}
	for _, x := range list {
		out[x.id] = int(x.n)
	}
	return out, nil
}
