package etl

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileSource_ReadsInlineContentAsObjectOrText(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := graph([]node{
		{id: "obj", typ: "data_source.file", params: map[string]any{"content": map[string]any{"type": "Feature", "id": "f1", "properties": map[string]any{"a": 1}, "geometry": map[string]any{"type": "Point", "coordinates": []any{1, 2}}}}},
		{id: "txt", typ: "data_source.file", params: map[string]any{"content": `{"type":"MultiPoint","coordinates":[[3,4],[5,6]]}`}},
		geojsonOut("o.json"),
	}, [][2]string{{"obj", "out"}, {"txt", "out"}})
	sum, _ := env.mustRun(def)
	if sum.FeaturesRead != 2 {
		t.Errorf("read %d", sum.FeaturesRead)
	}
	got := env.read("o.json")
	if !strings.Contains(got, `"id":"f1"`) || !strings.Contains(got, `"MultiPoint"`) {
		t.Errorf("output: %s", got)
	}
}

func TestFileSource_HonoursLegacyCRSMember(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("m.json", `{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},
	  "features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1113194.9079327357,0]}}]}`)
	env.mustRun(chain(src("m.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": 4326}}, geojsonOut("o.json")))
	if got := texts(env.readFC("o.json")); len(got) != 1 || got[0] != "POINT(10 0)" {
		t.Errorf("got %v", got)
	}
}

