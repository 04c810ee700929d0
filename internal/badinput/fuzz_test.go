package badinput

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
)

// A body target is one JSON body of the API and the routes that take it.
// The schedule object (create and update) is fuzzed in handlers
// (FuzzScheduleBodies), workflow definitions in etl (FuzzValidate) and
// cron expressions in cron (FuzzParse, FuzzNext); these are the others.
type bodyTarget struct {
	name   string
	routes func(e *env) []string // "METHOD path"
	seeds  []string
}

var bodyTargets = []bodyTarget{
	{"ScheduleImport", func(e *env) []string { return []string{"POST /admin/api/geoetl/schedules/import"} }, []string{
		`{"schedules":[{"name":"i","workflowId":"%WF%","cronExpression":"0 2 * * *"}]}`,
		`[{"name":"i","workflowName":"seed","cronExpression":"@daily","timezone":"Europe/Berlin"}]`,
		`{"schedules":[{"name":"i","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"webhookUrls":["https://x.example/…/****"]}}]}`,
		`{"schedules":null}`, `{"schedules":[null,1,"x",[]]}`,
	}},
	{"PauseRequest", func(e *env) []string { return []string{"POST /admin/api/geoetl/schedules/" + e.schedule + "/pause"} }, []string{
		`{"reason":"maintenance"}`, `{"reason":null}`, `{"reason":{"a":1}}`, `{}`, ``,
	}},
	{"RunNowRequest", func(e *env) []string { return []string{"POST /admin/api/geoetl/schedules/" + e.schedule + "/run-now"} }, []string{
		`{"parameterValues":{"region":"north"},"force":false}`, `{"force":"yes"}`, `{"parameterValues":[1,2]}`, `{}`,
	}},
	{"BackfillRequest", func(e *env) []string { return []string{"POST /admin/api/geoetl/schedules/" + e.schedule + "/backfill"} }, []string{
		`{"from":"2027-01-01T00:00:00Z","to":"2027-01-03T00:00:00Z"}`, `{"from":"0001-01-01T00:00:00Z","to":"9999-12-31T23:59:59Z"}`,
		`{"from":"2027-01-03T00:00:00Z","to":"2027-01-01T00:00:00Z"}`, `{"from":"yesterday","to":1}`,
	}},
	{"CronPreviewRequest", func(e *env) []string { return []string{"POST /admin/api/geoetl/cron/preview"} }, []string{
		`{"cronExpression":"0 2 * * MON-FRI","timezone":"Europe/Berlin","from":"2027-03-28T00:00:00Z","count":10}`,
		`{"cronExpression":"0 0 L-3 * *","count":0}`, `{"cronExpression":"@every_second","count":100}`, `{"cronExpression":"6#3 5L","timezone":"Local"}`,
	}},
	{"WorkflowInput", func(e *env) []string {
		return []string{"POST /admin/api/geoetl/workflows", "PUT /admin/api/geoetl/workflows/" + e.workflow, "POST /admin/api/geoetl/workflows/validate"}
	}, []string{
		`{"name":"w","definition":{"nodes":[{"id":"a","type":"control.wait","parameters":{"seconds":1}}]}}`,
		`{"name":"w","definition":{"metadata":{"name":"m"},"parameters":{"p":{"type":"string","defaultValue":"x"}},"nodes":[{"id":"s","type":"data_source.file","parameters":{"file_path":"{{parameters.p}}.geojson"}}],"edges":[]}}`,
		`{"name":"w","definition":{"nodes":[{"id":"a","type":"geoprocessing.filter","parameters":{"expression":"kind == \"a\" && id > 10"}}]}}`,
		`{"definition":"{\"nodes\":[]}"}`, `{"name":"w","definition":null,"version":-5}`,
	}},
	{"WorkflowRunRequest", func(e *env) []string { return []string{"POST /admin/api/geoetl/workflows/" + e.workflow + "/run"} }, []string{
		`{"parameterValues":{"date":"2027-01-01"}}`, `{"parameterValues":null}`, `{}`,
	}},
	{"UserInput", func(e *env) []string { return []string{"POST /admin/api/geoetl/users"} }, []string{
		`{"name":"ada","email":"ada@example.com","role":"editor","password":"correct horse"}`,
		`{"name":"a b","role":"root","password":"x"}`, `{"name":"long","role":"viewer","password":"` + strings.Repeat("p", 100) + `"}`, `{"name":"@admin","email":"not-an-email","role":"viewer","password":"12345678"}`,
	}},
	{"UserUpdate", func(e *env) []string { return []string{"PUT /admin/api/geoetl/users/" + e.user()} }, []string{
		`{"role":"viewer"}`, `{"disabled":true}`, `{"password":"short"}`, `{"email":"x@example.com","role":"admin"}`,
		`{"password":"` + strings.Repeat("p", 73) + `"}`,
	}},
	{"TokenInput", func(e *env) []string { return []string{"POST /admin/api/geoetl/tokens"} }, []string{
		`{"name":"ci","role":"editor"}`, `{"name":"","role":"admin"}`, `{"name":"x","role":"owner","expiresAt":"2000-01-01T00:00:00Z"}`,
	}},
}

