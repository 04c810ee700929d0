package feature

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

// FieldTypes lists the field types in the order the catalog documents them.
var FieldTypes = []FieldType{FieldInteger, FieldReal, FieldText, FieldBoolean, FieldDate, FieldDateTime, FieldJSON, FieldBinary}

// Valid reports whether t is one of the field types.
func (t FieldType) Valid() bool {
	for _, ft := range FieldTypes {
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
		t, ok := TypeOf(kv.Value)
		if !ok {
			continue
		}
		b.fields[i].Type = Widen(b.fields[i].Type, t)
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

// TypeOf is the narrowest field type that holds v; false for nil.
func TypeOf(v any) (FieldType, bool) {
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
		if IsDateText(v.(string)) {
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

// IsDateText reports whether s is a date written YYYY-MM-DD.
func IsDateText(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// Widen is the narrowest type holding values of both a and b; ""
// stands for "no value seen yet".
func Widen(a, b FieldType) FieldType {
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

// Coerce converts an attribute value to a declared field type. It
// never loses information: a value the type cannot hold exactly (10.25 for
// an integer, "A949" for a real) is an error, not a truncation. Text takes
// any value; nil stays nil.
func Coerce(v any, t FieldType) (any, error) {
	if v == nil {
		return nil, nil
	}
	fail := func() (any, error) {
		return nil, fmt.Errorf("%s cannot be stored as %s", DescribeValue(v), t)
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
			return BinaryText(x), nil
		}
		return FormatValue(v), nil
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
			if _, err := ParseDateTime(s); err == nil {
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

// ParseDateTime reads the date-time forms GDAL writes and reads: RFC 3339,
// with or without a zone, with T or a space.
func ParseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", s)
}

// DescribeValue names a value for error messages, with its type.
func DescribeValue(v any) string {
	switch x := v.(type) {
	case []byte:
		return fmt.Sprintf("a binary value of %d bytes", len(x))
	case float64:
		return "the real " + strconv.FormatFloat(x, 'g', -1, 64)
	case int64:
		return "the integer " + strconv.FormatInt(x, 10)
	}
	return Describe(v)
}

// FormatValue writes a value as text, as templates and text columns take it.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case []byte:
		return BinaryText(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Describe names a value for error messages.
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("%t", x)
	case int64, float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
