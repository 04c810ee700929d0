package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/service"
)

// apiEnv is a server on a real store with two tenants, each with a token
// per role, for HTTP tests through echo.
type apiEnv struct {
	t      testing.TB
	store  geoetl.Store
	svc    *service.Service
	srv    *Server
	logs   *syncBuffer
	tenant string // the tenant the tests act in
	other  string // a second tenant, whose objects must stay invisible
	// tokens[tenantID][role] is a bearer secret.
	tokens map[string]map[geoetl.Role]string
}

// syncBuffer collects the server's log lines; the recovery middleware
// logs panics there, which failIfPanicked turns into test failures.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newAPIEnv builds the server with cfg (Logger is replaced by a capturing
// one) on store.
func newAPIEnv(t testing.TB, store geoetl.Store, cfg Config) *apiEnv {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := service.New(service.Service{Store: store, Engine: testEngine(t), Logger: logger})
	cfg.Logger = logger
	e := &apiEnv{t: t, store: store, svc: svc, srv: New(svc, cfg), logs: logs, tokens: map[string]map[geoetl.Role]string{}}
	ctx := context.Background()
	for i, name := range []string{"acme", "globex"} {
		tn, err := svc.CreateTenant(ctx, name)
		if err != nil {
			t.Fatalf("create tenant: %v", err)
		}
		if i == 0 {
			e.tenant = tn.ID
		} else {
			e.other = tn.ID
		}
		e.tokens[tn.ID] = map[geoetl.Role]string{}
		for _, r := range []geoetl.Role{geoetl.RoleViewer, geoetl.RoleEditor, geoetl.RoleAdmin} {
			_, secret, err := svc.CreateTokenAsSystem(ctx, tn.ID, name+"-"+string(r), r)
			if err != nil {
				t.Fatalf("create token: %v", err)
			}
			e.tokens[tn.ID][r] = secret
		}
	}
	t.Cleanup(e.failIfPanicked)
	return e
}

func (e *apiEnv) failIfPanicked() {
	// A 500 answer already fails the request's test; a panic is also
	// looked for in the log, in case something answered it differently.
	if l := e.logs.String(); strings.Contains(l, "panic while serving") {
		e.t.Errorf("the server logged a fault:\n%s", l)
	}
}

// token returns the bearer secret of a role in our tenant.
func (e *apiEnv) token(r geoetl.Role) string { return e.tokens[e.tenant][r] }

// apiResponse is a recorded answer.
type apiResponse struct {
	t      testing.TB
	Code   int
	Header http.Header
	Body   []byte
}

// decode reads the JSON body into v.
func (r *apiResponse) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// object decodes the body as a JSON object.
func (r *apiResponse) object() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.decode(&m)
	return m
}

// problem decodes a problem document, checking its media type.
func (r *apiResponse) problem() Problem {
	r.t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p Problem
	r.decode(&p)
	if p.Status != r.Code {
		r.t.Fatalf("problem status %d differs from HTTP status %d", p.Status, r.Code)
	}
	return p
}

// want fails unless the status is code.
func (r *apiResponse) want(code int) *apiResponse {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("status %d, want %d; body %s", r.Code, code, r.Body)
	}
	return r
}

// wantField fails unless the answer is 400 naming field.
func (r *apiResponse) wantField(field string) Problem {
	r.t.Helper()
	r.want(http.StatusBadRequest)
	p := r.problem()
	if len(p.Errors[field]) == 0 {
		r.t.Fatalf("no error for field %q in %s", field, r.Body)
	}
	return p
}

// request is one call to the server.
type request struct {
	method, path string
	token        string
	body         any // string, []byte or a value to encode as JSON
	header       http.Header
}

