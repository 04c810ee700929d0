package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

// searchNames are names and descriptions chosen to trip a search: LIKE and
// GLOB wildcards, FTS query syntax, quotes and backslashes, and text in
// scripts whose lower case Go and the databases might see differently.
var searchNames = []struct{ name, desc string }{
	{"100% parcels", "loads every parcel"},
	{"under_score roads", "plain"},
	{`say "hello" rivers`, `a "quoted" description`},
	{`back\slash zoning`, `c:\temp\in`},
	{"star*glob?[x] trees", "brackets [a-z] and * too"},
	{"fts AND OR NOT NEAR", `col:on caret^ minus-sign (paren) {brace}`},
	{"Zürich Parcels", "Gebäude der Straße"},
	{"ÉCOLE normale", "Écoles du ÇA"},
	{"ΟΔΟΣ athens", "Σίσυφος"},
	{"İstanbul roads", "DİYARBAKIR"},
	{"東京 roads", "日本語の説明"},
	{"emoji 🚀 launch", "rocket 🚀🚀 twice"},
	{"only name here", "nothing special"},
	{"plain name", "needle-in-description only"},
}

// searchQueries are searched in the schedules above: one or two
// characters, wildcards that must match themselves only, FTS syntax, case
// changes in several scripts, and strings that straddle name and
// description or match nothing.
var searchQueries = []string{
	"z", "%", "_", "ü", "É", "🚀", "ab", "% p", "_s",
	"100%", "100% p", "under_score", "der_s", `"hello"`, `"`, `""`, `\`, `back\slash`, `c:\temp`,
	"*", "*glob?", "[x]", "[a-z]", "AND OR", "fts AND", "NOT NEAR", "col:on", "caret^", "minus-sign", "(paren)", "{brace}",
	"zürich", "ZÜRICH", "zur", "straße", "STRASSE", "école", "ÉCOLE", "écoles du ça",
	"οδοσ", "ΟΔΟΣ", "σίσυφος", "ΣΊΣΥΦΟΣ", "istanbul", "İSTANBUL", "diyarbakir", "DİYARBAKIR",
	"東京", "東京 r", "日本語", "🚀🚀", "rocket 🚀", "🚀 launch",
	"needle-in", "NEEDLE-IN-DESCRIPTION", "description only", "here nothing", "heren", "name here",
	"roads", "ROADS", "oads", "no such schedule", "zzzz",
}

// matchesSearch is the meaning of ScheduleFilter.Q: a case-insensitive
// substring of the name or of the description (lower case as Go's
// strings.ToLower has it).
func matchesSearch(x *geoetl.Schedule, q string) bool {
	q = strings.ToLower(q)
	return strings.Contains(strings.ToLower(x.Name), q) || strings.Contains(strings.ToLower(x.Description), q)
}

func (s *suite) scheduleSearch(t *testing.T) {
	st, _ := s.fresh(t)
	w := newWorld(t, st)
	var all []*geoetl.Schedule
	for i, n := range searchNames {
		all = append(all, w.schedule(t, func(x *geoetl.Schedule) {
			x.Name, x.Description = n.name, n.desc
			if i%2 == 1 {
				x.Status = geoetl.StatusPaused
			}
		}))
	}
	// Filler, so that a search matching a few schedules is a small part of
	// the tenant (the way an index earns its keep), and a search matching
	// all of them is a large one.
	for i := 0; i < 60; i++ {
		all = append(all, w.schedule(t, func(x *geoetl.Schedule) {
			x.Name, x.Description = fmt.Sprintf("filler %02d", i), "routine job"
		}))
	}
	// Another tenant holds the same texts; none of them may show.
	other := newWorld(t, st)
	for _, n := range searchNames {
		other.schedule(t, func(x *geoetl.Schedule) { x.Name, x.Description = n.name, n.desc })
	}

	// want lists the tenant's schedules that match q, by name.
	want := func(q string, keep func(*geoetl.Schedule) bool) []*geoetl.Schedule {
		var out []*geoetl.Schedule
		for _, x := range all {
			if matchesSearch(x, q) && (keep == nil || keep(x)) {
				out = append(out, x)
			}
		}
		sort.Slice(out, func(i, j int) bool {
			a, b := strings.ToLower(out[i].Name), strings.ToLower(out[j].Name)
			return a < b || a == b && out[i].ID < out[j].ID
		})
		return out
	}
	find := func(t *testing.T, f geoetl.ScheduleFilter) ([]*geoetl.Schedule, int, string) {
		t.Helper()
		f.TenantID = w.ten.ID
		got, total, next, err := st.FindSchedules(bg, f)
		noErr(t, err)
		return got, total, next
	}

	t.Run("MatchesCaseInsensitiveSubstringOfNameOrDescription", func(t *testing.T) {
		for _, q := range searchQueries {
			exp := want(q, nil)
			got, total, _ := find(t, geoetl.ScheduleFilter{Q: q})
			sameIDs(t, fmt.Sprintf("q=%q", q), scheduleIDs(got), scheduleIDs(exp))
			if total != len(exp) {
				t.Fatalf("q=%q: total %d, want %d", q, total, len(exp))
			}
		}
	})

	t.Run("EverySortAndCursorWalkWithSearch", func(t *testing.T) {
		for _, q := range []string{"roads", "o", "🚀", "filler", "routine job", "%"} {
			exp := want(q, nil)
			for _, sort := range []geoetl.ScheduleSort{geoetl.SortByName, geoetl.SortByNextRunAt, geoetl.SortByUpdatedAt} {
				f := geoetl.ScheduleFilter{Q: q, Sort: sort, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}}
				first, total, _ := find(t, f)
				if total != len(exp) || len(first) != len(exp) {
					t.Fatalf("q=%q sort=%s: %d items, total %d, want %d", q, sort, len(first), total, len(exp))
				}
				var walked []*geoetl.Schedule
				f.Limit = 3
				for i := 0; ; i++ {
					page, total, next := find(t, f)
					if total != len(exp) {
						t.Fatalf("q=%q sort=%s page %d: total %d, want %d", q, sort, i, total, len(exp))
					}
					walked = append(walked, page...)
					if next == "" {
						break
					}
					f.Cursor = next
					if i > len(exp) {
						t.Fatalf("q=%q sort=%s: cursor walk does not end", q, sort)
					}
				}
				sameIDs(t, fmt.Sprintf("q=%q sort=%s walked 3 at a time", q, sort), scheduleIDs(walked), scheduleIDs(first))
			}
		}
	})

	t.Run("SearchWithOffsetAndOtherFilters", func(t *testing.T) {
		exp := want("roads", func(x *geoetl.Schedule) bool { return x.Status == geoetl.StatusPaused })
		got, total, _ := find(t, geoetl.ScheduleFilter{Q: "roads", Status: geoetl.StatusPaused})
		sameIDs(t, "roads, paused", scheduleIDs(got), scheduleIDs(exp))
		if total != len(exp) {
			t.Fatalf("roads, paused: total %d, want %d", total, len(exp))
		}
		exp = want("filler", nil)
		got, total, next := find(t, geoetl.ScheduleFilter{Q: "filler", Page: geoetl.Page{Limit: 5, Offset: 10}})
		sameIDs(t, "filler, offset 10", scheduleIDs(got), scheduleIDs(exp[10:15]))
		if total != len(exp) || next == "" {
			t.Fatalf("filler, offset 10: total %d (want %d), next %q", total, len(exp), next)
		}
	})

	t.Run("ChangesShowInSearchAtOnce", func(t *testing.T) {
		x := w.schedule(t, func(x *geoetl.Schedule) { x.Name, x.Description = "quokka survey", "counts marsupials" })
		all = append(all, x)
		check := func(t *testing.T, q string, wantIDs ...string) {
			t.Helper()
			got, total, _ := find(t, geoetl.ScheduleFilter{Q: q})
			sameIDs(t, fmt.Sprintf("q=%q", q), scheduleIDs(got), wantIDs)
			if total != len(wantIDs) {
				t.Fatalf("q=%q: total %d, want %d", q, total, len(wantIDs))
			}
		}
		check(t, "quokka", x.ID)
		check(t, "marsupial", x.ID)

		// A rename drops the old name from the search and adds the new.
		x = mustUpdate(t, st, x, func(s *geoetl.Schedule) { s.Name = "wombat census" })
		check(t, "quokka")
		check(t, "wombat", x.ID)
		check(t, "marsupial", x.ID)

		// So does a new description, and a case change alone changes
		// nothing a search can see.
		x = mustUpdate(t, st, x, func(s *geoetl.Schedule) { s.Description = "Counts Burrows" })
		check(t, "marsupial")
		check(t, "burrows", x.ID)
		x = mustUpdate(t, st, x, func(s *geoetl.Schedule) { s.Name = "WOMBAT CENSUS" })
		check(t, "wombat census", x.ID)

		// An update of other fields leaves the search as it was.
		x = mustUpdate(t, st, x, func(s *geoetl.Schedule) { s.Status = geoetl.StatusPaused })
		check(t, "wombat", x.ID)

		// A deleted schedule is gone from the search, and a new one with
		// the same name is found in its place.
		noErr(t, st.DeleteSchedule(bg, w.ten.ID, x.ID))
		all = all[:len(all)-1]
		check(t, "wombat")
		check(t, "burrows")
		y := w.schedule(t, func(s *geoetl.Schedule) { s.Name = "WOMBAT CENSUS" })
		check(t, "wombat", y.ID)
		noErr(t, st.DeleteSchedule(bg, w.ten.ID, y.ID))
		check(t, "wombat")
	})
}

// mustUpdate applies edit to x through UpdateSchedule and returns the
// stored result.
func mustUpdate(t *testing.T, st geoetl.Store, x *geoetl.Schedule, edit func(*geoetl.Schedule)) *geoetl.Schedule {
	t.Helper()
	got, err := st.UpdateSchedule(bg, x.TenantID, x.ID, nil, func(s *geoetl.Schedule) error {
		edit(s)
		return nil
	})
	noErr(t, err)
	return got
}
