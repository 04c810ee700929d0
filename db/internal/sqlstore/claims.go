package sqlstore

import (
	"context"
	"sort"
	"time"

	"github.com/geoetl/geoetl"
)

// How the scheduler's rows are represented:
//   - A pending execution is "claimed" when instance_id is set; the claimer
//     keeps heartbeat_at fresh (Heartbeat) until it finishes. DuePending
//     only returns unclaimed rows; a claim whose heartbeat went stale is
//     returned by StaleExecutions, and ReleaseClaims (or FinishExecutions)
//     hands it back.
//   - Cancelling a pending execution makes it cancelled at once and also
//     sets cancel_requested, so an instance that had claimed it learns of
//     the cancellation through Heartbeat; StartExecutions and
//     FinishExecutions leave finished rows alone.

// Claim runs fn in one write transaction across all tenants.
func (s *Store) Claim(ctx context.Context, fn func(tx geoetl.ClaimTx) error) error {
	return s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		return fn(&claimTx{s: s, ctx: ctx, tx: tx, now: now})
	})
}

type claimTx struct {
	s   *Store
	ctx context.Context
	tx  Tx
	now time.Time
}

func (c *claimTx) Now() time.Time { return c.now }

// DueSchedules returns enabled, active schedules due by until, soonest
// first, locked (skipping rows another claimer holds on PostgreSQL).
func (c *claimTx) DueSchedules(until time.Time, limit int) ([]*geoetl.Schedule, error) {
	rows, err := c.tx.Query(c.ctx, `SELECT `+scheduleCols+` FROM schedules
		WHERE enabled = TRUE AND status = 'active' AND next_run_at <= $1 ORDER BY next_run_at, id LIMIT $2`+c.s.d.LockSkip,
		c.s.t(until), int64(limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSchedule)
}

// duePending returns unclaimed pending executions due by until, soonest
// first, locked.
func (c *claimTx) duePending(until time.Time, limit int) ([]*geoetl.Execution, error) {
	rows, err := c.tx.Query(c.ctx, `SELECT `+executionCols+` FROM executions
		WHERE status = 'pending' AND instance_id IS NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2`+c.s.d.LockSkip,
		c.s.t(until), int64(limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, scanExecution)
}

// Occupancy returns per schedule the executions that hold or wait for a
// slot: running ones, claimed pending ones and unclaimed pending ones other
// than retries and backfills (queued occurrences and run-nows), oldest
// occurrence first. Schedules with none are absent from the map. A
// claimer's own runs (p.Except), which it knows better than the database
// does, are not read back.
func (c *claimTx) Occupancy(p geoetl.OccupancyParams) (map[string][]*geoetl.Execution, error) {
	out := map[string][]*geoetl.Execution{}
	ids := normIDs(p.ScheduleIDs)
	if len(ids) == 0 {
		return out, nil
	}
	query := `SELECT ` + executionCols + ` FROM executions
		WHERE ` + c.s.d.InIDs("schedule_id", 1) + ` AND status IN ('pending', 'running')
		AND (status = 'running' OR instance_id IS NOT NULL OR trigger_type NOT IN ('retry', 'backfill'))`
	args := []any{c.s.d.IDList(ids)}
	if skip := normIDs(p.Except); len(skip) > 0 && p.Instance != "" {
		query += ` AND (instance_id IS NULL OR instance_id <> $2 OR NOT (` + c.s.d.InIDs("id", 3) + `))`
		args = append(args, p.Instance, c.s.d.IDList(skip))
	}
	rows, err := c.tx.Query(c.ctx, query+` ORDER BY scheduled_at, created_at, id`, args...)
	if err != nil {
		return nil, err
	}
	execs, err := collect(rows, scanExecution)
	if err != nil {
		return nil, err
	}
	for _, e := range execs {
		out[*e.ScheduleID] = append(out[*e.ScheduleID], e)
	}
	return out, nil
}

// InsertExecutions inserts the rows in as few statements as the driver's
// parameter limit allows; a row whose occurrence key exists is skipped.
// (Measured against one prepared single-row insert per row, pipelined on
// PostgreSQL: multi-row statements were as fast on SQLite and about a third
// faster on PostgreSQL.)
func (c *claimTx) InsertExecutions(execs []*geoetl.Execution) ([]bool, error) {
	return c.s.insertExecutions(c.ctx, c.tx, c.now, execs)
}

func (s *Store) insertExecutions(ctx context.Context, tx Tx, now time.Time, execs []*geoetl.Execution) ([]bool, error) {
	inserted := make([]bool, len(execs))
	per := max(1, s.d.MaxParams/executionWidth)
	for start := 0; start < len(execs); start += per {
		chunk := execs[start:min(start+per, len(execs))]
		args := make([]any, 0, len(chunk)*executionWidth)
		for _, e := range chunk {
			a, err := s.prepareExecution(e, now)
			if err != nil {
				return nil, err
			}
			args = append(args, a...)
		}
		rows, err := tx.Query(ctx, `INSERT INTO executions (`+executionCols+`) VALUES `+placeholders(len(chunk), executionWidth, 0)+
			` ON CONFLICT DO NOTHING RETURNING id`, args...)
		if err != nil {
			return nil, err
		}
		ids, err := collect(rows, scanID)
		if err != nil {
			return nil, err
		}
		got := make(map[string]bool, len(ids))
		for _, id := range ids {
			got[id] = true
		}
		for i, e := range chunk {
			inserted[start+i] = got[e.ID]
		}
	}
	return inserted, nil
}

// UpdateExecutions writes the scheduler-owned fields of existing rows.
func (c *claimTx) UpdateExecutions(execs []*geoetl.Execution) error {
	args := make([][]any, 0, len(execs))
	for _, e := range execs {
		id, ok := normID(e.ID)
		if !ok {
			return geoetl.NotFound("Execution")
		}
		e.ExecutedAt, e.CompletedAt, e.HeartbeatAt, e.DueAt = microp(e.ExecutedAt), microp(e.CompletedAt), microp(e.HeartbeatAt), micro(e.DueAt)
		e.MissedUntil = microp(e.MissedUntil)
		if err := checkMissed(e); err != nil {
			return err
		}
		args = append(args, []any{id, string(e.Status), nullStr(e.InstanceID), c.s.tp(e.HeartbeatAt), c.s.tp(e.ExecutedAt), c.s.tp(e.CompletedAt),
			nullInt64(e.DurationMs), nullStr(e.ErrorMessage), e.Skipped, nullStr(e.SkipReason), e.CancelRequested, c.s.t(e.DueAt), nullStr(e.WaitReason),
			c.s.tp(e.MissedUntil), int64(e.MissedCount)})
	}
	_, err := c.tx.ExecBatch(c.ctx, `UPDATE executions SET status = $2, instance_id = $3, heartbeat_at = $4, executed_at = $5,
		completed_at = $6, duration_ms = $7, error_message = $8, skipped = $9, skip_reason = $10, cancel_requested = $11, due_at = $12,
		wait_reason = $13, missed_until = $14, missed_count = $15 WHERE id = $1`, args)
	return err
}

// AdvanceSchedules moves claimed schedules on.
func (c *claimTx) AdvanceSchedules(advances []geoetl.ScheduleAdvance) error {
	var plain, withStatus [][]any
	for _, a := range advances {
		id, ok := normID(a.ScheduleID)
		if !ok {
			return geoetl.NotFound("Schedule")
		}
		if a.Status == nil {
			plain = append(plain, []any{id, c.s.tp(a.NextRunAt)})
		} else {
			withStatus = append(withStatus, []any{id, c.s.tp(a.NextRunAt), string(*a.Status), nullStr(a.Reason)})
		}
	}
	if c.s.d.Arrays && len(plain) > 1 && distinctFirst(plain) {
		ids, next := make([]string, len(plain)), make([]*time.Time, len(plain))
		for i, a := range plain {
			ids[i], next[i] = a[0].(string), timeArg(a[1])
		}
		// The claim holds these rows already (DueSchedules locked them).
		if _, err := c.tx.Exec(c.ctx, `UPDATE schedules s SET next_run_at = u.next
			FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, next) WHERE s.id = u.id`, ids, next); err != nil {
			return err
		}
	} else if c.s.d.ValuesFrom && len(plain) > 1 && distinctFirst(plain) {
		if err := execValues(c.ctx, c.tx, plain, 2, func(values string) string {
			return `UPDATE schedules SET next_run_at = u.column2 FROM ` + values + ` WHERE schedules.id = u.column1`
		}); err != nil {
			return err
		}
	} else if _, err := c.tx.ExecBatch(c.ctx, `UPDATE schedules SET next_run_at = $2 WHERE id = $1`, plain); err != nil {
		return err
	}
	_, err := c.tx.ExecBatch(c.ctx, `UPDATE schedules SET next_run_at = $2, status = $3, status_reason = $4 WHERE id = $1`, withStatus)
	return err
}

// FindWorkflow returns a workflow of any tenant.
func (c *claimTx) FindWorkflow(tenantID, id string) (*geoetl.Workflow, error) {
	tid, ok1 := normID(tenantID)
	wid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Workflow")
	}
	return c.s.findWorkflow(c.ctx, c.tx, tid, wid, "")
}

// nextWakeAt returns the soonest next run of an active schedule or due
// time of an unclaimed pending execution.
func (s *Store) nextWakeAt(ctx context.Context) (*time.Time, error) {
	var out *time.Time
	err := s.read(ctx, "", func(tx Tx) error {
		var a, b *time.Time
		err := tx.QueryRow(ctx, `SELECT next_run_at FROM schedules WHERE enabled = TRUE AND status = 'active' AND next_run_at IS NOT NULL
			ORDER BY next_run_at LIMIT 1`).Scan(tsp(&a))
		if err != nil && !isNoRows(err) {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT due_at FROM executions WHERE status = 'pending' AND instance_id IS NULL ORDER BY due_at LIMIT 1`).Scan(tsp(&b))
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

// StartExecutions marks claimed executions running; rows that are no
// longer pending (cancelled meanwhile) or no longer claimed by the starting
// instance are left alone.
func (s *Store) StartExecutions(ctx context.Context, starts []geoetl.ExecutionStart) error {
	if len(starts) == 0 {
		return nil
	}
	return s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		// In id order, as FinishExecutions takes its locks, so that
		// writers never wait for each other in a cycle.
		starts = append([]geoetl.ExecutionStart(nil), starts...)
		sort.Slice(starts, func(a, b int) bool { return starts[a].ExecutionID < starts[b].ExecutionID })
		args := make([][]any, 0, len(starts))
		for _, st := range starts {
			id, ok := normID(st.ExecutionID)
			if !ok {
				continue
			}
			at := st.ExecutedAt
			if at.IsZero() {
				at = now
			}
			args = append(args, []any{id, st.InstanceID, s.t(at), s.t(now)})
		}
		// Only the instance holding the claim starts a row: a claim that
		// lapsed and went to another instance stays with that one.
		if s.d.Arrays && len(args) > 1 {
			ids, insts, ats := make([]string, len(args)), make([]string, len(args)), make([]*time.Time, len(args))
			for i, a := range args {
				ids[i], insts[i], ats[i] = a[0].(string), a[1].(string), timeArg(a[2])
			}
			// The ids are sorted and few next to the table, so the planner
			// walks them in order through the primary key and locks the rows
			// in id order, as FinishExecutions does. (Locking them first with
			// an ordered SELECT … FOR NO KEY UPDATE in the statement made it
			// five times slower; a deadlock, should a plan differ, is retried.)
			_, err = tx.Exec(ctx, `UPDATE executions e SET status = 'running', executed_at = u.at, heartbeat_at = $4
				FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, inst, at)
				WHERE e.id = u.id AND e.status = 'pending' AND e.instance_id = u.inst`, ids, insts, ats, s.t(now))
			return err
		}
		_, err = tx.ExecBatch(ctx, `UPDATE executions SET status = 'running', executed_at = $3, heartbeat_at = $4
			WHERE id = $1 AND status = 'pending' AND instance_id = $2`, args)
		return err
	})
}

// FinishExecutions records outcomes with their follow-ups in one
// transaction. A result for an execution that is already finished (say,
// cancelled while it was still pending) changes nothing, follow-ups
// included.
//
// The updates go as one pipelined batch per kind, rows in id order and one
// last-run update per schedule: a batch of outcomes then costs a few round
// trips instead of two per execution, and writers on several instances
// take their row locks in the same order, so they neither hold schedule
// rows (which claims skip while locked) for long nor deadlock each other.
// A schedule row another transaction holds gets its last run set aside
// in the same transaction and folded in later where the dialect has the
// table for it (last_runs_aside.go), else in a second short transaction
// right after (see recordLastRuns).
func (s *Store) FinishExecutions(ctx context.Context, results []geoetl.ExecutionResult) error {
	if len(results) == 0 {
		return nil
	}
	results = append([]geoetl.ExecutionResult(nil), results...)
	for _, r := range results {
		if _, ok := normID(r.Execution.ID); !ok {
			return geoetl.NotFound("Execution")
		}
	}
	sort.Slice(results, func(a, b int) bool { return results[a].Execution.ID < results[b].Execution.ID })
	var busy map[string]*geoetl.Execution // last runs left for after the commit
	var aside bool                        // last runs set aside, for the folder
	err := s.write(ctx, "", func(tx Tx) error {
		busy, aside = nil, false
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		args := make([][]any, 0, len(results))
		for _, r := range results {
			e := r.Execution
			id, _ := normID(e.ID)
			if e.CompletedAt == nil && e.Status.Finished() {
				e.CompletedAt = &now
			}
			e.ExecutedAt, e.CompletedAt = microp(e.ExecutedAt), microp(e.CompletedAt)
			var summary any
			if e.Summary != nil {
				if summary, err = jsonArg(e.Summary); err != nil {
					return invalidField("summary", "cannot be stored as JSON")
				}
			}
			e.MissedUntil = microp(e.MissedUntil)
			if err := checkMissed(e); err != nil {
				return err
			}
			args = append(args, []any{id, string(e.Status), s.tp(e.ExecutedAt), s.tp(e.CompletedAt), nullInt64(e.DurationMs), nullStr(e.ErrorMessage), summary,
				e.Skipped, nullStr(e.SkipReason), e.CancelRequested, s.tp(e.MissedUntil), int64(e.MissedCount)})
		}
		counts, err := s.finishRows(ctx, tx, args)
		if err != nil {
			return err
		}
		var retries []*geoetl.Execution
		var deliveries []*geoetl.Delivery
		latest := map[string]*geoetl.Execution{} // per schedule, the run recorded as its last
		for i, r := range results {
			if counts[i] == 0 {
				continue
			}
			// A skipped row (an occurrence the scheduler decided not to run
			// when it fell due) is no run of its schedule, as a skipped row
			// the claim writes is not.
			if e := r.Execution; e.ScheduleID != nil && e.Status != geoetl.ExecSkipped {
				if sid, ok := normID(*e.ScheduleID); ok {
					if cur := latest[sid]; cur == nil || !lastRunAt(cur).After(lastRunAt(e)) {
						latest[sid] = e
					}
				}
			}
			if r.Retry != nil {
				retries = append(retries, r.Retry)
			}
			deliveries = append(deliveries, r.Deliveries...)
		}
		if len(retries) > 0 {
			if _, err := s.insertExecutions(ctx, tx, now, retries); err != nil {
				return err
			}
		}
		if err := s.insertDeliveries(ctx, tx, now, deliveries); err != nil {
			return err
		}
		// Last, so the schedule rows are held only until the commit that
		// follows.
		busy, err = s.recordLastRuns(ctx, tx, latest, true)
		if err != nil || len(busy) == 0 || s.d.LastRunsAside == "" {
			return err
		}
		err = s.setLastRunsAside(ctx, tx, busy)
		busy = nil
		aside = true
		return err
	})
	if err == nil {
		// Started by the first outcome, so that it also folds rows an
		// earlier process left.
		s.ensureFolder()
		if aside {
			s.kickFolder()
		}
	}
	if err != nil || len(busy) == 0 {
		return err
	}
	return s.write(ctx, "", func(tx Tx) error {
		_, err := s.recordLastRuns(ctx, tx, busy, false)
		return err
	})
}

// lastRunAt is when a run counts as having happened for its schedule's
// last run: its start, else its end, else its occurrence.
func lastRunAt(e *geoetl.Execution) time.Time {
	switch {
	case e.ExecutedAt != nil:
		return *e.ExecutedAt
	case e.CompletedAt != nil:
		return *e.CompletedAt
	}
	return e.ScheduledAt
}

// recordLastRuns sets each schedule's last run (in schedule id order)
// unless a later run is recorded already: runs of one schedule may finish
// out of order.
//
// With skipLocked, schedule rows another transaction holds (a claimer
// advancing them, on PostgreSQL) are not waited for but returned, for the
// caller to record once its transaction committed. Waiting for them inside
// the outcome transaction made outcome writes queue behind claims while
// holding their execution rows, and claims skip the schedule rows an
// outcome transaction holds: under CPU starvation the two formed a convoy
// in which outcomes fell thousands behind and occurrences went unclaimed.
func (s *Store) recordLastRuns(ctx context.Context, tx Tx, latest map[string]*geoetl.Execution, skipLocked bool) (map[string]*geoetl.Execution, error) {
	if len(latest) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(latest))
	for sid := range latest {
		ids = append(ids, sid)
	}
	sort.Strings(ids)
	var busy map[string]*geoetl.Execution
	if skipLocked && s.d.LockSkip != "" {
		rows, err := tx.Query(ctx, `SELECT id FROM schedules WHERE `+s.d.InIDs("id", 1)+` ORDER BY id`+s.d.LockSkip, s.d.IDList(ids))
		if err != nil {
			return nil, err
		}
		got, err := collect(rows, scanID)
		if err != nil {
			return nil, err
		}
		held := make(map[string]bool, len(got))
		for _, id := range got {
			held[id] = true
		}
		kept := ids[:0]
		for _, sid := range ids {
			if held[sid] {
				kept = append(kept, sid)
				continue
			}
			// Locked elsewhere, or deleted: recorded after the commit
			// (a deleted one then changes nothing).
			if busy == nil {
				busy = map[string]*geoetl.Execution{}
			}
			busy[sid] = latest[sid]
		}
		ids = kept
	}
	args := make([][]any, 0, len(ids))
	for _, sid := range ids {
		e := latest[sid]
		id, _ := normID(e.ID)
		args = append(args, []any{sid, s.t(lastRunAt(e)), string(e.Status), id})
	}
	if s.d.Arrays && len(args) > 1 {
		sids, ats, statuses, runs := make([]string, len(args)), make([]*time.Time, len(args)), make([]string, len(args)), make([]string, len(args))
		for i, a := range args {
			sids[i], ats[i], statuses[i], runs[i] = a[0].(string), timeArg(a[1]), a[2].(string), a[3].(string)
		}
		// In schedule id order, as StartExecutions locks executions.
		_, err := tx.Exec(ctx, `UPDATE schedules s SET last_run_at = u.at, last_run_status = u.status, last_run_id = u.run
			FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::uuid[]) AS u(id, at, status, run)
			WHERE s.id = u.id AND (s.last_run_at IS NULL OR s.last_run_at <= u.at)`, sids, ats, statuses, runs)
		return busy, err
	}
	if s.d.ValuesFrom && len(args) > 1 {
		// The ids are distinct: one per schedule.
		return busy, execValues(ctx, tx, args, 4, func(values string) string {
			return `UPDATE schedules SET last_run_at = u.column2, last_run_status = u.column3, last_run_id = u.column4
				FROM ` + values + ` WHERE schedules.id = u.column1 AND (schedules.last_run_at IS NULL OR schedules.last_run_at <= u.column2)`
		})
	}
	_, err := tx.ExecBatch(ctx, `UPDATE schedules SET last_run_at = $2, last_run_status = $3, last_run_id = $4
		WHERE id = $1 AND (last_run_at IS NULL OR last_run_at <= $2)`, args)
	return busy, err
}

// finishRows writes outcomes (the argument lists FinishExecutions builds,
// in id order) to the rows still pending or running, and returns per row
// how many it changed (0 or 1).
func (s *Store) finishRows(ctx context.Context, tx Tx, args [][]any) ([]int64, error) {
	if s.d.ValuesFrom && len(args) > 1 && distinctFirst(args) {
		return s.finishRowsValues(ctx, tx, args)
	}
	if !s.d.Arrays || len(args) < 2 || !distinctFirst(args) {
		return tx.ExecBatch(ctx, `UPDATE executions SET status = $2, executed_at = coalesce($3, executed_at), completed_at = $4, duration_ms = $5,
			error_message = $6, summary = $7, skipped = $8, skip_reason = $9, cancel_requested = (cancel_requested OR $10),
			missed_until = $11, missed_count = $12
			WHERE id = $1 AND status IN ('pending', 'running')`, args)
	}
	n := len(args)
	ids, statuses := make([]string, n), make([]string, n)
	executed, completed, missedUntil := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	durations, missedCounts := make([]*int64, n), make([]int64, n)
	errs, summaries, reasons := make([]*string, n), make([]*string, n), make([]*string, n)
	skipped, cancels := make([]bool, n), make([]bool, n)
	for i, a := range args {
		ids[i], statuses[i] = a[0].(string), a[1].(string)
		executed[i], completed[i] = timeArg(a[2]), timeArg(a[3])
		durations[i] = int64Arg(a[4])
		errs[i], summaries[i] = strArg(a[5]), strArg(a[6])
		skipped[i], reasons[i], cancels[i] = a[7].(bool), strArg(a[8]), a[9].(bool)
		missedUntil[i], missedCounts[i] = timeArg(a[10]), a[11].(int64)
	}
	// One statement for the batch, the ids in order (see StartExecutions
	// on the order of its locks).
	rows, err := tx.Query(ctx, `UPDATE executions e SET status = u.status, executed_at = coalesce(u.executed, e.executed_at), completed_at = u.completed,
			duration_ms = u.duration, error_message = u.err, summary = u.summary::jsonb, skipped = u.skipped, skip_reason = u.reason,
			cancel_requested = (e.cancel_requested OR u.cancel), missed_until = u.missed_until, missed_count = u.missed_count
		FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::text[], $7::text[], $8::boolean[],
			$9::text[], $10::boolean[], $11::timestamptz[], $12::integer[])
			AS u(id, status, executed, completed, duration, err, summary, skipped, reason, cancel, missed_until, missed_count)
		WHERE e.id = u.id AND e.status IN ('pending', 'running')
		RETURNING e.id`, ids, statuses, executed, completed, durations, errs, summaries, skipped, reasons, cancels, missedUntil, missedCounts)
	if err != nil {
		return nil, err
	}
	done, err := collect(rows, scanID)
	if err != nil {
		return nil, err
	}
	changed := make(map[string]bool, len(done))
	for _, id := range done {
		changed[id] = true
	}
	counts := make([]int64, n)
	for i, id := range ids {
		if changed[id] {
			counts[i] = 1
		}
	}
	return counts, nil
}

// finishRowsValues is finishRows in a few statements over VALUES lists
// (Dialect.ValuesFrom), the ids distinct.
func (s *Store) finishRowsValues(ctx context.Context, tx Tx, args [][]any) ([]int64, error) {
	changed := make(map[string]bool, len(args))
	err := eachValuesChunk(args, 12, func(values string, flat []any) error {
		rows, err := tx.Query(ctx, `UPDATE executions SET status = u.column2, executed_at = coalesce(u.column3, executions.executed_at),
				completed_at = u.column4, duration_ms = u.column5, error_message = u.column6, summary = u.column7, skipped = u.column8,
				skip_reason = u.column9, cancel_requested = (executions.cancel_requested OR u.column10), missed_until = u.column11,
				missed_count = u.column12
			FROM `+values+` WHERE executions.id = u.column1 AND executions.status IN ('pending', 'running')
			RETURNING id`, flat...)
		if err != nil {
			return err
		}
		done, err := collect(rows, scanID)
		for _, id := range done {
			changed[id] = true
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	counts := make([]int64, len(args))
	for i, a := range args {
		if changed[a[0].(string)] {
			counts[i] = 1
		}
	}
	return counts, nil
}

// distinctFirst reports whether no two argument lists share their first
// argument (the row's id). One statement over arrays changes a row once,
// whichever element it joins, where one statement per element applies
// them in turn; so lists naming a row twice go one statement each.
func distinctFirst(args [][]any) bool {
	seen := make(map[any]bool, len(args))
	for _, a := range args {
		if seen[a[0]] {
			return false
		}
		seen[a[0]] = true
	}
	return true
}

// timeArg, strArg and int64Arg turn an argument built for one row (nil
// for NULL) into an element of an array parameter.
func timeArg(v any) *time.Time {
	if t, ok := v.(time.Time); ok {
		return &t
	}
	return nil
}

func strArg(v any) *string {
	if x, ok := v.(string); ok {
		return &x
	}
	return nil
}

func int64Arg(v any) *int64 {
	if x, ok := v.(int64); ok {
		return &x
	}
	return nil
}

// Heartbeat refreshes the executions instanceID holds and returns those it
// must stop: cancellation requested, or no longer held by it (finished
// elsewhere, say by the reaper, or released and claimed by another). It
// never waits for a row another transaction has locked: that row keeps
// its heartbeat until the next call.
func (s *Store) Heartbeat(ctx context.Context, instanceID string, ids []string) ([]string, error) {
	ids = normIDs(ids)
	out := []string{}
	if len(ids) == 0 {
		return out, nil
	}
	err := s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		list := s.d.IDList(ids)
		// Rows another transaction holds are left for the next heartbeat
		// (on PostgreSQL; SQLite has one writer): they are this
		// instance's own rows being started or finished by its writer,
		// and waiting for them made heartbeat and writer wait for each
		// other, and deadlock, under load, until the heartbeats timed out
		// and the reaper took every claim away (the cluster stall). The
		// lease is several heartbeats long, so one skipped round costs
		// nothing.
		if _, err := tx.Exec(ctx, `UPDATE executions SET heartbeat_at = $2 WHERE id IN (SELECT id FROM executions WHERE `+s.d.InIDs("id", 1)+
			` AND instance_id = $3 AND status IN ('pending', 'running') ORDER BY id`+s.d.LockSkip+`)`, list, s.t(now), instanceID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM executions WHERE `+s.d.InIDs("id", 1)+`
			AND instance_id = $2 AND status IN ('pending', 'running') AND cancel_requested = FALSE`, list, instanceID)
		if err != nil {
			return err
		}
		held, err := collect(rows, scanID)
		if err != nil {
			return err
		}
		keep := make(map[string]bool, len(held))
		for _, id := range held {
			keep[id] = true
		}
		for _, id := range ids {
			if !keep[id] {
				out = append(out, id)
			}
		}
		sort.Strings(out)
		return nil
	})
	return out, err
}

