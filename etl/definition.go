package etl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	geoetl "github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl/feature"
)

// Definition is a workflow in the Honua GeoETL shape (see API.md,
// "Workflows"). Unknown top-level members are ignored so that Honua
// exports import as they are.
type Definition struct {
	Metadata   Metadata                 `json:"metadata"`
	Parameters map[string]ParameterDecl `json:"parameters"`
	Nodes      []Node                   `json:"nodes"`
	Edges      []Edge                   `json:"edges"`
}

// Metadata describes a workflow.
type Metadata struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// ParameterDecl declares one workflow parameter.
type ParameterDecl struct {
	Type         string `json:"type"` // string, number, integer, boolean, date, datetime
	DefaultValue any    `json:"defaultValue"`
	Required     bool   `json:"required"`
	Description  string `json:"description"`
}

// Node is one step of a workflow.
type Node struct {
	ID         string                     `json:"id"`
	Type       string                     `json:"type"`
	Name       string                     `json:"name,omitempty"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Execution  Execution                  `json:"execution"`
}

// Execution holds a node's own run settings.
type Execution struct {
	// TimeoutSeconds bounds one attempt of the node; 0 means no limit of
	// its own (the run's time-out still applies).
	TimeoutSeconds float64 `json:"timeoutSeconds"`
	// MaxRetries is how often a failed node is tried again. A node is
	// retried only while it has neither read nor passed on a feature,
	// since a stream cannot be replayed; failures in opening a file,
	// connecting or downloading are the ones retries help with.
	MaxRetries int `json:"maxRetries"`
	// ContinueOnError lets the run go on when the node fails: the failure
	// is logged and recorded on the node, nodes whose only inputs come
	// from failed nodes are skipped, and the run ends completed.
	// Features the node had already passed on before failing stay passed
	// on.
	ContinueOnError bool `json:"continueOnError"`
}

// Edge connects the output of one node to the input of another. A node's
// inputs are ordered as its incoming edges appear in the definition.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Parameter types a workflow may declare.
var parameterTypes = map[string]bool{
	"string": true, "number": true, "integer": true, "boolean": true, "date": true, "datetime": true,
}

var (
	nameRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	nodeIDRe   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$`)
	templateRe = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
	anyBraces  = regexp.MustCompile(`\{\{[^}]*\}\}`)
)

// runVariables are the {{run.*}} names.
var runVariables = map[string]bool{"scheduledAt": true, "date": true, "executionId": true}

// ParseDefinition decodes a definition. It checks only the JSON shape;
// Engine.Validate checks the rules.
func ParseDefinition(raw json.RawMessage) (*Definition, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, invalid("definition", "is required")
	}
	if len(raw) > geoetl.MaxDefinitionBytes {
		return nil, invalid("definition", "must be at most 512 KiB")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, invalid(te.Field, "must be %s, not %s", jsonKind(te.Type.Kind()), te.Value)
		}
		return nil, invalid("definition", "is not a valid workflow definition: %v", err)
	}
	if dec.More() {
		return nil, invalid("definition", "has data after the JSON object")
	}
	for name, p := range d.Parameters {
		p.DefaultValue = normalizeNested(p.DefaultValue)
		d.Parameters[name] = p
	}
	return &d, nil
}

// jsonKind names the JSON type that a Go kind is decoded from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64:
		return "a number"
	}
	return "a JSON " + k.String()
}

func invalid(field, format string, args ...any) error {
	fe := geoetl.FieldErrors{}
	fe.Add(field, format, args...)
	return fe.Err()
}

// nodeField names a node in error keys by id when it has one.
func nodeField(i int, n *Node) string {
	if n.ID != "" {
		return "nodes[" + n.ID + "]"
	}
	return fmt.Sprintf("nodes[%d]", i)
}

