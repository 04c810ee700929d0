package etl

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/peterstace/simplefeatures/geom"
)

// invalidCorpus holds invalid and degenerate shapes with what GEOS 3.11
// (through PostGIS 3.3) says of them: ST_IsValid, and the polygonal part
// of ST_MakeValid (ST_CollectionExtract(ST_MakeValid(g), 3)), generated
// with the query in TestInvalidCorpus_AgreesWithPostGIS. An unclosed ring
// cannot be given to PostGIS; its expected repair is the closed ring.
var invalidCorpus = []struct {
	name, wkt string
	valid     bool
	madeValid string // polygonal part of ST_MakeValid
	reason    string // what the error names
}{
	{"bowtie", "POLYGON((0 0,10 10,10 0,0 10,0 0))", false, "MULTIPOLYGON(((0 10,5 5,0 0,0 10)),((10 0,5 5,10 10,10 0)))", "self-intersection at 5 5"},
	{"spike", "POLYGON((0 0,10 0,10 10,0 10,0 5,-5 5,0 5,0 0))", false, "MULTIPOLYGON(((0 10,10 10,10 0,0 0,0 5,0 10)))", "self-intersection at 0 5"},
	{"spike outwards", "POLYGON((0 0,10 0,10 5,22 5,10 5,10 10,0 10,0 0))", false, "MULTIPOLYGON(((10 0,0 0,0 10,10 10,10 5,10 0)))", "self-intersection at 10 5"},
	{"zero-area ring", "POLYGON((0 0,10 0,5 0,0 0))", false, "MULTIPOLYGON EMPTY", "self-intersection at"},
	{"zero-area diagonal ring", "POLYGON((0 0,10 10,20 20,0 0))", false, "MULTIPOLYGON EMPTY", "self-intersection at"},
	{"duplicate points", "POLYGON((0 0,0 0,10 0,10 0,10 10,0 10,0 0))", true, "POLYGON((0 0,0 0,10 0,10 0,10 10,0 10,0 0))", ""},
	{"unclosed ring", "", false, "POLYGON((0 0,10 0,10 10,0 10,0 0))", "polygon ring not closed at or near 0 0"},
	{"hole outside shell", "POLYGON((0 0,10 0,10 10,0 10,0 0),(20 20,30 20,30 30,20 30,20 20))", false, "MULTIPOLYGON(((10 10,10 0,0 0,0 10,10 10)),((30 30,30 20,20 20,20 30,30 30)))", "interior ring outside of exterior ring at or near 20 20"},
	{"hole crossing shell", "POLYGON((0 0,10 0,10 10,0 10,0 0),(5 5,15 5,15 8,5 8,5 5))", false, "MULTIPOLYGON(((0 10,10 10,10 8,5 8,5 5,10 5,10 0,0 0,0 10)),((15 8,15 5,10 5,10 8,15 8)))", "rings intersect at multiple points at or near 10 5"},
	{"nested shells", "MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0)),((2 2,8 2,8 8,2 8,2 2)))", false, "MULTIPOLYGON(((0 10,10 10,10 0,0 0,0 10),(8 2,8 8,2 8,2 2,8 2)))", "at or near 2 2"},
	{"overlapping parts", "MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0)),((5 5,15 5,15 15,5 15,5 5)))", false, "MULTIPOLYGON(((0 10,5 10,5 5,10 5,10 0,0 0,0 10)),((5 15,15 15,15 5,10 5,10 10,5 10,5 15)))", "touch at multiple points"},
	{"parts sharing an edge", "MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0)),((10 0,20 0,20 10,10 10,10 0)))", false, "MULTIPOLYGON(((0 10,10 10,20 10,20 0,10 0,0 0,0 10)))", "touch at multiple points"},
	{"nested holes", "POLYGON((0 0,10 0,10 10,0 10,0 0),(1 1,9 1,9 9,1 9,1 1),(2 2,8 2,8 8,2 8,2 2))", false, "MULTIPOLYGON(((10 10,10 0,0 0,0 10,10 10),(9 9,1 9,1 1,9 1,9 9)),((8 8,8 2,2 2,2 8,8 8)))", "nested rings at or near 2 2"},
	{"inverted hole", "POLYGON((0 0,10 0,10 10,5 10,7 5,3 5,5 10,0 10,0 0))", false, "POLYGON((10 10,10 0,0 0,0 10,5 10,10 10),(3 5,7 5,5 10,3 5))", "self-intersection at 5 10"},
	{"figure eight", "POLYGON((0 0,4 0,4 4,2 4,2 6,4 6,4 8,0 8,0 6,2 6,2 4,0 4,0 0))", false, "MULTIPOLYGON(((4 0,0 0,0 4,2 4,4 4,4 0)),((0 8,4 8,4 6,2 6,0 6,0 8)))", "self-intersection at"},
	{"hole touching shell at a point", "POLYGON((0 0,10 0,10 10,0 10,0 0),(0 0,5 2,5 5,0 0))", true, "POLYGON((0 0,10 0,10 10,0 10,0 0),(0 0,5 2,5 5,0 0))", ""},
}

