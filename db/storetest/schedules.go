package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// fullSchedule sets every field of a schedule to a non-default value, so a
// round trip shows any column that is lost.
func fullSchedule(s *geoetl.Schedule) {
	next, last, exp := epoch.Add(time.Hour), epoch.Add(-time.Hour), epoch.Add(240*time.Hour)
	reason, slack, lastID := "because", "https://hooks.slack.com/services/T/B/X", geoetl.NewID()
	lastStatus := geoetl.ExecFailed
	s.Description = "Parcels, nightly"
	s.CronExpression = "*/5 1-3 * * MON-FRI"
	s.Timezone = "Europe/Berlin"
	s.Enabled = false
	s.Status = geoetl.StatusPaused
	s.StatusReason = &reason
	s.ParameterValues = map[string]any{"region": "north", "n": 3.5, "nested": map[string]any{"list": []any{"a", true, nil}}}
	s.Tags = []string{"parcels", "nightly"}
	s.MaxConcurrentExecutions = 3
	s.OverlapPolicy = geoetl.OverlapQueue
	s.MisfirePolicy = geoetl.MisfireRunAll
	s.CatchupWindowMinutes = 60
	s.RetryAttempts = 4
	s.RetryDelayMinutes = 2
	s.RetryBackoff = geoetl.BackoffExponential
	s.MaxRetryDelayMinutes = 30
	s.TimeoutMinutes = geoetl.Ptr(90)
	s.ExpiresAt = &exp
	s.NotificationConfig = geoetl.NotificationConfig{NotifyOnSuccess: true, NotifyOnFailure: true,
		EmailAddresses: []string{"ops@example.com"}, WebhookURLs: []string{"https://example.com/hook"}, SlackWebhookURL: &slack}
	s.NextRunAt, s.LastRunAt, s.LastRunStatus, s.LastRunID = &next, &last, &lastStatus, &lastID
}

