package load

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl/internal/chaos"
)

// TestRun_SmallLoadAnswersEverythingAndRunsEveryOccurrenceOnce runs the
// load test at a small size (the real one is `make load`), so that the
// generator and its report keep working: every request class answered,
// no 5xx, every occurrence once.
func TestRun_SmallLoadAnswersEverythingAndRunsEveryOccurrenceOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs geoetl serve")
	}
	dir := t.TempDir()
	bin, err := chaos.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Config{Bin: bin, Dir: dir, Schedules: 20, Duration: 3 * time.Second, Runs: 1,
		Readers: 2, Writers: 1, Rate: 60, ListSchedules: 300})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())
	for _, class := range []string{"list", "search", "get", "executions", "history", "update", "create", "preview"} {
		s := rep.Loaded[0].Routes[class]
		if s == nil || s.Count == 0 {
			t.Errorf("no %s requests were made", class)
			continue
		}
		if s.Errors > 0 {
			t.Errorf("%s: %d of %d requests failed", class, s.Errors, s.Count)
		}
	}
	if rep.List == nil || rep.List.Routes["search-some"] == nil || rep.List.Routes["search-some"].Errors > 0 {
		t.Errorf("the list phase did not search cleanly: %+v", rep.List)
	}
	if rep.ServerErrors() > 0 || rep.Twice() > 0 {
		t.Errorf("%d 5xx answers, %d occurrences twice", rep.ServerErrors(), rep.Twice())
	}
	for _, l := range append(rep.Quiet, rep.Loaded[0].Lateness) {
		if l.Expected != 20*3 || l.Missed > 0 {
			t.Errorf("lateness phase: %d occurrences expected (want 60), %d missed", l.Expected, l.Missed)
		}
	}
}
