// Package storetest is the conformance suite every geoetl.Store
// implementation must pass. db/sqlite and db/postgres run it from their
// tests, so both stores are held to the same behaviour, subtest by subtest.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// Factory opens a fresh, migrated, empty store for one test. A non-nil clk
// must become the store's Now; nil means the store's own clock.
type Factory func(t *testing.T, clk clock.Clock) geoetl.Store

// Run runs the whole suite against the stores newStore opens.
func Run(t *testing.T, newStore Factory) {
	s := &suite{open: newStore}
	// The groups run in parallel, and so do the cases of the groups whose
	// cases each open a store of their own: nothing is shared between
	// stores, and most of a case's time is spent waiting for its store to
	// be created. Cases that share a group's store and clock stay in order.
	for _, g := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Identity", s.identity},
		{"Workflows", s.workflows},
		{"Schedules", s.schedules},
		{"ScheduleLists", s.scheduleLists},
		{"ScheduleSearch", s.scheduleSearch},
		{"ListTotals", s.listTotals},
		{"ListOffsets", s.listOffsets},
		{"ListsUnderWriters", s.listsUnderWriters},
		{"Executions", s.executions},
		{"Claims", s.claims},
		{"SchedulerClaims", s.schedulerClaims},
		{"Deliveries", s.deliveries},
		{"Audit", s.audit},
		{"Concurrency", s.concurrency},
		{"TenantQuotas", s.tenantQuotas},
	} {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t)
		})
	}
}

type suite struct {
	open Factory
}

// epoch is the fake clock's starting point in the tests that use one.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

var bg = context.Background()

// fresh opens a store on a fake clock set to epoch.
func (s *suite) fresh(t *testing.T) (geoetl.Store, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	return s.open(t, clk), clk
}

var seq atomic.Int64

// unique returns a name no other test uses.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

func mustTenant(t *testing.T, st geoetl.Store) *geoetl.Tenant {
	t.Helper()
	ten := &geoetl.Tenant{Name: unique("tenant"), WebhookSecret: "s3cret"}
	if err := st.CreateTenant(bg, ten); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return ten
}

func mustWorkflow(t *testing.T, st geoetl.Store, tenantID string) *geoetl.Workflow {
	t.Helper()
	w := &geoetl.Workflow{TenantID: tenantID, Name: unique("workflow"), Description: "moves parcels",
		Definition: json.RawMessage(`{"nodes": [], "edges": []}`), CreatedBy: "alice"}
	if err := st.CreateWorkflow(bg, w); err != nil {
		t.Fatalf("CreateWorkflow: %v", err)
	}
	return w
}

func newSchedule(tenantID, workflowID, name string) *geoetl.Schedule {
	s := geoetl.NewSchedule()
	s.TenantID, s.WorkflowID, s.Name, s.CronExpression = tenantID, workflowID, name, "0 2 * * *"
	s.CreatedBy = "alice"
	return s
}

func mustSchedule(t *testing.T, st geoetl.Store, tenantID, workflowID string, edit func(*geoetl.Schedule)) *geoetl.Schedule {
	t.Helper()
	s := newSchedule(tenantID, workflowID, unique("schedule"))
	if edit != nil {
		edit(s)
	}
	if err := st.CreateSchedule(bg, s); err != nil {
		t.Fatalf("CreateSchedule: %v", err)
	}
	return s
}

// world is one tenant with one workflow, the start of most tests.
type world struct {
	st  geoetl.Store
	ten *geoetl.Tenant
	wf  *geoetl.Workflow
}

func newWorld(t *testing.T, st geoetl.Store) *world {
	t.Helper()
	ten := mustTenant(t, st)
	return &world{st: st, ten: ten, wf: mustWorkflow(t, st, ten.ID)}
}

func (w *world) schedule(t *testing.T, edit func(*geoetl.Schedule)) *geoetl.Schedule {
	t.Helper()
	return mustSchedule(t, w.st, w.ten.ID, w.wf.ID, edit)
}

// execution returns an unsaved execution of schedule s (nil for an ad hoc
// run) at occurrence at.
func (w *world) execution(s *geoetl.Schedule, at time.Time, trig geoetl.Trigger) *geoetl.Execution {
	e := &geoetl.Execution{TenantID: w.ten.ID, WorkflowID: w.wf.ID, ScheduledAt: at, Trigger: trig, Status: geoetl.ExecPending,
		ParameterValues: map[string]any{"region": "north"}}
	if s != nil {
		id := s.ID
		e.ScheduleID = &id
	}
	return e
}

func (w *world) mustExecution(t *testing.T, e *geoetl.Execution) *geoetl.Execution {
	t.Helper()
	if err := w.st.CreateExecution(bg, e); err != nil {
		t.Fatalf("CreateExecution: %v", err)
	}
	return e
}

// wantCode fails unless err carries the error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := geoetl.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// sameJSON fails unless a and b marshal to the same JSON.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: marshal: %v %v", what, err1, err2)
	}
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, x := range items {
		out[i] = id(x)
	}
	return out
}

func scheduleIDs(ss []*geoetl.Schedule) []string {
	return ids(ss, func(s *geoetl.Schedule) string { return s.ID })
}

func execIDs(es []*geoetl.Execution) []string {
	return ids(es, func(e *geoetl.Execution) string { return e.ID })
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// badIDs are ids of nothing: a well-formed UUID no object has, and strings
// that are not UUIDs at all (which PostgreSQL would refuse to cast). Every
// lookup must answer ENOTFOUND for them, never a database error.
var badIDs = []string{"00000000-0000-4000-8000-000000000000", "not-a-uuid", "", "'; DROP TABLE schedules; --"}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
func upper(s string) string { return strings.ToUpper(s) }
func lower(s string) string { return strings.ToLower(s) }
