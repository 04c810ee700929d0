package etl

import (
	"encoding/json"
	"fmt"
	"strings"
)

// FieldType is the type of one attribute column in a sink's output.
type FieldType string

// The field types a sink can declare. They map onto every format's column
// types (GeoPackage, PostGIS, Shapefile, ...) without loss.
const (
	FieldInteger  FieldType = "integer"
	FieldReal     FieldType = "real"
	FieldText     FieldType = "text"
	FieldBoolean  FieldType = "boolean"
	FieldDate     FieldType = "date"
	FieldDateTime FieldType = "datetime"
	FieldJSON     FieldType = "json"
	FieldBinary   FieldType = "binary"
)

// fieldTypes lists the field types in the order the catalog documents them.
var fieldTypes = []FieldType{FieldInteger, FieldReal, FieldText, FieldBoolean, FieldDate, FieldDateTime, FieldJSON, FieldBinary}

func (t FieldType) valid() bool {
	for _, ft := range fieldTypes {
		if t == ft {
			return true
		}
	}
	return false
}

// Field is one attribute column of a sink's schema.
type Field struct {
	Name string
	Type FieldType
}

// SchemaBuilder widens each field's type over every value it is shown:
// integer+real -> real; any other mix -> text; nil leaves the type alone.
// A field that only ever held nil comes out as text, as GDAL makes it.
// The zero value is ready to use.
type SchemaBuilder struct {
	index  map[string]int
	fields []Field // Type "" until a non-nil value is seen
}

// Add widens the schema over one feature's attributes.
func (b *SchemaBuilder) Add(p Properties) {
	if b.index == nil {
		b.index = map[string]int{}
	}
	for _, kv := range p {
		i, ok := b.index[kv.Key]
		if !ok {
			i = len(b.fields)
			b.index[kv.Key] = i
			b.fields = append(b.fields, Field{Name: kv.Key})
		}
		t, ok := valueFieldType(kv.Value)
		if !ok {
			continue
		}
		b.fields[i].Type = widenFieldType(b.fields[i].Type, t)
	}
}

// Fields returns the fields in first-seen order.
func (b *SchemaBuilder) Fields() []Field {
	out := make([]Field, len(b.fields))
	for i, f := range b.fields {
		if f.Type == "" {
			f.Type = FieldText
		}
		out[i] = f
	}
	return out
}

// Type returns the type of the named field so far, and false when no
// non-nil value of it has been seen (so its type is still open).
func (b *SchemaBuilder) Type(name string) (FieldType, bool) {
	i, ok := b.index[name]
	if !ok || b.fields[i].Type == "" {
		return "", false
	}
	return b.fields[i].Type, true
}

// valueFieldType is the narrowest field type that holds v; false for nil.
func valueFieldType(v any) (FieldType, bool) {
	switch v.(type) {
	case nil:
		return "", false
	case bool:
		return FieldBoolean, true
	case int64, int, int32, int16, int8, uint8, uint16, uint32:
		return FieldInteger, true
	case float64, float32:
		return FieldReal, true
	case string:
		return FieldText, true
	case []byte:
		return FieldBinary, true
	case map[string]any, []any:
		return FieldJSON, true
	}
	return FieldText, true
}

// widenFieldType is the narrowest type holding values of both a and b; ""
// stands for "no value seen yet".
func widenFieldType(a, b FieldType) FieldType {
	switch {
	case a == "":
		return b
	case b == "" || a == b:
		return a
	case (a == FieldInteger && b == FieldReal) || (a == FieldReal && b == FieldInteger):
		return FieldReal
	}
	return FieldText
}

// parseSchemaParam reads a sink's optional `schema` parameter: a JSON
// array of {"name": ..., "type": ...} objects. nil means no schema.
func parseSchemaParam(raw any) ([]Field, error) {
	switch x := raw.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return parseSchemaJSON(x)
	case []byte:
		return parseSchemaJSON(x)
	case string:
		return parseSchemaJSON([]byte(x))
	case []any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		return parseSchemaJSON(b)
	}
	return nil, fmt.Errorf("schema must be an array of {\"name\", \"type\"} objects, not %s", describe(raw))
}

func parseSchemaJSON(b []byte) ([]Field, error) {
	if len(strings.TrimSpace(string(b))) == 0 || strings.TrimSpace(string(b)) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("schema must be an array of {\"name\", \"type\"} objects")
	}
	out := make([]Field, 0, len(items))
	seen := map[string]bool{}
	for i, it := range items {
		var obj map[string]any
		if err := json.Unmarshal(it, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("schema[%d] must be an object with \"name\" and \"type\"", i)
		}
		for k := range obj {
			if k != "name" && k != "type" {
				return nil, fmt.Errorf("schema[%d]: unknown member %q (only \"name\" and \"type\")", i, k)
			}
		}
		name, ok := obj["name"].(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("schema[%d].name must be a non-empty string", i)
		}
		if seen[name] {
			return nil, fmt.Errorf("schema[%d].name: field %q is declared twice", i, name)
		}
		seen[name] = true
		ts, ok := obj["type"].(string)
		t := FieldType(strings.ToLower(ts))
		if !ok || !t.valid() {
			names := make([]string, len(fieldTypes))
			for j, ft := range fieldTypes {
				names[j] = string(ft)
			}
			return nil, fmt.Errorf("schema[%d].type must be one of %s, not %s", i, strings.Join(names, ", "), describe(obj["type"]))
		}
		out = append(out, Field{Name: name, Type: t})
	}
	return out, nil
}
