package etl

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func pgSinkEnv(t *testing.T) (*testEnv, *pgx.Conn) {
	t.Helper()
	u := postgisDB(t)
	env := newEnv(t, func(c *Config) { c.Connections = map[string]string{"gis": u} })
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return env, conn
}

func pgSink(table, mode string, extra ...any) node {
	p := map[string]any{"connection": "gis", "table": table, "mode": mode}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i].(string)] = extra[i+1]
	}
	return node{id: "out", typ: "data_sink.postgis", params: p}
}

func TestPostGISSink_IDPropertyIsAnOrdinaryColumn(t *testing.T) {
	t.Parallel()
	env, conn := pgSinkEnv(t)
	content := `{"type":"FeatureCollection","features":[
	  {"type":"Feature","properties":{"id":"A-1","v":1},"geometry":{"type":"Point","coordinates":[1,2]}},
	  {"type":"Feature","properties":{"id":"A-1","v":2},"geometry":{"type":"Point","coordinates":[3,4]}}]}`
	env.mustRun(chain(inline("src", content), pgSink("ids", "replace")))
	rows, err := conn.Query(context.Background(), "SELECT fid, id, v FROM ids ORDER BY fid")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var fid, v int64
		var id string
		if err := rows.Scan(&fid, &id, &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s:%d", fid, id, v))
	}
	if strings.Join(got, " ") != "1:A-1:1 2:A-1:2" {
		t.Errorf("rows %v", got)
	}
	var pk string
	conn.QueryRow(context.Background(), `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'ids'::regclass AND i.indisprimary`).Scan(&pk)
	if pk != "fid" {
		t.Errorf("primary key %q, want fid", pk)
	}
	// GDAL sees fid as the layer's FID column and id as a string field.
	info := ogrinfo(t, "PG:"+pgConnString(t, conn), "ids")
	for _, want := range []string{"FID Column = fid", "id: String", "v: Integer64", "Geometry: Point", `ID["EPSG",4326]`} {
		if !strings.Contains(info, want) {
			t.Errorf("ogrinfo lacks %q:\n%s", want, info)
		}
	}
}

// pgConnString is conn's database as a libpq connection string for GDAL.
func pgConnString(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	c := conn.Config()
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s", c.Host, c.Port, c.User, c.Database)
}

func TestPostGISSink_KeepsZAndMAndDeclaresTheGeometryType(t *testing.T) {
	t.Parallel()
	env, conn := pgSinkEnv(t)
	ctx := context.Background()
	cases := []struct {
		table, geoms, wantType string
		wantDims               int
		wantWKT                []string
	}{
		{"pz", `{"type":"Point","coordinates":[1,2,3]}|{"type":"Point","coordinates":[4,5,6]}`, "POINT", 3, []string{"POINT Z (1 2 3)", "POINT Z (4 5 6)"}},
		{"p2", `{"type":"Point","coordinates":[1,2]}|null`, "POINT", 2, []string{"POINT(1 2)", "<null>"}},
		{"mixed", `{"type":"Point","coordinates":[1,2]}|{"type":"LineString","coordinates":[[0,0,1],[1,1,2]]}`, "GEOMETRY", 2, []string{"POINT(1 2)", "LINESTRING Z (0 0 1,1 1 2)"}},
	}
	for _, c := range cases {
		var feats []string
		for _, g := range strings.Split(c.geoms, "|") {
			feats = append(feats, `{"type":"Feature","properties":{},"geometry":`+g+`}`)
		}
		env.mustRun(chain(inline("src", `{"type":"FeatureCollection","features":[`+strings.Join(feats, ",")+`]}`), pgSink(c.table, "replace")))
		var typ string
		var dims, srid int
		if err := conn.QueryRow(ctx, "SELECT type, coord_dimension, srid FROM geometry_columns WHERE f_table_name = $1", c.table).Scan(&typ, &dims, &srid); err != nil {
			t.Fatal(err)
		}
		if typ != c.wantType || dims != c.wantDims || srid != 4326 {
			t.Errorf("%s: geometry_columns says %s, %d dims, SRID %d; want %s, %d, 4326", c.table, typ, dims, srid, c.wantType, c.wantDims)
		}
		rows, err := conn.Query(ctx, "SELECT coalesce(ST_AsText(geom), '<null>') FROM "+c.table+" ORDER BY fid")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			got = append(got, s)
		}
		if strings.Join(got, "|") != strings.Join(c.wantWKT, "|") {
			t.Errorf("%s: rows %v, want %v", c.table, got, c.wantWKT)
		}
	}
	// A 3D table's declared type is exactly PointZ.
	var format string
	conn.QueryRow(ctx, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'pz'::regclass AND attname = 'geom'").Scan(&format)
	if format != "geometry(PointZ,4326)" {
		t.Errorf("pz.geom is %s", format)
	}
	// A mixed 2D/3D table still refuses other SRIDs.
	if _, err := conn.Exec(ctx, "INSERT INTO mixed (geom) VALUES (ST_SetSRID(ST_MakePoint(1, 2), 3857))"); err == nil {
		t.Error("mixed accepted a geometry in another SRID")
	}
}

