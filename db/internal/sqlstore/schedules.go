package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
)

const scheduleCols = `id, tenant_id, workflow_id, name, description, cron_expression, timezone, enabled, status, status_reason,
	parameter_values, tags, max_concurrent_executions, overlap_policy, misfire_policy, catchup_window_minutes,
	retry_attempts, retry_delay_minutes, retry_backoff, max_retry_delay_minutes, timeout_minutes, expires_at,
	notification_config, next_run_at, last_run_at, last_run_status, last_run_id,
	created_at, created_by, updated_at, updated_by, version`

// scheduleDest returns the scan destinations of scheduleCols for x.
func scheduleDest(x *geoetl.Schedule) []any {
	return []any{str(&x.ID), str(&x.TenantID), str(&x.WorkflowID), &x.Name, &x.Description, &x.CronExpression, &x.Timezone,
		&x.Enabled, &x.Status, strpT(&x.StatusReason), jsonInto(&x.ParameterValues), jsonInto(&x.Tags),
		&x.MaxConcurrentExecutions, &x.OverlapPolicy, &x.MisfirePolicy, &x.CatchupWindowMinutes,
		&x.RetryAttempts, &x.RetryDelayMinutes, &x.RetryBackoff, &x.MaxRetryDelayMinutes, intp(&x.TimeoutMinutes), tsp(&x.ExpiresAt),
		jsonInto(&x.NotificationConfig), tsp(&x.NextRunAt), tsp(&x.LastRunAt), strpT(&x.LastRunStatus), strp(&x.LastRunID),
		ts(&x.CreatedAt), &x.CreatedBy, ts(&x.UpdatedAt), &x.UpdatedBy, &x.Version}
}

func scanSchedule(r Row) (*geoetl.Schedule, error) {
	x := &geoetl.Schedule{}
	if err := r.Scan(scheduleDest(x)...); err != nil {
		return nil, err
	}
	fixSchedule(x)
	return x, nil
}

// fixSchedule makes empty collections non-nil, so every schedule reads the
// same whichever way it was stored.
func fixSchedule(x *geoetl.Schedule) {
	if x.ParameterValues == nil {
		x.ParameterValues = map[string]any{}
	}
	if x.Tags == nil {
		x.Tags = []string{}
	}
	if x.NotificationConfig.EmailAddresses == nil {
		x.NotificationConfig.EmailAddresses = []string{}
	}
	if x.NotificationConfig.WebhookURLs == nil {
		x.NotificationConfig.WebhookURLs = []string{}
	}
}

// scheduleArgs returns the values of every written column, in the order of
// the INSERT below: scheduleCols, then name_lc and search_lc.
func (s *Store) scheduleArgs(x *geoetl.Schedule) ([]any, error) {
	fixSchedule(x)
	params, err := jsonArg(x.ParameterValues)
	if err != nil {
		return nil, geoetl.Errorf(geoetl.EINVALID, "parameterValues cannot be stored as JSON: %v", err)
	}
	tags, err := jsonArg(x.Tags)
	if err != nil {
		return nil, err
	}
	notif, err := jsonArg(x.NotificationConfig)
	if err != nil {
		return nil, err
	}
	var lastStatus *string
	if x.LastRunStatus != nil {
		v := string(*x.LastRunStatus)
		lastStatus = &v
	}
	var lastID any
	if x.LastRunID != nil {
		if id, ok := normID(*x.LastRunID); ok {
			lastID = id
		}
	}
	return []any{x.ID, x.TenantID, x.WorkflowID, x.Name, x.Description, x.CronExpression, x.Timezone, x.Enabled, string(x.Status), nullStr(x.StatusReason),
		params, tags, int64(x.MaxConcurrentExecutions), string(x.OverlapPolicy), string(x.MisfirePolicy), int64(x.CatchupWindowMinutes),
		int64(x.RetryAttempts), int64(x.RetryDelayMinutes), string(x.RetryBackoff), int64(x.MaxRetryDelayMinutes), nullInt(x.TimeoutMinutes), s.tp(x.ExpiresAt),
		notif, s.tp(x.NextRunAt), s.tp(x.LastRunAt), nullStr(lastStatus), lastID,
		s.t(x.CreatedAt), x.CreatedBy, s.t(x.UpdatedAt), x.UpdatedBy, int64(x.Version),
		strings.ToLower(x.Name), searchText(x.Name, x.Description)}, nil
}

