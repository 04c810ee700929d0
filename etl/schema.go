package etl

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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
// Text that is a calendar date (2019-04-01) makes a date field, as GDAL's
// GeoJSON driver types it; the shapefile, CSV and GeoJSON readers hand
// dates on as such text.
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
		if isDateText(v.(string)) {
			return FieldDate, true
		}
		return FieldText, true
	case []byte:
		return FieldBinary, true
	case map[string]any, []any:
		return FieldJSON, true
	}
	return FieldText, true
}

// isDateText reports whether s is a date written YYYY-MM-DD.
func isDateText(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
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

// coerceValue converts an attribute value to a declared field type. It
// never loses information: a value the type cannot hold exactly (10.25 for
// an integer, "A949" for a real) is an error, not a truncation. Text takes
// any value; nil stays nil.
func coerceValue(v any, t FieldType) (any, error) {
	if v == nil {
		return nil, nil
	}
	fail := func() (any, error) {
		return nil, fmt.Errorf("%s cannot be stored as %s", describeValue(v), t)
	}
	switch t {
	case FieldInteger:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
				return int64(x), nil
			}
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case string:
			if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return i, nil
			}
		}
		return fail()
	case FieldReal:
		switch x := v.(type) {
		case int64:
			if f := float64(x); int64(f) == x {
				return f, nil
			}
		case float64:
			return x, nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return f, nil
			}
		}
		return fail()
	case FieldText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return binaryText(x), nil
		}
		return formatValue(v), nil
	case FieldBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			if x == 0 || x == 1 {
				return x == 1, nil
			}
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "t", "yes", "1":
				return true, nil
			case "false", "f", "no", "0":
				return false, nil
			}
		}
		return fail()
	case FieldDate:
		if s, ok := v.(string); ok {
			if _, err := time.Parse(time.DateOnly, s); err == nil {
				return s, nil
			}
		}
		return fail()
	case FieldDateTime:
		if s, ok := v.(string); ok {
			if _, err := parseDateTime(s); err == nil {
				return s, nil
			}
		}
		return fail()
	case FieldJSON:
		return v, nil
	case FieldBinary:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
		return fail()
	}
	return nil, fmt.Errorf("unknown field type %q", t)
}

// parseDateTime reads the date-time forms GDAL writes and reads: RFC 3339,
// with or without a zone, with T or a space.
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", s)
}

// describeValue names a value for error messages, with its type.
func describeValue(v any) string {
	switch x := v.(type) {
	case []byte:
		return fmt.Sprintf("a binary value of %d bytes", len(x))
	case float64:
		return "the real " + strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return "the integer " + strconv.FormatInt(x, 10)
	}
	return describe(v)
}

// schemaParam is the optional `schema` parameter of every sink.
var schemaParam = ParamSpec{
	Name: "schema", Type: "json",
	Description: `Column types, as [{"name": "code", "type": "text"}, ...] with types integer, real, text, boolean, date, datetime, json or binary. ` +
		`Declared columns keep their type, and a value that does not fit it fails the run naming the feature. ` +
		`Other attributes get the narrowest type that holds all of their values (integers and reals make real; other mixes make text).`,
}

// checkSchemaParam reports a bad schema parameter at validation time.
func checkSchemaParam(p params, add func(string, string, ...any)) {
	if p.has("schema") {
		if _, err := parseSchemaParam(p["schema"]); err != nil {
			add("schema", "%v", err)
		}
	}
}

// coerceFeature returns f with the attributes the schema declares
// converted to their types (f itself is not changed: features are shared).
func coerceFeature(f Feature, schema []Field) (Feature, error) {
	var props Properties
	for i, kv := range f.Props {
		for _, fd := range schema {
			if fd.Name != kv.Key {
				continue
			}
			v, err := coerceValue(kv.Value, fd.Type)
			if err != nil {
				return f, fmt.Errorf("attribute %q: %v (declared in the sink's schema)", kv.Key, err)
			}
			if props == nil {
				props = append(Properties(nil), f.Props...)
			}
			props[i].Value = v
		}
	}
	if props != nil {
		f.Props = props
	}
	return f, nil
}
