// Package feature holds what flows between the engine's nodes and what its
// format packages read and write: the Feature, its ordered attributes, and
// the field types that decide a sink's columns (narrowest type holding
// every value, lossless conversion to a declared type). It imports no
// other part of the engine.
package feature

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/peterstace/simplefeatures/geom"
)

// Feature is the one unit of data that flows between nodes: a geometry,
// its attributes in their original order, and the EPSG code of the
// geometry's coordinates. Nodes treat features they receive as immutable,
// since one feature can be handed to several downstream nodes at once; a
// node that changes something builds a new Feature.
type Feature struct {
	// ID is the feature's identifier from the source (a GeoJSON "id"),
	// or nil.
	ID any
	// Geometry may be empty; sources accept invalid geometries as they
	// are, and geoprocessing.validate_geometry deals with them.
	Geometry geom.Geometry
	// Props holds the attributes. Values are nil, bool, int64, float64,
	// string, []byte (binary), or for nested JSON, map[string]any and
	// []any.
	Props Properties
	// CRS is the EPSG code of the geometry's coordinates (x = longitude
	// or easting, y = latitude or northing).
	CRS int
}

// Property is one attribute of a feature.
type Property struct {
	Key   string
	Value any
}

// Properties is an ordered attribute list. Features usually have few
// attributes, so a slice beats a map both in memory and in speed.
type Properties []Property

// Get returns the value of key.
func (p Properties) Get(key string) (any, bool) {
	for _, kv := range p {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Map returns the attributes as a map.
func (p Properties) Map() map[string]any {
	m := make(map[string]any, len(p))
	for _, kv := range p {
		m[kv.Key] = kv.Value
	}
	return m
}

// MarshalJSON writes the attributes as a JSON object in their order.
func (p Properties) MarshalJSON() ([]byte, error) {
	return AppendProperties(nil, p)
}

// AppendProperties writes the attributes as a JSON object in their order.
func AppendProperties(dst []byte, p Properties) ([]byte, error) {
	dst = append(dst, '{')
	for i, kv := range p {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, kv.Key)
		dst = append(dst, ':')
		var err error
		if dst, err = AppendValue(dst, kv.Value); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", kv.Key, err)
		}
	}
	return append(dst, '}'), nil
}

// AppendValue writes one attribute value as JSON, with fast paths for the
// scalar types every source produces.
func AppendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...), nil
		}
		return AppendReal(dst, x), nil
	case string:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	case []byte:
		return strconv.AppendQuote(dst, BinaryText(x)), nil
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
}

// BinaryText is how a binary value is written as text: upper-case hex,
// as GDAL writes a binary field to formats without one (GeoJSON, CSV).
func BinaryText(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// AppendReal writes a float so that it reads back as a real: GDAL (like
// this engine's reader) takes a JSON number without a fraction or an
// exponent as an integer, so 1.0 is written as 1.0, not 1.
func AppendReal(dst []byte, x float64) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, x, 'g', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' || c == 'E' {
			return dst
		}
	}
	return append(dst, ".0"...)
}

// Normalize converts values from other decoders (encoding/json,
// database drivers) into the attribute value types.
func Normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []byte:
		// Binary values stay binary (an empty one is not null); drivers
		// may reuse their buffers.
		return append([]byte{}, x...)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	return v
}

// IDSuffix names a feature's id in error messages, or nothing without one.
func IDSuffix(f Feature) string {
	if f.ID == nil {
		return ""
	}
	return fmt.Sprintf(" (id %v)", f.ID)
}

// IsNullGeometry reports whether g stands for a missing geometry (GeoJSON
// null is read as an empty collection).
func IsNullGeometry(g geom.Geometry) bool { return g.IsEmpty() && g.IsGeometryCollection() }
