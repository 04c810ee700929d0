package etl

import (
	"context"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peterstace/simplefeatures/geom"
)

// transformOnce runs content through one transform and returns the
// features written.
func transformOnce(t *testing.T, content string, tr node) []Feature {
	t.Helper()
	env := newEnv(t)
	tr.id = "t"
	env.mustRun(chain(inline("src", content), tr, geojsonOut("o.json")))
	return env.readFC("o.json")
}

func fc(geoms ...string) string {
	var parts []string
	for i, g := range geoms {
		parts = append(parts, `{"type":"Feature","properties":{"n":`+strconv.Itoa(i)+`},"geometry":`+g+`}`)
	}
	return `{"type":"FeatureCollection","features":[` + strings.Join(parts, ",") + `]}`
}

func wkt(t *testing.T, s string) geom.Geometry {
	t.Helper()
	g, err := geom.UnmarshalWKT(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestReproject_AgreesWithCS2CS(t *testing.T) {
	t.Parallel()
	pts := [][2]float64{{13.4, 52.5}, {-3.19, 55.95}, {2.35, 48.85}, {9.99, 53.55}}
	var geoms []string
	for _, p := range pts {
		geoms = append(geoms, `{"type":"Point","coordinates":[`+ftoa(p[0])+`,`+ftoa(p[1])+`]}`)
	}
	for _, target := range []int{3857, 32632, 25833, 3035, 27700, 2154} {
		out := transformOnce(t, fc(geoms...), node{typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:" + strconv.Itoa(target)}})
		if len(out) != len(pts) {
			t.Fatalf("EPSG:%d: %d features", target, len(out))
		}
		want := cs2cs(t, target, pts)
		for i, f := range out {
			if f.CRS != target {
				t.Errorf("EPSG:%d: output CRS %d", target, f.CRS)
			}
			xy, _ := f.Geometry.MustAsPoint().XY()
			if math.Abs(xy.X-want[i][0]) > 0.001 || math.Abs(xy.Y-want[i][1]) > 0.001 {
				t.Errorf("EPSG:%d point %v = (%.4f %.4f), cs2cs (%.4f %.4f)", target, pts[i], xy.X, xy.Y, want[i][0], want[i][1])
			}
		}
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// cs2cs converts WGS 84 longitudes/latitudes with PROJ, in GIS axis order.
func cs2cs(t *testing.T, to int, pts [][2]float64) [][2]float64 {
	t.Helper()
	bin := requireTool(t, "cs2cs", "proj-bin")
	// A cs2cs that never answers (seen once on a loaded machine) fails this
	// test by name rather than the whole package at go test's timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "EPSG:4326", "EPSG:"+strconv.Itoa(to), "-f", "%.6f")
	var in strings.Builder
	for _, p := range pts {
		in.WriteString(ftoa(p[1]) + " " + ftoa(p[0]) + "\n")
	}
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cs2cs to EPSG:%d: %v (%v)", to, err, ctx.Err())
	}
	var res [][2]float64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fs := strings.Fields(line)
		x, _ := strconv.ParseFloat(fs[0], 64)
		y, _ := strconv.ParseFloat(fs[1], 64)
		if to == 3035 { // northing first in EPSG:3035
			x, y = y, x
		}
		res = append(res, [2]float64{x, y})
	}
	if len(res) != len(pts) {
		t.Fatalf("cs2cs printed %q", out)
	}
	return res
}

func TestReproject_SourceCRSOverridesInput(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, fc(`{"type":"Point","coordinates":[1113194.9079327357,0]}`),
		node{typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:4326", "source_crs": "EPSG:3857"}})
	xy, _ := out[0].Geometry.MustAsPoint().XY()
	if math.Abs(xy.X-10) > 1e-9 || math.Abs(xy.Y) > 1e-9 {
		t.Errorf("got %v, want (10, 0)", xy)
	}
}

func TestSimplify_RemovesVerticesWithinTolerance(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, fc(`{"type":"LineString","coordinates":[[0,0],[1,0.01],[2,-0.01],[3,0],[4,5]]}`),
		node{typ: "geoprocessing.simplify", params: map[string]any{"tolerance": 0.1}})
	if got := out[0].Geometry.AsText(); got != "LINESTRING(0 0,3 0,4 5)" {
		t.Errorf("simplified to %s", got)
	}
}

func TestSimplify_PreserveTopologyKeepsPolygonsThatWouldCollapse(t *testing.T) {
	t.Parallel()
	small := `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}`
	kept := transformOnce(t, fc(small), node{typ: "geoprocessing.simplify", params: map[string]any{"tolerance": 5}})
	if kept[0].Geometry.IsEmpty() {
		t.Error("preserve_topology let a polygon collapse")
	}
	gone := transformOnce(t, fc(small), node{typ: "geoprocessing.simplify", params: map[string]any{"tolerance": 5, "preserve_topology": false}})
	if !gone[0].Geometry.IsEmpty() {
		t.Errorf("without preserve_topology the polygon stays %s", gone[0].Geometry.AsText())
	}
}

func TestBuffer_AreasMatchTheGeometry(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, fc(
		`{"type":"Point","coordinates":[0,0]}`,
		`{"type":"LineString","coordinates":[[0,0],[10,0],[10,10]]}`,
		`{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]}`,
	), node{typ: "geoprocessing.buffer", params: map[string]any{"distance": 1, "segments": 32}})
	// A polygon with 128 sides has 0.04% less area than its circle.
	// The L-shaped line: two 10x2 rectangles overlapping in a unit
	// square, two half-disc caps and a quarter disc at the outer corner.
	want := []float64{math.Pi, 39 + 1.25*math.Pi, 100 + 40 + math.Pi}
	for i, f := range out {
		if err := f.Geometry.Validate(); err != nil {
			t.Errorf("buffer %d invalid: %v", i, err)
		}
		if a := f.Geometry.Area(); math.Abs(a-want[i])/want[i] > 0.002 {
			t.Errorf("buffer %d area %.4f, want %.4f", i, a, want[i])
		}
	}
	shrunk := transformOnce(t, fc(`{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]]]}`),
		node{typ: "geoprocessing.buffer", params: map[string]any{"distance": -1}})
	if a := shrunk[0].Geometry.Area(); math.Abs(a-64) > 0.01 {
		t.Errorf("negative buffer area %.4f, want 64", a)
	}
}

func TestClip_KeepsPartsInsideAndDropsOutside(t *testing.T) {
	t.Parallel()
	content := fc(
		`{"type":"LineString","coordinates":[[-5,5],[15,5]]}`,
		`{"type":"Point","coordinates":[50,50]}`,
		`{"type":"Point","coordinates":[1,1]}`,
	)
	out := transformOnce(t, content, node{typ: "geoprocessing.clip", params: map[string]any{"bbox": []any{0, 0, 10, 10}}})
	if len(out) != 2 || out[0].Geometry.AsText() != "LINESTRING(0 5,10 5)" || out[1].Geometry.AsText() != "POINT(1 1)" {
		t.Fatalf("bbox clip = %v", texts(out))
	}
	out = transformOnce(t, content, node{typ: "geoprocessing.clip", params: map[string]any{"geometry": "POLYGON((0 0,10 0,0 10,0 0))"}})
	if len(out) != 2 || out[0].Geometry.AsText() != "LINESTRING(0 5,5 5)" {
		t.Fatalf("polygon clip = %v", texts(out))
	}
}

func texts(fs []Feature) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Geometry.AsText())
	}
	return out
}

