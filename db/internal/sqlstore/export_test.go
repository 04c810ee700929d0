package sqlstore

import (
	"context"
	"strings"
)

// WithoutSearchIndex returns a copy of s whose schedule searches test
// every row and whose totals are always counted, the reference the
// indexed search and the kept totals must agree with.
func WithoutSearchIndex(s *Store) *Store {
	c, d := *s, *s.d
	d.SearchIndex = nil
	c.d = &d
	c.totals, c.snapTotals, c.broad, c.anchors, c.matches = nil, nil, nil, nil, nil
	return &c
}

// WithSearchLimits returns a copy of s with other limits for the indexed
// search: a scanFactor of 0 uses the index whatever the tenant's size.
func WithSearchLimits(s *Store, maxRows, scanFactor int) *Store {
	c := *s
	c.search = searchLimits{maxRows: maxRows, scanFactor: scanFactor}
	return &c
}

// SearchIndexed reports whether a search for q among the tenant's
// schedules reads the trigram index.
func (s *Store) SearchIndexed(ctx context.Context, tenantID, q string) (bool, error) {
	var indexed bool
	err := s.read(ctx, tenantID, func(tx Tx) error {
		var err error
		_, _, indexed, err = s.scheduleSearchKeys(ctx, tx, tenantID, strings.ToLower(q))
		return err
	})
	return indexed, err
}

// Afresh is how many list totals the store (and its copies) counted, and
// search keys it read through the index, rather than brought up to date.
func Afresh(s *Store) int64 { return s.afresh.Load() }
