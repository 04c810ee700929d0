package sqlstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/internal/sqlstore"
)

// TestFlights_ReadersAtOnceShareTheFirstCountOnPostgres: eight readers
// asking at once for a search never listed before count its total (a
// broad search) or read its keys (a narrow one) once between them; the
// others bring what that one kept up to date. Each still gets the total a
// store that keeps nothing counts.
func TestFlights_ReadersAtOnceShareTheFirstCountOnPostgres(t *testing.T) {
	t.Parallel()
	st, _ := dbtest.Postgres(t)
	store := st.(*sqlstore.Store)
	ten := &geoetl.Tenant{Name: "flights"}
	if err := st.CreateTenant(bg, ten); err != nil {
		t.Fatal(err)
	}
	wf := &geoetl.Workflow{TenantID: ten.ID, Name: "w", Definition: []byte(`{}`)}
	if err := st.CreateWorkflow(bg, wf); err != nil {
		t.Fatal(err)
	}
	var batch []*geoetl.Schedule
	for i := 0; i < 2000; i++ {
		x := geoetl.NewSchedule()
		x.TenantID, x.WorkflowID, x.CronExpression = ten.ID, wf.ID, "0 2 * * *"
		x.Name, x.Description = fmt.Sprintf("s %04d", i), "fill"
		if i%10 == 0 {
			x.Description = "hit"
		}
		batch = append(batch, x)
	}
	if _, err := st.CreateSchedules(bg, batch, 0, nil); err != nil {
		t.Fatal(err)
	}
	// "fill" is broad for a store that lets the index find at most 100.
	broad := sqlstore.WithSearchLimits(store, 100, 0)
	fresh := sqlstore.WithoutSearchIndex(store)
	for _, c := range []struct {
		st *sqlstore.Store
		q  string
	}{{broad, "fill"}, {store, "hit"}} {
		f := geoetl.ScheduleFilter{TenantID: ten.ID, Q: c.q, Page: geoetl.Page{Limit: 5}}
		_, want, _, err := fresh.FindSchedules(bg, f)
		if err != nil {
			t.Fatal(err)
		}
		before := sqlstore.Afresh(store)
		start := make(chan struct{})
		var wg sync.WaitGroup
		totals := make([]int, 8)
		for r := range totals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, n, _, err := c.st.FindSchedules(bg, f)
				if err != nil {
					t.Error(err)
				}
				totals[r] = n
			}()
		}
		close(start)
		wg.Wait()
		for _, n := range totals {
			if n != want {
				t.Fatalf("q=%q: totals %v, want %d each", c.q, totals, want)
			}
		}
		if got := sqlstore.Afresh(store) - before; got != 1 {
			t.Errorf("q=%q: 8 readers at once counted or read the keys %d times, want once", c.q, got)
		}
	}
}
