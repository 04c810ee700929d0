package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// scheduleKeys are the fields of the schedule object in API.md.
var scheduleKeys = []string{"id", "tenantId", "workflowId", "name", "description", "cronExpression", "timezone",
	"enabled", "status", "statusReason", "parameterValues", "tags", "maxConcurrentExecutions", "overlapPolicy",
	"misfirePolicy", "catchupWindowMinutes", "retryAttempts", "retryDelayMinutes", "retryBackoff",
	"maxRetryDelayMinutes", "timeoutMinutes", "expiresAt", "notificationConfig", "nextRunAt", "lastRunAt",
	"lastRunStatus", "lastRunId", "createdAt", "createdBy", "updatedAt", "updatedBy", "version"}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestCreateSchedule_AnswersTheContractObjectWithDefaults(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		r := e.as(geoetl.RoleEditor).post("/schedules", map[string]any{"name": "Daily parcels", "workflowId": wf, "cronExpression": "0 2 * * *"}).want(http.StatusCreated)
		got := r.object()
		want := append([]string(nil), scheduleKeys...)
		sort.Strings(want)
		if fmt.Sprint(keysOf(got)) != fmt.Sprint(want) {
			t.Fatalf("keys\n got %v\nwant %v", keysOf(got), want)
		}
		if loc := r.Header.Get("Location"); loc != api("/schedules/"+got["id"].(string)) {
			t.Errorf("Location %q", loc)
		}
		if r.Header.Get("ETag") != `"1"` {
			t.Errorf("ETag %q, want \"1\"", r.Header.Get("ETag"))
		}
		defaults := map[string]any{
			"tenantId": e.tenant, "description": "", "timezone": "UTC", "enabled": true, "status": "active",
			"statusReason": nil, "maxConcurrentExecutions": 1.0, "overlapPolicy": "skip", "misfirePolicy": "run_once",
			"catchupWindowMinutes": 1440.0, "retryAttempts": 0.0, "retryDelayMinutes": 5.0, "retryBackoff": "fixed",
			"maxRetryDelayMinutes": 60.0, "timeoutMinutes": nil, "expiresAt": nil, "lastRunAt": nil,
			"lastRunStatus": nil, "lastRunId": nil, "version": 1.0, "createdBy": "token:acme-editor",
		}
		for k, v := range defaults {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		nc := got["notificationConfig"].(map[string]any)
		if nc["notifyOnSuccess"] != false || nc["notifyOnFailure"] != false || nc["slackWebhookUrl"] != nil || len(nc["webhookUrls"].([]any)) != 0 {
			t.Errorf("notification defaults: %v", nc)
		}
		for _, k := range []string{"createdAt", "updatedAt", "nextRunAt"} {
			s, _ := got[k].(string)
			if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") {
				t.Errorf("%s = %q, want RFC 3339 UTC with Z", k, s)
			}
		}
		next, _ := time.Parse(time.RFC3339, got["nextRunAt"].(string))
		if next.Hour() != 2 || next.Minute() != 0 || !next.After(time.Now()) {
			t.Errorf("nextRunAt %v is not the next 02:00Z", next)
		}
	})
}

