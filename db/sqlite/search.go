package sqlite

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/geoetl/geoetl/db/internal/sqlstore"
)

// searchIndex reads the FTS5 trigram table schedule_search (migration
// 00004), keyed by the rowid of schedules.
var searchIndex = &sqlstore.SearchIndex{
	Candidates: searchCandidates,
	// NOT INDEXED still allows rowid lookups; it only keeps the planner
	// from walking a sort-order index of the whole tenant and testing each
	// row against the keys.
	From:  "schedules NOT INDEXED",
	KeyIn: "rowid IN (SELECT value FROM json_each($?))",
}

const (
	trigramCountSQL = `SELECT count(*) FROM (SELECT rowid FROM schedule_search WHERE schedule_search MATCH $1 LIMIT $2)`
	trigramRowsSQL  = `SELECT count(*), json_group_array(rowid) FROM (SELECT rowid FROM schedule_search WHERE schedule_search MATCH $1 LIMIT $2)`
)

// searchCandidates lists the rowids of the schedules whose search_lc holds
// every trigram of q that it asks the index about. Reading a trigram's list
// of rows costs in proportion to its length, and a common trigram (as in
// every description) is on most rows, so it first counts each trigram's
// rows, up to limit, and when some are rarer than that asks for the rows
// holding all the rare ones only: a superset of the matches that is still
// small. The store's substring test keeps the result exact.
func searchCandidates(ctx context.Context, tx sqlstore.Querier, q string, limit int) (string, int, bool, error) {
	terms, ok := trigramTerms(q)
	if !ok {
		return "", 0, false, nil
	}
	if len(terms) > 1 {
		var rare []string
		for _, t := range terms {
			var n int
			if err := tx.QueryRow(ctx, trigramCountSQL, t, int64(limit+1)).Scan(&n); err != nil {
				return "", 0, false, err
			}
			if n == 0 {
				return "[]", 0, true, nil
			}
			if n <= limit {
				rare = append(rare, t)
			}
		}
		if len(rare) > 0 {
			terms = rare
		}
	}
	// The keys come back as one JSON text built by SQLite: a row per key
	// through the driver costs more than the lookup itself.
	var keys string
	var n int
	if err := tx.QueryRow(ctx, trigramRowsSQL, strings.Join(terms, " AND "), int64(limit+1)).Scan(&n, &keys); err != nil || n > limit {
		return "", 0, false, err
	}
	return keys, n, true, nil
}

// maxTrigrams bounds how many trigrams of a long search the index is asked
// about: each costs a count, and a few already narrow the rows to little
// more than the matches.
const maxTrigrams = 8

// trigramTerms returns FTS5 terms, one per trigram, for some trigrams of
// q, which the store has lower-cased as it lower-cases search_lc. The index
// keeps case and folds nothing, so its trigrams are the three-character
// runs of search_lc, in any script, and a row that contains q holds each
// of them.
//
// The index cannot answer for fewer than three characters, and not for a
// few code points its tokenizer reads differently from Go: it skips NUL
// and turns U+FFFE and U+FFFF into U+FFFD, so their trigrams are spelled
// otherwise in the index. Those searches test every row instead.
func trigramTerms(q string) ([]string, bool) {
	if !utf8.ValidString(q) || strings.ContainsAny(q, "\x00\uFFFE\uFFFF") {
		return nil, false
	}
	runes := []rune(q)
	if len(runes) < 3 {
		return nil, false
	}
	var terms []string
	seen := map[string]bool{}
	for _, i := range trigramStarts(len(runes)) {
		t := string(runes[i : i+3])
		if seen[t] {
			continue
		}
		seen[t] = true
		// A double-quoted FTS5 string is taken literally, whatever it
		// holds, once its own quotes are doubled.
		terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	return terms, true
}

// trigramStarts returns where the trigrams asked about start in a search
// of n characters (n >= 3): every third character and the last three, so
// that each character of the search falls in one of them, or for a long
// search maxTrigrams starts spread over its whole length.
func trigramStarts(n int) []int {
	last := n - 3
	var starts []int
	if last/3+2 <= maxTrigrams {
		for i := 0; i < last; i += 3 {
			starts = append(starts, i)
		}
		return append(starts, last)
	}
	for j := 0; j < maxTrigrams; j++ {
		starts = append(starts, j*last/(maxTrigrams-1))
	}
	return starts
}
