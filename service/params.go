package service

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/geoetl/geoetl"
)

// CheckParameterValues checks values against the parameters a workflow
// declares: every name must be declared, every required parameter without
// a default must have a value, and each value must have the declared type.
// A value may be a string holding a template ("{{run.date}}"), which is
// only checked when the run substitutes it.
func CheckParameterValues(declared []geoetl.WorkflowParameter, values map[string]any, field string) error {
	fe := geoetl.FieldErrors{}
	byName := map[string]geoetl.WorkflowParameter{}
	for _, p := range declared {
		byName[p.Name] = p
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p, ok := byName[k]
		if !ok {
			fe.Add(field+"."+k, "the workflow declares no parameter %q", k)
			continue
		}
		if msg := typeProblem(p.Type, values[k]); msg != "" {
			fe.Add(field+"."+k, "%s", msg)
		}
	}
	for _, p := range declared {
		if _, ok := values[p.Name]; !ok && p.Required && p.DefaultValue == nil {
			fe.Add(field+"."+p.Name, "is required by the workflow")
		}
	}
	return fe.Err()
}

func typeProblem(typ string, v any) string {
	if s, ok := v.(string); ok && len(s) > 4 && s[0] == '{' && s[1] == '{' {
		return "" // a template, checked at run time
	}
	switch typ {
	case "", "any":
		return ""
	case "string":
		if _, ok := v.(string); !ok {
			return "must be a string"
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return "must be a number"
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return "must be an integer"
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return "must be true or false"
		}
	case "date":
		s, ok := v.(string)
		if _, err := time.Parse("2006-01-02", s); !ok || err != nil {
			return "must be a date (YYYY-MM-DD)"
		}
	case "datetime":
		s, ok := v.(string)
		if _, err := time.Parse(time.RFC3339, s); !ok || err != nil {
			return "must be an RFC 3339 date and time"
		}
	}
	return ""
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode stored version: %w", err)
	}
	return nil
}

// maskSnapshot masks the webhook URLs inside a stored schedule snapshot.
func maskSnapshot(b json.RawMessage) json.RawMessage {
	var sc geoetl.Schedule
	if err := json.Unmarshal(b, &sc); err != nil {
		return b
	}
	out, err := json.Marshal(MaskedSchedule(&sc))
	if err != nil {
		return b
	}
	return out
}