func TestCreateSchedule_ValidationNamesEveryBadField(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		ed := e.as(geoetl.RoleEditor)
		wf := e.createWorkflow("Parcels")
		p := ed.post("/schedules", map[string]any{}).wantField("name")
		for _, f := range []string{"workflowId", "cronExpression"} {
			if len(p.Errors[f]) == 0 {
				t.Errorf("no error for %s: %v", f, p.Errors)
			}
		}
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"NameTooLong", map[string]any{"name": strings.Repeat("n", 201)}, "name"},
			{"NameNotString", map[string]any{"name": 5}, "name"},
			{"DescriptionTooLong", map[string]any{"description": strings.Repeat("d", 2001)}, "description"},
			{"CronInvalid", map[string]any{"cronExpression": "0 0 * * 8"}, "cronExpression"},
			{"CronNeverFires", map[string]any{"cronExpression": "0 0 30 2 *"}, "cronExpression"},
			{"TimezoneUnknown", map[string]any{"timezone": "Mars/Olympus"}, "timezone"},
			{"TimezoneLocal", map[string]any{"timezone": "Local"}, "timezone"},
			{"EnabledNotBool", map[string]any{"enabled": "yes"}, "enabled"},
			{"StatusError", map[string]any{"status": "error"}, "status"},
			{"OverlapUnknown", map[string]any{"overlapPolicy": "sometimes"}, "overlapPolicy"},
			{"MisfireUnknown", map[string]any{"misfirePolicy": "later"}, "misfirePolicy"},
			{"BackoffUnknown", map[string]any{"retryBackoff": "linear"}, "retryBackoff"},
			{"ConcurrencyTooHigh", map[string]any{"maxConcurrentExecutions": 101}, "maxConcurrentExecutions"},
			{"ConcurrencyFraction", map[string]any{"maxConcurrentExecutions": 1.5}, "maxConcurrentExecutions"},
			{"RetriesTooMany", map[string]any{"retryAttempts": 21}, "retryAttempts"},
			{"RetryDelayNegative", map[string]any{"retryDelayMinutes": -1}, "retryDelayMinutes"},
			{"MaxRetryDelayZero", map[string]any{"maxRetryDelayMinutes": 0}, "maxRetryDelayMinutes"},
			{"TimeoutZero", map[string]any{"timeoutMinutes": 0}, "timeoutMinutes"},
			{"TimeoutTooLong", map[string]any{"timeoutMinutes": 10081}, "timeoutMinutes"},
			{"CatchupTooLong", map[string]any{"catchupWindowMinutes": 525601}, "catchupWindowMinutes"},
			{"ExpiresNotTime", map[string]any{"expiresAt": "tomorrow"}, "expiresAt"},
			{"TagsTooMany", map[string]any{"tags": strings.Split(strings.Repeat("t,", 21)[:41], ",")}, "tags"},
			{"TagEmpty", map[string]any{"tags": []string{""}}, "tags[0]"},
			{"TagsNotStrings", map[string]any{"tags": []any{1}}, "tags"},
			{"ParametersNotObject", map[string]any{"parameterValues": []int{1}}, "parameterValues"},
			{"ParameterUndeclared", map[string]any{"parameterValues": map[string]any{"colour": "red"}}, "parameterValues.colour"},
			{"ParameterWrongType", map[string]any{"parameterValues": map[string]any{"limit": "ten"}}, "parameterValues.limit"},
			{"ParametersTooLarge", map[string]any{"parameterValues": map[string]any{"region": strings.Repeat("x", 70000)}}, "parameterValues"},
			{"WorkflowIDNotUUID", map[string]any{"workflowId": "parcels"}, "workflowId"},
			{"WebhookNotHTTP", map[string]any{"notificationConfig": map[string]any{"webhookUrls": []string{"ftp://example.com/x"}}}, "notificationConfig.webhookUrls[0]"},
			{"WebhookLoopback", map[string]any{"notificationConfig": map[string]any{"webhookUrls": []string{"http://127.0.0.1:9/hook"}}}, "notificationConfig.webhookUrls[0]"},
			{"WebhookWithCredentials", map[string]any{"notificationConfig": map[string]any{"webhookUrls": []string{"https://u:p@example.com/x"}}}, "notificationConfig.webhookUrls[0]"},
			{"SlackNotURL", map[string]any{"notificationConfig": map[string]any{"slackWebhookUrl": "hooks"}}, "notificationConfig.slackWebhookUrl"},
			{"EmailInvalid", map[string]any{"notificationConfig": map[string]any{"emailAddresses": []string{"not an address"}}}, "notificationConfig.emailAddresses[0]"},
			{"NotifyFlagNotBool", map[string]any{"notificationConfig": map[string]any{"notifyOnFailure": "yes"}}, "notificationConfig.notifyOnFailure"},
			{"NotificationNotObject", map[string]any{"notificationConfig": "all"}, "notificationConfig"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				body := map[string]any{"name": "S " + tc.name, "workflowId": wf, "cronExpression": "0 2 * * *"}
				for k, v := range tc.body {
					body[k] = v
				}
				ed.post("/schedules", body).wantField(tc.field)
			})
		}
	})
}

func TestCreateSchedule_UnknownFieldsAreIgnoredAndReadOnlyFieldsKeptOut(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		got := e.createSchedule("S", wf, map[string]any{"colour": "blue", "id": "00000000-0000-4000-8000-000000000000", "version": 9, "createdBy": "mallory"})
		if got["id"] == "00000000-0000-4000-8000-000000000000" || got["version"] != 1.0 || got["createdBy"] == "mallory" {
			t.Fatalf("read-only fields taken from the body: %v", got)
		}
	})
}

