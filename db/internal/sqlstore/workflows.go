package sqlstore

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/geoetl/geoetl"
)

const workflowCols = `id, tenant_id, name, description, definition, version, created_at, created_by, updated_at, updated_by`

func scanWorkflow(r Row) (*geoetl.Workflow, error) {
	w := &geoetl.Workflow{}
	err := r.Scan(str(&w.ID), str(&w.TenantID), &w.Name, &w.Description, rawMsg(&w.Definition), &w.Version,
		ts(&w.CreatedAt), &w.CreatedBy, ts(&w.UpdatedAt), &w.UpdatedBy)
	return w, err
}

func workflowNameTaken(name string) [2]string {
	return [2]string{"", "A workflow named \"" + name + "\" already exists."}
}

// CreateWorkflow stores version 1 and keeps it in the history.
func (s *Store) CreateWorkflow(ctx context.Context, w *geoetl.Workflow) error {
	id, err := newID(w.ID)
	if err != nil {
		return err
	}
	tid, ok := tenantID(w.TenantID)
	if !ok {
		return geoetl.NotFound("Tenant")
	}
	return s.write(ctx, tid, func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		w.ID, w.TenantID, w.Version = id, tid, 1
		if w.CreatedAt.IsZero() {
			w.CreatedAt = now
		}
		if w.UpdatedAt.IsZero() {
			w.UpdatedAt = w.CreatedAt
		}
		if w.UpdatedBy == "" {
			w.UpdatedBy = w.CreatedBy
		}
		w.CreatedAt, w.UpdatedAt = micro(w.CreatedAt), micro(w.UpdatedAt)
		_, err = tx.Exec(ctx, `INSERT INTO workflows (id, tenant_id, name, name_lc, description, description_lc, definition, version, created_at, created_by, updated_at, updated_by)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			w.ID, w.TenantID, w.Name, strings.ToLower(w.Name), w.Description, strings.ToLower(w.Description), string(w.Definition),
			w.Version, s.t(w.CreatedAt), w.CreatedBy, s.t(w.UpdatedAt), w.UpdatedBy)
		if err != nil {
			return s.uniqueConflict(err, workflowNameTaken(w.Name))
		}
		return s.insertWorkflowVersion(ctx, tx, w)
	})
}

func (s *Store) insertWorkflowVersion(ctx context.Context, tx Tx, w *geoetl.Workflow) error {
	_, err := tx.Exec(ctx, `INSERT INTO workflow_versions (workflow_id, tenant_id, version, name, definition, changed_by, changed_at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		w.ID, w.TenantID, w.Version, w.Name, string(w.Definition), w.UpdatedBy, s.t(w.UpdatedAt))
	return err
}

// FindWorkflowByID finds a workflow of the tenant.
func (s *Store) FindWorkflowByID(ctx context.Context, tenantID, id string) (*geoetl.Workflow, error) {
	tid, ok1 := normID(tenantID)
	wid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Workflow")
	}
	var w *geoetl.Workflow
	err := s.read(ctx, tid, func(tx Tx) error {
		var err error
		w, err = s.findWorkflow(ctx, tx, tid, wid, "")
		return err
	})
	return w, err
}

func (s *Store) findWorkflow(ctx context.Context, tx Tx, tid, id, lock string) (*geoetl.Workflow, error) {
	w, err := scanWorkflow(tx.QueryRow(ctx, `SELECT `+workflowCols+` FROM workflows WHERE id = $1 AND tenant_id = $2`+lock, id, tid))
	if isNoRows(err) {
		return nil, geoetl.NotFound("Workflow")
	}
	return w, err
}

// FindWorkflows lists a tenant's workflows by name.
func (s *Store) FindWorkflows(ctx context.Context, f geoetl.WorkflowFilter) ([]*geoetl.Workflow, int, string, error) {
	tid, ok := normID(f.TenantID)
	if !ok {
		return []*geoetl.Workflow{}, 0, "", nil
	}
	page := f.Page.Normalize()
	w := &where{}
	w.add("tenant_id = $?", tid)
	if f.Q != "" {
		s.addSearch(w, f.Q, "name_lc", "description_lc")
	}
	var out []*geoetl.Workflow
	var total int
	var next string
	err := s.read(ctx, tid, func(tx Tx) error {
		pw := w.clone()
		if page.Cursor != "" {
			c, err := decodeCursor(page.Cursor, "workflow")
			if err != nil {
				return err
			}
			pw.add("(name_lc, id) > ($?, $?)", c.Str, c.ID)
		}
		q := `SELECT ` + workflowCols + `, name_lc FROM workflows WHERE ` + pw.sql() + ` ORDER BY name_lc, id` + pw.limit(page)
		rows, err := tx.Query(ctx, q, pw.args...)
		if err != nil {
			return err
		}
		var keys []string
		out, err = collect(rows, func(r Row) (*geoetl.Workflow, error) {
			x := &geoetl.Workflow{}
			var key string
			err := r.Scan(str(&x.ID), str(&x.TenantID), &x.Name, &x.Description, rawMsg(&x.Definition), &x.Version,
				ts(&x.CreatedAt), &x.CreatedBy, ts(&x.UpdatedAt), &x.UpdatedBy, &key)
			keys = append(keys, key)
			return x, err
		})
		if err != nil {
			return err
		}
		if total, err = s.total(ctx, tx, "workflows", w, page, len(out)); err != nil {
			return err
		}
		if len(out) > page.Limit {
			out = out[:page.Limit]
			last := out[len(out)-1]
			next = cursor{Sort: "workflow", Str: keys[page.Limit-1], ID: last.ID}.encode()
		}
		return nil
	})
	if err != nil {
		return nil, 0, "", err
	}
	return out, total, next, nil
}

// UpdateWorkflow applies upd as the next version.
func (s *Store) UpdateWorkflow(ctx context.Context, tenantID, id string, upd geoetl.WorkflowUpdate, actor string) (*geoetl.Workflow, error) {
	tid, ok1 := normID(tenantID)
	wid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Workflow")
	}
	var w *geoetl.Workflow
	err := s.write(ctx, tid, func(tx Tx) error {
		var err error
		if w, err = s.findWorkflow(ctx, tx, tid, wid, s.d.Lock); err != nil {
			return err
		}
		if upd.ExpectedVersion != nil && *upd.ExpectedVersion != w.Version {
			return staleVersion("workflow", w.Version)
		}
		setIf(&w.Name, upd.Name)
		setIf(&w.Description, upd.Description)
		if upd.Definition != nil {
			w.Definition = append(json.RawMessage(nil), (*upd.Definition)...)
		}
		if w.UpdatedAt, err = s.now(ctx, tx); err != nil {
			return err
		}
		w.UpdatedBy = actor
		w.Version++
		_, err = tx.Exec(ctx, `UPDATE workflows SET name = $3, name_lc = $4, description = $5, description_lc = $6, definition = $7, version = $8, updated_at = $9, updated_by = $10
			WHERE id = $1 AND tenant_id = $2`,
			wid, tid, w.Name, strings.ToLower(w.Name), w.Description, strings.ToLower(w.Description), string(w.Definition), w.Version, s.t(w.UpdatedAt), w.UpdatedBy)
		if err != nil {
			return s.uniqueConflict(err, workflowNameTaken(w.Name))
		}
		return s.insertWorkflowVersion(ctx, tx, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func staleVersion(kind string, current int) error {
	return geoetl.Errorf(geoetl.ECONFLICT, "The %s was changed by someone else (it is now at version %d); reload it and try again.", kind, current)
}

// DeleteWorkflow deletes a workflow; schedules using it block the delete
// unless force, which puts them into status error instead.
func (s *Store) DeleteWorkflow(ctx context.Context, tenantID, id string, force bool) ([]string, error) {
	tid, ok1 := normID(tenantID)
	wid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Workflow")
	}
	ids := []string{}
	err := s.write(ctx, tid, func(tx Tx) error {
		if _, err := s.findWorkflow(ctx, tx, tid, wid, s.d.Lock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM schedules WHERE tenant_id = $1 AND workflow_id = $2 ORDER BY name_lc, id`, tid, wid)
		if err != nil {
			return err
		}
		users, err := collect(rows, scanID)
		if err != nil {
			return err
		}
		if len(users) > 0 && !force {
			return geoetl.Errorf(geoetl.ECONFLICT, "The workflow is used by %d schedule(s); delete or change them first, or force the delete.", len(users))
		}
		if len(users) > 0 {
			// Every schedule of the workflow goes to error, whatever its status:
			// none of them can run any more.
			if _, err := tx.Exec(ctx, `UPDATE schedules SET status = 'error', status_reason = $3, next_run_at = NULL WHERE tenant_id = $1 AND workflow_id = $2`,
				tid, wid, "workflow deleted"); err != nil {
				return err
			}
			ids = users
		}
		_, err = tx.Exec(ctx, `DELETE FROM workflows WHERE id = $1 AND tenant_id = $2`, wid, tid)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// WorkflowVersions lists a workflow's versions, newest first.
func (s *Store) WorkflowVersions(ctx context.Context, tenantID, id string) ([]*geoetl.WorkflowVersion, error) {
	tid, ok1 := normID(tenantID)
	wid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("Workflow")
	}
	var out []*geoetl.WorkflowVersion
	err := s.read(ctx, tid, func(tx Tx) error {
		if _, err := s.findWorkflow(ctx, tx, tid, wid, ""); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT workflow_id, version, name, definition, changed_by, changed_at FROM workflow_versions
			WHERE workflow_id = $1 AND tenant_id = $2 ORDER BY version DESC`, wid, tid)
		if err != nil {
			return err
		}
		out, err = collect(rows, func(r Row) (*geoetl.WorkflowVersion, error) {
			v := &geoetl.WorkflowVersion{}
			err := r.Scan(str(&v.WorkflowID), &v.Version, &v.Name, rawMsg(&v.Definition), &v.ChangedBy, ts(&v.ChangedAt))
			return v, err
		})
		return err
	})
	return out, err
}