func TestPostGISSink_MeasuresAreKept(t *testing.T) {
	t.Parallel()
	env, conn := pgSinkEnv(t)
	ctx := context.Background()
	// GeoPackage carries M; write one with M through GDAL and pass it on.
	bin := requireTool(t, "ogr2ogr", "gdal-bin")
	env.write("m.csv", "wkt,name\n\"LINESTRING M (0 0 1,1 1 2)\",a\n")
	if out, err := runTool(bin, "-f", "GPKG", "-a_srs", "EPSG:4326", "-nln", "m", env.path("m.gpkg"), env.path("m.csv"), "-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO"); err != nil {
		t.Fatalf("ogr2ogr: %v\n%s", err, out)
	}
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "m.gpkg"}}, pgSink("lm", "replace")))
	var wkt, format string
	conn.QueryRow(ctx, "SELECT ST_AsText(geom) FROM lm").Scan(&wkt)
	conn.QueryRow(ctx, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'lm'::regclass AND attname = 'geom'").Scan(&format)
	if wkt != "LINESTRING M (0 0 1,1 1 2)" || format != "geometry(LineStringM,4326)" {
		t.Errorf("stored %s in %s", wkt, format)
	}
}

func TestPostGISSink_ColumnTypesHoldEveryValue(t *testing.T) {
	t.Parallel()
	env, conn := pgSinkEnv(t)
	ctx := context.Background()
	content, want := mixedTypesFC()
	env.write("in.json", content)
	env.mustRun(chain(src("in.json"), pgSink("typed", "replace")))
	types := map[string]string{}
	rows, _ := conn.Query(ctx, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'typed'")
	for rows.Next() {
		var n, ty string
		rows.Scan(&n, &ty)
		types[n] = ty
	}
	if types["n"] != "double precision" || types["code"] != "text" || types["late"] != "bigint" || types["flag"] != "boolean" {
		t.Fatalf("column types %v", types)
	}
	rows, err := conn.Query(ctx, "SELECT n, code, late, flag FROM typed ORDER BY fid")
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var n float64
		var code string
		var late *int64
		var flag bool
		if err := rows.Scan(&n, &code, &late, &flag); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		wn := w["n"]
		if f, ok := wn.(int64); ok {
			wn = float64(f)
		}
		if n != wn || code != fmt.Sprint(w["code"]) || flag != w["flag"] || (late == nil) != (w["late"] == nil) || (late != nil && *late != w["late"]) {
			t.Fatalf("row %d: %v %q %v %v, want %v", i, n, code, late, flag, w)
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("%d rows", i)
	}
	// And as GDAL reads the table.
	pgTypes := map[string]string{"n": "Real", "code": "String", "late": "Integer64", "flag": "Boolean"}
	gotTypes := gdalFieldTypes(t, "PG:"+pgConnString(t, conn)+" tables=typed")
	for k, v := range pgTypes {
		if gotTypes[k] != v && !(k == "flag" && gotTypes[k] == "Integer") {
			t.Errorf("GDAL reads field %s as %s, want %s", k, gotTypes[k], v)
		}
	}
	compareGDAL(t, gdalFeatures(t, "PG:"+pgConnString(t, conn), "typed", "-sql", "SELECT * FROM typed ORDER BY fid"), want, pgTypes)

	// Declared types are honoured; appending a real to an integer
	// column of an existing table fails loudly and changes nothing.
	schema := []any{map[string]any{"name": "zip", "type": "text"}, map[string]any{"name": "day", "type": "date"}, map[string]any{"name": "r", "type": "real"}}
	env.mustRun(chain(inline("src", `{"type":"Feature","properties":{"zip":1234,"day":"2024-02-29","r":2,"k":5},"geometry":null}`), pgSink("decl", "replace", "schema", schema)))
	var zip, day string
	var r float64
	conn.QueryRow(ctx, "SELECT zip, day::text, r FROM decl").Scan(&zip, &day, &r)
	if zip != "1234" || day != "2024-02-29" || r != 2 {
		t.Errorf("declared columns hold %q %q %v", zip, day, r)
	}
	_, err, _ = env.run(chain(inline("src", `{"type":"Feature","properties":{"k":10.25},"geometry":null}`), pgSink("decl", "append")), nil)
	if err == nil || !strings.Contains(err.Error(), `feature 1: attribute "k": the real 10.25 cannot be stored as integer in column "k", which is bigint in the existing table`) {
		t.Errorf("appending 10.25 to a bigint column: %v", err)
	}
	var n int
	conn.QueryRow(ctx, "SELECT count(*) FROM decl").Scan(&n)
	if n != 1 {
		t.Errorf("the failed append left %d rows", n)
	}
}

func runTool(bin string, args ...string) ([]byte, error) {
	return exec.Command(bin, args...).CombinedOutput()
}

func TestPostGISSource_ReadsIntervalByteaGeographyAndOtherTypes(t *testing.T) {
	t.Parallel()
	env, conn := pgSinkEnv(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE odd (gid serial PRIMARY KEY, g geography(Point, 4326), span interval, raw bytea, amount numeric(10,3), day date, at time, stamp timestamp)`,
		`INSERT INTO odd (g, span, raw, amount, day, at, stamp) VALUES
		  ('SRID=4326;POINT(9.5 50.25)', '1 year 2 mons 3 days 04:05:06.5', '\x00ff10', 12.345, '2024-02-29', '13:14:15.25', '2024-02-29 13:14:15'),
		  ('SRID=4326;POINT(1 2)', '-2 days -00:00:01', '', NULL, NULL, NULL, NULL)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	env.mustRun(chain(node{id: "src", typ: "data_source.postgis", params: map[string]any{"connection": "gis", "table": "odd"}}, geojsonOut("o.json")))
	fs := env.readFC("o.json")
	if len(fs) != 2 {
		t.Fatalf("%d features", len(fs))
	}
	if got := fs[0].Geometry.AsText(); got != "POINT(9.5 50.25)" || fs[0].CRS != 4326 {
		t.Errorf("geography read as %s in EPSG:%d", got, fs[0].CRS)
	}
	want := map[string]any{"span": "P1Y2M3DT4H5M6.5S", "raw": "00FF10", "amount": 12.345, "day": "2024-02-29", "at": "13:14:15.25", "stamp": "2024-02-29T13:14:15"}
	for k, w := range want {
		if v, _ := fs[0].Props.Get(k); v != w {
			t.Errorf("%s = %#v, want %#v", k, v, w)
		}
	}
	if v, _ := fs[1].Props.Get("span"); v != "P-2DT-1S" {
		t.Errorf("negative interval = %v", v)
	}
	if v, _ := fs[1].Props.Get("raw"); v != "" {
		t.Errorf("an empty bytea = %#v, want an empty value, not null", v)
	}
	// PostgreSQL reads the durations back as the same intervals.
	var same bool
	if err := conn.QueryRow(ctx, `SELECT 'P1Y2M3DT4H5M6.5S'::interval = '1 year 2 mons 3 days 04:05:06.5'::interval AND 'P-2DT-1S'::interval = '-2 days -00:00:01'::interval`).Scan(&same); err != nil || !same {
		t.Errorf("durations do not read back: %v %v", same, err)
	}
	// bytea stays binary into a GeoPackage BLOB, which GDAL reads as Binary.
	env.mustRun(chain(node{id: "src", typ: "data_source.postgis", params: map[string]any{"connection": "gis", "table": "odd"}},
		node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "b.gpkg", "table_name": "odd"}}))
	if types := gdalFieldTypes(t, env.path("b.gpkg")); types["raw"] != "Binary" || types["amount"] != "Real" {
		t.Errorf("GDAL reads types %v", types)
	}
	// GDAL writes a binary field to GeoJSON as upper-case hex, as the
	// GeoJSON sink does.
	if got := gdalFeatures(t, env.path("b.gpkg")); got[0]["raw"] != "00FF10" || got[1]["raw"] != "" {
		t.Errorf("GDAL reads raw = %v, %v", got[0]["raw"], got[1]["raw"])
	}
}
