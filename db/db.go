// Package db opens the store named by a database URL and applies the
// embedded migrations.
//
// URLs: "sqlite:PATH" (also "sqlite://PATH", "sqlite:///ABS/PATH",
// "file:PATH" and "sqlite::memory:") selects SQLite; "postgres://…" or
// "postgresql://…" selects PostgreSQL.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db/inprocess"
	"github.com/geoetl/geoetl/db/migrations"
	"github.com/geoetl/geoetl/db/postgres"
	"github.com/geoetl/geoetl/db/sqlite"
)

// Options configure a store.
type Options struct {
	// Clock replaces the database's clock as the store's Now; nil uses the
	// database's (PostgreSQL's now(), the local clock on SQLite).
	Clock clock.Clock
	// Logger receives the store's warnings; nil discards them.
	Logger *slog.Logger
	// MaxConns sizes the PostgreSQL pool (default postgres.DefaultMaxConns)
	// or the SQLite read pool.
	MaxConns int
}

// Kind is the database family a URL names.
type Kind string

const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Parse tells which database a URL names and returns what its driver
// needs: the file path for SQLite, the URL itself for PostgreSQL.
func Parse(url string) (Kind, string, error) {
	u := strings.TrimSpace(url)
	if u == "" {
		return "", "", fmt.Errorf("empty database URL (use sqlite:PATH or postgres://…)")
	}
	lower := strings.ToLower(u)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return Postgres, u, nil
	case strings.HasPrefix(lower, "sqlite:"), strings.HasPrefix(lower, "sqlite3:"), strings.HasPrefix(lower, "file:"), u == ":memory:":
		p, err := sqlite.URLPath(u)
		if err != nil {
			return "", "", err
		}
		return SQLite, p, nil
	}
	scheme, _, ok := strings.Cut(u, ":")
	if !ok || strings.ContainsAny(scheme, "/\\. ") {
		return "", "", fmt.Errorf("database URL %q has no scheme (use sqlite:PATH or postgres://…)", u)
	}
	return "", "", fmt.Errorf("unsupported database URL scheme %q (use sqlite:PATH or postgres://…)", scheme)
}

// Open opens the store at url. It does not migrate (except an in-memory
// SQLite database, which nothing else could reach): run MigrateUp first.
func Open(ctx context.Context, url string, opts Options) (geoetl.Store, error) {
	kind, target, err := Parse(url)
	if err != nil {
		return nil, err
	}
	if kind == Postgres {
		return postgres.Open(ctx, target, postgres.Options{Clock: opts.Clock, Logger: opts.Logger, MaxConns: opts.MaxConns})
	}
	return sqlite.Open(ctx, target, sqlite.Options{Clock: opts.Clock, Logger: opts.Logger, MaxReaders: opts.MaxConns})
}

// OpenCluster returns how the instances using the database at url stay in
// step: LISTEN/NOTIFY and an advisory lock on PostgreSQL; on SQLite, which
// cannot carry messages between processes, the instances of this process
// only. Each call returns a new cluster: give every instance in a process
// the same one.
func OpenCluster(url string) (geoetl.Cluster, error) {
	kind, target, err := Parse(url)
	if err != nil {
		return nil, err
	}
	if kind == Postgres {
		return postgres.NewCluster(target), nil
	}
	return inprocess.New(), nil
}

// MigrateUp applies every pending migration. Several instances may call it
// at once against one PostgreSQL database: one migrates, the others wait
// for its lock and then find nothing to do.
func MigrateUp(ctx context.Context, url string) error {
	return Migrate(ctx, url, "up", io.Discard)
}

// Migrate runs "up" (apply all pending), "down" (roll back the latest) or
// "status" (list every migration and whether it is applied), writing one
// line per migration to w.
func Migrate(ctx context.Context, url string, direction string, w io.Writer) error {
	switch direction {
	case "up", "down", "status":
	default:
		return fmt.Errorf("unknown migrate command %q (use up, down or status)", direction)
	}
	kind, target, err := Parse(url)
	if err != nil {
		return err
	}
	if kind == SQLite && sqlite.IsMemory(target) {
		return fmt.Errorf("an in-memory SQLite database is migrated when it is opened; nothing to do here")
	}
	sdb, dialect, err := openSQL(kind, target)
	if err != nil {
		return err
	}
	defer sdb.Close()
	p, err := migrations.NewProvider(dialect, sdb)
	if err != nil {
		return err
	}
	switch direction {
	case "up":
		res, err := p.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(w, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(1e6))
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(res) == 0 {
			fmt.Fprintln(w, "no pending migrations")
		}
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		fmt.Fprintf(w, "rolled back %s\n", r.Source.Path)
	case "status":
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		for _, s := range st {
			at := "pending"
			if s.State == goose.StateApplied {
				at = "applied " + s.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
			}
			fmt.Fprintf(w, "%-40s %s\n", s.Source.Path, at)
		}
	}
	return nil
}

// openSQL opens a database/sql handle for goose.
func openSQL(kind Kind, target string) (*sql.DB, migrations.Dialect, error) {
	if kind == Postgres {
		cfg, err := pgx.ParseConfig(target)
		if err != nil {
			return nil, "", fmt.Errorf("postgres: %w", err)
		}
		return stdlib.OpenDB(*cfg), migrations.Postgres, nil
	}
	sdb, err := sql.Open("sqlite", sqlite.DSN(target, true))
	if err != nil {
		return nil, "", err
	}
	sdb.SetMaxOpenConns(1)
	return sdb, migrations.SQLite, nil
}
