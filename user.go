package geoetl

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is a user's or token's permission level within its tenant.
type Role string

const (
	RoleViewer Role = "viewer" // read everything in the tenant
	RoleEditor Role = "editor" // also manage and run schedules and workflows
	RoleAdmin  Role = "admin"  // also users, tokens and tenant settings
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a holder of r may do what needs the role min.
func (r Role) Allows(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// AdminUserName is the user that the first start creates.
const AdminUserName = "admin"

// User is a person who signs in to the console.
type User struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"tenantId"`
	Name         string    `json:"name"`
	Email        string    `json:"email"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Validate checks the fields a user can be created with.
func (u *User) Validate() error {
	fe := FieldErrors{}
	if n := utf8.RuneCountInString(u.Name); n == 0 || n > 100 {
		fe.Add("name", "must be 1-100 characters")
	} else if strings.ContainsAny(u.Name, "@ \t\r\n") {
		fe.Add("name", "may not contain '@' or white space")
	}
	if u.Email != "" {
		if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
			fe.Add("email", "is not a valid email address")
		}
	}
	if !u.Role.Valid() {
		fe.Add("role", "must be one of viewer, editor, admin")
	}
	return fe.Err()
}

// ValidatePassword enforces the minimum a password must meet.
func ValidatePassword(pw string) error {
	fe := FieldErrors{}
	if utf8.RuneCountInString(pw) < 8 {
		fe.Add("password", "must be at least 8 characters")
	} else if len(pw) > 72 {
		// bcrypt takes at most 72 bytes and refuses longer passwords.
		fe.Add("password", "must be at most 72 bytes")
	}
	return fe.Err()
}

// APIToken is a bearer credential for API clients. Only a hash of the
// secret is stored; the secret itself is shown once, at creation.
type APIToken struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenantId"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	Hash       string     `json:"-"`
	Prefix     string     `json:"prefix"` // first characters of the secret, to recognise it
	CreatedAt  time.Time  `json:"createdAt"`
	CreatedBy  string     `json:"createdBy"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

// Validate checks the fields a token can be created with.
func (t *APIToken) Validate() error {
	fe := FieldErrors{}
	if n := utf8.RuneCountInString(t.Name); n == 0 || n > 100 {
		fe.Add("name", "must be 1-100 characters")
	}
	if !t.Role.Valid() {
		fe.Add("role", "must be one of viewer, editor, admin")
	}
	return fe.Err()
}

// Session is a signed-in browser. Only a hash of its id is stored.
type Session struct {
	IDHash    string
	UserID    string
	TenantID  string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Principal is who is making a request: a user through a session or a
// token. The tenant always comes from here, never from a request body.
type Principal struct {
	TenantID string
	ActorID  string // user or token id
	Actor    string // a name for audit logs: user name or "token:<name>"
	Role     Role
	UserID   string // empty for tokens
	TokenID  string // empty for sessions
}
