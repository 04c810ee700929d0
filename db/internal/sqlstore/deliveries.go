package sqlstore

import (
	"context"
	"sort"
	"time"

	"github.com/geoetl/geoetl"
)

const deliveryCols = `id, tenant_id, execution_id, schedule_id, event, channel, target, masked_target, payload, status, attempts,
	last_status_code, last_error, next_attempt_at, created_at, delivered_at`

const deliveryWidth = 16

func scanDelivery(r Row) (*geoetl.Delivery, error) {
	d := &geoetl.Delivery{}
	err := r.Scan(str(&d.ID), str(&d.TenantID), strp(&d.ExecutionID), strp(&d.ScheduleID), &d.Event, &d.Channel, &d.Target, &d.MaskedTarget,
		raw(&d.Payload), &d.Status, &d.Attempts, intp(&d.LastStatusCode), strp(&d.LastError), tsp(&d.NextAttemptAt), ts(&d.CreatedAt), tsp(&d.DeliveredAt))
	return d, err
}

// CreateDeliveries stores new deliveries. Defaults: status pending, the
// first attempt due at once, and a masked target derived from the target
// (webhook URLs are secrets; email addresses are shown as they are).
func (s *Store) CreateDeliveries(ctx context.Context, ds []*geoetl.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	return s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		return s.insertDeliveries(ctx, tx, now, ds)
	})
}

func (s *Store) insertDeliveries(ctx context.Context, tx Tx, now time.Time, ds []*geoetl.Delivery) error {
	per := max(1, s.d.MaxParams/deliveryWidth)
	for start := 0; start < len(ds); start += per {
		chunk := ds[start:min(start+per, len(ds))]
		args := make([]any, 0, len(chunk)*deliveryWidth)
		for _, d := range chunk {
			a, err := s.prepareDelivery(d, now)
			if err != nil {
				return err
			}
			args = append(args, a...)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deliveries (`+deliveryCols+`) VALUES `+placeholders(len(chunk), deliveryWidth, 0), args...); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) prepareDelivery(d *geoetl.Delivery, now time.Time) ([]any, error) {
	id, err := newID(d.ID)
	if err != nil {
		return nil, err
	}
	tid, ok := normID(d.TenantID)
	if !ok {
		return nil, geoetl.NotFound("Tenant")
	}
	d.ID, d.TenantID = id, tid
	for _, p := range []**string{&d.ExecutionID, &d.ScheduleID} {
		if *p != nil {
			v, ok := normID(**p)
			if !ok {
				return nil, geoetl.NotFound("Execution")
			}
			*p = &v
		}
	}
	if d.Status == "" {
		d.Status = geoetl.DeliveryPending
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = now
	}
	d.CreatedAt = micro(d.CreatedAt)
	if d.NextAttemptAt == nil && d.Status == geoetl.DeliveryPending {
		t := d.CreatedAt
		d.NextAttemptAt = &t
	}
	d.NextAttemptAt, d.DeliveredAt = microp(d.NextAttemptAt), microp(d.DeliveredAt)
	if d.MaskedTarget == "" {
		d.MaskedTarget = d.Target
		if d.Channel != geoetl.ChannelEmail {
			d.MaskedTarget = geoetl.MaskURL(d.Target)
		}
	}
	return []any{d.ID, d.TenantID, nullStr(d.ExecutionID), nullStr(d.ScheduleID), d.Event, string(d.Channel), d.Target, d.MaskedTarget,
		payloadArg(d.Payload), string(d.Status), int64(d.Attempts), nullInt(d.LastStatusCode), nullStr(d.LastError), s.tp(d.NextAttemptAt),
		s.t(d.CreatedAt), s.tp(d.DeliveredAt)}, nil
}

func payloadArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// ClaimDeliveries leases up to limit due, unleased pending deliveries to
// instanceID until leaseUntil. A lease that ran out (its holder died) is
// free again; on PostgreSQL concurrent claimers skip each other's rows.
func (s *Store) ClaimDeliveries(ctx context.Context, instanceID string, limit int, leaseUntil time.Time) ([]*geoetl.Delivery, error) {
	var out []*geoetl.Delivery
	err := s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1
			AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_attempt_at, id LIMIT $2`+s.d.LockSkip, s.t(now), int64(limit))
		if err != nil {
			return err
		}
		ids, err := collect(rows, scanID)
		if err != nil || len(ids) == 0 {
			return err
		}
		rows, err = tx.Query(ctx, `UPDATE deliveries SET lease_owner = $2, lease_until = $3 WHERE `+s.d.InIDs("id", 1)+` RETURNING `+deliveryCols,
			s.d.IDList(ids), instanceID, s.t(leaseUntil))
		if err != nil {
			return err
		}
		out, err = collect(rows, scanDelivery)
		sort.Slice(out, func(i, j int) bool {
			a, b := out[i].NextAttemptAt, out[j].NextAttemptAt
			if !a.Equal(*b) {
				return a.Before(*b)
			}
			return out[i].ID < out[j].ID
		})
		return err
	})
	if out == nil && err == nil {
		out = []*geoetl.Delivery{}
	}
	return out, err
}

