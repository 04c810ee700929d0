package badinput

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
)

// Hostile values for path parameters: none is an id, so every route must
// answer 4xx (404 for an id that cannot exist) and change nothing.
var hostileIDs = []string{
	"../../../etc/passwd", "..%2f..%2fetc%2fpasswd", "1' OR '1'='1", "1; DROP TABLE schedules;--",
	"<script>alert(1)</script>", "\x00", "\x1b[31m", "\xff\xfe\xfd", strings.Repeat("a", 8000),
	"00000000-0000-0000-0000-00000000000G", "-1", "1e999",
}

// refusedBodies must be refused with 4xx by every route that takes a
// body, and change nothing.
var refusedBodies = []struct {
	name string
	body []byte
	want int // exact status expected, 0 for any 4xx
}{
	{"HugeBody", []byte(`{"name":"` + strings.Repeat("x", 2<<20) + `"}`), http.StatusRequestEntityTooLarge},
	{"DeepJSON", []byte(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)), 0},
	{"DeepObject", []byte(strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000)), 0},
	{"InvalidUTF8", []byte("{\"name\":\"\xff\xfe\xc3\x28\",\"cronExpression\":\"\xe2\x82\"}"), 0},
	{"NotJSON", []byte("<html><body>hello</body></html>"), 0},
	{"TruncatedJSON", []byte(`{"name":"a","cronExpression":"0 2 * *`), 0},
	{"ArrayInsteadOfObject", []byte(`[{"name":"a"}]`), 0},
	{"NumberInsteadOfObject", []byte(`1e400`), 0},
	{"TwoDocuments", []byte(`{"reason":"a"}{"reason":"b"}`), 0},
	// A key given twice: decoders differ on which one wins.
	{"DuplicateKeys", []byte(`{"name":"a","name":"b","reason":"a","reason":"b","cronExpression":"@daily","cronExpression":"@hourly","password":"long enough pw","password":"another one!"}`), 0},
	{"DuplicateNestedKeys", []byte(`{"parameterValues":{"x":{"y":1,"y":2}},"notificationConfig":{"notifyOnFailure":true,"notifyOnFailure":false},"definition":{"nodes":[],"nodes":[]}}`), 0},
}

// privateHostSpellings are hosts that resolvers or browsers read as a
// loopback or private address; saving a URL with one is refused.
var privateHostSpellings = []string{
	"LOCALHOST", "localhost.", "Api.LocalHost.", "2130706433", "127.1", "0x7f.1", "0177.0.0.1", "017700000001",
	"[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0", "10.1", "0xa9fea9fe", "１２７.０.０.１", "localhost.localdomain",
}

