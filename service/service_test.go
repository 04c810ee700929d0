package service

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/etl"
)

// t0 is the fake clock's start: a Monday, 10:00 UTC.
var t0 = time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)

// bundle is a service on a real store with a fake clock shared by both,
// one tenant with an editor principal and a workflow, and a recording
// scheduler.
type bundle struct {
	svc      *Service
	store    geoetl.Store
	clock    *clock.Fake
	sched    *recordingScheduler
	tenant   string
	editor   geoetl.Principal
	workflow string
}

// recordingScheduler records the wake-ups and cancels the use cases send.
type recordingScheduler struct {
	mu        sync.Mutex
	changed   int
	cancelled []string
}

func (r *recordingScheduler) Changed(context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changed++
}

func (r *recordingScheduler) CancelExecution(_ context.Context, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelled = append(r.cancelled, id)
}

const testDefinition = `{"metadata":{"name":"w"},"parameters":{"region":{"type":"string","defaultValue":"north"},"limit":{"type":"integer"}},"nodes":[],"edges":[]}`

// eachStore runs body on SQLite and on PostgreSQL. Every test that uses it
// has stores, clocks and schedulers of its own, so the tests run in
// parallel: most of their time is spent waiting for a database to be
// created or dropped.
func eachStore(t *testing.T, body func(t *testing.T, b *bundle)) {
	t.Parallel()
	dbtest.EachWith(t, func(t *testing.T, open func(t *testing.T, opts db.Options) geoetl.Store) {
		fc := clock.NewFake(t0)
		store := open(t, db.Options{Clock: fc})
		eng, err := etl.New(etl.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		rs := &recordingScheduler{}
		svc := New(Service{Store: store, Engine: eng, Scheduler: rs, Clock: fc})
		ctx := context.Background()
		tn, err := svc.CreateTenant(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		b := &bundle{svc: svc, store: store, clock: fc, sched: rs, tenant: tn.ID,
			editor: geoetl.Principal{TenantID: tn.ID, ActorID: "u1", Actor: "ed", Role: geoetl.RoleEditor, UserID: "u1"}}
		name := "Workflow"
		w, err := svc.CreateWorkflow(ctx, b.editor, WorkflowInput{Name: &name, Definition: json.RawMessage(testDefinition)})
		if err != nil {
			t.Fatal(err)
		}
		b.workflow = w.ID
		body(t, b)
	})
}

// schedule creates a schedule with the given cron expression and time zone.
func (b *bundle) schedule(t *testing.T, name, expr, tz string) *geoetl.Schedule {
	t.Helper()
	sc, err := b.svc.CreateSchedule(context.Background(), b.editor, geoetl.ScheduleUpdate{Name: &name, WorkflowID: &b.workflow, CronExpression: &expr, Timezone: &tz})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestCreateSchedule_ComputesNextRunInItsZoneFromTheClock(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		sc := b.schedule(t, "Berlin", "30 2 * * *", "Europe/Berlin")
		if want := time.Date(2027, 3, 2, 1, 30, 0, 0, time.UTC); sc.NextRunAt == nil || !sc.NextRunAt.Equal(want) {
			t.Fatalf("next run %v, want %v", sc.NextRunAt, want)
		}
		if b.sched.changed == 0 {
			t.Fatal("creating a schedule did not wake the scheduler")
		}
		got, err := b.svc.GetSchedule(context.Background(), b.editor, sc.ID)
		if err != nil || got.CreatedBy != "ed" || got.Version != 1 {
			t.Fatalf("stored: %+v, %v", got, err)
		}
	})
}

func TestCreateSchedule_NeedsEditorRole(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		viewer := b.editor
		viewer.Role = geoetl.RoleViewer
		name, expr := "x", "@daily"
		_, err := b.svc.CreateSchedule(context.Background(), viewer, geoetl.ScheduleUpdate{Name: &name, WorkflowID: &b.workflow, CronExpression: &expr})
		if geoetl.ErrorCode(err) != geoetl.EFORBIDDEN {
			t.Fatalf("viewer create: %v", err)
		}
	})
}