func TestFileSource_ReportsBrokenGeoJSON(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for name, content := range map[string]string{
		"truncated":   `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[1,`,
		"notGeoJSON":  `[1,2,3]`,
		"badPosition": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":["a","b"]}}]}`,
	} {
		env.write(name+".json", content)
		_, err, _ := env.run(chain(src(name+".json"), geojsonOut("o.json")), nil)
		if err == nil || !strings.Contains(err.Error(), "GeoJSON") && !strings.Contains(err.Error(), "feature 1") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestGeoJSONSink_WritesCRSMemberForProjectedData(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.json", pointsNear(3, 9, 50))
	env.mustRun(chain(src("in.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:32632"}}, geojsonOut("out/utm.geojson")))
	if !strings.Contains(env.read("out/utm.geojson"), `"urn:ogc:def:crs:EPSG::32632"`) {
		t.Error("no crs member")
	}
	info := ogrinfo(t, env.path("out/utm.geojson"))
	if !strings.Contains(info, "Feature Count: 3") || !strings.Contains(info, `ID["EPSG",32632]`) {
		t.Errorf("ogrinfo:\n%s", info)
	}
}

func TestGeoPackageSink_WritesValidGeoPackage(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.json", pointsNear(2000, 9, 50))
	env.mustRun(chain(src("in.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:25832"}},
		node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "out/pts.gpkg", "table_name": "points"}}))
	db, err := sql.Open("sqlite", "file:"+env.path("out/pts.gpkg")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var appID, userVersion, rtreeRows, srs int
	var gtype string
	for q, dst := range map[string]any{
		"PRAGMA application_id":                    &appID,
		"PRAGMA user_version":                      &userVersion,
		`SELECT count(*) FROM "rtree_points_geom"`: &rtreeRows,
		"SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = 'points'":             &srs,
		"SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = 'points'": &gtype,
	} {
		if err := db.QueryRow(q).Scan(dst); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if appID != 0x47504B47 || userVersion != 10300 || rtreeRows != 2000 || srs != 25832 || gtype != "POINT" {
		t.Errorf("application_id %x, user_version %d, rtree rows %d, srs %d, type %s", appID, userVersion, rtreeRows, srs, gtype)
	}
	info := ogrinfo(t, env.path("out/pts.gpkg"))
	for _, want := range []string{"Feature Count: 2000", "Geometry: Point", `ID["EPSG",25832]`, "id: Integer64", "kind: String"} {
		if !strings.Contains(info, want) {
			t.Errorf("ogrinfo lacks %q", want)
		}
	}
	validateGPKG(t, env.path("out/pts.gpkg"))
	checkRtree(t, env.path("out/pts.gpkg"), "rtree_points_geom")
	// GDAL's own reading of the file must not warn.
	if bin, err := exec.LookPath("ogrinfo"); err == nil {
		out, _ := exec.Command(bin, "-ro", "-q", "-oo", "LIST_ALL_TABLES=YES", env.path("out/pts.gpkg")).CombinedOutput()
		if strings.Contains(strings.ToLower(string(out)), "error") || strings.Contains(string(out), "Warning") {
			t.Errorf("ogrinfo complains:\n%s", out)
		}
	}
}

func TestGeoPackageSink_AppendKeepsIndexCurrentAndAddsColumns(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	gp := func(mode string) node {
		return node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "a.gpkg", "table_name": "t", "mode": mode}}
	}
	env.mustRun(chain(inline("src", fc(`{"type":"Point","coordinates":[1,1]}`, `{"type":"Point","coordinates":[2,2]}`)), gp("replace")))
	env.mustRun(chain(inline("src", `{"type":"Feature","properties":{"extra":"yes"},"geometry":{"type":"Point","coordinates":[6,7]}}`), gp("append")))
	env.mustRun(chain(inline("src", `{"type":"Feature","properties":{"EXTRA":"none"},"geometry":null}`), gp("append")))
	db, err := sql.Open("sqlite", "file:"+env.path("a.gpkg")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, idx, nulls int
	var maxy float64
	db.QueryRow(`SELECT count(*) FROM t`).Scan(&rows)
	db.QueryRow(`SELECT count(*) FROM t WHERE geom IS NULL`).Scan(&nulls)
	db.QueryRow(`SELECT count(*) FROM rtree_t_geom`).Scan(&idx)
	db.QueryRow(`SELECT max_y FROM gpkg_contents WHERE table_name = 't'`).Scan(&maxy)
	if rows != 4 || nulls != 1 || idx != 3 || maxy != 7 {
		t.Errorf("after append: %d rows (%d without geometry), %d index entries, max_y %v", rows, nulls, idx, maxy)
	}
	var extra, extra4 sql.NullString
	var ncols int
	db.QueryRow(`SELECT extra FROM t WHERE fid = 3`).Scan(&extra)
	db.QueryRow(`SELECT extra FROM t WHERE fid = 4`).Scan(&extra4)
	db.QueryRow(`SELECT count(*) FROM pragma_table_info('t')`).Scan(&ncols)
	if extra.String != "yes" || extra4.String != "none" || ncols != 4 {
		t.Errorf("new column: %q, %q (attribute in other case), %d columns", extra.String, extra4.String, ncols)
	}
	_, err, _ = env.run(chain(inline("src", fc(`{"type":"LineString","coordinates":[[0,0],[1,1]]}`)), gp("append")), nil)
	if err == nil || !strings.Contains(err.Error(), "holds POINT geometries") {
		t.Errorf("appending a line to a point table: %v", err)
	}
	env.mustRun(chain(inline("src", fc(`{"type":"Point","coordinates":[9,9]}`)), gp("replace")))
	if info := ogrinfo(t, env.path("a.gpkg")); !strings.Contains(info, "Feature Count: 1") {
		t.Errorf("replace left:\n%s", info)
	}
	validateGPKG(t, env.path("a.gpkg"))
	checkRtree(t, env.path("a.gpkg"), "rtree_t_geom")
}

func TestGeoPackageSink_WidensColumnWhenLaterFeaturesDiffer(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// More than a batch of points, then a line: the column was created as
	// POINT and must become GEOMETRY.
	geoms := make([]string, 0, 601)
	for i := 0; i < 600; i++ {
		geoms = append(geoms, `{"type":"Point","coordinates":[`+ftoa(float64(i)/100)+`,1]}`)
	}
	geoms = append(geoms, `{"type":"LineString","coordinates":[[0,0],[1,1]]}`)
	env.write("mixed.json", fc(geoms...))
	env.mustRun(chain(src("mixed.json"), node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "m.gpkg", "table_name": "mixed"}}))
	info := ogrinfo(t, env.path("m.gpkg"))
	if !strings.Contains(info, "Feature Count: 601") || !strings.Contains(info, "Geometry: Unknown (any)") {
		t.Errorf("ogrinfo:\n%s", info)
	}
	validateGPKG(t, env.path("m.gpkg"))
	checkRtree(t, env.path("m.gpkg"), "rtree_mixed_geom")
}

