package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/geoetl/geoetl"
)

// TokenPrefix starts every API token, so leaked tokens are easy to find
// with secret scanners.
const TokenPrefix = "geo_"

// SessionLifetime is how long a console sign-in lasts.
const SessionLifetime = 12 * time.Hour

// randomSecret returns n random bytes as lower-case base32 without padding.
func randomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// HashSecret is how tokens and session ids are stored: they are long and
// random, so a fast hash is enough (unlike passwords).
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// RandomPassword returns a password for the first admin.
func RandomPassword() string { return randomSecret(15) }

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(b), err
}

// dummyHash makes a failed lookup cost as much as a wrong password, so
// response times do not reveal which user names exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not-a-password"), bcrypt.DefaultCost)

// ErrBadLogin is returned for any failed sign-in, whatever the reason.
var ErrBadLogin = geoetl.Errorf(geoetl.EUNAUTHORIZED, "Wrong user name, email or password.")

// Login checks a user's name or email and password and opens a session.
// It returns the session id (for the cookie) and the session.
func (s *Service) Login(ctx context.Context, login, password string) (string, *geoetl.Session, *geoetl.User, error) {
	login = strings.TrimSpace(login)
	if login == "" || password == "" || len(login) > 320 || len(password) > 256 {
		return "", nil, nil, ErrBadLogin
	}
	u, err := s.Store.FindUserByLogin(ctx, login)
	if geoetl.IsNotFound(err) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return "", nil, nil, ErrBadLogin
	} else if err != nil {
		return "", nil, nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil || u.Disabled {
		return "", nil, nil, ErrBadLogin
	}
	id := randomSecret(32)
	now := s.Clock.Now().UTC()
	sess := &geoetl.Session{IDHash: HashSecret(id), UserID: u.ID, TenantID: u.TenantID, CSRFToken: randomSecret(20), CreatedAt: now, ExpiresAt: now.Add(SessionLifetime)}
	if err := s.Store.CreateSession(ctx, sess); err != nil {
		return "", nil, nil, err
	}
	// A password change or disable that committed while the password was
	// being checked has already ended the user's sessions, but not this
	// one: look again, and give it up if the credentials moved.
	if now, err := s.Store.FindUserByID(ctx, u.TenantID, u.ID); err != nil || now.Disabled || now.PasswordHash != u.PasswordHash {
		_ = s.Store.DeleteSession(ctx, sess.IDHash)
		if err != nil && !geoetl.IsNotFound(err) {
			return "", nil, nil, err
		}
		return "", nil, nil, ErrBadLogin
	}
	return id, sess, u, nil
}

// LoginAccount names the account a sign-in attempt is for, for counting
// failed attempts: the user's id when the name or email is known, so both
// share one count, else the login itself (folded to lower case, as emails
// match case-insensitively), so unknown names are counted the same way and
// the count reveals nothing.
func (s *Service) LoginAccount(ctx context.Context, login string) (string, error) {
	login = strings.TrimSpace(login)
	if login == "" || len(login) > 320 {
		return "login:" + strings.ToLower(login[:min(len(login), 320)]), nil
	}
	u, err := s.Store.FindUserByLogin(ctx, login)
	if geoetl.IsNotFound(err) {
		return "login:" + strings.ToLower(login), nil
	} else if err != nil {
		return "", err
	}
	return "user:" + u.ID, nil
}

// NewCSRFToken returns a fresh random CSRF token.
func NewCSRFToken() string { return randomSecret(24) }

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, sessionID string) error {
	return s.Store.DeleteSession(ctx, HashSecret(sessionID))
}

// AuthenticateSession returns the principal of a session cookie value.
func (s *Service) AuthenticateSession(ctx context.Context, sessionID string) (geoetl.Principal, *geoetl.Session, error) {
	if sessionID == "" || len(sessionID) > 200 {
		return geoetl.Principal{}, nil, geoetl.Errorf(geoetl.EUNAUTHORIZED, "Sign in first.")
	}
	sess, err := s.Store.FindSession(ctx, HashSecret(sessionID))
	if err != nil || !sess.ExpiresAt.After(s.Clock.Now()) {
		return geoetl.Principal{}, nil, geoetl.Errorf(geoetl.EUNAUTHORIZED, "Your session has ended; sign in again.")
	}
	u, err := s.Store.FindUserByID(ctx, sess.TenantID, sess.UserID)
	if err != nil || u.Disabled {
		return geoetl.Principal{}, nil, geoetl.Errorf(geoetl.EUNAUTHORIZED, "Your session has ended; sign in again.")
	}
	return geoetl.Principal{TenantID: u.TenantID, ActorID: u.ID, Actor: u.Name, Role: u.Role, UserID: u.ID}, sess, nil
}

