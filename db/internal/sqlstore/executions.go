package sqlstore

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
)

const executionCols = `id, tenant_id, schedule_id, workflow_id, workflow_run_id, scheduled_at, due_at, trigger_type, status,
	executed_at, completed_at, duration_ms, retry_count, retry_of, error_message, skipped, skip_reason, instance_id,
	parameter_values, summary, forced, heartbeat_at, cancel_requested, created_at, created_by, wait_reason, missed_until, missed_count`

const executionWidth = 28

func executionDest(e *geoetl.Execution) []any {
	return []any{str(&e.ID), str(&e.TenantID), strp(&e.ScheduleID), str(&e.WorkflowID), &e.WorkflowRunID, ts(&e.ScheduledAt), ts(&e.DueAt),
		&e.Trigger, &e.Status, tsp(&e.ExecutedAt), tsp(&e.CompletedAt), int64p(&e.DurationMs), &e.RetryCount, strp(&e.RetryOf),
		strp(&e.ErrorMessage), &e.Skipped, strp(&e.SkipReason), strp(&e.InstanceID), jsonInto(&e.ParameterValues), jsonInto(&e.Summary),
		&e.Force, tsp(&e.HeartbeatAt), &e.CancelRequested, ts(&e.CreatedAt), &e.CreatedBy, strp(&e.WaitReason), tsp(&e.MissedUntil), &e.MissedCount}
}

func scanExecution(r Row) (*geoetl.Execution, error) {
	e := &geoetl.Execution{}
	if err := r.Scan(executionDest(e)...); err != nil {
		return nil, err
	}
	if e.ParameterValues == nil {
		e.ParameterValues = map[string]any{}
	}
	if e.Status != geoetl.ExecPending {
		e.WaitReason = nil // it waits no more (cancelled while waiting, say)
	}
	return e, nil
}

func invalidField(field, msg string) error {
	return &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{field: {msg}}}
}