// fieldAttacks are objects with one hostile field, per body kind; each
// must be refused with 4xx where it is sent.
var fieldAttacks = map[string][]string{
	"schedule": {
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"webhookUrls":["http://169.254.169.254/latest/meta-data/"]}}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"webhookUrls":["http://10.0.0.1/hook"]}}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"slackWebhookUrl":"http://192.168.1.1/"}}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"teamsWebhookUrl":"http://[::1]/x"}}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"webhookUrls":["file:///etc/passwd"]}}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","timezone":"../../../../etc/localtime"}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * * ; rm -rf /"}`,
		`{"name":"x","workflowId":"' OR 1=1 --","cronExpression":"0 2 * * *"}`,
		`{"name":"` + strings.Repeat("n", 201) + `","workflowId":"%WF%","cronExpression":"0 2 * * *"}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","parameterValues":{"p":"` + strings.Repeat("v", 70<<10) + `"}}`,
		`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","tenantId":"%OTHER%"}`,
	},
	"workflow": {
		`{"name":"x","definition":{"nodes":[{"id":"s","type":"data_source.file","parameters":{"file_path":"../../../etc/passwd"}}]}}`,
		`{"name":"x","definition":{"nodes":[{"id":"s","type":"data_source.file","parameters":{"file_path":"/etc/passwd"}}]}}`,
		`{"name":"x","definition":{"nodes":[{"id":"o","type":"data_sink.geojson","parameters":{"output_path":"../../outside.geojson"}}]}}`,
		`{"name":"x","definition":{"nodes":[{"id":"s","type":"data_source.file","parameters":{"url":"http://169.254.169.254/latest/meta-data/"}}]}}`,
		`{"name":"x","definition":{"nodes":[{"id":"s","type":"data_source.file","parameters":{"url":"http://127.0.0.1:5432/"}}]}}`,
		`{"name":"x","definition":{"nodes":[{"id":"s","type":"data_source.wfs","parameters":{"url":"http://10.1.2.3/wfs","typename":"a"}}]}}`,
		`{"name":"x","definition":{"nodes":[{"id":"s","type":"no.such.node"}]}}`,
		`{"name":"x","definition":{"nodes":[{"id":"a","type":"control.wait","parameters":{"seconds":1}}],"edges":[{"from":"a","to":"a"}]}}`,
	},
	"user": {
		// Taken in the other tenant: the same neutral 409 as in this one.
		`{"name":"bystander-user","role":"viewer","password":"long enough pw"}`,
		`{"name":"fresh-name","email":"BYSTANDER@example.org","role":"viewer","password":"long enough pw"}`,
		`{"name":"bad\u0000name","role":"viewer","password":"long enough pw"}`,
	},
	"cron": {
		`{"cronExpression":"0 0 1,2W * *"}`,
		`{"cronExpression":"0 0 L-2W,1 * *"}`,
		`{"cronExpression":"0 0 1 */13 *"}`,
		`{"cronExpression":"0 0 30 2 *"}`,
		`{"cronExpression":"* * * * * * * * *"}`,
		`{"cronExpression":"\u0000\u0001\u0002"}`,
		`{"cronExpression":"0 2 * * *","timezone":"../../etc/passwd"}`,
		`{"cronExpression":"0 2 * * *","count":1000000000}`,
	},
}

// literalValues are legal text that must be stored and shown verbatim,
// never interpreted: accepted or refused, but never a 5xx, and what is
// stored reads back unchanged.
var literalValues = []string{
	"Robert'); DROP TABLE schedules;--", "1' OR '1'='1", `"; DELETE FROM executions; --`,
	"<script>alert(document.cookie)</script>", `<img src=x onerror="alert(1)">`, "{{.Env}} ${jndi:ldap://x}",
	"tab\tnew\nline\rbell\a", "\u202egnp.exe", "emoji 🗺️ zero\u200bwidth", "NUL\u0000byte",
}

// TestHostileInput_EveryRouteRefusesAndChangesNothing sends the corpus to
// every API route (read from the route table through /openapi.json) as an
// editor and as an admin, on both backends: hostile ids, bodies and
// fields get a problem+json 4xx and leave both tenants' data exactly as it
// was; nothing ever gets a 5xx.
func TestHostileInput_EveryRouteRefusesAndChangesNothing(t *testing.T) {
	t.Parallel()
	dbtest.EachParallel(t, func(t *testing.T, open func(t *testing.T) geoetl.Store) {
		// Each role attacks a database of its own, all at once.
		for _, role := range []geoetl.Role{geoetl.RoleEditor, geoetl.RoleAdmin} {
			t.Run(string(role), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, open(t))
				e.attack(t, role)
			})
		}
	})
}