func corpusGeometry(t *testing.T, wkt string) geom.Geometry {
	t.Helper()
	if wkt == "" { // the unclosed ring, which WKT parsers refuse
		return geom.NewPolygon([]geom.LineString{geom.NewLineString(geom.NewSequence([]float64{0, 0, 10, 0, 10, 10, 0, 10}, geom.DimXY))}).AsGeometry()
	}
	g, err := geom.UnmarshalWKT(wkt, geom.NoValidate{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sameArea reports whether two areal geometries cover the same points:
// equal areas and a symmetric difference of (nearly) no area.
func sameArea(t *testing.T, a, b geom.Geometry) bool {
	t.Helper()
	x, err := geom.SymmetricDifference(a, b)
	if err != nil {
		t.Fatalf("comparing %s with %s: %v", a.AsText(), b.AsText(), err)
	}
	return math.Abs(a.Area()-b.Area()) < 1e-9 && x.Area() < 1e-9
}

func TestInvalidCorpus_ValidityAndRepairMatchGEOS(t *testing.T) {
	t.Parallel()
	for _, c := range invalidCorpus {
		t.Run(c.name, func(t *testing.T) {
			g := corpusGeometry(t, c.wkt)
			verr := g.Validate()
			if (verr == nil) != c.valid {
				t.Fatalf("Validate() = %v, GEOS says valid=%v", verr, c.valid)
			}
			if verr != nil {
				if r := invalidReason(g, verr); !strings.Contains(r, c.reason) {
					t.Errorf("reason %q, want it to contain %q", r, c.reason)
				}
			}
			r, err := repairGeometry(g)
			if err != nil {
				t.Fatalf("repair: %v", err)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("repaired %s is invalid: %v", r.AsText(), err)
			}
			if r.Dimension() != 2 && !r.IsEmpty() {
				t.Fatalf("repaired to %s: a polygon must stay areal", r.AsText())
			}
			if want := corpusGeometry(t, c.madeValid); !sameArea(t, r, want) {
				t.Errorf("repaired to %s (area %v); ST_MakeValid gives %s (area %v)", r.AsText(), r.Area(), want.AsText(), want.Area())
			}
		})
	}
}

// TestInvalidCorpus_AgreesWithPostGIS recomputes the corpus's expected
// values with PostGIS when it is present, so that the committed values
// cannot drift from what GEOS says.
func TestInvalidCorpus_AgreesWithPostGIS(t *testing.T) {
	t.Parallel()
	conn := postgisConn(t)
	ctx := context.Background()
	for _, c := range invalidCorpus {
		if c.wkt == "" {
			continue
		}
		var valid bool
		var madeValid string
		if err := conn.QueryRow(ctx, `SELECT ST_IsValid(g), ST_AsText(ST_CollectionExtract(ST_MakeValid(g), 3)) FROM (SELECT ST_GeomFromText($1) AS g) s`, c.wkt).Scan(&valid, &madeValid); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if valid != c.valid || madeValid != c.madeValid {
			t.Errorf("%s: PostGIS says valid=%v, ST_MakeValid=%s; the corpus has %v, %s", c.name, valid, madeValid, c.valid, c.madeValid)
		}
		// And our repair, checked by PostGIS itself.
		r, err := repairGeometry(corpusGeometry(t, c.wkt))
		if err != nil {
			t.Fatal(err)
		}
		var diff float64
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT ST_Area(ST_SymDifference(ST_GeomFromText($1), ST_CollectionExtract(ST_MakeValid(ST_GeomFromText($2)), 3))), ST_IsValid(ST_GeomFromText($1))`, r.AsText(), c.wkt).Scan(&diff, &ok); err != nil {
			t.Fatal(err)
		}
		if diff > 1e-9 || !ok {
			t.Errorf("%s: our repair %s differs from ST_MakeValid by area %v (valid per GEOS: %v)", c.name, r.AsText(), diff, ok)
		}
	}
}

// postgisConn connects to a fresh test database with PostGIS installed
// (see postgisDB).
func postgisConn(t *testing.T) *pgx.Conn {
	t.Helper()
	u := postgisDB(t)
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("connecting to %s: %v", u, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// The shapes that made overlays return wrong areas now fail by default,
// naming the feature and the reason, and give GEOS's area with repair.
func TestOverlay_InvalidGeometryFailsByDefaultAndIsRightWithRepair(t *testing.T) {
	t.Parallel()
	box := map[string]any{"bbox": []any{-1, -1, 11, 11}}
	cases := []struct {
		name     string
		geometry string
		node     node
		area     float64 // ST_Area(ST_Intersection or ST_Difference of ST_MakeValid), from PostGIS
	}{
		{"clip of a bowtie", `{"type":"Polygon","coordinates":[[[0,0],[10,10],[10,0],[0,10],[0,0]]]}`, node{typ: "geoprocessing.clip", params: box}, 50},
		{"clip of a spike", `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,5],[-5,5],[0,5],[0,0]]]}`, node{typ: "geoprocessing.clip", params: box}, 100},
		{"clip of a zero-area ring", `{"type":"Polygon","coordinates":[[[0,0],[10,0],[5,0],[0,0]]]}`, node{typ: "geoprocessing.clip", params: box}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t)
			c.node.id = "op"
			content := `{"type":"FeatureCollection","features":[{"type":"Feature","id":"f7","properties":{},"geometry":` + c.geometry + `}]}`
			_, err, _ := env.run(chain(inline("src", content), c.node, geojsonOut("o.json")), nil)
			if err == nil || !strings.Contains(err.Error(), "feature 1 (id f7): invalid geometry: self-intersection at") {
				t.Fatalf("default: err = %v, want a failure naming feature 1 (id f7) and the self-intersection", err)
			}
			c.node.params = withParam(c.node.params, "invalidGeometry", "repair")
			sum, _ := env.mustRun(chain(inline("src", content), c.node, geojsonOut("o.json")))
			out := env.readFC("o.json")
			got := 0.0
			for _, f := range out {
				got += f.Geometry.Area()
			}
			if math.Abs(got-c.area) > 1e-9 {
				t.Errorf("repaired area %v, GEOS gives %v", got, c.area)
			}
			if sum.Extra["invalidRepaired"] != int64(1) {
				t.Errorf("summary %v, want invalidRepaired 1", sum.AsMap())
			}
		})
	}
}

func withParam(p map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for kk, vv := range p {
		out[kk] = vv
	}
	return out
}

func TestDifference_OfASpikePolygon(t *testing.T) {
	t.Parallel()
	spike := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,5],[-5,5],[0,5],[0,0]]]}}]}`
	mask := fc(`{"type":"Polygon","coordinates":[[[8,8],[12,8],[12,12],[8,12],[8,8]]]}`)
	def := func(mode string) string {
		params := map[string]any{}
		if mode != "" {
			params["invalidGeometry"] = mode
		}
		return graph([]node{inline("subject", spike), inline("mask", mask), {id: "x", typ: "geoprocessing.difference", params: params}, geojsonOut("o.json")},
			[][2]string{{"subject", "x"}, {"mask", "x"}, {"x", "out"}})
	}
	env := newEnv(t)
	if _, err, _ := env.run(def(""), nil); err == nil || !strings.Contains(err.Error(), "feature 1: invalid geometry") {
		t.Fatalf("default: %v", err)
	}
	env.mustRun(def("repair"))
	out := env.readFC("o.json")
	// ST_Area(ST_Difference(ST_CollectionExtract(ST_MakeValid(spike), 3), mask)) = 96
	if len(out) != 1 || math.Abs(out[0].Geometry.Area()-96) > 1e-9 {
		t.Fatalf("difference = %v, want area 96", texts(out))
	}
	sum, _ := env.mustRun(def("skip"))
	if sum.Extra["invalidSkipped"] != int64(1) || len(env.readFC("o.json")) != 0 {
		t.Fatalf("skip: summary %v", sum.AsMap())
	}
}

