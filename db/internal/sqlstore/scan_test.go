package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

// An empty object or array read without the decoder must leave the same
// value the decoder leaves, nil-ness included (callers tell "no
// parameters" from NULL by it), whether the destination was empty or
// held something.
func TestJSONScan_EmptyValuesAsTheDecoderLeavesThem(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"{}", "[]", `{"a":1}`, `["x"]`, "null", " {} "} {
		for _, src := range []any{text, []byte(text)} {
			var m1, m2 map[string]any
			held1, held2 := map[string]any{"k": "v"}, map[string]any{"k": "v"}
			var s1, s2 []string
			full1, full2 := []string{"t"}, []string{"t"}
			for _, pair := range [][2]any{{&m1, &m2}, {&held1, &held2}, {&s1, &s2}, {&full1, &full2}} {
				gotErr := jsonInto(pair[0]).Scan(src)
				wantErr := json.Unmarshal([]byte(text), pair[1])
				if (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("%q into %T: error %v, the decoder's %v", text, pair[0], gotErr, wantErr)
				}
				got, want := reflect.ValueOf(pair[0]).Elem(), reflect.ValueOf(pair[1]).Elem()
				if !reflect.DeepEqual(got.Interface(), want.Interface()) || got.IsNil() != want.IsNil() {
					t.Fatalf("%q into %T: got %#v, the decoder leaves %#v", text, pair[0], got.Interface(), want.Interface())
				}
			}
		}
	}
}
