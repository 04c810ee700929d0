package etl

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	geoetl "github.com/geoetl/geoetl"
)

// The bundled sample: 24 European cities with their population, so a new
// installation has something real to run.
//
//go:embed sampledata/european_cities.geojson
var sampleCities []byte

// SampleDataPath is where InstallSampleData puts the sample, relative to
// the default tenant's data folder.
const SampleDataPath = "samples/european_cities.geojson"

// SampleWorkflow returns the name and definition of the workflow seeded on
// first start: it reads the bundled cities, keeps those above a minimum
// population (a parameter), projects them to Web Mercator, adds a 25 km
// buffer and writes a GeoPackage and a GeoJSON file.
func SampleWorkflow() (name string, definition json.RawMessage) {
	return "Sample: large European cities", json.RawMessage(`{
  "metadata": {"name": "Sample: large European cities", "description": "Reads the bundled sample of European cities, keeps those above a minimum population, projects them to Web Mercator, buffers them by 25 km and writes a GeoPackage and a GeoJSON file under out/samples/.", "tags": ["sample"]},
  "parameters": {
    "min_population": {"type": "integer", "defaultValue": 1000000, "required": false, "description": "Smallest population to keep."}
  },
  "nodes": [
    {"id": "cities", "type": "data_source.file", "parameters": {"file_path": "` + SampleDataPath + `"}},
    {"id": "large", "type": "geoprocessing.filter", "parameters": {"expression": "population >= {{parameters.min_population}}"}},
    {"id": "mercator", "type": "geoprocessing.reproject", "parameters": {"target_crs": "EPSG:3857"}},
    {"id": "gpkg", "type": "data_sink.geopackage", "parameters": {"output_path": "out/samples/large_cities.gpkg", "table_name": "large_cities", "mode": "replace"},
     "execution": {"timeoutSeconds": 60, "maxRetries": 0, "continueOnError": false}},
    {"id": "areas", "type": "geoprocessing.buffer", "parameters": {"distance": 25000, "segments": 8}},
    {"id": "geojson", "type": "data_sink.geojson", "parameters": {"output_path": "out/samples/large_city_areas.geojson"}}
  ],
  "edges": [
    {"from": "cities", "to": "large"},
    {"from": "large", "to": "mercator"},
    {"from": "mercator", "to": "gpkg"},
    {"from": "mercator", "to": "areas"},
    {"from": "areas", "to": "geojson"}
  ]
}`)
}

// InstallSampleData writes the bundled sample GeoJSON into the default
// tenant's folder of the data folder unless a file is already there.
func InstallSampleData(dataDir string) error {
	return InstallSampleDataFor(dataDir, geoetl.DefaultTenantName)
}

// InstallSampleDataFor writes the bundled sample GeoJSON into a tenant's
// folder of the data folder unless a file is already there.
func InstallSampleDataFor(dataDir, tenantName string) error {
	if dataDir == "" {
		return errors.New("etl: a data folder is required")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("etl: data folder: %w", err)
	}
	e := &Engine{cfg: Config{DataDir: dataDir}}
	root, err := e.tenantRoot(tenantName)
	if err != nil {
		return fmt.Errorf("etl: data folder: %w", err)
	}
	defer root.Close()
	if _, err := root.Lstat(SampleDataPath); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("etl: sample data: %w", err)
	}
	if err := root.MkdirAll(filepath.Dir(SampleDataPath), 0o755); err != nil {
		return fmt.Errorf("etl: sample data: %w", err)
	}
	f, err := root.OpenFile(SampleDataPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("etl: sample data: %w", err)
	}
	if _, err := f.Write(sampleCities); err != nil {
		f.Close()
		return fmt.Errorf("etl: sample data: %w", err)
	}
	return f.Close()
}