// send performs the request through echo. A 500 always fails the test:
// nothing a client sends may cause one.
func (e *apiEnv) send(rq request) *apiResponse {
	e.t.Helper()
	var body io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	req := httptest.NewRequest(rq.method, rq.path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, vs := range rq.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	res := &apiResponse{t: e.t, Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if res.Code >= 500 && res.Code != http.StatusServiceUnavailable {
		e.t.Fatalf("%s %s answered %d: %s", rq.method, rq.path, res.Code, res.Body)
	}
	return res
}

// as returns a caller with one role of our tenant.
func (e *apiEnv) as(r geoetl.Role) caller { return caller{e: e, token: e.token(r)} }

// caller sends requests with one token.
type caller struct {
	e     *apiEnv
	token string
}

func (c caller) get(path string) *apiResponse {
	c.e.t.Helper()
	return c.e.send(request{method: http.MethodGet, path: api(path), token: c.token})
}

func (c caller) post(path string, body any) *apiResponse {
	c.e.t.Helper()
	return c.e.send(request{method: http.MethodPost, path: api(path), token: c.token, body: body})
}

func (c caller) put(path string, body any) *apiResponse {
	c.e.t.Helper()
	return c.e.send(request{method: http.MethodPut, path: api(path), token: c.token, body: body})
}

func (c caller) delete(path string) *apiResponse {
	c.e.t.Helper()
	return c.e.send(request{method: http.MethodDelete, path: api(path), token: c.token})
}

// api prefixes a path with the API's root.
func api(p string) string { return APIPrefix + p }

// sampleDefinition is a valid workflow without nodes that declares one
// optional parameter with a default and one optional integer.
const sampleDefinition = `{"metadata":{"name":"Sample","description":"","tags":[]},
 "parameters":{"region":{"type":"string","defaultValue":"north","required":false},"limit":{"type":"integer","required":false}},
 "nodes":[],"edges":[]}`

// createWorkflow makes a workflow in our tenant through the API.
func (e *apiEnv) createWorkflow(name string) string {
	e.t.Helper()
	r := e.as(geoetl.RoleEditor).post("/workflows", map[string]any{"name": name, "definition": json.RawMessage(sampleDefinition)}).want(http.StatusCreated)
	return r.object()["id"].(string)
}

// createSchedule makes a schedule in our tenant through the API; extra
// fields override the defaults.
func (e *apiEnv) createSchedule(name, workflowID string, extra map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"name": name, "workflowId": workflowID, "cronExpression": "0 2 * * *"}
	for k, v := range extra {
		body[k] = v
	}
	return e.as(geoetl.RoleEditor).post("/schedules", body).want(http.StatusCreated).object()
}

// inOther creates a workflow and schedule in the other tenant directly
// through the service, returning their ids.
func (e *apiEnv) inOther() (workflowID, scheduleID string) {
	e.t.Helper()
	ctx := context.Background()
	p := geoetl.Principal{TenantID: e.other, Actor: "test", ActorID: "test", Role: geoetl.RoleAdmin}
	name := "Other workflow"
	w, err := e.svc.CreateWorkflow(ctx, p, service.WorkflowInput{Name: &name, Definition: json.RawMessage(sampleDefinition)})
	if err != nil {
		e.t.Fatalf("other workflow: %v", err)
	}
	sn, cr := "Other schedule", "*/5 * * * *"
	sc, err := e.svc.CreateSchedule(ctx, p, geoetl.ScheduleUpdate{Name: &sn, WorkflowID: &w.ID, CronExpression: &cr})
	if err != nil {
		e.t.Fatalf("other schedule: %v", err)
	}
	return w.ID, sc.ID
}

// testEngine is the real workflow engine on a throw-away data folder, so
// definitions are validated as in production.
func testEngine(t testing.TB) geoetl.WorkflowEngine {
	t.Helper()
	eng, err := etl.New(etl.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("etl engine: %v", err)
	}
	return eng
}

// eachBackend runs body against a fresh server on SQLite and on
// PostgreSQL (skipped when PostgreSQL is unreachable outside CI). The runs
// are parallel subtests, and so is the test that calls it: each has its
// own store and server, and most of their time is spent waiting for the
// database.
func eachBackend(t *testing.T, cfg Config, body func(t *testing.T, e *apiEnv)) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, open func(t *testing.T) geoetl.Store) {
		t.Parallel()
		body(t, newAPIEnv(t, open(t), cfg))
	})
}