// checkRtree runs SQLite's own consistency check of an R-tree index.
func checkRtree(t *testing.T, path, table string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("SELECT rtreecheck(?)", table).Scan(&res); err != nil || res != "ok" {
		t.Errorf("rtreecheck(%s) = %q, %v", table, res, err)
	}
}

// The packed R-tree must find exactly the features that a scan finds,
// for data large enough to need several chunks and levels.
func TestGeoPackageSink_SpatialIndexAnswersLikeAScan(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 150,000 features")
	}
	env := newEnv(t)
	// More than one chunk of the bulk loader (rtreeChunk).
	const total = 150_000
	var geoms []string
	for i := 0; i < total; i++ {
		x, y := float64(i%1000)/10, float64(i/1000)/10
		if i%7 == 0 {
			geoms = append(geoms, `{"type":"LineString","coordinates":[[`+ftoa(x)+`,`+ftoa(y)+`],[`+ftoa(x+0.35)+`,`+ftoa(y+0.2)+`]]}`)
		} else {
			geoms = append(geoms, `{"type":"Point","coordinates":[`+ftoa(x)+`,`+ftoa(y)+`]}`)
		}
	}
	env.write("big.json", fc(geoms...))
	env.mustRun(chain(src("big.json"), node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "big.gpkg", "table_name": "big"}}))
	checkRtree(t, env.path("big.gpkg"), "rtree_big_geom")
	db, err := sql.Open("sqlite", "file:"+env.path("big.gpkg")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.QueryRow("SELECT count(*) FROM rtree_big_geom").Scan(&n)
	if n != total {
		t.Errorf("index holds %d entries", n)
	}
	for i, q := range [][4]float64{{10, 10, 12.5, 11}, {0, 0, 0.05, 0.05}, {99.9, 14.9, 200, 400}, {50.02, 10.02, 50.08, 10.08}} {
		var viaIndex, viaScan int
		db.QueryRow("SELECT count(*) FROM rtree_big_geom WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?", q[0], q[2], q[1], q[3]).Scan(&viaIndex)
		// The same test on exact boxes: lines span +0.35/+0.2 from their
		// start, points have no extent.
		db.QueryRow(`SELECT count(*) FROM (SELECT fid, (fid-1)%1000/10.0 AS x, (fid-1)/1000/10.0 AS y, ((fid-1)%7 = 0) AS line FROM big)
			WHERE x + CASE WHEN line THEN 0.35 ELSE 0 END >= ? AND x <= ? AND y + CASE WHEN line THEN 0.2 ELSE 0 END >= ? AND y <= ?`, q[0], q[2], q[1], q[3]).Scan(&viaScan)
		// The first three boxes hold features; the last lies between
		// grid points, where only some lines reach.
		if viaIndex != viaScan || viaScan == 0 && i < 3 {
			t.Errorf("box %v: index finds %d, scan %d", q, viaIndex, viaScan)
		}
	}
	if bin, err := exec.LookPath("ogrinfo"); err == nil {
		out, err := exec.Command(bin, "-ro", "-so", "-spat", "10", "10", "12.5", "11", env.path("big.gpkg"), "big").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Feature Count:") {
			t.Errorf("ogrinfo with a spatial filter: %v\n%s", err, out)
		}
	}
}

