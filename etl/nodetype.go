package etl

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/peterstace/simplefeatures/geom"

	geoetl "github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// NodeType describes one entry of the node catalog; the catalog is served
// as JSON at GET /admin/api/geoetl/workflows/catalog.
type NodeType struct {
	Type        string      `json:"type"`
	Category    string      `json:"category"` // source, transform, sink, control
	Description string      `json:"description"`
	MinInputs   int         `json:"minInputs"`
	MaxInputs   int         `json:"maxInputs"` // -1 for any number
	InputNotes  string      `json:"inputNotes,omitempty"`
	HasOutput   bool        `json:"hasOutput"`
	Parameters  []ParamSpec `json:"parameters"`

	// check runs cross-parameter rules on the values that are known
	// (templated ones are absent until run time).
	check func(p params, fe func(name, format string, args ...any))
	// build prepares the node's work from its resolved parameters.
	build func(p params) (nodeFunc, error)
}

// ParamSpec describes one node parameter.
type ParamSpec struct {
	Name string `json:"name"`
	// Type is one of: string, number, integer, boolean, crs ("EPSG:3857"
	// or 3857), bbox ([minx,miny,maxx,maxy] or "minx,miny,maxx,maxy"),
	// geometry (a GeoJSON geometry object or WKT), strings (a string or an
	// array of strings), json (any JSON value), sql (SQL text in which
	// templates become bind parameters).
	Type        string   `json:"type"`
	Required    bool     `json:"required"`
	Default     any      `json:"default,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Description string   `json:"description"`
}

// catalog indexes node types by name.
type catalog struct {
	types  []*NodeType
	byType map[string]*NodeType
}

func newCatalog(types []*NodeType) *catalog {
	c := &catalog{types: types, byType: map[string]*NodeType{}}
	for _, t := range types {
		c.byType[t.Type] = t
	}
	return c
}

func (t *NodeType) spec(name string) *ParamSpec {
	for i := range t.Parameters {
		if t.Parameters[i].Name == name {
			return &t.Parameters[i]
		}
	}
	return nil
}

// params holds a node's parameter values after substitution, coercion and
// defaults: string, float64, int64, bool, int (crs), []float64 (bbox),
// geom.Geometry, []string, json.RawMessage or sqlText.
type params map[string]any

func (p params) has(name string) bool { _, ok := p[name]; return ok }

func (p params) str(name string) string {
	s, _ := p[name].(string)
	return s
}

func (p params) num(name string) float64 {
	f, _ := p[name].(float64)
	return f
}

func (p params) integer(name string) int64 {
	i, _ := p[name].(int64)
	return i
}

func (p params) boolean(name string) bool {
	b, _ := p[name].(bool)
	return b
}

func (p params) crsCode(name string) int {
	c, _ := p[name].(int)
	return c
}

func (p params) strs(name string) []string {
	s, _ := p[name].([]string)
	return s
}

// sqlText is SQL with its templates replaced by $n placeholders and the
// values to bind to them, so parameter values never become SQL text.
type sqlText struct {
	SQL  string
	Args []any
}

// checkParameters checks raw parameters against the node type at
// validation time. Values that still hold templates are skipped; they are
// checked at run time after substitution.
func (t *NodeType) checkParameters(key string, raw map[string]json.RawMessage, fe geoetl.FieldErrors) {
	vals := make(map[string]any, len(raw))
	for name, r := range raw {
		var v any
		if err := unmarshalJSON(r, &v); err != nil {
			fe.Add(key+".parameters."+name, "is not valid JSON")
			continue
		}
		vals[name] = normalizeNested(v)
	}
	t.checkValues(key, vals, false, fe)
}

// checkValues coerces decoded parameter values, reporting unknown names,
// missing required ones and wrong types. With resolved false, templated
// values are left out; with resolved true, defaults are applied.
func (t *NodeType) checkValues(key string, vals map[string]any, resolved bool, fe geoetl.FieldErrors) params {
	p := params{}
	add := func(name, format string, args ...any) {
		fe.Add(key+".parameters."+name, format, args...)
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if t.spec(name) == nil {
			known := make([]string, len(t.Parameters))
			for i, s := range t.Parameters {
				known[i] = s.Name
			}
			add(name, "%s has no parameter %q (it has: %s)", t.Type, name, strings.Join(known, ", "))
		}
	}
	templated := map[string]bool{}
	for _, s := range t.Parameters {
		v, ok := vals[s.Name]
		if !ok || v == nil {
			if s.Required {
				add(s.Name, "is required")
			} else if resolved && s.Default != nil {
				p[s.Name] = s.Default
			}
			continue
		}
		if !resolved && hasTemplate(v) {
			templated[s.Name] = true
			continue
		}
		cv, err := coerceNodeParam(&s, v, resolved)
		if err != nil {
			add(s.Name, "%v", err)
			continue
		}
		p[s.Name] = cv
	}
	if t.check != nil {
		t.check(p, func(name, format string, args ...any) {
			if !templated[name] {
				add(name, format, args...)
			}
		})
	}
	return p
}

func hasTemplate(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, "{{")
	case []any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	}
	return false
}

// coerceNodeParam checks one value against its spec. After substitution
// (lenient) a string that spells a number or boolean is accepted where one
// is needed, since templates produce text.
func coerceNodeParam(s *ParamSpec, v any, lenient bool) (any, error) {
	switch s.Type {
	case "string":
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a string, not %s", feature.Describe(v))
		}
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			return nil, fmt.Errorf("must be one of %s, not %q", strings.Join(s.Enum, ", "), str)
		}
		return str, nil
	case "sql":
		switch x := v.(type) {
		case sqlText:
			return x, nil
		case string:
			return sqlText{SQL: x}, nil
		}
		return nil, fmt.Errorf("must be a string of SQL, not %s", feature.Describe(v))
	case "number":
		if str, ok := v.(string); ok && lenient {
			if f, err := strconv.ParseFloat(strings.TrimSpace(str), 64); err == nil {
				v = f
			}
		}
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("must be a finite number")
			}
			return x, nil
		case int64:
			return float64(x), nil
		}
		return nil, fmt.Errorf("must be a number, not %s", feature.Describe(v))
	case "integer":
		if str, ok := v.(string); ok && lenient {
			if i, err := strconv.ParseInt(strings.TrimSpace(str), 10, 64); err == nil {
				v = i
			}
		}
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
		}
		return nil, fmt.Errorf("must be an integer, not %s", feature.Describe(v))
	case "boolean":
		if str, ok := v.(string); ok && lenient {
			if b, err := strconv.ParseBool(strings.TrimSpace(str)); err == nil {
				v = b
			}
		}
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false, not %s", feature.Describe(v))
	case "crs":
		var code int
		switch x := v.(type) {
		case string:
			c, err := crs.Parse(x)
			if err != nil {
				return nil, err
			}
			code = c
		case int64:
			code = int(x)
		default:
			return nil, fmt.Errorf("must be a CRS such as \"EPSG:4326\", not %s", feature.Describe(v))
		}
		if _, err := crs.Lookup(code); err != nil {
			return nil, err
		}
		return code, nil
	case "bbox":
		return parseBBox(v)
	case "geometry":
		return parseGeometryParam(v)
	case "strings":
		switch x := v.(type) {
		case string:
			return []string{x}, nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				str, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("must be a string or an array of strings")
				}
				out = append(out, str)
			}
			return out, nil
		}
		return nil, fmt.Errorf("must be a string or an array of strings, not %s", feature.Describe(v))
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return json.RawMessage(b), nil
	}
	return nil, fmt.Errorf("unknown parameter type %q", s.Type)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func parseBBox(v any) ([]float64, error) {
	var nums []float64
	switch x := v.(type) {
	case string:
		for _, part := range strings.Split(x, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil {
				return nil, fmt.Errorf("must be four numbers minx,miny,maxx,maxy")
			}
			nums = append(nums, f)
		}
	case []any:
		for _, e := range x {
			switch n := e.(type) {
			case float64:
				nums = append(nums, n)
			case int64:
				nums = append(nums, float64(n))
			default:
				return nil, fmt.Errorf("must be four numbers [minx, miny, maxx, maxy]")
			}
		}
	default:
		return nil, fmt.Errorf("must be [minx, miny, maxx, maxy], not %s", feature.Describe(v))
	}
	if len(nums) != 4 {
		return nil, fmt.Errorf("must be four numbers [minx, miny, maxx, maxy], has %d", len(nums))
	}
	for _, n := range nums {
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, fmt.Errorf("must hold finite numbers")
		}
	}
	if nums[0] > nums[2] || nums[1] > nums[3] {
		return nil, fmt.Errorf("minimum must not exceed maximum ([minx, miny, maxx, maxy])")
	}
	return nums, nil
}

func parseGeometryParam(v any) (geom.Geometry, error) {
	switch x := v.(type) {
	case string:
		g, err := geom.UnmarshalWKT(x)
		if err != nil {
			return geom.Geometry{}, fmt.Errorf("is not a valid WKT geometry: %v", err)
		}
		return g, nil
	case map[string]any:
		b, _ := json.Marshal(x)
		g, err := geom.UnmarshalGeoJSON(b)
		if err != nil {
			return geom.Geometry{}, fmt.Errorf("is not a valid GeoJSON geometry: %v", err)
		}
		return g, nil
	}
	return geom.Geometry{}, fmt.Errorf("must be a GeoJSON geometry object or WKT text, not %s", feature.Describe(v))
}
