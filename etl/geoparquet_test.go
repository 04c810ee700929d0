package etl

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// GDAL on Debian 12 has no Parquet driver, so GeoParquet is checked
// against DuckDB, which reads and writes Parquet with its own code, through
// its npm package (.ci/run installs it into /opt/geoetl-npm).

const duckScript = `const { DuckDBInstance } = require(process.env.DUCKDB_NODE_API);
(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const out = [];
  for (const sql of process.argv.slice(2)) {
    const r = await conn.runAndReadAll(sql);
    out.push(r.getRowObjectsJson());
  }
  process.stdout.write(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(1); });
`

// duckdb runs SQL statements in DuckDB and returns each one's rows.
func duckdb(t *testing.T, sql ...string) [][]map[string]any {
	t.Helper()
	nodeBin := requireTool(t, "node", "nodejs")
	mod := os.Getenv("GEOETL_DUCKDB_NODE_API")
	if mod == "" {
		mod = "/opt/geoetl-npm/node_modules/@duckdb/node-api"
	}
	if _, err := os.Stat(mod); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("DuckDB's npm package is missing at %s (npm install --prefix /opt/geoetl-npm @duckdb/node-api)", mod)
		}
		t.Skipf("DuckDB's npm package is not installed at %s: skipping the GeoParquet check (npm install --prefix /opt/geoetl-npm @duckdb/node-api)", mod)
	}
	script := filepath.Join(t.TempDir(), "duck.cjs")
	os.WriteFile(script, []byte(duckScript), 0o644)
	cmd := exec.Command(nodeBin, append([]string{script}, sql...)...)
	cmd.Env = append(os.Environ(), "DUCKDB_NODE_API="+mod)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("duckdb: %v\n%s", err, stderr)
	}
	var res [][]map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
	return res
}

var geoParquetTypeName = regexp.MustCompile(`^(GeometryCollection|(Multi)?(Point|LineString|Polygon))( Z)?$`)

// checkGeoMetadata checks "geo" metadata against the GeoParquet 1.0.0
// specification's rules and returns the geometry column's description.
func checkGeoMetadata(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("geo metadata is not JSON: %v\n%s", err, raw)
	}
	if m["version"] != "1.0.0" {
		t.Errorf("version = %v", m["version"])
	}
	pc, _ := m["primary_column"].(string)
	cols, _ := m["columns"].(map[string]any)
	col, ok := cols[pc].(map[string]any)
	if pc == "" || !ok {
		t.Fatalf("primary_column %q is not among the columns: %s", pc, raw)
	}
	if col["encoding"] != "WKB" {
		t.Errorf("encoding = %v", col["encoding"])
	}
	types, ok := col["geometry_types"].([]any)
	if !ok {
		t.Errorf("geometry_types is missing or not an array")
	}
	seen := map[string]bool{}
	for _, ty := range types {
		s, _ := ty.(string)
		if !geoParquetTypeName.MatchString(s) || seen[s] {
			t.Errorf("geometry_types holds %q (not a GeoParquet type name, or twice)", s)
		}
		seen[s] = true
	}
	if bb, ok := col["bbox"]; ok {
		if a, _ := bb.([]any); len(a) != 4 && len(a) != 6 {
			t.Errorf("bbox = %v", bb)
		}
	}
	for k := range col {
		switch k {
		case "encoding", "geometry_types", "crs", "bbox", "orientation", "edges", "epoch":
		default:
			t.Errorf("unknown column member %q", k)
		}
	}
	if c, ok := col["crs"]; ok && c != nil {
		if _, isObj := c.(map[string]any); !isObj {
			t.Errorf("crs must be a PROJJSON object or null, is %v", c)
		}
	}
	return col
}