// prepareExecution fills in the defaults of a new execution, normalises
// its ids and times, and returns the values of executionCols.
func (s *Store) prepareExecution(e *geoetl.Execution, now time.Time) ([]any, error) {
	id, err := newID(e.ID)
	if err != nil {
		return nil, err
	}
	tid, ok := normID(e.TenantID)
	if !ok {
		return nil, geoetl.NotFound("Tenant")
	}
	wid, ok := normID(e.WorkflowID)
	if !ok {
		return nil, invalidField("workflowId", "must be a UUID")
	}
	e.ID, e.TenantID, e.WorkflowID = id, tid, wid
	if e.ScheduleID != nil {
		sid, ok := normID(*e.ScheduleID)
		if !ok {
			return nil, invalidField("scheduleId", "must be a UUID")
		}
		e.ScheduleID = &sid
	}
	if e.RetryOf != nil {
		rid, ok := normID(*e.RetryOf)
		if !ok {
			return nil, invalidField("retryOf", "must be a UUID")
		}
		e.RetryOf = &rid
	}
	if e.Trigger == "" {
		e.Trigger = geoetl.TriggerManual
	}
	if !e.Trigger.Valid() {
		return nil, invalidField("trigger", "is not a known trigger")
	}
	if e.Status == "" {
		e.Status = geoetl.ExecPending
	}
	if !e.Status.Valid() {
		return nil, invalidField("status", "is not a known status")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
	if e.ScheduledAt.IsZero() {
		e.ScheduledAt = e.CreatedAt
	}
	if e.DueAt.IsZero() {
		e.DueAt = e.ScheduledAt
	}
	if e.ParameterValues == nil {
		e.ParameterValues = map[string]any{}
	}
	e.CreatedAt, e.ScheduledAt, e.DueAt = micro(e.CreatedAt), micro(e.ScheduledAt), micro(e.DueAt)
	e.ExecutedAt, e.CompletedAt, e.HeartbeatAt, e.MissedUntil = microp(e.ExecutedAt), microp(e.CompletedAt), microp(e.HeartbeatAt), microp(e.MissedUntil)
	if err := checkMissed(e); err != nil {
		return nil, err
	}
	params, err := jsonArg(e.ParameterValues)
	if err != nil {
		return nil, invalidField("parameterValues", "cannot be stored as JSON")
	}
	var summary any
	if e.Summary != nil {
		if summary, err = jsonArg(e.Summary); err != nil {
			return nil, invalidField("summary", "cannot be stored as JSON")
		}
	}
	return []any{e.ID, e.TenantID, nullStr(e.ScheduleID), e.WorkflowID, e.WorkflowRunID, s.t(e.ScheduledAt), s.t(e.DueAt), string(e.Trigger), string(e.Status),
		s.tp(e.ExecutedAt), s.tp(e.CompletedAt), nullInt64(e.DurationMs), int64(e.RetryCount), nullStr(e.RetryOf), nullStr(e.ErrorMessage), e.Skipped,
		nullStr(e.SkipReason), nullStr(e.InstanceID), params, summary, e.Force, s.tp(e.HeartbeatAt), e.CancelRequested, s.t(e.CreatedAt), e.CreatedBy, nullStr(e.WaitReason),
		s.tp(e.MissedUntil), int64(e.MissedCount)}, nil
}

// checkMissed refuses a miss range that cannot be true: a count below
// zero, or a range that ends before it begins or holds one occurrence
// with a count above one.
func checkMissed(e *geoetl.Execution) error {
	switch {
	case e.MissedCount < 0:
		return invalidField("missedCount", "must not be negative")
	case e.MissedUntil != nil && e.MissedUntil.Before(e.ScheduledAt):
		return invalidField("missedUntil", "must not be before scheduledAt")
	case e.MissedCount > 1 && (e.MissedUntil == nil || !e.MissedUntil.After(e.ScheduledAt)):
		return invalidField("missedUntil", "must be after scheduledAt when more than one occurrence was missed")
	}
	return nil
}

func occurrenceTaken(e *geoetl.Execution) [2]string {
	return [2]string{"", "An execution of this schedule for " + e.ScheduledAt.Format(time.RFC3339) + " exists already."}
}

// CreateExecution inserts one execution.
func (s *Store) CreateExecution(ctx context.Context, e *geoetl.Execution) error {
	tid, ok := normID(e.TenantID)
	if !ok {
		return geoetl.NotFound("Tenant")
	}
	return s.write(ctx, tid, func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		args, err := s.prepareExecution(e, now)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO executions (`+executionCols+`) VALUES `+placeholders(1, executionWidth, 0), args...)
		return s.uniqueConflict(err, occurrenceTaken(e))
	})
}

// FindExecutionByID finds an execution of the tenant.
func (s *Store) FindExecutionByID(ctx context.Context, tenantID, id string) (*geoetl.Execution, error) {
	tid, ok1 := normID(tenantID)
	eid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Execution")
	}
	var e *geoetl.Execution
	err := s.read(ctx, tid, func(tx Tx) error {
		var err error
		e, err = s.findExecution(ctx, tx, tid, eid, "")
		return err
	})
	return e, err
}

func (s *Store) findExecution(ctx context.Context, tx Tx, tid, id, lock string) (*geoetl.Execution, error) {
	e, err := scanExecution(tx.QueryRow(ctx, `SELECT `+executionCols+` FROM executions WHERE id = $1 AND tenant_id = $2`+lock, id, tid))
	if isNoRows(err) {
		return nil, geoetl.NotFound("Execution")
	}
	return e, err
}

// FindExecutions lists a tenant's executions, newest occurrence first.
func (s *Store) FindExecutions(ctx context.Context, f geoetl.ExecutionFilter) ([]*geoetl.Execution, int, string, error) {
	empty := []*geoetl.Execution{}
	tid, ok := normID(f.TenantID)
	if !ok {
		return empty, 0, "", nil
	}
	page := f.Page.Normalize()
	var c cursor
	if page.Cursor != "" {
		var err error
		if c, err = decodeCursor(page.Cursor, "execution"); err != nil {
			return nil, 0, "", err
		}
	}
	w := &where{}
	if f.ScheduleID != "" {
		sid, ok := normID(f.ScheduleID)
		if !ok {
			return empty, 0, "", nil
		}
		w.add(s.notIndexed("tenant_id")+" = $?", tid)
		w.add("schedule_id = $?", sid)
	} else {
		w.add("tenant_id = $?", tid)
	}
	if f.WorkflowID != "" {
		wid, ok := normID(f.WorkflowID)
		if !ok {
			return empty, 0, "", nil
		}
		w.add("workflow_id = $?", wid)
	}
	if f.Status != "" {
		w.add("status = $?", string(f.Status))
	}
	if f.Trigger != "" {
		w.add("trigger_type = $?", string(f.Trigger))
	}
	if f.Since != nil {
		w.add("scheduled_at >= $?", s.t(*f.Since))
	}
	if f.Until != nil {
		w.add("scheduled_at < $?", s.t(*f.Until))
	}
	var out []*geoetl.Execution
	var total int
	var next string
	err := s.read(ctx, tid, func(tx Tx) error {
		pw := w.clone()
		if page.Cursor != "" {
			pw.add("(scheduled_at, created_at, id) < ($?, $?, $?)", s.d.Time(timeFromMicros(*orZero(c.Time))), s.d.Time(timeFromMicros(c.T2)), c.ID)
		}
		rows, err := tx.Query(ctx, `SELECT `+executionCols+` FROM executions WHERE `+pw.sql()+
			` ORDER BY scheduled_at DESC, created_at DESC, id DESC`+pw.limit(page), pw.args...)
		if err != nil {
			return err
		}
		if out, err = collect(rows, scanExecution); err != nil {
			return err
		}
		if total, err = s.total(ctx, tx, "executions", w, page, len(out)); err != nil {
			return err
		}
		if len(out) > page.Limit {
			out = out[:page.Limit]
			last := out[len(out)-1]
			v := last.ScheduledAt.UnixMicro()
			next = cursor{Sort: "execution", Time: &v, T2: last.CreatedAt.UnixMicro(), ID: last.ID}.encode()
		}
		return nil
	})
	if err != nil {
		return nil, 0, "", err
	}
	return out, total, next, nil
}

// RequestCancel cancels a pending execution at once, or flags a running
// one so its instance stops it (Heartbeat reports the flag).
func (s *Store) RequestCancel(ctx context.Context, tenantID, id string) (*geoetl.Execution, error) {
	tid, ok1 := normID(tenantID)
	eid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Execution")
	}
	var e *geoetl.Execution
	err := s.write(ctx, tid, func(tx Tx) error {
		var err error
		if e, err = s.findExecution(ctx, tx, tid, eid, s.d.Lock); err != nil {
			return err
		}
		switch e.Status {
		case geoetl.ExecPending:
			now, err := s.now(ctx, tx)
			if err != nil {
				return err
			}
			msg := geoetl.ErrorCancelledByUser
			e.Status, e.CancelRequested, e.CompletedAt, e.ErrorMessage = geoetl.ExecCancelled, true, &now, &msg
			_, err = tx.Exec(ctx, `UPDATE executions SET status = 'cancelled', cancel_requested = TRUE, completed_at = $3, error_message = $4
				WHERE id = $1 AND tenant_id = $2`, eid, tid, s.t(now), msg)
			return err
		case geoetl.ExecRunning:
			e.CancelRequested = true
			_, err := tx.Exec(ctx, `UPDATE executions SET cancel_requested = TRUE WHERE id = $1 AND tenant_id = $2`, eid, tid)
			return err
		}
		return geoetl.Errorf(geoetl.ECONFLICT, "The execution has already finished (%s).", e.Status)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// checkExecution makes sure the execution exists in the tenant.
func (s *Store) checkExecution(ctx context.Context, tx Tx, tid, eid string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM executions WHERE id = $1 AND tenant_id = $2`, eid, tid).Scan(&one)
	if isNoRows(err) {
		return geoetl.NotFound("Execution")
	}
	return err
}

const nodeCols = `execution_id, node_id, node_type, status, started_at, completed_at, duration_ms, features_in, features_out, error`

// ExecutionNodes lists the node records of an execution in start order.
func (s *Store) ExecutionNodes(ctx context.Context, tenantID, executionID string) ([]*geoetl.NodeRun, error) {
	tid, ok1 := normID(tenantID)
	eid, ok2 := normID(executionID)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Execution")
	}
	var out []*geoetl.NodeRun
	err := s.read(ctx, tid, func(tx Tx) error {
		if err := s.checkExecution(ctx, tx, tid, eid); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+nodeCols+` FROM execution_nodes WHERE execution_id = $1 AND tenant_id = $2
			ORDER BY started_at ASC NULLS LAST, node_id`, eid, tid)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r Row) (*geoetl.NodeRun, error) {
			n := &geoetl.NodeRun{}
			err := r.Scan(str(&n.ExecutionID), &n.NodeID, &n.NodeType, &n.Status, tsp(&n.StartedAt), tsp(&n.CompletedAt),
				int64p(&n.DurationMs), &n.FeaturesIn, &n.FeaturesOut, strp(&n.Error))
			return n, err
		})
		return err
	})
	return out, err
}