// validateGPKG runs GDAL's GeoPackage validator when GDAL's Python
// bindings are installed.
func validateGPKG(t *testing.T, path string) {
	t.Helper()
	script := "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"
	if _, err := os.Stat(script); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("GDAL's validate_gpkg.py is not installed (apt-get install python3-gdal)")
		}
		t.Skip("validate_gpkg.py not installed: skipping GDAL's GeoPackage validation (apt-get install python3-gdal)")
	}
	out, err := exec.Command("/usr/bin/python3", script, path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("validate_gpkg.py %s: %v\n%s", path, err, out)
	}
}

func TestGeoPackageSource_ReadsWhatTheSinkWroteAndWhatGDALWrote(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.json", pointsFC(50))
	env.mustRun(chain(src("in.json"), node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "g.gpkg", "table_name": "pts"}}))
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "g.gpkg", "limit": 20}}, geojsonOut("back.json")))
	back := env.readFC("back.json")
	if len(back) != 20 {
		t.Fatalf("read %d features", len(back))
	}
	if id, _ := back[3].Props.Get("id"); id != int64(3) {
		t.Errorf("attributes: %v", back[3].Props)
	}
	bin := requireTool(t, "ogr2ogr", "gdal-bin")
	if out, err := exec.Command(bin, "-f", "GPKG", "-t_srs", "EPSG:3857", "-nln", "gdal_layer", env.path("gdal.gpkg"), env.path("in.json")).CombinedOutput(); err != nil {
		t.Fatalf("ogr2ogr: %v\n%s", err, out)
	}
	env.mustRun(chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "gdal.gpkg"}}, geojsonOut("gdal.json")))
	fs := env.readFC("gdal.json")
	if len(fs) != 50 || fs[0].CRS != 3857 {
		t.Errorf("read %d features from GDAL's GeoPackage, CRS %d", len(fs), fs[0].CRS)
	}
}

func TestCSV_SourceAndSinkRoundTrip(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.csv", "name;longitude;latitude;pop;code\nBerlin;13.4;52.52;3645000;0049\nParis;2.35;48.86;2161000;0033\n")
	env.mustRun(chain(
		node{id: "src", typ: "data_source.csv_geometry", params: map[string]any{"file_path": "in.csv", "delimiter": ";"}},
		node{id: "out", typ: "data_sink.csv_geometry", params: map[string]any{"output_path": "out.csv"}},
	))
	got := env.read("out.csv")
	want := "wkt,name,pop,code\nPOINT(13.4 52.52),Berlin,3645000,0049\nPOINT(2.35 48.86),Paris,2161000,0033\n"
	if got != want {
		t.Errorf("CSV output:\n%s\nwant:\n%s", got, want)
	}
	env.mustRun(chain(
		node{id: "src", typ: "data_source.csv_geometry", params: map[string]any{"file_path": "out.csv", "geometry_format": "wkt"}},
		node{id: "out", typ: "data_sink.csv_geometry", params: map[string]any{"output_path": "ll.csv", "geometry_format": "latlon", "delimiter": "\\t"}},
	))
	if got := env.read("ll.csv"); got != "lon\tlat\tname\tpop\tcode\n13.4\t52.52\tBerlin\t3645000\t0049\n2.35\t48.86\tParis\t2161000\t0033\n" {
		t.Errorf("latlon output:\n%q", got)
	}
	info := ogrinfo(t, env.path("out.csv"))
	if !strings.Contains(info, "Feature Count: 2") {
		t.Errorf("ogrinfo:\n%s", info)
	}
	_, err, _ := env.run(chain(node{id: "src", typ: "data_source.csv_geometry", params: map[string]any{"file_path": "in.csv"}}, geojsonOut("x.json")), nil)
	if err == nil || !strings.Contains(err.Error(), "no column named lon") {
		t.Errorf("wrong delimiter: %v", err)
	}
}

