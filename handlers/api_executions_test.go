package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// finishedExecution records a completed run with two node records and
// three log lines, through the scheduler's store methods.
func (e *apiEnv) finishedExecution(scheduleID, workflowID string) string {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ex := &geoetl.Execution{ID: geoetl.NewID(), TenantID: e.tenant, ScheduleID: &scheduleID, WorkflowID: workflowID,
		WorkflowRunID: geoetl.NewID(), ScheduledAt: now, DueAt: now, Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending,
		ParameterValues: map[string]any{}, CreatedAt: now}
	if err := e.store.CreateExecution(ctx, ex); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.StartExecutions(ctx, []geoetl.ExecutionStart{{ExecutionID: ex.ID, InstanceID: "test", ExecutedAt: now}}); err != nil {
		e.t.Fatal(err)
	}
	done := now.Add(1500 * time.Millisecond)
	ms := int64(1500)
	err := e.store.AppendNodeRuns(ctx, []*geoetl.NodeRun{
		{ExecutionID: ex.ID, NodeID: "src", NodeType: "data_source.file", Status: "completed", StartedAt: &now, CompletedAt: &done, DurationMs: &ms, FeaturesOut: 12},
		{ExecutionID: ex.ID, NodeID: "out", NodeType: "data_sink.geojson", Status: "completed", StartedAt: &now, CompletedAt: &done, DurationMs: &ms, FeaturesIn: 12, FeaturesOut: 12},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var logs []*geoetl.LogEntry
	for i := 1; i <= 3; i++ {
		logs = append(logs, &geoetl.LogEntry{ExecutionID: ex.ID, Seq: int64(i), At: now, Level: "info", Message: "line " + strconv.Itoa(i)})
	}
	if err := e.store.AppendLogs(ctx, logs); err != nil {
		e.t.Fatal(err)
	}
	ex.Status, ex.CompletedAt, ex.DurationMs = geoetl.ExecCompleted, &done, &ms
	ex.ExecutedAt = &now
	ex.Summary = map[string]any{"featuresRead": 12, "featuresWritten": 12}
	if err := e.store.FinishExecutions(ctx, []geoetl.ExecutionResult{{Execution: ex}}); err != nil {
		e.t.Fatal(err)
	}
	return ex.ID
}

func TestExecutions_GetNodesLogsNotificationsAndCancel(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		sid := e.createSchedule("S", wf, nil)["id"].(string)
		done := e.finishedExecution(sid, wf)
		v, ed := e.as(geoetl.RoleViewer), e.as(geoetl.RoleEditor)

		got := v.get("/executions/" + done).want(http.StatusOK).object()
		if got["status"] != "completed" || got["durationMs"] != 1500.0 || got["scheduleId"] != sid {
			t.Fatalf("execution: %v", got)
		}
		var nodes struct {
			Items []map[string]any `json:"items"`
			Total int              `json:"total"`
		}
		v.get("/executions/" + done + "/nodes").want(http.StatusOK).decode(&nodes)
		if nodes.Total != 2 || len(nodes.Items) != 2 {
			t.Fatalf("nodes: %+v", nodes)
		}
		var logs logPage
		v.get("/executions/" + done + "/logs?limit=2").want(http.StatusOK).decode(&logs)
		if len(logs.Items) != 2 || logs.NextCursor == nil || logs.Items[0].Message != "line 1" {
			t.Fatalf("logs page 1: %+v", logs)
		}
		v.get("/executions/" + done + "/logs?limit=2&cursor=" + *logs.NextCursor).decode(&logs)
		if len(logs.Items) != 1 || logs.NextCursor != nil || logs.Items[0].Message != "line 3" {
			t.Fatalf("logs page 2: %+v", logs)
		}
		v.get("/executions/" + done + "/logs?afterSeq=3").decode(&logs)
		if len(logs.Items) != 0 || logs.NextCursor != nil {
			t.Fatalf("logs after the end: %+v", logs)
		}
		v.get("/executions/" + done + "/logs?limit=0").wantField("limit")
		v.get("/executions/" + done + "/logs?cursor=x").wantField("cursor")
		var ds struct {
			Items      []map[string]any `json:"items"`
			Total      int              `json:"total"`
			NextCursor *string          `json:"nextCursor"`
		}
		v.get("/executions/" + done + "/notifications").want(http.StatusOK).decode(&ds)
		if ds.Total != 0 || ds.NextCursor != nil {
			t.Fatalf("notifications before any: %+v", ds)
		}
		err := e.store.CreateDeliveries(context.Background(), []*geoetl.Delivery{{ID: geoetl.NewID(), TenantID: e.tenant, ExecutionID: &done,
			ScheduleID: &sid, Event: "execution.completed", Channel: geoetl.ChannelSlack, Target: "https://hooks.slack.com/services/T/B/SECRET",
			MaskedTarget: "https://hooks.slack.com/…/****", Payload: []byte(`{}`), Status: geoetl.DeliveryPending, CreatedAt: time.Now().UTC()}})
		if err != nil {
			t.Fatal(err)
		}
		r := v.get("/executions/" + done + "/notifications").want(http.StatusOK)
		r.decode(&ds)
		if ds.Total != 1 || ds.Items[0]["target"] != "https://hooks.slack.com/…/****" || ds.Items[0]["channel"] != "slack" || strings.Contains(string(r.Body), "SECRET") {
			t.Fatalf("notifications: %s", r.Body)
		}

		ed.post("/executions/"+done+"/cancel", nil).want(http.StatusConflict).problem()
		pending := ed.post("/schedules/"+sid+"/run-now", nil).object()["id"].(string)
		c := ed.post("/executions/"+pending+"/cancel", nil).want(http.StatusAccepted).object()
		if c["status"] != "cancelled" {
			t.Fatalf("cancelled pending execution: %v", c)
		}
		ed.post("/executions/"+pending+"/cancel", nil).want(http.StatusConflict)
		for _, p := range []string{"", "/nodes", "/logs", "/notifications"} {
			v.get("/executions/" + geoetl.NewID() + p).want(http.StatusNotFound)
		}
		ed.post("/executions/"+geoetl.NewID()+"/cancel", nil).want(http.StatusNotFound)
	})
}

