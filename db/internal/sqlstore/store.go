package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// Store implements geoetl.Store over a Backend.
type Store struct {
	b     Backend
	d     *Dialect
	clock clock.Clock
	log   *slog.Logger
	// search holds the limits of the indexed schedule search.
	search searchLimits
	// totals holds the totals of schedule lists by tenant and filter, with
	// the generation they are true at, where the dialect logs list
	// changes.
	totals *lru.Cache[totalKey, keptTotal]
	// snapTotals holds them with the snapshot they are true in, where
	// the dialect logs list changes by transaction.
	snapTotals *lru.Cache[totalKey, snapTotal]
	// broad holds the searches (tenant and q) that the dialect's search
	// index could not narrow when last asked, with how often they have
	// been listed since.
	broad *lru.Cache[string, int]
	// anchors holds, per list filter, the keys of rows at known offsets
	// (see list_anchors.go).
	anchors *lru.Cache[totalKey, []anchor]

	// fold runs the last-run folder (last_runs_aside.go); shared by
	// copies of the store.
	fold *folding
}

var _ geoetl.Store = (*Store)(nil)

// New returns a store over b. A nil clk means the database's clock.
func New(b Backend, clk clock.Clock, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &Store{b: b, d: b.Dialect(), clock: clk, log: log, search: defaultSearchLimits, fold: &folding{}}
	if st.d.ListChanges != "" {
		st.totals, _ = lru.New[totalKey, keptTotal](totalsCached)
	}
	if st.d.SearchIndex != nil {
		st.broad, _ = lru.New[string, int](broadCached)
	}
	if st.d.SnapshotChanges != "" {
		st.snapTotals, _ = lru.New[totalKey, snapTotal](totalsCached)
		st.anchors, _ = lru.New[totalKey, []anchor](totalsCached)
	}
	return st
}

// Backend returns the backend the store runs on.
func (s *Store) Backend() Backend { return s.b }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.b.Ping(ctx) }

// MigrationsCurrent reports whether every migration has been applied.
func (s *Store) MigrationsCurrent(ctx context.Context) (bool, error) {
	return s.b.MigrationsCurrent(ctx)
}

// Close releases the database.
func (s *Store) Close() error {
	s.stopFolder()
	return s.b.Close()
}

// Now returns the store's clock: the injected one, or the database's.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	err := s.b.InTx(ctx, ReadOnly, "", func(tx Tx) error {
		var err error
		now, err = s.now(ctx, tx)
		return err
	})
	return now, err
}

// now is the store's clock within tx, at the precision the columns keep.
func (s *Store) now(ctx context.Context, tx Tx) (time.Time, error) {
	if s.clock != nil {
		return micro(s.clock.Now()), nil
	}
	t, err := tx.Now(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return micro(t), nil
}

// micro returns t in UTC at microsecond precision, as both databases keep it.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func microp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	m := micro(*t)
	return &m
}

func (s *Store) read(ctx context.Context, tenantID string, fn func(Tx) error) error {
	return s.b.InTx(ctx, ReadOnly, tenantID, fn)
}

func (s *Store) write(ctx context.Context, tenantID string, fn func(Tx) error) error {
	return s.b.InTx(ctx, ReadWrite, tenantID, fn)
}

// t encodes a time argument; tp a nullable one.
func (s *Store) t(t time.Time) any { return s.d.Time(micro(t)) }

func (s *Store) tp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.d.Time(micro(*t))
}

// normID lower-cases an id and reports whether it is a UUID at all. Ids
// that are not UUIDs cannot exist, so callers answer ENOTFOUND without
// asking PostgreSQL, which would reject the cast.
func normID(id string) (string, bool) {
	if !geoetl.IsUUID(id) {
		return "", false
	}
	return strings.ToLower(id), true
}

// normIDs keeps the well-formed ids of ids, lower-cased.
func normIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if n, ok := normID(id); ok {
			out = append(out, n)
		}
	}
	return out
}

// newID returns id lower-cased, or a new id when it is empty. A malformed
// id is invalid input.
func newID(id string) (string, error) {
	if id == "" {
		return geoetl.NewID(), nil
	}
	n, ok := normID(id)
	if !ok {
		return "", &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{"id": {"must be a UUID"}}}
	}
	return n, nil
}

// tenantID validates a tenant id argument; a malformed one owns nothing.
func tenantID(id string) (string, bool) { return normID(id) }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// nullStr encodes a nullable string.
func nullStr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}

func nullInt64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// addSearch adds the condition that one of the lower-cased columns cols
// contains q, ignoring case.
func (s *Store) addSearch(w *where, q string, cols ...string) {
	a := w.arg(strings.ToLower(q))
	n, _ := strconv.Atoi(a[1:])
	conds := make([]string, len(cols))
	for i, c := range cols {
		conds[i] = s.d.Contains(c, n)
	}
	w.conds = append(w.conds, "("+strings.Join(conds, " OR ")+")")
}

// searchSep joins name and description in a schedule's search_lc, so one
// substring test per row covers both (half the work of testing two
// columns, which is what a search over 100,000 schedules costs). No search
// string contains it in practice; one that does could match across the two.
const searchSep = "\x1f"

// searchText is the search_lc of a schedule.
func searchText(name, description string) string {
	return strings.ToLower(name) + searchSep + strings.ToLower(description)
}

// placeholders returns "($a,$b,...),(...)" for rows of width columns
// numbered from start+1.
func placeholders(rows, width, start int) string {
	b := make([]byte, 0, rows*width*6)
	n := start
	for r := 0; r < rows; r++ {
		if r > 0 {
			b = append(b, ',')
		}
		b = append(b, '(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b = append(b, ',')
			}
			n++
			b = append(b, '$')
			b = strconv.AppendInt(b, int64(n), 10)
		}
		b = append(b, ')')
	}
	return string(b)
}