func TestCreateSchedule_OtherTenantsWorkflowIsNotFoundUnlessOtherFieldsAreBad(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		other, _ := b.svc.CreateTenant(ctx, "other")
		op := geoetl.Principal{TenantID: other.ID, Actor: "o", Role: geoetl.RoleEditor}
		name := "Theirs"
		w, err := b.svc.CreateWorkflow(ctx, op, WorkflowInput{Name: &name, Definition: json.RawMessage(testDefinition)})
		if err != nil {
			t.Fatal(err)
		}
		n, expr := "mine", "@daily"
		_, err = b.svc.CreateSchedule(ctx, b.editor, geoetl.ScheduleUpdate{Name: &n, WorkflowID: &w.ID, CronExpression: &expr})
		if geoetl.ErrorCode(err) != geoetl.ENOTFOUND || len(geoetl.ErrorFields(err)["workflowId"]) == 0 {
			t.Fatalf("other tenant's workflow: %v", err)
		}
		bad := "not cron"
		_, err = b.svc.CreateSchedule(ctx, b.editor, geoetl.ScheduleUpdate{Name: &n, WorkflowID: &w.ID, CronExpression: &bad})
		f := geoetl.ErrorFields(err)
		if geoetl.ErrorCode(err) != geoetl.EINVALID || len(f["workflowId"]) == 0 || len(f["cronExpression"]) == 0 {
			t.Fatalf("with a bad cron too: %v", err)
		}
	})
}

func TestCreateSchedule_PastExpiryIsExpiredWithoutNextRun(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		n, expr := "old", "@hourly"
		exp := t0.Add(-time.Minute)
		ep := &exp
		sc, err := b.svc.CreateSchedule(context.Background(), b.editor, geoetl.ScheduleUpdate{Name: &n, WorkflowID: &b.workflow, CronExpression: &expr, ExpiresAt: &ep})
		if err != nil {
			t.Fatal(err)
		}
		if sc.Status != geoetl.StatusExpired || sc.NextRunAt != nil || sc.StatusReason == nil {
			t.Fatalf("schedule past expiry: %+v", sc)
		}
	})
}

func TestUpdateSchedule_KeepsStoredSecretsAndIgnoresUnchangedStatus(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		n, expr := "s", "@daily"
		secret := "https://hooks.slack.com/services/T/B/SECRET"
		nc := geoetl.NotificationConfig{NotifyOnFailure: true, WebhookURLs: []string{"https://a.example/x/1", "https://b.example/y/2"}, SlackWebhookURL: &secret}
		sc, err := b.svc.CreateSchedule(ctx, b.editor, geoetl.ScheduleUpdate{Name: &n, WorkflowID: &b.workflow, CronExpression: &expr, NotificationConfig: &nc})
		if err != nil {
			t.Fatal(err)
		}
		// A client sends back the masked config with the URLs swapped and
		// one new URL, and the current status.
		masked := MaskedSchedule(sc).NotificationConfig
		masked.WebhookURLs = []string{masked.WebhookURLs[1], masked.WebhookURLs[0], "https://c.example/z"}
		st := geoetl.StatusActive
		up, err := b.svc.UpdateSchedule(ctx, b.editor, sc.ID, geoetl.ScheduleUpdate{NotificationConfig: &masked, Status: &st})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"https://b.example/y/2", "https://a.example/x/1", "https://c.example/z"}
		if strings.Join(up.NotificationConfig.WebhookURLs, " ") != strings.Join(want, " ") || *up.NotificationConfig.SlackWebhookURL != secret {
			t.Fatalf("secrets after update: %+v", up.NotificationConfig)
		}
		// An expired schedule sent back with its status is no error.
		exp := t0.Add(time.Hour)
		ep := &exp
		if _, err := b.svc.UpdateSchedule(ctx, b.editor, sc.ID, geoetl.ScheduleUpdate{ExpiresAt: &ep}); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(2 * time.Hour)
		exp2 := geoetl.StatusExpired
		if _, err := b.store.UpdateSchedule(ctx, b.tenant, sc.ID, nil, func(s *geoetl.Schedule) error { s.Status = exp2; return nil }); err != nil {
			t.Fatal(err)
		}
		d := "described"
		if _, err := b.svc.UpdateSchedule(ctx, b.editor, sc.ID, geoetl.ScheduleUpdate{Description: &d, Status: &exp2}); err != nil {
			t.Fatalf("sending back status expired: %v", err)
		}
	})
}

