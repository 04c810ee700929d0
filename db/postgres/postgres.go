// Package postgres is the PostgreSQL store (pgx v5, pgxpool): the choice
// for several instances sharing one database.
//
// Claims lock rows FOR UPDATE SKIP LOCKED, so concurrent claimers take
// disjoint sets, and due checks and leases use the database's clock.
// Tenant-scoped transactions run as the NOLOGIN role geoetl_app with the
// tenant set for the transaction only; the row-level security policies of
// the migrations then hide every other tenant's rows from them, as a second
// line behind each query's own tenant filter.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db/internal/sqlstore"
	"github.com/geoetl/geoetl/db/migrations"
)

// AppRole is the role tenant-scoped transactions run as.
const AppRole = "geoetl_app"

// DefaultMaxConns is the pool size when Options.MaxConns is not set.
const DefaultMaxConns = 10

// IdleInTransactionTimeout is how long a store session may wait for its
// client inside a transaction before the server ends it (and rolls the
// transaction back). The store's transactions send their statements back
// to back, so only a stopped client comes near it.
const IdleInTransactionTimeout = 5 * time.Second

// Options configure a PostgreSQL store.
type Options struct {
	// Clock replaces the database clock as the store's Now (tests).
	Clock clock.Clock
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// MaxConns is the pool size (default DefaultMaxConns).
	MaxConns int
}

// Open connects to the database at url ("postgres://…"). It does not
// migrate.
func Open(ctx context.Context, url string, opts Options) (geoetl.Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConns = DefaultMaxConns
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "geoetl"
	}
	// A session stopped in the middle of a transaction (its process frozen,
	// a paused VM) keeps the transaction's row locks for as long as it is
	// stopped: schedules it had locked for a claim would fire nowhere, and
	// other instances' writes to those rows would wait. The server ends
	// such a session after IdleInTransactionTimeout. The URL may set
	// another value.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(IdleInTransactionTimeout.Milliseconds(), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return sqlstore.New(&backend{pool: pool}, opts.Clock, opts.Logger), nil
}

type backend struct {
	pool *pgxpool.Pool
}

var dialect = &sqlstore.Dialect{
	Name:   "postgres",
	Time:   func(t time.Time) any { return t },
	IDList: func(ids []string) any { return ids },
	InIDs: func(col string, n int) string {
		return fmt.Sprintf("%s = ANY($%d::uuid[])", col, n)
	},
	InTexts: func(col string, n int) string {
		return fmt.Sprintf("%s = ANY($%d::text[])", col, n)
	},
	LockSkip: " FOR UPDATE SKIP LOCKED",
	Lock:     " FOR UPDATE",

	AdvisoryLocks: true,
	LastRunsAside: "schedule_last_runs",
	HasTag: func(tag string) (string, []any) {
		return "tags @> jsonb_build_array($?::text)", []any{tag}
	},
	Contains: func(col string, n int) string {
		return fmt.Sprintf("strpos(%s, $%d) > 0", col, n)
	},
	// A pg_trgm index on schedules.search_lc would never serve a schedule
	// search. Every tenant-scoped read runs under row-level security, and
	// PostgreSQL uses an operator as an index condition ahead of a
	// policy's test only when it is leakproof; LIKE, ILIKE and strpos are
	// not, and marking them so would take a superuser and a promise about
	// their errors that PostgreSQL does not make (checked on PostgreSQL
	// 15: the same search reads the index as superuser and scans the table
	// as geoetl_app). So the index is on a copy, schedule_search, read by
	// a function that runs as its owner and keeps to the transaction's
	// tenant (migration 00009).
	SearchIndex: searchIndex,
	// Counts by status kept by triggers (migration 00007), sharded per
	// writing session: a list filtered by status alone, or not at all,
	// sums them instead of counting the tenant's rows.
	StatusCount:     `SELECT coalesce(sum(n), 0) FROM schedule_status_counts WHERE tenant_id = $1 AND ($2::text = '' OR status = $2::text)`,
	FilterCount:     `SELECT coalesce(sum(n), 0) FROM schedule_filter_counts WHERE tenant_id = $1 AND kind = $2::"char" AND key = $3::text AND ($4::text = '' OR status = $4::text)`,
	SearchCount:     `SELECT schedule_search_count($1::text)`,
	SnapshotChanges: "schedule_list_changes",
	SnapshotHorizon: "schedule_list_horizon",
	ListPage:        "schedule_list_page",
	DeferOffset:     true,
	Arrays:          true,
	HourBucket: func(col string) string {
		return fmt.Sprintf("date_trunc('hour', %s, 'UTC')", col)
	},
	UniqueViolation: func(err error) (string, bool) {
		var e *pgconn.PgError
		if errors.As(err, &e) && e.Code == "23505" {
			return e.ConstraintName, true
		}
		return "", false
	},
	MaxParams: 65535,
}

