// Package sqlite is the SQLite store (modernc.org/sqlite, pure Go): the
// default for a single instance.
//
// It keeps one writer connection, whose transactions all begin IMMEDIATE,
// and a pool of read-only connections. A single writer means writers queue
// in Go instead of failing with SQLITE_BUSY (which deferred transactions
// that read and then write do under load, busy timeout or not), and WAL
// lets the readers go on meanwhile. Every PRAGMA is in the DSN so that each
// new connection gets it.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db/internal/sqlstore"
	"github.com/geoetl/geoetl/db/migrations"
)

// Options configure a SQLite store.
type Options struct {
	// Clock replaces the local clock as the store's Now (tests).
	Clock clock.Clock
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// MaxReaders bounds the read pool (default: the number of CPUs, at
	// least 4).
	MaxReaders int
	// WALLimit is the WAL content, in bytes, past which the store restarts
	// the WAL (checkpoint.go: readers never leave a gap under steady
	// load); default 32 MiB, negative turns the check off.
	WALLimit int64

	walCheckInterval time.Duration // tests
}

// pragmas go into every connection's DSN, never through Exec, so that a
// connection the pool opens later gets them too. mmap_size lets reads use
// the OS page cache directly instead of a pread per page through the 2 MB
// page cache: counting a tenant's 100,000 schedules for a list's total
// drops from about 22 ms to 8 ms.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=mmap_size(268435456)"

// writerPragmas are for the one writer connection. A batch of a thousand
// schedules (an import) touches more pages than the default 2 MB page
// cache holds: they spilled into the WAL mid-transaction and were written
// there again when touched again. Statement journals (a multi-row INSERT
// with triggers keeps one to undo just that statement) stay in memory
// instead of going through a temporary file. The readers keep the
// defaults, so memory grows by one cache, not one per connection.
const writerPragmas = "&_txlock=immediate&_pragma=cache_size(-65536)&_pragma=temp_store(2)"

// IsMemory reports whether path names an in-memory database.
func IsMemory(path string) bool {
	return path == ":memory:" || strings.HasPrefix(path, "file::memory:") || strings.Contains(path, "mode=memory")
}

// DSN returns the driver data source name for a database file (or
// ":memory:"), for the writer or for a reader.
func DSN(path string, writer bool) string {
	name := path
	sep := "?"
	if strings.Contains(name, "?") {
		sep = "&"
	}
	if !strings.HasPrefix(name, "file:") {
		name = "file:" + escapePath(name)
	}
	dsn := name + sep + pragmas
	if writer {
		return dsn + writerPragmas
	}
	return dsn + "&_pragma=query_only(1)"
}

// escapePath escapes the characters that end a path in a file: URI.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Open opens (creating if needed) the database at path. It does not
// migrate, except an in-memory database, which nothing else could reach.
func Open(ctx context.Context, path string, opts Options) (geoetl.Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	mem := IsMemory(path)
	writer, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		return nil, err
	}
	// One writer connection, kept open forever: an in-memory database lives
	// exactly as long as its connection.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	reader := writer
	if !mem {
		if reader, err = sql.Open("sqlite", DSN(path, false)); err != nil {
			writer.Close()
			return nil, err
		}
		n := opts.MaxReaders
		if n <= 0 {
			n = max(4, runtime.NumCPU())
		}
		reader.SetMaxOpenConns(n)
		reader.SetMaxIdleConns(n)
	}
	b := &backend{writer: newDB(writer), reader: newDB(reader), mem: mem}
	if !mem && opts.WALLimit >= 0 {
		limit, every := opts.WALLimit, opts.walCheckInterval
		if limit == 0 {
			limit = defaultWALLimit
		}
		if every <= 0 {
			every = walCheckInterval
		}
		log := opts.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		if b.checkpoints, err = startCheckpointer(ctx, path, writer, limit, every, log); err != nil {
			b.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	if mem {
		p, err := migrations.NewProvider(migrations.SQLite, writer)
		if err == nil {
			_, err = p.Up(ctx)
		}
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("sqlite: migrate in-memory database: %w", err)
		}
	}
	return sqlstore.New(b, opts.Clock, opts.Logger), nil
}

type backend struct {
	writer, reader *db
	mem            bool
	checkpoints    *checkpointer // nil in memory
}