func TestUpdateSchedule_StaleVersionIsConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		sc := b.schedule(t, "s", "@daily", "UTC")
		d := "x"
		v := 1
		if _, err := b.svc.UpdateSchedule(ctx, b.editor, sc.ID, geoetl.ScheduleUpdate{Description: &d, ExpectedVersion: &v}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.UpdateSchedule(ctx, b.editor, sc.ID, geoetl.ScheduleUpdate{Description: &d, ExpectedVersion: &v}); !geoetl.IsConflict(err) {
			t.Fatalf("stale version: %v", err)
		}
	})
}

func TestResume_ComputesNextRunFromNow(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		sc := b.schedule(t, "s", "0 * * * *", "UTC")
		if _, err := b.svc.PauseSchedule(ctx, b.editor, sc.ID, "maintenance"); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(5*time.Hour + 10*time.Minute)
		up, err := b.svc.ResumeSchedule(ctx, b.editor, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := t0.Add(6 * time.Hour); up.NextRunAt == nil || !up.NextRunAt.Equal(want) || up.StatusReason != nil {
			t.Fatalf("resumed: next %v, want %v; reason %v", up.NextRunAt, want, up.StatusReason)
		}
	})
}

func TestRunNow_MergesOverridesAndWakesTheScheduler(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		sc := b.schedule(t, "s", "@daily", "UTC")
		before := b.sched.changed
		e, err := b.svc.RunNow(ctx, b.editor, sc.ID, map[string]any{"limit": 5.0}, true)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != geoetl.ExecPending || e.Trigger != geoetl.TriggerManual || !e.Force || !e.ScheduledAt.Equal(t0) || e.ParameterValues["limit"] != 5.0 {
			t.Fatalf("execution: %+v", e)
		}
		if b.sched.changed <= before {
			t.Fatal("run-now did not wake the scheduler")
		}
		if _, err := b.svc.CancelExecution(ctx, b.editor, e.ID); err != nil {
			t.Fatal(err)
		}
		if len(b.sched.cancelled) != 1 || b.sched.cancelled[0] != e.ID {
			t.Fatalf("cancel not passed to the scheduler: %v", b.sched.cancelled)
		}
	})
}

func TestBackfill_BoundsAndOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		sc := b.schedule(t, "s", "0 0 * * *", "UTC")
		from, to := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC)
		execs, err := b.svc.Backfill(ctx, b.editor, sc.ID, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(execs) != 5 || !execs[0].ScheduledAt.Equal(from) || !execs[4].ScheduledAt.Equal(to) {
			t.Fatalf("backfill of an inclusive range: %d runs, first %v", len(execs), execs[0].ScheduledAt)
		}
		for i := 1; i < len(execs); i++ {
			if !execs[i].DueAt.After(execs[i-1].DueAt) {
				t.Fatalf("due times do not keep the oldest first")
			}
		}
		minute := b.schedule(t, "m", "* * * * *", "UTC")
		_, err = b.svc.Backfill(ctx, b.editor, minute.ID, from, from.Add(MaxBackfillRuns*time.Minute))
		if len(geoetl.ErrorFields(err)["to"]) == 0 {
			t.Fatalf("a range of more than %d runs: %v", MaxBackfillRuns, err)
		}
		if _, err := b.svc.Backfill(ctx, b.editor, minute.ID, from, from.Add((MaxBackfillRuns-1)*time.Minute)); err != nil {
			t.Fatalf("exactly %d runs: %v", MaxBackfillRuns, err)
		}
	})
}