func (b *backend) Dialect() *sqlstore.Dialect { return dialect }

func (b *backend) Ping(ctx context.Context) error { return b.pool.Ping(ctx) }

func (b *backend) MigrationsCurrent(ctx context.Context) (bool, error) {
	sdb := stdlib.OpenDBFromPool(b.pool)
	defer sdb.Close()
	return migrations.Current(ctx, migrations.Postgres, sdb)
}

func (b *backend) Close() error {
	b.pool.Close()
	return nil
}

// retryable reports whether a transaction failed only because it collided
// with another (a deadlock victim or a serialization failure), so running
// it again is the fix.
func retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40P01" || e.Code == "40001")
}

// InTx runs fn in a transaction. Cross-tenant reads run on the pool without
// one; tenant-scoped work switches to AppRole and sets the tenant, both
// local to the transaction, in the same round trip that reads now().
// Transactions that lost a deadlock are run again (up to three times): fn
// is written to be repeatable, and the Claim callers' functions only act on
// the transaction they are given.
func (b *backend) InTx(ctx context.Context, mode sqlstore.TxMode, tenantID string, fn func(sqlstore.Tx) error) error {
	if tenantID == "" && mode == sqlstore.ReadOnly {
		return fn(&poolQ{pool: b.pool})
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = b.inTx(ctx, mode, tenantID, fn)
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (b *backend) inTx(ctx context.Context, mode sqlstore.TxMode, tenantID string, fn func(sqlstore.Tx) error) error {
	opts := pgx.TxOptions{}
	if mode == sqlstore.ReadOnly {
		opts.AccessMode = pgx.ReadOnly
	}
	tx, err := b.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	t := &txQ{tx: tx}
	if tenantID != "" {
		var now time.Time
		if err := tx.QueryRow(ctx, `SELECT now(), set_config('role', $1, true), set_config('geoetl.tenant_id', $2, true)`,
			AppRole, tenantID).Scan(&now, nil, nil); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("postgres: enter tenant scope: %w", err)
		}
		t.now = &now
	}
	if err := fn(t); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

// querier is what pgx.Tx and *pgxpool.Pool have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

type txQ struct {
	tx  pgx.Tx
	now *time.Time
}

func (t *txQ) Now(ctx context.Context) (time.Time, error) {
	if t.now == nil {
		var now time.Time
		if err := t.tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return time.Time{}, err
		}
		t.now = &now
	}
	return *t.now, nil
}

func (t *txQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return exec(ctx, t.tx, q, args)
}
func (t *txQ) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, t.tx, q, args)
}
func (t *txQ) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{t.tx.QueryRow(ctx, q, args...)}
}
func (t *txQ) ExecBatch(ctx context.Context, q string, argLists [][]any) ([]int64, error) {
	return execBatch(ctx, t.tx, q, argLists)
}

// poolQ runs single statements on the pool, for cross-tenant reads.
type poolQ struct{ pool *pgxpool.Pool }

func (p *poolQ) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	err := p.pool.QueryRow(ctx, `SELECT now()`).Scan(&now)
	return now, err
}

func (p *poolQ) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return exec(ctx, p.pool, q, args)
}
func (p *poolQ) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return query(ctx, p.pool, q, args)
}
func (p *poolQ) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{p.pool.QueryRow(ctx, q, args...)}
}
func (p *poolQ) ExecBatch(ctx context.Context, q string, argLists [][]any) ([]int64, error) {
	return execBatch(ctx, p.pool, q, argLists)
}

func exec(ctx context.Context, q querier, sql string, args []any) (int64, error) {
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func query(ctx context.Context, q querier, sql string, args []any) (sqlstore.Rows, error) {
	r, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

// execBatch sends every statement in one pipeline: one round trip for the
// lot instead of one each.
func execBatch(ctx context.Context, q querier, sql string, argLists [][]any) ([]int64, error) {
	if len(argLists) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	for _, args := range argLists {
		b.Queue(sql, args...)
	}
	br := q.SendBatch(ctx, b)
	counts := make([]int64, len(argLists))
	for i := range argLists {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return nil, err
		}
		counts[i] = tag.RowsAffected()
	}
	return counts, br.Close()
}

type rows struct{ pgx.Rows }

func (r rows) Close() { r.Rows.Close() }

type row struct{ pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}
