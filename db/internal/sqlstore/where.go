package sqlstore

import (
	"context"
	"strconv"
	"strings"

	"github.com/geoetl/geoetl"
)

// where builds a conjunction of conditions whose "$?" placeholders are
// numbered in the order their arguments are added.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "$?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

// arg adds an argument and returns its placeholder.
func (w *where) arg(a any) string {
	w.args = append(w.args, a)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(w.conds, " AND ")
}

func (w *where) clone() *where {
	return &where{conds: append([]string(nil), w.conds...), args: append([]any(nil), w.args...)}
}

// limit returns the LIMIT (one row more than the page, to learn whether
// another page follows) and, without a cursor, the OFFSET clause.
func (w *where) limit(p geoetl.Page) string {
	s := " LIMIT " + w.arg(int64(p.Limit+1))
	if p.Cursor == "" && p.Offset > 0 {
		s += " OFFSET " + w.arg(int64(p.Offset))
	}
	return s
}

// total returns how many rows of table match w. A first page that came
// back short already holds every match, so then no count runs: a search
// for something rare would otherwise scan the tenant's rows twice.
func (s *Store) total(ctx context.Context, tx Tx, table string, w *where, p geoetl.Page, got int) (int, error) {
	if p.Cursor == "" && got <= p.Limit && (got > 0 || p.Offset == 0) {
		return p.Offset + got, nil
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE `+w.sql(), w.args...).Scan(&n)
	return n, err
}
