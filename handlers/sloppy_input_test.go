package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
)

// TestSloppyInput_IsRefusedNamingTheField covers input that used to be
// accepted: sort values outside the list, keys given twice, and webhook
// URLs that spell a loopback or private address in a way a resolver or
// browser reads as one.
func TestSloppyInput_IsRefusedNamingTheField(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		ed := e.as(geoetl.RoleEditor)
		wf := e.createWorkflow("Sloppy")
		for _, q := range []string{"name;DROP TABLE schedules", "NAME", "name ", "nextrunat", "-name", "name,updatedAt"} {
			ed.get("/schedules?sort=" + strings.ReplaceAll(q, " ", "%20")).want(http.StatusBadRequest).wantField("sort")
			ed.get("/schedules/workflow/" + wf + "?sort=" + strings.ReplaceAll(q, " ", "%20")).want(http.StatusBadRequest).wantField("sort")
		}
		for _, tc := range []struct{ path, body, field string }{
			{"/schedules", `{"name":"a","name":"b","workflowId":"` + wf + `","cronExpression":"@daily"}`, "name"},
			{"/schedules", `{"name":"a","workflowId":"` + wf + `","cronExpression":"@daily","notificationConfig":{"notifyOnFailure":true,"notifyOnFailure":false}}`, "notificationConfig.notifyOnFailure"},
			{"/schedules/import", `{"schedules":[{"name":"x","workflowId":"` + wf + `","cronExpression":"@daily","cronExpression":"@hourly"}]}`, "schedules.0.cronExpression"},
			{"/workflows", `{"name":"w","definition":{"nodes":[{"id":"a","id":"b","type":"control.wait"}]}}`, "definition.nodes.0.id"},
			{"/cron/preview", `{"cronExpression":"@daily","cronExpression":"@hourly"}`, "cronExpression"},
		} {
			ed.post(tc.path, tc.body).want(http.StatusBadRequest).wantField(tc.field)
		}
		for _, host := range []string{"LOCALHOST", "localhost.", "2130706433", "127.1", "0x7f.1", "[::ffff:127.0.0.1]", "0177.0.0.1", "10.1", "api.LOCALHOST"} {
			body := map[string]any{"name": "hook " + host, "workflowId": wf, "cronExpression": "@daily",
				"notificationConfig": map[string]any{"webhookUrls": []string{"http://" + host + "/hook"}}}
			ed.post("/schedules", body).want(http.StatusBadRequest).wantField("notificationConfig.webhookUrls[0]")
			body["notificationConfig"] = map[string]any{"slackWebhookUrl": "https://" + host + "/services/x"}
			ed.post("/schedules", body).want(http.StatusBadRequest).wantField("notificationConfig.slackWebhookUrl")
		}
		var list struct{ Total int }
		ed.get("/schedules").want(http.StatusOK).decode(&list)
		if list.Total != 0 {
			t.Errorf("%d schedules stored from refused requests", list.Total)
		}
	})
}

// TestNotifyOnFailure_DefaultsToTrueWhenSomeoneIsNamed checks the default
// of the original system: a notification config that names a recipient
// notifies on failure unless it says otherwise.
func TestNotifyOnFailure_DefaultsToTrueWhenSomeoneIsNamed(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Notified")
		for i, tc := range []struct {
			nc   map[string]any
			want bool
		}{
			{map[string]any{"emailAddresses": []string{"ops@example.com"}}, true},
			{map[string]any{"webhookUrls": []string{"https://hooks.example.com/x"}}, true},
			{map[string]any{"slackWebhookUrl": "https://hooks.slack.com/services/x"}, true},
			{map[string]any{"emailAddresses": []string{"ops@example.com"}, "notifyOnFailure": false}, false},
			{map[string]any{}, false},
			{map[string]any{"emailAddresses": []string{}, "slackWebhookUrl": nil}, false},
		} {
			sc := e.createSchedule("n"+strings.Repeat("x", i), wf, map[string]any{"notificationConfig": tc.nc})
			got := sc["notificationConfig"].(map[string]any)["notifyOnFailure"]
			if got != tc.want {
				t.Errorf("%v: notifyOnFailure = %v, want %v", tc.nc, got, tc.want)
			}
		}
	})
}

// TestSchedulesPage_BadSortIs400 checks the console list answers a bad
// sort as the API does (the page still shows, with the message).
func TestSchedulesPage_BadSortIs400(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.signedIn("viewer")
	b.get("/geoetl/schedules?sort=name%3BDROP", nil).want(http.StatusBadRequest).has("sort")
	b.get("/geoetl/schedules?sort=name", nil).want(http.StatusOK)
}

// TestFarOccurrences_AreFoundBySaveAndPreview checks that an expression
// whose next run is years away gets it, in a saved schedule and in the
// editor's preview, and that Cronos's forms are accepted or refused there
// as in the CLI.
func TestFarOccurrences_AreFoundBySaveAndPreview(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		ed := e.as(geoetl.RoleEditor)
		wf := e.createWorkflow("Sparse")
		sc := ed.post("/schedules", map[string]any{"name": "leap mondays", "workflowId": wf, "cronExpression": "0 0 29 2 MON"}).want(http.StatusCreated).object()
		if next, _ := sc["nextRunAt"].(string); next != "2044-02-29T00:00:00Z" && !strings.HasPrefix(next, "2072") && !strings.HasPrefix(next, "2112") {
			t.Errorf("nextRunAt = %v, want the next 29 February on a Monday", sc["nextRunAt"])
		}
		if sc["status"] != "active" {
			t.Errorf("status %v", sc["status"])
		}
		var pv struct {
			Valid       bool
			Occurrences []string
		}
		ed.post("/cron/preview", map[string]any{"cronExpression": "5 5 5 5 5", "from": "2017-05-05T05:05:00Z", "count": 2}).want(http.StatusOK).decode(&pv)
		if !pv.Valid || len(pv.Occurrences) != 2 || pv.Occurrences[0] != "2023-05-05T05:05:00Z" {
			t.Errorf("preview %+v, want 2023-05-05T05:05:00Z first", pv)
		}
		for _, expr := range []string{"0 0 L-2W * *", "0 0 1 */12 *", "0 0 */31 * *"} {
			ed.post("/cron/preview", map[string]any{"cronExpression": expr}).want(http.StatusOK)
		}
		ed.post("/cron/preview", map[string]any{"cronExpression": "0 0 1,2W * *"}).want(http.StatusBadRequest).wantField("cronExpression")
	})
}
