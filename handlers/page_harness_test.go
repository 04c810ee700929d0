package handlers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/service"
)

// consoleEnv is the console served on loopback by the real handlers on a
// real SQLite store, with users of each role in one tenant and a second
// tenant whose objects must stay invisible.
type consoleEnv struct {
	t       testing.TB
	store   geoetl.Store
	svc     *service.Service
	srv     *Server
	http    *httptest.Server
	events  *eventHub
	logs    *syncBuffer
	tenant  string
	other   string
	admin   geoetl.Principal
	dataDir string
}

// consolePassword is every test user's password.
const consolePassword = "correct horse battery"

// consoleOptions change the environment before it starts.
type consoleOptions struct {
	scheduler service.Scheduler
	engine    geoetl.WorkflowEngine
	dataDir   string
	noEvents  bool
	events    EventSource
	store     geoetl.Store
}

func newConsoleEnv(t testing.TB) *consoleEnv { return newConsoleEnvWith(t, consoleOptions{}) }

func newConsoleEnvWith(t testing.TB, o consoleOptions) *consoleEnv {
	t.Helper()
	store := o.store
	if store == nil {
		store = dbtest.SQLite(t)
	}
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	eng := o.engine
	if eng == nil {
		e, err := etl.New(etl.Config{DataDir: o.dataDir})
		if err != nil {
			t.Fatalf("etl engine: %v", err)
		}
		eng = e
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := service.New(service.Service{Store: store, Engine: eng, Scheduler: o.scheduler, Logger: logger})
	env := &consoleEnv{t: t, store: store, svc: svc, logs: logs, dataDir: o.dataDir}
	cfg := Config{Logger: logger, Catalog: catalogOf(eng)}
	switch {
	case o.events != nil:
		cfg.Events = o.events
	case !o.noEvents:
		env.events = newEventHub()
		cfg.Events = env.events
	}
	env.srv = New(svc, cfg)
	ctx := context.Background()
	for i, name := range []string{"acme", "globex"} {
		tn, err := svc.CreateTenant(ctx, name)
		if err != nil {
			t.Fatalf("create tenant: %v", err)
		}
		if i == 1 {
			env.other = tn.ID
			env.addUser("globexadmin", tn.ID, geoetl.RoleAdmin)
			continue
		}
		env.tenant = tn.ID
		u := env.addUser("admin", tn.ID, geoetl.RoleAdmin)
		env.admin = geoetl.Principal{TenantID: tn.ID, ActorID: u.ID, Actor: u.Name, Role: u.Role, UserID: u.ID}
		env.addUser("editor", tn.ID, geoetl.RoleEditor)
		env.addUser("viewer", tn.ID, geoetl.RoleViewer)
	}
	env.http = httptest.NewServer(env.srv)
	t.Cleanup(env.http.Close)
	t.Cleanup(func() {
		if l := logs.String(); strings.Contains(l, "panic while serving") || strings.Contains(l, "request failed") {
			t.Errorf("the server logged a fault:\n%s", l)
		}
	})
	return env
}

func catalogOf(eng geoetl.WorkflowEngine) any {
	if e, ok := eng.(*etl.Engine); ok {
		return e.Catalog()
	}
	return nil
}

// consoleHash is consolePassword hashed at bcrypt's lowest cost, made
// once: the default cost would spend most of each test hashing.
var consoleHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

// addUser stores a user with consolePassword directly, as the service
// would but with the cheap hash.
func (env *consoleEnv) addUser(name, tenantID string, role geoetl.Role) *geoetl.User {
	env.t.Helper()
	now := time.Now().UTC()
	u := &geoetl.User{ID: geoetl.NewID(), TenantID: tenantID, Name: name, Email: name + "@example.com", Role: role, PasswordHash: consoleHash(), CreatedAt: now, UpdatedAt: now}
	if err := env.store.CreateUser(context.Background(), u); err != nil {
		env.t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

// workflow creates a workflow in our tenant from a definition.
func (env *consoleEnv) workflow(name, definition string) *geoetl.Workflow {
	env.t.Helper()
	w, err := env.svc.CreateWorkflow(context.Background(), env.admin, service.WorkflowInput{Name: &name, Definition: json.RawMessage(definition)})
	if err != nil {
		env.t.Fatalf("create workflow: %v", err)
	}
	return w
}

// schedule creates a schedule of w in our tenant.
func (env *consoleEnv) schedule(name, cron string, w *geoetl.Workflow) *geoetl.Schedule {
	env.t.Helper()
	sc, err := env.svc.CreateSchedule(context.Background(), env.admin, geoetl.ScheduleUpdate{Name: &name, CronExpression: &cron, WorkflowID: &w.ID})
	if err != nil {
		env.t.Fatalf("create schedule: %v", err)
	}
	return sc
}

// paramWorkflow declares a string parameter "region" and an integer
// "limit"; it reads a file that need not exist (the tests do not run it).
const paramWorkflow = `{"metadata":{"name":"p"},"parameters":{"region":{"type":"string","defaultValue":"north"},"limit":{"type":"integer","required":false}},
 "nodes":[{"id":"src","type":"data_source.file","parameters":{"file_path":"in/{{parameters.region}}.geojson"}},
          {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"out/x.geojson"}}],
 "edges":[{"from":"src","to":"out"}]}`

// browser is a client with its own cookie jar, like one browser tab.
type browser struct {
	env    *consoleEnv
	client *http.Client
}

func (env *consoleEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{env: env, client: c}
}

// signedIn returns a browser signed in as the named user.
func (env *consoleEnv) signedIn(user string) *browser {
	env.t.Helper()
	b := env.browser()
	res := b.post("/login", url.Values{"login": {user}, "password": {consolePassword}}, nil)
	if res.Code != http.StatusSeeOther {
		env.t.Fatalf("sign in as %s: status %d: %s", user, res.Code, res.Body)
	}
	return b
}

// pageResponse is one answer, with its body as text.
type pageResponse struct {
	t      testing.TB
	Code   int
	Header http.Header
	Body   string
}

func (r *pageResponse) want(code int) *pageResponse {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("status %d, want %d; body:\n%s", r.Code, code, r.Body)
	}
	return r
}

// has fails unless the body contains every string.
func (r *pageResponse) has(subs ...string) *pageResponse {
	r.t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.Body, s) {
			r.t.Fatalf("body lacks %q:\n%s", s, r.Body)
		}
	}
	return r
}

