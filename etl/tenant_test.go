package etl

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	geoetl "github.com/geoetl/geoetl"
)

func gpkgOut(path, mode string) node {
	return node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": path, "table_name": "t", "mode": mode}}
}

func csvOut(path string) node {
	return node{id: "out", typ: "data_sink.csv_geometry", params: map[string]any{"output_path": path}}
}

// runErr runs a definition that must fail and returns its error, checking
// that the error never shows the server's folders.
func (env *testEnv) runErr(def string) error {
	env.t.Helper()
	_, err, _ := env.run(def, nil)
	if err == nil {
		env.t.Fatalf("the run succeeded: %s", def)
	}
	if strings.Contains(err.Error(), env.dataDir) {
		env.t.Errorf("the error shows the server's data folder: %v", err)
	}
	return err
}

func TestTenantFolders_TenantBCannotReadOrChangeTenantAsFiles(t *testing.T) {
	t.Parallel()
	a := newEnv(t).as("tenant-a")
	b := a.as("tenant-b")
	secret := pointsFC(3)
	a.write("private.geojson", secret)

	// Tenant A sees its file at the path it wrote it to.
	a.mustRun(chain(src("private.geojson"), geojsonOut("copy.geojson")))
	if n := len(a.readFC("copy.geojson")); n != 3 {
		t.Fatalf("tenant A read %d features of its own file", n)
	}

	for _, p := range []string{"../tenant-a/private.geojson", "tenant-a/private.geojson", "../../tenant-a/private.geojson", "/private.geojson"} {
		// Reading A's file from B: ".." and absolute paths are refused,
		// and a plain path names B's own folder, where there is none.
		err := b.runErr(chain(src(p), geojsonOut("stolen.geojson")))
		if !strings.Contains(err.Error(), "inside the data folder") && !strings.Contains(err.Error(), "does not exist") && !strings.Contains(err.Error(), "not absolute") {
			t.Errorf("reading %q from tenant B: %v", p, err)
		}
		// Writing over A's file from B, with every sink.
		for _, sink := range []node{geojsonOut(p), csvOut(p), gpkgOut(p, "replace"), gpkgOut(p, "append")} {
			_, err, _ := b.run(chain(inline("src", pointsFC(1)), sink), nil)
			if err != nil && strings.Contains(err.Error(), b.dataDir) {
				t.Errorf("the error shows the server's data folder: %v", err)
			}
		}
	}
	if got := a.read("private.geojson"); got != secret {
		t.Errorf("tenant B changed tenant A's file:\n%s", got)
	}
	// What B wrote under the name "tenant-a/..." stayed in B's folder.
	if _, err := os.Stat(filepath.Join(b.dir, "tenant-a", "private.geojson")); err != nil {
		t.Errorf("tenant B's own tenant-a/private.geojson: %v", err)
	}
	// Listing: a folder is not a file, and another tenant's folder cannot
	// be named.
	for _, p := range []string{".", "..", "../tenant-a"} {
		b.runErr(chain(src(p), geojsonOut("list.geojson")))
	}
}

func TestTenantFolders_FolderIsCreatedPrivateOnFirstUse(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.mustRun(chain(inline("src", pointsFC(1)), geojsonOut("o.json")))
	other := env.as("fresh")
	os.Remove(other.dir)
	other.mustRun(chain(inline("src", pointsFC(1)), geojsonOut("o.json")))
	st, err := os.Stat(other.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		t.Errorf("tenant folder mode %v is open to other users", st.Mode().Perm())
	}
}

func TestTenantFolders_UnsafeTenantNamesAreRefused(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for _, name := range []string{"", "..", ".", ".hidden", "a/b", `a\b`, "a b"} {
		other := *env
		other.tenant = name
		_, err, _ := other.run(chain(inline("src", pointsFC(1)), geojsonOut("o.json")), nil)
		if err == nil {
			t.Errorf("tenant name %q: the run was not refused", name)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(env.dataDir), "o.json")); err == nil {
		t.Error("a run wrote beside the data folder")
	}
	for _, name := range []string{"..", ".", ".hidden"} {
		if geoetl.ValidateTenantName(name) == nil {
			t.Errorf("ValidateTenantName(%q) accepts a name that cannot be a folder", name)
		}
	}
}

