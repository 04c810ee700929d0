package etl

import (
	"archive/zip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/peterstace/simplefeatures/geom"
)

// The fixtures hold what GIS data holds: unicode text, reals that look
// like integers, integers past 32 bits, booleans, nulls, long field names,
// holes and multi-part shapes.
const fixturePoints = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":1,"name":"Zürich – Hauptbahnhof","population_total":434335,"population_density":4666.5,"area":1.0,"capital":false,"code":"A949","big":9007199254740993,"note":null},"geometry":{"type":"Point","coordinates":[8.540192,47.378177]}},
{"type":"Feature","properties":{"id":2,"name":"Genève","population_total":203856,"population_density":12813.25,"area":15.93,"capital":false,"code":"B1","big":-42,"note":"lac Léman"},"geometry":{"type":"Point","coordinates":[6.142296,46.210203]}},
{"type":"Feature","properties":{"id":3,"name":"Bern","population_total":134794,"population_density":2611.9,"area":51.62,"capital":true,"code":"0042","big":0,"note":"Bundesstadt"},"geometry":{"type":"Point","coordinates":[7.447447,46.947974]}}
]}`

const fixturePolygons = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"with hole","value":10.25},"geometry":{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[2,2],[2,4],[4,4],[4,2],[2,2]]]}},
{"type":"Feature","properties":{"name":"two parts","value":-3.5},"geometry":{"type":"MultiPolygon","coordinates":[[[[20,0],[30,0],[30,10],[20,0]]],[[[40,0],[50,0],[50,5],[40,5],[40,0]],[[41,1],[42,1],[42,2],[41,1]]]]}},
{"type":"Feature","properties":{"name":"no geometry","value":null},"geometry":null}
]}`

