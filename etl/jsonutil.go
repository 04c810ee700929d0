package etl

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"github.com/geoetl/geoetl/etl/feature"
)

// unmarshalJSON decodes b into v with numbers kept as json.Number, so
// integers survive exactly.
func unmarshalJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// normalizeNested turns the json.Numbers inside a decoded JSON value into
// int64 or float64.
func normalizeNested(v any) any {
	switch x := v.(type) {
	case json.Number:
		return feature.Normalize(x)
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNested(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNested(e)
		}
		return x
	}
	return v
}

// randomSuffix returns a short random hex string for temporary names.
func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
