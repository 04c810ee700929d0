// Package sqlstore implements geoetl.Store once, over a small Backend
// interface that db/sqlite and db/postgres provide. Every query is written
// once, with $n placeholders (SQLite reads them as numbered parameters), and
// the few places where the SQL dialects differ go through Dialect. Keeping
// one implementation is what makes the two stores behave identically; the
// conformance suite in db/storetest checks that they do.
package sqlstore

import (
	"context"
	"time"
)

// Querier runs statements. Row.Scan returns sql.ErrNoRows (never a
// driver-specific error) when there is no row.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	// ExecBatch runs query once for each argument list (a prepared
	// statement on SQLite, one pipelined round trip on PostgreSQL) and
	// returns the number of rows each run affected.
	ExecBatch(ctx context.Context, query string, argLists [][]any) ([]int64, error)
}

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result.
type Row interface {
	Scan(dest ...any) error
}

// Tx is a Querier inside one transaction.
type Tx interface {
	Querier
	// Now is the backend's clock for this transaction: PostgreSQL's now()
	// (the start of the transaction), or the local clock on SQLite.
	Now(ctx context.Context) (time.Time, error)
}

// TxMode says what a transaction will do.
type TxMode int

const (
	// ReadOnly transactions read a consistent snapshot.
	ReadOnly TxMode = iota
	// ReadWrite transactions write; on SQLite they take the single writer.
	ReadWrite
)

// Backend is what a database driver provides to the shared store.
type Backend interface {
	// InTx runs fn in one transaction, committing when fn returns nil. A
	// non-empty tenantID makes the transaction tenant-scoped: on PostgreSQL
	// it runs as the row-level-security role with that tenant set, so the
	// database itself hides other tenants' rows. An empty tenantID is
	// cross-tenant work (claims, sign-in lookups).
	InTx(ctx context.Context, mode TxMode, tenantID string, fn func(Tx) error) error
	Dialect() *Dialect
	Ping(ctx context.Context) error
	MigrationsCurrent(ctx context.Context) (bool, error)
	Close() error
}

