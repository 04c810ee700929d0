package sqlstore

import (
	"context"

	"github.com/geoetl/geoetl"
)

// holdingRun is the condition that an execution holds one of its tenant's
// run slots: running, or claimed by an instance. It is written exactly as
// the partial index executions_tenant_holding_idx is, so both databases
// answer from that index.
const holdingRun = `(status = 'running' OR (status = 'pending' AND instance_id IS NOT NULL))`

// tenantLock locks a tenant's row against the other claimers and creators
// of schedules (on PostgreSQL; SQLite's single writer serialises them). It
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

// TenantRuns locks the tenants' rows (on PostgreSQL, in id order, waiting
// for other claimers that hold them) and counts each one's executions that
// hold a run slot. Claimers starting runs of the same tenant so take turns,
// and each sees what the others started.
func (c *claimTx) TenantRuns(tenantIDs []string) (map[string]int, error) {
	out := map[string]int{}
	ids := normIDs(tenantIDs)
	if len(ids) == 0 {
		return out, nil
	}
	if lock := c.s.tenantLock(); lock != "" {
		rows, err := c.tx.Query(c.ctx, `SELECT id FROM tenants WHERE `+c.s.d.InIDs("id", 1)+` ORDER BY id`+lock, c.s.d.IDList(ids))
		if err != nil {
			return nil, err
		}
		if _, err := collect(rows, func(r Row) (string, error) {
			var id string
			return id, r.Scan(str(&id))
		}); err != nil {
			return nil, err
		}
	}
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
	for _, id := range ids {
		out[id] = 0
	}
	for _, x := range list {
		out[x.id] = int(x.n)
	}
	return out, nil
}