func TestGeoParquetSink_DuckDBReadsEveryValueAndTheSpecHolds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, fixture string
		reproject     string
		wantCRS       float64 // 0: crs must be absent (OGC:CRS84)
		types         []string
		columns       map[string]string // column -> DuckDB type
	}{
		{name: "mixed geometries in EPSG:4326", fixture: fixtureMixed,
			types:   []string{"LineString", "MultiLineString", "MultiPoint", "MultiPolygon", "Point", "Polygon"},
			columns: map[string]string{"geometry": "GEOMETRY('OGC:CRS84')", "name": "VARCHAR", "n": "BIGINT", "x": "DOUBLE", "flag": "BOOLEAN", "obj": "VARCHAR"}},
		{name: "points in UTM", fixture: fixturePoints, reproject: "EPSG:25832", wantCRS: 25832, types: []string{"Point"},
			columns: map[string]string{"id": "BIGINT", "big": "BIGINT", "capital": "BOOLEAN", "population_density": "DOUBLE", "note": "VARCHAR"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			nodes := []node{inline("src", tc.fixture)}
			if tc.reproject != "" {
				nodes = append(nodes, node{id: "rp", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": tc.reproject}})
			}
			nodes = append(nodes, node{id: "out", typ: "data_sink.geoparquet", params: map[string]any{"output_path": "out.parquet"}})
			env.mustRun(chain(nodes...))
			// The reference: our own GeoJSON of the same pipeline.
			nodes[len(nodes)-1] = geojsonOut("ref.geojson")
			env.mustRun(chain(nodes...))
			want := env.readFC("ref.geojson")

			p := env.path("out.parquet")
			res := duckdb(t,
				fmt.Sprintf(`SELECT * EXCLUDE (geometry), hex(ST_AsWKB(geometry)) AS wkb FROM read_parquet('%s')`, p),
				fmt.Sprintf(`SELECT decode(value) AS v FROM parquet_kv_metadata('%s') WHERE decode(key) = 'geo'`, p),
				fmt.Sprintf(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('%s'))`, p))
			rows, meta, schema := res[0], res[1], res[2]
			if len(rows) != len(want) {
				t.Fatalf("DuckDB reads %d rows, want %d", len(rows), len(want))
			}
			for i, f := range want {
				if g, w := rows[i]["wkb"], strings.ToUpper(hex.EncodeToString(f.Geometry.AsBinary())); g != w {
					t.Errorf("row %d WKB = %v, want %s", i+1, g, w)
				}
				for _, kv := range f.Props {
					got := rows[i][kv.Key]
					if gs, ok := got.(string); ok {
						if _, isInt := kv.Value.(int64); isInt {
							got = gs // DuckDB's JSON gives BIGINT as text
							if gs != fmt.Sprint(kv.Value) {
								t.Errorf("row %d %s = %v, want %v", i+1, kv.Key, gs, kv.Value)
							}
							continue
						}
					}
					if !sameValue(got, kv.Value) {
						t.Errorf("row %d %s = %#v, want %#v", i+1, kv.Key, got, kv.Value)
					}
				}
			}
			types := map[string]string{}
			for _, r := range schema {
				types[r["column_name"].(string)] = r["column_type"].(string)
			}
			for c, ty := range tc.columns {
				if types[c] != ty {
					t.Errorf("column %s is %s in DuckDB, want %s", c, types[c], ty)
				}
			}
			if len(meta) != 1 {
				t.Fatalf("geo metadata rows: %v", meta)
			}
			col := checkGeoMetadata(t, meta[0]["v"].(string))
			var gotTypes []string
			for _, ty := range col["geometry_types"].([]any) {
				gotTypes = append(gotTypes, ty.(string))
			}
			if strings.Join(gotTypes, ",") != strings.Join(tc.types, ",") {
				t.Errorf("geometry_types = %v, want %v", gotTypes, tc.types)
			}
			bbox := col["bbox"].([]any)
			var env0 = want[0].Geometry.Envelope()
			for _, f := range want[1:] {
				env0 = env0.ExpandToIncludeEnvelope(f.Geometry.Envelope())
			}
			lo, _ := env0.Min().XY()
			hi, _ := env0.Max().XY()
			if bbox[0] != lo.X || bbox[1] != lo.Y || bbox[2] != hi.X || bbox[3] != hi.Y {
				t.Errorf("bbox = %v, want [%v %v %v %v]", bbox, lo.X, lo.Y, hi.X, hi.Y)
			}
			crsMember, has := col["crs"]
			switch {
			case tc.wantCRS == 0 && has:
				t.Errorf("crs = %v, want it left out for OGC:CRS84", crsMember)
			case tc.wantCRS != 0:
				id, _ := crsMember.(map[string]any)["id"].(map[string]any)
				if id["authority"] != "EPSG" || id["code"] != tc.wantCRS {
					t.Errorf("crs = %v, want EPSG id %v", crsMember, tc.wantCRS)
				}
			}
			// And our reader gives back what went in.
			env.mustRun(chain(src("out.parquet"), geojsonOut("back.geojson")))
			compareFeatures(t, want, env.readFC("back.geojson"), nil)
		})
	}
}

func TestGeoParquetSource_ReadsWhatDuckDBWrites(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	want := parseFixture(t, fixtureMixed)
	var selects []string
	for i, f := range want {
		flag := "NULL"
		if v, _ := f.Props.Get("flag"); v != nil {
			flag = fmt.Sprint(v)
		}
		selects = append(selects, fmt.Sprintf(`SELECT %d AS ord, from_hex('%s') AS geometry, '%s' AS name, %d::BIGINT AS n, %v::DOUBLE AS x, %s::BOOLEAN AS flag, DATE '2024-02-29' + %d AS day, %d::INTEGER AS small`,
			i, hex.EncodeToString(f.Geometry.AsBinary()), propOrNil(f.Props, "name"), propOrNil(f.Props, "n"), propOrNil(f.Props, "x"), flag, i, i*1000))
	}
	meta := `{"version":"1.0.0","primary_column":"geometry","columns":{"geometry":{"encoding":"WKB","geometry_types":[]}}}`
	p := env.path("duck.parquet")
	duckdb(t, fmt.Sprintf(`COPY (SELECT * EXCLUDE (ord) FROM (%s) ORDER BY ord) TO '%s' (FORMAT PARQUET, ROW_GROUP_SIZE 2, KV_METADATA {geo: '%s'})`,
		strings.Join(selects, " UNION ALL "), p, meta))
	env.mustRun(chain(src("duck.parquet"), geojsonOut("ours.geojson")))
	got := env.readFC("ours.geojson")
	compareFeatures(t, want, got, map[string]string{"obj": ""})
	for i, f := range got {
		if d := propOrNil(f.Props, "day"); d != fmt.Sprintf("2024-03-%02d", i) && !(i == 0 && d == "2024-02-29") {
			t.Errorf("feature %d day = %v", i+1, d)
		}
		if s := propOrNil(f.Props, "small"); s != int64(i*1000) {
			t.Errorf("feature %d small = %#v", i+1, s)
		}
	}
}

func TestGeoParquetSource_RefusesAFileWithoutGeoMetadata(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	p := env.path("plain.parquet")
	duckdb(t, fmt.Sprintf(`COPY (SELECT 1 AS a) TO '%s' (FORMAT PARQUET)`, p))
	_, err, _ := env.run(chain(src("plain.parquet"), geojsonOut("x.geojson")), nil)
	if err == nil || !strings.Contains(err.Error(), `no GeoParquet "geo" metadata`) {
		t.Fatalf("err = %v", err)
	}
}
