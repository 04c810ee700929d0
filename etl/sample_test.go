package etl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSampleWorkflow_RunsEndToEndAndOpensInGDAL(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	if err := InstallSampleData(env.dataDir); err != nil {
		t.Fatal(err)
	}
	name, def := SampleWorkflow()
	if name == "" {
		t.Fatal("the sample has no name")
	}
	if err := env.e.Validate(def); err != nil {
		t.Fatalf("the sample does not validate: %v", err)
	}
	sum, rec := env.mustRun(string(def))
	// 15 of the 24 bundled cities have at least a million inhabitants.
	if sum.FeaturesRead != 24 || sum.FeaturesWritten != 30 {
		t.Errorf("summary = %+v, want 24 read and 30 written (15 per sink)", sum)
	}
	if got := rec.last("large"); got.Status != "completed" || got.FeaturesIn != 24 || got.FeaturesOut != 15 {
		t.Errorf("filter node record = %+v", got)
	}
	info := ogrinfo(t, env.path("out/samples/large_cities.gpkg"))
	for _, want := range []string{"Feature Count: 15", "Geometry: Point", `ID["EPSG",3857]`} {
		if !strings.Contains(info, want) {
			t.Errorf("ogrinfo output lacks %q:\n%s", want, info)
		}
	}
	validateGPKG(t, env.path("out/samples/large_cities.gpkg"))
	gj := ogrinfo(t, env.path("out/samples/large_city_areas.geojson"))
	if !strings.Contains(gj, "Feature Count: 15") || !strings.Contains(gj, "Polygon") {
		t.Errorf("ogrinfo of the GeoJSON output:\n%s", gj)
	}
}

func TestInstallSampleData_KeepsAnExistingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "default", SampleDataPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := InstallSampleData(dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "mine" {
		t.Errorf("the existing file was overwritten: %q", b)
	}
	fresh := t.TempDir()
	if err := InstallSampleData(fresh); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(fresh, "default", SampleDataPath)); err != nil || !strings.Contains(string(b), "Berlin") {
		t.Errorf("sample not written: %v", err)
	}
}

// The definition shown in API.md, imported as it is, runs end to end.
func TestAPIExample_RunsEndToEndIntoGeoPackage(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("parcels/north.geojson", fc(
		`{"type":"Polygon","coordinates":[[[10,50],[10.1,50],[10.1,50.1],[10,50.1],[10,50]]]}`,
		`{"type":"Polygon","coordinates":[[[11,51],[11.2,51],[11.2,51.1],[11,51]]]}`,
		`{"type":"MultiPolygon","coordinates":[[[[12,52],[12.1,52],[12.1,52.1],[12,52]]]]}`))
	sum, rec := env.mustRun(apiExample)
	if sum.FeaturesRead != 3 || sum.FeaturesWritten != 3 {
		t.Errorf("summary %+v", sum)
	}
	if n := rec.last("out"); n.Status != "completed" || n.FeaturesOut != 3 {
		t.Errorf("sink record %+v", n)
	}
	validateGPKG(t, env.path("out/parcels.gpkg"))
	info := ogrinfo(t, env.path("out/parcels.gpkg"))
	for _, want := range []string{"Layer name: parcels", "Feature Count: 3", `ID["EPSG",4326]`, "Geometry: Unknown (any)"} {
		if !strings.Contains(info, want) {
			t.Errorf("ogrinfo lacks %q:\n%s", want, info)
		}
	}
}
