package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/scheduler"
)

// tenantDataEnv is an API server whose engine has a data folder and a
// connection granted to acme only, with a scheduler that runs workflows.
type tenantDataEnv struct {
	*apiEnv
	dataDir string
}

func newTenantDataEnv(t *testing.T, e *apiEnv) *tenantDataEnv {
	t.Helper()
	dir := t.TempDir()
	if err := etl.UpgradeDataLayout(dir, nil); err != nil {
		t.Fatal(err)
	}
	environ := []string{"GEOETL_CONNECTION_GIS=postgres://127.0.0.1:1/gis", "GEOETL_CONNECTION_GIS_TENANTS=acme"}
	eng, err := etl.New(etl.Config{DataDir: dir, Connections: etl.ConnectionsFromEnv(environ), ConnectionGrants: etl.ConnectionGrantsFromEnv(environ)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := scheduler.New(scheduler.Config{Store: e.store, Engine: eng, InstanceID: "tenantdata", Dispatch: true,
		Logger: slog.New(slog.DiscardHandler), ReapInterval: -1, ExpiryInterval: -1, RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Engine, e.svc.Scheduler = eng, s
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return &tenantDataEnv{apiEnv: e, dataDir: dir}
}

// asTenant calls the API as the given tenant (e.tenant or e.other).
func (e *tenantDataEnv) asTenant(tenantID string) caller {
	return caller{e: e.apiEnv, token: e.tokens[tenantID][geoetl.RoleEditor]}
}

// runToEnd runs a workflow now and waits for its execution to finish.
func (e *tenantDataEnv) runToEnd(c caller, workflowID string) map[string]any {
	e.t.Helper()
	id := c.post("/workflows/"+workflowID+"/run", map[string]any{}).want(http.StatusAccepted).object()["id"].(string)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ex := c.get("/executions/" + id).want(http.StatusOK).object()
		switch ex["status"] {
		case "completed", "failed", "cancelled", "skipped":
			return ex
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("execution %s did not finish: %v", id, ex)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileWorkflow(in, out string) map[string]any {
	return map[string]any{"name": "Files " + geoetl.NewID(), "definition": json.RawMessage(`{"nodes":[
	  {"id":"src","type":"data_source.file","parameters":{"file_path":"` + in + `"}},
	  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"` + out + `"}}],
	  "edges":[{"from":"src","to":"out"}]}`)}
}

func TestAPI_TenantsSeeOnlyTheirOwnDataFolder(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, base *apiEnv) {
		e := newTenantDataEnv(t, base)
		acme, globex := e.asTenant(e.tenant), e.asTenant(e.other)
		secret := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"owner":"acme"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`
		acmeFile := filepath.Join(e.dataDir, "acme", "private.geojson")
		os.MkdirAll(filepath.Dir(acmeFile), 0o750)
		if err := os.WriteFile(acmeFile, []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}

		// ".." is refused when the workflow is saved.
		globex.post("/workflows", fileWorkflow("../acme/private.geojson", "stolen.geojson")).wantField("definition.nodes[src].parameters.file_path")
		globex.post("/workflows", fileWorkflow("in.geojson", "../acme/private.geojson")).wantField("definition.nodes[out].parameters.output_path")

		// A plain path names globex's own folder: reading fails, writing
		// stays there.
		id := globex.post("/workflows", fileWorkflow("acme/private.geojson", "x.geojson")).want(http.StatusCreated).object()["id"].(string)
		ex := e.runToEnd(globex, id)
		if msg, _ := ex["errorMessage"].(string); ex["status"] != "failed" || !strings.Contains(msg, `"acme/private.geojson" does not exist`) || strings.Contains(msg, e.dataDir) {
			t.Errorf("globex reading acme's file: %v", ex)
		}
		os.MkdirAll(filepath.Join(e.dataDir, "globex"), 0o750)
		os.WriteFile(filepath.Join(e.dataDir, "globex", "in.geojson"), []byte(secret), 0o644)
		id = globex.post("/workflows", fileWorkflow("in.geojson", "private.geojson")).want(http.StatusCreated).object()["id"].(string)
		if ex := e.runToEnd(globex, id); ex["status"] != "completed" {
			t.Errorf("globex writing its own file: %v", ex)
		}
		// A hard link in globex's folder to acme's file is refused.
		if err := os.Link(acmeFile, filepath.Join(e.dataDir, "globex", "hl.geojson")); err != nil {
			t.Fatal(err)
		}
		id = globex.post("/workflows", fileWorkflow("in.geojson", "hl.geojson")).want(http.StatusCreated).object()["id"].(string)
		if ex := e.runToEnd(globex, id); ex["status"] != "failed" || !strings.Contains(ex["errorMessage"].(string), "hard links") {
			t.Errorf("globex writing through a hard link: %v", ex)
		}
		os.Remove(filepath.Join(e.dataDir, "globex", "hl.geojson"))
		// So is a symbolic link, for reading and for writing.
		if err := os.Symlink(acmeFile, filepath.Join(e.dataDir, "globex", "sl.geojson")); err != nil {
			t.Fatal(err)
		}
		for _, wf := range []map[string]any{fileWorkflow("sl.geojson", "o.geojson"), fileWorkflow("in.geojson", "sl.geojson")} {
			id = globex.post("/workflows", wf).want(http.StatusCreated).object()["id"].(string)
			if ex := e.runToEnd(globex, id); ex["status"] != "failed" || !strings.Contains(ex["errorMessage"].(string), "symbolic link") {
				t.Errorf("globex through a symbolic link: %v", ex)
			}
		}
		if got, _ := os.ReadFile(acmeFile); string(got) != secret {
			t.Errorf("acme's file changed: %s", got)
		}

		// acme reads its own file at the same relative path.
		id = acme.post("/workflows", fileWorkflow("private.geojson", "copy.geojson")).want(http.StatusCreated).object()["id"].(string)
		if ex := e.runToEnd(acme, id); ex["status"] != "completed" {
			t.Errorf("acme reading its own file: %v", ex)
		}
	})
}

func TestAPI_ConnectionsAreUsableOnlyByTheTenantsTheyAreGrantedTo(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, base *apiEnv) {
		e := newTenantDataEnv(t, base)
		acme, globex := e.asTenant(e.tenant), e.asTenant(e.other)
		def := json.RawMessage(`{"nodes":[
		  {"id":"src","type":"data_source.postgis","parameters":{"connection":"gis","table":"parcels"}},
		  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.geojson"}}],
		  "edges":[{"from":"src","to":"out"}]}`)
		const field = "definition.nodes[src].parameters.connection"
		const msg = `connection "gis" is not granted to this tenant`
		for _, r := range []*apiResponse{
			globex.post("/workflows", map[string]any{"name": "PostGIS", "definition": def}),
			globex.post("/workflows/validate", map[string]any{"definition": def}),
		} {
			if p := r.wantField(field); p.Errors[field][0] != msg {
				t.Errorf("errors %v", p.Errors)
			}
		}
		acme.post("/workflows/validate", map[string]any{"definition": def}).want(http.StatusOK)
		id := acme.post("/workflows", map[string]any{"name": "PostGIS", "definition": def}).want(http.StatusCreated).object()["id"].(string)

		// Updating another workflow of globex to use it is refused too.
		other := globex.post("/workflows", fileWorkflow("a.geojson", "b.geojson")).want(http.StatusCreated).object()["id"].(string)
		globex.put("/workflows/"+other, map[string]any{"name": "PostGIS", "definition": def}).wantField(field)

		// A grant removed after the workflow was saved: the run fails
		// with the same message.
		environ := []string{"GEOETL_CONNECTION_GIS=postgres://127.0.0.1:1/gis", "GEOETL_CONNECTION_GIS_TENANTS=globex"}
		eng, err := etl.New(etl.Config{DataDir: e.dataDir, Connections: etl.ConnectionsFromEnv(environ), ConnectionGrants: etl.ConnectionGrantsFromEnv(environ)})
		if err != nil {
			t.Fatal(err)
		}
		s, err := scheduler.New(scheduler.Config{Store: e.store, Engine: eng, InstanceID: "regrant", Dispatch: true,
			Logger: slog.New(slog.DiscardHandler), ReapInterval: -1, ExpiryInterval: -1, RetentionInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Scheduler.(*scheduler.Scheduler).Stop(context.Background())
		e.svc.Engine, e.svc.Scheduler = eng, s
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		ex := e.runToEnd(acme, id)
		if m, _ := ex["errorMessage"].(string); ex["status"] != "failed" || !strings.Contains(m, "nodes[src].parameters.connection: "+msg) {
			t.Errorf("run after the grant was removed: %v", ex)
		}
	})
}

func TestAPI_ExpressionOverBudgetIsRefusedOnSave(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		def := json.RawMessage(`{"nodes":[
		  {"id":"src","type":"data_source.file","parameters":{"file_path":"in.geojson"}},
		  {"id":"big","type":"geoprocessing.filter","parameters":{"expression":"len(repeat(repeat(\"a\", 999999), 1000000)) > 0"}}],
		  "edges":[{"from":"src","to":"big"}]}`)
		p := e.as(geoetl.RoleEditor).post("/workflows", map[string]any{"name": "Big", "definition": def}).wantField("definition.nodes[big].parameters.expression")
		if m := p.Errors["definition.nodes[big].parameters.expression"][0]; !strings.Contains(m, "memory budget") {
			t.Errorf("message %q", m)
		}
	})
}
