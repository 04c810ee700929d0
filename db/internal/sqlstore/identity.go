package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
)

// uniqueConflict turns a unique violation into ECONFLICT: the first entry of
// msgs whose key occurs in the violated constraint's text gives the message.
// Other errors pass through.
func (s *Store) uniqueConflict(err error, msgs ...[2]string) error {
	what, ok := s.d.UniqueViolation(err)
	if !ok {
		return err
	}
	for _, m := range msgs {
		if strings.Contains(what, m[0]) {
			return geoetl.Errorf(geoetl.ECONFLICT, "%s", m[1])
		}
	}
	return geoetl.Errorf(geoetl.ECONFLICT, "The object already exists.")
}

// ---- tenants ----

const tenantCols = `id, name, webhook_secret, previous_webhook_secret, previous_secret_expires_at, created_at`

func scanTenant(r Row) (*geoetl.Tenant, error) {
	t := &geoetl.Tenant{}
	err := r.Scan(str(&t.ID), &t.Name, &t.WebhookSecret, &t.PreviousWebhookSecret, tsp(&t.PreviousSecretExpiresAt), ts(&t.CreatedAt))
	return t, err
}

// CreateTenant stores a new tenant; ECONFLICT on a taken name.
func (s *Store) CreateTenant(ctx context.Context, t *geoetl.Tenant) error {
	id, err := newID(t.ID)
	if err != nil {
		return err
	}
	return s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		if t.CreatedAt.IsZero() {
			t.CreatedAt = now
		}
		t.ID, t.CreatedAt = id, micro(t.CreatedAt)
		t.PreviousSecretExpiresAt = microp(t.PreviousSecretExpiresAt)
		_, err = tx.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1,$2,$3,$4,$5,$6)`,
			t.ID, t.Name, t.WebhookSecret, t.PreviousWebhookSecret, s.tp(t.PreviousSecretExpiresAt), s.t(t.CreatedAt))
		return s.uniqueConflict(err, [2]string{"", "A tenant named \"" + t.Name + "\" already exists."})
	})
}

// FindTenantByID looks a tenant up in any tenant scope (sign-in needs it).
func (s *Store) FindTenantByID(ctx context.Context, id string) (*geoetl.Tenant, error) {
	id, ok := normID(id)
	if !ok {
		return nil, geoetl.NotFound("Tenant")
	}
	return s.findTenant(ctx, `id = $1`, id)
}

// FindTenantByName looks a tenant up by its exact name.
func (s *Store) FindTenantByName(ctx context.Context, name string) (*geoetl.Tenant, error) {
	return s.findTenant(ctx, `name = $1`, name)
}

func (s *Store) findTenant(ctx context.Context, where string, arg any) (*geoetl.Tenant, error) {
	var t *geoetl.Tenant
	err := s.read(ctx, "", func(tx Tx) error {
		var err error
		t, err = scanTenant(tx.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE `+where, arg))
		if isNoRows(err) {
			return geoetl.NotFound("Tenant")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ListTenants returns every tenant by name.
func (s *Store) ListTenants(ctx context.Context) ([]*geoetl.Tenant, error) {
	var out []*geoetl.Tenant
	err := s.read(ctx, "", func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+tenantCols+` FROM tenants ORDER BY name`)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanTenant)
		return err
	})
	return out, err
}

// SetWebhookSecrets stores a tenant's current and previous webhook secret.
func (s *Store) SetWebhookSecrets(ctx context.Context, tenantID, secret, previous string, prevExpires *time.Time) error {
	tid, ok := normID(tenantID)
	if !ok {
		return geoetl.NotFound("Tenant")
	}
	return s.write(ctx, tid, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE tenants SET webhook_secret = $2, previous_webhook_secret = $3, previous_secret_expires_at = $4 WHERE id = $1`,
			tid, secret, previous, s.tp(prevExpires))
		if err == nil && n == 0 {
			return geoetl.NotFound("Tenant")
		}
		return err
	})
}

// scanID reads a row of one id column, for collect.
func scanID(r Row) (string, error) {
	var id string
	return id, r.Scan(str(&id))
}

// collect scans every row of rows with scan and closes rows.
func collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- users ----

const userCols = `id, tenant_id, name, email, role, password_hash, disabled, created_at, updated_at`

func scanUser(r Row) (*geoetl.User, error) {
	u := &geoetl.User{}
	err := r.Scan(str(&u.ID), str(&u.TenantID), &u.Name, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, ts(&u.CreatedAt), ts(&u.UpdatedAt))
	return u, err
}

func userConflict(name, email string) [][2]string {
	return [][2]string{
		{"email", "A user with the email \"" + email + "\" already exists."},
		{"name", "A user named \"" + name + "\" already exists."},
	}
}

// CreateUser stores a user; ECONFLICT on a taken name or email (in any
// tenant, since people sign in without naming one).
func (s *Store) CreateUser(ctx context.Context, u *geoetl.User) error {
	id, err := newID(u.ID)
	if err != nil {
		return err
	}
	tid, ok := tenantID(u.TenantID)
	if !ok {
		return geoetl.NotFound("Tenant")
	}
	return s.write(ctx, tid, func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		u.ID, u.TenantID = id, tid
		if u.CreatedAt.IsZero() {
			u.CreatedAt = now
		}
		if u.UpdatedAt.IsZero() {
			u.UpdatedAt = u.CreatedAt
		}
		u.CreatedAt, u.UpdatedAt = micro(u.CreatedAt), micro(u.UpdatedAt)
		_, err = tx.Exec(ctx, `INSERT INTO users (id, tenant_id, name, email, email_lc, role, password_hash, disabled, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
			u.ID, u.TenantID, u.Name, u.Email, strings.ToLower(u.Email), string(u.Role), u.PasswordHash, u.Disabled, s.t(u.CreatedAt), s.t(u.UpdatedAt))
		return s.uniqueConflict(err, userConflict(u.Name, u.Email)...)
	})
}

