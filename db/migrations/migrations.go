// Package migrations holds the embedded goose migrations of both databases,
// one folder per dialect, and builds the goose provider that applies them.
package migrations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Dialect names a database family the migrations exist for.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// lockAttempts is how many one-second tries an instance makes for the
// migration lock before giving up; other instances migrating at the same
// time hold it for well under that.
const lockAttempts = 60

// NewProvider returns a goose provider for the dialect's migrations on db.
// On PostgreSQL it takes a session advisory lock, so several instances can
// migrate at once and all but one simply wait.
func NewProvider(d Dialect, db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(files, string(d))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	var gd goose.Dialect
	switch d {
	case SQLite:
		gd = goose.DialectSQLite3
	case Postgres:
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, lockAttempts))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	default:
		return nil, fmt.Errorf("no migrations for dialect %q", d)
	}
	return goose.NewProvider(gd, db, sub, opts...)
}

// Current reports whether every embedded migration has been applied to db.
// A database that goose never touched has pending migrations.
func Current(ctx context.Context, d Dialect, db *sql.DB) (bool, error) {
	p, err := NewProvider(d, db)
	if err != nil {
		return false, err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, err
	}
	return !pending, nil
}

// Checksum is a hex SHA-256 over every embedded migration file (names and
// contents), so a copy of a migrated database can be told apart from one
// made with other migrations.
func Checksum() string {
	h := sha256.New()
	_ = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}
