package etl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// gdalFeatures reads a layer with ogr2ogr (to GeoJSON on stdout) and
// returns each feature's properties, numbers kept as written.
func gdalFeatures(t *testing.T, path string, args ...string) []map[string]any {
	t.Helper()
	bin := requireTool(t, "ogr2ogr", "gdal-bin")
	cmd := exec.Command(bin, append([]string{"-f", "GeoJSON", "/vsistdout/", path}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ogr2ogr %s: %v\n%s", path, err, stderr.String())
	}
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&fc); err != nil {
		t.Fatalf("ogr2ogr output: %v\n%s", err, out)
	}
	props := make([]map[string]any, len(fc.Features))
	for i, f := range fc.Features {
		props[i] = f.Properties
	}
	return props
}

// gdalFieldTypes returns the field types ogrinfo reports for a layer.
func gdalFieldTypes(t *testing.T, path string) map[string]string {
	t.Helper()
	info := ogrinfo(t, path)
	types := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+): (\w+)`).FindAllStringSubmatch(info, -1) {
		types[m[1]] = m[2]
	}
	return types
}

// mixedTypesFC has more than a batch of features whose attributes change
// type late: n is an integer until feature 650 holds 10.25, code an
// integer until feature 600 holds "A949", late is null until feature 560.
func mixedTypesFC() (string, []map[string]any) {
	var parts []string
	var want []map[string]any
	for i := 0; i < 700; i++ {
		n, code := any(int64(i)), any(int64(949+i))
		if i == 650 {
			n = 10.25
		}
		if i == 600 {
			code = "A949"
		}
		late := any(nil)
		if i >= 560 {
			late = int64(i)
		}
		p := Properties{{Key: "n", Value: n}, {Key: "code", Value: code}, {Key: "late", Value: late}, {Key: "flag", Value: i%2 == 0}}
		b, _ := p.MarshalJSON()
		parts = append(parts, fmt.Sprintf(`{"type":"Feature","properties":%s,"geometry":{"type":"Point","coordinates":[%d,1]}}`, b, i))
		want = append(want, p.Map())
	}
	return `{"type":"FeatureCollection","features":[` + strings.Join(parts, ",") + `]}`, want
}

// sameNumber compares what GDAL wrote (a json.Number) with a value.
func gdalValueEquals(got any, want any, asType string) bool {
	switch asType {
	case "Real":
		n, ok := got.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		switch w := want.(type) {
		case int64:
			return err == nil && f == float64(w)
		case float64:
			return err == nil && f == w
		}
	case "Integer", "Integer64":
		n, ok := got.(json.Number)
		return ok && n.String() == fmt.Sprint(want)
	case "String":
		return got == fmt.Sprint(want)
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func TestGeoPackageSink_WidensColumnTypesOverAllFeatures(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	content, want := mixedTypesFC()
	env.write("in.json", content)
	env.mustRun(chain(src("in.json"), node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "w.gpkg", "table_name": "w"}}))
	types := gdalFieldTypes(t, env.path("w.gpkg"))
	wantTypes := map[string]string{"n": "Real", "code": "String", "late": "Integer64", "flag": "Integer"}
	for k, v := range wantTypes {
		if types[k] != v {
			t.Errorf("GDAL reads field %s as %s, want %s", k, types[k], v)
		}
	}
	compareGDAL(t, gdalFeatures(t, env.path("w.gpkg")), want, wantTypes)
	validateGPKG(t, env.path("w.gpkg"))
	checkRtree(t, env.path("w.gpkg"), "rtree_w_geom")
}

// compareGDAL compares every value GDAL read with what was written.
func compareGDAL(t *testing.T, got, want []map[string]any, types map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("GDAL read %d features, want %d", len(got), len(want))
	}
	for i := range want {
		for k, typ := range types {
			switch {
			case want[i][k] == nil:
				if got[i][k] != nil {
					t.Fatalf("feature %d: %s = %v, want null", i, k, got[i][k])
				}
			case typ == "Integer" || typ == "Boolean": // GDAL writes booleans as true/false
				if fmt.Sprint(got[i][k]) != fmt.Sprint(want[i][k]) {
					t.Fatalf("feature %d: %s = %v, want %v", i, k, got[i][k], want[i][k])
				}
			case !gdalValueEquals(got[i][k], want[i][k], typ):
				t.Fatalf("feature %d: GDAL reads %s = %v, want %v (%s)", i, k, got[i][k], want[i][k], typ)
			}
		}
	}
}

func TestGeoPackageSink_HonoursDeclaredSchema(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	content := fc(`{"type":"Point","coordinates":[1,1]}`, `{"type":"Point","coordinates":[2,2]}`) // n: 0, 1
	schema := []any{map[string]any{"name": "n", "type": "real"}, map[string]any{"name": "zip", "type": "text"}, map[string]any{"name": "day", "type": "date"}}
	env.mustRun(chain(inline("src", strings.ReplaceAll(content, `"n":`, `"zip":1234,"day":"2024-02-29","n":`)),
		node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "s.gpkg", "table_name": "s", "schema": schema}}))
	types := gdalFieldTypes(t, env.path("s.gpkg"))
	if types["n"] != "Real" || types["zip"] != "String" || types["day"] != "Date" {
		t.Errorf("GDAL reads types %v, want n Real, zip String, day Date", types)
	}
	got := gdalFeatures(t, env.path("s.gpkg"))
	if got[1]["zip"] != "1234" || got[1]["day"] != "2024-02-29" || fmt.Sprint(got[1]["n"]) != "1.0" {
		t.Errorf("GDAL reads %v", got[1])
	}
	validateGPKG(t, env.path("s.gpkg"))

	schema[0] = map[string]any{"name": "n", "type": "integer"}
	_, err, _ := env.run(chain(inline("src", `{"type":"Feature","id":3,"properties":{"n":10.25},"geometry":null}`),
		node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "s2.gpkg", "table_name": "s", "schema": schema}}), nil)
	if err == nil || !strings.Contains(err.Error(), `feature 1 (id 3): attribute "n": the real 10.25 cannot be stored as integer`) {
		t.Errorf("10.25 into a declared integer: %v", err)
	}
}

func TestGeoPackageSink_AppendRefusesValuesTheColumnCannotHold(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	gp := func(mode string) node {
		return node{id: "out", typ: "data_sink.geopackage", params: map[string]any{"output_path": "a.gpkg", "table_name": "t", "mode": mode}}
	}
	env.mustRun(chain(inline("src", fc(`{"type":"Point","coordinates":[1,1]}`)), gp("replace"))) // n integer
	_, err, _ := env.run(chain(inline("src", `{"type":"Feature","properties":{"n":10.25},"geometry":null}`), gp("append")), nil)
	if err == nil || !strings.Contains(err.Error(), `attribute "n": the real 10.25 cannot be stored as integer in column "n"`) {
		t.Fatalf("appending 10.25 to an integer column: %v", err)
	}
	// Values the column holds exactly are fine; the failed run changed nothing.
	env.mustRun(chain(inline("src", `{"type":"Feature","properties":{"n":7.0},"geometry":null}`), gp("append")))
	got := gdalFeatures(t, env.path("a.gpkg"))
	if len(got) != 2 || fmt.Sprint(got[1]["n"]) != "7" {
		t.Errorf("after appends GDAL reads %v", got)
	}
}

func TestGeoJSONSink_FloatsStayReal(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.mustRun(chain(inline("src", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"r":1.0,"i":1,"big":1e21,"neg":-2.0},"geometry":null}]}`), geojsonOut("o.json")))
	out := env.read("o.json")
	if !strings.Contains(out, `"r":1.0,"i":1,"big":1e+21,"neg":-2.0`) {
		t.Errorf("written: %s", out)
	}
	types := gdalFieldTypes(t, env.path("o.json"))
	if types["r"] != "Real" || types["i"] != "Integer" || types["neg"] != "Real" || types["big"] != "Real" {
		t.Errorf("GDAL reads %v", types)
	}
	// A declared real makes integers real too.
	env.mustRun(chain(inline("src", `{"type":"Feature","properties":{"r":3},"geometry":null}`),
		node{id: "out", typ: "data_sink.geojson", params: map[string]any{"output_path": "d.json", "schema": []any{map[string]any{"name": "r", "type": "real"}}}}))
	if !strings.Contains(env.read("d.json"), `"r":3.0`) {
		t.Errorf("declared real: %s", env.read("d.json"))
	}
}