func TestNextRuns_StopAtExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		n, expr := "s", "0 * * * *"
		exp := t0.Add(3*time.Hour + 30*time.Minute)
		ep := &exp
		sc, err := b.svc.CreateSchedule(ctx, b.editor, geoetl.ScheduleUpdate{Name: &n, WorkflowID: &b.workflow, CronExpression: &expr, ExpiresAt: &ep})
		if err != nil {
			t.Fatal(err)
		}
		runs, err := b.svc.NextRuns(ctx, b.editor, sc.ID, 10, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 3 || !runs[0].Equal(t0.Add(time.Hour)) {
			t.Fatalf("runs before expiry: %v", runs)
		}
	})
}

func TestRestoreScheduleVersion(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		sc := b.schedule(t, "s", "@daily", "UTC")
		expr := "@hourly"
		if _, err := b.svc.UpdateSchedule(ctx, b.editor, sc.ID, geoetl.ScheduleUpdate{CronExpression: &expr}); err != nil {
			t.Fatal(err)
		}
		vs, err := b.svc.ScheduleVersions(ctx, b.editor, sc.ID)
		if err != nil || len(vs) != 2 || vs[0].Version != 2 || strings.Join(vs[0].Changes, ",") != "cronExpression" || len(vs[1].Changes) != 0 {
			t.Fatalf("versions: %+v %v", vs, err)
		}
		up, err := b.svc.RestoreScheduleVersion(ctx, b.editor, sc.ID, 1)
		if err != nil || up.CronExpression != "@daily" || up.Version != 3 {
			t.Fatalf("restored: %+v %v", up, err)
		}
		if _, err := b.svc.RestoreScheduleVersion(ctx, b.editor, sc.ID, 7); !geoetl.IsNotFound(err) {
			t.Fatalf("unknown version: %v", err)
		}
		// A version naming a workflow that is gone cannot come back.
		name := "Second"
		w2, err := b.svc.CreateWorkflow(ctx, b.editor, WorkflowInput{Name: &name, Definition: json.RawMessage(testDefinition)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.UpdateSchedule(ctx, b.editor, sc.ID, geoetl.ScheduleUpdate{WorkflowID: &w2.ID}); err != nil {
			t.Fatal(err)
		}
		if err := b.svc.DeleteWorkflow(ctx, b.editor, b.workflow, false); err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.RestoreScheduleVersion(ctx, b.editor, sc.ID, 1); !geoetl.IsConflict(err) {
			t.Fatalf("restoring a version whose workflow is gone: %v", err)
		}
	})
}

// recordingNotifier plans one delivery per schedule event.
type recordingNotifier struct {
	events []string
	kicks  int
}

func (n *recordingNotifier) PlanScheduleEvent(s *geoetl.Schedule, event string) []*geoetl.Delivery {
	n.events = append(n.events, s.ID+" "+event)
	sid := s.ID
	return []*geoetl.Delivery{{ID: geoetl.NewID(), TenantID: s.TenantID, ScheduleID: &sid, Event: event, Channel: geoetl.ChannelWebhook,
		Target: "https://example.com/h", MaskedTarget: "https://example.com/…/****", Payload: []byte(`{}`), Status: geoetl.DeliveryPending}}
}

func (n *recordingNotifier) Kick() { n.kicks++ }

func TestDeleteWorkflow_ForcedPutsSchedulesInErrorAndNotifies(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		rn := &recordingNotifier{}
		b.svc.Notifier = rn
		sc := b.schedule(t, "s", "@daily", "UTC")
		if err := b.svc.DeleteWorkflow(ctx, b.editor, b.workflow, false); !geoetl.IsConflict(err) {
			t.Fatalf("delete in use: %v", err)
		}
		if err := b.svc.DeleteWorkflow(ctx, b.editor, b.workflow, true); err != nil {
			t.Fatal(err)
		}
		got, _ := b.svc.GetSchedule(ctx, b.editor, sc.ID)
		if got.Status != geoetl.StatusError || got.NextRunAt != nil {
			t.Fatalf("schedule after forced delete: %+v", got)
		}
		if len(rn.events) != 1 || rn.events[0] != sc.ID+" schedule.error" || rn.kicks != 1 {
			t.Fatalf("notifications: %v kicks %d", rn.events, rn.kicks)
		}
		if _, err := b.svc.RunNow(ctx, b.editor, sc.ID, nil, false); !geoetl.IsConflict(err) {
			t.Fatalf("run-now without a workflow: %v", err)
		}
	})
}