// lacks fails if the body contains any of the strings.
func (r *pageResponse) lacks(subs ...string) *pageResponse {
	r.t.Helper()
	for _, s := range subs {
		if strings.Contains(r.Body, s) {
			r.t.Fatalf("body has %q:\n%s", s, r.Body)
		}
	}
	return r
}

// isFullPage reports whether the answer is a whole document.
func (r *pageResponse) isFullPage() bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Body)), "<!doctype html>")
}

// htmx are the headers htmx sends for a request aimed at target.
func htmx(target string) http.Header {
	h := http.Header{"Hx-Request": {"true"}}
	if target != "" {
		h.Set("HX-Target", target)
	}
	return h
}

func (b *browser) do(method, path string, form url.Values, h http.Header) *pageResponse {
	b.env.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.env.http.URL+path, body)
	if err != nil {
		b.env.t.Fatalf("request: %v", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.env.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := &pageResponse{t: b.env.t, Code: res.StatusCode, Header: res.Header, Body: string(data)}
	if out.Code >= 500 {
		b.env.t.Fatalf("%s %s answered %d:\n%s", method, path, out.Code, out.Body)
	}
	return out
}

// get fetches a page.
func (b *browser) get(path string, h http.Header) *pageResponse {
	b.env.t.Helper()
	return b.do(http.MethodGet, path, nil, h)
}

// post submits a form with the CSRF token, as the page's forms do. Go's
// client sends no fetch metadata, so echo checks the token.
func (b *browser) post(path string, form url.Values, h http.Header) *pageResponse {
	b.env.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf())
	}
	return b.do(http.MethodPost, path, form, h)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the token the pages embed, fetching a page for it first
// when the browser has none yet.
func (b *browser) csrf() string {
	b.env.t.Helper()
	u, _ := url.Parse(b.env.http.URL)
	for _, ck := range b.client.Jar.Cookies(u) {
		if ck.Name == "geoetl_csrf" {
			return ck.Value
		}
	}
	res := b.get("/login", nil)
	m := csrfField.FindStringSubmatch(res.Body)
	if m == nil {
		b.env.t.Fatalf("no CSRF token in the sign-in page:\n%s", res.Body)
	}
	return m[1]
}

// eventHub is an in-process EventSource: what the scheduler publishes
// reaches every subscriber of the tenant.
type eventHub struct {
	mu   sync.Mutex
	subs map[chan geoetl.ExecutionEvent]string
	// subscribed is signalled on each new subscription, so tests can wait
	// for a stream to be listening instead of sleeping.
	subscribed chan struct{}
}

func newEventHub() *eventHub {
	return &eventHub{subs: map[chan geoetl.ExecutionEvent]string{}, subscribed: make(chan struct{}, 16)}
}

func (h *eventHub) Subscribe(tenantID string) (<-chan geoetl.ExecutionEvent, func()) {
	ch := make(chan geoetl.ExecutionEvent, 16)
	h.mu.Lock()
	h.subs[ch] = tenantID
	h.mu.Unlock()
	select {
	case h.subscribed <- struct{}{}:
	default:
	}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, ch)
			h.mu.Unlock()
		})
	}
}

func (h *eventHub) publish(ev geoetl.ExecutionEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, tenant := range h.subs {
		if tenant == ev.TenantID {
			select {
			case ch <- ev:
			default:
			}
		}
	}
}
