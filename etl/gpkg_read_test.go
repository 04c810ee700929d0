package etl

import (
	"database/sql"
	"os/exec"
	"strings"
	"testing"

	"github.com/geoetl/geoetl/etl/feature"
)

func gdal(t *testing.T, tool string, args ...string) {
	t.Helper()
	bin := requireTool(t, tool, "gdal-bin")
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

// execSQLite runs statements on an SQLite file, as another program would
// change a GeoPackage.
func execSQLite(t *testing.T, path, stmts string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range strings.Split(stmts, ";") {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// gdalGPKG writes a GeoPackage with ogr2ogr from CSV rows with a wkt
// column (none for an attribute table).
func gdalGPKG(t *testing.T, env *testEnv, name, layer, csv string, extra ...string) string {
	t.Helper()
	env.write(name+".csv", csv)
	args := []string{"-f", "GPKG", env.path(name + ".gpkg"), env.path(name + ".csv"), "-nln", layer, "-oo", "AUTODETECT_TYPE=YES"}
	if strings.HasPrefix(csv, "wkt,") {
		args = append(args, "-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs", "EPSG:3857")
	}
	gdal(t, "ogr2ogr", append(args, extra...)...)
	return name + ".gpkg"
}

func TestGeoPackageSource_StraightCurvesAreReadAsGDALLinearisesThem(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	gdalGPKG(t, env, "c", "curves", `wkt,id
"MULTISURFACE(((0 0,1 0,1 1,0 0)))",1
"COMPOUNDCURVE((0 0,1 1),(1 1,2 0))",2
"CURVEPOLYGON(COMPOUNDCURVE((0 0,2 0,2 2),(2 2,0 0)))",3
"MULTICURVE((0 0,1 1),COMPOUNDCURVE((5 5,6 6),(6 6,7 5)))",4
"COMPOUNDCURVE Z((0 0 1,1 1 2),(1 1 2,2 0 3))",5
`)
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "c.gpkg"}}, geojsonOut("o.json")))
	// What ogr2ogr -nlt CONVERT_TO_LINEAR gives for the same file.
	want := []string{"MULTIPOLYGON(((0 0,1 0,1 1,0 0)))", "LINESTRING(0 0,1 1,2 0)", "POLYGON((0 0,2 0,2 2,0 0))", "MULTILINESTRING((0 0,1 1),(5 5,6 6,7 5))", "LINESTRING Z (0 0 1,1 1 2,2 0 3)"}
	if got := texts(env.readFC("o.json")); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("read %v\nwant %v", got, want)
	}
}

func TestGeoPackageSource_RefusesCircularArcsNamingTheFeature(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	gdalGPKG(t, env, "c", "arcs", "wkt,id\n\"LINESTRING(0 0,1 1)\",1\n\"CURVEPOLYGON(CIRCULARSTRING(0 0,1 1,2 0,1 -1,0 0))\",2\n")
	_, err, _ := env.run(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "c.gpkg"}}, geojsonOut("o.json")), nil)
	if err == nil || !strings.Contains(err.Error(), `table "arcs" feature 2 (fid 2): it has circular arcs`) {
		t.Errorf("arc: %v", err)
	}
}

func TestGeoPackage_MValuesRoundTripAndPassGDALsValidator(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	gdalGPKG(t, env, "m", "m", "wkt,name\n\"LINESTRING M (0 0 1,1 1 2)\",a\n\"LINESTRING ZM (0 0 5 1,1 1 6 2)\",b\n")
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "m.gpkg"}},
		node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "out.gpkg", "table_name": "m"}}))
	validateGPKG(t, env.path("out.gpkg"))
	bin := requireTool(t, "ogr2ogr", "gdal-bin")
	out, err := exec.Command(bin, "-f", "CSV", "/vsistdout/", env.path("out.gpkg"), "-lco", "GEOMETRY=AS_WKT").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"LINESTRING M (0 0 1,1 1 2)",a`) || !strings.Contains(string(out), `"LINESTRING ZM (0 0 5 1,1 1 6 2)",b`) {
		t.Errorf("GDAL reads back:\n%s", out)
	}
}

func TestGeoPackageSource_ReadsBlobsAndAttributeTables(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	gdalGPKG(t, env, "a", "plain", "name,n\nx,1\ny,2\n")
	execSQLite(t, env.path("a.gpkg"), `ALTER TABLE plain ADD COLUMN raw BLOB; UPDATE plain SET raw = x'00ff10' WHERE name = 'x'`)
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "a.gpkg", "table_name": "plain"}}, geojsonOut("o.json")))
	fs := env.readFC("o.json")
	if len(fs) != 2 || !feature.IsNullGeometry(fs[0].Geometry) {
		t.Fatalf("read %d features: %v", len(fs), texts(fs))
	}
	if raw, _ := fs[0].Props.Get("raw"); raw != "00FF10" {
		t.Errorf("raw = %#v in GeoJSON, want GDAL's hex", raw)
	}
	// Without a table name, the only (attribute) table is read; BLOBs
	// are written back as BLOBs.
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "a.gpkg"}},
		node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "b.gpkg", "table_name": "copy"}}))
	if types := gdalFieldTypes(t, env.path("b.gpkg")); types["raw"] != "Binary" || types["n"] != "Integer64" {
		t.Errorf("GDAL reads types %v", types)
	}
	if got := gdalFeatures(t, env.path("b.gpkg")); got[0]["raw"] != "00FF10" || got[0]["name"] != "x" {
		t.Errorf("GDAL reads %v", got[0])
	}
}

func TestCSVSource_EmptyCoordinateGivesNullGeometryAsGDAL(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.csv", "name,lon,lat\na,1,2\nb,,\nc,3,\nd,5,6\n")
	sum, rec := env.mustRun(chain(node{id: "src", typ: "data_source.csv_geometry", params: map[string]any{"file_path": "in.csv"}}, geojsonOut("o.json")))
	fs := env.readFC("o.json")
	var got []string
	for _, f := range fs {
		if feature.IsNullGeometry(f.Geometry) {
			got = append(got, "null")
		} else {
			got = append(got, f.Geometry.AsText())
		}
	}
	if sum.FeaturesRead != 4 || strings.Join(got, "|") != "POINT(1 2)|null|null|POINT(5 6)" || !strings.Contains(rec.logText(), "2 rows with an empty coordinate") {
		t.Errorf("read %v", got)
	}
	// GDAL reads the same file the same way.
	bin := requireTool(t, "ogr2ogr", "gdal-bin")
	out, err := exec.Command(bin, "-f", "CSV", "/vsistdout/", env.path("in.csv"), "-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat", "-lco", "GEOMETRY=AS_WKT").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "WKT,name,lon,lat\n\"POINT (1 2)\",a,1,2\n,b,,\n,c,3,\n\"POINT (5 6)\",d,5,6\n"; strings.ReplaceAll(string(out), "\r", "") != want {
		t.Errorf("GDAL reads:\n%s", out)
	}
	// A cell that is not a number still fails (GDAL would read 0).
	env.write("bad.csv", "name,lon,lat\na,1,x\n")
	if _, err, _ := env.run(chain(node{id: "src", typ: "data_source.csv_geometry", params: map[string]any{"file_path": "bad.csv"}}, geojsonOut("o.json")), nil); err == nil || !strings.Contains(err.Error(), "line 2: coordinates") {
		t.Errorf("non-numeric coordinate: %v", err)
	}
}