// AuthenticateToken returns the principal of a bearer token.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (geoetl.Principal, error) {
	bad := geoetl.Errorf(geoetl.EUNAUTHORIZED, "Invalid or revoked token.")
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 200 {
		return geoetl.Principal{}, bad
	}
	t, err := s.Store.FindTokenByHash(ctx, HashSecret(token))
	if err != nil || t.RevokedAt != nil {
		return geoetl.Principal{}, bad
	}
	now := s.Clock.Now().UTC()
	// Writing last-used on every request would turn reads into writes;
	// once a minute is precise enough to tell live tokens from dead ones.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if err := s.Store.TouchToken(ctx, t.ID, now); err != nil {
			s.Logger.Warn("token last-used update failed", "token", t.ID, "err", err)
		}
	}
	return geoetl.Principal{TenantID: t.TenantID, ActorID: t.ID, Actor: "token:" + t.Name, Role: t.Role, TokenID: t.ID}, nil
}

// CreateToken creates an API token and returns its secret, which is
// shown only this once.
func (s *Service) CreateToken(ctx context.Context, p geoetl.Principal, name string, role geoetl.Role) (*geoetl.APIToken, string, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return nil, "", err
	}
	return s.createToken(ctx, p.TenantID, name, role, p.Actor)
}

// CreateTokenAsSystem creates a token from the command line.
func (s *Service) CreateTokenAsSystem(ctx context.Context, tenantID, name string, role geoetl.Role) (*geoetl.APIToken, string, error) {
	return s.createToken(ctx, tenantID, name, role, "cli")
}

func (s *Service) createToken(ctx context.Context, tenantID, name string, role geoetl.Role, actor string) (*geoetl.APIToken, string, error) {
	secret := TokenPrefix + randomSecret(32)
	t := &geoetl.APIToken{ID: geoetl.NewID(), TenantID: tenantID, Name: strings.TrimSpace(name), Role: role, Hash: HashSecret(secret), Prefix: secret[:len(TokenPrefix)+6], CreatedAt: s.Clock.Now().UTC(), CreatedBy: actor}
	if err := t.Validate(); err != nil {
		return nil, "", err
	}
	if err := s.Store.CreateToken(ctx, t); err != nil {
		return nil, "", err
	}
	s.audit(ctx, geoetl.Principal{TenantID: tenantID, Actor: actor}, "token.create", "token", t.ID, nil, t)
	return t, secret, nil
}

// ListTokens lists the tenant's tokens (never their secrets).
func (s *Service) ListTokens(ctx context.Context, p geoetl.Principal) ([]*geoetl.APIToken, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return nil, err
	}
	return s.Store.ListTokens(ctx, p.TenantID)
}

// RevokeToken revokes a token at once.
func (s *Service) RevokeToken(ctx context.Context, p geoetl.Principal, id string) error {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return err
	}
	if err := s.Store.RevokeToken(ctx, p.TenantID, id, s.Clock.Now().UTC()); err != nil {
		return err
	}
	s.audit(ctx, p, "token.revoke", "token", id, nil, nil)
	return nil
}

// CreateUser adds a user to p's tenant.
func (s *Service) CreateUser(ctx context.Context, p geoetl.Principal, u *geoetl.User, password string) (*geoetl.User, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return nil, err
	}
	u.TenantID = p.TenantID
	return s.createUser(ctx, p, u, password)
}

// CreateUserAsSystem adds a user from the command line or at first start.
func (s *Service) CreateUserAsSystem(ctx context.Context, u *geoetl.User, password string) (*geoetl.User, error) {
	return s.createUser(ctx, geoetl.Principal{TenantID: u.TenantID, Actor: "cli"}, u, password)
}

func (s *Service) createUser(ctx context.Context, p geoetl.Principal, u *geoetl.User, password string) (*geoetl.User, error) {
	u.Name = strings.TrimSpace(u.Name)
	u.Email = strings.TrimSpace(u.Email)
	fe := geoetl.FieldErrors{}
	for k, v := range geoetl.ErrorFields(u.Validate()) {
		fe[k] = append(fe[k], v...)
	}
	for k, v := range geoetl.ErrorFields(geoetl.ValidatePassword(password)) {
		fe[k] = append(fe[k], v...)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	u.ID = geoetl.NewID()
	u.PasswordHash = hash
	now := s.Clock.Now().UTC()
	u.CreatedAt, u.UpdatedAt = now, now
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, neutralUserConflict(err)
	}
	s.audit(ctx, p, "user.create", "user", u.ID, nil, u)
	return u, nil
}

// ErrNameOrEmailTaken refuses a user name or email that is taken. Names
// and emails are unique across the install, because sign-in names no
// tenant; the answer is the same whether the holder is in the caller's
// tenant or another, and does not say which of the two is taken, so it
// tells no more than that the value cannot be used.
var ErrNameOrEmailTaken = geoetl.Errorf(geoetl.ECONFLICT, "This name or email cannot be used; choose another.")

