package etl

import (
	"database/sql"
	"math"
	"strings"
	"testing"

	"github.com/geoetl/geoetl/etl/crs"
)

// Heights take part in datum shifts and are kept: cs2cs (PROJ 9.1.1)
// gives EPSG:4326 (51.5 N, 0.1 W) at 1,000 m as (531979.273002,
// 179606.918154) in EPSG:27700 and at 0 m as (531979.292711,
// 179606.908536), 1.9 cm apart.
func TestReproject_UsesHeightsInDatumShifts(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, fc(`{"type":"Point","coordinates":[-0.1,51.5,1000]}`, `{"type":"Point","coordinates":[-0.1,51.5]}`,
		`{"type":"LineString","coordinates":[[-0.1,51.5,1000],[-0.1,51.5,0]]}`),
		node{typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:27700"}})
	if len(out) != 3 {
		t.Fatalf("%d features", len(out))
	}
	at1000, at0 := [2]float64{531979.273002, 179606.918154}, [2]float64{531979.292711, 179606.908536}
	check := func(what string, c [3]float64, want [2]float64, z float64) {
		if math.Abs(c[0]-want[0]) > 0.001 || math.Abs(c[1]-want[1]) > 0.001 || c[2] != z {
			t.Errorf("%s = %v, want %v with z %g", what, c, want, z)
		}
	}
	p := out[0].Geometry.MustAsPoint()
	c, _ := p.Coordinates()
	check("3D point", [3]float64{c.X, c.Y, c.Z}, at1000, 1000)
	xy, _ := out[1].Geometry.MustAsPoint().XY()
	check("2D point", [3]float64{xy.X, xy.Y, 0}, at0, 0)
	seq := out[2].Geometry.MustAsLineString().Coordinates()
	check("line vertex 0", [3]float64{seq.Get(0).X, seq.Get(0).Y, seq.Get(0).Z}, at1000, 1000)
	check("line vertex 1", [3]float64{seq.Get(1).X, seq.Get(1).Y, seq.Get(1).Z}, at0, 0)
}

func TestReproject_AcceptsPROJStringsAndWKT(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, fc(`{"type":"Point","coordinates":[9,48]}`),
		node{typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "+proj=utm +zone=32 +datum=WGS84 +units=m +no_defs"}})
	if out[0].CRS != 32632 {
		t.Errorf("PROJ string of UTM 32N read as CRS %d", out[0].CRS)
	}
	c, _ := crs.Lookup(2056)
	out = transformOnce(t, fc(`{"type":"Point","coordinates":[7.43958333,46.95240556]}`),
		node{typ: "geoprocessing.reproject", params: map[string]any{"target_crs": c.WKT}})
	xy, _ := out[0].Geometry.MustAsPoint().XY()
	if out[0].CRS != 2056 || math.Abs(xy.X-2600000) > 300 || math.Abs(xy.Y-1200000) > 300 {
		t.Errorf("WKT of EPSG:2056: CRS %d, %v", out[0].CRS, xy)
	}
}

// A transformation whose better variant needs a grid that is not
// installed, or that leaves points outside its area unshifted, says so in
// the run log.
func TestReproject_LogsTheDatumTransformationsLimits(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("a.json", fc(`{"type":"Point","coordinates":[-0.1,51.5]}`))
	_, err, rec := env.run(chain(src("a.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:27700"}}, geojsonOut("o.json")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if log := rec.logText(); !strings.Contains(log, "warn p: EPSG:4326 to EPSG:27700") || !strings.Contains(log, "OSTN15") {
		t.Errorf("run log: %s", log)
	}
}

// A GeoJSON file names an ESRI CRS as ESRI's, and refuses a custom one
// rather than naming a code that is not it.
func TestGeoJSONSink_NamesESRICodesAndRefusesCustomCRSs(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("a.json", fc(`{"type":"Point","coordinates":[9,48]}`))
	env.mustRun(chain(src("a.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "ESRI:102100"}}, geojsonOut("o.json")))
	if out := env.read("o.json"); !strings.Contains(out, `"urn:ogc:def:crs:ESRI::102100"`) {
		t.Errorf("output: %.300s", out)
	}
	_, err, _ := env.run(chain(src("a.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "+proj=tmerc +lon_0=9 +ellps=GRS80"}}, geojsonOut("c.json")), nil)
	if err == nil || !strings.Contains(err.Error(), "custom definition") {
		t.Errorf("custom CRS written to GeoJSON: %v", err)
	}
}

// A GeoPackage written in a custom CRS (a PROJ string) keeps its WKT in
// gpkg_spatial_ref_sys under organization NONE, and reads back into the
// same CRS: reprojecting back to WGS 84 returns the input.
func TestGeoPackage_CustomCRSRoundTrip(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("a.json", fc(`{"type":"Point","coordinates":[9.5,47.25]}`))
	env.mustRun(chain(src("a.json"),
		node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "+proj=tmerc +lat_0=0 +lon_0=9 +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=us-ft"}},
		node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "c.gpkg", "table_name": "t"}}))
	db, err := sql.Open("sqlite", "file:"+env.path("c.gpkg")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var org, def string
	err = db.QueryRow(`SELECT s.organization, s.definition FROM gpkg_spatial_ref_sys s JOIN gpkg_contents c ON c.srs_id = s.srs_id WHERE c.table_name = 't'`).Scan(&org, &def)
	db.Close()
	if err != nil || org != "NONE" || !strings.Contains(def, `UNIT["US survey foot",0.304800609601219`) {
		t.Errorf("srs: %q %q %v", org, def, err)
	}
	// Read back as another process would: from the WKT alone.
	id, err := crs.Parse(def)
	if c, _ := crs.Lookup(id); err != nil || c == nil || c.Geographic() {
		t.Errorf("the stored WKT reads as %d, %v", id, err)
	}
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "c.gpkg"}},
		node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:4326"}}, geojsonOut("back.json")))
	back := env.readFC("back.json")
	if len(back) != 1 {
		t.Fatalf("%d features", len(back))
	}
	xy, _ := back[0].Geometry.MustAsPoint().XY()
	if math.Abs(xy.X-9.5) > 1e-9 || math.Abs(xy.Y-47.25) > 1e-9 {
		t.Errorf("round trip gave %v", xy)
	}
}
