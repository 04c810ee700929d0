package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/geoetl/geoetl"
)

// A narrow search (at most searchLimits.maxRows matches) read the trigram
// index and looked every candidate up on each page: 25-30 ms of server
// CPU for 'district 42' among 100,000 schedules, since the index's lists
// for common trigrams ('dis', 'ist') hold every row. Where the dialect logs
// list changes by transaction, the store keeps instead, per search filter,
// the keys (name_lc, id) of every schedule it selects, in name order, with
// the snapshot they were read in, and brings them up to date as it does
// a kept total: the logged changes, filtered like the list, that the kept
// snapshot did not see and the statement reading them does, each the
// filter columns of a row that left (sign -1) or joined (+1) the lists,
// with its name_lc. A page is then a slice of the keys and the look-up of
// its rows alone; the total is how many keys there are.
const (
	// matchSetsCached bounds how many searches' keys a store keeps: each
	// holds at most searchLimits.maxRows keys, about 100 bytes a key.
	matchSetsCached = 128
	// matchTries bounds how often a page is read again after a change
	// committed between the statement that brought the keys up to date and
	// the page's; then the search is listed as without kept keys.
	matchTries = 3
)

// matchKey is a row's place in name order: name_lc, then id, both
// compared as bytes, as PostgreSQL compares name_lc (collation "C") and a
// uuid.
type matchKey struct{ nameLC, id string }

func (a matchKey) less(b matchKey) bool {
	return a.nameLC < b.nameLC || (a.nameLC == b.nameLC && a.id < b.id)
}

// matchSet is every key a search filter selects, in name order, as of
// snapshot (pg_current_snapshot() of the statement that read or last
// brought them up to date).
type matchSet struct {
	snapshot string
	keys     []matchKey
}

// searchMatches returns the keys of the schedules the search for q
// (lower-cased) filtered by exact selects, brought up to date in this
// statement's snapshot, or ok false when the store keeps none for it: no
// log by transaction, a q the index cannot answer for, or a search too
// broad for the index (it then lists as without an index). The first
// reader of a search reads its keys through the index while any others
// wait for it (flights), then bring them up to date.
func (s *Store) searchMatches(ctx context.Context, tx Tx, tid, q string, exact *where) (set matchSet, ok bool, err error) {
	ix := s.d.SearchIndex
	if s.matches == nil || ix == nil || ix.Func == "" || !ix.Indexable(q) {
		return matchSet{}, false, nil
	}
	key := totalKey(fmt.Sprintf("%s %#v", exact.sql(), exact.args))
	bkey := tid + "\x00" + q
	for attempt := 0; attempt < 2; attempt++ {
		if kept, ok := s.matches.Get(key); ok {
			set, ok, err := s.advanceMatches(ctx, tx, key, kept, exact)
			if err != nil || ok {
				return set, ok, err
			}
		}
		// A search found broad lists without the index; scheduleSearchKeys
		// counts its uses and asks the index again now and then.
		if uses, ok := s.broad.Peek(bkey); ok && uses%broadRecheck != 0 {
			return matchSet{}, false, nil
		}
		if attempt == 0 {
			lead, done, err := s.flights.begin(ctx, "matches "+string(key))
			if err != nil {
				return matchSet{}, false, err
			}
			if !lead {
				continue
			}
			defer done()
		}
		return s.readMatches(ctx, tx, key, bkey, q, exact)
	}
	return matchSet{}, false, nil
}

