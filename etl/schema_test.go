package etl

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

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