func TestListExecutions_FiltersAndPaging(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, e *apiEnv) {
		wf := e.createWorkflow("Parcels")
		a := e.createSchedule("A", wf, nil)["id"].(string)
		b := e.createSchedule("B", wf, nil)["id"].(string)
		ed := e.as(geoetl.RoleEditor)
		for i := 0; i < 3; i++ {
			ed.post("/schedules/"+a+"/run-now", nil).want(http.StatusAccepted)
		}
		ed.post("/schedules/"+b+"/run-now", nil).want(http.StatusAccepted)
		ed.post("/workflows/"+wf+"/run", nil).want(http.StatusAccepted)
		e.inOther()
		var p struct {
			Items      []map[string]any `json:"items"`
			Total      int              `json:"total"`
			NextCursor *string          `json:"nextCursor"`
		}
		v := e.as(geoetl.RoleViewer)
		v.get("/executions").want(http.StatusOK).decode(&p)
		if p.Total != 5 {
			t.Fatalf("all: %+v", p)
		}
		v.get("/executions?scheduleId=" + a).decode(&p)
		if p.Total != 3 {
			t.Fatalf("of A: %+v", p)
		}
		v.get("/executions?limit=2").decode(&p)
		if len(p.Items) != 2 || p.NextCursor == nil {
			t.Fatalf("page 1: %+v", p)
		}
		seen := map[string]bool{}
		for _, it := range p.Items {
			seen[it["id"].(string)] = true
		}
		for p.NextCursor != nil {
			v.get("/executions?limit=2&cursor=" + *p.NextCursor).decode(&p)
			for _, it := range p.Items {
				if seen[it["id"].(string)] {
					t.Fatalf("execution %v listed twice while paging", it["id"])
				}
				seen[it["id"].(string)] = true
			}
		}
		if len(seen) != 5 {
			t.Fatalf("paging saw %d executions, want 5", len(seen))
		}
		v.get("/executions?trigger=manual&status=pending&since=2000-01-01T00:00:00Z").decode(&p)
		if p.Total != 5 {
			t.Fatalf("trigger/status/since filters: %+v", p)
		}
		v.get("/executions?until=2000-01-01T00:00:00Z").decode(&p)
		if p.Total != 0 {
			t.Fatalf("until filter: %+v", p)
		}
		for _, bad := range []struct{ q, field string }{
			{"status=done", "status"}, {"trigger=cron", "trigger"}, {"since=yesterday", "since"},
			{"until=1", "until"}, {"scheduleId=x", "scheduleId"}, {"workflowId=x", "workflowId"}, {"limit=999", "limit"},
		} {
			v.get("/executions?" + bad.q).wantField(bad.field)
		}
	})
}
