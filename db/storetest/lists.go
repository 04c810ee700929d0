package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func (s *suite) scheduleLists(t *testing.T) {
	st, clk := s.fresh(t)
	w := newWorld(t, st)
	wf2 := mustWorkflow(t, st, w.ten.ID)
	// Twelve schedules with names in mixed case, every third paused, every
	// fourth on the second workflow, some without a next run.
	var all []*geoetl.Schedule
	for i := 0; i < 12; i++ {
		clk.Advance(time.Second)
		x := w.schedule(t, func(s *geoetl.Schedule) {
			s.Name = fmt.Sprintf("%s %02d", []string{"alpha", "Bravo", "charlie"}[i%3], i)
			s.Description = fmt.Sprintf("job number %d", i)
			if i%3 == 1 {
				s.Status = geoetl.StatusPaused
			}
			if i%4 == 0 {
				s.WorkflowID = wf2.ID
				s.Tags = []string{"odd%_tag", "four"}
			}
			if i%5 != 0 {
				n := epoch.Add(time.Duration(12-i) * time.Minute)
				s.NextRunAt = &n
			}
		})
		all = append(all, x)
	}
	// Noise in another tenant must never show.
	other := newWorld(t, st)
	other.schedule(t, func(s *geoetl.Schedule) { s.Name = "alpha intruder" })

	byName := append([]*geoetl.Schedule(nil), all...)
	sort.Slice(byName, func(i, j int) bool { return strings.ToLower(byName[i].Name) < strings.ToLower(byName[j].Name) })

	list := func(t *testing.T, f geoetl.ScheduleFilter) ([]*geoetl.Schedule, int, string) {
		t.Helper()
		f.TenantID = w.ten.ID
		got, total, next, err := st.FindSchedules(bg, f)
		noErr(t, err)
		return got, total, next
	}
	// walk follows cursors to the end and returns every item.
	walk := func(t *testing.T, f geoetl.ScheduleFilter) []*geoetl.Schedule {
		t.Helper()
		var out []*geoetl.Schedule
		for i := 0; i < 100; i++ {
			page, _, next := list(t, f)
			out = append(out, page...)
			if next == "" {
				return out
			}
			f.Cursor = next
		}
		t.Fatal("cursor walk did not end")
		return nil
	}

	t.Run("DefaultSortIsCaseInsensitiveName", func(t *testing.T) {
		got, total, next := list(t, geoetl.ScheduleFilter{})
		sameIDs(t, "by name", scheduleIDs(got), scheduleIDs(byName))
		if total != 12 || next != "" {
			t.Fatalf("total %d next %q", total, next)
		}
	})

	t.Run("SearchIsCaseInsensitiveSubstringOfNameOrDescription", func(t *testing.T) {
		got, total, _ := list(t, geoetl.ScheduleFilter{Q: "BRAVO"})
		if total != 4 || len(got) != 4 {
			t.Fatalf("q=BRAVO: total %d, %d items", total, len(got))
		}
		got, total, _ = list(t, geoetl.ScheduleFilter{Q: "NUMBER 1"})
		// "job number 1", "job number 10", "job number 11"
		if total != 3 || len(got) != 3 {
			t.Fatalf("q=NUMBER 1 (description): total %d", total)
		}
		// Name and description are searched separately: nothing matches
		// across the end of one and the start of the other.
		for _, q := range []string{"%", "_", `\`, "00job", "00 job"} {
			_, total, _ = list(t, geoetl.ScheduleFilter{Q: q})
			if total != 0 {
				t.Fatalf("q=%q matched %d schedules, want none", q, total)
			}
		}
	})

	t.Run("FiltersByStatusWorkflowAndTag", func(t *testing.T) {
		got, total, _ := list(t, geoetl.ScheduleFilter{Status: geoetl.StatusPaused})
		if total != 4 || len(got) != 4 {
			t.Fatalf("paused: %d", total)
		}
		for _, x := range got {
			if x.Status != geoetl.StatusPaused {
				t.Fatalf("status filter let %s through", x.Status)
			}
		}
		got, total, _ = list(t, geoetl.ScheduleFilter{WorkflowID: wf2.ID})
		if total != 3 || len(got) != 3 {
			t.Fatalf("workflow filter: %d", total)
		}
		got, total, _ = list(t, geoetl.ScheduleFilter{Tag: "odd%_tag"})
		if total != 3 || len(got) != 3 {
			t.Fatalf("tag filter: %d", total)
		}
		_, total, _ = list(t, geoetl.ScheduleFilter{Tag: "odd"})
		if total != 0 {
			t.Fatalf("tag filter matched a prefix: %d", total)
		}
		_, total, _ = list(t, geoetl.ScheduleFilter{Tag: "four", Status: geoetl.StatusActive, Q: "alpha"})
		if total != 1 { // alpha 00 only: the other tagged ones are Bravo 04 (paused) and charlie 08
			t.Fatalf("combined filters: %d", total)
		}
		_, total, _ = list(t, geoetl.ScheduleFilter{WorkflowID: "not-a-uuid"})
		if total != 0 {
			t.Fatalf("malformed workflow id matched %d", total)
		}
	})

	t.Run("SortByNextRunSoonestFirstWithNoneLast", func(t *testing.T) {
		want := append([]*geoetl.Schedule(nil), all...)
		sort.SliceStable(want, func(i, j int) bool {
			a, b := want[i].NextRunAt, want[j].NextRunAt
			switch {
			case a == nil && b == nil:
				return want[i].ID < want[j].ID
			case a == nil || b == nil:
				return b == nil
			case a.Equal(*b):
				return want[i].ID < want[j].ID
			}
			return a.Before(*b)
		})
		got, _, _ := list(t, geoetl.ScheduleFilter{Sort: geoetl.SortByNextRunAt})
		sameIDs(t, "by next run", scheduleIDs(got), scheduleIDs(want))
		sameIDs(t, "by next run, walked 2 at a time", scheduleIDs(walk(t, geoetl.ScheduleFilter{Sort: geoetl.SortByNextRunAt, Page: geoetl.Page{Limit: 2}})), scheduleIDs(want))
	})

	t.Run("SortByUpdatedMostRecentFirst", func(t *testing.T) {
		want := make([]*geoetl.Schedule, len(all))
		for i, x := range all {
			want[len(all)-1-i] = x
		}
		got, _, _ := list(t, geoetl.ScheduleFilter{Sort: geoetl.SortByUpdatedAt})
		sameIDs(t, "by updated", scheduleIDs(got), scheduleIDs(want))
		sameIDs(t, "by updated, walked 5 at a time", scheduleIDs(walk(t, geoetl.ScheduleFilter{Sort: geoetl.SortByUpdatedAt, Page: geoetl.Page{Limit: 5}})), scheduleIDs(want))
	})

	t.Run("LimitAndOffset", func(t *testing.T) {
		got, total, next := list(t, geoetl.ScheduleFilter{Page: geoetl.Page{Limit: 5, Offset: 5}})
		firstNext := next
		sameIDs(t, "offset 5", scheduleIDs(got), scheduleIDs(byName[5:10]))
		if total != 12 || next == "" {
			t.Fatalf("total %d next %q", total, next)
		}
		got, _, _ = list(t, geoetl.ScheduleFilter{Page: geoetl.Page{Cursor: next, Limit: 5}})
		sameIDs(t, "cursor after offset page", scheduleIDs(got), scheduleIDs(byName[10:]))
		got, total, next = list(t, geoetl.ScheduleFilter{Page: geoetl.Page{Limit: 5, Offset: 50}})
		if len(got) != 0 || next != "" || total != 12 {
			t.Fatalf("offset past the end: %d items, total %d, next %q", len(got), total, next)
		}
		got, total, _ = list(t, geoetl.ScheduleFilter{Page: geoetl.Page{Limit: 5, Offset: 10}})
		if len(got) != 2 || total != 12 {
			t.Fatalf("short last page by offset: %d items, total %d", len(got), total)
		}
		_, total, _ = list(t, geoetl.ScheduleFilter{Page: geoetl.Page{Limit: 5, Cursor: firstNext}})
		if total != 12 {
			t.Fatalf("total on a cursor page = %d", total)
		}
	})

	t.Run("CursorIsStableUnderInserts", func(t *testing.T) {
		first, _, next := list(t, geoetl.ScheduleFilter{Page: geoetl.Page{Limit: 4}})
		sameIDs(t, "page 1", scheduleIDs(first), scheduleIDs(byName[:4]))
		// Rows inserted before and after the cursor position: the next pages
		// go on from where the first ended, without repeats.
		early := w.schedule(t, func(s *geoetl.Schedule) { s.Name = "aaa first" })
		late := w.schedule(t, func(s *geoetl.Schedule) { s.Name = "zzz last" })
		defer func() {
			noErr(t, st.DeleteSchedule(bg, w.ten.ID, early.ID))
			noErr(t, st.DeleteSchedule(bg, w.ten.ID, late.ID))
		}()
		rest := walk(t, geoetl.ScheduleFilter{Page: geoetl.Page{Limit: 4, Cursor: next}})
		sameIDs(t, "rest", scheduleIDs(rest), append(scheduleIDs(byName[4:]), late.ID))
	})

	t.Run("BadCursorIsInvalidOnCursor", func(t *testing.T) {
		_, _, next := list(t, geoetl.ScheduleFilter{Page: geoetl.Page{Limit: 2}})
		for _, f := range []geoetl.ScheduleFilter{
			{Page: geoetl.Page{Cursor: "!!!"}},
			{Page: geoetl.Page{Cursor: "eyJ4IjoxfQ"}},                       // valid base64 JSON of something else
			{Sort: geoetl.SortByUpdatedAt, Page: geoetl.Page{Cursor: next}}, // a cursor of another order
		} {
			f.TenantID = w.ten.ID
			_, _, _, err := st.FindSchedules(bg, f)
			wantCode(t, err, geoetl.EINVALID)
			if geoetl.ErrorFields(err)["cursor"] == nil {
				t.Fatalf("fields = %v", geoetl.ErrorFields(err))
			}
		}
		_, _, _, err := st.FindSchedules(bg, geoetl.ScheduleFilter{TenantID: w.ten.ID, Sort: "bogus"})
		wantCode(t, err, geoetl.EINVALID)
	})

	t.Run("AnotherTenantSeesNone", func(t *testing.T) {
		got, total, _, err := st.FindSchedules(bg, geoetl.ScheduleFilter{TenantID: mustTenant(t, st).ID})
		noErr(t, err)
		if len(got) != 0 || total != 0 {
			t.Fatalf("%d schedules of another tenant", total)
		}
		got, total, _, err = st.FindSchedules(bg, geoetl.ScheduleFilter{TenantID: "not-a-uuid"})
		noErr(t, err)
		if len(got) != 0 || total != 0 {
			t.Fatalf("%d schedules for a malformed tenant", total)
		}
	})
}