const fixtureMixed = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"pt","n":1,"x":0.1,"flag":true,"obj":"a=1"},"geometry":{"type":"Point","coordinates":[1.5,2.25]}},
{"type":"Feature","properties":{"name":"line","n":2,"x":1e-7,"flag":false,"obj":null},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1],[2,0.5]]}},
{"type":"Feature","properties":{"name":"hole","n":3,"x":123456789.125,"flag":null,"obj":"[x]"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[0,10],[10,10],[10,0],[0,0]],[[2,2],[4,2],[4,4],[2,4],[2,2]]]}},
{"type":"Feature","properties":{"name":"multi","n":-4,"x":-2.5,"flag":true,"obj":null},"geometry":{"type":"MultiPolygon","coordinates":[[[[20,0],[20,10],[30,10],[20,0]]],[[[40,0],[40,5],[50,5],[40,0]]]]}},
{"type":"Feature","properties":{"name":"mls","n":5,"x":0,"flag":false,"obj":null},"geometry":{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3]]]}},
{"type":"Feature","properties":{"name":"mp","n":6,"x":6.5,"flag":false,"obj":null},"geometry":{"type":"MultiPoint","coordinates":[[0,0],[1,1]]}}
]}`

func gdalTool(t *testing.T, name string) string {
	t.Helper()
	return requireTool(t, name, "gdal-bin")
}

func mustRunTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// gdalToGeoJSON has ogr2ogr read a file and write it as GeoJSON with every
// significant digit, and returns its features.
func (env *testEnv) gdalToGeoJSON(t *testing.T, rel string, args ...string) []Feature {
	t.Helper()
	out := strings.ReplaceAll(rel, "/", "_") + ".gdal.geojson"
	os.Remove(env.path(out))
	a := append([]string{"-f", "GeoJSON", "-lco", "SIGNIFICANT_FIGURES=17", "-lco", "WRITE_NAME=NO"}, args...)
	mustRunTool(t, gdalTool(t, "ogr2ogr"), append(a, env.path(out), env.path(rel))...)
	return env.readFC(out)
}

func parseFixture(t *testing.T, fc string) []Feature {
	t.Helper()
	g := newGeoJSONReader(strings.NewReader(fc))
	var out []Feature
	for {
		f, err := g.next()
		if err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatal(err)
		}
		out = append(out, f)
	}
}

// normGeom makes orientation irrelevant (shapefiles fix it) and treats
// null and empty alike.
func normGeom(g geom.Geometry) string {
	if g.IsEmpty() {
		return "EMPTY"
	}
	return g.ForceCCW().AsText()
}

func sameValue(a, b any) bool {
	if x, ok := b.(bool); ok && boolAsInt {
		b = map[bool]int64{true: 1, false: 0}[x]
	}
	fa, okA := num(a)
	fb, okB := num(b)
	if okA && okB {
		return fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// boolAsInt compares booleans with the 0/1 integers shapefiles hold.
var boolAsInt bool

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// compareFeatures checks that got holds want's features in order, with
// every value and coordinate equal; rename maps want's attribute names to
// got's, and a "" value means the attribute is not expected.
func compareFeatures(t *testing.T, want, got []Feature, rename map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d features, want %d", len(got), len(want))
	}
	for i := range want {
		if g, w := normGeom(got[i].Geometry), normGeom(want[i].Geometry); g != w {
			t.Errorf("feature %d geometry:\n got %s\nwant %s", i+1, g, w)
		}
		for _, kv := range want[i].Props {
			name := kv.Key
			if r, ok := rename[name]; ok {
				if r == "" {
					continue
				}
				name = r
			}
			v, ok := got[i].Props.Get(name)
			if !ok && kv.Value == nil {
				continue // GDAL leaves unset fields out of GeoJSON
			}
			if !ok {
				t.Errorf("feature %d: attribute %q missing (have %v)", i+1, name, got[i].Props)
				continue
			}
			if !sameValue(v, kv.Value) {
				t.Errorf("feature %d attribute %q: got %#v, want %#v", i+1, name, v, kv.Value)
			}
		}
	}
}

var shapefileRenames = map[string]string{"population_total": "population", "population_density": "populati_1"}

// inOrderOf returns got reordered to follow want by the value of key
// (FlatGeobuf output is in the Hilbert order of its spatial index).
func inOrderOf(t *testing.T, got, want []Feature, key string) []Feature {
	t.Helper()
	by := map[string]Feature{}
	for _, f := range got {
		by[fmt.Sprint(propOrNil(f.Props, key))] = f
	}
	out := make([]Feature, 0, len(want))
	for _, f := range want {
		g, ok := by[fmt.Sprint(propOrNil(f.Props, key))]
		if !ok {
			t.Fatalf("no feature with %s %v", key, propOrNil(f.Props, key))
		}
		out = append(out, g)
	}
	return out
}

func TestFormats_WhatWeWriteGDALReadsWithEveryValue(t *testing.T) {
	// Not parallel: it sets boolAsInt, which compareFeatures reads.
	cases := []struct {
		name, fixture, sink, out string
		rename                   map[string]string
		fieldTypes               []string // "name: Type" lines ogrinfo must show
	}{
		{"shapefile points", fixturePoints, "data_sink.shapefile", "out/points.shp", shapefileRenames,
			[]string{"id: Integer (9.0)", "name: String", "populati_1: Real (24.15)", "area: Real (24.15)", "capital: Integer (1.0)", "big: Integer64 (16.0)"}},
		{"shapefile polygons", fixturePolygons, "data_sink.shapefile", "out/polygons.shp", nil,
			[]string{"value: Real (24.15)"}},
		{"flatgeobuf", fixtureMixed, "data_sink.flatgeobuf", "out/mixed.fgb", nil,
			[]string{"n: Integer64", "x: Real", "flag: Integer(Boolean)", "name: String"}},
		{"flatgeobuf points", fixturePoints, "data_sink.flatgeobuf", "out/points.fgb", nil,
			[]string{"area: Real", "big: Integer64", "capital: Integer(Boolean)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.mustRun(chain(inline("src", tc.fixture), node{id: "out", typ: tc.sink, params: map[string]any{"output_path": tc.out}}))
			info := ogrinfo(t, env.path(tc.out))
			for _, ft := range tc.fieldTypes {
				if !strings.Contains(info, ft) {
					t.Errorf("ogrinfo does not show %q:\n%s", ft, info)
				}
			}
			if !strings.Contains(info, `ID["EPSG",4326]`) {
				t.Errorf("GDAL does not identify the CRS as EPSG:4326:\n%s", info)
			}
			boolAsInt = strings.HasSuffix(tc.out, ".shp")
			defer func() { boolAsInt = false }()
			want, got := parseFixture(t, tc.fixture), env.gdalToGeoJSON(t, tc.out)
			if strings.HasSuffix(tc.out, ".fgb") {
				got = inOrderOf(t, got, want, "name")
			}
			compareFeatures(t, want, got, tc.rename)
		})
	}
}

func TestShapefileSink_ReportsTruncatedFieldNames(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, rec := env.mustRun(chain(inline("src", fixturePoints), node{id: "out", typ: "data_sink.shapefile", params: map[string]any{"output_path": "p.shp"}}))
	log := rec.logText()
	if !strings.Contains(log, `"population_total" -> "population"`) || !strings.Contains(log, `"population_density" -> "populati_1"`) {
		t.Fatalf("the log does not name the truncated fields:\n%s", log)
	}
	if got := env.read("p.cpg"); got != "UTF-8" {
		t.Fatalf(".cpg = %q", got)
	}
}

func TestShapefileSink_RefusesMixedGeometryKinds(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, err, _ := env.run(chain(inline("src", fixtureMixed), node{id: "out", typ: "data_sink.shapefile", params: map[string]any{"output_path": "m.shp"}}), nil)
	if err == nil || !strings.Contains(err.Error(), "one geometry kind") {
		t.Fatalf("err = %v, want a refusal naming the mix", err)
	}
	if _, statErr := os.Stat(env.path("m.shp")); statErr == nil {
		t.Fatal("a failed run left m.shp behind")
	}
}

func TestShapefileSink_ProjectedCRSIsIdentifiedByGDAL(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.mustRun(chain(inline("src", fixturePoints),
		node{id: "utm", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:25832"}},
		node{id: "out", typ: "data_sink.shapefile", params: map[string]any{"output_path": "utm.shp"}}))
	info := ogrinfo(t, env.path("utm.shp"))
	if !strings.Contains(info, `ID["EPSG",25832]`) {
		t.Fatalf("GDAL does not identify EPSG:25832:\n%s", info)
	}
	// And back through our reader: the CRS comes from the .prj.
	env.mustRun(chain(src("utm.shp"), geojsonOut("back.geojson")))
	if !strings.Contains(env.read("back.geojson"), "EPSG::25832") {
		t.Fatalf("the .prj CRS was not carried:\n%.300s", env.read("back.geojson"))
	}
}

// zipFiles zips the named files of the data folder into rel.
func (env *testEnv) zipFiles(t *testing.T, rel string, names ...string) {
	t.Helper()
	f, err := os.Create(env.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, n := range names {
		b, err := os.ReadFile(env.path(n))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create("data/" + filepath.Base(n))
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFormats_WhatGDALWritesWeReadTheSame(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, fixture, driver, file string
		lco                         []string
		zip                         []string // zip these members and read the zip
		rename                      map[string]string
		checkCRS                    string // a CRS member the GeoJSON output must carry
		t_srs                       string
	}{
		{name: "zipped shapefile in CP1252 with .prj and .cpg", fixture: fixturePoints, driver: "ESRI Shapefile", file: "g/points.shp",
			lco: []string{"ENCODING=CP1252"}, zip: []string{"g/points.shp", "g/points.shx", "g/points.dbf", "g/points.prj", "g/points.cpg"}, rename: shapefileRenames},
		{name: "shapefile polygons", fixture: fixturePolygons, driver: "ESRI Shapefile", file: "g/polygons.shp"},
		{name: "shapefile in UTM (ESRI .prj)", fixture: fixturePoints, driver: "ESRI Shapefile", file: "g/utm.shp", rename: shapefileRenames, t_srs: "EPSG:32632", checkCRS: "EPSG::32632"},
		{name: "flatgeobuf with spatial index", fixture: fixtureMixed, driver: "FlatGeobuf", file: "g/mixed.fgb"},
		{name: "flatgeobuf points", fixture: fixturePoints, driver: "FlatGeobuf", file: "g/points.fgb"},
		{name: "flatgeobuf in LAEA", fixture: fixtureMixed, driver: "FlatGeobuf", file: "g/laea.fgb", t_srs: "EPSG:3035", checkCRS: "EPSG::3035"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.write("fixture.geojson", tc.fixture)
			os.MkdirAll(env.path("g"), 0o755)
			args := []string{"-f", tc.driver}
			for _, l := range tc.lco {
				args = append(args, "-lco", l)
			}
			if tc.t_srs != "" {
				args = append(args, "-t_srs", tc.t_srs)
			}
			mustRunTool(t, gdalTool(t, "ogr2ogr"), append(args, env.path(tc.file), env.path("fixture.geojson"))...)
			// What GDAL reads from its own file is the reference (it has
			// cut the field names, turned booleans into 0/1 in shapefiles
			// and ordered FlatGeobuf features along its index).
			want := env.gdalToGeoJSON(t, tc.file)
			in := tc.file
			if tc.zip != nil {
				if cpg := env.read("g/points.cpg"); !strings.Contains(strings.ToUpper(cpg), "1252") {
					t.Fatalf("GDAL wrote .cpg %q, the test expects a CP1252 shapefile", cpg)
				}
				env.zipFiles(t, "g/points.zip", tc.zip...)
				in = "g/points.zip"
			}
			env.mustRun(chain(src(in), geojsonOut("ours.geojson")))
			got := env.readFC("ours.geojson")
			compareFeatures(t, want, got, nil)
			if tc.zip != nil {
				// Text decoded from CP1252 is the fixture's text.
				for i, f := range parseFixture(t, tc.fixture) {
					if w, _ := f.Props.Get("name"); !sameValue(propOrNil(got[i].Props, "name"), w) {
						t.Errorf("feature %d name = %v, want %v", i+1, propOrNil(got[i].Props, "name"), w)
					}
				}
			}
			if tc.checkCRS != "" && !strings.Contains(env.read("ours.geojson"), tc.checkCRS) {
				t.Errorf("CRS %s not carried:\n%.300s", tc.checkCRS, env.read("ours.geojson"))
			}
		})
	}
}

func TestShapefileSource_RefusesAnUnknownPRJ(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.mustRun(chain(inline("src", fixturePoints), node{id: "out", typ: "data_sink.shapefile", params: map[string]any{"output_path": "p.shp"}}))
	env.write("p.prj", `PROJCS["Some_Local_Grid",GEOGCS["GCS_Bessel_1841",DATUM["D_Bessel_1841",SPHEROID["Bessel_1841",6377397.155,299.1528128]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Fantasy_Projection_Of_Nowhere"],PARAMETER["False_Easting",600000.0],UNIT["Meter",1.0]]`)
	_, err, _ := env.run(chain(src("p.shp"), geojsonOut("x.geojson")), nil)
	if err == nil || !strings.Contains(err.Error(), "p.shp") || !strings.Contains(err.Error(), "cannot be identified") {
		t.Fatalf("err = %v, want a refusal naming the file", err)
	}
	os.Remove(env.path("p.prj"))
	_, err, _ = env.run(chain(src("p.shp"), geojsonOut("x.geojson")), nil)
	if err == nil || !strings.Contains(err.Error(), "no .prj") {
		t.Fatalf("err = %v, want a refusal for the missing .prj", err)
	}
}

func TestFormats_KMLAndGPXWrittenByGDALAreRead(t *testing.T) {
	t.Parallel()
	waypoints := `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"Matterhorn","ele":4478.0},"geometry":{"type":"Point","coordinates":[7.658556,45.976444]}},
{"type":"Feature","properties":{"name":"Hörnlihütte","ele":3260.5},"geometry":{"type":"Point","coordinates":[7.68,45.98]}}]}`
	lines := `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"Pfad"},"geometry":{"type":"LineString","coordinates":[[7.6,45.9],[7.61,45.91],[7.62,45.905]]}}]}`
	tracks := `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"Tour"},"geometry":{"type":"MultiLineString","coordinates":[[[7.6,45.9],[7.61,45.91]],[[7.7,46],[7.71,46.01]]]}}]}`
	kml := `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"Matterhorn","ele":4478.0},"geometry":{"type":"Point","coordinates":[7.658556,45.976444]}},
{"type":"Feature","properties":{"name":"Pfad","ele":null},"geometry":{"type":"LineString","coordinates":[[7.6,45.9],[7.61,45.91],[7.62,45.905]]}},
{"type":"Feature","properties":{"name":"Feld","ele":1.5},"geometry":{"type":"Polygon","coordinates":[[[7,46],[7.1,46],[7.1,46.1],[7,46]],[[7.02,46.01],[7.05,46.01],[7.05,46.04],[7.02,46.01]]]}},
{"type":"Feature","properties":{"name":"Zwei","ele":2},"geometry":{"type":"MultiPoint","coordinates":[[7,46],[8,47]]}}]}`
	cases := []struct {
		name, fixture, file, nameKey, gpxType string
		args                                  []string
	}{
		{"KML", kml, "g.kml", "Name", "", []string{"-f", "KML"}},
		{"GPX waypoints", waypoints, "w.gpx", "name", "waypoint", []string{"-f", "GPX"}},
		{"GPX routes", lines, "r.gpx", "name", "route", []string{"-f", "GPX", "-nlt", "LINESTRING"}},
		{"GPX tracks", tracks, "t.gpx", "name", "track", []string{"-f", "GPX", "-nlt", "MULTILINESTRING"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.write("f.geojson", tc.fixture)
			mustRunTool(t, gdalTool(t, "ogr2ogr"), append(tc.args, env.path(tc.file), env.path("f.geojson"))...)
			env.mustRun(chain(src(tc.file), geojsonOut("ours.geojson")))
			got := env.readFC("ours.geojson")
			want := parseFixture(t, tc.fixture)
			if len(got) != len(want) {
				t.Fatalf("got %d features, want %d\n%s", len(got), len(want), env.read(tc.file))
			}
			for i := range want {
				if g, w := normGeom(got[i].Geometry), normGeom(want[i].Geometry); g != w {
					t.Errorf("feature %d geometry:\n got %s\nwant %s", i+1, g, w)
				}
				if g, w := propOrNil(got[i].Props, tc.nameKey), propOrNil(want[i].Props, "name"); g != w {
					t.Errorf("feature %d name = %v, want %v", i+1, g, w)
				}
				if tc.gpxType != "" {
					if g := propOrNil(got[i].Props, "gpx_type"); g != tc.gpxType {
						t.Errorf("feature %d gpx_type = %v, want %s", i+1, g, tc.gpxType)
					}
				}
				if tc.gpxType == "waypoint" {
					if g, w := propOrNil(got[i].Props, "ele"), propOrNil(want[i].Props, "ele"); !sameValue(g, w) {
						t.Errorf("feature %d ele = %v, want %v", i+1, g, w)
					}
				}
			}
		})
	}
}

func TestFormats_FormatFollowsTheExtension(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"a.SHP": "shapefile", "b.zip": "shapefile", "c.fgb": "flatgeobuf", "d.parquet": "geoparquet",
		"e.geoparquet": "geoparquet", "f.kml": "kml", "g.gpx": "gpx", "h.json": "geojson", "https://x.test/data.fgb?token=1": "flatgeobuf"} {
		if got := formatFromPath(in); got != want {
			t.Errorf("formatFromPath(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLaunderDBFNames_FollowsGDAL(t *testing.T) {
	t.Parallel()
	fields := []Field{{Name: "population_total"}, {Name: "population_density"}, {Name: "POPULATION"}, {Name: "short"}, {Name: "größenklasse"}}
	var many []Field
	for i := range 12 {
		many = append(many, Field{Name: fmt.Sprintf("abcdefghijk%d", i)})
	}
	cases := []struct {
		in   []Field
		want []string
	}{
		{fields, []string{"population", "populati_1", "POPULATI_2", "short", "größenkl"}},
		{many, []string{"abcdefghij", "abcdefgh_1", "abcdefgh_2", "abcdefgh_3", "abcdefgh_4", "abcdefgh_5", "abcdefgh_6", "abcdefgh_7", "abcdefgh_8", "abcdefgh_9", "abcdefgh10", "abcdefgh11"}},
	}
	for _, tc := range cases {
		got, _, err := launderDBFNames(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("launder = %q, %v; want %q", got, err, tc.want)
		}
	}
}

func TestFormats_SinksWidenTypesOverAllFeatures(t *testing.T) {
	t.Parallel()
	// 600 features: the real value comes after the first 512-feature batch.
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range 600 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := fmt.Sprint(i)
		if i == 599 {
			v = "10.25"
		}
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"i":%d,"v":%s,"t":%s},"geometry":{"type":"Point","coordinates":[%d,1]}}`, i, v, map[bool]string{true: `"A949"`, false: "7"}[i == 598], i%180)
	}
	b.WriteString("]}")
	for _, sink := range []struct{ typ, out string }{{"data_sink.shapefile", "w.shp"}, {"data_sink.flatgeobuf", "w.fgb"}} {
		t.Run(sink.typ, func(t *testing.T) {
			env := newEnv(t)
			env.mustRun(chain(inline("src", b.String()), node{id: "out", typ: sink.typ, params: map[string]any{"output_path": sink.out}}))
			got := env.gdalToGeoJSON(t, sink.out)
			if sink.typ == "data_sink.flatgeobuf" {
				got = inOrderOf(t, got, parseFixture(t, b.String()), "i")
			}
			if v, _ := got[599].Props.Get("v"); v != 10.25 {
				t.Errorf("v of the last feature = %#v, want 10.25", v)
			}
			if v, _ := got[598].Props.Get("t"); v != "A949" {
				t.Errorf("t = %#v, want \"A949\"", v)
			}
			if v, _ := got[0].Props.Get("t"); v != "7" {
				t.Errorf("t of the first feature = %#v, want the text \"7\"", v)
			}
		})
	}
}

func TestFormats_DeclaredSchemaIsHonouredOrFails(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	schema := []any{map[string]any{"name": "code", "type": "text"}, map[string]any{"name": "id", "type": "real"}, map[string]any{"name": "when", "type": "date"}}
	fc := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":1,"code":42,"when":"2024-02-29"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`
	env.mustRun(chain(inline("src", fc), node{id: "out", typ: "data_sink.shapefile", params: map[string]any{"output_path": "s.shp", "schema": schema}}))
	info := ogrinfo(t, env.path("s.shp"))
	for _, want := range []string{"code: String", "id: Real", "when: Date"} {
		if !strings.Contains(info, want) {
			t.Errorf("ogrinfo lacks %q:\n%s", want, info)
		}
	}
	got := env.gdalToGeoJSON(t, "s.shp")
	if v, _ := got[0].Props.Get("when"); v != "2024-02-29" {
		t.Errorf("when = %#v", v)
	}
	bad := `{"type":"FeatureCollection","features":[{"type":"Feature","id":"x7","properties":{"id":"seven"},"geometry":null}]}`
	_, err, _ := env.run(chain(inline("src", bad), node{id: "out", typ: "data_sink.flatgeobuf", params: map[string]any{"output_path": "s.fgb", "schema": schema}}), nil)
	if err == nil || !strings.Contains(err.Error(), "feature 1 (id x7)") || !strings.Contains(err.Error(), `"seven"`) {
		t.Fatalf("err = %v, want one naming the feature and the value", err)
	}
}

// TestShapefileToGeoPackage_AsOgr2ogr converts a GDAL-written shapefile in
// CP1252 to GeoPackage with the engine and with ogr2ogr, and compares what
// GDAL reads from both, value by value and coordinate by coordinate.
func TestShapefileToGeoPackage_AsOgr2ogr(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("fixture.geojson", fixturePoints)
	ogr := gdalTool(t, "ogr2ogr")
	mustRunTool(t, ogr, "-f", "ESRI Shapefile", "-lco", "ENCODING=CP1252", "-t_srs", "EPSG:2154", env.path("county.shp"), env.path("fixture.geojson"))
	mustRunTool(t, ogr, "-f", "GPKG", env.path("ogr.gpkg"), env.path("county.shp"))
	env.mustRun(chain(src("county.shp"), node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "ours.gpkg", "table_name": "county"}}))
	compareFeatures(t, env.gdalToGeoJSON(t, "ogr.gpkg"), env.gdalToGeoJSON(t, "ours.gpkg"), nil)
	if info := ogrinfo(t, env.path("ours.gpkg")); !strings.Contains(info, `ID["EPSG",2154]`) {
		t.Errorf("the GeoPackage is not in EPSG:2154:\n%s", info)
	}
}