func TestTenantFolders_HardLinkToOutsideFileIsNeitherReadNorChanged(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	outside := t.TempDir()
	// A GeoPackage and a GeoJSON file outside the data folder, with a
	// second name inside the tenant's folder.
	seed := newEnv(t)
	seed.mustRun(chain(inline("src", pointsFC(2)), gpkgOut("x.gpkg", "replace")))
	gpkg, _ := os.ReadFile(seed.path("x.gpkg"))
	os.WriteFile(filepath.Join(outside, "x.gpkg"), gpkg, 0o644)
	os.WriteFile(filepath.Join(outside, "x.geojson"), []byte(pointsFC(2)), 0o644)
	for _, n := range []string{"x.gpkg", "x.geojson"} {
		if err := os.Link(filepath.Join(outside, n), env.path("hl-"+n)); err != nil {
			t.Skipf("hard links not supported here: %v", err)
		}
	}
	for _, def := range []string{
		chain(src("hl-x.geojson"), geojsonOut("o.json")),
		chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "hl-x.gpkg"}}, geojsonOut("o.json")),
		chain(inline("src", pointsFC(5)), gpkgOut("hl-x.gpkg", "replace")),
		chain(inline("src", pointsFC(5)), gpkgOut("hl-x.gpkg", "append")),
		chain(inline("src", pointsFC(5)), geojsonOut("hl-x.geojson")),
		chain(inline("src", pointsFC(5)), csvOut("hl-x.geojson")),
	} {
		if err := env.runErr(def); !strings.Contains(err.Error(), "hard links") {
			t.Errorf("error does not say why: %v", err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "x.gpkg")); !bytes.Equal(got, gpkg) {
		t.Error("the GeoPackage outside the data folder changed")
	}
	if got, _ := os.ReadFile(filepath.Join(outside, "x.geojson")); string(got) != pointsFC(2) {
		t.Error("the GeoJSON file outside the data folder changed")
	}
}