// validate checks a parsed definition and returns every problem at once.
func (d *Definition) validate(cat *catalog) error {
	fe := geoetl.FieldErrors{}
	for name, p := range d.Parameters {
		key := "parameters." + name
		if !nameRe.MatchString(name) {
			fe.Add(key, "parameter names must start with a letter or underscore and hold only letters, digits and underscores")
		}
		if !parameterTypes[p.Type] {
			fe.Add(key+".type", "unknown parameter type %q (use string, number, integer, boolean, date or datetime)", p.Type)
			continue
		}
		if p.DefaultValue != nil {
			if _, err := coerceParameter(p.Type, p.DefaultValue); err != nil {
				fe.Add(key+".defaultValue", "%v", err)
			}
		}
	}
	ids := map[string]int{}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		key := nodeField(i, n)
		switch {
		case n.ID == "":
			fe.Add(key+".id", "is required")
		case !nodeIDRe.MatchString(n.ID):
			fe.Add(key+".id", "must be 1-100 letters, digits, '_', '-' or '.'")
		default:
			if _, dup := ids[n.ID]; dup {
				fe.Add(key+".id", "duplicate node id %q", n.ID)
			} else {
				ids[n.ID] = i
			}
		}
		nt := cat.byType[n.Type]
		if nt == nil {
			if n.Type == "" {
				fe.Add(key+".type", "is required")
			} else {
				fe.Add(key+".type", "unknown node type %q (see GET /admin/api/geoetl/workflows/catalog)", n.Type)
			}
			continue
		}
		if n.Execution.TimeoutSeconds < 0 {
			fe.Add(key+".execution.timeoutSeconds", "must not be negative")
		}
		if n.Execution.MaxRetries < 0 || n.Execution.MaxRetries > 10 {
			fe.Add(key+".execution.maxRetries", "must be between 0 and 10")
		}
		d.checkTemplates(key, n, fe)
		nt.checkParameters(key, n.Parameters, fe)
	}
	inputs := map[string]int{}
	for i, e := range d.Edges {
		key := fmt.Sprintf("edges[%d]", i)
		fromIdx, okFrom := ids[e.From]
		toIdx, okTo := ids[e.To]
		if e.From == "" {
			fe.Add(key+".from", "is required")
		} else if !okFrom {
			fe.Add(key+".from", "no node has id %q", e.From)
		}
		if e.To == "" {
			fe.Add(key+".to", "is required")
		} else if !okTo {
			fe.Add(key+".to", "no node has id %q", e.To)
		}
		if okFrom && okTo {
			if e.From == e.To {
				fe.Add(key, "a node cannot feed itself")
			}
			if nt := cat.byType[d.Nodes[fromIdx].Type]; nt != nil && !nt.HasOutput {
				fe.Add(key+".from", "%s %q has no output", nt.Type, e.From)
			}
			if nt := cat.byType[d.Nodes[toIdx].Type]; nt != nil && nt.MaxInputs == 0 {
				fe.Add(key+".to", "%s %q takes no input", nt.Type, e.To)
			}
			inputs[e.To]++
		}
	}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		nt := cat.byType[n.Type]
		if nt == nil || n.ID == "" {
			continue
		}
		got := inputs[n.ID]
		key := nodeField(i, n)
		switch {
		case got < nt.MinInputs && nt.MinInputs == nt.MaxInputs:
			fe.Add(key, "%s needs exactly %d input edge(s), has %d", nt.Type, nt.MinInputs, got)
		case got < nt.MinInputs:
			fe.Add(key, "%s needs at least %d input edge(s), has %d", nt.Type, nt.MinInputs, got)
		case nt.MaxInputs >= 0 && got > nt.MaxInputs && nt.MaxInputs > 0:
			fe.Add(key, "%s takes at most %d input edge(s), has %d", nt.Type, nt.MaxInputs, got)
		}
	}
	if len(fe) == 0 {
		if cyc := d.cycle(); cyc != nil {
			fe.Add("edges", "the edges form a cycle: %s", strings.Join(cyc, " -> "))
		}
	}
	return fe.Err()
}

