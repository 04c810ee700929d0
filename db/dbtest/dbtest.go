// Package dbtest gives tests a migrated, throw-away store on each backend:
// a SQLite file in the test's temporary folder, or a PostgreSQL database
// with a unique name that is dropped when the test ends.
//
// PostgreSQL is found through GEOETL_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it cannot
// be reached the test is skipped with one line, unless CI=true, where it
// fails.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/migrations"

	_ "modernc.org/sqlite" // the "sqlite" driver, for VACUUM INTO
)

// DefaultPostgresURL is the server tests use when GEOETL_TEST_POSTGRES_URL
// is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the URL of the test server's maintenance database.
func PostgresURL() string {
	if u := os.Getenv("GEOETL_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// SQLite returns a migrated store in a file under t.TempDir(), closed when
// the test ends.
func SQLite(t testing.TB) geoetl.Store {
	t.Helper()
	return SQLiteWith(t, db.Options{})
}

// SQLiteWith is SQLite with options (a fake clock, say).
func SQLiteWith(t testing.TB, opts db.Options) geoetl.Store {
	t.Helper()
	s, _ := SQLiteURL(t, opts)
	return s
}

// SQLiteURL is SQLiteWith that also returns the database URL, for tests
// that open a second store on the same file.
func SQLiteURL(t testing.TB, opts db.Options) (geoetl.Store, string) {
	t.Helper()
	u := MigratedSQLiteURL(t)
	return mustOpen(t, u, opts), u
}

// MigratedSQLiteURL returns the URL of a new SQLite file under t.TempDir()
// with every migration applied. The file is a copy of a template migrated
// once per migration set, which is much faster than running the migrations
// for each test.
func MigratedSQLiteURL(t testing.TB) string {
	t.Helper()
	tmpl, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("dbtest: SQLite template: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "geoetl.db")
	if err := copyFile(tmpl, dst); err != nil {
		t.Fatalf("dbtest: copy SQLite template: %v", err)
	}
	return "sqlite:" + dst
}

// Postgres returns a migrated store on a new database of the test server,
// and that database's URL (for a second instance, say). The database is
// dropped when the test ends.
func Postgres(t testing.TB) (geoetl.Store, string) {
	t.Helper()
	return PostgresWith(t, db.Options{})
}

// PostgresWith is Postgres with options.
func PostgresWith(t testing.TB, opts db.Options) (geoetl.Store, string) {
	t.Helper()
	u := MigratedPostgresDB(t)
	return mustOpen(t, u, opts), u
}

// NewPostgresDB creates an empty database with a unique name on the test
// server and returns its URL; it is dropped (WITH (FORCE)) when the test
// ends. Not migrated.
func NewPostgresDB(t testing.TB) string {
	t.Helper()
	return createDB(t, "")
}

// MigratedPostgresDB is NewPostgresDB with every migration applied. It
// copies a template database that holds the current migrations (created
// once per cluster and migration set, named after their checksum), which
// is several times faster than migrating each new database.
func MigratedPostgresDB(t testing.TB) string {
	t.Helper()
	tmpl, err := template(t)
	if err != nil {
		t.Fatalf("dbtest: template database: %v", err)
	}
	return createDB(t, tmpl)
}

// createDB creates a uniquely named database, from tmpl if set, and drops
// it when the test ends.
func createDB(t testing.TB, tmpl string) string {
	t.Helper()
	admin := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unreachable(t, admin, err)
	}
	defer conn.Close(context.Background())
	name := "geoetl_test_" + randomHex(8)
	q := "CREATE DATABASE " + name
	if tmpl != "" {
		q += " TEMPLATE " + tmpl
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	if tmpl != "" {
		// A throw-away database need not wait for each commit to reach the
		// disk (a commit still sees and is seen as before; only a crash of
		// the server could lose it). Most of a store test's time on a busy
		// machine was that flush. Empty databases (NewPostgresDB) keep the
		// server's setting: the chaos tests run real instances on them.
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+name+" SET synchronous_commit = off"); err != nil {
			t.Fatalf("dbtest: configure database %s: %v", name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(t, admin, name)
}

// unreachable skips (or, with CI=true, fails) a test whose server is down.
func unreachable(t testing.TB, u string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("dbtest: PostgreSQL at %s is unreachable (CI=true, so this fails): %v", redact(u), err)
	}
	t.Skipf("PostgreSQL at %s unreachable, skipping (set GEOETL_TEST_POSTGRES_URL): %v", redact(u), err)
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "the configured URL"
	}
	return p.Redacted()
}

func withDatabase(t testing.TB, u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("dbtest: bad GEOETL_TEST_POSTGRES_URL: %v", err)
	}
	p.Path = "/" + name
	return p.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustOpen(t testing.TB, u string, opts db.Options) geoetl.Store {
	t.Helper()
	s, err := db.Open(context.Background(), u, opts)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Each runs body once per backend, as subtests "sqlite" and "postgres";
// open gives a fresh migrated store of that backend each time it is called.
func Each(t *testing.T, body func(t *testing.T, open func(t *testing.T) geoetl.Store)) {
	t.Helper()
	EachWith(t, func(t *testing.T, open func(t *testing.T, opts db.Options) geoetl.Store) {
		body(t, func(t *testing.T) geoetl.Store { return open(t, db.Options{}) })
	})
}

// EachWith is Each where open takes options (a fake clock, say).
func EachWith(t *testing.T, body func(t *testing.T, open func(t *testing.T, opts db.Options) geoetl.Store)) {
	t.Helper()
	eachWith(t, false, body)
}

// EachParallel is Each with the two backends' subtests running at once
// (t.Parallel): for a body that shares nothing between them. Like every
// parallel subtest, they run after the calling function has returned.
func EachParallel(t *testing.T, body func(t *testing.T, open func(t *testing.T) geoetl.Store)) {
	t.Helper()
	eachWith(t, true, func(t *testing.T, open func(t *testing.T, opts db.Options) geoetl.Store) {
		body(t, func(t *testing.T) geoetl.Store { return open(t, db.Options{}) })
	})
}

func eachWith(t *testing.T, parallel bool, body func(t *testing.T, open func(t *testing.T, opts db.Options) geoetl.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		if parallel {
			t.Parallel()
		}
		body(t, func(t *testing.T, opts db.Options) geoetl.Store { t.Helper(); return SQLiteWith(t, opts) })
	})
	t.Run("postgres", func(t *testing.T) {
		if parallel {
			t.Parallel()
		}
		body(t, func(t *testing.T, opts db.Options) geoetl.Store {
			t.Helper()
			s, _ := PostgresWith(t, opts)
			return s
		})
	})
}

var tmplOnce struct {
	sync.Mutex
	name string
}

// template returns the name of the migrated template database, creating it
// if this cluster does not have it yet. An advisory lock on the maintenance
// database keeps test processes running in parallel from building it twice.
func template(t testing.TB) (string, error) {
	tmplOnce.Lock()
	defer tmplOnce.Unlock()
	if tmplOnce.name != "" {
		return tmplOnce.name, nil
	}
	admin := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unreachable(t, admin, err)
	}
	defer conn.Close(context.Background())
	name := "geoetl_tmpl_" + migrations.Checksum()[:16]
	// Session-level lock and unlock on this one connection (never through a
	// pool, where the unlock could land on another session).
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('geoetl dbtest template'))"); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('geoetl dbtest template'))")
	var ready bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&ready)
	if err != nil {
		return "", err
	}
	if !ready {
		// A half-built template left by a crashed run is rebuilt.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return "", err
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", err
		}
		if err := db.MigrateUp(ctx, withDatabase(t, admin, name)); err != nil {
			return "", fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+name+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
			return "", err
		}
	}
	tmplOnce.name = name
	return name, nil
}