func TestSafety_SymlinkOutOfDataFolderIsRefused(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.json"), []byte(pointsFC(1)), 0o644)
	if err := os.Symlink(filepath.Join(outside, "secret.json"), env.path("link.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, env.path("dirlink")); err != nil {
		t.Fatal(err)
	}
	for _, def := range []string{
		chain(src("link.json"), geojsonOut("o.json")),
		chain(src("dirlink/secret.json"), geojsonOut("o.json")),
		chain(inline("src", pointsFC(1)), geojsonOut("dirlink/written.json")),
		chain(inline("src", pointsFC(1)), node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "dirlink/x.gpkg", "table_name": "t"}}),
		chain(node{id: "src", typ: "data_source.geopackage", params: map[string]any{"file_path": "link.json"}}, geojsonOut("o.json")),
	} {
		_, err, _ := env.run(def, nil)
		if err == nil {
			t.Errorf("a symbolic link out of the data folder was followed: %s", def)
		} else if strings.Contains(err.Error(), outside) {
			t.Errorf("the error reveals the outside path: %v", err)
		}
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("files were written outside the data folder: %v", entries)
	}
}

func TestSafety_TemplatedPathsAreCheckedAtRunTime(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := `{"parameters":{"p":{"type":"string","defaultValue":"../../etc/passwd"}},"nodes":[
	  {"id":"src","type":"data_source.file","parameters":{"file_path":"{{parameters.p}}"}},
	  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.json"}}],
	  "edges":[{"from":"src","to":"out"}]}`
	_, err, _ := env.run(def, nil)
	if err == nil || !strings.Contains(err.Error(), "inside the data folder") {
		t.Errorf("err = %v", err)
	}
}

// GDAL reads a bare geometry as one feature without attributes, whatever
// the order of its members; content given as a JSON object reaches the
// reader re-encoded with sorted keys ("coordinates" before "type").
func TestFileSource_ReadsBareGeometryInAnyMemberOrder(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		content any
		want    string
	}{
		"objectPoint":         {map[string]any{"type": "Point", "coordinates": []any{1, 2}}, "POINT(1 2)"},
		"textTypeFirst":       {`{"type":"Point","coordinates":[1,2]}`, "POINT(1 2)"},
		"textCoordsFirst":     {`{"coordinates":[[1,2],[3,4]],"type":"LineString"}`, "LINESTRING(1 2,3 4)"},
		"objectPolygon":       {map[string]any{"type": "Polygon", "coordinates": []any{[]any{[]any{0, 0}, []any{1, 0}, []any{1, 1}, []any{0, 0}}}}, "POLYGON((0 0,1 0,1 1,0 0))"},
		"objectCollection":    {map[string]any{"type": "GeometryCollection", "geometries": []any{map[string]any{"type": "Point", "coordinates": []any{5, 6}}}}, "GEOMETRYCOLLECTION(POINT(5 6))"},
		"textCollectionFirst": {`{"geometries":[{"coordinates":[5,6],"type":"Point"}],"type":"GeometryCollection"}`, "GEOMETRYCOLLECTION(POINT(5 6))"},
	} {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t)
			env.mustRun(chain(node{id: "s", typ: "data_source.file", params: map[string]any{"content": tc.content}}, geojsonOut("o.json")))
			fs := env.readFC("o.json")
			if got := texts(fs); len(got) != 1 || got[0] != tc.want || len(fs[0].Props) != 0 {
				t.Errorf("got %v %v, want one feature %s without attributes", got, fs, tc.want)
			}
			if s, ok := tc.content.(string); ok {
				env.write("bare.json", s)
				env.mustRun(chain(src("bare.json"), geojsonOut("f.json")))
				if got := texts(env.readFC("f.json")); len(got) != 1 || got[0] != tc.want {
					t.Errorf("from a file: got %v, want %s", got, tc.want)
				}
			}
		})
	}
}

func TestFileSource_RefusesBareGeometryWithoutCoordinates(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, err, _ := env.run(chain(node{id: "s", typ: "data_source.file", params: map[string]any{"content": `{"type":"Point"}`}}, geojsonOut("o.json")), nil)
	if err == nil || !strings.Contains(err.Error(), `Point has no "coordinates"`) {
		t.Errorf("err = %v", err)
	}
}