// normalizeScheduleTimes brings every time of x to the stored precision, so
// the object the caller holds equals what a later read returns.
func normalizeScheduleTimes(x *geoetl.Schedule) {
	x.CreatedAt, x.UpdatedAt = micro(x.CreatedAt), micro(x.UpdatedAt)
	x.ExpiresAt, x.NextRunAt, x.LastRunAt = microp(x.ExpiresAt), microp(x.NextRunAt), microp(x.LastRunAt)
}

func scheduleNameTaken(name string) [2]string {
	return [2]string{"", "A schedule named \"" + name + "\" already exists."}
}

func workflowNotFound() error {
	return &geoetl.Error{Code: geoetl.ENOTFOUND, Message: "Workflow not found.", Fields: map[string][]string{"workflowId": {"workflow not found"}}}
}

// checkWorkflow makes sure workflowID names a workflow of the tenant.
func (s *Store) checkWorkflow(ctx context.Context, tx Tx, tid, workflowID string) error {
	wid, ok := normID(workflowID)
	if !ok {
		return workflowNotFound()
	}
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM workflows WHERE id = $1 AND tenant_id = $2`, wid, tid).Scan(&one)
	if isNoRows(err) {
		return workflowNotFound()
	}
	return err
}

// CreateSchedule stores a schedule as version 1.
func (s *Store) CreateSchedule(ctx context.Context, x *geoetl.Schedule) error {
	return s.CreateScheduleCapped(ctx, x, 0)
}

// CreateScheduleCapped is CreateSchedule refusing, in the same write
// transaction, a schedule that would give the tenant more than max (when
// max > 0). The tenant's row is locked first on PostgreSQL (SQLite's
// single writer serialises the rest), so two creations at once never both
// take the last place.
func (s *Store) CreateScheduleCapped(ctx context.Context, x *geoetl.Schedule, max int) error {
	id, err := newID(x.ID)
	if err != nil {
		return err
	}
	tid, ok := tenantID(x.TenantID)
	if !ok {
		return geoetl.NotFound("Tenant")
	}
	return s.write(ctx, tid, func(tx Tx) error {
		if max > 0 {
			if err := s.checkScheduleRoom(ctx, tx, tid, max); err != nil {
				return err
			}
		}
		if err := s.checkWorkflow(ctx, tx, tid, x.WorkflowID); err != nil {
			return err
		}
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		x.ID, x.TenantID, x.WorkflowID, x.Version = id, tid, strings.ToLower(x.WorkflowID), 1
		if x.CreatedAt.IsZero() {
			x.CreatedAt = now
		}
		if x.UpdatedAt.IsZero() {
			x.UpdatedAt = x.CreatedAt
		}
		if x.UpdatedBy == "" {
			x.UpdatedBy = x.CreatedBy
		}
		normalizeScheduleTimes(x)
		args, err := s.scheduleArgs(x)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO schedules (`+scheduleCols+`, name_lc, search_lc) VALUES `+placeholders(1, len(args), 0), args...)
		if err != nil {
			return s.uniqueConflict(err, scheduleNameTaken(x.Name))
		}
		return s.insertScheduleVersion(ctx, tx, x)
	})
}