// readMatches reads the keys of the search through the index: the
// candidates and their rows in one statement, so in one snapshot (a row
// added between two statements would be in neither the keys nor the
// changes the snapshot did not see, and missing from every later page).
func (s *Store) readMatches(ctx context.Context, tx Tx, key totalKey, bkey, q string, exact *where) (matchSet, bool, error) {
	w := exact.clone()
	qa, la := w.arg(q), w.arg(int32(s.search.maxRows+1))
	rows, err := tx.Query(ctx, `SELECT c.n, m.name_lc, m.id::text, pg_current_snapshot()::text FROM `+s.d.SearchIndex.Func+`(`+qa+`, `+la+`) c `+
		`LEFT JOIN LATERAL (SELECT name_lc, id FROM schedules WHERE `+exact.sql()+` AND id = ANY(c.ids)) m ON true ORDER BY m.name_lc, m.id`, w.args...)
	if err != nil {
		return matchSet{}, false, err
	}
	var n int64
	var snap string
	keys, err := collect(rows, func(r Row) (matchKey, error) {
		var name, id *string
		if err := r.Scan(&n, &name, &id, &snap); err != nil {
			return matchKey{}, err
		}
		if name == nil || id == nil {
			return matchKey{}, nil
		}
		return matchKey{*name, *id}, nil
	})
	if err != nil {
		return matchSet{}, false, err
	}
	if n > int64(s.search.maxRows) {
		s.broad.Add(bkey, 1)
		return matchSet{}, false, nil
	}
	s.afresh.Add(1)
	s.broad.Remove(bkey)
	if len(keys) == 1 && keys[0] == (matchKey{}) {
		keys = nil
	}
	set := matchSet{snapshot: snap, keys: keys}
	s.keepMatches(key, set)
	return set, true, nil
}