// IsNameOrEmailTaken reports whether err is ErrNameOrEmailTaken, which
// callers count like a failed sign-in (it answers whether a name exists).
func IsNameOrEmailTaken(err error) bool { return err == ErrNameOrEmailTaken }

func neutralUserConflict(err error) error {
	if geoetl.IsConflict(err) {
		return ErrNameOrEmailTaken
	}
	return err
}

// ListUsers lists the tenant's users.
func (s *Service) ListUsers(ctx context.Context, p geoetl.Principal) ([]*geoetl.User, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return nil, err
	}
	return s.Store.ListUsers(ctx, p.TenantID)
}

// GetUser returns one user of p's tenant.
func (s *Service) GetUser(ctx context.Context, p geoetl.Principal, id string) (*geoetl.User, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return nil, err
	}
	return s.Store.FindUserByID(ctx, p.TenantID, id)
}

// PasswordChange is a new password given to UpdateUser.
type PasswordChange struct {
	New string
	// Current is required when users change their own password, so a
	// session left open (or stolen) cannot lock its owner out.
	Current *string
	// KeepSession is the id hash of the caller's session, which survives
	// the change; every other session of the user ends.
	KeepSession string
}

// errWrongCurrentPassword answers a self-service password change whose
// current password is missing or wrong.
func errWrongCurrentPassword() error {
	return &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{"currentPassword": {"is not your current password"}}}
}

// UpdateUser changes a user's role, email, password or disabled flag. An
// admin cannot demote or disable themselves, so a tenant keeps an admin.
// A new password or disabling ends the user's other sessions.
func (s *Service) UpdateUser(ctx context.Context, p geoetl.Principal, id string, upd geoetl.UserUpdate, pw *PasswordChange) (*geoetl.User, error) {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return nil, err
	}
	if id == p.UserID && ((upd.Role != nil && *upd.Role != geoetl.RoleAdmin) || (upd.Disabled != nil && *upd.Disabled)) {
		return nil, geoetl.Errorf(geoetl.ECONFLICT, "You cannot demote or disable yourself.")
	}
	fe := geoetl.FieldErrors{}
	if upd.Role != nil && !upd.Role.Valid() {
		fe.Add("role", "must be one of viewer, editor, admin")
	}
	if upd.Email != nil {
		e := strings.TrimSpace(*upd.Email)
		upd.Email = &e
		if e != "" {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				fe.Add("email", "is not a valid email address")
			}
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	before, err := s.Store.FindUserByID(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	upd.KeepSession = ""
	if pw != nil {
		if err := geoetl.ValidatePassword(pw.New); err != nil {
			return nil, err
		}
		if id == p.UserID {
			if pw.Current == nil || bcrypt.CompareHashAndPassword([]byte(before.PasswordHash), []byte(*pw.Current)) != nil {
				return nil, errWrongCurrentPassword()
			}
			upd.KeepSession = pw.KeepSession
		}
		h, err := HashPassword(pw.New)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &h
	}
	u, err := s.Store.UpdateUser(ctx, p.TenantID, id, upd)
	if err != nil {
		return nil, neutralUserConflict(err)
	}
	s.audit(ctx, p, "user.update", "user", id, before, u)
	return u, nil
}

// ChangeOwnPassword lets any signed-in user change their password, given
// the current one. Their other sessions end; keepSession (the id hash of
// the session making the change) stays. API tokens belong to the tenant,
// not to a user, and cannot do this.
func (s *Service) ChangeOwnPassword(ctx context.Context, p geoetl.Principal, current, next, keepSession string) error {
	if p.UserID == "" {
		return geoetl.Errorf(geoetl.EFORBIDDEN, "Only a signed-in user can change their password; API tokens belong to the tenant.")
	}
	u, err := s.Store.FindUserByID(ctx, p.TenantID, p.UserID)
	if err != nil {
		return err
	}
	if current == "" || len(current) > 256 || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		return errWrongCurrentPassword()
	}
	if err := geoetl.ValidatePassword(next); err != nil {
		return err
	}
	h, err := HashPassword(next)
	if err != nil {
		return err
	}
	if _, err := s.Store.UpdateUser(ctx, p.TenantID, p.UserID, geoetl.UserUpdate{PasswordHash: &h, KeepSession: keepSession}); err != nil {
		return err
	}
	s.audit(ctx, p, "user.password", "user", p.UserID, nil, nil)
	return nil
}

// DeleteUser removes a user (not oneself).
func (s *Service) DeleteUser(ctx context.Context, p geoetl.Principal, id string) error {
	if err := requireRole(p, geoetl.RoleAdmin); err != nil {
		return err
	}
	if id == p.UserID {
		return geoetl.Errorf(geoetl.ECONFLICT, "You cannot delete yourself.")
	}
	before, err := s.Store.FindUserByID(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteUser(ctx, p.TenantID, id); err != nil {
		return err
	}
	s.audit(ctx, p, "user.delete", "user", id, before, nil)
	return nil
}
