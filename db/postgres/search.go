package postgres

import (
	"context"
	"unicode"

	"github.com/geoetl/geoetl/db/internal/sqlstore"
)

// searchIndex reads the trigram index on schedule_search through
// schedule_search_candidates (migration 00009) and, for a statement that
// reads the rows too, schedule_search_ids (00016); both return ids of the
// transaction's tenant only.
var searchIndex = &sqlstore.SearchIndex{
	Candidates: searchCandidates,
	From:       "schedules",
	KeyIn:      "id = ANY($?::text::uuid[])",
	Func:       "schedule_search_ids",
	Indexable:  trigramSearchable,
}

// searchCandidates returns the ids, as the text of a uuid array, of the
// tenant's schedules whose search_lc contains q, when there are at most
// limit. Those are exactly the matches (the function tests the same
// substring in an identical copy of search_lc); the store tests them
// again on schedules, under the tenant's policy.
func searchCandidates(ctx context.Context, tx sqlstore.Querier, q string, limit int) (string, int, bool, error) {
	if !trigramSearchable(q) {
		return "", 0, false, nil
	}
	var n int
	var ids string
	if err := tx.QueryRow(ctx, `SELECT n, ids FROM schedule_search_candidates($1, $2)`, q, int32(limit+1)).Scan(&n, &ids); err != nil || n > limit {
		return "", 0, false, err
	}
	return ids, n, true, nil
}

// trigramSearchable reports whether q holds a run of three letters or
// digits. pg_trgm makes trigrams of the words of a pattern (runs of
// letters and digits); from shorter ones it gets few or none, and then
// the index narrows nothing and its lookup reads every entry, which costs
// more than a scan of the tenant's rows.
func trigramSearchable(q string) bool {
	run := 0
	for _, r := range q {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if run++; run >= 3 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}
