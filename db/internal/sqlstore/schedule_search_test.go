package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/internal/sqlstore"
	"github.com/geoetl/geoetl/db/sqlite"
)

var bg = context.Background()

// searchWords make up the names and descriptions of the schedules below:
// common and rare words, wildcards of LIKE, GLOB and FTS5, and several
// scripts, so that random substrings of them cover what users type.
var searchWords = []string{
	"parcels", "roads", "rivers", "nightly", "load", "district", "north", "Zürich", "STRASSE", "straße", "École",
	"ΟΔΟΣ", "Σίσυφος", "İstanbul", "東京", "🚀", "100%", "under_score", `"quoted"`, `back\slash`, "star*", "q?",
	"[a-z]", "AND", "NOT", "col:on", "a^b", "x-y", "(p)", "{b}", "ǅemal", "ﬃ", "K", "Ω",
}

// searchWorld is a SQLite store with two tenants whose schedules have
// random names and descriptions made of searchWords.
type searchWorld struct {
	store *sqlstore.Store
	path  string
	ten   *geoetl.Tenant
	wf    *geoetl.Workflow
	texts []string
	rnd   *rand.Rand
}

func newSearchWorld(t *testing.T, n int) *searchWorld {
	t.Helper()
	st, u := dbtest.SQLiteURL(t, db.Options{})
	path, err := sqlite.URLPath(u)
	if err != nil {
		t.Fatal(err)
	}
	return fillSearchWorld(t, st, path, n)
}

func fillSearchWorld(t *testing.T, st geoetl.Store, path string, n int) *searchWorld {
	t.Helper()
	w := &searchWorld{store: st.(*sqlstore.Store), path: path, rnd: rand.New(rand.NewPCG(1, 2))}
	other := &geoetl.Tenant{Name: "other"}
	w.ten = &geoetl.Tenant{Name: "search"}
	for _, ten := range []*geoetl.Tenant{w.ten, other} {
		if err := st.CreateTenant(bg, ten); err != nil {
			t.Fatal(err)
		}
	}
	w.wf = &geoetl.Workflow{TenantID: w.ten.ID, Name: "w", Definition: []byte(`{}`)}
	otherWF := &geoetl.Workflow{TenantID: other.ID, Name: "w", Definition: []byte(`{}`)}
	for _, wf := range []*geoetl.Workflow{w.wf, otherWF} {
		if err := st.CreateWorkflow(bg, wf); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		ten, wf := w.ten, w.wf
		if i%4 == 3 {
			ten, wf = other, otherWF
		}
		x := geoetl.NewSchedule()
		x.TenantID, x.WorkflowID, x.CronExpression = ten.ID, wf.ID, "0 2 * * *"
		x.Name = fmt.Sprintf("%s %d", w.phrase(3), i)
		x.Description = w.phrase(5)
		if i%3 == 0 {
			x.Status = geoetl.StatusPaused
		}
		if err := st.CreateSchedule(bg, x); err != nil {
			t.Fatal(err)
		}
		w.texts = append(w.texts, x.Name, x.Description)
	}
	return w
}

func (w *searchWorld) phrase(n int) string {
	words := make([]string, n)
	for i := range words {
		words[i] = searchWords[w.rnd.IntN(len(searchWords))]
	}
	return strings.Join(words, " ")
}

