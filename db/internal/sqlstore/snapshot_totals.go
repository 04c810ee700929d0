package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/geoetl/geoetl"
)

// snapTotal is a list's total as of a PostgreSQL snapshot: the one of the
// statement that counted it (or last brought it up to date), as
// pg_current_snapshot() gives it.
type snapTotal struct {
	snapshot string
	n        int
}

// snapshotTotal is scheduleTotal where the dialect logs list changes with
// the transaction that made them (Dialect.SnapshotChanges, PostgreSQL
// 00012). A kept total is brought up to date with the logged changes,
// filtered like the list, that its snapshot did not see and the statement
// reading them does; it is used only while every change its snapshot saw
// is also seen now (always, but for a reader whose snapshot is older than
// the one that last kept the total) and none of the changes it lacks has
// been pruned. Otherwise the list is counted, in the same statement as
// the snapshot it is then kept with: by one reader at a time (flights),
// the others bringing what it kept up to date.
func (s *Store) snapshotTotal(ctx context.Context, tx Tx, f geoetl.ScheduleFilter, table string, w, exact *where) (int, error) {
	key := totalKey(fmt.Sprintf("%s %#v", exact.sql(), exact.args))
	for attempt := 0; attempt < 2; attempt++ {
		if kept, ok := s.snapTotals.Get(key); ok {
			if n, ok, err := s.advanceTotal(ctx, tx, key, kept, exact); err != nil || ok {
				return n, err
			}
		}
		if attempt > 0 {
			break
		}
		lead, done, err := s.flights.begin(ctx, "total "+string(key))
		if err != nil {
			return 0, err
		}
		if lead {
			defer done()
			break
		}
	}
	q, args := `SELECT (SELECT count(*) FROM `+table+` WHERE `+w.sql()+`), pg_current_snapshot()::text`, w.args
	// A search the index did not narrow (w holds no candidate keys)
	// counts the narrow copy.
	if f.Q != "" && f.Status == "" && f.Tag == "" && f.WorkflowID == "" && len(w.conds) == len(exact.conds) && s.d.SearchCount != "" {
		q, args = `SELECT (`+s.d.SearchCount+`), pg_current_snapshot()::text`, []any{strings.ToLower(f.Q)}
	}
	var n int
	var now string
	if err := tx.QueryRow(ctx, q, args...).Scan(&n, &now); err != nil {
		return 0, err
	}
	s.afresh.Add(1)
	s.keepTotal(key, snapTotal{snapshot: now, n: n})
	return n, nil
}

// advanceTotal brings kept up to date in the statement's snapshot; ok is
// false when it cannot (see snapshotTotal).
func (s *Store) advanceTotal(ctx context.Context, tx Tx, key totalKey, kept snapTotal, exact *where) (n int, ok bool, err error) {
	k, err := parseSnapshot(kept.snapshot)
	if err != nil {
		return 0, false, nil
	}
	cw := exact.clone()
	cw.add("xid >= $?::xid8", strconv.FormatUint(k.xmin, 10))
	cw.add("NOT pg_visible_in_snapshot(xid, $?::pg_snapshot)", kept.snapshot)
	// exact begins with the tenant's condition: $1 is its id.
	var delta int
	var now, horizon string
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(sign), 0), pg_current_snapshot()::text, `+
		`coalesce((SELECT xid FROM `+s.d.SnapshotHorizon+` WHERE tenant_id = $1), '0')::text FROM `+s.d.SnapshotChanges+
		` WHERE `+cw.sql(), cw.args...).Scan(&delta, &now, &horizon); err != nil {
		return 0, false, err
	}
	h, herr := strconv.ParseUint(horizon, 10, 64)
	cur, cerr := parseSnapshot(now)
	if herr != nil || cerr != nil || h > k.xmin || !k.within(cur) {
		return 0, false, nil
	}
	n = kept.n + delta
	s.keepTotal(key, snapTotal{snapshot: now, n: n})
	return n, true, nil
}

// keepTotal keeps t unless the total kept already is of a snapshot that
// t's does not contain (see keepMatches).
func (s *Store) keepTotal(key totalKey, t snapTotal) {
	if old, ok := s.snapTotals.Peek(key); ok && !newerSnapshot(old.snapshot, t.snapshot) {
		return
	}
	s.snapTotals.Add(key, t)
}

// snapshot is a PostgreSQL snapshot: transactions before xmin are
// finished, those from xmax on had not begun, and those in xip were in
// progress.
type snapshot struct {
	xmin, xmax uint64
	xip        []uint64
}

// parseSnapshot reads the text of a pg_snapshot: "xmin:xmax:xip,xip,…".
func parseSnapshot(t string) (snapshot, error) {
	parts := strings.Split(t, ":")
	if len(parts) != 3 {
		return snapshot{}, fmt.Errorf("sqlstore: snapshot %q", t)
	}
	var sn snapshot
	var err error
	if sn.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return snapshot{}, err
	}
	if sn.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return snapshot{}, err
	}
	if parts[2] != "" {
		for _, x := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return snapshot{}, err
			}
			sn.xip = append(sn.xip, v)
		}
	}
	return sn, nil
}

// within reports whether every transaction that sn sees as committed, cur
// does too: each transaction before sn.xmax that cur sees in progress was
// in progress for sn as well, and cur does not end before sn.
func (sn snapshot) within(cur snapshot) bool {
	if cur.xmax < sn.xmax {
		return false
	}
	for _, x := range cur.xip {
		if x >= sn.xmax {
			continue
		}
		found := false
		for _, y := range sn.xip {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