func TestCreateSchedule_WorkflowOfAnotherTenantIs404LikeAMissingOne(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		otherWF, _ := e.inOther()
		ed := e.as(geoetl.RoleEditor)
		foreign := ed.post("/schedules", map[string]any{"name": "S", "workflowId": otherWF, "cronExpression": "0 2 * * *"}).want(http.StatusNotFound).problem()
		missing := ed.post("/schedules", map[string]any{"name": "S", "workflowId": geoetl.NewID(), "cronExpression": "0 2 * * *"}).want(http.StatusNotFound).problem()
		if foreign.Detail != missing.Detail || fmt.Sprint(foreign.Errors) != fmt.Sprint(missing.Errors) {
			t.Fatalf("another tenant's workflow answers differently from a missing one:\n%+v\n%+v", foreign, missing)
		}
		if len(foreign.Errors["workflowId"]) == 0 {
			t.Fatalf("the 404 does not name workflowId: %+v", foreign)
		}
	})
}

func TestCreateSchedule_BodyTenantIDMustBeTheCallersOwn(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		ed := e.as(geoetl.RoleEditor)
		body := map[string]any{"name": "S", "workflowId": wf, "cronExpression": "0 2 * * *", "tenantId": e.other}
		ed.post("/schedules", body).want(http.StatusForbidden).problem()
		body["tenantId"] = e.tenant
		ed.post("/schedules", body).want(http.StatusCreated)
	})
}

func TestCreateSchedule_DuplicateNameIsConflict(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		e.createSchedule("Same", wf, nil)
		e.as(geoetl.RoleEditor).post("/schedules", map[string]any{"name": "Same", "workflowId": wf, "cronExpression": "* * * * *"}).want(http.StatusConflict).problem()
	})
}

func TestCreateSchedule_BadBodiesAre4xxNever500(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		valid := fmt.Sprintf(`{"name":"S","workflowId":%q,"cronExpression":"0 2 * * *"`, wf)
		cases := []struct {
			name string
			body string
		}{
			{"Empty", ""},
			{"Malformed", `{"name":`},
			{"Array", `[1,2]`},
			{"String", `"schedule"`},
			{"Null", `null`},
			{"TwoObjects", `{} {}`},
			{"InvalidUTF8", valid + `,"description":"` + "\xff\xfe" + `"}`},
			{"NULEscape", valid + `,"description":"a\u0000b"}`},
			{"LoneSurrogate", valid + `,"description":"\ud800"}`},
			{"NULInParameters", valid + `,"parameterValues":{"region":"\u0000"}}`},
			{"DeepNesting", valid + `,"parameterValues":{"region":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`},
			{"HugeNumber", valid + `,"retryAttempts":1e400}`},
			{"NegativeZeroTimeout", valid + `,"timeoutMinutes":-0}`},
			{"YearOutOfRange", valid + `,"expiresAt":"10000-01-01T00:00:00Z"}`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.send(request{method: http.MethodPost, path: api("/schedules"), token: e.token(geoetl.RoleEditor), body: tc.body})
				if r.Code != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", r.Code, r.Body)
				}
				if p := r.problem(); len(p.Errors) == 0 {
					t.Fatalf("no field named: %s", r.Body)
				}
			})
		}
	})
}

