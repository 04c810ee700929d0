package etl

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/geoetl/geoetl/etl/feature"
)

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
	return nil, fmt.Errorf("schema must be an array of {\"name\", \"type\"} objects, not %s", feature.Describe(raw))
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
		if !ok || !t.Valid() {
			names := make([]string, len(feature.FieldTypes))
			for j, ft := range feature.FieldTypes {
				names[j] = string(ft)
			}
			return nil, fmt.Errorf("schema[%d].type must be one of %s, not %s", i, strings.Join(names, ", "), feature.Describe(obj["type"]))
		}
		out = append(out, Field{Name: name, Type: t})
	}
	return out, nil
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
			v, err := feature.Coerce(kv.Value, fd.Type)
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
