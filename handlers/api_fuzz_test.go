package handlers

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db/dbtest"
)

// scheduleFieldNames are the keys random documents are built from: every
// field of the schedule object, the notification object's fields, and
// names the API does not know.
var scheduleFieldNames = append(append([]string{}, scheduleKeys...),
	"notifyOnSuccess", "notifyOnFailure", "emailAddresses", "webhookUrls", "slackWebhookUrl", "teamsWebhookUrl",
	"workflowName", "colour", "", "__proto__")

// randomValue returns a random JSON value of any type, nested at most
// depth levels, with a bias towards values that look almost right.
func randomValue(r *rand.Rand, depth int) any {
	switch n := r.IntN(14); {
	case n == 0:
		return nil
	case n == 1:
		return r.IntN(2) == 0
	case n == 2:
		return r.IntN(200) - 50
	case n == 3:
		return []float64{0.5, -1, 1e9, 1e10, math.MaxInt32, 1e300, -0.0}[r.IntN(7)]
	case n == 4:
		return []string{"", " ", "0 2 * * *", "*/5 * * * *", "@daily", "0 0 30 2 *", "UTC", "Europe/Berlin", "Local",
			"active", "paused", "error", "skip", "queue", "run_all", "exponential", "2027-01-01T00:00:00Z", "yesterday",
			"https://example.com/hook", "http://127.0.0.1/x", "https://hooks.slack.com/…/****", "a@example.com"}[r.IntN(22)]
	case n == 5:
		b := make([]rune, r.IntN(300))
		for i := range b {
			b[i] = rune(r.IntN(0x2FFFF))
		}
		return string(b)
	case n == 6:
		return strings.Repeat("x", r.IntN(3000))
	case n == 7:
		return geoetl.NewID()
	case depth > 0 && n < 11:
		m := map[string]any{}
		for i := r.IntN(6); i > 0; i-- {
			m[scheduleFieldNames[r.IntN(len(scheduleFieldNames))]] = randomValue(r, depth-1)
		}
		return m
	case depth > 0:
		a := make([]any, r.IntN(5))
		for i := range a {
			a[i] = randomValue(r, depth-1)
		}
		return a
	}
	return "plain"
}

// randomScheduleBody is a random schedule document; some are then broken
// at the byte level (escapes the stores cannot hold, truncation, garbage).
func randomScheduleBody(r *rand.Rand, workflowID string) []byte {
	doc := map[string]any{}
	if r.IntN(3) > 0 {
		doc["name"], doc["workflowId"], doc["cronExpression"] = "Fuzz "+geoetl.NewID(), workflowID, "0 2 * * *"
	}
	for i := r.IntN(8); i > 0; i-- {
		doc[scheduleFieldNames[r.IntN(len(scheduleFieldNames))]] = randomValue(r, 3)
	}
	b, _ := json.Marshal(doc)
	switch r.IntN(10) {
	case 0:
		b = []byte(strings.Replace(string(b), `"`, `"\u0000`, 2))
	case 1:
		b = []byte(strings.Replace(string(b), `"`, `"\udc00`, 2))
	case 2:
		b = b[:r.IntN(len(b)+1)]
	case 3:
		if len(b) > 2 {
			b[1+r.IntN(len(b)-2)] = byte(r.IntN(256))
		}
	}
	return b
}

// checkNo500 sends a body to create and to update and fails on a 500 (the
// harness fails any 500) or on a 2xx that is not a schedule.
func (e *apiEnv) checkNo500(body []byte, scheduleID string) {
	e.t.Helper()
	tok := e.token(geoetl.RoleEditor)
	for _, rq := range []request{
		{method: http.MethodPost, path: api("/schedules"), token: tok, body: body},
		{method: http.MethodPut, path: api("/schedules/" + scheduleID), token: tok, body: body},
	} {
		res := e.send(rq)
		if res.Code < 300 {
			var sc geoetl.Schedule
			if err := json.Unmarshal(res.Body, &sc); err != nil || sc.ID == "" {
				e.t.Fatalf("%s answered %d without a schedule: %s", rq.method, res.Code, res.Body)
			}
			continue
		}
		res.problem()
	}
}

func TestCreateUpdate_RandomJSONNeverAnswers500(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Fuzz target")
		sid := e.createSchedule("Fuzz schedule", wf, nil)["id"].(string)
		r := rand.New(rand.NewPCG(1, 2))
		n := 400
		if testing.Short() {
			n = 100
		}
		for i := 0; i < n; i++ {
			e.checkNo500(randomScheduleBody(r, wf), sid)
		}
	})
}

// FuzzScheduleBodies throws arbitrary bytes at create and update. Under
// go test it runs the seeds; `go test -fuzz FuzzScheduleBodies ./handlers`
// searches further.
func FuzzScheduleBodies(f *testing.F) {
	seeds := []string{
		`{"name":"a","workflowId":"%WF%","cronExpression":"0 2 * * *"}`,
		`{"name":"a","workflowId":"%WF%","cronExpression":"0 2 * * *","timeoutMinutes":null,"expiresAt":null,"notificationConfig":null}`,
		`{"notificationConfig":{"webhookUrls":["https://hooks.slack.com/…/****"],"slackWebhookUrl":"https://x.example/…/****"}}`,
		`{"parameterValues":{"region":{"nested":[1,2,{"deep":null}]}}}`,
		`{"tags":[null],"retryAttempts":1e308,"version":-1}`,
		`{"status":"paused","statusReason":{"why":1}}`,
		`{"name":"\ud83d\ude00","description":"\u0000"}`,
		`{"expiresAt":"0000-01-01T00:00:00Z","timezone":"../../etc/passwd"}`,
		`[[[[[[[[[[[[[[[[[[[[`,
		``,
		"\xff\xfe{}",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e := newAPIEnv(f, dbtest.SQLite(f), Config{})
	wf := e.createWorkflow("Fuzz target")
	sid := e.createSchedule("Fuzz schedule", wf, nil)["id"].(string)
	f.Fuzz(func(t *testing.T, body []byte) {
		inner := *e
		inner.t = t
		inner.checkNo500([]byte(strings.ReplaceAll(string(body), "%WF%", wf)), sid)
	})
}