// advanceMatches brings kept up to date in the statement's snapshot. ok
// is false when it cannot: changes it lacks were pruned, its snapshot saw
// a change this one does not (a reader that began before the one that
// kept it), or the search now selects more rows than a set keeps.
func (s *Store) advanceMatches(ctx context.Context, tx Tx, key totalKey, kept matchSet, exact *where) (matchSet, bool, error) {
	k, err := parseSnapshot(kept.snapshot)
	if err != nil {
		return matchSet{}, false, nil
	}
	// exact begins with the tenant's condition: $1 is its id.
	w := exact.clone()
	xmin, snap := w.arg(strconv.FormatUint(k.xmin, 10)), w.arg(kept.snapshot)
	rows, err := tx.Query(ctx, `SELECT c.sign, c.name_lc, c.id::text, pg_current_snapshot()::text, `+
		`coalesce((SELECT xid FROM `+s.d.SnapshotHorizon+` WHERE tenant_id = $1), '0')::text FROM (SELECT) one `+
		`LEFT JOIN LATERAL (SELECT sign, name_lc, id FROM `+s.d.SnapshotChanges+` WHERE `+exact.sql()+
		` AND xid >= `+xmin+`::xid8 AND NOT pg_visible_in_snapshot(xid, `+snap+`::pg_snapshot)) c ON true`, w.args...)
	if err != nil {
		return matchSet{}, false, err
	}
	delta := map[matchKey]int{}
	var now, horizon string
	_, err = collect(rows, func(r Row) (struct{}, error) {
		var sign *int
		var name, id *string
		if err := r.Scan(&sign, &name, &id, &now, &horizon); err != nil {
			return struct{}{}, err
		}
		if sign != nil && name != nil && id != nil {
			delta[matchKey{*name, *id}] += *sign
		}
		return struct{}{}, nil
	})
	if err != nil {
		return matchSet{}, false, err
	}
	h, herr := strconv.ParseUint(horizon, 10, 64)
	cur, cerr := parseSnapshot(now)
	if herr != nil || cerr != nil || h > k.xmin || !k.within(cur) {
		return matchSet{}, false, nil
	}
	keys := kept.keys
	if len(delta) > 0 {
		// The changes add up, in any order, to each key's presence now: 1
		// or 0. Anything else means the keys were wrong; read them again.
		keys = make([]matchKey, 0, len(kept.keys)+len(delta))
		for _, m := range kept.keys {
			d := delta[m]
			delete(delta, m)
			switch d {
			case 0:
				keys = append(keys, m)
			case -1:
			default:
				return matchSet{}, false, nil
			}
		}
		for m, d := range delta {
			switch d {
			case 1:
				keys = append(keys, m)
			case 0:
			default:
				return matchSet{}, false, nil
			}
		}
		if len(keys) > s.search.maxRows {
			s.matches.Remove(key)
			return matchSet{}, false, nil
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	}
	set := matchSet{snapshot: now, keys: keys}
	s.keepMatches(key, set)
	return set, true, nil
}

// keepMatches keeps set unless the one kept already is of a snapshot
// that set's does not contain: a reader whose snapshot is older would
// otherwise make every newer reader read its keys again.
func (s *Store) keepMatches(key totalKey, set matchSet) {
	if old, ok := s.matches.Peek(key); ok && !newerSnapshot(old.snapshot, set.snapshot) {
		return
	}
	s.matches.Add(key, set)
}

// newerSnapshot reports whether cur sees every transaction that old
// does, so that what was kept as of old may be replaced by what is true
// in cur.
func newerSnapshot(old, cur string) bool {
	o, err1 := parseSnapshot(old)
	c, err2 := parseSnapshot(cur)
	return err1 != nil || err2 == nil && o.within(c)
}

// matchedPage reads the page of a search from set: in name order the rows
// of a slice of its keys, in another order the first rows of all of them
// in that order (from the cursor on, as addCursor adds it). consistent is
// false when a change the keys lack was committed before the page's
// statement began, which then saw other rows than the keys say.
func (s *Store) matchedPage(ctx context.Context, tx Tx, set matchSet, exact *where, sortBy geoetl.ScheduleSort, page geoetl.Page, c cursor,
	addCursor func(*where) string) (out []*geoetl.Schedule, consistent bool, err error) {
	k, err := parseSnapshot(set.snapshot)
	if err != nil {
		return nil, false, nil
	}
	w := exact.clone()
	var order, lim string
	want := -1
	if sortBy == geoetl.SortByName {
		start := page.Offset
		if page.Cursor != "" {
			after := matchKey{c.Str, strings.ToLower(c.ID)}
			start = sort.Search(len(set.keys), func(i int) bool { return after.less(set.keys[i]) })
		}
		if start >= len(set.keys) {
			return []*geoetl.Schedule{}, true, nil
		}
		window := set.keys[start:min(start+page.Limit+1, len(set.keys))]
		w.add("id = ANY($?::text::uuid[])", uuidArray(window))
		order, want = "name_lc, id", len(window)
	} else {
		if len(set.keys) == 0 {
			return []*geoetl.Schedule{}, true, nil
		}
		w.add("id = ANY($?::text::uuid[])", uuidArray(set.keys))
		order = addCursor(w)
		lim = w.limit(page)
	}
	// The changes the keys lack, filtered like the list: exact's
	// placeholders are the first of w's.
	check := func(w *where) string {
		return `(SELECT count(*) FROM ` + s.d.SnapshotChanges + ` WHERE ` + exact.sql() + ` AND xid >= ` + w.arg(strconv.FormatUint(k.xmin, 10)) +
			`::xid8 AND NOT pg_visible_in_snapshot(xid, ` + w.arg(set.snapshot) + `::pg_snapshot))`
	}
	q := `SELECT ` + scheduleCols + `, ` + check(w) + ` FROM schedules WHERE ` + w.sql() + ` ORDER BY ` + order + lim
	rows, err := tx.Query(ctx, q, w.args...)
	if err != nil {
		return nil, false, err
	}
	changed := 0
	out, err = collect(rows, func(r Row) (*geoetl.Schedule, error) {
		x := &geoetl.Schedule{}
		if err := r.Scan(append(scheduleDest(x), &changed)...); err != nil {
			return nil, err
		}
		fixSchedule(x)
		return x, nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(out) == 0 {
		if want > 0 {
			return nil, false, nil
		}
		// The last page in another order: no row to carry the check.
		cw := exact.clone()
		q := `SELECT ` + check(cw)
		if err := tx.QueryRow(ctx, q, cw.args...).Scan(&changed); err != nil {
			return nil, false, err
		}
	}
	if changed != 0 || (want >= 0 && len(out) != want) {
		return nil, false, nil
	}
	return out, true, nil
}

// uuidArray is the text of a uuid array of the keys' ids.
func uuidArray(keys []matchKey) string {
	var b strings.Builder
	b.Grow(len(keys)*37 + 2)
	b.WriteByte('{')
	for i, m := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.id)
	}
	b.WriteByte('}')
	return b.String()
}