func TestFilter_SelectsByAttributes(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, pointsFC(30), node{typ: "geoprocessing.filter", params: map[string]any{"expression": `kind == "a" && id > 10`}})
	if len(out) != 9 {
		t.Fatalf("kept %d features, want 9", len(out))
	}
	for _, f := range out {
		id, _ := f.Props.Get("id")
		kind, _ := f.Props.Get("kind")
		if kind != "a" || id.(int64) <= 10 {
			t.Errorf("kept %v", f.Props)
		}
	}
	none := transformOnce(t, pointsFC(3), node{typ: "geoprocessing.filter", params: map[string]any{"expression": `missing == "x"`}})
	if len(none) != 0 {
		t.Errorf("a missing attribute matched")
	}
}

func TestCentroid_ReplacesGeometryKeepsAttributes(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, fc(`{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,2],[0,2],[0,0]]]}`), node{typ: "geoprocessing.centroid", params: map[string]any{}})
	if out[0].Geometry.AsText() != "POINT(2 1)" {
		t.Errorf("centroid %s", out[0].Geometry.AsText())
	}
	if n, _ := out[0].Props.Get("n"); n != int64(0) {
		t.Errorf("attributes lost: %v", out[0].Props)
	}
}

func TestConvexHull_OfAllFeaturesAndPerFeature(t *testing.T) {
	t.Parallel()
	content := fc(`{"type":"Point","coordinates":[0,0]}`, `{"type":"Point","coordinates":[4,0]}`, `{"type":"LineString","coordinates":[[0,4],[2,1]]}`)
	out := transformOnce(t, content, node{typ: "geoprocessing.convex_hull", params: map[string]any{}})
	if len(out) != 1 || math.Abs(out[0].Geometry.Area()-8) > 1e-9 {
		t.Fatalf("hull = %v", texts(out))
	}
	if c, _ := out[0].Props.Get("feature_count"); c != int64(3) {
		t.Errorf("feature_count = %v", c)
	}
	per := transformOnce(t, content, node{typ: "geoprocessing.convex_hull", params: map[string]any{"per_feature": true}})
	if len(per) != 3 || per[2].Geometry.AsText() != "LINESTRING(2 1,0 4)" && per[2].Geometry.AsText() != "LINESTRING(0 4,2 1)" {
		t.Errorf("per-feature hulls = %v", texts(per))
	}
}