func TestInvalidGeometry_EveryGeometryNodeChecks(t *testing.T) {
	t.Parallel()
	bowtie := fc(`{"type":"Polygon","coordinates":[[[0,0],[10,10],[10,0],[0,10],[0,0]]]}`, `{"type":"Point","coordinates":[1,1]}`)
	nodes := []node{
		{typ: "geoprocessing.buffer", params: map[string]any{"distance": 1}},
		{typ: "geoprocessing.simplify", params: map[string]any{"tolerance": 0.1}},
		{typ: "geoprocessing.centroid", params: map[string]any{}},
		{typ: "geoprocessing.convex_hull", params: map[string]any{}},
		{typ: "geoprocessing.convex_hull", params: map[string]any{"per_feature": true}},
		{typ: "geoprocessing.union", params: map[string]any{}},
		{typ: "geoprocessing.dissolve", params: map[string]any{}},
		{typ: "geoprocessing.clip", params: map[string]any{"bbox": []any{0, 0, 5, 5}}},
	}
	for _, n := range nodes {
		t.Run(n.typ, func(t *testing.T) {
			env := newEnv(t)
			n.id = "op"
			if _, err, _ := env.run(chain(inline("src", bowtie), n, geojsonOut("o.json")), nil); err == nil || !strings.Contains(err.Error(), "invalid geometry: self-intersection at 5 5") {
				t.Fatalf("default: %v", err)
			}
			n.params = withParam(n.params, "invalidGeometry", "skip")
			sum, rec := env.mustRun(chain(inline("src", bowtie), n, geojsonOut("o.json")))
			if sum.Extra["invalidSkipped"] != int64(1) || !strings.Contains(rec.logText(), "1 features with invalid geometries skipped") {
				t.Errorf("skip: summary %v", sum.AsMap())
			}
			n.params["invalidGeometry"] = "repair"
			env.mustRun(chain(inline("src", bowtie), n, geojsonOut("o.json")))
		})
	}
	cat := newEnv(t).e.Catalog()
	for _, n := range nodes {
		for _, nt := range cat {
			if nt.Type == n.typ {
				if nt.spec("invalidGeometry") == nil {
					t.Errorf("%s has no invalidGeometry parameter in the catalog", n.typ)
				}
			}
		}
	}
}

