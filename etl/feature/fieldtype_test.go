package feature

import (
	"reflect"
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