// CreateSchedules stores a batch of schedules of one tenant in one
// transaction, each as CreateSchedule would, with the audit entries of
// those created. The result has one entry per schedule: nil when created,
// else why not (ECONFLICT, ENOTFOUND); a failed item does not stop the
// others. The error is for the batch as a whole (nothing was written).
//
// Rows go in as multi-row INSERTs, createChunk at a time, with their
// versions and audit entries likewise: a statement per row made SQLite
// flush the search index and journal the same pages once per row, which
// was most of an import's time. Where the dialect has a bulk path for the
// row triggers on schedules, their work is done once for the batch.
func (s *Store) CreateSchedules(ctx context.Context, list []*geoetl.Schedule, max int, audit func(*geoetl.Schedule) *geoetl.AuditEntry) ([]error, error) {
	if len(list) == 0 {
		return nil, nil
	}
	tid, ok := tenantID(list[0].TenantID)
	if !ok {
		return nil, geoetl.NotFound("Tenant")
	}
	for _, x := range list {
		if t, ok := tenantID(x.TenantID); !ok || t != tid {
			return nil, geoetl.Errorf(geoetl.EINVALID, "CreateSchedules: every schedule must be of one tenant")
		}
	}
	results := make([]error, len(list))
	err := s.write(ctx, tid, func(tx Tx) error {
		clear(results)
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		// One count for the batch, under the tenant lock that capped
		// creations take turns at.
		have := -1
		if max > 0 {
			n, err := s.lockAndCountSchedules(ctx, tx, tid)
			if err != nil {
				return err
			}
			have = n
		}
		b := &scheduleBatch{s: s, tx: tx, now: now, results: results, audit: audit}
		defer b.history.Wait()
		bulk := s.d.BulkScheduleInsert
		var floor int64
		if bulk != nil {
			if _, err := tx.Exec(ctx, bulk.Begin); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, bulk.Floor).Scan(&floor); err != nil {
				return err
			}
		}
		workflows := map[string]error{}
		for i, x := range list {
			// A queued row may still turn out to be a taken name, so the
			// queue is written before it could decide that an item is
			// over the limit.
			if have >= 0 && have+len(b.queue) >= max {
				n, err := b.flush(ctx)
				if err != nil {
					return err
				}
				have += n
				if have >= max {
					results[i] = geoetl.OverLimit(geoetl.LimitMaxSchedules, "the tenant has %d schedules and may have at most %d; delete some, or raise the limit (--tenant-max-schedules)", have, max)
					continue
				}
			}
			id, err := newID(x.ID)
			if err != nil {
				results[i] = err
				continue
			}
			wfErr, seen := workflows[strings.ToLower(x.WorkflowID)]
			if !seen {
				wfErr = s.checkWorkflow(ctx, tx, tid, x.WorkflowID)
				if wfErr != nil && !geoetl.IsNotFound(wfErr) {
					return wfErr
				}
				workflows[strings.ToLower(x.WorkflowID)] = wfErr
			}
			if wfErr != nil {
				results[i] = wfErr
				continue
			}
			x.ID, x.TenantID, x.WorkflowID, x.Version = id, tid, strings.ToLower(x.WorkflowID), 1
			if x.CreatedAt.IsZero() {
				x.CreatedAt = now
			}
			if x.UpdatedAt.IsZero() {
				x.UpdatedAt = x.CreatedAt
			}
			if x.UpdatedBy == "" {
				x.UpdatedBy = x.CreatedBy
			}
			normalizeScheduleTimes(x)
			args, err := s.scheduleArgs(x)
			if err != nil {
				results[i] = err
				continue
			}
			b.queue = append(b.queue, queuedSchedule{i: i, x: x, args: args})
			if len(b.queue) >= createChunk {
				n, err := b.flush(ctx)
				if err != nil {
					return err
				}
				if have >= 0 {
					have += n
				}
			}
		}
		if _, err := b.flush(ctx); err != nil {
			return err
		}
		if bulk != nil {
			for _, q := range bulk.Finish {
				if _, err := tx.Exec(ctx, q, floor, tid); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, bulk.End); err != nil {
				return err
			}
		}
		return b.writeHistory(ctx)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// createChunk is how many schedules one INSERT of CreateSchedules
// carries: at 34 parameters a row, under both engines' limits on
// parameters per statement (32,766 on SQLite, 65,535 on PostgreSQL).
// SQLite journals each page a statement changes the first time that
// statement changes it, so fewer, larger statements journal less.
const createChunk = 900

type queuedSchedule struct {
	i    int // index in the batch
	x    *geoetl.Schedule
	args []any
}

// scheduleBatch is the write state of one CreateSchedules transaction.
type scheduleBatch struct {
	s       *Store
	tx      Tx
	now     time.Time
	results []error
	audit   func(*geoetl.Schedule) *geoetl.AuditEntry
	queue   []queuedSchedule
	created []*geoetl.Schedule // in the order of the batch
	// The first versions and audit entries of each flush's schedules,
	// encoded on another goroutine while the transaction goes on: the
	// encoding is about a tenth of the batch's time, and the transaction
	// holds SQLite's one writer.
	history sync.WaitGroup
	rows    []*historyRows // one per flush that created schedules
}

// historyRows are the rows writeHistory inserts for some schedules.
type historyRows struct {
	versions, entries [][]any
	err               error
}

// flush inserts the queued schedules, marks each one whose name (or id)
// was taken, and returns how many it created.
func (b *scheduleBatch) flush(ctx context.Context) (int, error) {
	if len(b.queue) == 0 {
		return 0, nil
	}
	q := b.queue
	b.queue = b.queue[:0:0]
	width := len(q[0].args)
	args := make([]any, 0, len(q)*width)
	for _, r := range q {
		args = append(args, r.args...)
	}
	// DO NOTHING, not an error: on PostgreSQL a failed statement would
	// abort the whole batch. RETURNING names the rows that went in.
	rows, err := b.tx.Query(ctx, `INSERT INTO schedules (`+scheduleCols+`, name_lc, search_lc) VALUES `+placeholders(len(q), width, 0)+
		` ON CONFLICT DO NOTHING RETURNING id`, args...)
	if err != nil {
		return 0, err
	}
	inserted := make(map[string]bool, len(q))
	for rows.Next() {
		var id string
		if err := rows.Scan(str(&id)); err != nil {
			rows.Close()
			return 0, err
		}
		inserted[strings.ToLower(id)] = true
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, err
	}
	created := len(b.created)
	for _, r := range q {
		if !inserted[r.x.ID] {
			b.results[r.i] = geoetl.Errorf(geoetl.ECONFLICT, "%s", scheduleNameTaken(r.x.Name)[1])
			continue
		}
		// Two rows of one statement with the same id: only the first
		// went in.
		delete(inserted, r.x.ID)
		b.created = append(b.created, r.x)
	}
	if len(b.created) > created {
		h := &historyRows{}
		b.rows = append(b.rows, h)
		b.history.Add(1)
		go b.encodeHistory(h, b.created[created:])
	}
	return len(b.created) - created, nil
}

// encodeHistory encodes the first version and, when the batch audits, the
// audit entry of each schedule in list.
func (b *scheduleBatch) encodeHistory(h *historyRows, list []*geoetl.Schedule) {
	defer b.history.Done()
	defer func() {
		// A panic here would end the process.
		if v := recover(); v != nil {
			h.err = fmt.Errorf("encoding schedule history: %v", v)
		}
	}()
	h.versions = make([][]any, 0, len(list))
	for _, x := range list {
		args, err := b.s.scheduleVersionArgs(x)
		if err != nil {
			h.err = err
			return
		}
		h.versions = append(h.versions, args)
	}
	if b.audit == nil {
		return
	}
	h.entries = make([][]any, 0, len(list))
	for _, x := range list {
		a := b.audit(x)
		if a == nil {
			continue
		}
		args, err := b.s.auditArgs(b.now, a)
		if err != nil {
			h.err = err
			return
		}
		h.entries = append(h.entries, args)
	}
}

// writeHistory adds the first version of every created schedule and, when
// the batch audits, its audit entry, in multi-row INSERTs.
func (b *scheduleBatch) writeHistory(ctx context.Context) error {
	b.history.Wait()
	var versions, entries [][]any
	for _, h := range b.rows {
		if h.err != nil {
			return h.err
		}
		versions = append(versions, h.versions...)
		entries = append(entries, h.entries...)
	}
	if err := insertRows(ctx, b.tx, b.s.d.MaxParams, `INSERT INTO schedule_versions (schedule_id, tenant_id, version, snapshot, changed_by, changed_at) VALUES `, versions); err != nil {
		return err
	}
	return insertRows(ctx, b.tx, b.s.d.MaxParams, `INSERT INTO audit_log (`+auditCols+`) VALUES `, entries)
}

// insertRows inserts rows of equal width with prefix, as many a statement
// as the engine's limit on parameters (Dialect.MaxParams) allows.
func insertRows(ctx context.Context, tx Tx, maxParams int, prefix string, rows [][]any) error {
	for len(rows) > 0 {
		n := max(1, min(len(rows), maxParams/len(rows[0])))
		if _, err := tx.Exec(ctx, prefix+placeholders(n, len(rows[0]), 0), flatten(rows[:n])...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (s *Store) scheduleVersionArgs(x *geoetl.Schedule) ([]any, error) {
	snap, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return []any{x.ID, x.TenantID, int64(x.Version), string(snap), x.UpdatedBy, s.t(x.UpdatedAt)}, nil
}

func (s *Store) insertScheduleVersion(ctx context.Context, tx Tx, x *geoetl.Schedule) error {
	args, err := s.scheduleVersionArgs(x)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO schedule_versions (schedule_id, tenant_id, version, snapshot, changed_by, changed_at) VALUES ($1,$2,$3,$4,$5,$6)`, args...)
	return err
}

// FindScheduleByID finds a schedule of the tenant.
func (s *Store) FindScheduleByID(ctx context.Context, tenantID, id string) (*geoetl.Schedule, error) {
	tid, ok1 := normID(tenantID)
	sid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Schedule")
	}
	return s.findScheduleWhere(ctx, tid, `id = $1 AND tenant_id = $2`, sid, tid)
}

// FindScheduleByName finds a schedule of the tenant by its exact name.
func (s *Store) FindScheduleByName(ctx context.Context, tenantID, name string) (*geoetl.Schedule, error) {
	tid, ok := normID(tenantID)
	if !ok {
		return nil, geoetl.NotFound("Schedule")
	}
	return s.findScheduleWhere(ctx, tid, `name = $1 AND tenant_id = $2`, name, tid)
}

// FindScheduleIDsByName returns the ids of the tenant's schedules with the
// given exact names, by name; names without a schedule are left out.
func (s *Store) FindScheduleIDsByName(ctx context.Context, tenantID string, names []string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	tid, ok := normID(tenantID)
	if !ok || len(names) == 0 {
		return out, nil
	}
	err := s.read(ctx, tid, func(tx Tx) error {
		// One list argument, whatever the number of names: one statement
		// to prepare, under any limit on parameters.
		rows, err := tx.Query(ctx, `SELECT name, id FROM schedules WHERE tenant_id = $1 AND `+s.d.InTexts("name", 2), tid, s.d.IDList(names))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name, id string
			if err := rows.Scan(&name, str(&id)); err != nil {
				return err
			}
			out[name] = id
		}
		return rows.Err()
	})
	return out, err
}

func (s *Store) findScheduleWhere(ctx context.Context, tid, cond string, args ...any) (*geoetl.Schedule, error) {
	var x *geoetl.Schedule
	err := s.read(ctx, tid, func(tx Tx) error {
		var err error
		x, err = scanSchedule(tx.QueryRow(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE `+cond, args...))
		if isNoRows(err) {
			return geoetl.NotFound("Schedule")
		}
		return err
	})
	return x, err
}

// FindSchedules returns one page of a tenant's schedules, the total and the
// next cursor. Orders: name (case-insensitive, ascending), nextRunAt
// (soonest first, schedules that will not run last), updatedAt (most
// recently changed first); the id breaks ties.
func (s *Store) FindSchedules(ctx context.Context, f geoetl.ScheduleFilter) ([]*geoetl.Schedule, int, string, error) {
	if !f.Sort.Valid() {
		return nil, 0, "", &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{"sort": {"must be one of name, nextRunAt, updatedAt"}}}
	}
	tid, ok := normID(f.TenantID)
	if !ok {
		return []*geoetl.Schedule{}, 0, "", nil
	}
	sort := string(f.Sort)
	if sort == "" {
		sort = string(geoetl.SortByName)
	}
	page := f.Page.Normalize()
	var c cursor
	if page.Cursor != "" {
		var err error
		if c, err = decodeCursor(page.Cursor, "schedule."+sort); err != nil {
			return nil, 0, "", err
		}
	}
	w := &where{}
	w.add("tenant_id = $?", tid)
	if f.Status != "" {
		w.add("status = $?", string(f.Status))
	}
	if f.WorkflowID != "" {
		wid, ok := normID(f.WorkflowID)
		if !ok {
			return []*geoetl.Schedule{}, 0, "", nil
		}
		w.add("workflow_id = $?", wid)
	}
	if f.Tag != "" {
		cond, args := s.d.HasTag(f.Tag)
		w.add(cond, args...)
	}
	done, err := s.firstList(ctx, f, w, geoetl.ScheduleSort(sort), page)
	if err != nil {
		return nil, 0, "", err
	}
	if done != nil {
		defer done()
	}
	var out []*geoetl.Schedule
	var total int
	var next string
	err = s.read(ctx, tid, func(tx Tx) error {
		// w selects the rows the way this read is best served; exact is
		// the same filter without the trigram index's candidate keys,
		// which only narrow the rows to test (see scheduleTotal).
		w, from, exact := w.clone(), "schedules", w.clone()
		if f.Q != "" {
			s.addSearch(exact, f.Q, "search_lc")
			// A narrow search lists from the keys kept of its matches,
			// where the store keeps them.
			set, ok, err := s.searchMatches(ctx, tx, tid, strings.ToLower(f.Q), exact)
			for try := 0; ok && try < matchTries; try++ {
				var consistent bool
				if out, consistent, err = s.matchedPage(ctx, tx, set, exact, geoetl.ScheduleSort(sort), page, c, func(w *where) string {
					return s.scheduleOrder(w, geoetl.ScheduleSort(sort), page, c)
				}); err != nil {
					return err
				}
				if consistent {
					total = len(set.keys)
					out, next = scheduleNext(out, page, sort)
					return nil
				}
				set, ok, err = s.searchMatches(ctx, tx, tid, strings.ToLower(f.Q), exact)
			}
			if err != nil {
				return err
			}
			// A trigram index, where there is one, narrows the search to
			// a few candidate rows; the substring test decides.
			keys, n, indexed, err := s.scheduleSearchKeys(ctx, tx, tid, strings.ToLower(f.Q))
			if err != nil {
				return err
			}
			if indexed && n == 0 {
				out, total, next = []*geoetl.Schedule{}, 0, ""
				return nil
			}
			if indexed {
				from = s.d.SearchIndex.From
				w.add(s.d.SearchIndex.KeyIn, keys)
			}
			s.addSearch(w, f.Q, "search_lc")
		}
		pw := w.clone()
		order := s.scheduleOrder(pw, geoetl.ScheduleSort(sort), page, c)
		deferred := s.d.DeferOffset && page.Cursor == "" && page.Offset > 0 && from == "schedules" && len(pw.conds) == 1
		cond := pw.sql()
		lim := pw.limit(page)
		q := `SELECT ` + scheduleCols + `, name_lc FROM ` + from + ` WHERE ` + cond + ` ORDER BY ` + order + lim
		if deferred {
			// Only the tenant's condition ($1): the sort order's index holds
			// it, so the rows skipped are index entries, not rows read.
			q = `SELECT ` + scheduleCols + `, name_lc FROM schedules WHERE tenant_id = $1 AND id IN (SELECT id FROM schedules WHERE ` + cond +
				` ORDER BY ` + order + lim + `) ORDER BY ` + order
		}
		anchored := s.anchorable(geoetl.ScheduleSort(sort), page)
		var akey totalKey
		var ok bool
		var err error
		if anchored {
			akey = totalKey(fmt.Sprintf("%s %#v", exact.sql(), exact.args))
			if out, ok, err = s.anchoredPage(ctx, tx, akey, f, exact, page); err != nil {
				return err
			}
			// Without an anchor near, one reader skips the rows and keeps
			// one; the others wait for it and seek from there.
			if !ok {
				lead, done, err := s.flights.begin(ctx, "anchor "+string(akey)+" "+strconv.Itoa(page.Offset/anchorReach))
				if err != nil {
					return err
				}
				if lead {
					defer done()
				} else if out, ok, err = s.anchoredPage(ctx, tx, akey, f, exact, page); err != nil {
					return err
				}
			}
		}
		if !ok {
			// A page that may become an anchor comes with its
			// statement's snapshot.
			var snap, firstKey string
			var seen bool
			dest := []any{}
			if anchored {
				q = strings.Replace(q, `, name_lc FROM `, `, name_lc, pg_current_snapshot()::text FROM `, 1)
				dest = append(dest, &snap)
			}
			rows, err := tx.Query(ctx, q, pw.args...)
			if err != nil {
				return err
			}
			out, err = collect(rows, func(r Row) (*geoetl.Schedule, error) {
				x := &geoetl.Schedule{}
				var nameLC string
				if err := r.Scan(append(append(scheduleDest(x), &nameLC), dest...)...); err != nil {
					return nil, err
				}
				if !seen {
					firstKey, seen = nameLC, true
				}
				fixSchedule(x)
				return x, nil
			})
			if err != nil {
				return err
			}
			if anchored && len(out) > 0 {
				s.keepAnchor(akey, anchor{rank: page.Offset, nameLC: firstKey, id: out[0].ID, snapshot: snap})
			}
		}
		if total, err = s.scheduleTotal(ctx, tx, tid, f, from, w, exact, page, len(out)); err != nil {
			return err
		}
		out, next = scheduleNext(out, page, sort)
		return nil
	})
	if err != nil {
		return nil, 0, "", err
	}
	return out, total, next, nil
}