var dialect = &sqlstore.Dialect{
	Name: "sqlite",
	Time: func(t time.Time) any { return t.UnixMicro() },
	// A unary plus keeps SQLite from using an index for the term.
	NotIndexed: func(col string) string { return "+" + col },
	IDList: func(ids []string) any {
		b, _ := json.Marshal(ids)
		return string(b)
	},
	InIDs: func(col string, n int) string {
		return fmt.Sprintf("%s IN (SELECT value FROM json_each($%d))", col, n)
	},
	InTexts: func(col string, n int) string {
		return fmt.Sprintf("%s IN (SELECT value FROM json_each($%d))", col, n)
	},
	// The substring test on the JSON text (encoded as the store encodes
	// it) is a cheap filter that spares most rows the json_each scan, which
	// alone decides.
	HasTag: func(tag string) (string, []any) {
		needle, _ := json.Marshal(tag)
		return "(instr(tags, $?) > 0 AND EXISTS (SELECT 1 FROM json_each(tags) WHERE value = $?))", []any{string(needle), tag}
	},
	Contains: func(col string, n int) string {
		return fmt.Sprintf("instr(%s, $%d) > 0", col, n)
	},
	SearchIndex: searchIndex,
	// Migration 00006.
	ListChanges: "schedule_list_changes",
	StatusCount: `SELECT coalesce(sum(n), 0) FROM schedule_status_counts WHERE tenant_id = $1 AND ($2 = '' OR status = $2)`,
	// Migration 00013.
	BulkScheduleInsert: bulkScheduleInsert,
	HourBucket: func(col string) string {
		return fmt.Sprintf("((%s / 3600000000) * 3600000000)", col)
	},
	UniqueViolation: func(err error) (string, bool) {
		var e *sqlite.Error
		if errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			return e.Error(), true
		}
		return "", false
	},
	ValuesFrom: true,
	// SQLITE_MAX_VARIABLE_NUMBER is 32766 since SQLite 3.32.
	MaxParams: 32766,
}

func (b *backend) Dialect() *sqlstore.Dialect { return dialect }

func (b *backend) Ping(ctx context.Context) error { return b.reader.db.PingContext(ctx) }

// MigrationsCurrent reads the migration state on a reader: /readyz asks,
// and behind a busy writer it would wait for seconds.
func (b *backend) MigrationsCurrent(ctx context.Context) (bool, error) {
	return migrations.Current(ctx, migrations.SQLite, b.reader.db)
}

func (b *backend) Close() error {
	if b.checkpoints != nil {
		b.checkpoints.close()
	}
	err := b.writer.close()
	if b.reader != b.writer {
		err = errors.Join(err, b.reader.close())
	}
	return err
}

