package etl

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	geoetl "github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl/feature"
)

// resolveValues applies the declared defaults under the run's values and
// checks them: a required parameter without a value, or a value of the
// wrong type, fails the run with a message naming the parameter.
func resolveValues(d *Definition, given map[string]any) (map[string]any, []string, error) {
	fe := geoetl.FieldErrors{}
	out := map[string]any{}
	var ignored []string
	for name := range given {
		if _, ok := d.Parameters[name]; !ok {
			ignored = append(ignored, name)
		}
	}
	for name, decl := range d.Parameters {
		v, ok := given[name]
		if !ok || v == nil {
			v = decl.DefaultValue
		}
		if v == nil {
			if decl.Required {
				fe.Add("parameters."+name, "parameter %q is required but has no value and no default", name)
			}
			continue
		}
		cv, err := coerceParameter(decl.Type, v)
		if err != nil {
			fe.Add("parameters."+name, "parameter %q %v", name, err)
			continue
		}
		out[name] = cv
	}
	if err := fe.Err(); err != nil {
		e := err.(*geoetl.Error)
		e.Message = "Workflow parameters are missing or invalid."
		return nil, nil, e
	}
	return out, ignored, nil
}

// runVars holds what {{...}} templates can refer to.
type runVars struct {
	params      map[string]any
	scheduledAt time.Time
	executionID string
}

func (rv *runVars) lookup(ns, name string) (any, error) {
	switch ns {
	case "parameters":
		v, ok := rv.params[name]
		if !ok {
			return nil, fmt.Errorf("{{parameters.%s}} has no value (the parameter is optional and has no default)", name)
		}
		return v, nil
	case "run":
		switch name {
		case "scheduledAt":
			return rv.scheduledAt.UTC().Format(time.RFC3339), nil
		case "date":
			return rv.scheduledAt.UTC().Format(time.DateOnly), nil
		case "executionId":
			return rv.executionID, nil
		}
	}
	return nil, fmt.Errorf("unknown template {{%s.%s}}", ns, name)
}

// substitute replaces the templates in a parameter value. A string that is
// exactly one template takes the value with its type (a number stays a
// number); templates inside longer text are replaced by the value's text.
func (rv *runVars) substitute(v any) (any, error) {
	switch x := v.(type) {
	case string:
		if !strings.Contains(x, "{{") {
			return x, nil
		}
		if m := templateRe.FindStringSubmatchIndex(x); m != nil && m[0] == 0 && m[1] == len(x) {
			return rv.lookup(x[m[2]:m[3]], x[m[4]:m[5]])
		}
		var err error
		out := templateRe.ReplaceAllStringFunc(x, func(t string) string {
			sub := templateRe.FindStringSubmatch(t)
			val, e := rv.lookup(sub[1], sub[2])
			if e != nil && err == nil {
				err = e
			}
			return feature.FormatValue(val)
		})
		return out, err
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			s, err := rv.substitute(e)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			s, err := rv.substitute(e)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	}
	return v, nil
}

// substituteSQL turns every template in SQL text into a bind placeholder
// ($1, $2, ...) and collects the values, so that no parameter value is
// ever spliced into SQL.
func (rv *runVars) substituteSQL(s string) (sqlText, error) {
	var args []any
	var err error
	out := templateRe.ReplaceAllStringFunc(s, func(t string) string {
		sub := templateRe.FindStringSubmatch(t)
		val, e := rv.lookup(sub[1], sub[2])
		if e != nil && err == nil {
			err = e
		}
		args = append(args, val)
		return "$" + strconv.Itoa(len(args))
	})
	return sqlText{SQL: out, Args: args}, err
}

// resolveNode substitutes and checks one node's parameters for a run.
func (rv *runVars) resolveNode(key string, n *Node, t *NodeType, fe geoetl.FieldErrors) params {
	vals := make(map[string]any, len(n.Parameters))
	for name, r := range n.Parameters {
		var v any
		if err := unmarshalJSON(r, &v); err != nil {
			fe.Add(key+".parameters."+name, "is not valid JSON")
			continue
		}
		v = normalizeNested(v)
		if spec := t.spec(name); spec != nil && spec.Type == "sql" {
			if s, ok := v.(string); ok {
				st, err := rv.substituteSQL(s)
				if err != nil {
					fe.Add(key+".parameters."+name, "%v", err)
					continue
				}
				vals[name] = st
				continue
			}
		}
		s, err := rv.substitute(v)
		if err != nil {
			fe.Add(key+".parameters."+name, "%v", err)
			continue
		}
		vals[name] = s
	}
	return t.checkValues(key, vals, true, fe)
}
