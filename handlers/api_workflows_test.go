package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl"
)

func TestWorkflows_CRUDInBothShapes(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		ed := e.as(geoetl.RoleEditor)
		// A bare Honua definition takes its name from metadata.
		r := ed.post("/workflows", sampleDefinition).want(http.StatusCreated)
		w := r.object()
		id := w["id"].(string)
		if w["name"] != "Sample" || w["version"] != 1.0 || r.Header.Get("Location") != api("/workflows/"+id) {
			t.Fatalf("created from a bare definition: %v", w)
		}
		if _, ok := w["definition"].(map[string]any)["nodes"]; !ok {
			t.Fatalf("definition not kept: %v", w["definition"])
		}
		ed.post("/workflows", sampleDefinition).want(http.StatusConflict)
		got := ed.get("/workflows/" + id).want(http.StatusOK)
		if got.Header.Get("ETag") != `"1"` {
			t.Errorf("ETag %q", got.Header.Get("ETag"))
		}
		up := ed.put("/workflows/"+id, map[string]any{"description": "now described", "version": 1}).want(http.StatusOK).object()
		if up["description"] != "now described" || up["name"] != "Sample" || up["version"] != 2.0 {
			t.Fatalf("updated: %v", up)
		}
		ed.put("/workflows/"+id, map[string]any{"description": "stale", "version": 1}).want(http.StatusConflict)
		ed.put("/workflows/"+id, map[string]any{"name": 3}).wantField("name")
		ed.put("/workflows/"+id, map[string]any{"definition": "nodes"}).wantField("definition")
		ed.put("/workflows/"+id, map[string]any{"tenantId": e.other}).want(http.StatusForbidden)
		var vs listAnswer
		ed.get("/workflows/" + id + "/versions").want(http.StatusOK).decode(&vs)
		if vs.Total != 2 {
			t.Fatalf("versions: %+v", vs)
		}
		var ps struct {
			Items []geoetl.WorkflowParameter `json:"items"`
		}
		ed.get("/workflows/" + id + "/parameters").want(http.StatusOK).decode(&ps)
		if len(ps.Items) != 2 {
			t.Fatalf("parameters: %+v", ps)
		}
		var list listAnswer
		ed.get("/workflows?q=sAmP").want(http.StatusOK).decode(&list)
		if list.Total != 1 {
			t.Fatalf("search: %+v", list)
		}
		ed.get("/workflows?limit=0").wantField("limit")
		ed.delete("/workflows/" + id).want(http.StatusNoContent)
		ed.get("/workflows/" + id).want(http.StatusNotFound)
	})
}

func TestWorkflows_InvalidDefinitionsNameTheStep(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		ed := e.as(geoetl.RoleEditor)
		bad := `{"name":"Bad","definition":{"nodes":[{"id":"a","type":"no.such_node"}],"edges":[]}}`
		p := ed.post("/workflows", bad).want(http.StatusBadRequest).problem()
		found := false
		for k := range p.Errors {
			if strings.HasPrefix(k, "definition.nodes[a]") {
				found = true
			}
		}
		if !found {
			t.Fatalf("errors do not name the step: %v", p.Errors)
		}
		ed.post("/workflows", `{"name":"No definition"}`).wantField("definition")
		ed.post("/workflows", `{"definition":{"nodes":[]}}`).wantField("name")
		v := e.as(geoetl.RoleViewer)
		res := v.post("/workflows/validate", sampleDefinition).want(http.StatusOK).object()
		if res["valid"] != true || len(res["parameters"].([]any)) != 2 {
			t.Fatalf("validate: %v", res)
		}
		vp := v.post("/workflows/validate", `{"nodes":[{"id":"a","type":"no.such_node"}]}`).want(http.StatusBadRequest).problem()
		if len(vp.Errors) == 0 {
			t.Fatalf("validate answer names nothing: %+v", vp)
		}
	})
}

func TestWorkflows_DeleteInUseIsConflictUnlessForced(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		sid := e.createSchedule("S", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		ed.delete("/workflows/" + wf).want(http.StatusConflict).problem()
		e.send(request{method: http.MethodDelete, path: api("/workflows/" + wf + "?force=maybe"), token: e.token(geoetl.RoleEditor)}).wantField("force")
		e.send(request{method: http.MethodDelete, path: api("/workflows/" + wf + "?force=true"), token: e.token(geoetl.RoleEditor)}).want(http.StatusNoContent)
		sc := ed.get("/schedules/" + sid).want(http.StatusOK).object()
		if sc["status"] != "error" || sc["statusReason"] == nil || sc["nextRunAt"] != nil {
			t.Fatalf("schedule of a deleted workflow: %v", sc)
		}
		// It can be renamed and paused, but not run or resumed, until it
		// names a workflow again.
		ed.put("/schedules/"+sid, map[string]any{"name": "Renamed"}).want(http.StatusOK)
		ed.post("/schedules/"+sid+"/run-now", nil).want(http.StatusConflict)
		ed.post("/schedules/"+sid+"/resume", nil).want(http.StatusConflict)
		other := e.createWorkflow("Other")
		ed.put("/schedules/"+sid, map[string]any{"workflowId": other, "status": "active"}).want(http.StatusOK)
	})
}

