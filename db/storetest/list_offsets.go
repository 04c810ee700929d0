package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/geoetl/geoetl"
)

// listOffsets pins down pages asked for by offset, deep into a list of
// more than a thousand schedules, whole and searched: each holds the rows
// that walking the list by cursor finds at that place, with the total the
// walk counts, also when schedules were added, renamed, edited, paused and
// deleted before and after the page since the same page was last asked
// for (a store may seek from where an earlier page began, and must then
// account for every change before it).
func (s *suite) listOffsets(t *testing.T) {
	st, _ := s.fresh(t)
	w := newWorld(t, st)
	other := newWorld(t, st)
	const n = 1300
	batch := make([]*geoetl.Schedule, 0, n)
	for i := 0; i < n; i++ {
		x := newSchedule(w.ten.ID, w.wf.ID, fmt.Sprintf("m %04d", i))
		// Four in five match the search below, so its pages go deep too.
		x.Description = "even"
		if i%5 == 0 {
			x.Description = "odd"
		}
		x.Tags = []string{fmt.Sprintf("t%d", i%3)}
		batch = append(batch, x)
	}
	errs, err := st.CreateSchedules(bg, batch, 0, nil)
	noErr(t, err)
	for _, err := range errs {
		noErr(t, err)
	}
	// Another tenant's schedules sort among the tenant's.
	for i := 0; i < 5; i++ {
		mustSchedule(t, st, other.ten.ID, other.wf.ID, func(x *geoetl.Schedule) { x.Name = fmt.Sprintf("m %04d", 1000+i) })
	}
	filters := map[string]geoetl.ScheduleFilter{
		"all":    {},
		"q":      {Q: "even"},
		"tag":    {Tag: "t1"},
		"paused": {Status: geoetl.StatusPaused},
	}
	// walk lists every schedule the filter selects, in name order, by
	// cursor.
	walk := func(t *testing.T, f geoetl.ScheduleFilter) []string {
		t.Helper()
		f.TenantID, f.Limit = w.ten.ID, geoetl.MaxPageLimit
		var ids []string
		for {
			got, _, next, err := st.FindSchedules(bg, f)
			noErr(t, err)
			ids = append(ids, scheduleIDs(got)...)
			if next == "" {
				return ids
			}
			f.Cursor = next
		}
	}
	check := func(t *testing.T, step string) {
		t.Helper()
		for name, f := range filters {
			want := walk(t, f)
			for _, off := range []int{0, 7, 999, 1000, 1003, 1040, 1190, len(want) - 3, len(want)} {
				if off < 0 {
					continue
				}
				g := f
				g.TenantID, g.Limit, g.Offset = w.ten.ID, 20, off
				got, total, next, err := st.FindSchedules(bg, g)
				noErr(t, err)
				start := min(off, len(want))
				end := min(off+20, len(want))
				wantPage := want[start:end]
				if !slices.Equal(scheduleIDs(got), wantPage) || total != len(want) || (next != "") != (end < len(want)) {
					t.Fatalf("after %s, %s at offset %d: %d rows, total %d, next %q; want %d rows, total %d\ngot  %v\nwant %v",
						step, name, off, len(got), total, next, len(wantPage), len(want), scheduleIDs(got), wantPage)
				}
			}
		}
	}
	check(t, "creating them")
	check(t, "nothing")
	update := func(t *testing.T, id string, edit func(*geoetl.Schedule)) {
		t.Helper()
		_, err := st.UpdateSchedule(bg, w.ten.ID, id, nil, func(x *geoetl.Schedule) error { edit(x); return nil })
		noErr(t, err)
	}
	steps := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"adding schedules before the deep pages", func(t *testing.T) {
			for i := 0; i < 4; i++ {
				w.schedule(t, func(x *geoetl.Schedule) {
					x.Name = fmt.Sprintf("a %d", i)
					x.Description = "even"
					x.Tags = []string{"t1"}
				})
			}
		}},
		{"deleting schedules before them", func(t *testing.T) {
			for _, i := range []int{3, 500, 998} {
				noErr(t, st.DeleteSchedule(bg, w.ten.ID, batch[i].ID))
			}
		}},
		{"deleting the first row of a deep page", func(t *testing.T) { noErr(t, st.DeleteSchedule(bg, w.ten.ID, batch[1003].ID)) }},
		{"renaming one from before a page to after it", func(t *testing.T) {
			update(t, batch[10].ID, func(x *geoetl.Schedule) { x.Name = "z moved" })
		}},
		{"renaming one from after to before", func(t *testing.T) {
			update(t, batch[1250].ID, func(x *geoetl.Schedule) { x.Name = "b moved" })
		}},
		{"rewording, retagging and pausing before the pages", func(t *testing.T) {
			update(t, batch[20].ID, func(x *geoetl.Schedule) { x.Description = "odd" })
			update(t, batch[21].ID, func(x *geoetl.Schedule) { x.Description = "even" })
			update(t, batch[22].ID, func(x *geoetl.Schedule) { x.Tags = []string{"t1"} })
			noErr(t, st.SetScheduleStatus(bg, w.ten.ID, batch[23].ID, geoetl.StatusPaused, nil))
		}},
		{"changing what no filter sees", func(t *testing.T) {
			update(t, batch[30].ID, func(x *geoetl.Schedule) { x.CronExpression = "0 3 * * *" })
		}},
		{"adding schedules after the deep pages", func(t *testing.T) {
			for i := 0; i < 3; i++ {
				w.schedule(t, func(x *geoetl.Schedule) { x.Name = fmt.Sprintf("y %d", i); x.Description = "even" })
			}
		}},
	}
	for _, step := range steps {
		step.change(t)
		check(t, step.name)
	}
}