// StaleExecutions returns running or claimed executions whose last
// heartbeat (or, if they never had one, creation) is before before.
func (s *Store) StaleExecutions(ctx context.Context, before time.Time, limit int) ([]*geoetl.Execution, error) {
	var out []*geoetl.Execution
	err := s.read(ctx, "", func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+executionCols+` FROM executions
			WHERE status IN ('pending', 'running') AND instance_id IS NOT NULL AND coalesce(heartbeat_at, created_at) < $1
			ORDER BY coalesce(heartbeat_at, created_at), id LIMIT $2`, s.t(before), int64(limit))
		if err != nil {
			return err
		}
		out, err = collect(rows, scanExecution)
		return err
	})
	return out, err
}

// ReleaseClaims returns claimed, unstarted executions to the pool.
func (s *Store) ReleaseClaims(ctx context.Context, ids []string) error {
	ids = normIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, "", func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE executions SET instance_id = NULL, heartbeat_at = NULL WHERE `+s.d.InIDs("id", 1)+` AND status = 'pending'`,
			s.d.IDList(ids))
		return err
	})
}

// AppendNodeRuns records node runs; a node recorded again for the same
// execution is updated in place, so a runner can report progress.
func (s *Store) AppendNodeRuns(ctx context.Context, nodes []*geoetl.NodeRun) error {
	if len(nodes) == 0 {
		return nil
	}
	args := make([][]any, 0, len(nodes))
	for _, n := range nodes {
		id, ok := normID(n.ExecutionID)
		if !ok {
			return geoetl.NotFound("Execution")
		}
		n.ExecutionID, n.StartedAt, n.CompletedAt = id, microp(n.StartedAt), microp(n.CompletedAt)
		args = append(args, []any{id, n.NodeID, n.NodeType, n.Status, s.tp(n.StartedAt), s.tp(n.CompletedAt), nullInt64(n.DurationMs),
			n.FeaturesIn, n.FeaturesOut, nullStr(n.Error)})
	}
	return s.write(ctx, "", func(tx Tx) error {
		_, err := tx.ExecBatch(ctx, `INSERT INTO execution_nodes (execution_id, tenant_id, node_id, node_type, status, started_at, completed_at,
			duration_ms, features_in, features_out, error)
			VALUES ($1, (SELECT tenant_id FROM executions WHERE id = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (execution_id, node_id) DO UPDATE SET node_type = excluded.node_type, status = excluded.status,
			started_at = excluded.started_at, completed_at = excluded.completed_at, duration_ms = excluded.duration_ms,
			features_in = excluded.features_in, features_out = excluded.features_out, error = excluded.error`, args)
		return err
	})
}

// AppendLogs appends log lines. Lines without a sequence number get the
// next ones of their execution (and the caller's entries are updated);
// a line whose number exists already is ignored, so a retried batch does
// not double.
func (s *Store) AppendLogs(ctx context.Context, logs []*geoetl.LogEntry) error {
	if len(logs) == 0 {
		return nil
	}
	return s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		next := map[string]int64{}
		args := make([][]any, 0, len(logs))
		for _, l := range logs {
			id, ok := normID(l.ExecutionID)
			if !ok {
				return geoetl.NotFound("Execution")
			}
			l.ExecutionID = id
			if l.Seq == 0 {
				n, ok := next[id]
				if !ok {
					if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM execution_logs WHERE execution_id = $1`, id).Scan(&n); err != nil {
						return err
					}
				}
				n++
				next[id] = n
				l.Seq = n
			} else if l.Seq > next[id] {
				next[id] = l.Seq
			}
			if l.At.IsZero() {
				l.At = now
			}
			l.At = micro(l.At)
			args = append(args, []any{id, l.Seq, s.t(l.At), l.Level, l.NodeID, l.Message})
		}
		_, err = tx.ExecBatch(ctx, `INSERT INTO execution_logs (execution_id, tenant_id, seq, at, level, node_id, message)
			VALUES ($1, (SELECT tenant_id FROM executions WHERE id = $1), $2, $3, $4, $5, $6)
			ON CONFLICT (execution_id, seq) DO NOTHING`, args)
		return err
	})
}

