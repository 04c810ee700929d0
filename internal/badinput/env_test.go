package badinput

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/handlers"
	"github.com/geoetl/geoetl/netguard"
	"github.com/geoetl/geoetl/service"
)

// env is the API wired as `geoetl serve` wires it (real store, workflow
// engine with the default network policy, service, handlers; no
// scheduler), with two tenants: the one under attack and another whose
// data must never move.
type env struct {
	t      testing.TB
	store  geoetl.Store
	srv    *handlers.Server
	logs   *logBuffer
	tenant *geoetl.Tenant
	other  *geoetl.Tenant
	tokens map[geoetl.Role]string
	// Objects of the tenant, for routes with an id.
	schedule, workflow, execution string
	otherSchedule                 string
	// The last snapshot taken and the number of requests sent by then:
	// while no request has been sent since, it is still the data's state.
	last      string
	lastSends int
	sends     int
}

func newEnv(t testing.TB, store geoetl.Store) *env {
	t.Helper()
	ctx := context.Background()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
	engine, err := etl.New(etl.Config{DataDir: t.TempDir(), Network: netguard.Policy{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Service{Store: store, Engine: engine, Clock: clock.Real{}, Network: netguard.Policy{}, Logger: logger})
	e := &env{t: t, store: store, logs: logs, tokens: map[geoetl.Role]string{},
		srv: handlers.New(svc, handlers.Config{Logger: logger, Catalog: engine.Catalog(), PublicURL: "http://127.0.0.1"})}
	if e.tenant, err = svc.CreateTenant(ctx, "target"); err != nil {
		t.Fatal(err)
	}
	if e.other, err = svc.CreateTenant(ctx, "bystander"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []geoetl.Role{geoetl.RoleEditor, geoetl.RoleAdmin} {
		if _, e.tokens[r], err = svc.CreateTokenAsSystem(ctx, e.tenant.ID, "tok-"+string(r), r); err != nil {
			t.Fatal(err)
		}
	}
	// A user of the other tenant, whose name and email must not be
	// discoverable from this one.
	if _, err := svc.CreateUserAsSystem(ctx, &geoetl.User{TenantID: e.other.ID, Name: "bystander-user", Email: "bystander@example.org", Role: geoetl.RoleViewer}, "long enough pw"); err != nil {
		t.Fatal(err)
	}
	_, otherTok, err := svc.CreateTokenAsSystem(ctx, e.other.ID, "other", geoetl.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	e.workflow, e.schedule = e.seed(e.tokens[geoetl.RoleAdmin])
	_, e.otherSchedule = e.seed(otherTok)
	res := e.send(http.MethodPost, "/admin/api/geoetl/schedules/"+e.schedule+"/run-now", e.tokens[geoetl.RoleAdmin], []byte(`{}`), "")
	if res.Code != http.StatusAccepted {
		t.Fatalf("seed run-now: %d %s", res.Code, res.Body)
	}
	var ex struct{ ID string }
	_ = json.Unmarshal(res.Body.Bytes(), &ex)
	e.execution = ex.ID
	return e
}

// seed creates a workflow and a paused schedule through the API.
func (e *env) seed(token string) (workflowID, scheduleID string) {
	e.t.Helper()
	res := e.send(http.MethodPost, "/admin/api/geoetl/workflows", token, []byte(`{"name":"seed","definition":{"nodes":[]}}`), "")
	var w struct{ ID string }
	if res.Code != http.StatusCreated || json.Unmarshal(res.Body.Bytes(), &w) != nil {
		e.t.Fatalf("seed workflow: %d %s", res.Code, res.Body)
	}
	res = e.send(http.MethodPost, "/admin/api/geoetl/schedules", token,
		[]byte(fmt.Sprintf(`{"name":"seed","workflowId":%q,"cronExpression":"0 2 * * *","status":"paused"}`, w.ID)), "")
	var s struct{ ID string }
	if res.Code != http.StatusCreated || json.Unmarshal(res.Body.Bytes(), &s) != nil {
		e.t.Fatalf("seed schedule: %d %s", res.Code, res.Body)
	}
	return w.ID, s.ID
}

// send makes one request through the handler, as the holder of token.
func (e *env) send(method, target, token string, body []byte, contentType string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://127.0.0.1"+target, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	e.sends++
	e.srv.ServeHTTP(rec, req)
	return rec
}

// route is one API route from /openapi.json.
type route struct {
	method, path string // path with {name} parameters
	body         bool
	query        []param
}

type param struct {
	name   string
	schema map[string]any
}

// routes reads the API's route table from the OpenAPI document it serves
// (generated from the same table that registers the routes, so it cannot
// miss one).
func (e *env) routes() []route {
	e.t.Helper()
	res := e.send(http.MethodGet, "/openapi.json", "", nil, "")
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string         `json:"name"`
				In     string         `json:"in"`
				Schema map[string]any `json:"schema"`
			} `json:"parameters"`
			RequestBody any `json:"requestBody"`
		} `json:"paths"`
	}
	if res.Code != http.StatusOK || json.Unmarshal(res.Body.Bytes(), &doc) != nil {
		e.t.Fatalf("openapi.json: %d", res.Code)
	}
	var out []route
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/admin/api/geoetl") {
			continue
		}
		for method, op := range ops {
			r := route{method: strings.ToUpper(method), path: path, body: op.RequestBody != nil}
			for _, p := range op.Parameters {
				if p.In == "query" {
					r.query = append(r.query, param{p.Name, p.Schema})
				}
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	if len(out) < 30 {
		e.t.Fatalf("only %d API routes in openapi.json", len(out))
	}
	return out
}

// fill puts this tenant's objects into a route's path parameters.
func (e *env) fill(path string) string {
	return strings.NewReplacer("{id}", e.idFor(path), "{workflowId}", e.workflow, "{version}", "1").Replace(path)
}

func (e *env) idFor(path string) string {
	switch {
	case strings.Contains(path, "/executions/"):
		return e.execution
	case strings.Contains(path, "/workflows/"):
		return e.workflow
	case strings.Contains(path, "/users/"), strings.Contains(path, "/tokens/"):
		return geoetl.NewID()
	}
	return e.schedule
}

// current is the snapshot of the data now: the last one taken, if no
// request was sent since (nothing but requests changes the data), or a
// new one.
func (e *env) current() string {
	e.t.Helper()
	if e.last != "" && e.lastSends == e.sends {
		return e.last
	}
	return e.snapshot()
}

// snapshot is everything an attack could change, in both tenants:
// schedules (with versions and statuses), workflows, executions, users,
// tokens.
func (e *env) snapshot() string {
	e.t.Helper()
	defer func(sends int) { e.lastSends = sends }(e.sends)
	ctx := context.Background()
	var b strings.Builder
	for _, tn := range []*geoetl.Tenant{e.tenant, e.other} {
		scheds, _, _, err := e.store.FindSchedules(ctx, geoetl.ScheduleFilter{TenantID: tn.ID, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range scheds {
			fmt.Fprintf(&b, "s %s v%d %s %s %q\n", s.ID, s.Version, s.Status, s.CronExpression, s.Name)
		}
		wfs, _, _, err := e.store.FindWorkflows(ctx, geoetl.WorkflowFilter{TenantID: tn.ID, Page: geoetl.Page{Limit: geoetl.MaxPageLimit}})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, w := range wfs {
			fmt.Fprintf(&b, "w %s v%d %q\n", w.ID, w.Version, w.Name)
		}
		_, n, _, err := e.store.FindExecutions(ctx, geoetl.ExecutionFilter{TenantID: tn.ID, Page: geoetl.Page{Limit: 1}})
		if err != nil {
			e.t.Fatal(err)
		}
		users, err := e.store.ListUsers(ctx, tn.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		tokens, err := e.store.ListTokens(ctx, tn.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(&b, "executions %d users %d tokens %d\n", n, len(users), len(tokens))
	}
	e.last = b.String()
	return e.last
}

// logBuffer collects the server's error log: a panic recovered by the
// middleware or an internal error lands there.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