// Bounds of one read of an execution's log.
const (
	defaultLogLimit = 1000
	maxLogLimit     = 10000
)

// ExecutionLogs returns log lines after afterSeq, in order.
func (s *Store) ExecutionLogs(ctx context.Context, tenantID, executionID string, afterSeq int64, limit int) ([]*geoetl.LogEntry, error) {
	tid, ok1 := normID(tenantID)
	eid, ok2 := normID(executionID)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Execution")
	}
	if limit <= 0 {
		limit = defaultLogLimit
	}
	limit = min(limit, maxLogLimit)
	var out []*geoetl.LogEntry
	err := s.read(ctx, tid, func(tx Tx) error {
		if err := s.checkExecution(ctx, tx, tid, eid); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT execution_id, seq, at, level, node_id, message FROM execution_logs
			WHERE execution_id = $1 AND tenant_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`, eid, tid, afterSeq, int64(limit))
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r Row) (*geoetl.LogEntry, error) {
			l := &geoetl.LogEntry{}
			err := r.Scan(str(&l.ExecutionID), &l.Seq, ts(&l.At), &l.Level, &l.NodeID, &l.Message)
			return l, err
		})
		return err
	})
	return out, err
}

// maxStatsHours bounds RunsByHour to the most recent hours of the window.
const maxStatsHours = 31 * 24

// ExecutionStats aggregates a tenant's (or one schedule's) executions
// whose occurrence is at or after since. Durations are those of completed
// and failed runs; the p95 is the nearest-rank percentile.
func (s *Store) ExecutionStats(ctx context.Context, tenantID, scheduleID string, since time.Time) (*geoetl.ExecutionStats, error) {
	st := &geoetl.ExecutionStats{ByStatus: map[geoetl.ExecutionStatus]int{}}
	for _, x := range []geoetl.ExecutionStatus{geoetl.ExecPending, geoetl.ExecRunning, geoetl.ExecCompleted, geoetl.ExecFailed, geoetl.ExecSkipped, geoetl.ExecCancelled} {
		st.ByStatus[x] = 0
	}
	tid, ok := normID(tenantID)
	if !ok {
		return st, nil
	}
	w := &where{}
	if scheduleID != "" {
		sid, ok := normID(scheduleID)
		if !ok {
			return st, nil
		}
		w.add(s.notIndexed("tenant_id")+" = $?", tid)
		w.add("schedule_id = $?", sid)
	} else {
		w.add("tenant_id = $?", tid)
	}
	w.add("scheduled_at >= $?", s.t(since))
	const timed = `status IN ('completed', 'failed') AND duration_ms IS NOT NULL`
	err := s.read(ctx, tid, func(tx Tx) error {
		// Occurrences, not rows: a miss record counts every occurrence
		// it stands for.
		rows, err := tx.Query(ctx, `SELECT status, CAST(sum(CASE WHEN missed_count > 1 THEN missed_count ELSE 1 END) AS BIGINT),
			CAST(sum(CASE WHEN `+timed+` THEN duration_ms ELSE 0 END) AS BIGINT),
			CAST(sum(CASE WHEN `+timed+` THEN 1 ELSE 0 END) AS BIGINT),
			CAST(sum(missed_count) AS BIGINT) FROM executions WHERE `+w.sql()+` GROUP BY status`, w.args...)
		if err != nil {
			return err
		}
		var sumMs, nTimed int64
		_, err = collect(rows, func(r Row) (struct{}, error) {
			var status geoetl.ExecutionStatus
			var n, sum, cnt, missed int64
			if err := r.Scan(&status, &n, &sum, &cnt, &missed); err != nil {
				return struct{}{}, err
			}
			st.Missed += int(missed)
			st.ByStatus[status] = int(n)
			st.Total += int(n)
			sumMs += sum
			nTimed += cnt
			return struct{}{}, nil
		})
		if err != nil {
			return err
		}
		if done := st.ByStatus[geoetl.ExecCompleted] + st.ByStatus[geoetl.ExecFailed]; done > 0 {
			rate := float64(st.ByStatus[geoetl.ExecCompleted]) / float64(done)
			st.SuccessRate = &rate
		}
		if nTimed > 0 {
			avg := float64(sumMs) / float64(nTimed)
			st.AvgDurationMs = &avg
			k := int64(math.Ceil(0.95*float64(nTimed))) - 1
			var p95 int64
			if err := tx.QueryRow(ctx, `SELECT duration_ms FROM executions WHERE `+w.sql()+` AND `+timed+
				` ORDER BY duration_ms LIMIT 1 OFFSET `+strconv.Itoa(int(k)), w.args...).Scan(&p95); err != nil {
				return err
			}
			st.P95DurationMs = &p95
		}
		var last geoetl.Execution
		err = tx.QueryRow(ctx, `SELECT executed_at, status FROM executions WHERE `+w.sql()+` AND executed_at IS NOT NULL
			ORDER BY executed_at DESC LIMIT 1`, w.args...).Scan(tsp(&last.ExecutedAt), &last.Status)
		if err == nil {
			st.LastRunAt, st.LastRunStatus = last.ExecutedAt, &last.Status
		} else if !isNoRows(err) {
			return err
		}
		bucket := s.d.HourBucket("executed_at")
		rows, err = tx.Query(ctx, `SELECT `+bucket+` AS hour,
			CAST(sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS BIGINT),
			CAST(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS BIGINT),
			CAST(sum(CASE WHEN status NOT IN ('completed', 'failed') THEN 1 ELSE 0 END) AS BIGINT)
			FROM executions WHERE `+w.sql()+` AND executed_at IS NOT NULL GROUP BY `+bucket+` ORDER BY hour DESC LIMIT `+strconv.Itoa(maxStatsHours), w.args...)
		if err != nil {
			return err
		}
		hours, err := collect(rows, func(r Row) (geoetl.HourCount, error) {
			var h geoetl.HourCount
			var c, f, o int64
			err := r.Scan(ts(&h.Hour), &c, &f, &o)
			h.Completed, h.Failed, h.Other = int(c), int(f), int(o)
			return h, err
		})
		if err != nil {
			return err
		}
		sort.Slice(hours, func(i, j int) bool { return hours[i].Hour.Before(hours[j].Hour) })
		if len(hours) > 0 {
			st.RunsByHour = hours
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// placeholderList returns "$a,$b,..." for n arguments numbered from start+1.
func placeholderList(n, start int) string {
	p := placeholders(1, n, start)
	return strings.TrimSuffix(strings.TrimPrefix(p, "("), ")")
}

// notIndexed is col in a condition the planner must not use an index for
// (Dialect.NotIndexed): a schedule's executions are read through the
// schedule's index, not the tenant's.
func (s *Store) notIndexed(col string) string {
	if s.d.NotIndexed == nil {
		return col
	}
	return s.d.NotIndexed(col)
}