func TestImportSchedules_ByNameAndWorkflowName(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.schedule(t, "existing", "@daily", "UTC")
		body := `{"schedules":[{"name":"existing","description":"changed","version":99},
			{"name":"fresh","workflowName":"Workflow","cronExpression":"@hourly"},
			{"name":"no workflow","workflowName":"Nope","cronExpression":"@hourly"},
			{"cronExpression":"@hourly"}, 5]}`
		res, err := b.svc.ImportSchedules(ctx, b.editor, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		actions := []string{}
		for _, r := range res {
			actions = append(actions, r.Action)
		}
		if strings.Join(actions, ",") != "updated,created,failed,failed,failed" {
			t.Fatalf("import actions: %v (%+v)", actions, res)
		}
		if len(res[2].Errors["workflowName"]) == 0 || len(res[3].Errors["name"]) == 0 {
			t.Fatalf("item errors: %+v %+v", res[2], res[3])
		}
		sc, _ := b.store.FindScheduleByName(ctx, b.tenant, "existing")
		if sc.Description != "changed" {
			t.Fatalf("the stale version of an import item must not block it: %+v", sc)
		}
		if _, err := b.svc.ImportSchedules(ctx, b.editor, []byte(`[{"name":"x","tenantId":"someone-else"}]`)); geoetl.ErrorCode(err) != geoetl.EFORBIDDEN {
			t.Fatalf("foreign tenantId: %v", err)
		}
	})
}

func TestPreviewCron(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		pv, err := b.svc.PreviewCron(ctx, b.editor, "30 2 * * *", "America/New_York", time.Date(2027, 3, 13, 12, 0, 0, 0, time.UTC), 2)
		if err != nil {
			t.Fatal(err)
		}
		if !pv.Valid || len(pv.Occurrences) != 2 || pv.Occurrences[0].Format(time.RFC3339) != "2027-03-14T07:00:00Z" {
			t.Fatalf("preview across spring forward: %+v", pv)
		}
		pv, err = b.svc.PreviewCron(ctx, b.editor, "@hourly", "", time.Time{}, 1)
		if err != nil || pv.Timezone != "UTC" || !pv.Occurrences[0].Equal(t0.Add(time.Hour)) {
			t.Fatalf("defaults (UTC, from now): %+v %v", pv, err)
		}
		_, err = b.svc.PreviewCron(ctx, b.editor, "61 * * * *", "Mars/Base", time.Time{}, 0)
		f := geoetl.ErrorFields(err)
		for _, k := range []string{"cronExpression", "timezone", "count"} {
			if len(f[k]) == 0 {
				t.Errorf("no error for %s: %v", k, f)
			}
		}
	})
}