// TestFlatGeobufSink_SpatialIndexAnswersLikeAScan has GDAL filter our
// FlatGeobuf by boxes through its packed R-tree and compares the answer
// with the features whose boxes intersect.
func TestFlatGeobufSink_SpatialIndexAnswersLikeAScan(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("many.geojson", pointsFC(5000))
	env.mustRun(chain(src("many.geojson"), node{id: "out", typ: "data_sink.flatgeobuf", params: map[string]any{"output_path": "many.fgb"}}))
	all := parseFixture(t, pointsFC(5000))
	for _, box := range [][4]float64{{-10, -10, 10, 10}, {100.2, 20, 140, 60}, {-180, -90, 180, 90}, {170, 80, 180, 90}} {
		want := map[string]bool{}
		for _, f := range all {
			xy, _ := f.Geometry.MustAsPoint().XY()
			if xy.X >= box[0] && xy.X <= box[2] && xy.Y >= box[1] && xy.Y <= box[3] {
				want[fmt.Sprint(propOrNil(f.Props, "id"))] = true
			}
		}
		got := env.gdalToGeoJSON(t, "many.fgb", "-spat", fmt.Sprint(box[0]), fmt.Sprint(box[1]), fmt.Sprint(box[2]), fmt.Sprint(box[3]))
		ids := map[string]bool{}
		for _, f := range got {
			ids[fmt.Sprint(propOrNil(f.Props, "id"))] = true
		}
		if !reflect.DeepEqual(ids, want) {
			t.Errorf("box %v: GDAL's indexed filter gives %d features, a scan %d", box, len(ids), len(want))
		}
	}
	if info := ogrinfo(t, env.path("many.fgb")); !strings.Contains(info, "Feature Count: 5000") {
		t.Errorf("ogrinfo:\n%s", info)
	}
	// Our reader skips the index and reads every feature back.
	env.mustRun(chain(src("many.fgb"), geojsonOut("back.geojson")))
	compareFeatures(t, all, inOrderOf(t, env.readFC("back.geojson"), all, "id"), nil)
}