// Dialect holds the few pieces of SQL and argument encoding that differ
// between SQLite and PostgreSQL.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// NotIndexed wraps a column in a condition so the planner does not pick
	// an index for it (nil: the column as is). SQLite, without statistics,
	// reads a schedule's executions through the tenant's time index (every
	// run of the tenant, newest first) instead of the schedule's own.
	NotIndexed func(col string) string
	// Time encodes a time argument (unix microseconds on SQLite).
	Time func(t time.Time) any
	// IDList encodes a list of ids as one argument for InIDs.
	IDList func(ids []string) any
	// InIDs returns a condition that col is one of the ids in parameter n.
	InIDs func(col string, n int) string
	// InTexts returns a condition that the text column col is one of the
	// strings in parameter n, a list encoded by IDList.
	InTexts func(col string, n int) string
	// LockSkip is appended to a SELECT whose rows the transaction claims:
	// FOR UPDATE SKIP LOCKED on PostgreSQL, nothing on SQLite, whose
	// single writer serialises claimers.
	LockSkip string
	// Lock is appended to a SELECT whose rows the transaction will update.
	Lock string
	// AdvisoryLocks says the database has transaction-scoped advisory
	// locks, shared by every connection (PostgreSQL): claimers then count
	// a tenant's runs under its run-share locks (tenant_quotas.go).
	// Without them (SQLite) the single writer serialises claimers.
	AdvisoryLocks bool
	// LastRunsAside names the table where an outcome puts the last run of
	// a schedule whose row another transaction holds, for the store to
	// fold in later (last_runs_aside.go); PostgreSQL only. Where it is
	// empty (SQLite, whose single writer holds no row against another)
	// last runs are always written to the schedule row.
	LastRunsAside string
	// HasTag returns a condition that the JSON array column tags holds
	// tag, with "$?" for each of its arguments (see where.add).
	HasTag func(tag string) (cond string, args []any)
	// Contains returns a condition that the text column col contains the
	// string in parameter n (case-sensitively; callers lower-case both).
	Contains func(col string, n int) string
	// SearchIndex, when set, is an index of the trigrams of
	// schedules.search_lc that a schedule search consults before testing
	// rows (SQLite's FTS5 table schedule_search). Nil means a search tests
	// every schedule of the tenant.
	SearchIndex *SearchIndex
	// ListChanges, when set, names the table that logs every change to
	// the set of schedules a list filter can select (SQLite's
	// schedule_list_changes, kept by triggers): tenant_id, generation
	// (numbered per tenant, the newest is the tenant's list generation),
	// sign (+1 a row that joined, -1 one that left) and the filter columns
	// of schedules. The store then keeps the totals of schedule lists and
	// updates them from it. Empty: every list counts afresh.
	ListChanges string
	// SnapshotChanges, when set, names a table that logs the changes
	// ListChanges does, with the transaction that made each (column xid,
	// an xid8) in place of a generation (PostgreSQL 00012, where a
	// generation per tenant would be a hot row); SnapshotHorizon names
	// the table whose row for a tenant holds the xid before which its
	// changes may have been pruned. The store then keeps list totals with
	// the snapshot they were counted in.
	SnapshotChanges string
	SnapshotHorizon string
	// ListPage names a function that returns a page of a tenant's
	// schedules in name order from a key on, filtered like a list
	// (PostgreSQL 00012: schedule_list_page), for pages that seek from
	// an anchor. Empty: no anchors.
	ListPage string
	// StatusCount reads how many schedules tenant $1 has in status $2 (''
	// for all), from counts triggers keep (SQLite 00006, PostgreSQL
	// 00007). Empty: such lists count too.
	StatusCount string
	// FilterCount reads how many schedules tenant $1 has of workflow or
	// with tag ($2 'w' or 't', $3 the workflow id or the tag) in status $4
	// ('' for any), from counts triggers keep (PostgreSQL 00009). Empty:
	// such lists count too.
	FilterCount string
	// SearchCount reads how many schedules of the transaction's tenant
	// have a search_lc containing $1 (lower-cased), for the total of a
	// search the index did not narrow (PostgreSQL 00009: from a narrow
	// copy of the column). Empty: such searches count schedules.
	SearchCount string
	// BulkScheduleInsert, when set, is how CreateSchedules keeps, once per
	// batch, what row triggers on schedules keep for every inserted row
	// (SQLite 00013). Nil: the triggers fire for each row.
	BulkScheduleInsert *BulkScheduleInsert
	// Arrays says that a statement may take arrays as parameters and read
	// them as rows (unnest): the scheduler's writes of many rows then go
	// as one statement each instead of one statement per row (PostgreSQL,
	// where each statement costs the server a plan and an executor run).
	Arrays bool
	// ValuesFrom says that an UPDATE may join a list of rows given as
	// VALUES (UPDATE … FROM (VALUES …) AS u, columns u.column1, …): the
	// scheduler's writes of many rows then go as a few statements of fixed
	// sizes instead of one statement run per row (SQLite, where each run
	// costs the driver a bind, a reset and a context watcher).
	ValuesFrom bool
	// DeferOffset makes a page asked for by offset find its rows' ids
	// first, through the sort order's index alone, and read only those
	// rows: skipping rows by offset in a plain scan reads every skipped
	// row. Only unfiltered lists, whose filter the index holds.
	DeferOffset bool
	// HourBucket truncates a time column to the hour, in UTC.
	HourBucket func(col string) string
	// UniqueViolation reports whether err violates a unique constraint and
	// returns text naming it (the constraint or the columns).
	UniqueViolation func(err error) (string, bool)
	// MaxParams is how many parameters one statement may have.
	MaxParams int
}

// BulkScheduleInsert turns a store's row triggers on schedules inserts off
// for one transaction and does their work for the batch afterwards.
type BulkScheduleInsert struct {
	// Begin turns the insert triggers off for the rest of the
	// transaction.
	Begin string
	// Finish is run in order once the rows are in, with $1 the ids of the
	// schedules the transaction created (IDList, in the order they went
	// in) and $2 their tenant: it writes what the triggers would have
	// written for them.
	Finish []string
	// End turns the triggers back on.
	End string
}

// SearchIndex finds the schedules that may contain a search string through
// an index of the trigrams of their search_lc. It only narrows: the store
// still tests search_lc itself, which alone decides.
type SearchIndex struct {
	// Candidates returns the keys of the rows, of any tenant, whose
	// search_lc may contain q (lower-cased), as a JSON array, and how many
	// there are. ok is false when the index cannot answer for q (fewer
	// than three characters, say) or finds more than limit rows.
	Candidates func(ctx context.Context, tx Querier, q string, limit int) (keys string, n int, ok bool, err error)
	// From reads schedules by key, so that the planner looks the keys up
	// one by one instead of scanning the tenant's rows in sort order.
	From string
	// KeyIn is a condition that a row's key is one of those in a JSON
	// array, with "$?" for that argument (see where.add).
	KeyIn string
}