func TestBodyLimit_Over1MiBIs413EvenWhenChunked(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		big := `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
		e.send(request{method: http.MethodPost, path: api("/schedules"), token: e.token(geoetl.RoleEditor), body: big}).want(http.StatusRequestEntityTooLarge).problem()

		req := httptest.NewRequest(http.MethodPost, api("/schedules"), io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		req.Header.Set("Authorization", "Bearer "+e.token(geoetl.RoleEditor))
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked: status %d, want 413: %s", rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("chunked: content type %q", ct)
		}
		// Just under the limit is read (and then refused for its content).
		under := `{"name":"` + strings.Repeat("x", MaxBodyBytes-20) + `"}`
		e.send(request{method: http.MethodPost, path: api("/schedules"), token: e.token(geoetl.RoleEditor), body: under}).wantField("name")
	})
}

func TestGetSchedule_MasksWebhookURLsAndHidesOtherTenants(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		secretURL := "https://hooks.slack.com/services/T000/B000/XYZSECRET"
		created := e.createSchedule("S", wf, map[string]any{"notificationConfig": map[string]any{
			"notifyOnFailure": true, "webhookUrls": []string{"https://example.com/hook?token=abc"}, "slackWebhookUrl": secretURL}})
		if strings.Contains(fmt.Sprint(created), "XYZSECRET") || strings.Contains(fmt.Sprint(created), "token=abc") {
			t.Fatalf("create answer leaks a webhook secret: %v", created)
		}
		id := created["id"].(string)
		got := e.as(geoetl.RoleViewer).get("/schedules/" + id).want(http.StatusOK)
		nc := got.object()["notificationConfig"].(map[string]any)
		if nc["slackWebhookUrl"] != "https://hooks.slack.com/…/****" || nc["webhookUrls"].([]any)[0] != "https://example.com/…/****" {
			t.Fatalf("not masked: %v", nc)
		}
		_, otherID := e.inOther()
		e.as(geoetl.RoleAdmin).get("/schedules/" + otherID).want(http.StatusNotFound).problem()
		e.as(geoetl.RoleAdmin).get("/schedules/" + geoetl.NewID()).want(http.StatusNotFound)
		e.as(geoetl.RoleAdmin).get("/schedules/not-a-uuid").want(http.StatusNotFound)
	})
}

func TestUpdateSchedule_PartialUpdateKeepsFieldsAndMaskedSecrets(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		secretURL := "https://hooks.example.com/services/SECRET123"
		created := e.createSchedule("S", wf, map[string]any{"description": "keep me", "tags": []string{"a"},
			"notificationConfig": map[string]any{"webhookUrls": []string{secretURL}}})
		id := created["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		// Send back what was read (masked URL, same status) with a new cron.
		read := ed.get("/schedules/" + id).object()
		read["cronExpression"] = "30 3 * * *"
		got := ed.put("/schedules/"+id, read).want(http.StatusOK)
		obj := got.object()
		if obj["description"] != "keep me" || obj["cronExpression"] != "30 3 * * *" || obj["version"] != 2.0 {
			t.Fatalf("after update: %v", obj)
		}
		if got.Header.Get("ETag") != `"2"` {
			t.Errorf("ETag %q", got.Header.Get("ETag"))
		}
		next, _ := time.Parse(time.RFC3339, obj["nextRunAt"].(string))
		if next.Hour() != 3 || next.Minute() != 30 {
			t.Errorf("nextRunAt %v not recomputed for 30 3 * * *", next)
		}
		stored, err := e.store.FindScheduleByID(context.Background(), e.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.NotificationConfig.WebhookURLs[0] != secretURL {
			t.Fatalf("the masked value replaced the stored secret: %v", stored.NotificationConfig.WebhookURLs)
		}
		// A partial body touches only its fields.
		ed.put("/schedules/"+id, map[string]any{"name": "Renamed"}).want(http.StatusOK)
		obj = ed.get("/schedules/" + id).object()
		if obj["name"] != "Renamed" || obj["description"] != "keep me" || obj["cronExpression"] != "30 3 * * *" {
			t.Fatalf("partial update changed other fields: %v", obj)
		}
	})
}

func TestUpdateSchedule_StaleVersionOrIfMatchIsConflict(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		ed.put("/schedules/"+id, map[string]any{"description": "one", "version": 1}).want(http.StatusOK)
		ed.put("/schedules/"+id, map[string]any{"description": "two", "version": 1}).want(http.StatusConflict).problem()
		tok := e.token(geoetl.RoleEditor)
		e.send(request{method: http.MethodPut, path: api("/schedules/" + id), token: tok, body: map[string]any{"description": "three"},
			header: http.Header{"If-Match": {`"1"`}}}).want(http.StatusConflict)
		e.send(request{method: http.MethodPut, path: api("/schedules/" + id), token: tok, body: map[string]any{"description": "three"},
			header: http.Header{"If-Match": {`"2"`}}}).want(http.StatusOK)
		e.send(request{method: http.MethodPut, path: api("/schedules/" + id), token: tok, body: map[string]any{"description": "four"},
			header: http.Header{"If-Match": {`yesterday`}}}).wantField("If-Match")
		ed.put("/schedules/"+id, map[string]any{"version": "3"}).wantField("version")
	})
}

func TestUpdateSchedule_StatusCanOnlyBeSetToActiveOrPaused(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		ed.put("/schedules/"+id, map[string]any{"status": "expired"}).wantField("status")
		got := ed.put("/schedules/"+id, map[string]any{"status": "paused", "statusReason": "holidays"}).want(http.StatusOK).object()
		if got["status"] != "paused" || got["statusReason"] != "holidays" || got["nextRunAt"] != nil {
			t.Fatalf("paused through PUT: %v", got)
		}
		got = ed.put("/schedules/"+id, map[string]any{"status": "active"}).want(http.StatusOK).object()
		if got["status"] != "active" || got["statusReason"] != nil || got["nextRunAt"] == nil {
			t.Fatalf("resumed through PUT: %v", got)
		}
	})
}

func TestDeleteSchedule_Is204AndLeavesAnAuditEntry(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		r := ed.delete("/schedules/" + id).want(http.StatusNoContent)
		if len(r.Body) != 0 {
			t.Errorf("204 with a body: %q", r.Body)
		}
		ed.get("/schedules/" + id).want(http.StatusNotFound)
		ed.delete("/schedules/" + id).want(http.StatusNotFound)
		var audit listAnswer
		ed.get("/audit?objectId=" + id + "&action=schedule.delete").want(http.StatusOK).decode(&audit)
		items := audit.Items.([]any)
		if len(items) != 1 {
			t.Fatalf("audit entries: %v", audit.Items)
		}
		entry := items[0].(map[string]any)
		if entry["actor"] != "token:acme-editor" || entry["before"] == nil || entry["after"] != nil {
			t.Fatalf("audit entry: %v", entry)
		}
	})
}

func TestPauseAndResume(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		got := ed.post("/schedules/"+id+"/pause", map[string]any{"reason": "maintenance"}).want(http.StatusOK).object()
		if got["status"] != "paused" || got["statusReason"] != "maintenance" || got["nextRunAt"] != nil {
			t.Fatalf("paused: %v", got)
		}
		ed.post("/schedules/"+id+"/pause", map[string]any{"reason": 7}).wantField("reason")
		ed.post("/schedules/"+id+"/pause", map[string]any{"reason": strings.Repeat("r", 501)}).wantField("reason")
		got = ed.post("/schedules/"+id+"/pause", nil).want(http.StatusOK).object()
		if got["statusReason"] != nil {
			t.Fatalf("a pause without a reason keeps an old one: %v", got)
		}
		got = ed.post("/schedules/"+id+"/resume", nil).want(http.StatusOK).object()
		if got["status"] != "active" || got["statusReason"] != nil || got["nextRunAt"] == nil {
			t.Fatalf("resumed: %v", got)
		}
	})
}

func TestResume_ExpiredScheduleIsConflict(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		got := e.createSchedule("S", wf, map[string]any{"expiresAt": past})
		if got["status"] != "expired" || got["nextRunAt"] != nil {
			t.Fatalf("created past its expiry: %v", got)
		}
		e.as(geoetl.RoleEditor).post("/schedules/"+got["id"].(string)+"/resume", nil).want(http.StatusConflict).problem()
	})
}

func TestRunNow_CreatesPendingManualExecution(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, map[string]any{"parameterValues": map[string]any{"region": "south"}})["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		r := ed.post("/schedules/"+id+"/run-now", map[string]any{"parameterValues": map[string]any{"limit": 10}, "force": true}).want(http.StatusAccepted)
		ex := r.object()
		for _, k := range []string{"id", "scheduleId", "workflowId", "workflowRunId", "scheduledAt", "trigger", "status", "executedAt",
			"completedAt", "durationMs", "retryCount", "errorMessage", "skipped", "skipReason", "instanceId", "parameterValues", "summary"} {
			if _, ok := ex[k]; !ok {
				t.Errorf("execution lacks %q: %v", k, ex)
			}
		}
		if ex["status"] != "pending" || ex["trigger"] != "manual" || ex["scheduleId"] != id || ex["force"] != true {
			t.Fatalf("execution: %v", ex)
		}
		pv := ex["parameterValues"].(map[string]any)
		if pv["region"] != "south" || pv["limit"] != 10.0 {
			t.Fatalf("parameters not merged over the schedule's: %v", pv)
		}
		if r.Header.Get("Location") != api("/executions/"+ex["id"].(string)) {
			t.Errorf("Location %q", r.Header.Get("Location"))
		}
		ed.get("/executions/" + ex["id"].(string)).want(http.StatusOK)
		ed.post("/schedules/"+id+"/run-now", nil).want(http.StatusAccepted)
		ed.post("/schedules/"+id+"/run-now", map[string]any{"parameterValues": map[string]any{"limit": "ten"}}).wantField("parameterValues.limit")
		ed.post("/schedules/"+id+"/run-now", map[string]any{"parameterValues": map[string]any{"zone": 1}}).wantField("parameterValues.zone")
		ed.post("/schedules/"+id+"/run-now", map[string]any{"force": "yes"}).wantField("force")
		ed.post("/schedules/"+geoetl.NewID()+"/run-now", nil).want(http.StatusNotFound)
	})
}

func TestHistory_NewestFirstWithStatusFilter(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		first := ed.post("/schedules/"+id+"/run-now", nil).object()["id"].(string)
		second := ed.post("/schedules/"+id+"/run-now", nil).object()["id"].(string)
		ed.post("/executions/"+first+"/cancel", nil).want(http.StatusAccepted)
		var all struct {
			Items []map[string]any `json:"items"`
			Total int              `json:"total"`
		}
		ed.get("/schedules/" + id + "/history").want(http.StatusOK).decode(&all)
		if all.Total != 2 || len(all.Items) != 2 || all.Items[0]["id"] != second {
			t.Fatalf("history: %+v", all)
		}
		ed.get("/schedules/" + id + "/history?status=cancelled").decode(&all)
		if all.Total != 1 || all.Items[0]["id"] != first {
			t.Fatalf("cancelled only: %+v", all)
		}
		ed.get("/schedules/" + id + "/history?status=done").wantField("status")
		ed.get("/schedules/" + id + "/history?limit=0").wantField("limit")
	})
}

func TestNextRuns_CountAndFrom(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, map[string]any{"cronExpression": "30 2 * * *", "timezone": "America/New_York"})["id"].(string)
		v := e.as(geoetl.RoleViewer)
		var got nextRunsAnswer
		v.get("/schedules/" + id + "/next-runs?count=3&from=2027-03-13T00:00:00Z").want(http.StatusOK).decode(&got)
		want := []string{"2027-03-13T07:30:00Z", "2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"}
		if got.ScheduleID != id || len(got.NextRuns) != 3 {
			t.Fatalf("next runs: %+v", got)
		}
		for i, w := range want {
			if got.NextRuns[i].Format(time.RFC3339) != w {
				t.Errorf("run %d = %s, want %s (spring forward fires at the jump)", i, got.NextRuns[i].Format(time.RFC3339), w)
			}
		}
		raw := v.get("/schedules/" + id + "/next-runs").object()
		if n := len(raw["nextRuns"].([]any)); n != 5 {
			t.Errorf("default count gives %d runs, want 5", n)
		}
		v.get("/schedules/" + id + "/next-runs?count=0").wantField("count")
		v.get("/schedules/" + id + "/next-runs?count=101").wantField("count")
		v.get("/schedules/" + id + "/next-runs?count=x").wantField("count")
		v.get("/schedules/" + id + "/next-runs?from=monday").wantField("from")
	})
}

func TestSchedulesOfWorkflow_IsNotTakenForAScheduleID(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		a, b := e.createWorkflow("A"), e.createWorkflow("B")
		e.createSchedule("A1", a, nil)
		e.createSchedule("A2", a, nil)
		e.createSchedule("B1", b, nil)
		var got struct {
			Items      []map[string]any `json:"items"`
			Total      int              `json:"total"`
			NextCursor *string          `json:"nextCursor"`
		}
		e.as(geoetl.RoleViewer).get("/schedules/workflow/" + a).want(http.StatusOK).decode(&got)
		if got.Total != 2 || len(got.Items) != 2 || got.NextCursor != nil {
			t.Fatalf("schedules of A: %+v", got)
		}
		for _, it := range got.Items {
			if it["workflowId"] != a {
				t.Fatalf("schedule of another workflow listed: %v", it)
			}
		}
		otherWF, _ := e.inOther()
		e.as(geoetl.RoleAdmin).get("/schedules/workflow/" + otherWF).want(http.StatusNotFound)
		e.as(geoetl.RoleAdmin).get("/schedules/workflow/" + geoetl.NewID()).want(http.StatusNotFound)
	})
}

func TestScheduleStats(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		ex := e.as(geoetl.RoleEditor).post("/schedules/"+id+"/run-now", nil).object()["id"].(string)
		e.as(geoetl.RoleEditor).post("/executions/"+ex+"/cancel", nil).want(http.StatusAccepted)
		got := e.as(geoetl.RoleViewer).get("/schedules/" + id + "/stats?days=7").want(http.StatusOK).object()
		for _, k := range []string{"scheduleId", "days", "nextRunAt", "total", "byStatus", "successRate", "avgDurationMs", "p95DurationMs", "lastRunAt"} {
			if _, ok := got[k]; !ok {
				t.Errorf("stats lack %q: %v", k, got)
			}
		}
		if got["days"] != 7.0 || got["total"] != 1.0 || got["successRate"] != nil {
			t.Fatalf("stats: %v", got)
		}
		e.as(geoetl.RoleViewer).get("/schedules/" + id + "/stats?days=0").wantField("days")
		e.as(geoetl.RoleViewer).get("/schedules/" + id + "/stats?days=3651").wantField("days")
	})
}

func TestVersions_ListChangesAndRestore(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, map[string]any{"notificationConfig": map[string]any{"webhookUrls": []string{"https://example.com/secret-path"}}})["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		ed.put("/schedules/"+id, map[string]any{"cronExpression": "*/10 * * * *", "timezone": "Europe/Berlin"}).want(http.StatusOK)
		var vs struct {
			Items []map[string]any `json:"items"`
			Total int              `json:"total"`
		}
		ed.get("/schedules/" + id + "/versions").want(http.StatusOK).decode(&vs)
		if vs.Total != 2 || vs.Items[0]["version"] != 2.0 {
			t.Fatalf("versions: %+v", vs)
		}
		if fmt.Sprint(vs.Items[0]["changes"]) != "[cronExpression timezone]" || vs.Items[0]["changedBy"] != "token:acme-editor" {
			t.Fatalf("version 2 changes: %v", vs.Items[0])
		}
		if strings.Contains(fmt.Sprint(vs.Items), "secret-path") {
			t.Fatalf("a version snapshot leaks the webhook URL")
		}
		got := ed.post("/schedules/"+id+"/versions/1/restore", nil).want(http.StatusOK).object()
		if got["cronExpression"] != "0 2 * * *" || got["timezone"] != "UTC" || got["version"] != 3.0 {
			t.Fatalf("restored: %v", got)
		}
		stored, _ := e.store.FindScheduleByID(context.Background(), e.tenant, id)
		if stored.NotificationConfig.WebhookURLs[0] != "https://example.com/secret-path" {
			t.Fatalf("restore lost the stored webhook URL: %v", stored.NotificationConfig.WebhookURLs)
		}
		ed.post("/schedules/"+id+"/versions/99/restore", nil).want(http.StatusNotFound)
		ed.post("/schedules/"+id+"/versions/x/restore", nil).want(http.StatusNotFound)
	})
}

func TestBackfill_OneRunPerOccurrenceOldestFirst(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		id := e.createSchedule("S", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		var got struct {
			Items      []map[string]any `json:"items"`
			Total      int              `json:"total"`
			NextCursor *string          `json:"nextCursor"`
		}
		ed.post("/schedules/"+id+"/backfill", map[string]any{"from": "2027-01-01T00:00:00Z", "to": "2027-01-03T02:00:00Z"}).want(http.StatusAccepted).decode(&got)
		want := []string{"2027-01-01T02:00:00Z", "2027-01-02T02:00:00Z", "2027-01-03T02:00:00Z"}
		if got.Total != 3 || len(got.Items) != 3 {
			t.Fatalf("backfill: %+v", got)
		}
		for i, w := range want {
			if got.Items[i]["scheduledAt"] != w || got.Items[i]["trigger"] != "backfill" || got.Items[i]["status"] != "pending" {
				t.Errorf("run %d: %v, want scheduledAt %s", i, got.Items[i], w)
			}
		}
		ed.post("/schedules/"+id+"/backfill", map[string]any{"to": "2027-01-03T00:00:00Z"}).wantField("from")
		ed.post("/schedules/"+id+"/backfill", map[string]any{"from": "2027-01-03T00:00:00Z", "to": "2027-01-01T00:00:00Z"}).wantField("to")
		ed.post("/schedules/"+id+"/backfill", map[string]any{"from": 5, "to": "2027-01-01T00:00:00Z"}).wantField("from")
		ed.post("/schedules/"+id+"/backfill", map[string]any{"from": "2020-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}).wantField("to")
		ed.post("/schedules/"+id+"/backfill", map[string]any{"from": "2027-01-01T03:00:00Z", "to": "2027-01-01T04:00:00Z"}).wantField("from")
	})
}

func TestExportImport_RoundTripByName(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		e.createSchedule("Keep", wf, map[string]any{"notificationConfig": map[string]any{"webhookUrls": []string{"https://example.com/hook/SECRET"}}})
		ed := e.as(geoetl.RoleEditor)
		exp := ed.get("/schedules/export").want(http.StatusOK)
		if strings.Contains(string(exp.Body), "SECRET") {
			t.Fatalf("export leaks a webhook URL")
		}
		var doc struct {
			Version   int              `json:"version"`
			Schedules []map[string]any `json:"schedules"`
		}
		exp.decode(&doc)
		if doc.Version != 1 || len(doc.Schedules) != 1 {
			t.Fatalf("export: %+v", doc)
		}
		doc.Schedules[0]["description"] = "imported"
		doc.Schedules = append(doc.Schedules,
			map[string]any{"name": "New by workflow name", "workflowName": "Parcels", "cronExpression": "@hourly"},
			map[string]any{"name": "Broken", "workflowId": wf, "cronExpression": "not cron"})
		var rep importReport
		ed.post("/schedules/import", doc).want(http.StatusOK).decode(&rep)
		if rep.Created != 1 || rep.Updated != 1 || rep.Failed != 1 {
			t.Fatalf("import report: %+v", rep)
		}
		if rep.Results[2].Action != "failed" || len(rep.Results[2].Errors["cronExpression"]) == 0 {
			t.Fatalf("bad item report: %+v", rep.Results[2])
		}
		stored, err := e.store.FindScheduleByName(context.Background(), e.tenant, "Keep")
		if err != nil || stored.Description != "imported" || stored.NotificationConfig.WebhookURLs[0] != "https://example.com/hook/SECRET" {
			t.Fatalf("updated by import: %+v, %v", stored, err)
		}
		// Another tenant's id anywhere refuses the whole import.
		foreign := []map[string]any{{"name": "Fresh", "workflowId": wf, "cronExpression": "@daily"}, {"name": "X", "tenantId": e.other}}
		ed.post("/schedules/import", foreign).want(http.StatusForbidden)
		if _, err := e.store.FindScheduleByName(context.Background(), e.tenant, "Fresh"); !geoetl.IsNotFound(err) {
			t.Fatalf("a refused import created a schedule: %v", err)
		}
		ed.post("/schedules/import", `{"schedules": 5}`).wantField("schedules")
		ed.post("/schedules/import", `nonsense`).wantField("schedules")
	})
}

func TestListSchedules_PagingSearchFiltersAndSort(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		for i, n := range []string{"Delta", "alpha", "Charlie", "bravo", "Echo"} {
			extra := map[string]any{"description": "number " + n}
			if i == 4 {
				extra["status"] = "paused"
			}
			e.createSchedule(n, wf, extra)
		}
		e.inOther()
		v := e.as(geoetl.RoleViewer)
		type page struct {
			Items      []map[string]any `json:"items"`
			Total      int              `json:"total"`
			NextCursor *string          `json:"nextCursor"`
		}
		var p page
		v.get("/schedules").want(http.StatusOK).decode(&p)
		if p.Total != 5 || len(p.Items) != 5 || p.NextCursor != nil {
			t.Fatalf("all: %+v", p)
		}
		var names []string
		for _, it := range p.Items {
			names = append(names, it["name"].(string))
		}
		if fmt.Sprint(names) != "[alpha bravo Charlie Delta Echo]" {
			t.Fatalf("default order by name, case-insensitive: %v", names)
		}
		// Page through two at a time, inserting a row that sorts first in
		// between: the cursor goes on after the last row seen.
		v.get("/schedules?limit=2").decode(&p)
		if len(p.Items) != 2 || p.NextCursor == nil || p.Total != 5 {
			t.Fatalf("page 1: %+v", p)
		}
		e.createSchedule("Aardvark", wf, nil)
		v.get("/schedules?limit=2&cursor=" + *p.NextCursor).decode(&p)
		if len(p.Items) != 2 || p.Items[0]["name"] != "Charlie" || p.Items[1]["name"] != "Delta" {
			t.Fatalf("page 2 after an insert: %+v", p)
		}
		v.get("/schedules?limit=2&offset=4").decode(&p)
		if len(p.Items) != 2 || p.Items[0]["name"] != "Delta" {
			t.Fatalf("offset: %+v", p)
		}
		v.get("/schedules?q=CHAR").decode(&p)
		if p.Total != 1 || p.Items[0]["name"] != "Charlie" {
			t.Fatalf("q on name: %+v", p)
		}
		v.get("/schedules?q=number%20d").decode(&p)
		if p.Total != 1 || p.Items[0]["name"] != "Delta" {
			t.Fatalf("q on description: %+v", p)
		}
		v.get("/schedules?status=paused").decode(&p)
		if p.Total != 1 || p.Items[0]["name"] != "Echo" {
			t.Fatalf("status filter: %+v", p)
		}
		v.get("/schedules?workflowId=" + wf + "&sort=updatedAt").decode(&p)
		if p.Total != 6 || p.Items[0]["name"] != "Aardvark" || p.Items[5]["name"] != "Delta" {
			t.Fatalf("sort by updatedAt (most recently changed first): %+v", p)
		}
		v.get("/schedules?sort=nextRunAt").want(http.StatusOK)
		for _, bad := range []struct{ q, field string }{
			{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=ten", "limit"}, {"offset=-1", "offset"},
			{"cursor=garbage", "cursor"}, {"status=sleeping", "status"}, {"sort=colour", "sort"},
			{"workflowId=abc", "workflowId"}, {"q=%00", "q"}, {"q=%ff", "q"}, {"q=" + strings.Repeat("q", 201), "q"},
		} {
			v.get("/schedules?" + bad.q).wantField(bad.field)
		}
	})
}

// jsonBody is a convenience for raw JSON bodies in tests.
func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