// checkTemplates makes sure every {{...}} in a node's parameters refers to
// a declared parameter or a run variable.
func (d *Definition) checkTemplates(key string, n *Node, fe geoetl.FieldErrors) {
	names := make([]string, 0, len(n.Parameters))
	for name := range n.Parameters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, s := range stringsIn(n.Parameters[name]) {
			for _, m := range anyBraces.FindAllString(s, -1) {
				sub := templateRe.FindStringSubmatch(m)
				if sub == nil || sub[0] != m {
					fe.Add(key+".parameters."+name, "%s is not a template; use {{parameters.NAME}} or {{run.scheduledAt}}, {{run.date}}, {{run.executionId}}", m)
					continue
				}
				switch sub[1] {
				case "parameters":
					if _, ok := d.Parameters[sub[2]]; !ok {
						fe.Add(key+".parameters."+name, "%s refers to an undeclared parameter %q", m, sub[2])
					}
				case "run":
					if !runVariables[sub[2]] {
						fe.Add(key+".parameters."+name, "%s: unknown run variable (use scheduledAt, date or executionId)", m)
					}
				default:
					fe.Add(key+".parameters."+name, "%s: unknown template namespace %q (use parameters or run)", m, sub[1])
				}
			}
		}
	}
}

// stringsIn returns every JSON string inside raw.
func stringsIn(raw json.RawMessage) []string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// cycle returns the node ids of one cycle, or nil when the graph is a DAG.
func (d *Definition) cycle() []string {
	adj := map[string][]string{}
	for _, e := range d.Edges {
		adj[e.From] = append(adj[e.From], e.To)
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(string) bool
	visit = func(id string) bool {
		color[id] = grey
		stack = append(stack, id)
		for _, next := range adj[id] {
			switch color[next] {
			case grey:
				for i, s := range stack {
					if s == next {
						found = append(append([]string{}, stack[i:]...), next)
					}
				}
				return true
			case white:
				if visit(next) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
		return false
	}
	for _, n := range d.Nodes {
		if color[n.ID] == white && visit(n.ID) {
			return found
		}
	}
	return nil
}

// order returns the nodes in a topological order, keeping definition order
// among independent nodes.
func (d *Definition) order() []*Node {
	indeg := map[string]int{}
	adj := map[string][]string{}
	for _, e := range d.Edges {
		indeg[e.To]++
		adj[e.From] = append(adj[e.From], e.To)
	}
	byID := map[string]*Node{}
	for i := range d.Nodes {
		byID[d.Nodes[i].ID] = &d.Nodes[i]
	}
	var out []*Node
	done := map[string]bool{}
	for len(out) < len(d.Nodes) {
		progressed := false
		for i := range d.Nodes {
			n := &d.Nodes[i]
			if done[n.ID] || indeg[n.ID] > 0 {
				continue
			}
			done[n.ID] = true
			out = append(out, n)
			for _, next := range adj[n.ID] {
				indeg[next]--
			}
			progressed = true
		}
		if !progressed {
			break // a cycle; validation reports it
		}
	}
	return out
}

// coerceParameter checks a workflow parameter value against its declared
// type and returns it in canonical form: float64 for number, int64 for
// integer, bool, and strings for string, date and datetime.
func coerceParameter(typ string, v any) (any, error) {
	v = feature.Normalize(v)
	switch typ {
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("must be a string, not %s", feature.Describe(v))
	case "number":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
		return nil, fmt.Errorf("must be a number, not %s", feature.Describe(v))
	case "integer":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == float64(int64(x)) {
				return int64(x), nil
			}
		}
		return nil, fmt.Errorf("must be an integer, not %s", feature.Describe(v))
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false, not %s", feature.Describe(v))
	case "date":
		s, ok := v.(string)
		if ok {
			if _, err := time.Parse(time.DateOnly, s); err == nil {
				return s, nil
			}
		}
		return nil, fmt.Errorf("must be a date as YYYY-MM-DD, not %s", feature.Describe(v))
	case "datetime":
		s, ok := v.(string)
		if ok {
			if _, err := time.Parse(time.RFC3339, s); err == nil {
				return s, nil
			}
		}
		return nil, fmt.Errorf("must be an RFC 3339 date and time, not %s", feature.Describe(v))
	}
	return nil, fmt.Errorf("unknown parameter type %q", typ)
}
