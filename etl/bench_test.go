package etl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	geoetl "github.com/geoetl/geoetl"
)

// BenchmarkPipeline_GeoJSONReprojectGeoPackage runs the benchmark pipeline
// of etl/cmd/etlbench (which also compares with ogr2ogr and measures peak
// memory on one million points) on 100,000 points.
func BenchmarkPipeline_GeoJSONReprojectGeoPackage(b *testing.B) {
	dir := b.TempDir()
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
	e, err := New(Config{DataDir: dir})
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
		sum, err := e.Run(context.Background(), geoetl.RunRequest{ExecutionID: "bench", Workflow: &geoetl.Workflow{Definition: def}})
		if err != nil || sum.FeaturesWritten != n {
			b.Fatalf("%+v %v", sum, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "features/s")
}