// firstWait bounds how long a reader waits, before its transaction, for
// another that lists the same list for the first time.
const firstWait = 30 * time.Second

// firstList makes one reader at a time list a list of which the store
// has kept nothing yet (a search's total or keys, a deep page's anchor):
// the others wait for it before they begin their transactions, and then
// bring what it kept up to date. A reader's first count under load can
// take longer than a session may stay idle inside a transaction (see
// flightWait), so the wait is here, outside. done, if not nil, ends the
// caller's turn once it has listed.
func (s *Store) firstList(ctx context.Context, f geoetl.ScheduleFilter, base *where, sort geoetl.ScheduleSort, page geoetl.Page) (done func(), err error) {
	if s.snapTotals == nil {
		return nil, nil
	}
	exact := base.clone()
	if f.Q != "" {
		s.addSearch(exact, f.Q, "search_lc")
	}
	key := totalKey(fmt.Sprintf("%s %#v", exact.sql(), exact.args))
	need := ""
	if f.Q != "" && !s.snapTotals.Contains(key) && (s.matches == nil || !s.matches.Contains(key)) {
		need = "search"
	}
	if s.anchorable(sort, page) {
		near := false
		list, _ := s.anchors.Peek(key)
		for _, a := range list {
			if a.rank <= page.Offset && page.Offset-a.rank <= anchorReach {
				near = true
			}
		}
		if !near {
			need += " anchor " + strconv.Itoa(page.Offset/anchorReach)
		}
	}
	if need == "" {
		return nil, nil
	}
	lead, done, err := s.flights.beginWait(ctx, "first "+need+" "+string(key), firstWait)
	if err != nil || !lead {
		return nil, err
	}
	return done, nil
}

