package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

// TestWorkflowEditor_CreatesAValidDefinition checks creating a workflow
// from the form, which starts from a template that is itself valid.
func TestWorkflowEditor_CreatesAValidDefinition(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.signedIn("editor")
	form := formValues(t, b.get("/geoetl/workflows/new", nil).want(http.StatusOK).has("Node catalog", "data_source.file").Body, "workflow-form")
	form.Set("name", "From the template")
	res := b.post("/geoetl/workflows/new", form, nil).want(http.StatusSeeOther)
	id := strings.TrimPrefix(res.Header.Get("Location"), "/geoetl/workflows/")
	w, err := env.store.FindWorkflowByID(context.Background(), env.tenant, id)
	if err != nil {
		t.Fatalf("created workflow: %v (Location %q)", err, res.Header.Get("Location"))
	}
	if w.Name != "From the template" || !strings.Contains(string(w.Definition), "data_sink.geojson") {
		t.Fatalf("stored %+v", w)
	}
	b.get("/geoetl/workflows/"+id, nil).has("Created From the template.", "Schedule it")
}

// TestWorkflowEditor_ReportsProblemsPerNode checks validation messages:
// JSON syntax, and each bad node and parameter named, next to the
// definition; "Validate only" stores nothing.
func TestWorkflowEditor_ReportsProblemsPerNode(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.signedIn("editor")
	bad := `{"nodes":[{"id":"src","type":"data_source.nope","parameters":{}},{"id":"out","type":"data_sink.geojson","parameters":{}}],"edges":[{"from":"src","to":"ghost"}]}`
	res := b.post("/geoetl/workflows/new", url.Values{"name": {"Broken"}, "definition": {bad}}, htmx("workflow-form")).want(http.StatusOK)
	res.has(`id="definition-errors"`, "nodes[src]", "nodes[out]", `aria-invalid="true"`).lacks("<!doctype")
	b.post("/geoetl/workflows/new", url.Values{"name": {"Broken"}, "definition": {`{"nodes": [`}}, nil).want(http.StatusUnprocessableEntity).has("is not valid JSON")
	b.post("/geoetl/workflows/new", url.Values{"name": {"Checked"}, "definition": {`{"nodes":[]}`}, "validateOnly": {"true"}}, htmx("workflow-form")).
		want(http.StatusOK).has("The definition is valid.")
	if _, n, _, _ := env.svc.ListWorkflows(context.Background(), env.admin, geoetl.WorkflowFilter{}); n != 0 {
		t.Fatalf("%d workflows stored by failed or validate-only posts", n)
	}
}

// TestWorkflowEditor_SavesNewVersionAndGuardsAgainstLostUpdates checks
// editing: a save bumps the version; a save from a stale form is refused
// with the user's text kept.
func TestWorkflowEditor_SavesNewVersionAndGuardsAgainstLostUpdates(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	form := formValues(t, b.get("/geoetl/workflows/"+w.ID, nil).Body, "workflow-form")
	form.Set("description", "first edit")
	b.post("/geoetl/workflows/"+w.ID, form, htmx("workflow-form")).want(http.StatusOK).has("Saved as version 2")
	form.Set("description", "stale edit")
	res := b.post("/geoetl/workflows/"+w.ID, form, htmx("workflow-form")).want(http.StatusOK)
	res.has("Someone saved this workflow", "stale edit", `name="version" value="2"`)
	got, _ := env.store.FindWorkflowByID(ctx, env.tenant, w.ID)
	if got.Description != "first edit" || got.Version != 2 {
		t.Fatalf("after a stale save: %q v%d", got.Description, got.Version)
	}
}

// TestWorkflowRun_StartsAnAdHocRunWithTypedParameters checks the run form:
// values are typed by the declared parameters; a wrong value shows next to
// its input and starts nothing.
func TestWorkflowRun_StartsAnAdHocRunWithTypedParameters(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("editor")
	b.get("/geoetl/workflows/"+w.ID, nil).has(`name="param.region"`, `name="param.limit"`, "default north")
	b.post("/geoetl/workflows/"+w.ID+"/run", url.Values{"param.limit": {"lots"}}, htmx("run-form")).want(http.StatusOK).
		has(`id="run-form"`, "must be an integer", `value="lots"`)
	b.post("/geoetl/workflows/"+w.ID+"/run", url.Values{"param.colour": {"red"}}, htmx("run-form")).want(http.StatusOK).
		has("parameterValues.colour")
	execs, _, _, _ := env.svc.ListExecutions(ctx, env.admin, geoetl.ExecutionFilter{WorkflowID: w.ID})
	if len(execs) != 0 {
		t.Fatalf("%d runs started by invalid forms", len(execs))
	}
	res := b.post("/geoetl/workflows/"+w.ID+"/run", url.Values{"param.limit": {"7"}, "param.region": {""}}, nil).want(http.StatusSeeOther)
	execs, _, _, _ = env.svc.ListExecutions(ctx, env.admin, geoetl.ExecutionFilter{WorkflowID: w.ID})
	if len(execs) != 1 || execs[0].ScheduleID != nil || execs[0].ParameterValues["limit"] != float64(7) {
		t.Fatalf("ad hoc runs: %+v", execs)
	}
	if _, ok := execs[0].ParameterValues["region"]; ok {
		t.Error("an empty input overrode the workflow's default")
	}
	if loc := res.Header.Get("Location"); loc != "/geoetl/executions/"+execs[0].ID {
		t.Errorf("Location = %q", loc)
	}
	b.get("/geoetl/executions/"+execs[0].ID, nil).has(`<a href="/geoetl/workflows" aria-current="page">`, `<li><a href="/geoetl/workflows">Workflows</a></li>`).lacks(">History<")
}

// TestWorkflowDelete_NeedsForceWhileSchedulesUseIt checks deleting: while
// schedules use the workflow, only with force, which puts them in error.
func TestWorkflowDelete_NeedsForceWhileSchedulesUseIt(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("User", "0 2 * * *", w)
	b := env.signedIn("editor")
	b.get("/geoetl/workflows/"+w.ID, nil).has("User", `name="force"`)
	b.post("/geoetl/workflows/"+w.ID+"/delete", nil, nil).want(http.StatusConflict)
	b.post("/geoetl/workflows/"+w.ID+"/delete", url.Values{"force": {"true"}}, nil).want(http.StatusSeeOther)
	got, _ := env.store.FindScheduleByID(ctx, env.tenant, sc.ID)
	if got.Status != geoetl.StatusError {
		t.Fatalf("schedule status %s after a forced delete", got.Status)
	}
	b.get("/geoetl/workflows", nil).has("Deleted Parcels.", "No workflows yet")
	b.get("/geoetl/schedules", nil).has("(workflow missing)", "b-bad")
}

// TestWorkflowsList_Searches checks the list's search and empty states.
func TestWorkflowsList_Searches(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	env.workflow("Harbour depth", paramWorkflow)
	env.workflow("Parcels", paramWorkflow)
	b := env.signedIn("viewer")
	b.get("/geoetl/workflows?q=harbour", nil).want(http.StatusOK).has("Harbour depth").lacks(">Parcels<")
	b.get("/geoetl/workflows?q=zzz", nil).want(http.StatusOK).has("No workflow matches")
	b.get("/geoetl/workflows", nil).lacks("New workflow")
	b.post("/geoetl/workflows/new", url.Values{"name": {"x"}, "definition": {`{"nodes":[]}`}}, nil).want(http.StatusForbidden)
}
