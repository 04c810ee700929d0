package etl

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/geoetl/geoetl/etl/gpkg"
	"github.com/jackc/pgx/v5"
	"github.com/peterstace/simplefeatures/geom"
)

// countyShapefile writes what a county GIS portal publishes: parcels in
// NAD83 / California zone 3 (US survey feet) with an ESRI .prj, polygons
// with holes and multipolygons, a CP1252 .cpg, and DBF fields of types N
// (integer and decimal), C with accented names, D and L, some of them
// null. ogr2ogr makes it from GeoJSON; GDAL 3.6 writes booleans as N(1),
// so the VACANT column is then turned into the L column portals publish.
func countyShapefile(t *testing.T, env *testEnv, ogr2ogr string) {
	t.Helper()
	owners := []string{"José Núñez", "Müller GmbH & Co.", "Françoise Lefèvre", "Søren Ødegård", "O'Brien, Seán", "Straße Café €"}
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < 60; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		x := 6000000.25 + float64(i%10)*812.125
		y := 2100000.75 + float64(i/10)*655.0625
		ring := func(x0, y0, w, h float64) string {
			return fmt.Sprintf("[[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f]]", x0, y0, x0+w, y0, x0+w, y0+h, x0, y0+h, x0, y0)
		}
		hole := func(x0, y0, w, h float64) string { // clockwise, as holes are in a shapefile
			return fmt.Sprintf("[[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f]]", x0, y0, x0, y0+h, x0+w, y0+h, x0+w, y0, x0, y0)
		}
		var g string
		switch i % 3 {
		case 0:
			g = fmt.Sprintf(`{"type":"Polygon","coordinates":[%s]}`, ring(x, y, 600.5, 480.3333))
		case 1:
			g = fmt.Sprintf(`{"type":"Polygon","coordinates":[%s,%s]}`, ring(x, y, 700.125, 500.0625), hole(x+100.5, y+100.25, 150.75, 120.125))
		default:
			g = fmt.Sprintf(`{"type":"MultiPolygon","coordinates":[[%s,%s],[%s]]}`, ring(x, y, 300.5, 250.25), hole(x+50.5, y+50.5, 60.25, 40.125), ring(x+400.75, y+300.5, 200.125, 150.0625))
		}
		props := map[string]string{
			"APN":      fmt.Sprint(100200300 + i*7),
			"ACRES":    fmt.Sprintf("%.4f", 0.25+float64(i)*1.0375),
			"LANDVAL":  fmt.Sprint(int64(i) * 123456789),
			"OWNER":    fmt.Sprintf("%q", owners[i%len(owners)]),
			"ZONING":   `"R-1"`,
			"RECORDED": fmt.Sprintf(`"20%02d-%02d-%02d"`, 10+i%14, 1+i%12, 1+i%28),
			"VACANT":   fmt.Sprint(i%2 == 0),
		}
		switch i % 7 { // nulls in every column, as portals have
		case 3:
			props["ACRES"], props["OWNER"] = "null", "null"
		case 5:
			props["RECORDED"], props["VACANT"], props["APN"] = "null", "null", "null"
		case 6:
			props["ZONING"], props["LANDVAL"] = "null", "null"
		}
		var kv []string
		for _, k := range []string{"APN", "ACRES", "LANDVAL", "OWNER", "ZONING", "RECORDED", "VACANT"} {
			kv = append(kv, fmt.Sprintf("%q:%s", k, props[k]))
		}
		fmt.Fprintf(&b, `{"type":"Feature","properties":{%s},"geometry":%s}`, strings.Join(kv, ","), g)
	}
	b.WriteString(`]}`)
	env.write("portal.geojson", b.String())
	if out, err := runTool(ogr2ogr, "-f", "ESRI Shapefile", env.path("parcels.shp"), env.path("portal.geojson"),
		"-a_srs", "EPSG:2227", "-nln", "parcels", "-lco", "ENCODING=CP1252"); err != nil {
		t.Fatalf("ogr2ogr: %v\n%s", err, out)
	}
	dbfToLogical(t, env.path("parcels.dbf"), "VACANT")
	prj := env.read("parcels.prj")
	if !strings.HasPrefix(prj, `PROJCS["NAD_1983_StatePlane_California_III_FIPS_0403_Feet"`) {
		t.Fatalf("not an ESRI .prj: %s", prj)
	}
	if cpg := env.read("parcels.cpg"); cpg != "CP1252" {
		t.Fatalf(".cpg %q", cpg)
	}
	info := ogrinfo(t, env.path("parcels.shp"))
	for _, want := range []string{"APN: Integer (9.0)", "ACRES: Real (24.15)", "LANDVAL: Integer64", "OWNER: String (80.0)", "RECORDED: Date (10.0)", "Feature Count: 60"} {
		if !strings.Contains(info, want) {
			t.Fatalf("the portal shapefile has no %q:\n%s", want, info)
		}
	}
}

