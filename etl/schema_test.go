package etl

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestSchemaBuilder_WidensOverEveryValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values []any
		want   FieldType
	}{
		{"integers stay integer", []any{int64(1), int64(2)}, FieldInteger},
		{"integer then real widens to real", []any{int64(10), 10.25}, FieldReal},
		{"real then integer stays real", []any{10.25, int64(10)}, FieldReal},
		{"integer then text widens to text", []any{int64(949), "A949"}, FieldText},
		{"boolean then integer widens to text", []any{true, int64(1)}, FieldText},
		{"nil leaves the type alone", []any{nil, int64(1), nil}, FieldInteger},
		{"only nil is text", []any{nil, nil}, FieldText},
		{"objects and arrays are json", []any{map[string]any{"a": 1.0}, []any{1.0}}, FieldJSON},
		{"bytes are binary", []any{[]byte{0, 1}}, FieldBinary},
		{"binary and text widen to text", []any{[]byte{0, 1}, "x"}, FieldText},
		{"booleans stay boolean", []any{true, false}, FieldBoolean},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b SchemaBuilder
			for _, v := range c.values {
				b.Add(Properties{{Key: "v", Value: v}})
			}
			got := b.Fields()
			if len(got) != 1 || got[0] != (Field{Name: "v", Type: c.want}) {
				t.Fatalf("Fields() = %v, want [{v %s}]", got, c.want)
			}
		})
	}
}

func TestSchemaBuilder_WidensPastTheFirstBatch(t *testing.T) {
	t.Parallel()
	var b SchemaBuilder
	for i := 0; i < 2*batchSize; i++ {
		b.Add(Properties{{Key: "n", Value: int64(i)}})
	}
	b.Add(Properties{{Key: "n", Value: 0.5}})
	if got := b.Fields(); got[0].Type != FieldReal {
		t.Fatalf("type after a late real = %s, want real", got[0].Type)
	}
}

func TestSchemaBuilder_KeepsFirstSeenOrder(t *testing.T) {
	t.Parallel()
	var b SchemaBuilder
	b.Add(Properties{{Key: "b", Value: "x"}, {Key: "a", Value: int64(1)}})
	b.Add(Properties{{Key: "c", Value: true}, {Key: "a", Value: 2.5}})
	want := []Field{{Name: "b", Type: FieldText}, {Name: "a", Type: FieldReal}, {Name: "c", Type: FieldBoolean}}
	if got := b.Fields(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Fields() = %v, want %v", got, want)
	}
	if _, ok := b.Type("missing"); ok {
		t.Fatal("Type of an unseen field reported as known")
	}
}

func TestParseSchemaParam(t *testing.T) {
	t.Parallel()
	good := `[{"name":"code","type":"text"},{"name":"n","type":"integer"},{"name":"when","type":"DateTime"}]`
	want := []Field{{Name: "code", Type: FieldText}, {Name: "n", Type: FieldInteger}, {Name: "when", Type: FieldDateTime}}
	for _, raw := range []any{json.RawMessage(good), good, mustAnySlice(t, good)} {
		got, err := parseSchemaParam(raw)
		if err != nil {
			t.Fatalf("parseSchemaParam(%T): %v", raw, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseSchemaParam(%T) = %v, want %v", raw, got, want)
		}
	}
	if got, err := parseSchemaParam(nil); err != nil || got != nil {
		t.Fatalf("parseSchemaParam(nil) = %v, %v", got, err)
	}
	bad := map[string]string{
		`{"name":"a"}`:                  "array",
		`[1]`:                           "schema[0] must be an object",
		`[{"type":"text"}]`:             "schema[0].name",
		`[{"name":"a","type":"float"}]`: `schema[0].type must be one of integer, real, text`,
		`[{"name":"a","type":"text"},{"name":"a","type":"real"}]`: `schema[1].name: field "a" is declared twice`,
		`[{"name":"a","type":"text","width":3}]`:                  `unknown member "width"`,
	}
	for in, msg := range bad {
		_, err := parseSchemaParam(json.RawMessage(in))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("parseSchemaParam(%s) error = %v, want one containing %q", in, err, msg)
		}
	}
}

func mustAnySlice(t *testing.T, s string) []any {
	t.Helper()
	var v []any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// GDAL types a GeoJSON string that is a calendar date as Date, and the
// shapefile reader hands on D fields as such text: both make date columns.
func TestSchemaBuilder_TypesDateTextAsDate(t *testing.T) {
	t.Parallel()
	var b SchemaBuilder
	b.Add(Properties{{Key: "day", Value: "2019-04-01"}, {Key: "mixed", Value: "2019-04-01"}, {Key: "bad", Value: "2019-02-30"}, {Key: "stamp", Value: "2019-04-01T10:00:00Z"}})
	b.Add(Properties{{Key: "day", Value: nil}, {Key: "mixed", Value: "n/a"}, {Key: "bad", Value: "2019-02-28"}})
	want := []Field{{Name: "day", Type: FieldDate}, {Name: "mixed", Type: FieldText}, {Name: "bad", Type: FieldText}, {Name: "stamp", Type: FieldText}}
	if got := b.Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
}
