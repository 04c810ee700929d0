package sqlstore

import (
	"context"
	"time"

	"github.com/geoetl/geoetl"
)

// notWaiting is the condition, in a query over executions, that a pending
// row does not wait: neither for a slot of one of the schedules in
// parameter n (every row of those schedules except retries and forced
// run-nows, which start whatever the schedule's occupancy), nor for a run
// slot of one of the tenants in parameter n+1 (every row of those tenants).
func (s *Store) notWaiting(n int) string {
	return `NOT (schedule_id IS NOT NULL AND ` + s.d.InIDs("schedule_id", n) + ` AND trigger_type <> 'retry' AND forced = FALSE)
		AND NOT ` + s.d.InIDs("tenant_id", n+1)
}

// DuePending returns the unclaimed pending executions due by p.Until,
// without the rows that wait for a slot of one of the schedules in
// p.Waiting or for a run slot of one of p.Tenants, nor (on PostgreSQL)
// those whose schedule another transaction holds.
func (c *claimTx) DuePending(p *geoetl.DuePendingParams) ([]*geoetl.Execution, error) {
	until, limit := p.Until, p.Limit
	ids, tids := normIDs(p.Waiting), normIDs(p.Tenants)
	var out []*geoetl.Execution
	var err error
	if len(ids) == 0 && len(tids) == 0 {
		out, err = c.duePending(until, limit)
	} else {
		var rows Rows
		rows, err = c.tx.Query(c.ctx, `SELECT `+executionCols+` FROM executions
			WHERE status = 'pending' AND instance_id IS NULL AND due_at <= $1 AND `+c.s.notWaiting(3)+`
			ORDER BY due_at, id LIMIT $2`+c.s.d.LockSkip,
			c.s.t(until), int64(limit), c.s.d.IDList(ids), c.s.d.IDList(tids))
		if err == nil {
			out, err = collect(rows, scanExecution)
		}
	}
	if err != nil {
		return nil, err
	}
	return c.withoutHeldSchedules(out)
}

// withoutHeldSchedules locks the schedules of pending rows, skipping
// those another transaction holds, and leaves out the rows of the
// skipped ones, for a later claim (PostgreSQL; SQLite's single writer has
// no others). The claim decides about a schedule's slots holding its row
// (FindSchedules); waiting for a row another claimer held, a claim that
// locked due schedules of its own made the outcome writers and the other
// claimers wait for those in turn, and several instances formed a convoy.
// A pending row whose schedule is gone is kept: the claim fails it.
func (c *claimTx) withoutHeldSchedules(pending []*geoetl.Execution) ([]*geoetl.Execution, error) {
	if !c.s.d.AdvisoryLocks || len(pending) == 0 {
		return pending, nil
	}
	var sids []string
	seen := map[string]bool{}
	for _, e := range pending {
		if e.ScheduleID != nil && !seen[*e.ScheduleID] {
			seen[*e.ScheduleID] = true
			sids = append(sids, *e.ScheduleID)
		}
	}
	if len(sids) == 0 {
		return pending, nil
	}
	_, held, err := c.lockFreeSchedules(sids, false)
	if err != nil || len(held) == 0 {
		return pending, err
	}
	skip := make(map[string]bool, len(held))
	for _, id := range held {
		skip[id] = true
	}
	out := pending[:0]
	for _, e := range pending {
		if e.ScheduleID == nil || !skip[*e.ScheduleID] {
			out = append(out, e)
		}
	}
	return out, nil
}

// lockFreeSchedules locks the schedules among ids that no other
// transaction holds, skipping the others, and returns those it locked
// (read in full when full is set, else only their ids) and the ids of the
// existing ones it skipped. Ids of schedules that do not exist are in
// neither.
func (c *claimTx) lockFreeSchedules(ids []string, full bool) (map[string]*geoetl.Schedule, []string, error) {
	cols := "id"
	if full {
		cols = scheduleCols
	}
	rows, err := c.tx.Query(c.ctx, `SELECT `+cols+` FROM schedules WHERE `+c.s.d.InIDs("id", 1)+` ORDER BY id`+c.s.d.LockSkip, c.s.d.IDList(ids))
	if err != nil {
		return nil, nil, err
	}
	locked, err := collect(rows, func(r Row) (*geoetl.Schedule, error) {
		if full {
			return scanSchedule(r)
		}
		var sc geoetl.Schedule
		return &sc, r.Scan(str(&sc.ID))
	})
	if err != nil {
		return nil, nil, err
	}
	found := make(map[string]*geoetl.Schedule, len(locked))
	for _, sc := range locked {
		found[sc.ID] = sc
	}
	if len(found) == len(ids) || c.s.d.LockSkip == "" {
		return found, nil, nil
	}
	var rest []string
	for _, id := range ids {
		if found[id] == nil {
			rest = append(rest, id)
		}
	}
	rows, err = c.tx.Query(c.ctx, `SELECT id FROM schedules WHERE `+c.s.d.InIDs("id", 1), c.s.d.IDList(rest))
	if err != nil {
		return nil, nil, err
	}
	held, err := collect(rows, scanID) // they exist: another transaction holds them
	return found, held, err
}