// InTx runs fn in a transaction on the writer (ReadWrite) or a reader. The
// tenant needs no enforcement beyond the queries' own filters: SQLite has
// no row-level security.
func (b *backend) InTx(ctx context.Context, mode sqlstore.TxMode, _ string, fn func(sqlstore.Tx) error) error {
	d := b.reader
	if mode == sqlstore.ReadWrite {
		d = b.writer
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer d.preparePending(context.WithoutCancel(ctx))
	if err := fn(&txn{tx: tx, db: d}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// db is a *sql.DB with a cache of prepared statements: SQLite spends a
// good part of a small query preparing it, and database/sql re-uses a
// statement prepared on a connection when a transaction on that connection
// asks for it again. A statement is prepared after the transaction that
// first needed it has ended: preparing on the *sql.DB while a transaction
// holds the only writer connection would wait for that very connection.
type db struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

// maxCachedStmts bounds the cache; statements past it are prepared per use
// (lists with many filter combinations and multi-row inserts of odd sizes).
const maxCachedStmts = 256

func newDB(d *sql.DB) *db {
	return &db{db: d, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// cached returns the prepared statement for query, or nil after noting
// that it should be prepared.
func (d *db) cached(query string) *sql.Stmt {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.stmts[query]; ok {
		return s
	}
	if len(d.stmts)+len(d.pending) < maxCachedStmts {
		d.pending[query] = true
	}
	return nil
}

// preparePending prepares the statements noted since the last call. It
// runs outside any transaction of this goroutine.
func (d *db) preparePending(ctx context.Context) {
	d.mu.Lock()
	if len(d.pending) == 0 {
		d.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(d.pending))
	for q := range d.pending {
		queries = append(queries, q)
	}
	d.pending = map[string]bool{}
	d.mu.Unlock()
	for _, q := range queries {
		s, err := d.db.PrepareContext(ctx, q)
		if err != nil {
			continue // the statement still works unprepared
		}
		d.mu.Lock()
		if _, dup := d.stmts[q]; dup {
			s.Close()
		} else {
			d.stmts[q] = s
		}
		d.mu.Unlock()
	}
}

func (d *db) close() error {
	d.mu.Lock()
	for _, s := range d.stmts {
		s.Close()
	}
	d.stmts = map[string]*sql.Stmt{}
	d.mu.Unlock()
	return d.db.Close()
}

type txn struct {
	tx *sql.Tx
	db *db
}

// prepared returns the transaction's copy of the cached statement for
// query, or nil when it is not prepared yet.
func (t *txn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s := t.db.cached(numbered(query))
	if s == nil {
		return nil, nil
	}
	return t.tx.StmtContext(ctx, s), nil
}

func (t *txn) Now(context.Context) (time.Time, error) { return time.Now(), nil }

// numbered rewrites the shared SQL's $n parameters for SQLite. SQLite
// treats "$n" as a parameter name, and both parsing and the driver's
// binding (sqlite3_bind_parameter_name per parameter) scan the list of
// names, which is quadratic: a multi-row insert with 30,000 parameters
// spent half a minute there. When the parameters appear once each, in
// order ($1, $2, ...), anonymous "?" carries no name at all; otherwise
// "?n" keeps the numbering (statements like that are small). The SQL of
// this module has no "$" inside string literals.
func numbered(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	b := []byte(query)
	inOrder, want := true, 1
	for i := 0; i < len(b); i++ {
		if b[i] != '$' || i+1 >= len(b) || b[i+1] < '0' || b[i+1] > '9' {
			continue
		}
		j := i + 1
		n := 0
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			n = n*10 + int(b[j]-'0')
			j++
		}
		if n != want {
			inOrder = false
		}
		want++
		b[i] = '?'
	}
	if !inOrder {
		return string(b)
	}
	// Drop the numbers after each '?' that was a parameter.
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		out = append(out, b[i])
		if b[i] == '?' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' {
			for i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' {
				i++
			}
		}
	}
	return string(out)
}

func (t *txn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	s, err := t.prepared(ctx, query)
	if err != nil {
		return 0, err
	}
	var res sql.Result
	if s != nil {
		res, err = s.ExecContext(ctx, args...)
	} else {
		res, err = t.tx.ExecContext(ctx, numbered(query), args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *txn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	s, err := t.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if s != nil {
		rows, err = s.QueryContext(ctx, args...)
	} else {
		rows, err = t.tx.QueryContext(ctx, numbered(query), args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (t *txn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	s, err := t.prepared(ctx, query)
	if err != nil {
		return errRow{err}
	}
	if s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, numbered(query), args...)
}

func (t *txn) ExecBatch(ctx context.Context, query string, argLists [][]any) ([]int64, error) {
	if len(argLists) == 0 {
		return nil, nil
	}
	s, err := t.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		if s, err = t.tx.PrepareContext(ctx, numbered(query)); err != nil {
			return nil, err
		}
		defer s.Close()
	}
	counts := make([]int64, len(argLists))
	for i, args := range argLists {
		res, err := s.ExecContext(ctx, args...)
		if err != nil {
			return nil, err
		}
		if counts[i], err = res.RowsAffected(); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// URLPath extracts the file path from a sqlite URL ("sqlite:PATH",
// "sqlite://PATH", "sqlite:///ABS/PATH", "file:PATH"), keeping any query.
func URLPath(u string) (string, error) {
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		u = strings.TrimPrefix(u, "sqlite://")
	case strings.HasPrefix(u, "sqlite3://"):
		u = strings.TrimPrefix(u, "sqlite3://")
	case strings.HasPrefix(u, "sqlite:"):
		u = strings.TrimPrefix(u, "sqlite:")
	case strings.HasPrefix(u, "sqlite3:"):
		u = strings.TrimPrefix(u, "sqlite3:")
	case strings.HasPrefix(u, "file:"):
		return u, nil
	case u == ":memory:":
	default:
		return "", fmt.Errorf("not a sqlite URL: %q", u)
	}
	if u == "" {
		return "", errors.New("sqlite URL has no path (use sqlite:PATH)")
	}
	if p, err := url.PathUnescape(u); err == nil && !strings.Contains(u, "?") {
		u = p
	}
	return u, nil
}