// user returns the id of a user of the tenant the fuzzers may change.
func (e *env) user() string {
	e.t.Helper()
	res := e.send(http.MethodPost, "/admin/api/geoetl/users", e.tokens[geoetl.RoleAdmin],
		[]byte(`{"name":"fuzzed-`+geoetl.NewID()[:8]+`","role":"viewer","password":"a long enough password"}`), "")
	var u struct{ ID string }
	if res.Code != http.StatusCreated || json.Unmarshal(res.Body.Bytes(), &u) != nil {
		e.t.Fatalf("create user: %d %s", res.Code, res.Body)
	}
	return u.ID
}

// judge sends body to every route of the target as an admin and fails on
// a 5xx, on a 4xx that is not a problem document, or on a 2xx that is not
// JSON.
func (e *env) judge(t *testing.T, routes []string, body []byte) {
	t.Helper()
	body = []byte(strings.ReplaceAll(string(body), "%WF%", e.workflow))
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		res := e.send(method, path, e.tokens[geoetl.RoleAdmin], body, "")
		switch {
		case res.Code >= 500:
			t.Fatalf("%s with %q: %d %s", r, trim(string(body)), res.Code, trim(res.Body.String()))
		case res.Code >= 400:
			if !strings.HasPrefix(res.Header().Get("Content-Type"), "application/problem+json") {
				t.Fatalf("%s with %q: %d without a problem document: %s", r, trim(string(body)), res.Code, trim(res.Body.String()))
			}
		case !json.Valid(res.Body.Bytes()):
			t.Fatalf("%s with %q: %d with a body that is not JSON: %s", r, trim(string(body)), res.Code, trim(res.Body.String()))
		}
	}
}

// fuzzBody is the body of every Fuzz function here: a SQLite-backed API,
// the target's seeds, and judge on every input.
func fuzzBody(f *testing.F, name string) {
	var tgt bodyTarget
	for _, b := range bodyTargets {
		if b.name == name {
			tgt = b
		}
	}
	for _, s := range tgt.seeds {
		f.Add([]byte(s))
	}
	e := newEnv(f, dbtest.SQLite(f))
	routes := tgt.routes(e)
	f.Fuzz(func(t *testing.T, body []byte) {
		inner := *e
		inner.t = t
		inner.judge(t, routes, body)
	})
}

func FuzzScheduleImport(f *testing.F)     { fuzzBody(f, "ScheduleImport") }
func FuzzPauseRequest(f *testing.F)       { fuzzBody(f, "PauseRequest") }
func FuzzRunNowRequest(f *testing.F)      { fuzzBody(f, "RunNowRequest") }
func FuzzBackfillRequest(f *testing.F)    { fuzzBody(f, "BackfillRequest") }
func FuzzCronPreviewRequest(f *testing.F) { fuzzBody(f, "CronPreviewRequest") }
func FuzzWorkflowInput(f *testing.F)      { fuzzBody(f, "WorkflowInput") }
func FuzzWorkflowRunRequest(f *testing.F) { fuzzBody(f, "WorkflowRunRequest") }
func FuzzUserInput(f *testing.F)          { fuzzBody(f, "UserInput") }
func FuzzUserUpdate(f *testing.F)         { fuzzBody(f, "UserUpdate") }
func FuzzTokenInput(f *testing.F)         { fuzzBody(f, "TokenInput") }

