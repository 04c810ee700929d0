package sqlstore

import (
	"context"
	"strconv"
	"strings"

	"github.com/geoetl/geoetl"
)

// A page asked for by a deep offset skips every row before it: 60,000
// index entries for offset 60,000, 30-80 ms on PostgreSQL. Where the
// dialect logs list changes by transaction (Dialect.SnapshotChanges), the
// store keeps, per list filter, anchors: the key (name_lc, id) of the row
// at an offset in some snapshot. The same row's offset now is the anchor's
// plus the changes logged since, filtered like the list, of rows before
// it; a page near an anchor then seeks to its key in the name index and
// skips only the difference. Pages in name order only: the other orders'
// keys (next_run_at, updated_at) change without a logged change.
const (
	// anchorMin is the smallest offset worth an anchor: fewer rows cost
	// less to skip than the log to read.
	anchorMin = 1000
	// anchorReach is how far past an anchor a page may start and still
	// seek from it.
	anchorReach = 2000
	// anchorsPerList bounds the anchors kept for one filter.
	anchorsPerList = 32
)

// anchor is the key of the row at offset rank of a list, in snapshot.
type anchor struct {
	rank     int
	nameLC   string
	id       string
	snapshot string
}

// anchorable reports whether a page of the list may seek from an anchor:
// name order, by offset, deep enough. Any filter: the seek applies the
// list's own (exact, without a search index's candidate keys), and the log
// has its columns.
func (s *Store) anchorable(sort geoetl.ScheduleSort, p geoetl.Page) bool {
	return s.anchors != nil && s.d.ListPage != "" && sort == geoetl.SortByName && p.Cursor == "" && p.Offset >= anchorMin
}

// anchoredPage reads the page at p.Offset (and one row more) of the list
// filtered by f (exact: the same as conditions, its tenant's first), from
// the nearest anchor at or before it. ok is false when no anchor serves:
// none near, one whose changes since were pruned or that saw changes this
// statement does not, rows added before it that put it past the page, or
// no row at all from it.
func (s *Store) anchoredPage(ctx context.Context, tx Tx, key totalKey, f geoetl.ScheduleFilter, exact *where, p geoetl.Page) (out []*geoetl.Schedule, ok bool, err error) {
	list, _ := s.anchors.Get(key)
	var best *anchor
	for i := range list {
		a := &list[i]
		if a.rank <= p.Offset && p.Offset-a.rank <= anchorReach && (best == nil || a.rank > best.rank) {
			best = a
		}
	}
	if best == nil {
		return nil, false, nil
	}
	k, err := parseSnapshot(best.snapshot)
	if err != nil {
		return nil, false, nil
	}
	// One statement, so that the changes and the rows are one snapshot.
	// exact begins with the tenant's condition: $1 is its id. The page
	// comes from the dialect's ListPage, which walks the name index.
	w := exact.clone()
	filter := w.sql()
	xmin, snap := w.arg(strconv.FormatUint(k.xmin, 10)), w.arg(best.snapshot)
	name, id := w.arg(best.nameLC), w.arg(best.id)
	skip, lim := w.arg(int64(p.Offset-best.rank)), w.arg(int64(p.Limit+1))
	opt := func(v string) string {
		if v == "" {
			return w.arg(nil)
		}
		return w.arg(v)
	}
	q := `WITH d AS (SELECT coalesce(sum(sign), 0) AS n, pg_current_snapshot()::text AS snap, ` +
		`coalesce((SELECT xid FROM ` + s.d.SnapshotHorizon + ` WHERE tenant_id = $1), '0')::text AS h FROM ` + s.d.SnapshotChanges +
		` WHERE ` + filter + ` AND xid >= ` + xmin + `::xid8 AND NOT pg_visible_in_snapshot(xid, ` + snap + `::pg_snapshot)` +
		` AND (name_lc, id) < (` + name + `, ` + id + `::uuid))` +
		` SELECT ` + scheduleCols + `, name_lc, d.n, d.snap, d.h FROM d, LATERAL ` + s.d.ListPage + `($1, ` + name + `, ` + id + `::uuid, ` + lim +
		`, greatest(` + skip + ` - d.n, 0), ` + opt(string(f.Status)) + `, ` + opt(strings.ToLower(f.WorkflowID)) + `::uuid, ` + opt(f.Tag) + `, ` +
		opt(strings.ToLower(f.Q)) + `) ORDER BY name_lc, id`
	rows, err := tx.Query(ctx, q, w.args...)
	if err != nil {
		return nil, false, err
	}
	var delta int
	var now, horizon, firstKey string
	var seen bool
	out, err = collect(rows, func(r Row) (*geoetl.Schedule, error) {
		x := &geoetl.Schedule{}
		var nameLC string
		if err := r.Scan(append(scheduleDest(x), &nameLC, &delta, &now, &horizon)...); err != nil {
			return nil, err
		}
		if !seen {
			firstKey, seen = nameLC, true
		}
		fixSchedule(x)
		return x, nil
	})
	if err != nil || len(out) == 0 {
		return nil, false, err
	}
	h, herr := strconv.ParseUint(horizon, 10, 64)
	cur, cerr := parseSnapshot(now)
	if herr != nil || cerr != nil || h > k.xmin || !k.within(cur) || p.Offset-best.rank-delta < 0 {
		return nil, false, nil
	}
	s.keepAnchor(key, anchor{rank: p.Offset, nameLC: firstKey, id: out[0].ID, snapshot: now})
	return out, true, nil
}

// keepAnchor keeps a, in place of an anchor at the same offset.
func (s *Store) keepAnchor(key totalKey, a anchor) {
	list, _ := s.anchors.Get(key)
	next := make([]anchor, 0, len(list)+1)
	for _, b := range list {
		if b.rank != a.rank {
			next = append(next, b)
		}
	}
	if len(next) >= anchorsPerList {
		next = next[1:]
	}
	s.anchors.Add(key, append(next, a))
}
