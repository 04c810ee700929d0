package etl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	geoetl "github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl/crs"
)

// BenchmarkPipeline_GeoJSONReprojectGeoPackage runs the benchmark pipeline
// of internal/cmd/etlbench (which also compares with ogr2ogr and measures peak
// memory on one million points) on 100,000 points.
func BenchmarkPipeline_GeoJSONReprojectGeoPackage(b *testing.B) {
	dataDir := b.TempDir()
	dir := filepath.Join(dataDir, geoetl.DefaultTenantName)
	os.Mkdir(dir, 0o755)
	const n = 100_000
	f, err := os.Create(filepath.Join(dir, "points.geojson"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteString(",\n")
		}
		fmt.Fprintf(w, `{"type":"Feature","properties":{"id":%d,"name":"point %d","value":%.3f},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`,
			i, i, float64(i%1000)/7, -180+360*float64(i%100003)/100003, -80+160*float64((i*7919)%99991)/99991)
	}
	w.WriteString("]}")
	w.Flush()
	f.Close()
	e, err := New(Config{DataDir: dataDir})
	if err != nil {
		b.Fatal(err)
	}
	def := json.RawMessage(`{"nodes":[
	  {"id":"src","type":"data_source.file","parameters":{"file_path":"points.geojson"}},
	  {"id":"merc","type":"geoprocessing.reproject","parameters":{"target_crs":"EPSG:3857"}},
	  {"id":"out","type":"data_sink.geopackage","parameters":{"output_path":"out.gpkg","table_name":"points"}}],
	 "edges":[{"from":"src","to":"merc"},{"from":"merc","to":"out"}]}`)
	b.ResetTimer()
	for range b.N {
		sum, err := e.Run(context.Background(), geoetl.RunRequest{ExecutionID: "bench", TenantName: geoetl.DefaultTenantName, Workflow: &geoetl.Workflow{Definition: def}})
		if err != nil || sum.FeaturesWritten != n {
			b.Fatalf("%+v %v", sum, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "features/s")
}

// BenchmarkPipeline_ShapefileReprojectFlatGeobuf and ..GeoParquet run the
// etlbench fgb and parquet scenarios on 100,000 points over Switzerland.
func BenchmarkPipeline_ShapefileReprojectFlatGeobuf(b *testing.B) {
	benchShapefilePipeline(b, `"data_sink.flatgeobuf","parameters":{"output_path":"out.fgb"}`)
}

func BenchmarkPipeline_ShapefileReprojectGeoParquet(b *testing.B) {
	benchShapefilePipeline(b, `"data_sink.geoparquet","parameters":{"output_path":"out.parquet"}`)
}

func benchShapefilePipeline(b *testing.B, sink string) {
	// GEOETL_BENCH_CRS runs the same pipeline to another CRS.
	target := "EPSG:2056"
	if v := os.Getenv("GEOETL_BENCH_CRS"); v != "" {
		target = v
	}
	code, err := crs.Parse(target)
	if err == nil {
		_, err = crs.Lookup(code)
	}
	if err != nil {
		b.Skipf("%s is not supported: %v", target, err)
	}
	dataDir := b.TempDir()
	dir := filepath.Join(dataDir, geoetl.DefaultTenantName)
	os.Mkdir(dir, 0o755)
	const n = 100_000
	var w strings.Builder
	w.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteString(",\n")
		}
		fmt.Fprintf(&w, `{"type":"Feature","properties":{"id":%d,"name":"point %d","value":%.3f},"geometry":{"type":"Point","coordinates":[%.6f,%.6f]}}`,
			i, i, float64(i%1000)/7, 5.96+4.52*float64(i%100003)/100003, 45.82+1.98*float64((i*7919)%99991)/99991)
	}
	w.WriteString("]}")
	if err := os.WriteFile(filepath.Join(dir, "swiss.geojson"), []byte(w.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{DataDir: dataDir})
	if err != nil {
		b.Fatal(err)
	}
	run := func(def string) geoetl.RunSummary {
		sum, err := e.Run(context.Background(), geoetl.RunRequest{ExecutionID: "bench", TenantName: geoetl.DefaultTenantName, Workflow: &geoetl.Workflow{Definition: json.RawMessage(def)}})
		if err != nil || sum.FeaturesWritten != n {
			b.Fatalf("%+v %v", sum, err)
		}
		return sum
	}
	run(`{"nodes":[{"id":"src","type":"data_source.file","parameters":{"file_path":"swiss.geojson"}},
	  {"id":"out","type":"data_sink.shapefile","parameters":{"output_path":"swiss.shp"}}],"edges":[{"from":"src","to":"out"}]}`)
	def := `{"nodes":[
	  {"id":"src","type":"data_source.file","parameters":{"file_path":"swiss.shp"}},
	  {"id":"rp","type":"geoprocessing.reproject","parameters":{"target_crs":"` + target + `"}},
	  {"id":"out","type":` + sink + `}],
	 "edges":[{"from":"src","to":"rp"},{"from":"rp","to":"out"}]}`
	b.ResetTimer()
	for range b.N {
		run(def)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "features/s")
}
