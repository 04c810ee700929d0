package etl

import (
	"encoding/json"
	"strings"
	"testing"

	geoetl "github.com/geoetl/geoetl"
)

// FuzzGeoJSONReader checks that no input makes the streaming GeoJSON
// reader panic or loop.
func FuzzGeoJSONReader(f *testing.F) {
	for _, s := range []string{
		pointsFC(3),
		`{"type":"Feature","properties":{"a":[1,{"b":null}]},"geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2,3]}]}}`,
		`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}`,
		`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:3857"}},"features":[],"links":[{"rel":"next","href":"x"}]}`,
		`{"features":[{"geometry":null}]}`,
		`{"type":"Point","coordinates":[]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := newGeoJSONReader(strings.NewReader(s))
		// Every call consumes input, so a document of n bytes cannot
		// yield more than n features before an error or io.EOF.
		for i := 0; i <= len(s); i++ {
			if _, err := g.next(); err != nil {
				return
			}
		}
		t.Fatalf("the reader kept returning features from %d bytes", len(s))
	})
}

// FuzzValidate checks that no definition makes validation panic.
func FuzzValidate(f *testing.F) {
	f.Add(apiExample)
	f.Add(`{"nodes":[{"id":"a","type":"geoprocessing.filter","parameters":{"expression":"x > {{parameters.y}}"}}],"edges":[{"from":"a","to":"a"}]}`)
	f.Add(`{"parameters":{"p":{"type":"date","defaultValue":"2026-01-01"}},"nodes":[]}`)
	e, err := New(Config{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := e.Validate(json.RawMessage(s)); err != nil && geoetl.ErrorCode(err) != geoetl.EINVALID {
			t.Fatalf("Validate returned a %q error: %v", geoetl.ErrorCode(err), err)
		}
		_, _ = e.Parameters(json.RawMessage(s))
	})
}