// scheduleOrder adds to w the condition of the cursor of page, if any, in
// the sort order, and returns the ORDER BY of that order.
func (s *Store) scheduleOrder(w *where, sort geoetl.ScheduleSort, page geoetl.Page, c cursor) string {
	switch sort {
	case geoetl.SortByNextRunAt:
		if page.Cursor != "" {
			if c.Time == nil {
				w.add("(next_run_at IS NULL AND id > $?)", c.ID)
			} else {
				v := s.d.Time(timeFromMicros(*c.Time))
				w.add("(next_run_at > $? OR (next_run_at = $? AND id > $?) OR next_run_at IS NULL)", v, v, c.ID)
			}
		}
		return "next_run_at ASC NULLS LAST, id"
	case geoetl.SortByUpdatedAt:
		if page.Cursor != "" {
			w.add("(updated_at, id) < ($?, $?)", s.d.Time(timeFromMicros(*orZero(c.Time))), c.ID)
		}
		return "updated_at DESC, id DESC"
	default:
		if page.Cursor != "" {
			w.add("(name_lc, id) > ($?, $?)", c.Str, c.ID)
		}
		return "name_lc, id"
	}
}

// scheduleNext cuts a page read with one row more than its limit to the
// limit and returns the cursor of the page after it, if that row was
// there.
func scheduleNext(out []*geoetl.Schedule, page geoetl.Page, sort string) ([]*geoetl.Schedule, string) {
	if len(out) <= page.Limit {
		return out, ""
	}
	out = out[:page.Limit]
	last := out[len(out)-1]
	nc := cursor{Sort: "schedule." + sort, ID: last.ID}
	switch geoetl.ScheduleSort(sort) {
	case geoetl.SortByName:
		nc.Str = strings.ToLower(last.Name)
	case geoetl.SortByNextRunAt:
		if last.NextRunAt != nil {
			v := last.NextRunAt.UnixMicro()
			nc.Time = &v
		}
	case geoetl.SortByUpdatedAt:
		v := last.UpdatedAt.UnixMicro()
		nc.Time = &v
	}
	return out, nc.encode()
}