// FindUserByID finds a user of the tenant.
func (s *Store) FindUserByID(ctx context.Context, tenantID, id string) (*geoetl.User, error) {
	tid, ok1 := normID(tenantID)
	uid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("User")
	}
	var u *geoetl.User
	err := s.read(ctx, tid, func(tx Tx) error {
		var err error
		u, err = s.findUser(ctx, tx, tid, uid)
		return err
	})
	return u, err
}

func (s *Store) findUser(ctx context.Context, tx Tx, tid, id string) (*geoetl.User, error) {
	u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 AND tenant_id = $2`, id, tid))
	if isNoRows(err) {
		return nil, geoetl.NotFound("User")
	}
	return u, err
}

// FindUserByLogin finds a user by exact name or case-insensitive email.
func (s *Store) FindUserByLogin(ctx context.Context, login string) (*geoetl.User, error) {
	if login == "" {
		return nil, geoetl.NotFound("User")
	}
	var u *geoetl.User
	err := s.read(ctx, "", func(tx Tx) error {
		// A name match wins over an email match, so a user whose name looks
		// like someone else's email cannot take over that sign-in.
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE name = $1 OR email_lc = $2
			ORDER BY CASE WHEN name = $1 THEN 0 ELSE 1 END LIMIT 1`, login, strings.ToLower(login)))
		if isNoRows(err) {
			return geoetl.NotFound("User")
		}
		return err
	})
	return u, err
}

// ListUsers lists a tenant's users by name.
func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]*geoetl.User, error) {
	tid, ok := normID(tenantID)
	if !ok {
		return []*geoetl.User{}, nil
	}
	var out []*geoetl.User
	err := s.read(ctx, tid, func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = $1 ORDER BY name`, tid)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanUser)
		return err
	})
	return out, err
}

// UpdateUser applies a partial update.
func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, upd geoetl.UserUpdate) (*geoetl.User, error) {
	tid, ok1 := normID(tenantID)
	uid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return nil, geoetl.NotFound("User")
	}
	var u *geoetl.User
	err := s.write(ctx, tid, func(tx Tx) error {
		var err error
		if u, err = s.findUser(ctx, tx, tid, uid); err != nil {
			return err
		}
		setIf(&u.Email, upd.Email)
		setIf(&u.Role, upd.Role)
		setIf(&u.PasswordHash, upd.PasswordHash)
		setIf(&u.Disabled, upd.Disabled)
		if u.UpdatedAt, err = s.now(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE users SET email = $3, email_lc = $4, role = $5, password_hash = $6, disabled = $7, updated_at = $8
			WHERE id = $1 AND tenant_id = $2`,
			uid, tid, u.Email, strings.ToLower(u.Email), string(u.Role), u.PasswordHash, u.Disabled, s.t(u.UpdatedAt))
		if err != nil {
			return s.uniqueConflict(err, userConflict(u.Name, u.Email)...)
		}
		if upd.PasswordHash != nil || upd.Disabled != nil && *upd.Disabled {
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND tenant_id = $2 AND id_hash <> $3`, uid, tid, upd.KeepSession)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// DeleteUser deletes a user and, through the foreign key, their sessions.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string) error {
	return s.deleteIn(ctx, tenantID, id, "users", "User")
}

// deleteIn deletes the row id of a tenant-scoped table; ENOTFOUND if none.
func (s *Store) deleteIn(ctx context.Context, tenantID, id, table, kind string) error {
	tid, ok1 := normID(tenantID)
	oid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return geoetl.NotFound(kind)
	}
	return s.write(ctx, tid, func(tx Tx) error {
		n, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1 AND tenant_id = $2`, oid, tid)
		if err == nil && n == 0 {
			return geoetl.NotFound(kind)
		}
		return err
	})
}

// CountUsers counts the users of all tenants.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.read(ctx, "", func(tx Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	})
	return n, err
}

// ---- tokens ----

const tokenCols = `id, tenant_id, name, role, hash, prefix, created_at, created_by, last_used_at, revoked_at`