func TestDissolve_MergesGeometriesPerGroup(t *testing.T) {
	t.Parallel()
	content := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"k":"a"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}},
	 {"type":"Feature","properties":{"k":"a"},"geometry":{"type":"Polygon","coordinates":[[[1,0],[3,0],[3,2],[1,2],[1,0]]]}},
	 {"type":"Feature","properties":{"k":"b"},"geometry":{"type":"Polygon","coordinates":[[[10,0],[11,0],[11,1],[10,1],[10,0]]]}}]}`
	out := transformOnce(t, content, node{typ: "geoprocessing.dissolve", params: map[string]any{"by": "k"}})
	if len(out) != 2 {
		t.Fatalf("%d groups", len(out))
	}
	if k, _ := out[0].Props.Get("k"); k != "a" || math.Abs(out[0].Geometry.Area()-6) > 1e-9 {
		t.Errorf("group a: %v area %v", out[0].Props, out[0].Geometry.Area())
	}
	if c, _ := out[1].Props.Get("feature_count"); c != int64(1) {
		t.Errorf("group b count %v", c)
	}
}

func TestUnion_MergesAllInputs(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := graph([]node{
		inline("a", fc(`{"type":"Polygon","coordinates":[[[0,0],[2,0],[2,2],[0,2],[0,0]]]}`)),
		inline("b", fc(`{"type":"Polygon","coordinates":[[[1,1],[3,1],[3,3],[1,3],[1,1]]]}`)),
		{id: "u", typ: "geoprocessing.union", params: map[string]any{}},
		geojsonOut("o.json"),
	}, [][2]string{{"a", "u"}, {"b", "u"}, {"u", "out"}})
	env.mustRun(def)
	out := env.readFC("o.json")
	if len(out) != 1 || math.Abs(out[0].Geometry.Area()-7) > 1e-9 {
		t.Errorf("union = %v", texts(out))
	}
}

func runOverlay(t *testing.T, typ string) []Feature {
	t.Helper()
	env := newEnv(t)
	def := graph([]node{
		inline("subject", fc(`{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]]]}`, `{"type":"Point","coordinates":[10,10]}`, `{"type":"Point","coordinates":[1,1]}`)),
		inline("mask", fc(`{"type":"Polygon","coordinates":[[[2,-1],[6,-1],[6,5],[2,5],[2,-1]]]}`)),
		{id: "x", typ: typ, params: map[string]any{}},
		geojsonOut("o.json"),
	}, [][2]string{{"subject", "x"}, {"mask", "x"}, {"x", "out"}})
	env.mustRun(def)
	return env.readFC("o.json")
}

func TestIntersection_KeepsSubjectInsideOverlay(t *testing.T) {
	t.Parallel()
	out := runOverlay(t, "geoprocessing.intersection")
	if len(out) != 1 || math.Abs(out[0].Geometry.Area()-8) > 1e-9 {
		t.Fatalf("intersection = %v", texts(out))
	}
	if n, _ := out[0].Props.Get("n"); n != int64(0) {
		t.Errorf("subject attributes lost: %v", out[0].Props)
	}
}

func TestDifference_RemovesOverlayFromSubject(t *testing.T) {
	t.Parallel()
	out := runOverlay(t, "geoprocessing.difference")
	if len(out) != 3 || math.Abs(out[0].Geometry.Area()-8) > 1e-9 || out[1].Geometry.AsText() != "POINT(10 10)" {
		t.Fatalf("difference = %v", texts(out))
	}
}

func TestValidateGeometry_DropFailAndRepair(t *testing.T) {
	t.Parallel()
	content := fc(`{"type":"Polygon","coordinates":[[[0,0],[10,10],[10,0],[0,10],[0,0]]]}`, `{"type":"Point","coordinates":[1,1]}`)
	dropped := transformOnce(t, content, node{typ: "geoprocessing.validate_geometry", params: map[string]any{"action": "drop"}})
	if len(dropped) != 1 || dropped[0].Geometry.AsText() != "POINT(1 1)" {
		t.Errorf("drop kept %v", texts(dropped))
	}
	repaired := transformOnce(t, content, node{typ: "geoprocessing.validate_geometry", params: map[string]any{}})
	g := repaired[0].Geometry
	if err := g.Validate(); err != nil || g.Type() != geom.TypeMultiPolygon || math.Abs(g.Area()-50) > 1e-9 {
		t.Errorf("repaired bow-tie = %s (area %v, %v), want two triangles of area 25", g.AsText(), g.Area(), err)
	}
	env := newEnv(t)
	_, err, _ := env.run(chain(inline("src", content), node{id: "v", typ: "geoprocessing.validate_geometry", params: map[string]any{"action": "fail"}}, geojsonOut("o.json")), nil)
	if err == nil || !strings.Contains(err.Error(), "invalid geometry") {
		t.Errorf("fail action: %v", err)
	}
}

func TestRepairGeometry_FixesCommonDefects(t *testing.T) {
	t.Parallel()
	cases := map[string]float64{
		"POLYGON((0 0,10 0,10 10,0 10,0 0),(5 5,15 5,15 15,5 15,5 5))":  150, // hole crossing the shell: even-odd
		"POLYGON((0 0,10 0,10 10,0 10,0 0,0 0))":                        100, // repeated closing point
		"POLYGON((0 0,10 0,10 10,0 10))":                                100, // unclosed ring
		"MULTIPOLYGON(((0 0,2 0,2 2,0 2,0 0)),((1 1,3 1,3 3,1 3,1 1)))": 6,   // overlapping parts: even-odd, as ST_MakeValid
	}
	for in, area := range cases {
		g, err := geom.UnmarshalWKT(in, geom.NoValidate{})
		if err != nil {
			// An unclosed ring cannot even be parsed; build it by hand.
			g = geom.NewPolygon([]geom.LineString{geom.NewLineString(geom.NewSequence([]float64{0, 0, 10, 0, 10, 10, 0, 10}, geom.DimXY))}).AsGeometry()
		}
		r, err := repairGeometry(g)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if r.Validate() != nil || math.Abs(r.Area()-area) > 1e-9 {
			t.Errorf("%s repaired to %s (area %v), want area %v", in, r.AsText(), r.Area(), area)
		}
	}
}

func TestWait_PassesFeaturesOn(t *testing.T) {
	t.Parallel()
	out := transformOnce(t, pointsFC(7), node{typ: "control.wait", params: map[string]any{"seconds": 0.01}})
	if len(out) != 7 {
		t.Errorf("passed %d features", len(out))
	}
}

func TestUnionAll_KeepsPolygonFillingAnEnclosedHole(t *testing.T) {
	t.Parallel()
	square := wkt(t, "POLYGON((0 0,10 0,10 10,0 10,0 0))")
	caps := segmentCapsules(sequencesOf(square.Boundary()), 1, 4)
	u, err := unionAll(append(caps, square))
	if err != nil {
		t.Fatal(err)
	}
	// 12x12 minus the four corners, which are quarters of a 16-sided
	// polygon of radius 1 (area 8 sin(pi/8)).
	want := 144 - 4 + 8*math.Sin(math.Pi/8)
	if math.Abs(u.Area()-want) > 1e-9 {
		t.Errorf("area %.4f, want about %.4f", u.Area(), want)
	}
}