// UpdateDelivery records an attempt's outcome and releases the lease.
func (s *Store) UpdateDelivery(ctx context.Context, d *geoetl.Delivery) error {
	tid, ok1 := normID(d.TenantID)
	id, ok2 := normID(d.ID)
	if !ok1 || !ok2 {
		return geoetl.NotFound("Delivery")
	}
	d.NextAttemptAt, d.DeliveredAt = microp(d.NextAttemptAt), microp(d.DeliveredAt)
	return s.write(ctx, tid, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE deliveries SET status = $3, attempts = $4, last_status_code = $5, last_error = $6, next_attempt_at = $7,
			delivered_at = $8, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND tenant_id = $2`,
			id, tid, string(d.Status), int64(d.Attempts), nullInt(d.LastStatusCode), nullStr(d.LastError), s.tp(d.NextAttemptAt), s.tp(d.DeliveredAt))
		if err == nil && n == 0 {
			return geoetl.NotFound("Delivery")
		}
		return err
	})
}

// ListDeliveries lists an execution's deliveries in creation order.
func (s *Store) ListDeliveries(ctx context.Context, tenantID, executionID string) ([]*geoetl.Delivery, error) {
	tid, ok1 := normID(tenantID)
	eid, ok2 := normID(executionID)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Execution")
	}
	var out []*geoetl.Delivery
	err := s.read(ctx, tid, func(tx Tx) error {
		if err := s.checkExecution(ctx, tx, tid, eid); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE execution_id = $1 AND tenant_id = $2 ORDER BY created_at, id`, eid, tid)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanDelivery)
		return err
	})
	return out, err
}

// ---- audit ----

const auditCols = `id, tenant_id, actor_id, actor, action, object_type, object_id, before_json, after_json, at`

func scanAudit(r Row) (*geoetl.AuditEntry, error) {
	a := &geoetl.AuditEntry{}
	err := r.Scan(str(&a.ID), str(&a.TenantID), &a.ActorID, &a.Actor, &a.Action, &a.ObjectType, &a.ObjectID, rawMsg(&a.Before), rawMsg(&a.After), ts(&a.At))
	return a, err
}

// AppendAudit stores an audit entry.
func (s *Store) AppendAudit(ctx context.Context, a *geoetl.AuditEntry) error {
	id, err := newID(a.ID)
	if err != nil {
		return err
	}
	tid, ok := normID(a.TenantID)
	if !ok {
		return geoetl.NotFound("Tenant")
	}
	a.ID, a.TenantID = id, tid
	return s.write(ctx, tid, func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		return s.appendAuditTx(ctx, tx, now, a)
	})
}

// appendAuditTx writes one audit entry in tx (its id and tenant checked
// by the caller, or filled here).
func (s *Store) appendAuditTx(ctx context.Context, tx Tx, now time.Time, a *geoetl.AuditEntry) error {
	if a == nil {
		return nil
	}
	args, err := s.auditArgs(now, a)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, args...)
	return err
}

// auditArgs fills in a's id, tenant and time as stored and returns the
// values of auditCols.
func (s *Store) auditArgs(now time.Time, a *geoetl.AuditEntry) ([]any, error) {
	id, err := newID(a.ID)
	if err != nil {
		return nil, err
	}
	tid, ok := normID(a.TenantID)
	if !ok {
		return nil, geoetl.NotFound("Tenant")
	}
	a.ID, a.TenantID = id, tid
	if a.At.IsZero() {
		a.At = now
	}
	a.At = micro(a.At)
	return []any{a.ID, a.TenantID, a.ActorID, a.Actor, a.Action, a.ObjectType, a.ObjectID, rawArg(a.Before), rawArg(a.After), s.t(a.At)}, nil
}

// FindAudit lists a tenant's audit entries, newest first.
func (s *Store) FindAudit(ctx context.Context, f geoetl.AuditFilter) ([]*geoetl.AuditEntry, int, string, error) {
	tid, ok := normID(f.TenantID)
	if !ok {
		return []*geoetl.AuditEntry{}, 0, "", nil
	}
	page := f.Page.Normalize()
	var c cursor
	if page.Cursor != "" {
		var err error
		if c, err = decodeCursor(page.Cursor, "audit"); err != nil {
			return nil, 0, "", err
		}
	}
	w := &where{}
	w.add("tenant_id = $?", tid)
	if f.ObjectType != "" {
		w.add("object_type = $?", f.ObjectType)
	}
	if f.ObjectID != "" {
		w.add("object_id = $?", f.ObjectID)
	}
	if f.Action != "" {
		w.add("action = $?", f.Action)
	}
	var out []*geoetl.AuditEntry
	var total int
	var next string
	err := s.read(ctx, tid, func(tx Tx) error {
		pw := w.clone()
		if page.Cursor != "" {
			pw.add("(at, id) < ($?, $?)", s.d.Time(timeFromMicros(*orZero(c.Time))), c.ID)
		}
		rows, err := tx.Query(ctx, `SELECT `+auditCols+` FROM audit_log WHERE `+pw.sql()+` ORDER BY at DESC, id DESC`+pw.limit(page), pw.args...)
		if err != nil {
			return err
		}
		if out, err = collect(rows, scanAudit); err != nil {
			return err
		}
		if total, err = s.total(ctx, tx, "audit_log", w, page, len(out)); err != nil {
			return err
		}
		if len(out) > page.Limit {
			out = out[:page.Limit]
			last := out[len(out)-1]
			v := last.At.UnixMicro()
			next = cursor{Sort: "audit", Time: &v, ID: last.ID}.encode()
		}
		return nil
	})
	if err != nil {
		return nil, 0, "", err
	}
	return out, total, next, nil
}