// dbfToLogical turns a N(1,0) column holding 0/1 into an L column (T, F,
// and ? for null).
func dbfToLogical(t *testing.T, path, name string) {
	t.Helper()
	d, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	nrec := int(binary.LittleEndian.Uint32(d[4:8]))
	hlen := int(binary.LittleEndian.Uint16(d[8:10]))
	rlen := int(binary.LittleEndian.Uint16(d[10:12]))
	off := 1
	found := false
	for p := 32; d[p] != 0x0D; p += 32 {
		fname := strings.TrimRight(string(d[p:p+11]), "\x00")
		width := int(d[p+16])
		if fname == name {
			if d[p+11] != 'N' || width != 1 {
				t.Fatalf("%s is %c(%d)", name, d[p+11], width)
			}
			d[p+11], d[p+17] = 'L', 0
			for r := 0; r < nrec; r++ {
				c := &d[hlen+r*rlen+off]
				switch *c {
				case '1':
					*c = 'T'
				case '0':
					*c = 'F'
				default:
					*c = '?'
				}
			}
			found = true
			break
		}
		off += width
	}
	if !found {
		t.Fatalf("no column %s", name)
	}
	if err := os.WriteFile(path, d, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A Shapefile from a county portal converts to GeoPackage and PostGIS as
// ogr2ogr converts it: same columns and types, same values, coordinates
// within 1e-8 m. The differences that remain are deliberate and listed in
// etl/README.md ("Shapefile from a county portal").
func TestShapefile_CountyPortalConvertsAsOgr2ogrDoes(t *testing.T) {
	t.Parallel()
	ogr2ogr := requireTool(t, "ogr2ogr", "gdal-bin")
	u := postgisDB(t)
	env := newEnv(t, func(c *Config) { c.Connections = map[string]string{"gis": u} })
	countyShapefile(t, env, ogr2ogr)

	env.mustRun(graph([]node{
		{id: "src", typ: "data_source.file", params: map[string]any{"file_path": "parcels.shp"}},
		{id: "gpkg", typ: "data_sink.geopackage", params: map[string]any{"output_path": "ours.gpkg", "table_name": "parcels"}},
		{id: "pg", typ: "data_sink.postgis", params: map[string]any{"connection": "gis", "table": "ours", "mode": "replace"}},
	}, [][2]string{{"src", "gpkg"}, {"src", "pg"}}))
	// GDAL's own names for the key and geometry column differ by driver;
	// they are set to ours so that the tables can be compared column by column.
	if out, err := runTool(ogr2ogr, "-f", "GPKG", env.path("gdal.gpkg"), env.path("parcels.shp"), "-nln", "parcels"); err != nil {
		t.Fatalf("ogr2ogr -f GPKG: %v\n%s", err, out)
	}
	if out, err := runTool(ogr2ogr, "-f", "PostgreSQL", "PG:"+libpqString(u), env.path("parcels.shp"), "-nln", "gdal", "-nlt", "PROMOTE_TO_MULTI", "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco", "LAUNDER=NO"); err != nil {
		t.Fatalf("ogr2ogr -f PostgreSQL: %v\n%s", err, out)
	}

	t.Run("GeoPackage", func(t *testing.T) {
		ours, gdal := gpkgTable(t, env.path("ours.gpkg"), "parcels"), gpkgTable(t, env.path("gdal.gpkg"), "parcels")
		compareTables(t, ours, gdal, knownDiffs{
			types: map[string][2]string{
				"APN":    {"INTEGER", "MEDIUMINT"},
				"OWNER":  {"TEXT", "TEXT(80)"},
				"ZONING": {"TEXT", "TEXT(80)"},
				"VACANT": {"BOOLEAN", "TEXT(1)"},
			},
			geomDef: [2]string{"GEOMETRY z=0 m=0 EPSG:2227", "POLYGON z=0 m=0 EPSG:2227"},
			values: map[string]func(ours, gdal any) bool{
				"VACANT": logicalAs(int64(1), int64(0)),
			},
		})
	})
	t.Run("PostGIS", func(t *testing.T) {
		db, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(context.Background())
		compareTables(t, pgTable(t, db, "ours"), pgTable(t, db, "gdal"), knownDiffs{
			types: map[string][2]string{
				"APN":     {"bigint(64,0)", "numeric(9,0)"},
				"LANDVAL": {"bigint(64,0)", "numeric(18,0)"},
				"ACRES":   {"double precision", "numeric(24,15)"},
				"OWNER":   {"text", "character varying(80)"},
				"ZONING":  {"text", "character varying(80)"},
				"VACANT":  {"boolean", "character varying(1)"},
			},
			geomDef: [2]string{"GEOMETRY dims=2 SRID=2227", "MULTIPOLYGON dims=2 SRID=2227"},
			values: map[string]func(ours, gdal any) bool{
				"VACANT": logicalAs("true", "false"),
				"ACRES":  sameNumber,
			},
			promoted: true,
		})
	})
}

// libpqString turns a postgres:// URL of postgisDB into a GDAL PG: string.
func libpqString(u string) string {
	rest := strings.TrimPrefix(u, "postgres://")
	user, rest, _ := strings.Cut(rest, "@")
	hostport, rest, _ := strings.Cut(rest, "/")
	db, _, _ := strings.Cut(rest, "?")
	host, port, _ := strings.Cut(hostport, ":")
	return fmt.Sprintf("host=%s port=%s user=%s dbname=%s", host, port, user, db)
}

// table is an output table as the comparison sees it.
type table struct {
	cols    []string          // attribute columns in order (no key, no geometry)
	types   map[string]string // declared type of each column
	geomDef string            // geometry type, SRS
	rows    []tableRow        // in key order
}

type tableRow struct {
	fid  int64
	vals map[string]any // nil for NULL
	geom geom.Geometry
}

func gpkgTable(t *testing.T, path, name string) table {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tb table
	tb.types = map[string]string{}
	var gcol, gtype string
	var srs, z, m int
	if err := db.QueryRow(`SELECT column_name, geometry_type_name, srs_id, z, m FROM gpkg_geometry_columns WHERE table_name = ?`, name).Scan(&gcol, &gtype, &srs, &z, &m); err != nil {
		t.Fatal(err)
	}
	var org string
	var orgID int
	if err := db.QueryRow(`SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id = ?`, srs).Scan(&org, &orgID); err != nil {
		t.Fatal(err)
	}
	tb.geomDef = fmt.Sprintf("%s z=%d m=%d %s:%d", gtype, z, m, strings.ToUpper(org), orgID)
	rows, err := db.Query(`SELECT name, type, pk FROM pragma_table_info(?)`, name)
	if err != nil {
		t.Fatal(err)
	}
	var fidCol string
	for rows.Next() {
		var n, ty string
		var pk int
		if err := rows.Scan(&n, &ty, &pk); err != nil {
			t.Fatal(err)
		}
		switch {
		case pk == 1:
			fidCol = n
		case n == gcol:
		default:
			tb.cols = append(tb.cols, n)
			tb.types[n] = ty
		}
	}
	rows.Close()
	q := fmt.Sprintf(`SELECT "%s", "%s"`, fidCol, gcol)
	for _, c := range tb.cols {
		q += fmt.Sprintf(`, "%s"`, c)
	}
	rows, err = db.Query(q + fmt.Sprintf(` FROM "%s" ORDER BY 1`, name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r tableRow
		var blob []byte
		dst := []any{&r.fid, &blob}
		vals := make([]any, len(tb.cols))
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			t.Fatal(err)
		}
		g, _, err := gpkg.DecodeBlob(blob)
		if err != nil {
			t.Fatalf("fid %d: %v", r.fid, err)
		}
		r.geom = g
		r.vals = map[string]any{}
		for i, c := range tb.cols {
			r.vals[c] = gpkgCellValue(vals[i])
		}
		tb.rows = append(tb.rows, r)
	}
	return tb
}

func gpkgCellValue(v any) any {
	switch x := v.(type) {
	case int64, float64, nil:
		return x
	case []byte:
		return string(x)
	case string:
		return x
	}
	return fmt.Sprintf("%T %v", v, v)
}

func pgTable(t *testing.T, db *pgx.Conn, name string) table {
	ctx := context.Background()
	t.Helper()
	var tb table
	tb.types = map[string]string{}
	var gtype string
	var srid, dims int
	if err := db.QueryRow(ctx, `SELECT type, srid, coord_dimension FROM geometry_columns WHERE f_table_name = $1 AND f_geometry_column = 'geom'`, name).Scan(&gtype, &srid, &dims); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	tb.geomDef = fmt.Sprintf("%s dims=%d SRID=%d", gtype, dims, srid)
	rows, err := db.Query(ctx, `SELECT column_name, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END || COALESCE('(' || character_maximum_length || ')', '') || COALESCE('(' || numeric_precision || ',' || numeric_scale || ')', '')
		FROM information_schema.columns WHERE table_name = $1 AND column_name NOT IN ('fid', 'geom') ORDER BY ordinal_position`, name)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		tb.cols = append(tb.cols, n)
		tb.types[n] = ty
	}
	rows.Close()
	q := `SELECT fid, ST_AsBinary(geom)`
	for _, c := range tb.cols {
		// Text as PostgreSQL writes it (a date as 2019-04-01, a boolean
		// as true), typed by the column.
		q += fmt.Sprintf(`, "%s"::text`, c)
	}
	rows, err = db.Query(ctx, q+fmt.Sprintf(` FROM "%s" ORDER BY fid`, name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r tableRow
		var wkb []byte
		dst := []any{&r.fid, &wkb}
		vals := make([]*string, len(tb.cols))
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			t.Fatal(err)
		}
		if r.geom, err = geom.UnmarshalWKB(wkb); err != nil {
			t.Fatalf("fid %d: %v", r.fid, err)
		}
		r.vals = map[string]any{}
		for i, c := range tb.cols {
			if vals[i] != nil {
				r.vals[c] = *vals[i]
			} else {
				r.vals[c] = nil
			}
		}
		tb.rows = append(tb.rows, r)
	}
	return tb
}

// usFoot is the US survey foot in metres: 1e-8 m is the tolerance.
const usFoot = 1200.0 / 3937

// knownDiffs are the deliberate differences from ogr2ogr that etl/README.md
// documents: column types (ours, ogr2ogr's), the geometry column, how
// values of a column correspond, and whether ogr2ogr had to promote
// polygons to multipolygons (-nlt PROMOTE_TO_MULTI). Any other difference
// fails the test, and so does a listed one that went away.
type knownDiffs struct {
	types    map[string][2]string
	geomDef  [2]string
	values   map[string]func(ours, gdal any) bool
	promoted bool
}

// logicalAs matches our boolean (as the output spells true and false)
// with GDAL 3.6's reading of a DBF L field as the text T, F or, for an
// unknown value, ?.
func logicalAs(yes, no any) func(ours, gdal any) bool {
	return func(o, g any) bool {
		switch g {
		case "T":
			return o == yes
		case "F":
			return o == no
		case "?":
			return o == nil
		}
		return false
	}
}

// sameNumber matches PostgreSQL's text of a double with that of a numeric
// (0.25 and 0.250000000000000).
func sameNumber(o, g any) bool {
	if o == nil || g == nil {
		return o == nil && g == nil
	}
	var a, b float64
	_, err1 := fmt.Sscan(o.(string), &a)
	_, err2 := fmt.Sscan(g.(string), &b)
	return err1 == nil && err2 == nil && a == b
}

func compareTables(t *testing.T, ours, gdal table, known knownDiffs) {
	t.Helper()
	if strings.Join(ours.cols, ",") != strings.Join(gdal.cols, ",") {
		t.Errorf("columns: ours %v, ogr2ogr %v", ours.cols, gdal.cols)
	}
	var typeDiffs []string
	for _, c := range gdal.cols {
		want, listed := known.types[c]
		if !listed {
			want = [2]string{gdal.types[c], gdal.types[c]}
		}
		if ours.types[c] != want[0] || gdal.types[c] != want[1] {
			typeDiffs = append(typeDiffs, fmt.Sprintf("%s: ours %s, ogr2ogr %s; want %s and %s", c, ours.types[c], gdal.types[c], want[0], want[1]))
		}
	}
	sort.Strings(typeDiffs)
	if len(typeDiffs) > 0 {
		t.Errorf("column types differ:\n%s", strings.Join(typeDiffs, "\n"))
	}
	if ours.geomDef != known.geomDef[0] || gdal.geomDef != known.geomDef[1] {
		t.Errorf("geometry column: ours %s, ogr2ogr %s; want %s and %s", ours.geomDef, gdal.geomDef, known.geomDef[0], known.geomDef[1])
	}
	if len(ours.rows) != len(gdal.rows) {
		t.Fatalf("%d rows, ogr2ogr %d", len(ours.rows), len(gdal.rows))
	}
	bad := 0
	for i := range gdal.rows {
		o, g := ours.rows[i], gdal.rows[i]
		var diffs []string
		if o.fid != g.fid {
			diffs = append(diffs, fmt.Sprintf("fid %d, ogr2ogr %d", o.fid, g.fid))
		}
		for _, c := range gdal.cols {
			if same := known.values[c]; same != nil {
				if !same(o.vals[c], g.vals[c]) {
					diffs = append(diffs, fmt.Sprintf("%s = %#v, ogr2ogr %#v", c, o.vals[c], g.vals[c]))
				}
			} else if fmt.Sprintf("%#v", o.vals[c]) != fmt.Sprintf("%#v", g.vals[c]) {
				diffs = append(diffs, fmt.Sprintf("%s = %#v, ogr2ogr %#v", c, o.vals[c], g.vals[c]))
			}
		}
		og := o.geom
		if known.promoted && og.Type() == geom.TypePolygon {
			og = geom.NewMultiPolygon([]geom.Polygon{og.MustAsPolygon()}).AsGeometry()
		}
		if d := geomDiff(og, g.geom, 1e-8/usFoot); d != "" {
			diffs = append(diffs, d)
		}
		if len(diffs) > 0 {
			bad++
			if bad <= 5 {
				t.Errorf("feature %d:\n  %s", i+1, strings.Join(diffs, "\n  "))
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d features differ in all", bad)
	}
}

// geomDiff compares type, structure and every coordinate.
func geomDiff(a, b geom.Geometry, tol float64) string {
	if a.Type() != b.Type() {
		return fmt.Sprintf("geometry %s, ogr2ogr %s", a.Type(), b.Type())
	}
	ca, cb := coordLists(a), coordLists(b)
	if len(ca) != len(cb) {
		return fmt.Sprintf("geometry has %d rings, ogr2ogr %d", len(ca), len(cb))
	}
	for i := range ca {
		if ca[i].Length() != cb[i].Length() {
			return fmt.Sprintf("ring %d has %d points, ogr2ogr %d", i, ca[i].Length(), cb[i].Length())
		}
		for j := 0; j < ca[i].Length(); j++ {
			p, q := ca[i].GetXY(j), cb[i].GetXY(j)
			if math.Abs(p.X-q.X) > tol || math.Abs(p.Y-q.Y) > tol {
				return fmt.Sprintf("ring %d point %d: %v, ogr2ogr %v", i, j, p, q)
			}
		}
	}
	return ""
}

func coordLists(g geom.Geometry) []geom.Sequence {
	var out []geom.Sequence
	switch g.Type() {
	case geom.TypePolygon:
		p := g.MustAsPolygon()
		for i := 0; i < 1+p.NumInteriorRings(); i++ {
			if i == 0 {
				out = append(out, p.ExteriorRing().Coordinates())
			} else {
				out = append(out, p.InteriorRingN(i-1).Coordinates())
			}
		}
	case geom.TypeMultiPolygon:
		mp := g.MustAsMultiPolygon()
		for i := 0; i < mp.NumPolygons(); i++ {
			out = append(out, coordLists(mp.PolygonN(i).AsGeometry())...)
		}
	}
	return out
}
