package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/metrics"
	"github.com/geoetl/geoetl/service"
)

// documentedRoutes is the server's OpenAPI document as "METHOD path" keys.
func documentedRoutes(t *testing.T, s *Server) (map[string]bool, map[string]any) {
	t.Helper()
	doc, err := s.openAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip through JSON, as a client sees it.
	b, _ := json.Marshal(doc)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for path, item := range m["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			out[strings.ToUpper(method)+" "+path] = true
		}
	}
	return out, m
}

// servedRoutes are the API and operational routes echo serves.
func servedRoutes(s *Server) map[string]bool {
	out := map[string]bool{}
	for _, r := range s.Echo.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		if !strings.HasPrefix(r.Path, APIPrefix+"/") && r.Path != "/healthz" && r.Path != "/readyz" && r.Path != "/metrics" && r.Path != "/openapi.json" {
			continue // console pages are not part of the API
		}
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
			}
		}
		out[r.Method+" "+p] = true
	}
	return out
}

func TestOpenAPI_DescribesExactlyTheServedRoutes(t *testing.T) {
	t.Parallel()
	store := dbtest.SQLite(t)
	svc := service.New(service.Service{Store: store})
	for _, cfg := range []Config{{}, {Metrics: metrics.New().Handler()}} {
		s := New(svc, cfg)
		docd, _ := documentedRoutes(t, s)
		served := servedRoutes(s)
		var missing, extra []string
		for k := range served {
			if !docd[k] {
				missing = append(missing, k)
			}
		}
		for k := range docd {
			if !served[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 || len(extra) > 0 {
			t.Fatalf("metrics=%v: served but undocumented %v; documented but not served %v", cfg.Metrics != nil, missing, extra)
		}
		if cfg.Metrics != nil && !docd["GET /metrics"] {
			t.Fatal("/metrics is served but not documented")
		}
	}
}

func TestOpenAPI_IsServedPubliclyAsOpenAPI31(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		r := e.send(request{method: http.MethodGet, path: "/openapi.json"}).want(http.StatusOK)
		doc := r.object()
		if doc["openapi"] != "3.1.0" {
			t.Fatalf("openapi version %v", doc["openapi"])
		}
		paths := doc["paths"].(map[string]any)
		if _, ok := paths[APIPrefix+"/schedules/{id}/versions/{version}/restore"]; !ok {
			t.Fatal("the restore route is not documented")
		}
	})
}

// refsIn collects every $ref in a JSON value.
func refsIn(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "$ref" {
				out[val.(string)] = true
			}
			refsIn(val, out)
		}
	case []any:
		for _, val := range x {
			refsIn(val, out)
		}
	}
}

func TestOpenAPI_EveryReferenceResolvesAndOperationIDsAreUnique(t *testing.T) {
	t.Parallel()
	s := New(service.New(service.Service{Store: dbtest.SQLite(t)}), Config{Metrics: metrics.New().Handler()})
	_, doc := documentedRoutes(t, s)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	refs := map[string]bool{}
	refsIn(doc, refs)
	for r := range refs {
		name := strings.TrimPrefix(r, "#/components/schemas/")
		if _, ok := schemas[name]; !ok {
			t.Errorf("unresolved $ref %s", r)
		}
	}
	ids := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			id := op.(map[string]any)["operationId"].(string)
			if prev, dup := ids[id]; dup {
				t.Errorf("operationId %s used by %s and %s %s", id, prev, method, path)
			}
			ids[id] = method + " " + path
		}
	}
}