var sqliteTmpl struct {
	sync.Mutex
	path string
}

// sqliteTemplate returns the path of a migrated SQLite file for the current
// migration set, building it once per machine: it is kept in the system's
// temporary folder under the migrations' checksum, so a changed migration
// gets a new template and an old one is never reused. It is built under a
// private name and renamed into place, so test processes running in
// parallel never see half a file.
func sqliteTemplate() (string, error) {
	sqliteTmpl.Lock()
	defer sqliteTmpl.Unlock()
	if sqliteTmpl.path != "" {
		return sqliteTmpl.path, nil
	}
	dir := filepath.Join(os.TempDir(), "geoetl-dbtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "sqlite-"+migrations.Checksum()[:16]+".db")
	if _, err := os.Stat(path); err == nil {
		sqliteTmpl.path = path
		return path, nil
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	migrated := filepath.Join(work, "migrated.db")
	ctx := context.Background()
	if err := db.MigrateUp(ctx, "sqlite:"+migrated); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	// VACUUM INTO writes one self-contained file, with nothing left in a
	// write-ahead log beside it, so a plain file copy is a whole database.
	packed := filepath.Join(work, "template.db")
	sdb, err := sql.Open("sqlite", migrated)
	if err != nil {
		return "", err
	}
	_, err = sdb.ExecContext(ctx, "VACUUM INTO ?", packed)
	if cerr := sdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("vacuum into template: %w", err)
	}
	if err := os.Rename(packed, path); err != nil {
		return "", err
	}
	sqliteTmpl.path = path
	return path, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