func scanToken(r Row) (*geoetl.APIToken, error) {
	t := &geoetl.APIToken{}
	err := r.Scan(str(&t.ID), str(&t.TenantID), &t.Name, &t.Role, &t.Hash, &t.Prefix, ts(&t.CreatedAt), &t.CreatedBy, tsp(&t.LastUsedAt), tsp(&t.RevokedAt))
	return t, err
}

// CreateToken stores a token; ECONFLICT on a hash that exists.
func (s *Store) CreateToken(ctx context.Context, t *geoetl.APIToken) error {
	id, err := newID(t.ID)
	if err != nil {
		return err
	}
	tid, ok := tenantID(t.TenantID)
	if !ok {
		return geoetl.NotFound("Tenant")
	}
	return s.write(ctx, tid, func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		t.ID, t.TenantID = id, tid
		if t.CreatedAt.IsZero() {
			t.CreatedAt = now
		}
		t.CreatedAt, t.LastUsedAt, t.RevokedAt = micro(t.CreatedAt), microp(t.LastUsedAt), microp(t.RevokedAt)
		_, err = tx.Exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
			t.ID, t.TenantID, t.Name, string(t.Role), t.Hash, t.Prefix, s.t(t.CreatedAt), t.CreatedBy, s.tp(t.LastUsedAt), s.tp(t.RevokedAt))
		return s.uniqueConflict(err, [2]string{"", "A token with this secret already exists."})
	})
}

// FindTokenByHash finds a token of any tenant, revoked or not; the caller
// checks RevokedAt.
func (s *Store) FindTokenByHash(ctx context.Context, hash string) (*geoetl.APIToken, error) {
	var t *geoetl.APIToken
	err := s.read(ctx, "", func(tx Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1`, hash))
		if isNoRows(err) {
			return geoetl.NotFound("Token")
		}
		return err
	})
	return t, err
}

// ListTokens lists a tenant's tokens, oldest first.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]*geoetl.APIToken, error) {
	tid, ok := normID(tenantID)
	if !ok {
		return []*geoetl.APIToken{}, nil
	}
	var out []*geoetl.APIToken
	err := s.read(ctx, tid, func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at, id`, tid)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanToken)
		return err
	})
	return out, err
}

// RevokeToken marks a token revoked at at (a revoked token stays revoked at
// its first revocation time).
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	tid, ok1 := normID(tenantID)
	kid, ok2 := normID(id)
	if !ok1 || !ok2 {
		return geoetl.NotFound("Token")
	}
	return s.write(ctx, tid, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3) WHERE id = $1 AND tenant_id = $2`, kid, tid, s.t(at))
		if err == nil && n == 0 {
			return geoetl.NotFound("Token")
		}
		return err
	})
}

// TouchToken records that a token was used at at.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	kid, ok := normID(id)
	if !ok {
		return geoetl.NotFound("Token")
	}
	return s.write(ctx, "", func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, kid, s.t(at))
		if err == nil && n == 0 {
			return geoetl.NotFound("Token")
		}
		return err
	})
}

// ---- sessions ----

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, se *geoetl.Session) error {
	uid, ok1 := normID(se.UserID)
	tid, ok2 := normID(se.TenantID)
	if !ok1 || !ok2 {
		return geoetl.NotFound("User")
	}
	return s.write(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		se.UserID, se.TenantID = uid, tid
		if se.CreatedAt.IsZero() {
			se.CreatedAt = now
		}
		se.CreatedAt, se.ExpiresAt = micro(se.CreatedAt), micro(se.ExpiresAt)
		// The user must belong to the session's tenant.
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 AND tenant_id = $2`, uid, tid).Scan(&one)
		if isNoRows(err) {
			return geoetl.NotFound("User")
		} else if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, tenant_id, csrf_token, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6)`,
			se.IDHash, uid, tid, se.CSRFToken, s.t(se.CreatedAt), s.t(se.ExpiresAt))
		return s.uniqueConflict(err, [2]string{"", "The session exists already."})
	})
}

// FindSession finds a session that has not expired by the store's clock.
func (s *Store) FindSession(ctx context.Context, idHash string) (*geoetl.Session, error) {
	var se *geoetl.Session
	err := s.read(ctx, "", func(tx Tx) error {
		now, err := s.now(ctx, tx)
		if err != nil {
			return err
		}
		x := &geoetl.Session{}
		err = tx.QueryRow(ctx, `SELECT id_hash, user_id, tenant_id, csrf_token, created_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2`,
			idHash, s.t(now)).Scan(&x.IDHash, str(&x.UserID), str(&x.TenantID), &x.CSRFToken, ts(&x.CreatedAt), ts(&x.ExpiresAt))
		if isNoRows(err) {
			return geoetl.NotFound("Session")
		}
		se = x
		return err
	})
	return se, err
}

// DeleteSession deletes a session; deleting a missing one is no error
// (signing out twice is harmless).
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	return s.write(ctx, "", func(tx Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
		return err
	})
}

// DeleteExpiredSessions deletes sessions that expired at or before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, "", func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, s.t(now))
		return err
	})
	return int(n), err
}
