package postgres_test

import (
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clk clock.Clock) geoetl.Store {
		s, _ := dbtest.PostgresWith(t, db.Options{Clock: clk})
		return s
	})
}
