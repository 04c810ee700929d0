package sqlstore

import (
	"context"
	"fmt"

	"github.com/geoetl/geoetl"
)

// totalsCached bounds how many schedule-list totals a store keeps: each
// is a few hundred bytes, and a console session asks for a handful.
const totalsCached = 1024

// totalKey names one count: the tenant's list generation it was taken at
// and the filter's SQL with its arguments.
type totalKey struct {
	tenant     string
	generation int64
	filter     string
}

// scheduleTotal is total for a list of the tenant's schedules. A count
// reads every matching schedule (15 ms for 100,000 on SQLite, several
// times that for a broad search), and the pages of a list, its refreshes
// and the console's repeated views ask for the same one, so where the
// dialect keeps a list generation the count is kept against it and taken
// again only once a schedule was added, removed or edited in a way a
// filter can see. The generation is read in the transaction that counts,
// before the count: a change that commits in between is in the count kept
// under the older generation, which no later reader asks for.
//
// A list filtered by status alone, or not at all, reads the tenant's
// counts by status instead, which the same triggers keep.
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
	key := totalKey{tenant: tid, generation: gen, filter: fmt.Sprintf("%s WHERE %s %#v", table, w.sql(), w.args)}
	if n, ok := s.totals.Get(key); ok {
		return n, nil
	}
	n, err := s.total(ctx, tx, table, w, p, got)
	if err == nil {
		s.totals.Add(key, n)
	}
	return n, err
}