func TestImportSchedules_RepeatedNamesAcrossBatchesUpdateTheEarlierItem(t *testing.T) {
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.schedule(t, "existing", "@daily", "UTC")
		// More items than one batch: the second batch is validated while
		// the first is written, and names a schedule of the first, one
		// of its own, and one that existed before.
		n := importBatch + 100
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = map[string]any{"name": fmt.Sprintf("item-%05d", i), "workflowId": b.workflow, "cronExpression": "@hourly"}
		}
		items[importBatch+1] = map[string]any{"name": "item-00005", "description": "from the second batch"}
		items[importBatch+2] = map[string]any{"name": "existing", "description": "imported"}
		items[importBatch+3] = map[string]any{"name": fmt.Sprintf("item-%05d", importBatch), "description": "twice in one batch"}
		body, _ := json.Marshal(map[string]any{"schedules": items})
		res, err := b.svc.ImportSchedules(ctx, b.editor, body)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for i, r := range res {
			count[r.Action]++
			want := "created"
			if i >= importBatch+1 && i <= importBatch+3 {
				want = "updated"
			}
			if r.Action != want || r.Index != i {
				t.Fatalf("item %d: %+v, want %s", i, r, want)
			}
		}
		if count["created"] != n-3 || count["updated"] != 3 {
			t.Fatalf("actions %v", count)
		}
		for name, desc := range map[string]string{"item-00005": "from the second batch", "existing": "imported", fmt.Sprintf("item-%05d", importBatch): "twice in one batch"} {
			sc, err := b.store.FindScheduleByName(ctx, b.tenant, name)
			if err != nil || sc.Description != desc || sc.Version != 2 {
				t.Fatalf("%s: %+v %v", name, sc, err)
			}
		}
		if got, err := b.store.CountSchedules(ctx, b.tenant); err != nil || got != n-2 {
			t.Fatalf("%d schedules (%v), want %d", got, err, n-2)
		}
	})
}

func TestImportSchedules_ItemsDecodedInPartsReportEachAtItsIndex(t *testing.T) {
	// Four parts, whatever the machine: the items at the edges of each
	// part are the ones a wrong split would lose or swap.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	eachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		n := 3*importDecodeShare + 7
		per := (n + 3) / 4
		bad := map[int]bool{0: true, per - 1: true, per: true, 3 * per: true, n - 1: true}
		items := make([]any, n)
		for i := range items {
			items[i] = map[string]any{"name": fmt.Sprintf("part-%05d", i), "workflowId": b.workflow, "cronExpression": "@hourly"}
			if bad[i] {
				items[i] = map[string]any{"name": fmt.Sprintf("part-%05d", i), "workflowId": b.workflow, "cronExpression": i}
			}
		}
		items[2*per] = 7 // not an object
		body, _ := json.Marshal(map[string]any{"schedules": items})
		res, err := b.svc.ImportSchedules(ctx, b.editor, body)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != n {
			t.Fatalf("%d results for %d items", len(res), n)
		}
		for i, r := range res {
			switch {
			case bad[i]:
				if r.Action != "failed" || r.Name != "" && r.Name != fmt.Sprintf("part-%05d", i) || len(r.Errors["cronExpression"]) == 0 {
					t.Fatalf("item %d: %+v, want a failure naming cronExpression", i, r)
				}
			case i == 2*per:
				if r.Action != "failed" || r.Error == "" {
					t.Fatalf("item %d: %+v, want a failure", i, r)
				}
			default:
				if r.Action != "created" || r.Name != fmt.Sprintf("part-%05d", i) {
					t.Fatalf("item %d: %+v, want part-%05d created", i, r, i)
				}
			}
			if r.Index != i {
				t.Fatalf("item %d reported as %d", i, r.Index)
			}
		}
		// Ids ascend in the order of creation, so that an import appends
		// to the id indexes instead of writing a random page per row.
		last := ""
		for _, r := range res {
			if r.ID == "" {
				continue
			}
			if r.ID <= last {
				t.Fatalf("id %s of item %d after %s", r.ID, r.Index, last)
			}
			last = r.ID
		}
		// The first item naming another tenant is the one named, in
		// whichever part it was decoded.
		items[3*per+1] = map[string]any{"name": "x", "tenantId": "someone-else"}
		items[per+1] = map[string]any{"name": "y", "tenantId": "someone-else", "cronExpression": 5}
		body, _ = json.Marshal(map[string]any{"schedules": items})
		_, err = b.svc.ImportSchedules(ctx, b.editor, body)
		if geoetl.ErrorCode(err) != geoetl.EFORBIDDEN || len(geoetl.ErrorFields(err)[fmt.Sprintf("schedules[%d].tenantId", per+1)]) == 0 {
			t.Fatalf("foreign tenantId: %v %v", err, geoetl.ErrorFields(err))
		}
	})
}