// listsUnderWriters lists a search and a deep page while writers add,
// edit and delete schedules before them; once the writers are done, a
// total and a page, however the store kept them meanwhile (with a
// snapshot of some reader's, say), are what a walk of the list finds.
func (s *suite) listsUnderWriters(t *testing.T) {
	st := s.open(t, nil)
	w := newWorld(t, st)
	const n = 1100
	batch := make([]*geoetl.Schedule, 0, n)
	for i := 0; i < n; i++ {
		x := newSchedule(w.ten.ID, w.wf.ID, fmt.Sprintf("c %04d", i))
		x.Description = "hit"
		batch = append(batch, x)
	}
	errs, err := st.CreateSchedules(bg, batch, 0, nil)
	noErr(t, err)
	for _, err := range errs {
		noErr(t, err)
	}
	filters := []geoetl.ScheduleFilter{
		{TenantID: w.ten.ID, Q: "hit", Page: geoetl.Page{Limit: 1}},
		{TenantID: w.ten.ID, Page: geoetl.Page{Limit: 5, Offset: 1050}},
		{TenantID: w.ten.ID, Q: "hit", Page: geoetl.Page{Limit: 5, Offset: 1020}},
	}
	done := make(chan struct{})
	fail := make(chan error, 64)
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, f := range filters {
					if _, _, _, err := st.FindSchedules(bg, f); err != nil {
						fail <- err
						return
					}
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for wr := 0; wr < 4; wr++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			var mine []*geoetl.Schedule
			for i := 0; i < 15; i++ {
				x := newSchedule(w.ten.ID, w.wf.ID, fmt.Sprintf("b %d-%02d", wr, i))
				x.Description = "hit"
				if err := st.CreateSchedule(bg, x); err != nil {
					fail <- err
					return
				}
				mine = append(mine, x)
				var err error
				switch i % 3 {
				case 1:
					err = st.DeleteSchedule(bg, w.ten.ID, mine[0].ID)
					mine = mine[1:]
				case 2:
					_, err = st.UpdateSchedule(bg, w.ten.ID, batch[wr*100+i].ID, nil, func(x *geoetl.Schedule) error {
						x.Description = "miss"
						return nil
					})
				}
				if err != nil {
					fail <- err
					return
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	readers.Wait()
	close(fail)
	for err := range fail {
		t.Fatal(err)
	}
	for _, f := range filters {
		walk := f
		walk.Limit, walk.Offset = geoetl.MaxPageLimit, 0
		var want []string
		for {
			got, _, next, err := st.FindSchedules(bg, walk)
			noErr(t, err)
			want = append(want, scheduleIDs(got)...)
			if next == "" {
				break
			}
			walk.Cursor = next
		}
		for i := 0; i < 3; i++ {
			got, total, _, err := st.FindSchedules(bg, f)
			noErr(t, err)
			wantPage := want[min(f.Offset, len(want)):min(f.Offset+f.Limit, len(want))]
			if total != len(want) || !slices.Equal(scheduleIDs(got), wantPage) {
				t.Fatalf("q=%q offset %d after the writers: total %d, want %d; page %v, want %v", f.Q, f.Offset, total, len(want), scheduleIDs(got), wantPage)
			}
		}
	}
}