func orZero(p *int64) *int64 {
	if p == nil {
		return new(int64)
	}
	return p
}

// UpdateSchedule reads the schedule in a write transaction (locked on
// PostgreSQL, under the single writer on SQLite), checks the version, lets
// mutate change a copy and stores it as the next version.
func (s *Store) UpdateSchedule(ctx context.Context, tenantID, id string, expectedVersion *int, mutate func(*geoetl.Schedule) error) (*geoetl.Schedule, error) {
	tid, ok1 := normID(tenantID)
	sid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Schedule")
	}
	var out *geoetl.Schedule
	err := s.write(ctx, tid, func(tx Tx) error {
		cur, err := scanSchedule(tx.QueryRow(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE id = $1 AND tenant_id = $2`+s.d.Lock, sid, tid))
		if isNoRows(err) {
			return geoetl.NotFound("Schedule")
		} else if err != nil {
			return err
		}
		if expectedVersion != nil && *expectedVersion != cur.Version {
			return staleVersion("schedule", cur.Version)
		}
		x := cur.Clone()
		if err := mutate(x); err != nil {
			return err
		}
		// Identity, creation and the version are the store's to keep.
		x.ID, x.TenantID, x.CreatedAt, x.CreatedBy = cur.ID, cur.TenantID, cur.CreatedAt, cur.CreatedBy
		x.Version = cur.Version + 1
		if x.UpdatedAt, err = s.now(ctx, tx); err != nil {
			return err
		}
		if x.WorkflowID != cur.WorkflowID {
			if err := s.checkWorkflow(ctx, tx, tid, x.WorkflowID); err != nil {
				return err
			}
			x.WorkflowID = strings.ToLower(x.WorkflowID)
		}
		normalizeScheduleTimes(x)
		args, err := s.scheduleArgs(x)
		if err != nil {
			return err
		}
		// Columns 3.. of scheduleArgs are the mutable ones; $1 and $2 are the
		// id and tenant.
		_, err = tx.Exec(ctx, `UPDATE schedules SET workflow_id = $3, name = $4, description = $5, cron_expression = $6, timezone = $7,
			enabled = $8, status = $9, status_reason = $10, parameter_values = $11, tags = $12, max_concurrent_executions = $13,
			overlap_policy = $14, misfire_policy = $15, catchup_window_minutes = $16, retry_attempts = $17, retry_delay_minutes = $18,
			retry_backoff = $19, max_retry_delay_minutes = $20, timeout_minutes = $21, expires_at = $22, notification_config = $23,
			next_run_at = $24, last_run_at = $25, last_run_status = $26, last_run_id = $27, updated_at = $30, updated_by = $31,
			version = $32, name_lc = $33, search_lc = $34
			WHERE id = $1 AND tenant_id = $2 AND created_at = $28 AND created_by = $29`, args...)
		if err != nil {
			return s.uniqueConflict(err, scheduleNameTaken(x.Name))
		}
		out = x
		return s.insertScheduleVersion(ctx, tx, x)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSchedule deletes a schedule and its versions; executions stay.
func (s *Store) DeleteSchedule(ctx context.Context, tenantID, id string) error {
	return s.deleteIn(ctx, tenantID, id, "schedules", "Schedule")
}

// ScheduleVersions lists a schedule's versions, newest first.
func (s *Store) ScheduleVersions(ctx context.Context, tenantID, id string) ([]*geoetl.ScheduleVersion, error) {
	tid, ok1 := normID(tenantID)
	sid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Schedule")
	}
	var out []*geoetl.ScheduleVersion
	err := s.read(ctx, tid, func(tx Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM schedules WHERE id = $1 AND tenant_id = $2`, sid, tid).Scan(&one)
		if isNoRows(err) {
			return geoetl.NotFound("Schedule")
		} else if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT schedule_id, version, snapshot, changed_by, changed_at FROM schedule_versions
			WHERE schedule_id = $1 AND tenant_id = $2 ORDER BY version DESC`, sid, tid)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r Row) (*geoetl.ScheduleVersion, error) {
			v := &geoetl.ScheduleVersion{}
			err := r.Scan(str(&v.ScheduleID), &v.Version, rawMsg(&v.Snapshot), &v.ChangedBy, ts(&v.ChangedAt))
			return v, err
		})
		return err
	})
	return out, err
}
