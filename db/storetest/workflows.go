package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func (s *suite) workflows(t *testing.T) {
	st, clk := s.fresh(t)

	t.Run("CreateKeepsVersionOneVerbatim", func(t *testing.T) {
		ten := mustTenant(t, st)
		// The definition is kept byte for byte (key order and spacing too).
		def := json.RawMessage(`{"z": 1,  "a": [true, null]}`)
		w := &geoetl.Workflow{TenantID: ten.ID, Name: "Parcels", Description: "d", Definition: def, CreatedBy: "alice"}
		noErr(t, st.CreateWorkflow(bg, w))
		if w.Version != 1 || w.UpdatedBy != "alice" || w.CreatedAt.IsZero() || !w.UpdatedAt.Equal(w.CreatedAt) {
			t.Fatalf("CreateWorkflow filled %+v", w)
		}
		got, err := st.FindWorkflowByID(bg, ten.ID, w.ID)
		noErr(t, err)
		sameJSON(t, "workflow", got, w)
		if string(got.Definition) != string(def) {
			t.Fatalf("definition = %s, want %s", got.Definition, def)
		}
		vs, err := st.WorkflowVersions(bg, ten.ID, w.ID)
		noErr(t, err)
		if len(vs) != 1 || vs[0].Version != 1 || string(vs[0].Definition) != string(def) || vs[0].ChangedBy != "alice" {
			t.Fatalf("versions = %+v", vs)
		}
		wantCode(t, st.CreateWorkflow(bg, &geoetl.Workflow{TenantID: ten.ID, Name: "Parcels", Definition: def}), geoetl.ECONFLICT)
		// The same name in another tenant is fine.
		noErr(t, st.CreateWorkflow(bg, &geoetl.Workflow{TenantID: mustTenant(t, st).ID, Name: "Parcels", Definition: def}))
	})

	t.Run("UpdateBumpsVersionAndKeepsHistory", func(t *testing.T) {
		ten := mustTenant(t, st)
		w := mustWorkflow(t, st, ten.ID)
		clk.Advance(time.Minute)
		def := json.RawMessage(`{"nodes":[{"id":"a"}]}`)
		name := unique("renamed")
		got, err := st.UpdateWorkflow(bg, ten.ID, w.ID, geoetl.WorkflowUpdate{Name: &name, Definition: &def, ExpectedVersion: geoetl.Ptr(1)}, "bob")
		noErr(t, err)
		if got.Version != 2 || got.Name != name || string(got.Definition) != string(def) || got.UpdatedBy != "bob" ||
			got.CreatedBy != "alice" || !got.UpdatedAt.Equal(clk.Now().Truncate(time.Microsecond)) || got.Description != w.Description {
			t.Fatalf("UpdateWorkflow = %+v", got)
		}
		_, err = st.UpdateWorkflow(bg, ten.ID, w.ID, geoetl.WorkflowUpdate{Name: &name, ExpectedVersion: geoetl.Ptr(1)}, "carol")
		wantCode(t, err, geoetl.ECONFLICT)
		vs, err := st.WorkflowVersions(bg, ten.ID, w.ID)
		noErr(t, err)
		if len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 || vs[0].ChangedBy != "bob" || string(vs[1].Definition) != string(w.Definition) {
			t.Fatalf("versions = %+v", vs)
		}
		taken := mustWorkflow(t, st, ten.ID).Name
		_, err = st.UpdateWorkflow(bg, ten.ID, w.ID, geoetl.WorkflowUpdate{Name: &taken}, "bob")
		wantCode(t, err, geoetl.ECONFLICT)
	})

	t.Run("FindWorkflowsSearchesAndPages", func(t *testing.T) {
		ten := mustTenant(t, st)
		for _, n := range []string{"Bravo roads", "alpha Parcels", "Charlie", "delta"} {
			noErr(t, st.CreateWorkflow(bg, &geoetl.Workflow{TenantID: ten.ID, Name: n, Description: "about " + n, Definition: json.RawMessage(`{}`)}))
		}
		list, total, next, err := st.FindWorkflows(bg, geoetl.WorkflowFilter{TenantID: ten.ID, Page: geoetl.Page{Limit: 3}})
		noErr(t, err)
		names := ids(list, func(w *geoetl.Workflow) string { return w.Name })
		sameIDs(t, "first page by name", names, []string{"alpha Parcels", "Bravo roads", "Charlie"})
		if total != 4 || next == "" {
			t.Fatalf("total %d, next %q", total, next)
		}
		list, _, next, err = st.FindWorkflows(bg, geoetl.WorkflowFilter{TenantID: ten.ID, Page: geoetl.Page{Limit: 3, Cursor: next}})
		noErr(t, err)
		sameIDs(t, "second page", ids(list, func(w *geoetl.Workflow) string { return w.Name }), []string{"delta"})
		if next != "" {
			t.Fatalf("last page has next cursor %q", next)
		}
		list, total, _, err = st.FindWorkflows(bg, geoetl.WorkflowFilter{TenantID: ten.ID, Q: "PARCEL"})
		noErr(t, err)
		if total != 1 || len(list) != 1 || list[0].Name != "alpha Parcels" {
			t.Fatalf("search PARCEL: total %d, %v", total, list)
		}
		_, _, _, err = st.FindWorkflows(bg, geoetl.WorkflowFilter{TenantID: ten.ID, Page: geoetl.Page{Cursor: "garbage"}})
		wantCode(t, err, geoetl.EINVALID)
	})

	t.Run("DeleteInUseConflictsUnlessForced", func(t *testing.T) {
		w := newWorld(t, st)
		next := epoch.Add(time.Hour)
		a := w.schedule(t, func(s *geoetl.Schedule) { s.NextRunAt = &next })
		b := w.schedule(t, func(s *geoetl.Schedule) { s.Status = geoetl.StatusPaused })
		_, err := st.DeleteWorkflow(bg, w.ten.ID, w.wf.ID, false)
		wantCode(t, err, geoetl.ECONFLICT)
		if _, err := st.FindWorkflowByID(bg, w.ten.ID, w.wf.ID); err != nil {
			t.Fatalf("workflow gone after refused delete: %v", err)
		}
		errored, err := st.DeleteWorkflow(bg, w.ten.ID, w.wf.ID, true)
		noErr(t, err)
		want := []string{a.ID, b.ID}
		if a.Name > b.Name {
			want = []string{b.ID, a.ID}
		}
		sameIDs(t, "schedules put into error", errored, want)
		for _, id := range errored {
			got, err := st.FindScheduleByID(bg, w.ten.ID, id)
			noErr(t, err)
			if got.Status != geoetl.StatusError || got.StatusReason == nil || *got.StatusReason != "workflow deleted" || got.NextRunAt != nil {
				t.Fatalf("schedule after forced delete: status %s reason %v next %v", got.Status, got.StatusReason, got.NextRunAt)
			}
		}
		_, err = st.FindWorkflowByID(bg, w.ten.ID, w.wf.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		_, err = st.WorkflowVersions(bg, w.ten.ID, w.wf.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
	})

	t.Run("DeleteUnusedReturnsNoSchedules", func(t *testing.T) {
		w := newWorld(t, st)
		errored, err := st.DeleteWorkflow(bg, w.ten.ID, w.wf.ID, false)
		noErr(t, err)
		if len(errored) != 0 {
			t.Fatalf("errored = %v", errored)
		}
		_, err = st.DeleteWorkflow(bg, w.ten.ID, w.wf.ID, false)
		wantCode(t, err, geoetl.ENOTFOUND)
	})

	t.Run("AnotherTenantsWorkflowIsNotFound", func(t *testing.T) {
		w := newWorld(t, st)
		other := mustTenant(t, st)
		_, err := st.FindWorkflowByID(bg, other.ID, w.wf.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		name := "x"
		_, err = st.UpdateWorkflow(bg, other.ID, w.wf.ID, geoetl.WorkflowUpdate{Name: &name}, "eve")
		wantCode(t, err, geoetl.ENOTFOUND)
		_, err = st.DeleteWorkflow(bg, other.ID, w.wf.ID, true)
		wantCode(t, err, geoetl.ENOTFOUND)
		_, err = st.WorkflowVersions(bg, other.ID, w.wf.ID)
		wantCode(t, err, geoetl.ENOTFOUND)
		list, total, _, err := st.FindWorkflows(bg, geoetl.WorkflowFilter{TenantID: other.ID})
		noErr(t, err)
		if len(list) != 0 || total != 0 {
			t.Fatal("FindWorkflows shows another tenant's workflow")
		}
		for _, id := range badIDs {
			_, err := st.FindWorkflowByID(bg, w.ten.ID, id)
			wantCode(t, err, geoetl.ENOTFOUND)
		}
		if _, err := st.FindWorkflowByID(bg, w.ten.ID, w.wf.ID); err != nil {
			t.Fatalf("the owner lost its workflow: %v", err)
		}
	})
}
