package etl

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	geoetl "github.com/geoetl/geoetl"
)

// formatSeeds writes the fixtures through the engine's own sinks and
// returns the files, as seeds for the binary readers.
func formatSeeds(f *testing.F, sink, out string, extra ...string) [][]byte {
	dataDir := f.TempDir()
	dir := filepath.Join(dataDir, geoetl.DefaultTenantName)
	e, err := New(Config{DataDir: dataDir})
	if err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, fc := range []string{fixturePoints, fixturePolygons, fixtureMixed} {
		def := chain(inline("src", fc), node{id: "out", typ: sink, params: map[string]any{"output_path": out}})
		if _, err := e.Run(context.Background(), geoetl.RunRequest{ExecutionID: "seed", TenantName: geoetl.DefaultTenantName, Workflow: &geoetl.Workflow{Definition: json.RawMessage(def)}}); err != nil {
			continue // e.g. mixed kinds in a shapefile
		}
		for _, name := range append([]string{out}, extra...) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzFlatGeobufReader checks that no input makes the FlatGeobuf reader
// panic or allocate without bound.
func FuzzFlatGeobufReader(f *testing.F) {
	for _, s := range formatSeeds(f, "data_sink.flatgeobuf", "x.fgb") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readFlatGeobuf(context.Background(), bytes.NewReader(b), "fuzz.fgb", 4326, func(Feature) error { return nil })
	})
}

// FuzzShapefileReader checks the .shp and .dbf decoders the same way.
func FuzzShapefileReader(f *testing.F) {
	seeds := formatSeeds(f, "data_sink.shapefile", "x.shp", "x.dbf")
	for i := 0; i+1 < len(seeds); i += 2 {
		f.Add(seeds[i], seeds[i+1], "UTF-8")
	}
	f.Add(seeds[0], seeds[1], "1252")
	f.Fuzz(func(t *testing.T, shp, dbf []byte, cpg string) {
		sp := &shapefileParts{name: "fuzz.shp", shp: nopCloser{bytes.NewReader(shp)}, dbf: nopCloser{bytes.NewReader(dbf)}, cpg: cpg}
		_ = readShapefile(context.Background(), sp, 4326, func(Feature) error { return nil })
	})
}

// FuzzGeoParquetReader checks that a corrupt Parquet file fails cleanly.
func FuzzGeoParquetReader(f *testing.F) {
	for _, s := range formatSeeds(f, "data_sink.geoparquet", "x.parquet") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readGeoParquet(context.Background(), bytes.NewReader(b), int64(len(b)), "fuzz.parquet", 0, func(Feature) error { return nil })
	})
}

// FuzzKMLAndGPXReaders checks the XML readers.
func FuzzKMLAndGPXReaders(f *testing.F) {
	f.Add(`<kml><Document><Placemark><name>a</name><MultiGeometry><Point><coordinates>1,2,3</coordinates></Point><Polygon><outerBoundaryIs><LinearRing><coordinates>0,0 1,0 1,1 0,0</coordinates></LinearRing></outerBoundaryIs></Polygon></MultiGeometry></Placemark></Document></kml>`)
	f.Add(`<gpx><wpt lat="1" lon="2"><ele>3</ele><name>x</name></wpt><trk><trkseg><trkpt lat="1" lon="2"/><trkpt lat="2" lon="3"/></trkseg></trk><rte><rtept lat="0" lon="0"/></rte></gpx>`)
	f.Fuzz(func(t *testing.T, s string) {
		_ = readKML(context.Background(), bytes.NewReader([]byte(s)), func(Feature) error { return nil })
		_ = readGPX(context.Background(), bytes.NewReader([]byte(s)), func(Feature) error { return nil })
	})
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
