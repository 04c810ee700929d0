package etl

import (
	"reflect"
	"testing"

	"github.com/peterstace/simplefeatures/geom"
)

func TestSpool_SpilledFeaturesComeBackUnchanged(t *testing.T) {
	t.Parallel()
	pt, _ := geom.UnmarshalWKT("POINT Z(1.5 -2.25 3)")
	poly, _ := geom.UnmarshalWKT("POLYGON((0 0,1 0,1 1,0 0))")
	in := []Feature{
		{ID: "a", Geometry: pt, CRS: 4326, Props: Properties{{Key: "nil", Value: nil}, {Key: "t", Value: true}, {Key: "f", Value: false}, {Key: "i", Value: int64(-1 << 62)}, {Key: "r", Value: 0.1},
			{Key: "s", Value: "Zürich"}, {Key: "b", Value: []byte{0, 1, 255}}, {Key: "o", Value: map[string]any{"k": []any{int64(1), "x"}}}, {Key: "a", Value: []any{}}}},
		{ID: int64(7), Geometry: poly, CRS: 2056},
		{Geometry: geom.Geometry{}, CRS: 3857, Props: Properties{}},
	}
	s := newSpool()
	s.limit = 0
	defer s.close()
	if err := s.add(in); err != nil {
		t.Fatal(err)
	}
	var out []Feature
	if err := s.replay(func(b []Feature) error { out = append(out, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d features", len(out))
	}
	for i := range in {
		if !geom.ExactEquals(in[i].Geometry, out[i].Geometry) || in[i].CRS != out[i].CRS || !reflect.DeepEqual(in[i].ID, out[i].ID) {
			t.Errorf("feature %d: got %v %d %v", i, out[i].Geometry.AsText(), out[i].CRS, out[i].ID)
		}
		if len(in[i].Props) > 0 && !reflect.DeepEqual(in[i].Props, out[i].Props) {
			t.Errorf("feature %d attributes:\n got %#v\nwant %#v", i, out[i].Props, in[i].Props)
		}
	}
}
