package sqlstore

import (
	"context"
	"fmt"

	"github.com/geoetl/geoetl"
)

// totalsCached bounds how many schedule-list totals a store keeps: each
// is a few hundred bytes, and a console session asks for a handful.
const totalsCached = 1024

// totalKey names one list: the tenant and the filter's SQL with its
// arguments.
type totalKey struct {
	tenant string
	filter string
}

// keptTotal is a list's total as of a generation of the tenant's lists.
type keptTotal struct {
	generation int64
	n          int
}

// scheduleTotal is total for a list of the tenant's schedules. A count
// reads every matching schedule (15 ms for 100,000 on SQLite, several
// times that for a broad search), and the pages of a list, its refreshes
// and the console's repeated views ask for the same one. Where the dialect
// keeps list generations (see SQLite migration 00006):
//   - a list filtered by status alone, or not at all, reads the tenant's
//     counts by status;
//   - any other total is kept with the generation it was counted at. The
//     same generation means nothing a filter can see has changed; a newer
//     one, that the changes logged since then, filtered like the list,
//     add up to the difference. Only a list never counted before (or
//     whose changes were pruned since) is counted.
//
// Everything is read in the transaction that lists, so on SQLite the
// generation, the changes and the rows are one snapshot.
func (s *Store) scheduleTotal(ctx context.Context, tx Tx, tid string, f geoetl.ScheduleFilter, table string, w *where, p geoetl.Page, got int) (int, error) {
	if s.totals == nil || (p.Cursor == "" && got <= p.Limit && (got > 0 || p.Offset == 0)) {
		return s.total(ctx, tx, table, w, p, got)
	}
	if f.Q == "" && f.Tag == "" && f.WorkflowID == "" {
		var n int
		err := tx.QueryRow(ctx, s.d.StatusCount, tid, string(f.Status)).Scan(&n)
		return n, err
	}
	var gen int64
	if err := tx.QueryRow(ctx, s.d.ListGeneration, tid).Scan(&gen); err != nil {
		return 0, err
	}
	key := totalKey{tenant: tid, filter: fmt.Sprintf("%s WHERE %s %#v", table, w.sql(), w.args)}
	kept, ok := s.totals.Get(key)
	if ok && kept.generation == gen {
		return kept.n, nil
	}
	// The change log holds the filter columns of schedules, not their
	// rowids: a search narrowed by the trigram index (another table name)
	// is counted, which is cheap as its candidates are few.
	if ok && kept.generation < gen && table == "schedules" {
		n, applied, err := s.applyListChanges(ctx, tx, tid, w, kept, gen)
		if err != nil {
			return 0, err
		}
		if applied {
			s.totals.Add(key, keptTotal{generation: gen, n: n})
			return n, nil
		}
	}
	n, err := s.total(ctx, tx, table, w, p, got)
	if err == nil {
		s.totals.Add(key, keptTotal{generation: gen, n: n})
	}
	return n, err
}

// applyListChanges brings a kept total up to generation gen with the
// changes logged since it was taken, filtered by the list's own where. Each
// generation has one logged change and pruning removes the oldest, so the
// log answers when its oldest change is at most one past the kept total;
// otherwise ok is false and the caller counts.
func (s *Store) applyListChanges(ctx context.Context, tx Tx, tid string, w *where, kept keptTotal, gen int64) (n int, ok bool, err error) {
	var oldest int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(min(generation), 0) FROM `+s.d.ListChanges+` WHERE tenant_id = $1`, tid).Scan(&oldest); err != nil {
		return 0, false, err
	}
	if oldest == 0 || oldest > kept.generation+1 {
		return 0, false, nil
	}
	cw := w.clone()
	cw.add("generation > $?", kept.generation)
	cw.add("generation <= $?", gen)
	var delta int
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(sign), 0) FROM `+s.d.ListChanges+` WHERE `+cw.sql(), cw.args...).Scan(&delta); err != nil {
		return 0, false, err
	}
	return kept.n + delta, true, nil
}
