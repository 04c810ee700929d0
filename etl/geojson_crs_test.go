package etl

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// The example: metre coordinates in EPSG:3857, with the crs
// member after the features or in the 2008 EPSG form.
const mercatorFeatures = `"features":[{"type":"Feature","properties":{"name":"a \"crs\": {\"x\":1}"},"geometry":{"type":"Point","coordinates":[1113194.9079327357,6446275.841017158]}}]`

func TestGeoJSONSource_HonoursCRSMemberWhereverItIsAndInBothForms(t *testing.T) {
	t.Parallel()
	named := `"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}}`
	epsg2008 := `"crs":{"type":"EPSG","properties":{"code":3857}}`
	docs := map[string]string{
		"named, after features":  `{"type":"FeatureCollection",` + mercatorFeatures + `,` + named + `}`,
		"named, before features": `{"type":"FeatureCollection",` + named + `,` + mercatorFeatures + `}`,
		"2008 form, before":      `{"type":"FeatureCollection",` + epsg2008 + `,` + mercatorFeatures + `}`,
		"2008 form, after":       `{"type":"FeatureCollection",` + mercatorFeatures + `,` + epsg2008 + `,"bbox":[0,0,1,1]}`,
		"2008 code as string":    `{"type":"FeatureCollection",` + mercatorFeatures + `,"crs":{"type":"EPSG","properties":{"code":"3857"}}}`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t)
			env.write("m.json", doc)
			env.mustRun(chain(src("m.json"), node{id: "p", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": 4326}}, geojsonOut("o.json")))
			fs := env.readFC("o.json")
			xy, _ := fs[0].Geometry.MustAsPoint().XY()
			if math.Abs(xy.X-10) > 1e-8 || math.Abs(xy.Y-50) > 1e-8 {
				t.Errorf("read as (%v, %v), want (10, 50)", xy.X, xy.Y)
			}
			// ogr2ogr reads the same document the same way.
			bin := requireTool(t, "ogr2ogr", "gdal-bin")
			out, err := exec.Command(bin, "-f", "GeoJSON", "-t_srs", "EPSG:4326", "/vsistdout/", env.path("m.json")).Output()
			if err != nil {
				t.Fatal(err)
			}
			var fc struct {
				Features []struct {
					Geometry struct{ Coordinates []float64 } `json:"geometry"`
				} `json:"features"`
			}
			if err := json.Unmarshal(out, &fc); err != nil || len(fc.Features) != 1 {
				t.Fatalf("ogr2ogr: %v\n%s", err, out)
			}
			if c := fc.Features[0].Geometry.Coordinates; math.Abs(c[0]-xy.X) > 1e-6 || math.Abs(c[1]-xy.Y) > 1e-6 {
				t.Errorf("ogr2ogr gives %v, we give (%v, %v)", c, xy.X, xy.Y)
			}
		})
	}
}

func TestGeoJSONSource_CRSAfterFeaturesFromAURL(t *testing.T) {
	t.Parallel()
	doc := `{"type":"FeatureCollection",` + mercatorFeatures + `,"crs":{"type":"EPSG","properties":{"code":3857}}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/geo+json")
		w.Write([]byte(doc))
	}))
	defer srv.Close()
	env := newEnv(t, allowPrivate)
	env.mustRun(chain(node{id: "src", typ: "data_source.file", params: map[string]any{"url": srv.URL}}, geojsonOut("o.json")))
	fs := env.readFC("o.json")
	if len(fs) != 1 || fs[0].CRS != 3857 {
		t.Fatalf("read %d features in EPSG:%d", len(fs), fs[0].CRS)
	}
	if !strings.Contains(env.read("o.json"), "EPSG::3857") {
		t.Errorf("output lost the CRS: %s", env.read("o.json"))
	}
}

func TestGeoJSONSource_DisagreeingCRSMembersFail(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("m.json", `{"type":"FeatureCollection","crs":{"type":"EPSG","properties":{"code":3857}},`+mercatorFeatures+`,"crs":{"type":"EPSG","properties":{"code":25832}}}`)
	_, err, _ := env.run(chain(src("m.json"), geojsonOut("o.json")), nil)
	if err == nil || !strings.Contains(err.Error(), "two crs members that disagree") {
		t.Errorf("err = %v", err)
	}
}

func TestScanTopLevelCRS_IgnoresCRSInsideFeatures(t *testing.T) {
	// Not parallel: it changes scanChunk, which every GeoJSON read uses.
	doc := `{"features":[{"type":"Feature","crs":{"type":"EPSG","properties":{"code":1}},"properties":{"s":"\\\"crs\":"},"geometry":null}],"crs" : {"type":"EPSG","properties":{"code":3857}} }`
	defer func(n int) { scanChunk = n }(scanChunk)
	for _, chunk := range []int{1 << 20, 1, 2, 3, 7} {
		scanChunk = chunk // strings, escapes and the member across reads
		got, err := scanTopLevelCRS(strings.NewReader(doc))
		if err != nil || len(got) != 1 || strings.TrimSpace(string(got[0])) != `{"type":"EPSG","properties":{"code":3857}}` {
			t.Fatalf("chunk %d: found %q, %v", chunk, got, err)
		}
	}
}

// BenchmarkScanTopLevelCRS measures the extra pass over a GeoJSON file
// that finds its crs members before the features are streamed.
func BenchmarkScanTopLevelCRS(b *testing.B) {
	doc := []byte(pointsFC(100_000))
	b.SetBytes(int64(len(doc)))
	for range b.N {
		if _, err := scanTopLevelCRS(strings.NewReader(string(doc))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGeoJSONRead is the streaming read that the scan precedes, for
// comparison with BenchmarkScanTopLevelCRS.
func BenchmarkGeoJSONRead(b *testing.B) {
	doc := []byte(pointsFC(100_000))
	b.SetBytes(int64(len(doc)))
	for range b.N {
		g := newGeoJSONReader(strings.NewReader(string(doc)))
		for {
			if _, err := g.next(); err != nil {
				break
			}
		}
	}
}

// FuzzScanTopLevelCRS checks the byte scan against a full JSON parse: for
// any valid JSON object it finds exactly the top-level crs members, in
// order, whatever the read size.
func FuzzScanTopLevelCRS(f *testing.F) {
	f.Add(`{"features":[{"crs":1,"s":"\"crs\":"}],"crs":{"type":"EPSG","properties":{"code":3857}}}`, 3)
	f.Add(`{"crs":null,"a":{"crs":2},"crs":"x\\"}`, 1)
	f.Add(pointsFC(2), 5)
	f.Add(`{"\u0063rs":{"type":"EPSG","properties":{"code":3857}},"x\\":1}`, 2)
	f.Fuzz(func(t *testing.T, doc string, chunk int) {
		var top map[string]json.RawMessage
		if json.Unmarshal([]byte(doc), &top) != nil {
			return
		}
		dec := jsontext.NewDecoder(strings.NewReader(doc), jsontext.AllowDuplicateNames(true))
		var want []string
		if _, err := dec.ReadToken(); err != nil {
			return
		}
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return
			}
			key := k.String()
			v, err := dec.ReadValue()
			if err != nil {
				return
			}
			if key == "crs" {
				want = append(want, string(v))
			}
		}
		defer func(n int) { scanChunk = n }(scanChunk)
		scanChunk = 1 + (chunk%64+64)%64
		got, err := scanTopLevelCRS(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("found %d crs members, want %d", len(got), len(want))
		}
		for i := range got {
			var a, b any
			if json.Unmarshal(got[i], &a) != nil || json.Unmarshal([]byte(want[i]), &b) != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("member %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}
