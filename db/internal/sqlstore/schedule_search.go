package sqlstore

import "context"

// searchLimits decide between the trigram index and a scan of the
// tenant's rows, whose costs were measured on 100,000 schedules: a
// candidate row costs about 3 µs to look up by key, sort and count, a row
// tested in sort order about 0.25 µs, and a scan stops early when a page
// fills (a broad search) but must then still count every row.
type searchLimits struct {
	// maxRows is how many candidate rows (of every tenant) an index lookup
	// may find before the search gives the index up and scans instead: a
	// search that matches a large part of the tenant costs less as a scan.
	maxRows int
	// scanFactor: a tenant with at most this many schedules per candidate
	// row is scanned, which then costs less than the lookups would; and a
	// tenant of a few schedules in a large database never pays for other
	// tenants' candidates.
	scanFactor int
}

var defaultSearchLimits = searchLimits{maxRows: 2000, scanFactor: 8}

// broadRecheck: a search the index could not narrow asks it again every
// this many lists; in between it scans at once.
const broadRecheck = 64

// broadCached bounds how many such searches a store remembers.
const broadCached = 1024

// scheduleSearchKeys asks the dialect's trigram index, if any, for the
// schedules whose search_lc may contain q (lower-cased). indexed is false
// when the search should test every row of the tenant instead: no index,
// a q the index cannot answer for, too many candidates, or a tenant small
// enough to scan. Otherwise keys is a JSON array of candidate keys (of any
// tenant), and n how many; with n zero nothing can match.
func (s *Store) scheduleSearchKeys(ctx context.Context, tx Tx, tid, q string) (keys string, n int, indexed bool, err error) {
	ix := s.d.SearchIndex
	if ix == nil {
		return "", 0, false, nil
	}
	// A search found broad a moment ago is still broad, most likely: it
	// scans without asking the index, which for a broad search costs more
	// than the scan's first page (it reads every candidate's entry). It
	// asks again now and then; either way the answer is the same.
	bkey := tid + "\x00" + q
	if s.broad != nil {
		if uses, ok := s.broad.Get(bkey); ok && uses%broadRecheck != 0 {
			s.broad.Add(bkey, uses+1)
			return "", 0, false, nil
		}
	}
	keys, n, ok, err := ix.Candidates(ctx, tx, q, s.search.maxRows)
	if err != nil || !ok {
		if err == nil && s.broad != nil {
			s.broad.Add(bkey, 1)
		}
		return "", 0, false, err
	}
	if s.broad != nil {
		s.broad.Remove(bkey)
	}
	if n == 0 {
		return keys, 0, true, nil
	}
	limit := s.search.scanFactor * n
	var tenantRows int
	if s.d.StatusCount != "" {
		// The tenant's size from the counts kept by status.
		err = tx.QueryRow(ctx, s.d.StatusCount, tid, "").Scan(&tenantRows)
	} else {
		err = tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM schedules WHERE tenant_id = $1 LIMIT $2) t`, tid, int64(limit+1)).Scan(&tenantRows)
	}
	if err != nil || tenantRows <= limit {
		return "", 0, false, err
	}
	return keys, n, true, nil
}
