package etl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const adminURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgisDB creates a database with PostGIS for one test and drops it
// afterwards. It skips (fails under CI=true) when PostgreSQL or PostGIS is
// not available.
func postgisDB(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	skip := func(format string, args ...any) {
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		skip("PostgreSQL at 127.0.0.1:5432 unreachable: skipping PostGIS tests (%v)", err)
	}
	defer admin.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "geoetl_etl_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer a.Close(ctx)
		a.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u := strings.Replace(adminURL, "/test?", "/"+name+"?", 1)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE EXTENSION postgis"); err != nil {
		skip("PostGIS is not installed: skipping PostGIS tests (apt-get install postgresql-15-postgis-3): %v", err)
	}
	return u
}

func TestPostGIS_SinkThenSourceRoundTrip(t *testing.T) {
	t.Parallel()
	u := postgisDB(t)
	env := newEnv(t, func(c *Config) { c.Connections = map[string]string{"GIS": u} })
	env.write("in.json", pointsNear(1200, 9, 50))
	sink := func(mode string) node {
		return node{id: "out", typ: "data_sink.postgis", params: map[string]any{"connection": "gis", "table": "public.pts", "mode": mode, "srid": 25832}}
	}
	sum, rec := env.mustRun(chain(src("in.json"), sink("replace")))
	if sum.FeaturesWritten != 1200 || rec.last("out").FeaturesOut != 1200 {
		t.Fatalf("written %d", sum.FeaturesWritten)
	}
	env.mustRun(chain(inline("src", `{"type":"Feature","properties":{"id":9999,"note":"late"},"geometry":{"type":"Point","coordinates":[9.5,50.5]}}`), sink("append")))

	def := `{"parameters":{"kind":{"type":"string","defaultValue":"b"}},"nodes":[
	  {"id":"src","type":"data_source.postgis","parameters":{"connection":"gis","table":"pts","filter":"kind = {{parameters.kind}} AND id < 10"}},
	  {"id":"p","type":"geoprocessing.reproject","parameters":{"target_crs":"EPSG:4326"}},
	  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"back.json"}}],
	  "edges":[{"from":"src","to":"p"},{"from":"p","to":"out"}]}`
	if _, err, rec := env.run(def, nil); err != nil {
		t.Fatalf("%v\n%s", err, rec.logText())
	}
	back := env.readFC("back.json")
	if len(back) != 5 {
		t.Fatalf("filter returned %d rows, want 5", len(back))
	}
	for _, f := range back {
		kind, _ := f.Props.Get("kind")
		id, _ := f.Props.Get("id")
		if kind != "b" || id.(int64)%2 != 1 {
			t.Errorf("row %v", f.Props)
		}
		xy, _ := f.Geometry.MustAsPoint().XY()
		want := 9 + float64(id.(int64)%100)/100
		if math.Abs(xy.X-want) > 1e-8 {
			t.Errorf("id %v: lon %.10f, want %.10f", id, xy.X, want)
		}
	}
	// A template in a query is a bind parameter: a hostile value is only
	// a string that matches nothing.
	qdef := `{"parameters":{"kind":{"type":"string","defaultValue":"a' OR '1'='1"}},"nodes":[
	  {"id":"src","type":"data_source.postgis","parameters":{"connection":"gis","query":"SELECT * FROM pts WHERE kind = {{parameters.kind}}"}},
	  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"q.json"}}],"edges":[{"from":"src","to":"out"}]}`
	if sum, err, _ := env.run(qdef, nil); err != nil || sum.FeaturesRead != 0 {
		t.Errorf("injection attempt: read %d, err %v", sum.FeaturesRead, err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, srid int
	var note string
	if err := conn.QueryRow(ctx, "SELECT count(*), max(ST_SRID(geom)) FROM pts").Scan(&n, &srid); err != nil || n != 1201 || srid != 25832 {
		t.Errorf("table: %d rows, srid %d, %v", n, srid, err)
	}
	if err := conn.QueryRow(ctx, "SELECT note FROM pts WHERE id = 9999").Scan(&note); err != nil || note != "late" {
		t.Errorf("appended column: %q %v", note, err)
	}
}

func TestPostGIS_SourceIsReadOnlyAndConnectionsAreNamed(t *testing.T) {
	t.Parallel()
	u := postgisDB(t)
	env := newEnv(t, func(c *Config) { c.Connections = map[string]string{"gis": u} })
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SEQUENCE s"); err != nil {
		t.Fatal(err)
	}
	// setval writes; inside the source's read-only transaction it fails.
	def := chain(node{id: "src", typ: "data_source.postgis", params: map[string]any{"connection": "gis",
		"query": "SELECT ST_MakePoint(1,2) AS geom, setval('s', 42) AS v"}}, geojsonOut("o.json"))
	_, err, _ = env.run(def, nil)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a writing query ran: %v", err)
	}
	def = chain(node{id: "src", typ: "data_source.postgis", params: map[string]any{"connection": "elsewhere", "table": "pts"}}, geojsonOut("o.json"))
	_, err, _ = env.run(def, nil)
	if err == nil || !strings.Contains(err.Error(), "GEOETL_CONNECTION_ELSEWHERE") {
		t.Errorf("unknown connection: %v", err)
	}
	def = chain(inline("src", pointsFC(1)), node{id: "out", typ: "data_sink.postgis", params: map[string]any{"connection": "gis", "table": "absent", "mode": "insert"}})
	_, err, _ = env.run(def, nil)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("insert into a missing table: %v", err)
	}
}
