package etl

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/geoetl/geoetl/etl/feature"
)

func parseFieldType(s string) (FieldType, error) {
	if t := FieldType(s); t.Valid() {
		return t, nil
	}
	return "", fmt.Errorf("type %q is not one of %s", s, strings.Join(fieldTypeEnum(), ", "))
}

func fieldTypeEnum() []string {
	out := make([]string, len(feature.FieldTypes))
	for i, t := range feature.FieldTypes {
		out[i] = string(t)
	}
	return out
}

// stringMap reads a json parameter holding an object of strings.
func stringMap(raw json.RawMessage) (map[string]string, []string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, nil, errors.New("must be an object of names to strings")
	}
	out := make(map[string]string, len(m))
	keys := make([]string, 0, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, nil, fmt.Errorf("%q must map to a non-empty string", k)
		}
		out[k] = s
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return out, keys, nil
}

func (e *Engine) selectNode() *NodeType {
	return oneInput(&NodeType{
		Type:        "attributes.select",
		Description: "Keeps only the named attributes, in the order given; a named attribute a feature lacks becomes null. The geometry is kept.",
		Parameters: []ParamSpec{
			{Name: "fields", Type: "strings", Required: true, Description: "Attribute names to keep, in output order."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("fields") {
				seen := map[string]bool{}
				for _, f := range p.strs("fields") {
					if f == "" {
						add("fields", "names must not be empty")
					}
					if seen[f] {
						add("fields", "%q is listed twice", f)
					}
					seen[f] = true
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			fields := p.strs("fields")
			return mapFeatures(func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				props := make(Properties, len(fields))
				for i, name := range fields {
					v, _ := f.Props.Get(name)
					props[i] = Property{Key: name, Value: v}
				}
				f.Props = props
				return f, true, nil
			}), nil
		},
	})
}

func (e *Engine) renameNode() *NodeType {
	return oneInput(&NodeType{
		Type:        "attributes.rename",
		Description: "Renames attributes, keeping their order and values: mapping is {\"old\": \"new\", ...}. A new name that another attribute already has fails the node, naming the feature.",
		Parameters: []ParamSpec{
			{Name: "mapping", Type: "json", Required: true, Description: "Object of old name to new name."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("mapping") {
				if m, _, err := stringMap(p["mapping"].(json.RawMessage)); err != nil {
					add("mapping", "%v", err)
				} else if err := checkRenameTargets(m); err != nil {
					add("mapping", "%v", err)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			m, _, err := stringMap(p["mapping"].(json.RawMessage))
			if err != nil {
				return nil, err
			}
			if err := checkRenameTargets(m); err != nil {
				return nil, err
			}
			return mapFeatures(func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				props := make(Properties, len(f.Props))
				seen := make(map[string]bool, len(f.Props))
				for i, kv := range f.Props {
					if n, ok := m[kv.Key]; ok {
						kv.Key = n
					}
					if seen[kv.Key] {
						return f, false, fmt.Errorf("renaming gives two attributes named %q", kv.Key)
					}
					seen[kv.Key] = true
					props[i] = kv
				}
				f.Props = props
				return f, true, nil
			}), nil
		},
	})
}

func checkRenameTargets(m map[string]string) error {
	to := map[string]string{}
	for from, n := range m {
		if other, ok := to[n]; ok {
			a, b := min(from, other), max(from, other)
			return fmt.Errorf("%q and %q are both renamed to %q", a, b, n)
		}
		to[n] = from
	}
	return nil
}

// castFields reads attributes.cast's fields parameter.
func castFields(raw json.RawMessage) (map[string]FieldType, error) {
	m, _, err := stringMap(raw)
	if err != nil {
		return nil, err
	}
	out := make(map[string]FieldType, len(m))
	for k, v := range m {
		t, err := parseFieldType(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", k, err)
		}
		out[k] = t
	}
	return out, nil
}

func (e *Engine) castNode() *NodeType {
	return oneInput(&NodeType{
		Type: "attributes.cast",
		Description: "Converts attributes to the given types ({\"name\": \"integer\"|\"real\"|\"text\"|\"boolean\"|\"date\"|\"datetime\"|\"json\"|\"binary\"}). " +
			"A value that cannot be converted without changing it (10.5 to integer, \"A949\" to real) fails the node, naming the feature; null stays null.",
		Parameters: []ParamSpec{
			{Name: "fields", Type: "json", Required: true, Description: "Object of attribute name to type."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("fields") {
				if _, err := castFields(p["fields"].(json.RawMessage)); err != nil {
					add("fields", "%v", err)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			types, err := castFields(p["fields"].(json.RawMessage))
			if err != nil {
				return nil, err
			}
			return mapFeatures(func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				props := make(Properties, len(f.Props))
				for i, kv := range f.Props {
					if t, ok := types[kv.Key]; ok {
						v, err := feature.Coerce(kv.Value, t)
						if err != nil {
							return f, false, fmt.Errorf("attribute %q: %v", kv.Key, err)
						}
						kv.Value = v
					}
					props[i] = kv
				}
				f.Props = props
				return f, true, nil
			}), nil
		},
	})
}

// compileCalc compiles an attributes.calculate expression through the
// bounded path of geoprocessing.filter (same step and memory budgets),
// without its boolean result.
func compileCalc(src string) (*expression, error) {
	return compileExpression(src)
}

func (e *Engine) calculateNode() *NodeType {
	return oneInput(&NodeType{
		Type: "attributes.calculate",
		Description: "Sets an attribute to the value of an expression over the feature's attributes (the language and per-feature budgets of geoprocessing.filter, e.g. population / area_km2 or upper(name)), " +
			"converted to type; an existing attribute is replaced in place, a new one is appended. A result that cannot be converted fails the node, naming the feature.",
		Parameters: []ParamSpec{
			{Name: "field", Type: "string", Required: true, Description: "Attribute to set."},
			{Name: "expression", Type: "string", Required: true, Description: "Expression over the feature's attributes; a missing attribute is nil."},
			{Name: "type", Type: "string", Required: true, Enum: fieldTypeEnum(), Description: "Type of the result."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("field") && p.str("field") == "" {
				add("field", "must not be empty")
			}
			if p.has("expression") {
				if _, err := compileCalc(p.str("expression")); err != nil {
					add("expression", "%v", err)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			prog, err := compileCalc(p.str("expression"))
			if err != nil {
				return nil, err
			}
			field, typ := p.str("field"), FieldType(p.str("type"))
			return mapFeatures(func(_ *nodeCtx, f Feature) (Feature, bool, error) {
				out, err := prog.run(f.Props.Map())
				if errors.Is(err, errBudget) {
					return f, false, err
				}
				if err != nil {
					return f, false, fmt.Errorf("expression: %v", err)
				}
				v, err := feature.Coerce(normalizeExprResult(out), typ)
				if err != nil {
					return f, false, fmt.Errorf("expression result for %q: %v", field, err)
				}
				props := make(Properties, len(f.Props), len(f.Props)+1)
				copy(props, f.Props)
				replaced := false
				for i := range props {
					if props[i].Key == field {
						props[i].Value, replaced = v, true
					}
				}
				if !replaced {
					props = append(props, Property{Key: field, Value: v})
				}
				f.Props = props
				return f, true, nil
			}), nil
		},
	})
}

// normalizeExprResult maps expr's result types onto attribute values.
func normalizeExprResult(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case map[string]any, []any, string, bool, int64, nil, []byte:
		return x
	}
	return feature.Normalize(v)
}