// attack sends the whole corpus to every route as the holder of role's
// token.
func (e *env) attack(t *testing.T, role geoetl.Role) {
	t.Helper()
	routes := e.routes()
	sent := 0
	tok := e.tokens[role]
	for _, r := range routes {
		if strings.Contains(r.path, "{") {
			for _, id := range hostileIDs {
				p := r.path
				for _, name := range []string{"{id}", "{workflowId}", "{version}"} {
					p = strings.ReplaceAll(p, name, url.PathEscape(id))
				}
				e.refused(t, r, p, tok, bodyFor(r), 0, fmt.Sprintf("path id %q", trim(id)))
				sent++
			}
		}
		if r.body {
			for _, b := range refusedBodies {
				e.refused(t, r, e.fill(r.path), tok, b.body, b.want, b.name)
				sent++
			}
			for _, attack := range append(fieldAttacks[bodyKind(r)], hostAttacks(bodyKind(r))...) {
				body := strings.NewReplacer("%WF%", e.workflow, "%OTHER%", e.other.ID).Replace(attack)
				e.refused(t, r, e.fill(r.path), tok, []byte(body), 0, "field attack "+trim(body))
				sent++
			}
		}
		for _, q := range r.query {
			// Unencoded: Go's parser drops a pair with a semicolon,
			// which must not read as the parameter left out.
			e.refused(t, r, e.fill(r.path)+"?"+q.name+"=name;DROP%20TABLE%20schedules", tok, bodyFor(r), http.StatusBadRequest,
				fmt.Sprintf("query %s with a raw semicolon", q.name))
			sent++
			for _, v := range hostileQueryValues(q) {
				e.refused(t, r, e.fill(r.path)+"?"+q.name+"="+url.QueryEscape(v), tok, bodyFor(r), 0,
					fmt.Sprintf("query %s=%q", q.name, trim(v)))
				sent++
			}
		}
	}
	sent += e.literals(t, tok)
	if errs := e.logs.String(); strings.Contains(errs, "panic") {
		t.Errorf("the server logged a panic:\n%s", trim(errs))
	}
	t.Logf("%d hostile requests over %d routes", sent, len(routes))
}