func TestTenantFolders_SymbolicLinksAreRefusedEvenInsideTheFolder(t *testing.T) {
	t.Parallel()
	a := newEnv(t).as("tenant-a")
	b := a.as("tenant-b")
	a.write("private.geojson", pointsFC(2))
	a.write("mine.geojson", pointsFC(2))
	links := map[string]string{
		"abs.geojson":  a.path("private.geojson"),      // into another tenant's folder
		"rel.geojson":  "../tenant-a/private.geojson",  // the same, relative
		"same.geojson": "mine.geojson",                 // inside the tenant's own folder
		"dir":          a.dir,                          // a folder of another tenant
		"mine.gpkg":    filepath.Join(b.dir, "x.gpkg"), // to a file not there yet
	}
	b.write("mine.geojson", pointsFC(2))
	for name, target := range links {
		if err := os.Symlink(target, b.path(name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, def := range []string{
		chain(src("abs.geojson"), geojsonOut("o.json")),
		chain(src("rel.geojson"), geojsonOut("o.json")),
		chain(src("same.geojson"), geojsonOut("o.json")),
		chain(src("dir/private.geojson"), geojsonOut("o.json")),
		chain(inline("src", pointsFC(1)), geojsonOut("abs.geojson")),
		chain(inline("src", pointsFC(1)), geojsonOut("dir/private.geojson")),
		chain(inline("src", pointsFC(1)), csvOut("rel.geojson")),
		chain(inline("src", pointsFC(1)), gpkgOut("mine.gpkg", "replace")),
		chain(inline("src", pointsFC(1)), gpkgOut("dir/new.gpkg", "append")),
	} {
		if err := b.runErr(def); !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("error does not say why: %v", err)
		}
	}
	if got := a.read("private.geojson"); got != pointsFC(2) {
		t.Error("tenant A's file changed")
	}
	if _, err := os.Stat(a.path("new.gpkg")); err == nil {
		t.Error("a GeoPackage was written into tenant A's folder")
	}
}

func TestTenantFolders_SocketsAreRefused(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	l, err := net.Listen("unix", env.path("sock.geojson"))
	if err != nil {
		t.Skipf("no Unix sockets here: %v", err)
	}
	defer l.Close()
	for _, def := range []string{
		chain(src("sock.geojson"), geojsonOut("o.json")),
		chain(inline("src", pointsFC(1)), geojsonOut("sock.geojson")),
		chain(inline("src", pointsFC(1)), gpkgOut("sock.geojson", "replace")),
	} {
		if err := env.runErr(def); !strings.Contains(err.Error(), "socket") {
			t.Errorf("error does not say why: %v", err)
		}
	}
}

func TestTenantFolders_FIFOsAreRefusedAtOnce(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	if err := syscall.Mkfifo(env.path("pipe.geojson"), 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, def := range []string{
			chain(src("pipe.geojson"), geojsonOut("o.json")),
			chain(node{id: "src", typ: "data_source.csv_geometry", params: map[string]any{"file_path": "pipe.geojson"}}, geojsonOut("o.json")),
			chain(inline("src", pointsFC(1)), geojsonOut("pipe.geojson")),
			chain(inline("src", pointsFC(1)), gpkgOut("pipe.geojson", "append")),
		} {
			if err := env.runErr(def); !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("error does not say why: %v", err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("a run is blocked on the FIFO")
	}
}

func TestGeoPackageSink_AppendWritesACopyAndRenamesIt(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.mustRun(chain(inline("src", pointsFC(3)), gpkgOut("a.gpkg", "replace")))
	env.mustRun(chain(inline("src", pointsFC(2)), node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "a.gpkg", "table_name": "other"}}))
	before, err := os.Stat(env.path("a.gpkg"))
	if err != nil {
		t.Fatal(err)
	}
	env.mustRun(chain(inline("src", pointsFC(4)), gpkgOut("a.gpkg", "append")))
	after, err := os.Stat(env.path("a.gpkg"))
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Error("append changed the GeoPackage in place instead of renaming a copy over it")
	}
	db, err := sql.Open("sqlite", "file:"+env.path("a.gpkg")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for table, want := range map[string]int{"t": 7, "other": 2} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&n); err != nil || n != want {
			t.Errorf("table %s has %d rows (%v), want %d", table, n, err, want)
		}
	}
	validateGPKG(t, env.path("a.gpkg"))
	// A failed append leaves the file and no temporary files behind.
	good, _ := os.ReadFile(env.path("a.gpkg"))
	env.runErr(graph([]node{
		inline("src", pointsFC(2)),
		{id: "bad", typ: "geoprocessing.filter", params: map[string]any{"expression": `len(repeat(name, 100000000)) > 0`}},
		gpkgOut("a.gpkg", "append"),
	}, [][2]string{{"src", "bad"}, {"bad", "out"}}))
	if got, _ := os.ReadFile(env.path("a.gpkg")); !bytes.Equal(got, good) {
		t.Error("a failed append changed the GeoPackage")
	}
	entries, _ := os.ReadDir(env.dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") || strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestUpgradeDataLayout_MovesOldFilesIntoDefaultOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for rel, content := range map[string]string{
		"samples/european_cities.geojson": "cities",
		"in.csv":                          "x",
		"default/old.txt":                 "a folder that happened to be called default",
	} {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := UpgradeDataLayout(dir, log); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		"default/samples/european_cities.geojson": "cities",
		"default/in.csv":          "x",
		"default/default/old.txt": "a folder that happened to be called default",
	} {
		if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v", rel, got, err)
		}
	}
	for _, name := range []string{"samples", "in.csv", "entry=samples", "entry=in.csv"} {
		if !strings.Contains(logs.String(), name) {
			t.Errorf("the log does not name %q:\n%s", name, logs.String())
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != ".geoetl-layout,default" {
		t.Errorf("data folder holds %v", names)
	}
	if _, err := os.Stat(filepath.Join(dir, "default", layoutMoved)); err == nil {
		t.Error("the move's own marker was left in the default tenant's folder")
	}

	// Later starts move nothing, whatever is there.
	os.MkdirAll(filepath.Join(dir, "tenant-b"), 0o750)
	os.WriteFile(filepath.Join(dir, "tenant-b", "b.csv"), []byte("b"), 0o644)
	logs.Reset()
	if err := UpgradeDataLayout(dir, log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenant-b", "b.csv")); err != nil || logs.Len() != 0 {
		t.Errorf("a second start moved something: %v\n%s", err, logs.String())
	}
}

func TestUpgradeDataLayout_FinishesAMoveThatWasInterrupted(t *testing.T) {
	t.Parallel()
	// Stopped in the middle: some entries are in the staging folder, one
	// is still outside.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, layoutStaging, "samples"), 0o750)
	os.WriteFile(filepath.Join(dir, layoutStaging, "samples", "a.geojson"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.csv"), []byte("b"), 0o644)
	if err := UpgradeDataLayout(dir, nil); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"default/samples/a.geojson": "a", "default/b.csv": "b"} {
		if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v", rel, got, err)
		}
	}
	// Stopped after renaming the staging folder, before the marker.
	dir2 := t.TempDir()
	os.MkdirAll(filepath.Join(dir2, "default"), 0o750)
	os.WriteFile(filepath.Join(dir2, "default", layoutMoved), nil, 0o644)
	os.WriteFile(filepath.Join(dir2, "default", "c.csv"), []byte("c"), 0o644)
	if err := UpgradeDataLayout(dir2, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir2, "default", "c.csv")); err != nil || string(got) != "c" {
		t.Errorf("default/c.csv = %q, %v (moved again?)", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir2, layoutMarker)); err != nil {
		t.Errorf("marker not written: %v", err)
	}
}

