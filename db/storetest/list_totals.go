package storetest

import (
	"fmt"
	"testing"

	"github.com/geoetl/geoetl"
)

// listTotals pins down that a list's total follows every change a filter
// can see, however the store arrives at it: pages are short (limit 2), so
// every total is a count, asked for again after each change.
func (s *suite) listTotals(t *testing.T) {
	st, _ := s.fresh(t)
	w := newWorld(t, st)
	wf2 := mustWorkflow(t, st, w.ten.ID)
	var all []*geoetl.Schedule
	for i := 0; i < 6; i++ {
		all = append(all, w.schedule(t, func(x *geoetl.Schedule) {
			x.Name = fmt.Sprintf("river %d", i)
			x.Description = "nightly"
			x.Tags = []string{"hydro"}
		}))
	}
	filters := map[string]geoetl.ScheduleFilter{
		"all":      {},
		"paused":   {Status: geoetl.StatusPaused},
		"active":   {Status: geoetl.StatusActive},
		"workflow": {WorkflowID: wf2.ID},
		"firstWf":  {WorkflowID: w.wf.ID},
		"tag":      {Tag: "hydro"},
		// A tag or a workflow with a status: the counts kept per tag and
		// per workflow are by status too.
		"tagPaused": {Tag: "hydro", Status: geoetl.StatusPaused},
		"wfActive":  {WorkflowID: w.wf.ID, Status: geoetl.StatusActive},
		"otherTag":  {Tag: "lake"},
		"q":         {Q: "river"},
		"qDesc":     {Q: "nightly"},
	}
	totals := func(t *testing.T) map[string]int {
		t.Helper()
		out := map[string]int{}
		for name, f := range filters {
			f.TenantID = w.ten.ID
			f.Limit = 2
			_, total, next, err := st.FindSchedules(bg, f)
			noErr(t, err)
			out[name] = total
			// A page further on reports the same total.
			if next != "" {
				f.Cursor = next
				_, again, _, err := st.FindSchedules(bg, f)
				noErr(t, err)
				if again != total {
					t.Fatalf("%s: total %d on the first page, %d on the next", name, total, again)
				}
			}
		}
		return out
	}
	update := func(t *testing.T, x *geoetl.Schedule, edit func(*geoetl.Schedule)) {
		t.Helper()
		_, err := st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error { edit(s); return nil })
		noErr(t, err)
	}
	want := map[string]int{"all": 6, "paused": 0, "active": 6, "workflow": 0, "firstWf": 6, "tag": 6, "q": 6, "qDesc": 6,
		"tagPaused": 0, "wfActive": 6, "otherTag": 0}
	check := func(t *testing.T, step string) {
		t.Helper()
		got := totals(t)
		for name, n := range want {
			if got[name] != n {
				t.Fatalf("after %s: %s total %d, want %d (all totals %v)", step, name, got[name], n, got)
			}
		}
	}
	check(t, "creating six")
	steps := []struct {
		name   string
		change func(t *testing.T)
		moves  map[string]int
	}{
		{"pausing one", func(t *testing.T) { update(t, all[0], func(x *geoetl.Schedule) { x.Status = geoetl.StatusPaused }) },
			map[string]int{"paused": +1, "active": -1, "tagPaused": +1, "wfActive": -1}},
		{"setting a status directly", func(t *testing.T) {
			noErr(t, st.SetScheduleStatus(bg, w.ten.ID, all[1].ID, geoetl.StatusPaused, nil))
		}, map[string]int{"paused": +1, "active": -1, "tagPaused": +1, "wfActive": -1}},
		{"moving one to another workflow", func(t *testing.T) { update(t, all[2], func(x *geoetl.Schedule) { x.WorkflowID = wf2.ID }) },
			map[string]int{"workflow": +1, "firstWf": -1, "wfActive": -1}},
		{"dropping a tag", func(t *testing.T) { update(t, all[3], func(x *geoetl.Schedule) { x.Tags = nil }) }, map[string]int{"tag": -1}},
		{"repeating a tag", func(t *testing.T) {
			update(t, all[3], func(x *geoetl.Schedule) { x.Tags = []string{"lake", "hydro", "lake", "hydro"} })
		}, map[string]int{"tag": +1, "otherTag": +1}},
		{"dropping one of two tags", func(t *testing.T) { update(t, all[3], func(x *geoetl.Schedule) { x.Tags = []string{"lake"} }) },
			map[string]int{"tag": -1}},
		{"renaming one", func(t *testing.T) { update(t, all[4], func(x *geoetl.Schedule) { x.Name = "lake 4" }) }, map[string]int{"q": -1}},
		{"rewording a description", func(t *testing.T) { update(t, all[4], func(x *geoetl.Schedule) { x.Description = "weekly" }) }, map[string]int{"qDesc": -1}},
		{"changing what no filter sees", func(t *testing.T) { update(t, all[5], func(x *geoetl.Schedule) { x.CronExpression = "0 3 * * *" }) }, nil},
		{"creating one", func(t *testing.T) {
			w.schedule(t, func(x *geoetl.Schedule) { x.Name = "river 9"; x.Tags = []string{"hydro"} })
		}, map[string]int{"all": +1, "active": +1, "firstWf": +1, "tag": +1, "q": +1, "wfActive": +1}},
		{"deleting one", func(t *testing.T) { noErr(t, st.DeleteSchedule(bg, w.ten.ID, all[5].ID)) },
			map[string]int{"all": -1, "active": -1, "firstWf": -1, "tag": -1, "q": -1, "qDesc": -1, "wfActive": -1}},
		{"deleting one with a repeated tag", func(t *testing.T) {
			x := w.schedule(t, func(x *geoetl.Schedule) { x.Name = "pond"; x.Tags = []string{"lake", "lake"} })
			noErr(t, st.DeleteSchedule(bg, w.ten.ID, x.ID))
		}, nil},
		{"several changes between two lists", func(t *testing.T) {
			for i := 0; i < 3; i++ {
				w.schedule(t, func(x *geoetl.Schedule) { x.Name = fmt.Sprintf("river batch %d", i); x.Tags = []string{"hydro"} })
			}
			update(t, all[0], func(x *geoetl.Schedule) { x.Status = geoetl.StatusActive; x.Tags = nil })
			noErr(t, st.DeleteSchedule(bg, w.ten.ID, all[1].ID))
		}, map[string]int{"all": +2, "active": +4, "paused": -2, "firstWf": +2, "tag": +1, "q": +2, "qDesc": -1,
			"tagPaused": -2, "wfActive": +4}},
		{"creating a batch, one of its names taken", func(t *testing.T) {
			var batch []*geoetl.Schedule
			for i, name := range []string{"river batch 7", "lake batch 8", "river batch 0"} {
				x := geoetl.NewSchedule()
				x.TenantID, x.WorkflowID, x.Name, x.CronExpression = w.ten.ID, w.wf.ID, name, "0 2 * * *"
				x.Description, x.Tags = "nightly", []string{"hydro"}
				if i == 1 {
					x.Status = geoetl.StatusPaused
				}
				batch = append(batch, x)
			}
			errs, err := st.CreateSchedules(bg, batch, 0, nil)
			noErr(t, err)
			wantCode(t, errs[2], geoetl.ECONFLICT)
		}, map[string]int{"all": +2, "active": +1, "paused": +1, "firstWf": +2, "tag": +2, "q": +1, "qDesc": +2,
			"tagPaused": +1, "wfActive": +1}},
		{"another tenant creating one", func(t *testing.T) {
			newWorld(t, st).schedule(t, func(x *geoetl.Schedule) { x.Name = "river elsewhere"; x.Tags = []string{"hydro"} })
		}, nil},
	}
	for _, step := range steps {
		step.change(t)
		for name, d := range step.moves {
			want[name] += d
		}
		check(t, step.name)
	}
}