// TestRepairGeometry_RandomPolygonsAgreeWithPostGIS repairs random
// self-crossing polygons in general position (with holes, and multipolygons whose parts
// overlap) and has PostGIS compare each result with ST_MakeValid's
// polygonal part.
func TestRepairGeometry_RandomPolygonsAgreeWithPostGIS(t *testing.T) {
	t.Parallel()
	conn := postgisConn(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	ring := func(cx, cy, r float64, n int) string {
		pts := make([]string, 0, n+1)
		for i := 0; i < n; i++ {
			// Coordinates in general position. On an integer grid,
			// where edges of different rings overlap collinearly, GEOS's
			// iterative linework method can differ from the even-odd rule
			// (3 of 300 such polygons did); see etl/README.md.
			x := cx + r*(2*rng.Float64()-1)
			y := cy + r*(2*rng.Float64()-1)
			pts = append(pts, fmt.Sprintf("%g %g", x, y))
		}
		return "(" + strings.Join(append(pts, pts[0]), ",") + ")"
	}
	bad := 0
	for i := 0; i < 300; i++ {
		var wkt string
		switch i % 3 {
		case 0:
			wkt = "POLYGON(" + ring(0, 0, 10, 4+rng.IntN(8)) + ")"
		case 1:
			wkt = "POLYGON(" + ring(0, 0, 10, 4+rng.IntN(6)) + "," + ring(0, 0, 6, 3+rng.IntN(4)) + ")"
		default:
			wkt = "MULTIPOLYGON((" + ring(0, 0, 10, 3+rng.IntN(5)) + "),(" + ring(5, 5, 8, 3+rng.IntN(5)) + "))"
		}
		g, err := geom.UnmarshalWKT(wkt, geom.NoValidate{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := repairGeometry(g)
		if err != nil {
			t.Errorf("%s: %v", wkt, err)
			bad++
			continue
		}
		var diff, area float64
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT ST_Area(ST_SymDifference(ST_GeomFromText($1), m)), ST_Area(m), ST_IsValid(ST_GeomFromText($1))
			FROM (SELECT ST_CollectionExtract(ST_MakeValid(ST_GeomFromText($2)), 3) AS m) s`, r.AsText(), wkt).Scan(&diff, &area, &ok); err != nil {
			t.Fatalf("%s: %v", wkt, err)
		}
		if diff > 1e-6*math.Max(1, area) || !ok {
			t.Errorf("%s: repaired to %s, which differs from ST_MakeValid by area %g of %g (valid per GEOS: %v)", wkt, r.AsText(), diff, area, ok)
			bad++
		}
		if bad > 5 {
			t.Fatal("too many differences")
		}
	}
}