func TestUpgradeDataLayout_TheSampleRunsForTheDefaultTenantAfterIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := UpgradeDataLayout(dir, nil); err != nil {
		t.Fatal(err)
	}
	if err := InstallSampleData(dir); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, def := SampleWorkflow()
	rec := &recorder{}
	sum, err := e.Run(t.Context(), geoetl.RunRequest{TenantName: geoetl.DefaultTenantName, ExecutionID: "x", Recorder: rec,
		Workflow: &geoetl.Workflow{Definition: json.RawMessage(def)}})
	if err != nil || sum.FeaturesWritten != 30 {
		t.Fatalf("sample run: %+v, %v\n%s", sum, err, rec.logText())
	}
	if _, err := os.Stat(filepath.Join(dir, "default", "out", "samples", "large_cities.gpkg")); err != nil {
		t.Error(err)
	}
}

func TestConnectionGrants(t *testing.T) {
	t.Parallel()
	env := newEnv(t, func(c *Config) {
		c.Connections = ConnectionsFromEnv([]string{
			"GEOETL_CONNECTION_GIS=postgres://127.0.0.1:1/x",
			"GEOETL_CONNECTION_SHARED=postgres://127.0.0.1:1/y",
			"GEOETL_CONNECTION_SHARED_TENANTS=tenant-a, tenant-b",
		})
		c.ConnectionGrants = ConnectionGrantsFromEnv([]string{
			"GEOETL_CONNECTION_SHARED_TENANTS=tenant-a, tenant-b",
		})
	})
	if _, ok := env.e.cfg.Connections["shared_tenants"]; ok {
		t.Error("the grant variable was read as a connection")
	}
	pg := func(conn string) string {
		return chain(node{id: "src", typ: "data_source.postgis", params: map[string]any{"connection": conn, "table": "t"}}, geojsonOut("o.json"))
	}
	const field = "nodes[src].parameters.connection"
	cases := []struct {
		tenant, conn string
		granted      bool
	}{
		{"default", "gis", true},      // no grant variable: default only
		{"tenant-a", "gis", false},    // ... and no one else
		{"tenant-a", "GIS", false},    // names are case-insensitive
		{"tenant-a", "shared", true},  // granted by name
		{"tenant-b", "shared", true},  //
		{"default", "shared", false},  // a grant lists every tenant, default too
		{"tenant-c", "shared", false}, //
		{"tenant-c", "nosuch", false}, // an unknown name looks the same as a refused one
	}
	for _, c := range cases {
		err := env.e.ValidateFor(c.tenant, json.RawMessage(pg(c.conn)))
		msg := geoetl.ErrorFields(err)[field]
		if c.granted && err != nil {
			t.Errorf("%s using %s: %v", c.tenant, c.conn, err)
		}
		if !c.granted && (len(msg) != 1 || msg[0] != `connection "`+c.conn+`" is not granted to this tenant`) {
			t.Errorf("%s using %s: fields %v", c.tenant, c.conn, geoetl.ErrorFields(err))
		}
		// The run checks the same, so a saved workflow whose grant was
		// later removed fails with the same message.
		_, runErr, _ := env.as(c.tenant).run(pg(c.conn), nil)
		notGranted := runErr != nil && strings.Contains(runErr.Error(), field+`: connection "`+c.conn+`" is not granted to this tenant`)
		if notGranted == c.granted {
			t.Errorf("%s using %s at run time: %v", c.tenant, c.conn, runErr)
		}
	}
	// A templated connection name is checked after substitution.
	def := `{"parameters":{"c":{"type":"string","defaultValue":"gis"}},"nodes":[
	  {"id":"src","type":"data_source.postgis","parameters":{"connection":"{{parameters.c}}","table":"t"}},
	  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.json"}}],"edges":[{"from":"src","to":"out"}]}`
	if err := env.e.ValidateFor("tenant-a", json.RawMessage(def)); err != nil {
		t.Errorf("templated connection refused at save: %v", err)
	}
	_, err, _ := env.as("tenant-a").run(def, nil)
	if err == nil || !strings.Contains(err.Error(), field+`: connection "gis" is not granted to this tenant`) {
		t.Errorf("templated connection at run time: %v", err)
	}
}