func (s *suite) schedules(t *testing.T) {
	st, clk := s.fresh(t)

	t.Run("CreateSchedulesBatchReportsEachItem", func(t *testing.T) {
		w := newWorld(t, st)
		taken := w.schedule(t, nil)
		ok1 := newSchedule(w.ten.ID, w.wf.ID, unique("batch"))
		dup := newSchedule(w.ten.ID, w.wf.ID, taken.Name)
		noWF := newSchedule(w.ten.ID, geoetl.NewID(), unique("batch"))
		ok2 := newSchedule(w.ten.ID, w.wf.ID, unique("batch"))
		audit := func(x *geoetl.Schedule) *geoetl.AuditEntry {
			return &geoetl.AuditEntry{TenantID: x.TenantID, Actor: "importer", Action: "schedule.create", ObjectType: "schedule", ObjectID: x.ID}
		}
		errs, err := st.CreateSchedules(bg, []*geoetl.Schedule{ok1, dup, noWF, ok2}, 0, audit)
		noErr(t, err)
		if len(errs) != 4 || errs[0] != nil || errs[3] != nil {
			t.Fatalf("results %v, want the first and last created", errs)
		}
		wantCode(t, errs[1], geoetl.ECONFLICT)
		wantCode(t, errs[2], geoetl.ENOTFOUND)
		for _, x := range []*geoetl.Schedule{ok1, ok2} {
			got, err := st.FindScheduleByName(bg, w.ten.ID, x.Name)
			noErr(t, err)
			if got.ID != x.ID || got.Version != 1 {
				t.Fatalf("created %+v, read %+v", x, got)
			}
		}
		if got, err := st.FindScheduleByID(bg, w.ten.ID, taken.ID); err != nil || got.Name != taken.Name {
			t.Fatalf("the taken name's schedule changed: %+v %v", got, err)
		}
		entries, _, _, err := st.FindAudit(bg, geoetl.AuditFilter{TenantID: w.ten.ID, Page: geoetl.Page{Limit: 10}})
		noErr(t, err)
		if len(entries) != 2 {
			t.Fatalf("%d audit entries, want one per created schedule", len(entries))
		}
		other := mustTenant(t, st)
		_, err = st.CreateSchedules(bg, []*geoetl.Schedule{newSchedule(w.ten.ID, w.wf.ID, unique("batch")), newSchedule(other.ID, w.wf.ID, unique("batch"))}, 0, nil)
		wantCode(t, err, geoetl.EINVALID)

		// With a limit, one count for the batch: the tenant has 3, may
		// have 4, so the first is created and the second refused.
		capped := []*geoetl.Schedule{newSchedule(w.ten.ID, w.wf.ID, unique("batch")), newSchedule(w.ten.ID, w.wf.ID, unique("batch"))}
		errs, err = st.CreateSchedules(bg, capped, 4, nil)
		noErr(t, err)
		if errs[0] != nil || geoetl.ErrorCode(errs[1]) == "" || !strings.Contains(geoetl.ErrorMessage(errs[1]), "at most 4") {
			t.Fatalf("capped batch: %v", errs)
		}
	})

	t.Run("CreateSchedulesLargeBatchKeepsItemOrderAndHistory", func(t *testing.T) {
		// More items than one INSERT carries, a name taken before the
		// batch, a name given twice within it, and the tenant limit
		// reached part way: each item is judged as if created one by one.
		w := newWorld(t, st)
		taken := w.schedule(t, nil)
		const n, max = 2000, 1500
		list := make([]*geoetl.Schedule, n)
		for i := range list {
			list[i] = newSchedule(w.ten.ID, w.wf.ID, fmt.Sprintf("bulk-%s-%04d", w.ten.ID, i))
		}
		list[10].Name = taken.Name
		list[1200].Name = list[1199].Name
		audit := func(x *geoetl.Schedule) *geoetl.AuditEntry {
			return &geoetl.AuditEntry{TenantID: x.TenantID, Actor: "importer", Action: "schedule.create", ObjectType: "schedule", ObjectID: x.ID}
		}
		errs, err := st.CreateSchedules(bg, list, max, audit)
		noErr(t, err)
		// 1 schedule before, 2 names refused, so items up to index
		// max-1+2 are created and the rest are over the limit.
		created := 0
		for i, e := range errs {
			switch {
			case i == 10 || i == 1200:
				wantCode(t, e, geoetl.ECONFLICT)
			case i <= max:
				if e != nil {
					t.Fatalf("item %d: %v", i, e)
				}
				created++
			default:
				if e == nil || !strings.Contains(geoetl.ErrorMessage(e), "at most 1500") {
					t.Fatalf("item %d past the limit: %v", i, e)
				}
			}
		}
		if got, err := st.CountSchedules(bg, w.ten.ID); err != nil || got != max || created != max-1 {
			t.Fatalf("count %d (%v), created %d, want %d", got, err, created, max)
		}
		for _, i := range []int{0, 899, 900, 1199, max} {
			got, err := st.FindScheduleByName(bg, w.ten.ID, list[i].Name)
			noErr(t, err)
			if got.ID != list[i].ID {
				t.Fatalf("item %d: stored %s, want %s", i, got.ID, list[i].ID)
			}
			vs, err := st.ScheduleVersions(bg, w.ten.ID, got.ID)
			noErr(t, err)
			if len(vs) != 1 || vs[0].Version != 1 {
				t.Fatalf("item %d versions: %+v", i, vs)
			}
		}
		entries, total, _, err := st.FindAudit(bg, geoetl.AuditFilter{TenantID: w.ten.ID, Page: geoetl.Page{Limit: 1}})
		noErr(t, err)
		if total != created || len(entries) != 1 {
			t.Fatalf("%d audit entries, want one per created schedule (%d)", total, created)
		}
	})

	t.Run("FindScheduleIDsByNameTakesManyNamesAtOnce", func(t *testing.T) {
		// Exact names only (not another case, not another tenant's), and
		// more names than one statement could bind one by one.
		w := newWorld(t, st)
		a := w.schedule(t, func(x *geoetl.Schedule) { x.Name = "Parcels 'north'" })
		b := w.schedule(t, func(x *geoetl.Schedule) { x.Name = "städte, \"süd\"" })
		otherTenant := newWorld(t, st).schedule(t, func(x *geoetl.Schedule) { x.Name = "elsewhere" })
		names := []string{a.Name, "parcels 'north'", b.Name, otherTenant.Name}
		for i := range 40_000 {
			names = append(names, fmt.Sprintf("absent %d", i))
		}
		got, err := st.FindScheduleIDsByName(bg, w.ten.ID, names)
		noErr(t, err)
		if len(got) != 2 || got[a.Name] != a.ID || got[b.Name] != b.ID {
			t.Fatalf("found %v, want %s and %s", got, a.ID, b.ID)
		}
		got, err = st.FindScheduleIDsByName(bg, w.ten.ID, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("no names: %v, %v", got, err)
		}
	})

	t.Run("CreateAndFindRoundTripEveryField", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, fullSchedule)
		if x.Version != 1 || !geoetl.IsUUID(x.ID) || x.UpdatedBy != "alice" || !x.CreatedAt.Equal(epoch.Truncate(time.Microsecond)) {
			t.Fatalf("CreateSchedule filled %+v", x)
		}
		got, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		sameJSON(t, "by id", got, x)
		byName, err := st.FindScheduleByName(bg, w.ten.ID, x.Name)
		noErr(t, err)
		sameJSON(t, "by name", byName, x)
		for _, tm := range []*time.Time{got.NextRunAt, got.LastRunAt, got.ExpiresAt, &got.CreatedAt, &got.UpdatedAt} {
			if tm.Location() != time.UTC {
				t.Fatalf("time %v is not in UTC", tm)
			}
		}
	})

	t.Run("DefaultsRoundTrip", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		got, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		sameJSON(t, "defaults", got, x)
		if got.ParameterValues == nil || got.Tags == nil || got.NotificationConfig.EmailAddresses == nil {
			t.Fatal("empty collections came back nil")
		}
	})

	t.Run("CreateNameTakenConflictsNamingIt", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		err := st.CreateSchedule(bg, newSchedule(w.ten.ID, w.wf.ID, x.Name))
		wantCode(t, err, geoetl.ECONFLICT)
		if want := `A schedule named "` + x.Name + `" already exists.`; geoetl.ErrorMessage(err) != want {
			t.Fatalf("message %q, want %q", geoetl.ErrorMessage(err), want)
		}
		// Names are unique per tenant only.
		other := newWorld(t, st)
		noErr(t, st.CreateSchedule(bg, newSchedule(other.ten.ID, other.wf.ID, x.Name)))
	})

	t.Run("CreateWithAnotherTenantsWorkflowIsNotFoundOnWorkflowID", func(t *testing.T) {
		w, other := newWorld(t, st), newWorld(t, st)
		for _, wid := range []string{other.wf.ID, badIDs[0], "not-a-uuid"} {
			err := st.CreateSchedule(bg, newSchedule(w.ten.ID, wid, unique("s")))
			wantCode(t, err, geoetl.ENOTFOUND)
			if f := geoetl.ErrorFields(err)["workflowId"]; len(f) != 1 || f[0] != "workflow not found" {
				t.Fatalf("fields = %v", geoetl.ErrorFields(err))
			}
		}
	})

	t.Run("UpdateBumpsVersionAndKeepsSnapshots", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		clk.Advance(time.Minute)
		got, err := st.UpdateSchedule(bg, w.ten.ID, x.ID, geoetl.Ptr(1), func(s *geoetl.Schedule) error {
			s.Description = "changed"
			s.Tags = []string{"t1"}
			s.UpdatedBy = "bob"
			return nil
		})
		noErr(t, err)
		if got.Version != 2 || got.Description != "changed" || got.UpdatedBy != "bob" || got.CreatedBy != "alice" ||
			!got.UpdatedAt.Equal(clk.Now().Truncate(time.Microsecond)) || !got.CreatedAt.Equal(x.CreatedAt) {
			t.Fatalf("UpdateSchedule = %+v", got)
		}
		stored, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		sameJSON(t, "stored after update", stored, got)
		vs, err := st.ScheduleVersions(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 || vs[0].ChangedBy != "bob" || vs[1].ChangedBy != "alice" ||
			!vs[0].ChangedAt.Equal(got.UpdatedAt) || vs[0].ScheduleID != x.ID {
			t.Fatalf("versions = %+v", vs)
		}
		var snap1, snap2 geoetl.Schedule
		noErr(t, json.Unmarshal(vs[1].Snapshot, &snap1))
		noErr(t, json.Unmarshal(vs[0].Snapshot, &snap2))
		sameJSON(t, "version 1 snapshot", &snap1, x)
		sameJSON(t, "version 2 snapshot", &snap2, got)
	})

	t.Run("UpdateStaleVersionConflicts", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		called := false
		_, err := st.UpdateSchedule(bg, w.ten.ID, x.ID, geoetl.Ptr(7), func(*geoetl.Schedule) error { called = true; return nil })
		wantCode(t, err, geoetl.ECONFLICT)
		if called {
			t.Fatal("mutate ran despite a stale version")
		}
		// No expected version means no check.
		_, err = st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(*geoetl.Schedule) error { return nil })
		noErr(t, err)
	})

	t.Run("UpdateMutateErrorPassesThroughAndChangesNothing", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		boom := errors.New("boom")
		_, err := st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error { s.Name = "half-done"; return boom })
		if err != boom {
			t.Fatalf("error = %v, want the mutate error itself", err)
		}
		verr := &geoetl.Error{Code: geoetl.EINVALID, Message: "Validation failed.", Fields: map[string][]string{"cronExpression": {"bad"}}}
		_, err = st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(*geoetl.Schedule) error { return verr })
		if err != verr {
			t.Fatalf("error = %v, want the validation error itself", err)
		}
		got, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		sameJSON(t, "unchanged", got, x)
	})

	t.Run("UpdateKeepsIdentityAndChecksWorkflowAndName", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		taken := w.schedule(t, nil).Name
		other := newWorld(t, st)
		got, err := st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error {
			s.ID, s.TenantID, s.CreatedBy, s.Version = geoetl.NewID(), other.ten.ID, "mallory", 99
			return nil
		})
		noErr(t, err)
		if got.ID != x.ID || got.TenantID != w.ten.ID || got.CreatedBy != "alice" || got.Version != 2 {
			t.Fatalf("identity changed: %+v", got)
		}
		_, err = st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error { s.WorkflowID = other.wf.ID; return nil })
		wantCode(t, err, geoetl.ENOTFOUND)
		if geoetl.ErrorFields(err)["workflowId"] == nil {
			t.Fatalf("fields = %v", geoetl.ErrorFields(err))
		}
		_, err = st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error { s.Name = taken; return nil })
		wantCode(t, err, geoetl.ECONFLICT)
		wf2 := mustWorkflow(t, st, w.ten.ID)
		got, err = st.UpdateSchedule(bg, w.ten.ID, x.ID, nil, func(s *geoetl.Schedule) error { s.WorkflowID = wf2.ID; return nil })
		noErr(t, err)
		if got.WorkflowID != wf2.ID || got.Version != 3 {
			t.Fatalf("after workflow change: %+v", got)
		}
	})

	t.Run("ReturnedSchedulesAreCopies", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, func(s *geoetl.Schedule) { s.Tags = []string{"a"} })
		got, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		got.Tags[0] = "mutated"
		got.ParameterValues["k"] = "v"
		again, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if again.Tags[0] != "a" || len(again.ParameterValues) != 0 {
			t.Fatalf("a caller's change leaked into the store: %+v", again)
		}
	})

	t.Run("DeleteKeepsExecutionsReadable", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		e := w.mustExecution(t, w.execution(x, epoch, geoetl.TriggerSchedule))
		noErr(t, st.DeleteSchedule(bg, w.ten.ID, x.ID))
		_, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		_, err = st.ScheduleVersions(bg, w.ten.ID, x.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		wantCode(t, st.DeleteSchedule(bg, w.ten.ID, x.ID), geoetl.ENOTFOUND)
		got, err := st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got.ScheduleID == nil || *got.ScheduleID != x.ID {
			t.Fatalf("execution lost its schedule id: %v", got.ScheduleID)
		}
		hist, _, _, err := st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, ScheduleID: x.ID})
		noErr(t, err)
		sameIDs(t, "history after delete", execIDs(hist), []string{e.ID})
	})

	t.Run("AnotherTenantsScheduleIsNotFound", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		other := mustTenant(t, st)
		for _, tid := range append([]string{other.ID}, badIDs...) {
			_, err := st.FindScheduleByID(bg, tid, x.ID)
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = st.FindScheduleByName(bg, tid, x.Name)
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = st.UpdateSchedule(bg, tid, x.ID, nil, func(s *geoetl.Schedule) error { s.Name = "stolen"; return nil })
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = st.ScheduleVersions(bg, tid, x.ID)
			wantCode(t, err, geoetl.ENOTFOUND)
			wantCode(t, st.SetScheduleStatus(bg, tid, x.ID, geoetl.StatusPaused, nil), geoetl.ENOTFOUND)
			wantCode(t, st.DeleteSchedule(bg, tid, x.ID), geoetl.ENOTFOUND)
		}
		for _, id := range badIDs {
			_, err := st.FindScheduleByID(bg, w.ten.ID, id)
			wantCode(t, err, geoetl.ENOTFOUND)
		}
		got, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		sameJSON(t, "untouched by the other tenant", got, x)
	})

	t.Run("SetScheduleStatusWithoutNewVersion", func(t *testing.T) {
		w := newWorld(t, st)
		next := epoch.Add(time.Hour)
		x := w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &next })
		noErr(t, st.SetScheduleStatus(bg, w.ten.ID, x.ID, geoetl.StatusActive, geoetl.Ptr("still fine")))
		got, err := st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if got.NextRunAt == nil || *got.StatusReason != "still fine" || got.Version != 1 {
			t.Fatalf("active keeps the next run: %+v", got)
		}
		noErr(t, st.SetScheduleStatus(bg, w.ten.ID, x.ID, geoetl.StatusExpired, geoetl.Ptr("expired")))
		got, err = st.FindScheduleByID(bg, w.ten.ID, x.ID)
		noErr(t, err)
		if got.Status != geoetl.StatusExpired || *got.StatusReason != "expired" || got.NextRunAt != nil || got.Version != 1 {
			t.Fatalf("after SetScheduleStatus: %+v", got)
		}
		wantCode(t, st.SetScheduleStatus(bg, w.ten.ID, x.ID, "bogus", nil), geoetl.EINVALID)
	})
}