// TestBodies_MutatedSeedsNeverAnswer5xx is the bounded fuzzing that runs
// in `make test`: for every body target, a fixed number of mutations of
// its seeds (bytes flipped, inserted and cut, hostile fragments spliced
// in), judged like the fuzz targets judge. `make fuzz` searches further
// with the coverage-guided fuzzer.
func TestBodies_MutatedSeedsNeverAnswer5xx(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.SQLite(t))
	n := 120
	if testing.Short() {
		n = 30
	}
	for _, tgt := range bodyTargets {
		t.Run(tgt.name, func(t *testing.T) {
			inner := *e
			inner.t = t
			routes := tgt.routes(&inner)
			r := rand.New(rand.NewPCG(11, uint64(len(tgt.name))))
			for i := range n {
				inner.judge(t, routes, mutate(r, []byte(tgt.seeds[i%len(tgt.seeds)])))
			}
		})
	}
}

// fragments are spliced into mutated bodies.
var fragments = []string{
	`"\u0000"`, `"\udc00"`, "\xff\xfe", `1e400`, `-0`, `null`, `[]`, `{}`, `"../../etc/passwd"`, `"' OR 1=1--"`,
	`"<script>"`, `"http://169.254.169.254/"`, `99999999999999999999999`, strings.Repeat(`[`, 200), `"` + strings.Repeat("x", 5000) + `"`,
}

func mutate(r *rand.Rand, b []byte) []byte {
	b = append([]byte(nil), b...)
	for range 1 + r.IntN(3) {
		if len(b) == 0 {
			b = append(b, fragments[r.IntN(len(fragments))]...)
			continue
		}
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0:
			b[i] = byte(r.IntN(256))
		case 1:
			b = append(b[:i], b[min(len(b), i+1+r.IntN(8)):]...)
		case 2:
			f := fragments[r.IntN(len(fragments))]
			b = append(b[:i], append([]byte(f), b[i:]...)...)
		case 3:
			// Replace a JSON value after a colon with a fragment.
			if j := strings.IndexByte(string(b[i:]), ':'); j >= 0 {
				at := i + j + 1
				end := at
				for end < len(b) && b[end] != ',' && b[end] != '}' {
					end++
				}
				b = append(b[:at], append([]byte(fragments[r.IntN(len(fragments))]), b[end:]...)...)
			}
		}
	}
	return b
}

// TestPasswords_LongerThanBcryptTakesAreRefusedWith400: bcrypt refuses
// passwords over 72 bytes; the API used to accept up to 256 and then fail
// with a 500 when hashing (found by TestBodies_MutatedSeedsNeverAnswer5xx).
func TestPasswords_LongerThanBcryptTakesAreRefusedWith400(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.SQLite(t))
	admin := e.tokens[geoetl.RoleAdmin]
	long := strings.Repeat("p", 73)
	for _, rq := range []struct{ method, path, body string }{
		{"POST", "/admin/api/geoetl/users", `{"name":"long","role":"viewer","password":"` + long + `"}`},
		{"PUT", "/admin/api/geoetl/users/" + e.user(), `{"password":"` + long + `"}`},
	} {
		res := e.send(rq.method, rq.path, admin, []byte(rq.body), "")
		if res.Code != http.StatusBadRequest || !strings.Contains(res.Body.String(), "72 bytes") {
			t.Errorf("%s %s with a 73-byte password: %d %s, want 400 naming the limit", rq.method, rq.path, res.Code, res.Body)
		}
	}
	ok := strings.Repeat("p", 72)
	if res := e.send("POST", "/admin/api/geoetl/users", admin, []byte(`{"name":"longest","role":"viewer","password":"`+ok+`"}`), ""); res.Code != http.StatusCreated {
		t.Errorf("a 72-byte password: %d %s, want 201", res.Code, res.Body)
	}
}
