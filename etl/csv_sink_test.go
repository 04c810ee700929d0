package etl

import (
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// An attribute that first appears after the first 512-feature batch is
// data like any other: the CSV sink's columns come from all features, and
// GDAL reads every value back with its type.
func TestCSVSink_KeepsAttributesFirstSeenInLaterBatches(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	const n = 1300
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	want := make([]map[string]any, n)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		props := map[string]any{"n": int64(i)}
		var js []string
		js = append(js, fmt.Sprintf(`"n":%d`, i))
		if i >= 700 { // only in the second batch and later
			props["code"] = fmt.Sprintf("%04d", i)
			props["area"] = float64(i) // whole reals stay reals
			props["ok"] = i%2 == 0
			props["day"] = "2024-03-01"
			js = append(js, fmt.Sprintf(`"code":"%04d","area":%d.0,"ok":%t,"day":"2024-03-01"`, i, i, i%2 == 0))
		}
		if i == n-1 {
			props["last"] = "only here, with a \"quote\", a comma and ü"
			js = append(js, `"last":"only here, with a \"quote\", a comma and ü"`)
		}
		want[i] = props
		fmt.Fprintf(&b, `{"type":"Feature","properties":{%s},"geometry":{"type":"Point","coordinates":[%d.5,1]}}`, strings.Join(js, ","), i)
	}
	b.WriteString(`]}`)
	env.write("in.json", b.String())
	_, rec := env.mustRun(chain(src("in.json"), node{id: "out", typ: "data_sink.csv_geometry", params: map[string]any{"output_path": "out.csv"}}))
	if strings.Contains(rec.logText(), "left out") {
		t.Errorf("log: %s", rec.logText())
	}
	head := strings.SplitN(env.read("out.csv"), "\n", 2)[0]
	if head != "wkt,n,code,area,ok,day,last" {
		t.Fatalf("header %q", head)
	}
	if got := env.read("out.csvt"); got != "WKT,Integer64,String,Real,Integer(Boolean),Date,String\n" {
		t.Errorf(".csvt %q", got)
	}

	bin := requireTool(t, "ogr2ogr", "gdal-bin")
	if out, err := exec.Command(bin, "-f", "GeoJSON", env.path("gdal.json"), env.path("out.csv"), "-oo", "AUTODETECT_TYPE=YES", "-oo", "KEEP_GEOM_COLUMNS=NO").CombinedOutput(); err != nil {
		t.Fatalf("ogr2ogr: %v\n%s", err, out)
	}
	info := ogrinfo(t, env.path("out.csv"), "-oo", "AUTODETECT_TYPE=YES")
	for _, f := range []string{"n: Integer64", "code: String", "area: Real", "ok: Integer(Boolean)", "day: Date", "last: String"} {
		if !strings.Contains(info, f) {
			t.Errorf("GDAL reads no %q:\n%s", f, info)
		}
	}
	got := env.readFC("gdal.json")
	if len(got) != n {
		t.Fatalf("GDAL read %d features", len(got))
	}
	for i, f := range got {
		props := map[string]any{}
		for _, kv := range f.Props {
			// CSV has no null: GDAL reads an empty text cell as "" and an
			// empty number, boolean or date cell as null.
			if kv.Value != nil && kv.Value != "" {
				props[kv.Key] = kv.Value
			}
		}
		if !reflect.DeepEqual(props, want[i]) {
			t.Fatalf("feature %d: GDAL reads %#v, want %#v", i+1, props, want[i])
		}
		if wkt := fmt.Sprintf("POINT(%d.5 1)", i); f.Geometry.AsText() != wkt {
			t.Fatalf("feature %d: geometry %s, want %s", i+1, f.Geometry.AsText(), wkt)
		}
	}
}

func TestCSVSink_HonoursDeclaredSchema(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.json", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":"7"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`)
	env.mustRun(chain(src("in.json"), node{id: "out", typ: "data_sink.csv_geometry", params: map[string]any{"output_path": "out.csv",
		"schema": []any{map[string]any{"name": "a", "type": "real"}, map[string]any{"name": "b", "type": "integer"}, map[string]any{"name": "d", "type": "date"}}}}))
	if got := env.read("out.csv"); got != "wkt,a,b,d\nPOINT(1 2),7.0,,\n" {
		t.Errorf("CSV %q", got)
	}
	if got := env.read("out.csvt"); got != "WKT,Real,Integer64,Date\n" {
		t.Errorf(".csvt %q", got)
	}
}

func TestCSVSink_RefusesAttributeNamedLikeGeometryColumn(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.json", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"WKT":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`)
	_, err, _ := env.run(chain(src("in.json"), node{id: "out", typ: "data_sink.csv_geometry", params: map[string]any{"output_path": "out.csv"}}), nil)
	if err == nil || !strings.Contains(err.Error(), `attribute "WKT" has the name of the geometry column wkt`) {
		t.Errorf("err = %v", err)
	}
}