// SetScheduleStatus changes status and reason without a new version;
// statuses other than active clear the next run.
func (s *Store) SetScheduleStatus(ctx context.Context, tenantID, id string, status geoetl.ScheduleStatus, reason *string) error {
	if !status.Valid() {
		return invalidField("status", "must be one of active, paused, expired, error")
	}
	tid, ok1 := normID(tenantID)
	sid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return geoetl.NotFound("Schedule")
	}
	q := `UPDATE schedules SET status = $3, status_reason = $4, next_run_at = NULL WHERE id = $1 AND tenant_id = $2`
	if status == geoetl.StatusActive {
		q = `UPDATE schedules SET status = $3, status_reason = $4 WHERE id = $1 AND tenant_id = $2`
	}
	return s.write(ctx, tid, func(tx Tx) error {
		n, err := tx.Exec(ctx, q, sid, tid, string(status), nullStr(reason))
		if err == nil && n == 0 {
			return geoetl.NotFound("Schedule")
		}
		return err
	})
}

// ExpiredSchedules returns active schedules whose expiry is at or before
// now, of every tenant.
func (s *Store) ExpiredSchedules(ctx context.Context, now time.Time, limit int) ([]*geoetl.Schedule, error) {
	var out []*geoetl.Schedule
	err := s.read(ctx, "", func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+scheduleCols+` FROM schedules
			WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2`, s.t(now), int64(limit))
		if err != nil {
			return err
		}
		out, err = collect(rows, scanSchedule)
		return err
	})
	return out, err
}

// DeleteFinishedExecutionsBefore deletes up to limit finished executions
// completed (or, without a completion time, created) before t; their
// nodes, logs and deliveries go with them through the foreign keys.
func (s *Store) DeleteFinishedExecutionsBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	var n int64
	err := s.write(ctx, "", func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM executions WHERE id IN (SELECT id FROM executions
			WHERE status IN ('completed', 'failed', 'skipped', 'cancelled') AND coalesce(completed_at, created_at) < $1
			ORDER BY coalesce(completed_at, created_at) LIMIT $2)`, s.t(t), int64(limit))
		return err
	})
	return int(n), err
}
