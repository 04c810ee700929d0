package etl

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const attrFixture = `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"a","properties":{"name":"Bern","pop":"134794","area":51.62,"flag":"yes"},"geometry":{"type":"Point","coordinates":[7.44,46.95]}},
{"type":"Feature","id":"b","properties":{"name":"Thun","pop":"43476","area":21.6,"flag":"0","extra":1},"geometry":{"type":"Point","coordinates":[7.63,46.75]}}]}`

func propsOf(fs []Feature) [][]Property {
	out := make([][]Property, len(fs))
	for i, f := range fs {
		out[i] = f.Props
	}
	return out
}

func TestAttributeNodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		typ     string
		params  map[string]any
		want    [][]Property
		wantErr string // part of the run error, when the node must fail
	}{
		{name: "select keeps the named fields in order, null for missing", typ: "attributes.select",
			params: map[string]any{"fields": []any{"area", "name", "extra"}},
			want: [][]Property{
				{{Key: "area", Value: 51.62}, {Key: "name", Value: "Bern"}, {Key: "extra", Value: nil}},
				{{Key: "area", Value: 21.6}, {Key: "name", Value: "Thun"}, {Key: "extra", Value: int64(1)}}}},
		{name: "rename keeps order and values", typ: "attributes.rename",
			params: map[string]any{"mapping": map[string]any{"pop": "population", "name": "city"}},
			want: [][]Property{
				{{Key: "city", Value: "Bern"}, {Key: "population", Value: "134794"}, {Key: "area", Value: 51.62}, {Key: "flag", Value: "yes"}},
				{{Key: "city", Value: "Thun"}, {Key: "population", Value: "43476"}, {Key: "area", Value: 21.6}, {Key: "flag", Value: "0"}, {Key: "extra", Value: int64(1)}}}},
		{name: "rename onto an existing name fails naming the feature", typ: "attributes.rename",
			params: map[string]any{"mapping": map[string]any{"pop": "extra"}}, wantErr: `feature 2 (id b): renaming gives two attributes named "extra"`},
		{name: "cast converts text to numbers and booleans", typ: "attributes.cast",
			params: map[string]any{"fields": map[string]any{"pop": "integer", "flag": "boolean", "area": "text"}},
			want: [][]Property{
				{{Key: "name", Value: "Bern"}, {Key: "pop", Value: int64(134794)}, {Key: "area", Value: "51.62"}, {Key: "flag", Value: true}},
				{{Key: "name", Value: "Thun"}, {Key: "pop", Value: int64(43476)}, {Key: "area", Value: "21.6"}, {Key: "flag", Value: false}, {Key: "extra", Value: int64(1)}}}},
		{name: "cast fails loudly on a value that does not fit", typ: "attributes.cast",
			params: map[string]any{"fields": map[string]any{"area": "integer"}}, wantErr: `feature 1 (id a): attribute "area"`},
		{name: "calculate appends a typed result", typ: "attributes.calculate",
			params: map[string]any{"field": "density", "expression": "int(pop) / area", "type": "real"},
			want: [][]Property{
				{{Key: "name", Value: "Bern"}, {Key: "pop", Value: "134794"}, {Key: "area", Value: 51.62}, {Key: "flag", Value: "yes"}, {Key: "density", Value: div(134794, 51.62)}},
				{{Key: "name", Value: "Thun"}, {Key: "pop", Value: "43476"}, {Key: "area", Value: 21.6}, {Key: "flag", Value: "0"}, {Key: "extra", Value: int64(1)}, {Key: "density", Value: div(43476, 21.6)}}}},
		{name: "calculate replaces in place", typ: "attributes.calculate",
			params: map[string]any{"field": "name", "expression": "upper(name)", "type": "text"},
			want: [][]Property{
				{{Key: "name", Value: "BERN"}, {Key: "pop", Value: "134794"}, {Key: "area", Value: 51.62}, {Key: "flag", Value: "yes"}},
				{{Key: "name", Value: "THUN"}, {Key: "pop", Value: "43476"}, {Key: "area", Value: 21.6}, {Key: "flag", Value: "0"}, {Key: "extra", Value: int64(1)}}}},
		{name: "calculate fails when the result does not fit the type", typ: "attributes.calculate",
			params: map[string]any{"field": "x", "expression": "area * 2", "type": "integer"}, wantErr: `feature 1 (id a): expression result for "x"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			def := chain(inline("src", attrFixture), node{id: "n", typ: tc.typ, params: tc.params}, geojsonOut("out.geojson"))
			_, err, rec := env.run(def, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+rec.logText(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q\n%s", err, tc.wantErr, rec.logText())
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v\n%s", err, rec.logText())
			}
			if got := propsOf(env.readFC("out.geojson")); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestAttributeNodes_BadParametersAreFieldErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	cases := []struct {
		typ    string
		params map[string]any
		field  string
	}{
		{"attributes.cast", map[string]any{"fields": map[string]any{"a": "float"}}, "fields"},
		{"attributes.rename", map[string]any{"mapping": map[string]any{"a": "c", "b": "c"}}, "mapping"},
		{"attributes.calculate", map[string]any{"field": "x", "expression": "1 +", "type": "real"}, "expression"},
		{"attributes.select", map[string]any{"fields": []any{"a", "a"}}, "fields"},
		{"join.spatial", map[string]any{"predicate": "within", "max_distance": 5}, "max_distance"},
		{"data_sink.shapefile", map[string]any{"output_path": "x.shp", "schema": []any{map[string]any{"name": "a", "type": "float"}}}, "schema"},
	}
	for _, tc := range cases {
		err := env.e.Validate(json.RawMessage(chain(inline("src", attrFixture), node{id: "n", typ: tc.typ, params: tc.params})))
		if err == nil || !strings.Contains(err.Error(), "nodes[n].parameters."+tc.field) {
			t.Errorf("%s: err = %v, want a field error on %s", tc.typ, err, tc.field)
		}
	}
}

// div divides at run time, as the expression does (constant division in
// Go is exact, then rounded once).
func div(a, b float64) float64 { return a / b }