func TestWorkflows_RunAndCatalog(t *testing.T) {
	eng, err := etl.New(etl.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	eachBackend(t, Config{Catalog: eng.Catalog()}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		ed := e.as(geoetl.RoleEditor)
		ex := ed.post("/workflows/"+wf+"/run", map[string]any{"parameterValues": map[string]any{"region": "east"}}).want(http.StatusAccepted).object()
		if ex["scheduleId"] != nil || ex["status"] != "pending" || ex["trigger"] != "manual" {
			t.Fatalf("ad hoc run: %v", ex)
		}
		ed.post("/workflows/"+wf+"/run", map[string]any{"parameterValues": map[string]any{"limit": true}}).wantField("parameterValues.limit")
		ed.post("/workflows/"+geoetl.NewID()+"/run", nil).want(http.StatusNotFound)
		var cat struct {
			Items []map[string]any `json:"items"`
			Total int              `json:"total"`
		}
		e.as(geoetl.RoleViewer).get("/workflows/catalog").want(http.StatusOK).decode(&cat)
		types := map[string]bool{}
		for _, it := range cat.Items {
			types[it["type"].(string)] = true
		}
		for _, want := range []string{"data_source.file", "geoprocessing.reproject", "data_sink.geopackage", "control.wait"} {
			if !types[want] {
				t.Errorf("catalog lacks %s", want)
			}
		}
		if cat.Total != len(cat.Items) {
			t.Errorf("total %d for %d items", cat.Total, len(cat.Items))
		}
	})
}

func TestWorkflowsCatalog_WithoutEngineIs503(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		e.as(geoetl.RoleViewer).get("/workflows/catalog").want(http.StatusServiceUnavailable).problem()
	})
}

func TestCronPreview(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		v := e.as(geoetl.RoleViewer)
		got := v.post("/cron/preview", map[string]any{"cronExpression": "0 2 * * 1-5", "timezone": "Europe/Berlin", "from": "2027-01-01T00:00:00Z", "count": 3}).want(http.StatusOK)
		var pv struct {
			Valid       bool     `json:"valid"`
			Description string   `json:"description"`
			Occurrences []string `json:"occurrences"`
		}
		got.decode(&pv)
		want := []string{"2027-01-01T01:00:00Z", "2027-01-04T01:00:00Z", "2027-01-05T01:00:00Z"}
		if !pv.Valid || pv.Description == "" || strings.Join(pv.Occurrences, ",") != strings.Join(want, ",") {
			t.Fatalf("preview: %+v", pv)
		}
		if !strings.Contains(pv.Description, "02:00") {
			t.Errorf("description %q does not name the time", pv.Description)
		}
		got.decode(&pv)
		v.post("/cron/preview", map[string]any{"cronExpression": "@hourly"}).decode(&pv)
		if len(pv.Occurrences) != 5 {
			t.Fatalf("default count: %+v", pv)
		}
		p := v.post("/cron/preview", map[string]any{"cronExpression": "0 0 * * 8"}).wantField("cronExpression")
		if !strings.Contains(p.Errors["cronExpression"][0], "day-of-week") {
			t.Errorf("error does not name the cron field: %v", p.Errors)
		}
		v.post("/cron/preview", map[string]any{"cronExpression": ""}).wantField("cronExpression")
		v.post("/cron/preview", map[string]any{"cronExpression": "* * * * *", "timezone": "Nowhere/City"}).wantField("timezone")
		v.post("/cron/preview", map[string]any{"cronExpression": "* * * * *", "count": 101}).wantField("count")
		v.post("/cron/preview", map[string]any{"cronExpression": "* * * * *", "count": 0}).wantField("count")
		v.post("/cron/preview", map[string]any{"cronExpression": "* * * * *", "from": "soon"}).wantField("from")
		v.post("/cron/preview", map[string]any{"cronExpression": 5}).wantField("cronExpression")
	})
}

