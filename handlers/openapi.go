package handlers

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// openAPISchemas holds the component schemas, hand-written next to the
// route table; the routes and their parameters come from apiRoutes.
//
//go:embed openapi_schemas.json
var openAPISchemas []byte

// listSchemas are the list answers: each is {"items":[<item>],
// "nextCursor", "total"} of the named item schema.
var listSchemas = map[string]string{
	"ScheduleList":          "Schedule",
	"ExecutionList":         "Execution",
	"NodeRunList":           "NodeRun",
	"DeliveryList":          "Delivery",
	"WorkflowList":          "Workflow",
	"WorkflowVersionList":   "WorkflowVersion",
	"WorkflowParameterList": "WorkflowParameter",
	"ScheduleVersionList":   "ScheduleVersion",
	"AuditList":             "AuditEntry",
	"UserList":              "User",
	"TokenList":             "Token",
	"Catalog":               "NodeType",
}

// handleOpenAPI is GET /openapi.json.
func (s *Server) handleOpenAPI(c echo.Context) error {
	doc, err := s.openAPIDocument()
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, doc)
}

// openAPIDocument describes exactly the routes this server serves.
func (s *Server) openAPIDocument() (map[string]any, error) {
	var schemas map[string]any
	if err := json.Unmarshal(openAPISchemas, &schemas); err != nil {
		return nil, err
	}
	for name, item := range listSchemas {
		schemas[name] = listSchema(item)
	}
	paths := map[string]any{}
	for _, r := range apiRoutes() {
		if r.Path == "/metrics" && s.cfg.Metrics == nil {
			continue
		}
		item, _ := paths[r.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[r.Path] = item
		}
		item[strings.ToLower(r.Method)] = operation(r)
	}
	version := s.cfg.Version
	if version == "" {
		version = "dev"
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "GeoETL Scheduler API",
			"version":     version,
			"description": "Schedules, executions and workflows of one tenant, taken from the credentials. Errors are application/problem+json (RFC 9457). Lists take limit (default 50, max 500), cursor or offset and answer {items, nextCursor, total}.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearerAuth":    map[string]any{"type": "http", "scheme": "bearer", "description": "An API token (geo_…) from /tokens or `geoetl token create`."},
				"sessionCookie": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie, "description": "The console's session; state changes also need the X-CSRF-Token header or same-origin fetch metadata."},
			},
		},
	}, nil
}

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

// operation documents one route.
func operation(r apiRoute) map[string]any {
	op := map[string]any{
		"operationId": operationID(r),
		"summary":     r.Summary,
		"tags":        []string{r.Tag},
	}
	var params []any
	pathParams := pathParamRE.FindAllStringSubmatch(r.Path, -1)
	for _, m := range pathParams {
		schema := uuidSchema()
		if m[1] == "version" {
			schema = map[string]any{"type": "integer", "minimum": 1}
		}
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema})
	}
	for _, q := range r.Query {
		params = append(params, map[string]any{"name": q.Name, "in": "query", "required": false, "schema": q.Schema, "description": q.Doc})
	}
	if r.Method == http.MethodPut {
		params = append(params, map[string]any{"name": "If-Match", "in": "header", "required": false,
			"schema": map[string]any{"type": "string"}, "description": `The version the change is based on, as an entity tag ("4"); a stale one is 409.`})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if r.Body != "" {
		op["requestBody"] = map[string]any{
			"required": !r.BodyOptional,
			"content":  map[string]any{"application/json": map[string]any{"schema": ref(r.Body)}},
		}
	}
	responses := map[string]any{}
	ok := map[string]any{"description": http.StatusText(r.Status)}
	if r.Result != "" {
		mt := r.ResultType
		if mt == "" {
			mt = "application/json"
		}
		ok["content"] = map[string]any{mt: map[string]any{"schema": ref(r.Result)}}
	}
	if r.Location {
		ok["headers"] = map[string]any{"Location": map[string]any{"schema": map[string]any{"type": "string"}, "description": "Where the object can be read."}}
	}
	responses[strconv.Itoa(r.Status)] = ok
	for _, code := range errorStatuses(r, len(pathParams) > 0) {
		responses[strconv.Itoa(code)] = map[string]any{
			"description": http.StatusText(code),
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}},
		}
	}
	op["responses"] = responses
	if r.Role != "" {
		op["security"] = []any{map[string]any{"bearerAuth": []string{}}, map[string]any{"sessionCookie": []string{}}}
		op["x-required-role"] = string(r.Role)
	} else {
		op["security"] = []any{}
	}
	return op
}

// errorStatuses lists the error answers a route can give: every
// authenticated route 401 and 403, routes with ids 404, routes with input
// 400, routes with bodies 413, and what the route adds.
func errorStatuses(r apiRoute, hasIDs bool) []int {
	set := map[int]bool{}
	if r.Role != "" {
		set[401], set[403] = true, true
		set[500] = true
	}
	if hasIDs {
		set[404] = true
	}
	if len(r.Query) > 0 || r.Body != "" || r.Method == http.MethodPut {
		set[400] = true
	}
	if r.Body != "" {
		set[413] = true
	}
	for _, c := range r.Errors {
		set[c] = true
	}
	out := make([]int, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// operationID derives a stable id from the method and path:
// GET /admin/api/geoetl/schedules/{id}/next-runs is getSchedulesIdNextRuns.
func operationID(r apiRoute) string {
	p := strings.TrimPrefix(r.Path, APIPrefix)
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method))
	for _, part := range strings.FieldsFunc(p, func(c rune) bool { return c == '/' || c == '-' || c == '.' || c == '{' || c == '}' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func listSchema(item string) map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"items", "nextCursor", "total"},
		"properties": map[string]any{
			"items":      map[string]any{"type": "array", "items": ref(item)},
			"nextCursor": map[string]any{"type": []string{"string", "null"}, "description": "Pass as cursor for the next page; null on the last."},
			"total":      map[string]any{"type": "integer", "description": "How many items match, over all pages."},
		},
	}
}

func intSchema(min, max, def int) map[string]any {
	return map[string]any{"type": "integer", "minimum": min, "maximum": max, "default": def}
}

func strSchema() map[string]any  { return map[string]any{"type": "string"} }
func uuidSchema() map[string]any { return map[string]any{"type": "string", "format": "uuid"} }
func timeSchema() map[string]any { return map[string]any{"type": "string", "format": "date-time"} }

func enumSchema(values ...string) map[string]any {
	return map[string]any{"type": "string", "enum": values}
}