// queries returns searches: fixed tricky ones, then random substrings of
// the stored texts (in their case, upper case and lower case) of one to
// twelve characters.
func (w *searchWorld) queries(n int) []string {
	qs := []string{"a", "%", "_", "ü", "🚀", "ab", `""`, `\`, "*", "?", "100%", "der_s", `"quoted" `, "ss", "SS", "ǆ", "ǅEMAL", "ffi", "FFI",
		"k", "\u212a", "ω", "Ω", "i̇stanbul", "İSTANBUL", "σ", "ΣΊΣ", "zzzz", "AND NOT", "col:on a^b", "the end"}
	for len(qs) < n {
		r := []rune(w.texts[w.rnd.IntN(len(w.texts))])
		l := 1 + w.rnd.IntN(12)
		if l > len(r) {
			l = len(r)
		}
		i := w.rnd.IntN(len(r) - l + 1)
		q := string(r[i : i+l])
		switch w.rnd.IntN(3) {
		case 1:
			q = strings.ToUpper(q)
		case 2:
			q = strings.ToLower(q)
		}
		qs = append(qs, q)
	}
	return qs
}

// sameSearch fails unless a and b list the same schedules, in the same
// order, with the same totals, for a search with each sort, whole and
// walked by cursor.
func sameSearch(t *testing.T, a, b geoetl.Store, tenantID, q string) {
	t.Helper()
	for _, sort := range []geoetl.ScheduleSort{geoetl.SortByName, geoetl.SortByNextRunAt, geoetl.SortByUpdatedAt} {
		for _, f := range []geoetl.ScheduleFilter{
			{TenantID: tenantID, Q: q, Sort: sort, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}},
			{TenantID: tenantID, Q: q, Sort: sort, Status: geoetl.StatusPaused, Page: geoetl.Page{Limit: 7, Offset: 3}},
		} {
			ga, ta, na, err := a.FindSchedules(bg, f)
			if err != nil {
				t.Fatalf("q=%q: %v", q, err)
			}
			gb, tb, nb, err := b.FindSchedules(bg, f)
			if err != nil {
				t.Fatalf("q=%q: %v", q, err)
			}
			if ids(ga) != ids(gb) || ta != tb || (na == "") != (nb == "") {
				t.Fatalf("q=%q sort=%s status=%q: indexed %d items, total %d; scan %d items, total %d\n%s\n%s",
					q, sort, f.Status, len(ga), ta, len(gb), tb, ids(ga), ids(gb))
			}
			// The next page after a cursor, which both must agree on too.
			if na != "" {
				f.Cursor, f.Offset = na, 0
				ga, ta, _, err = a.FindSchedules(bg, f)
				if err != nil {
					t.Fatal(err)
				}
				f.Cursor = nb
				gb, tb, _, err = b.FindSchedules(bg, f)
				if err != nil {
					t.Fatal(err)
				}
				if ids(ga) != ids(gb) || ta != tb {
					t.Fatalf("q=%q sort=%s: second pages differ (totals %d, %d)", q, sort, ta, tb)
				}
			}
		}
	}
}

func ids(ss []*geoetl.Schedule) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return strings.Join(out, ",")
}

// TestScheduleSearch_IndexAgreesWithScan compares the trigram index's
// answers with a scan of every row for random and tricky searches, with
// every sort, a cursor, an offset and a status filter.
func TestScheduleSearch_IndexAgreesWithScan(t *testing.T) {
	t.Parallel()
	w := newSearchWorld(t, 400)
	indexed := sqlstore.WithSearchLimits(w.store, 1_000_000, 0)
	scan := sqlstore.WithoutSearchIndex(w.store)
	n := 0
	for _, q := range w.queries(250) {
		ok, err := indexed.SearchIndexed(bg, w.ten.ID, strings.ToLower(q))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
		sameSearch(t, indexed, scan, w.ten.ID, q)
	}
	// Random substrings are one to twelve characters long, so most reach
	// three; if few searches read the index, it was not tested.
	if n < 100 {
		t.Fatalf("only %d of 250 searches read the index", n)
	}
}

// TestScheduleSearch_IndexAgreesWithScanOnPostgres is the same on
// PostgreSQL, whose trigram index is read through a function that runs as
// the table owner: it must find what the scan under the tenant's policy
// finds, and nothing of the other tenant.
func TestScheduleSearch_IndexAgreesWithScanOnPostgres(t *testing.T) {
	t.Parallel()
	st, _ := dbtest.Postgres(t)
	w := fillSearchWorld(t, st, "", 400)
	indexed := sqlstore.WithSearchLimits(w.store, 1_000_000, 0)
	scan := sqlstore.WithoutSearchIndex(w.store)
	n := 0
	for _, q := range w.queries(250) {
		ok, err := indexed.SearchIndexed(bg, w.ten.ID, strings.ToLower(q))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
		sameSearch(t, indexed, scan, w.ten.ID, q)
	}
	if n < 100 {
		t.Fatalf("only %d of 250 searches read the index", n)
	}
}

// TestScheduleSearch_KeptTotalsFollowChanges pins down that the total of a
// search narrowed by the trigram index, kept from one list to the next,
// follows schedules added, edited and deleted in between, as a count of
// every row does.
func TestScheduleSearch_KeptTotalsFollowChanges(t *testing.T) {
	t.Parallel()
	keptTotalsFollowChanges(t, newSearchWorld(t, 400))
}

// TestScheduleSearch_KeptTotalsFollowChangesOnPostgres is the same on
// PostgreSQL, whose totals are kept with the snapshot they were counted
// in and brought up to date from a log of changes by transaction.
func TestScheduleSearch_KeptTotalsFollowChangesOnPostgres(t *testing.T) {
	t.Parallel()
	st, _ := dbtest.Postgres(t)
	keptTotalsFollowChanges(t, fillSearchWorld(t, st, "", 400))
}

func keptTotalsFollowChanges(t *testing.T, w *searchWorld) {
	indexed := sqlstore.WithSearchLimits(w.store, 1_000_000, 0)
	scan := sqlstore.WithoutSearchIndex(w.store)
	qs := w.queries(60)
	var mine []*geoetl.Schedule
	narrowed := 0
	for round := 0; round < 6; round++ {
		for _, q := range qs {
			f := geoetl.ScheduleFilter{TenantID: w.ten.ID, Q: q, Page: geoetl.Page{Limit: 1}}
			_, got, _, err := indexed.FindSchedules(bg, f)
			if err != nil {
				t.Fatal(err)
			}
			_, want, _, err := scan.FindSchedules(bg, f)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("round %d, q=%q: total %d, a count gives %d", round, q, got, want)
			}
			if ok, _ := indexed.SearchIndexed(bg, w.ten.ID, strings.ToLower(q)); ok && want > 1 {
				narrowed++
			}
		}
		for i := 0; i < 3; i++ {
			x := geoetl.NewSchedule()
			x.TenantID, x.WorkflowID, x.CronExpression = w.ten.ID, w.wf.ID, "0 2 * * *"
			x.Name, x.Description = fmt.Sprintf("%s r%d-%d", w.phrase(3), round, i), w.phrase(5)
			if err := w.store.CreateSchedule(bg, x); err != nil {
				t.Fatal(err)
			}
			mine = append(mine, x)
		}
		if _, err := w.store.UpdateSchedule(bg, w.ten.ID, mine[0].ID, nil, func(x *geoetl.Schedule) error {
			x.Description = w.phrase(5)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := w.store.DeleteSchedule(bg, w.ten.ID, mine[1].ID); err != nil {
			t.Fatal(err)
		}
		mine = mine[2:]
	}
	// If few totals came through the index with more than one match, the
	// kept totals of narrowed searches were not tested.
	if narrowed < 50 {
		t.Fatalf("only %d totals of narrowed searches compared", narrowed)
	}
}

// TestScheduleSearch_DefaultLimitsAgreeWithScan checks the limits that
// decide between index and scan, which the test above forces: a broad
// search beyond the candidate limit, and a small tenant, scan; a narrow
// search of a large tenant reads the index. Each answers as the scan does.
func TestScheduleSearch_DefaultLimitsAgreeWithScan(t *testing.T) {
	t.Parallel()
	w := newSearchWorld(t, 400)
	scan := sqlstore.WithoutSearchIndex(w.store)
	limited := sqlstore.WithSearchLimits(w.store, 20, 2)
	cases := []struct {
		q           string
		wantIndexed bool
	}{
		{"parcels", false},  // on far more than 20 rows
		{"ǅemal 1", true},   // the name's number makes it rare
		{"ab", false},       // too short for trigrams
		{"no such", true},   // no candidate at all
		{"rivers 12", true}, // rare again
	}
	for _, c := range cases {
		got, err := limited.SearchIndexed(bg, w.ten.ID, strings.ToLower(c.q))
		if err != nil {
			t.Fatal(err)
		}
		if got != c.wantIndexed {
			t.Errorf("q=%q: indexed %v, want %v", c.q, got, c.wantIndexed)
		}
		sameSearch(t, limited, scan, w.ten.ID, c.q)
	}
	// A tenant with as few schedules as a search has candidates scans.
	small := &geoetl.Tenant{Name: "small"}
	if err := w.store.CreateTenant(bg, small); err != nil {
		t.Fatal(err)
	}
	if got, err := limited.SearchIndexed(bg, small.ID, "rivers 12"); err != nil || got {
		t.Fatalf("empty tenant: indexed %v (%v), want a scan", got, err)
	}
}

// TestScheduleSearch_IndexStaysInStepWithWrites updates, renames and
// deletes schedules, then has FTS5 check its index against the table,
// vacuums the database, and compares index and scan again.
func TestScheduleSearch_IndexStaysInStepWithWrites(t *testing.T) {
	t.Parallel()
	w := newSearchWorld(t, 200)
	found, _, _, err := w.store.FindSchedules(bg, geoetl.ScheduleFilter{TenantID: w.ten.ID, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range found {
		switch i % 4 {
		case 0:
			_, err = w.store.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error {
				s.Name = "renamed " + w.phrase(2) + fmt.Sprint(i)
				return nil
			})
		case 1:
			_, err = w.store.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error {
				s.Description = strings.ToUpper(s.Description)
				return nil
			})
		case 2:
			err = w.store.DeleteSchedule(bg, w.ten.ID, x.ID)
		case 3:
			_, err = w.store.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error {
				s.Enabled = !s.Enabled
				return nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", w.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	integrity := func(t *testing.T) {
		t.Helper()
		// With rank 1, FTS5 also checks the index against schedules.
		if _, err := raw.Exec(`INSERT INTO schedule_search (schedule_search, rank) VALUES ('integrity-check', 1)`); err != nil {
			t.Fatalf("integrity-check: %v", err)
		}
	}
	integrity(t)
	indexed := sqlstore.WithSearchLimits(w.store, 1_000_000, 0)
	scan := sqlstore.WithoutSearchIndex(w.store)
	qs := append(w.queries(60), "renamed", "RENAMED", "ΟΔΟΣ", "οδοσ")
	for _, q := range qs {
		sameSearch(t, indexed, scan, w.ten.ID, q)
	}
	// VACUUM rebuilds the file; the rowids the index refers to survive.
	if _, err := raw.Exec(`VACUUM`); err != nil {
		t.Fatal(err)
	}
	integrity(t)
	for _, q := range qs {
		sameSearch(t, indexed, scan, w.ten.ID, q)
	}
}