// FindFreeSchedules is FindSchedules without waiting: schedules another
// transaction holds are left out of found and listed in held.
func (c *claimTx) FindFreeSchedules(ids []string) (map[string]*geoetl.Schedule, []string, error) {
	ids = normIDs(ids)
	if len(ids) == 0 {
		return map[string]*geoetl.Schedule{}, nil, nil
	}
	return c.lockFreeSchedules(ids, true)
}

// NextWakeAt returns the soonest next run of an active schedule or due
// time of an unclaimed pending execution, without the pending rows that
// wait for a slot of one of the schedules in p.Waiting or for a run slot
// of one of p.Tenants.
func (s *Store) NextWakeAt(ctx context.Context, p *geoetl.NextWakeAtParams) (*time.Time, error) {
	if p == nil {
		p = &geoetl.NextWakeAtParams{}
	}
	ids, tids := normIDs(p.Waiting), normIDs(p.Tenants)
	if len(ids) == 0 && len(tids) == 0 {
		return s.nextWakeAt(ctx)
	}
	var out *time.Time
	err := s.read(ctx, "", func(tx Tx) error {
		var a, b *time.Time
		err := tx.QueryRow(ctx, `SELECT next_run_at FROM schedules WHERE enabled = TRUE AND status = 'active' AND next_run_at IS NOT NULL
			ORDER BY next_run_at LIMIT 1`).Scan(tsp(&a))
		if err != nil && !isNoRows(err) {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT due_at FROM executions WHERE status = 'pending' AND instance_id IS NULL AND `+s.notWaiting(1)+`
			ORDER BY due_at LIMIT 1`, s.d.IDList(ids), s.d.IDList(tids)).Scan(tsp(&b))
		if err != nil && !isNoRows(err) {
			return err
		}
		out = a
		if b != nil && (out == nil || b.Before(*out)) {
			out = b
		}
		return nil
	})
	return out, err
}

// CountDueSchedules counts the schedules due by until, at most limit, from
// the due index alone.
func (s *Store) CountDueSchedules(ctx context.Context, until time.Time, limit int) (int, error) {
	var n int64
	err := s.read(ctx, "", func(tx Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM schedules
			WHERE enabled = TRUE AND status = 'active' AND next_run_at <= $1 LIMIT $2) AS due`, s.t(until), int64(limit)).Scan(&n)
	})
	return int(n), err
}

// FindSchedules returns schedules of any tenant by id, locked in id order
// (on PostgreSQL; SQLite's single writer serialises claimers), so that two
// claimers deciding about the same schedule's slots do so one after the
// other: each then sees what the other started.
func (c *claimTx) FindSchedules(ids []string) (map[string]*geoetl.Schedule, error) {
	out := map[string]*geoetl.Schedule{}
	ids = normIDs(ids)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := c.tx.Query(c.ctx, `SELECT `+scheduleCols+` FROM schedules WHERE `+c.s.d.InIDs("id", 1)+` ORDER BY id`+c.s.d.Lock, c.s.d.IDList(ids))
	if err != nil {
		return nil, err
	}
	list, err := collect(rows, scanSchedule)
	if err != nil {
		return nil, err
	}
	for _, sc := range list {
		out[sc.ID] = sc
	}
	return out, nil
}

// CancelExecutions cancels pending rows at once and flags running ones,
// with reason as their error; finished rows are left alone.
func (c *claimTx) CancelExecutions(ids []string, reason string) error {
	ids = normIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	list := c.s.d.IDList(ids)
	if _, err := c.tx.Exec(c.ctx, `UPDATE executions SET status = 'cancelled', cancel_requested = TRUE, completed_at = $2, error_message = $3
		WHERE `+c.s.d.InIDs("id", 1)+` AND status = 'pending'`, list, c.s.t(c.now), reason); err != nil {
		return err
	}
	_, err := c.tx.Exec(c.ctx, `UPDATE executions SET cancel_requested = TRUE, error_message = $2
		WHERE `+c.s.d.InIDs("id", 1)+` AND status = 'running'`, list, reason)
	return err
}
