package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/geoetl/geoetl"
)

// totalsCached bounds how many schedule-list totals a store keeps: each
// is a few hundred bytes, and a console session asks for a handful.
const totalsCached = 1024

// totalKey names one list: its filter as SQL with the arguments, the
// tenant among them.
type totalKey string

// keptTotal is a list's total as of a generation of the tenant's lists.
type keptTotal struct {
	generation int64
	n          int
}

// scheduleTotal is total for a list of the tenant's schedules. A count
// reads every matching schedule (15 ms for 100,000 on SQLite, several
// times that for a broad search), and the pages of a list, its refreshes
// and the console's repeated views ask for the same one. Where the dialect
// logs list changes (see SQLite migration 00006):
//   - a list filtered by status alone, or not at all, reads the tenant's
//     counts by status; one filtered by a workflow or a tag (and maybe a
//     status), where the dialect keeps such counts, reads those;
//   - any other total is kept with the generation it was counted at. The
//     same generation means nothing a filter can see has changed; a newer
//     one, that the changes logged since then, filtered like the list,
//     add up to the difference. Only a list never counted before (or
//     whose changes were pruned since) is counted.
//
// A count reads table through w; the kept totals and the change log go by
// exact, the same filter on the columns of schedules alone (w may also
// hold the rowids a search index narrowed the rows to, which mean nothing
// in the log and change with every schedule added).
//
// Everything is read in the transaction that lists, so on SQLite the
// generation, the changes and the rows are one snapshot.
func (s *Store) scheduleTotal(ctx context.Context, tx Tx, tid string, f geoetl.ScheduleFilter, table string, w, exact *where, p geoetl.Page, got int) (int, error) {
	if p.Cursor == "" && got <= p.Limit && (got > 0 || p.Offset == 0) {
		return s.total(ctx, tx, table, w, p, got)
	}
	if f.Q == "" && f.Tag == "" && f.WorkflowID == "" && s.d.StatusCount != "" {
		var n int
		err := tx.QueryRow(ctx, s.d.StatusCount, tid, string(f.Status)).Scan(&n)
		return n, err
	}
	if f.Q == "" && (f.Tag == "") != (f.WorkflowID == "") && s.d.FilterCount != "" {
		kind, key := "t", f.Tag
		if f.WorkflowID != "" {
			// FindSchedules has checked that it is an id; lower-cased it
			// is the text PostgreSQL gives a uuid.
			kind, key = "w", strings.ToLower(f.WorkflowID)
		}
		var n int
		err := tx.QueryRow(ctx, s.d.FilterCount, tid, kind, key, string(f.Status)).Scan(&n)
		return n, err
	}
	if s.snapTotals != nil {
		return s.snapshotTotal(ctx, tx, f, table, w, exact)
	}
	// A search the index narrowed (w holds the candidates' keys, exact
	// does not) counts those few rows; one it did not, the narrow copy.
	if f.Q != "" && f.Status == "" && f.Tag == "" && f.WorkflowID == "" && len(w.conds) == len(exact.conds) && s.d.SearchCount != "" {
		var n int
		err := tx.QueryRow(ctx, s.d.SearchCount, strings.ToLower(f.Q)).Scan(&n)
		return n, err
	}
	if s.totals == nil {
		return s.total(ctx, tx, table, w, p, got)
	}
	// The newest and the oldest change left in the tenant's log: each is
	// one step into its primary key (a min and a max in one aggregate
	// would read the whole range).
	var gen, oldest int64
	if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT max(generation) FROM `+s.d.ListChanges+` WHERE tenant_id = $1), 0), `+
		`coalesce((SELECT min(generation) FROM `+s.d.ListChanges+` WHERE tenant_id = $1), 0)`, tid).Scan(&gen, &oldest); err != nil {
		return 0, err
	}
	key := totalKey(fmt.Sprintf("%s %#v", exact.sql(), exact.args))
	kept, ok := s.totals.Get(key)
	if ok && kept.generation == gen {
		return kept.n, nil
	}
	// The log holds every change after kept.generation when its oldest
	// change is at most the next one.
	if ok && kept.generation < gen && oldest <= kept.generation+1 {
		cw := exact.clone()
		cw.add("generation > $?", kept.generation)
		cw.add("generation <= $?", gen)
		var delta int
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(sign), 0) FROM `+s.d.ListChanges+` WHERE `+cw.sql(), cw.args...).Scan(&delta); err != nil {
			return 0, err
		}
		n := kept.n + delta
		s.totals.Add(key, keptTotal{generation: gen, n: n})
		return n, nil
	}
	n, err := s.total(ctx, tx, table, w, p, got)
	if err == nil {
		s.totals.Add(key, keptTotal{generation: gen, n: n})
	}
	return n, err
}
