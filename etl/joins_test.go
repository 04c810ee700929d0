package etl

import (
	"reflect"
	"strings"
	"testing"
)

const joinLeft = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":1,"name":"a"},"geometry":{"type":"Point","coordinates":[1,1]}},
{"type":"Feature","properties":{"code":2,"name":"b"},"geometry":{"type":"Point","coordinates":[5,5]}},
{"type":"Feature","properties":{"code":3,"name":"c"},"geometry":{"type":"Point","coordinates":[20,20]}},
{"type":"Feature","properties":{"code":null,"name":"d"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[3,0],[3,3],[0,3],[0,0]]]}}]}`

const joinRight = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"key":1.0,"name":"one","zone":"Z1"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]]]}},
{"type":"Feature","properties":{"key":2,"name":"two","zone":"Z2"},"geometry":{"type":"Polygon","coordinates":[[[4,4],[6,4],[6,6],[4,6],[4,4]]]}},
{"type":"Feature","properties":{"key":2,"name":"two again","zone":"Z3"},"geometry":{"type":"Point","coordinates":[2,2]}},
{"type":"Feature","properties":{"key":"3","name":"text three","zone":"Z4"},"geometry":{"type":"Point","coordinates":[18,20]}}]}`

func TestJoinNodes(t *testing.T) {
	t.Parallel()
	type row struct {
		name, zone, right any
	}
	cases := []struct {
		name   string
		typ    string
		params map[string]any
		want   []row
		extra  func(t *testing.T, fs []Feature)
	}{
		{name: "attribute left join: numbers match across int and real, text never matches a number, duplicates give one row each",
			typ: "join.attribute", params: map[string]any{"left_key": "code", "right_key": "key"},
			want: []row{{"a", "Z1", "one"}, {"b", "Z2", "two"}, {"b", "Z3", "two again"}, {"c", nil, nil}, {"d", nil, nil}}},
		{name: "attribute inner join drops the unmatched",
			typ: "join.attribute", params: map[string]any{"left_key": "code", "right_key": "key", "how": "inner"},
			want: []row{{"a", "Z1", "one"}, {"b", "Z2", "two"}, {"b", "Z3", "two again"}}},
		{name: "spatial intersects, once per match",
			typ: "join.spatial", params: map[string]any{"predicate": "intersects"},
			want: []row{{"a", "Z1", "one"}, {"b", "Z2", "two"}, {"c", nil, nil}, {"d", "Z1", "one"}, {"d", "Z3", "two again"}}},
		{name: "spatial within, inner",
			typ: "join.spatial", params: map[string]any{"predicate": "within", "how": "inner"},
			want: []row{{"a", "Z1", "one"}, {"b", "Z2", "two"}, {"d", "Z1", "one"}}},
		{name: "spatial contains",
			typ: "join.spatial", params: map[string]any{"predicate": "contains", "how": "inner"},
			want: []row{{"d", "Z3", "two again"}}},
		{name: "spatial intersects within a distance",
			typ: "join.spatial", params: map[string]any{"predicate": "intersects", "max_distance": 2.5, "how": "inner"},
			want: []row{{"a", "Z1", "one"}, {"a", "Z3", "two again"}, {"b", "Z1", "one"}, {"b", "Z2", "two"}, {"c", "Z4", "text three"}, {"d", "Z1", "one"}, {"d", "Z2", "two"}, {"d", "Z3", "two again"}}},
		{name: "nearest with its distance, beyond max_distance unmatched",
			typ: "join.spatial", params: map[string]any{"predicate": "nearest", "max_distance": 1.5},
			want: []row{{"a", "Z1", "one"}, {"b", "Z2", "two"}, {"c", nil, nil}, {"d", "Z1", "one"}},
			extra: func(t *testing.T, fs []Feature) {
				if d := propOrNil(fs[2].Props, "join_distance"); d != nil {
					t.Errorf("unmatched join_distance = %v", d)
				}
				if d := propOrNil(fs[0].Props, "join_distance"); d != 0.0 {
					t.Errorf("join_distance inside the polygon = %v", d)
				}
			}},
		{name: "nearest without a limit",
			typ: "join.spatial", params: map[string]any{"predicate": "nearest", "how": "inner"},
			want: []row{{"a", "Z1", "one"}, {"b", "Z2", "two"}, {"c", "Z4", "text three"}, {"d", "Z1", "one"}},
			extra: func(t *testing.T, fs []Feature) {
				if d := propOrNil(fs[2].Props, "join_distance"); d != 2.0 {
					t.Errorf("join_distance = %v, want 2", d)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			def := graph([]node{inline("l", joinLeft), inline("r", joinRight), {id: "j", typ: tc.typ, params: tc.params}, geojsonOut("out.geojson")},
				[][2]string{{"l", "j"}, {"r", "j"}, {"j", "out"}})
			env.mustRun(def)
			fs := env.readFC("out.geojson")
			var got []row
			for _, f := range fs {
				got = append(got, row{propOrNil(f.Props, "name"), propOrNil(f.Props, "zone"), propOrNil(f.Props, "name_right")})
				if g := f.Geometry.AsText(); !strings.HasPrefix(g, "POINT") && !strings.HasPrefix(g, "POLYGON((0 0,3 0") {
					t.Errorf("output geometry %s is not the left feature's", g)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
			if tc.extra != nil {
				tc.extra(t, fs)
			}
		})
	}
}

func TestSpatialJoin_RefusesDifferentCRSs(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := graph([]node{inline("l", joinLeft), inline("r", joinRight),
		{id: "rp", typ: "geoprocessing.reproject", params: map[string]any{"target_crs": "EPSG:3857"}},
		{id: "j", typ: "join.spatial", params: map[string]any{}}, geojsonOut("out.geojson")},
		[][2]string{{"l", "j"}, {"r", "rp"}, {"rp", "j"}, {"j", "out"}})
	_, err, _ := env.run(def, nil)
	if err == nil || !strings.Contains(err.Error(), "EPSG:4326 but the right features are in EPSG:3857") {
		t.Fatalf("err = %v", err)
	}
}

func TestJoin_OneSourceFeedingBothSidesDoesNotBlock(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := graph([]node{inline("s", pointsFC(3000)), {id: "j", typ: "join.attribute", params: map[string]any{"left_key": "id", "right_key": "id", "how": "inner"}}, geojsonOut("out.geojson")},
		[][2]string{{"s", "j"}, {"s", "j"}, {"j", "out"}})
	sum, _ := env.mustRun(def)
	if sum.FeaturesWritten != 3000 {
		t.Fatalf("wrote %d, want 3000", sum.FeaturesWritten)
	}
}