func TestTenantStatsAuditAndMe(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		e.as(geoetl.RoleEditor).post("/schedules/"+id+"/pause", map[string]any{"reason": "r"}).want(http.StatusOK)
		e.inOther()
		v := e.as(geoetl.RoleViewer)
		st := v.get("/stats").want(http.StatusOK).object()
		if st["schedulesTotal"] != 1.0 || st["workflows"] != 1.0 || st["schedules"].(map[string]any)["paused"] != 1.0 || st["days"] != 30.0 {
			t.Fatalf("stats: %v", st)
		}
		v.get("/stats?days=abc").wantField("days")

		var audit struct {
			Items []geoetl.AuditEntry `json:"items"`
			Total int                 `json:"total"`
		}
		v.get("/audit?objectType=schedule").want(http.StatusOK).decode(&audit)
		if audit.Total != 2 || audit.Items[0].Action != "schedule.pause" || audit.Items[1].Action != "schedule.create" {
			t.Fatalf("audit newest first: %+v", audit)
		}
		var before, after map[string]any
		_ = json.Unmarshal(audit.Items[0].Before, &before)
		_ = json.Unmarshal(audit.Items[0].After, &after)
		if before["status"] != "active" || after["status"] != "paused" || audit.Items[0].TenantID != e.tenant {
			t.Fatalf("audit before/after: %v / %v", before, after)
		}
		v.get("/audit?objectId=nope").wantField("objectId")

		me := v.get("/me").want(http.StatusOK).object()
		if me["tenantId"] != e.tenant || me["role"] != "viewer" || me["actor"] != "token:acme-viewer" || me["userId"] != nil || me["tokenId"] == nil {
			t.Fatalf("me: %v", me)
		}
	})
}

func TestAdmin_UsersTokensAndWebhookSecret(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		ad := e.as(geoetl.RoleAdmin)
		u := ad.post("/users", map[string]any{"name": "ada", "email": "ada@example.com", "role": "editor", "password": "correct horse"}).want(http.StatusCreated).object()
		uid := u["id"].(string)
		if u["role"] != "editor" || u["tenantId"] != e.tenant {
			t.Fatalf("user: %v", u)
		}
		if _, leaked := u["passwordHash"]; leaked {
			t.Fatalf("password hash in answer: %v", u)
		}
		ad.post("/users", map[string]any{"name": "ada", "role": "editor", "password": "correct horse"}).want(http.StatusConflict)
		p := ad.post("/users", map[string]any{"name": "bad name", "role": "boss", "password": "short"}).want(http.StatusBadRequest).problem()
		for _, f := range []string{"name", "role", "password"} {
			if len(p.Errors[f]) == 0 {
				t.Errorf("no error for %s: %v", f, p.Errors)
			}
		}
		ad.put("/users/"+uid, map[string]any{"role": "viewer", "email": "ada@lovelace.example"}).want(http.StatusOK)
		ad.put("/users/"+uid, map[string]any{"email": "no at sign"}).wantField("email")
		ad.put("/users/"+uid, map[string]any{"disabled": "no"}).wantField("disabled")
		if got := ad.get("/users/" + uid).want(http.StatusOK).object(); got["role"] != "viewer" {
			t.Fatalf("after update: %v", got)
		}
		var users listAnswer
		ad.get("/users").want(http.StatusOK).decode(&users)
		if users.Total != 1 {
			t.Fatalf("users: %+v", users)
		}
		// A session of the new user works; disabling the user ends it.
		sessID, _, _, err := e.svc.Login(context.Background(), "ada@lovelace.example", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		cookie := http.Header{"Cookie": {SessionCookie + "=" + sessID}}
		e.send(request{method: http.MethodGet, path: api("/me"), header: cookie}).want(http.StatusOK)
		ad.put("/users/"+uid, map[string]any{"disabled": true}).want(http.StatusOK)
		e.send(request{method: http.MethodGet, path: api("/me"), header: cookie}).want(http.StatusUnauthorized)
		ad.delete("/users/" + uid).want(http.StatusNoContent)
		ad.get("/users/" + uid).want(http.StatusNotFound)

		tok := ad.post("/tokens", map[string]any{"name": "ci", "role": "viewer"}).want(http.StatusCreated)
		nt := tok.object()
		secret := nt["secret"].(string)
		if !strings.HasPrefix(secret, "geo_") || nt["role"] != "viewer" || tok.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("new token: %v", nt)
		}
		if _, leaked := nt["hash"]; leaked {
			t.Fatalf("token hash in answer")
		}
		e.send(request{method: http.MethodGet, path: api("/me"), token: secret}).want(http.StatusOK)
		var toks struct {
			Items []map[string]any `json:"items"`
		}
		ad.get("/tokens").want(http.StatusOK).decode(&toks)
		for _, it := range toks.Items {
			if _, ok := it["secret"]; ok {
				t.Fatalf("token list shows a secret")
			}
		}
		ad.post("/tokens", map[string]any{"name": "", "role": "root"}).wantField("role")
		ad.delete("/tokens/" + nt["id"].(string)).want(http.StatusNoContent)
		e.send(request{method: http.MethodGet, path: api("/me"), token: secret}).want(http.StatusUnauthorized)

		s1 := ad.get("/settings/webhook-secret").want(http.StatusOK).object()["secret"].(string)
		s2 := ad.get("/settings/webhook-secret").want(http.StatusOK).object()["secret"].(string)
		s3 := ad.post("/settings/webhook-secret/rotate", nil).want(http.StatusOK).object()["secret"].(string)
		if s1 == "" || s1 != s2 || s3 == s1 {
			t.Fatalf("webhook secrets: %q %q %q", s1, s2, s3)
		}
	})
}