func TestFilter_ExpressionOverBudgetFailsTheRunNamingNodeAndBudget(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	err := env.e.Validate(json.RawMessage(chain(inline("src", pointsFC(1)),
		node{id: "big", typ: "geoprocessing.filter", params: map[string]any{"expression": terabyteExpression}}, geojsonOut("o.json"))))
	if msg := geoetl.ErrorFields(err)["nodes[big].parameters.expression"]; len(msg) != 1 || !strings.Contains(msg[0], "memory budget") {
		t.Errorf("validation: %v", err)
	}
	start := time.Now()
	err = env.runErr(chain(inline("src", pointsFC(1)),
		node{id: "big", typ: "geoprocessing.filter", params: map[string]any{"expression": `len(repeat(repeat(kind, 999999), 1000000)) > 0`}}, geojsonOut("o.json")))
	if !strings.Contains(err.Error(), `node "big"`) || !strings.Contains(err.Error(), "memory budget (16 MiB per feature)") {
		t.Errorf("run error: %v", err)
	}
	t.Logf("failed after %s: %v", time.Since(start), err)
}

func TestSinks_RemoveTheStaleTemporaryFilesOfRunsThatDied(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	old := time.Now().Add(-48 * time.Hour)
	stale := []string{".o.json.0123456789ab.tmp", ".a.gpkg.0123456789ab.tmp", ".a.gpkg.0123456789ab.tmp-journal"}
	kept := []string{".o.json.fresh0000000.tmp", ".other.json.0123456789ab.tmp", ".o.json.notes.txt", "o.json.0123456789ab.tmp"}
	for _, n := range append(append([]string{}, stale...), kept...) {
		env.write(n, "x")
		if n != kept[0] {
			os.Chtimes(env.path(n), old, old)
		}
	}
	env.mustRun(chain(inline("src", pointsFC(1)), geojsonOut("o.json")))
	env.mustRun(chain(inline("src", pointsFC(1)), gpkgOut("a.gpkg", "append")))
	for _, n := range stale {
		if _, err := os.Stat(env.path(n)); err == nil {
			t.Errorf("stale %s was left", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(env.path(n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}