// refused sends one hostile request and checks the answer is a problem
// document with a 4xx status (want, if set) and that nothing changed.
func (e *env) refused(t *testing.T, r route, target, token string, body []byte, want int, what string) {
	t.Helper()
	before := e.current()
	res := e.send(r.method, target, token, body, "")
	ok := res.Code >= 400 && res.Code < 500 && (want == 0 || res.Code == want)
	// Validation answers 200 with its verdict: a refusal all the same.
	if strings.HasSuffix(r.path, "/validate") && res.Code == http.StatusOK && strings.Contains(res.Body.String(), `"valid":false`) {
		ok = true
	}
	// Import reports per item: an answer that imported nothing refused it.
	if strings.HasSuffix(r.path, "/import") && res.Code == http.StatusOK && strings.Contains(res.Body.String(), `"created":0,"updated":0,`) {
		ok = true
	}
	if !ok {
		t.Errorf("%s %s (%s): %d %s, want a 4xx refusal", r.method, trim(target), what, res.Code, trim(res.Body.String()))
		return
	}
	if res.Code >= 400 {
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		if ct := res.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") ||
			json.Unmarshal(res.Body.Bytes(), &p) != nil || p.Status != res.Code || p.Title == "" {
			t.Errorf("%s %s (%s): %d answered %q %s, want a problem document", r.method, trim(target), what, res.Code, ct, trim(res.Body.String()))
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("%s %s (%s) was refused (%d) but changed data:\nbefore:\n%safter:\n%s", r.method, trim(target), what, res.Code, before, after)
	}
}

// literals creates and updates schedules and workflows named with each
// literal value and searches for it: never a 5xx, and what was accepted
// reads back byte for byte. It returns how many requests it sent.
func (e *env) literals(t *testing.T, token string) int {
	t.Helper()
	n := 0
	for _, v := range literalValues {
		js, _ := json.Marshal(v)
		for _, rq := range []struct{ method, path, body, field string }{
			{"POST", "/admin/api/geoetl/schedules", fmt.Sprintf(`{"name":%s,"description":%s,"tags":[%s],"workflowId":%q,"cronExpression":"0 2 * * *","status":"paused"}`, js, js, js, e.workflow), "name"},
			{"PUT", "/admin/api/geoetl/schedules/" + e.schedule, fmt.Sprintf(`{"description":%s}`, js), "description"},
			{"POST", "/admin/api/geoetl/workflows", fmt.Sprintf(`{"name":%s,"definition":{"nodes":[]}}`, js), "name"},
			{"POST", "/admin/api/geoetl/schedules/" + e.schedule + "/pause", fmt.Sprintf(`{"reason":%s}`, js), "statusReason"},
			{"GET", "/admin/api/geoetl/schedules?q=" + url.QueryEscape(v), "", ""},
			{"GET", "/admin/api/geoetl/schedules?tag=" + url.QueryEscape(v), "", ""},
		} {
			var body []byte
			if rq.body != "" {
				body = []byte(rq.body)
			}
			res := e.send(rq.method, rq.path, token, body, "")
			n++
			if res.Code >= 500 {
				t.Errorf("%s %s with %q: %d %s", rq.method, rq.path, v, res.Code, trim(res.Body.String()))
				continue
			}
			if res.Code >= 300 || rq.field == "" {
				continue
			}
			var got map[string]any
			if err := json.Unmarshal(res.Body.Bytes(), &got); err != nil {
				t.Errorf("%s %s: %d answered %s", rq.method, rq.path, res.Code, trim(res.Body.String()))
				continue
			}
			if s, _ := got[rq.field].(string); s != v {
				t.Errorf("%s %s: %s accepted as %q, read back as %q", rq.method, rq.path, rq.field, v, s)
			}
		}
	}
	return n
}

// hostileQueryValues are values a typed query parameter must refuse.
func hostileQueryValues(p param) []string {
	switch p.schema["type"] {
	case "integer", "number":
		return []string{"-1", "1e999", "99999999999999999999", "1;DROP TABLE schedules", "0x10"}
	}
	if _, ok := p.schema["enum"]; ok {
		return []string{"' OR 1=1--", "<script>", "ACTIVE\x00"}
	}
	switch p.schema["format"] {
	case "date-time":
		return []string{"yesterday", "2027-13-45T99:99:99Z", "0000-00-00", "' OR 1=1--"}
	case "uuid":
		return []string{"' OR 1=1--", "../../etc", "<script>"}
	}
	if p.name == "cursor" {
		return []string{"' OR 1=1--", "!!!!", strings.Repeat("A", 5000)}
	}
	return nil
}

// hostAttacks puts each private host spelling into every URL field of a
// body kind.
func hostAttacks(kind string) []string {
	var out []string
	for _, h := range privateHostSpellings {
		switch kind {
		case "schedule":
			out = append(out,
				`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"webhookUrls":["http://`+h+`/hook"]}}`,
				`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"slackWebhookUrl":"https://`+h+`/services/x"}}`,
				`{"name":"x","workflowId":"%WF%","cronExpression":"0 2 * * *","notificationConfig":{"teamsWebhookUrl":"https://`+h+`:8443/x"}}`)
		case "workflow":
			out = append(out, `{"name":"x","definition":{"nodes":[{"id":"s","type":"data_source.file","parameters":{"url":"http://`+h+`/data.geojson"}}]}}`)
		}
	}
	return out
}

// bodyKind names the body a route takes, for its field attacks.
func bodyKind(r route) string {
	switch {
	case r.path == "/admin/api/geoetl/users" || r.path == "/admin/api/geoetl/users/{id}":
		return "user"
	case strings.HasSuffix(r.path, "/cron/preview"):
		return "cron"
	case r.path == "/admin/api/geoetl/schedules" || r.path == "/admin/api/geoetl/schedules/{id}":
		return "schedule"
	case r.path == "/admin/api/geoetl/workflows" || r.path == "/admin/api/geoetl/workflows/{id}" || strings.HasSuffix(r.path, "/workflows/validate"):
		return "workflow"
	}
	return ""
}

// bodyFor is a harmless body for a route that takes one, so that hostile
// ids and queries are judged on their own.
func bodyFor(r route) []byte {
	if !r.body {
		return nil
	}
	return []byte(`{}`)
}

func trim(s string) string {
	if len(s) > 160 {
		return s[:160] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}