// jsonFields lists the JSON names of a struct's fields, following
// embedded structs as encoding/json does.
func jsonFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// schemaFields lists a schema's property names, through allOf.
func schemaFields(schemas map[string]any, name string) []string {
	s := schemas[name].(map[string]any)
	var out []string
	if all, ok := s["allOf"].([]any); ok {
		for _, part := range all {
			p := part.(map[string]any)
			if r, ok := p["$ref"].(string); ok {
				out = append(out, schemaFields(schemas, strings.TrimPrefix(r, "#/components/schemas/"))...)
				continue
			}
			for k := range p["properties"].(map[string]any) {
				out = append(out, k)
			}
		}
	} else {
		for k := range s["properties"].(map[string]any) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPI_AnswerSchemasMatchTheEncodedTypes(t *testing.T) {
	t.Parallel()
	s := New(service.New(service.Service{Store: dbtest.SQLite(t)}), Config{})
	_, doc := documentedRoutes(t, s)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	types := map[string]any{
		"Schedule": geoetl.Schedule{}, "NotificationConfig": geoetl.NotificationConfig{}, "Execution": geoetl.Execution{},
		"NodeRun": geoetl.NodeRun{}, "LogEntry": geoetl.LogEntry{}, "LogPage": logPage{}, "Delivery": geoetl.Delivery{},
		"ExecutionStats": geoetl.ExecutionStats{}, "ScheduleStats": service.ScheduleStats{}, "TenantStats": service.TenantStats{},
		"ScheduleVersion": service.ScheduleVersionInfo{}, "CronPreview": service.CronPreview{}, "Workflow": geoetl.Workflow{},
		"WorkflowVersion": geoetl.WorkflowVersion{}, "WorkflowParameter": geoetl.WorkflowParameter{},
		"ValidationResult": validationResult{}, "NodeType": etl.NodeType{}, "AuditEntry": geoetl.AuditEntry{},
		"Me": meAnswer{}, "User": geoetl.User{}, "Token": geoetl.APIToken{}, "NewToken": newToken{},
		"WebhookSecret": webhookSecretAnswer{}, "ImportResult": service.ImportResult{}, "ImportReport": importReport{},
		"NextRuns": nextRunsAnswer{}, "ScheduleExport": service.Export{}, "Problem": Problem{},
	}
	for name, v := range types {
		got, want := schemaFields(schemas, name), jsonFields(reflect.TypeOf(v))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("schema %s\n has %v\nwant %v", name, got, want)
		}
	}
	for _, r := range apiRoutes() {
		for _, n := range []string{r.Body, r.Result} {
			if _, ok := schemas[n]; n != "" && !ok {
				t.Errorf("%s %s names schema %s, which does not exist", r.Method, r.Path, n)
			}
		}
	}
}

func TestOperations_HealthReadinessMetrics(t *testing.T) {
	m := metrics.New()
	// Each backend's server reads its own readiness, since the two run
	// in parallel.
	var ready sync.Map
	cfg := Config{Metrics: m.Handler(), MetricsRecorder: m}
	eachBackend(t, cfg, func(t *testing.T, e *apiEnv) {
		e.srv.cfg.Ready = func(context.Context) error {
			if err, ok := ready.Load(e); ok {
				return err.(error)
			}
			return nil
		}
		h := e.send(request{method: http.MethodGet, path: "/healthz"}).want(http.StatusOK).object()
		if h["status"] != "ok" {
			t.Fatalf("healthz: %v", h)
		}
		e.send(request{method: http.MethodGet, path: "/readyz"}).want(http.StatusOK)
		ready.Store(e, errors.New("migrations pending"))
		r := e.send(request{method: http.MethodGet, path: "/readyz"}).want(http.StatusServiceUnavailable).object()
		ready.Delete(e)
		if r["reason"] != "migrations pending" {
			t.Fatalf("readyz: %v", r)
		}
		e.as(geoetl.RoleViewer).get("/schedules").want(http.StatusOK)
		mr := e.send(request{method: http.MethodGet, path: "/metrics"}).want(http.StatusOK)
		body := string(mr.Body)
		for _, want := range []string{"geoetl_http_requests_total{", `route="` + APIPrefix + `/schedules"`, "geoetl_executions_running", "geoetl_worker_queue_depth"} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
}

func TestOperations_MetricsAbsentWhenNotConfigured(t *testing.T) {
	t.Parallel()
	s := New(service.New(service.Service{Store: dbtest.SQLite(t)}), Config{})
	if servedRoutes(s)["GET /metrics"] {
		t.Fatal("/metrics registered without Config.Metrics")
	}
}
