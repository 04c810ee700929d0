package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/service"
)

// runNow creates a pending manual execution as the service's RunNow does.
func (b *bundle) runNow(sc *geoetl.Schedule, params map[string]any, force bool) *geoetl.Execution {
	b.t.Helper()
	now := b.clock.Now().UTC()
	e := &geoetl.Execution{
		ID: geoetl.NewID(), TenantID: b.tenant.ID, ScheduleID: &sc.ID, WorkflowID: sc.WorkflowID, WorkflowRunID: geoetl.NewID(),
		ScheduledAt: now, DueAt: now, Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending, ParameterValues: params, Force: force, CreatedAt: now,
	}
	if err := b.store.CreateExecution(context.Background(), e); err != nil {
		b.t.Fatal(err)
	}
	b.changed()
	return e
}

func TestRunNow(t *testing.T) {
	t.Parallel()
	t.Run("RunsAtOnceWithItsParameters", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defEmpty), "0 0 1 1 *", nil)
		e := b.runNow(sc, map[string]any{"region": "south"}, false)
		ev := b.waitStatus(sc, geoetl.ExecCompleted, 1)[0]
		if ev.ExecutionID != e.ID {
			t.Fatalf("completed %s, want the run-now %s", ev.ExecutionID, e.ID)
		}
		reqs := b.engine.requests()
		if len(reqs) != 1 || reqs[0].Parameters["region"] != "south" || reqs[0].Trigger != geoetl.TriggerManual {
			t.Fatalf("engine got %+v", reqs)
		}
		if got := b.execution(e.ID); !got.ExecutedAt.Equal(t0) {
			t.Fatalf("started at %v, want at once (%s)", got.ExecutedAt, t0)
		}
	})

	t.Run("ObeysTheOverlapPolicyUnlessForced", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		sc := b.schedule(b.workflow(defWait(600)), "0 0 1 1 *", nil)
		first := b.runNow(sc, nil, false)
		b.waitStatus(sc, geoetl.ExecRunning, 1)
		skipped := b.runNow(sc, nil, false)
		b.waitStatus(sc, geoetl.ExecSkipped, 1)
		if got := b.execution(skipped.ID); str(got.SkipReason) != geoetl.SkipReasonOverlap {
			t.Fatalf("second run-now: %s %s", got.Status, str(got.SkipReason))
		}
		forced := b.runNow(sc, nil, true)
		ev := b.waitStatus(sc, geoetl.ExecRunning, 1)[0]
		if ev.ExecutionID != forced.ID {
			t.Fatalf("running %s, want the forced run %s", ev.ExecutionID, forced.ID)
		}
		if b.engine.runCount(first.ID) != 1 {
			t.Fatal("first run-now did not run")
		}
	})

	t.Run("AdHocWorkflowRunHasNoSchedule", func(t *testing.T) {
		b := setupSQLite(t)
		b.start("i1", nil)
		wf := b.workflow(defEmpty)
		now := b.clock.Now()
		e := &geoetl.Execution{TenantID: b.tenant.ID, WorkflowID: wf.ID, ScheduledAt: now, DueAt: now, Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending}
		if err := b.store.CreateExecution(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		b.changed()
		b.waitEvent("the ad hoc run", func(ev geoetl.ExecutionEvent) bool {
			return ev.ExecutionID == e.ID && ev.Status == geoetl.ExecCompleted
		})
	})
}

func TestCancelExecution_StopsARunningOneAtOnce(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i1", nil)
	sc := b.schedule(b.workflow(defWait(3600)), "0 0 1 1 *", func(s *geoetl.Schedule) { s.RetryAttempts = 3 })
	e := b.runNow(sc, nil, false)
	b.waitStatus(sc, geoetl.ExecRunning, 1)
	if _, err := b.store.RequestCancel(context.Background(), b.tenant.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	s.CancelExecution(context.Background(), e.ID)
	b.waitStatus(sc, geoetl.ExecCancelled, 1)
	got := b.execution(e.ID)
	if str(got.ErrorMessage) != geoetl.ErrorCancelledByUser || got.CompletedAt == nil {
		t.Fatalf("cancelled run: %s %q", got.Status, str(got.ErrorMessage))
	}
	if n := len(b.history(sc)); n != 1 {
		t.Fatalf("%d executions: a cancelled run must not be retried", n)
	}
}

func TestCancelThroughHeartbeat_WhenTheRequestCameFromElsewhere(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i1", nil)
	sc := b.schedule(b.workflow(defWait(3600)), "0 0 1 1 *", nil)
	e := b.runNow(sc, nil, false)
	b.waitStatus(sc, geoetl.ExecRunning, 1)
	b.sched.runner.writer.drainForTest(t)
	// Another instance's API took the request: only the database knows.
	if _, err := b.store.RequestCancel(context.Background(), b.tenant.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	s.chores.heartbeat(context.Background())
	b.waitStatus(sc, geoetl.ExecCancelled, 1)
	if got := b.execution(e.ID); str(got.ErrorMessage) != geoetl.ErrorCancelledByUser {
		t.Fatalf("error = %q", str(got.ErrorMessage))
	}
}

func TestExpiry_NoRunAtOrAfterExpiresAtAndStatusExpired(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i1", nil)
	exp := t0.Add(2*time.Minute + 30*time.Second)
	sc := b.schedule(b.workflow(defEmpty), "* * * * *", func(s *geoetl.Schedule) { s.ExpiresAt = &exp })
	for i := 1; i <= 2; i++ {
		b.advanceTo(t0.Add(time.Duration(i) * time.Minute))
		b.waitStatus(sc, geoetl.ExecCompleted, 1)
	}
	if next := b.reload(sc).NextRunAt; next != nil {
		t.Fatalf("next run %v after the last occurrence before expiry", next)
	}
	b.advanceTo(t0.Add(4 * time.Minute))
	if err := s.chores.expire(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := b.reload(sc)
	if got.Status != geoetl.StatusExpired || got.NextRunAt != nil {
		t.Fatalf("status %s next %v, want expired", got.Status, got.NextRunAt)
	}
	if n := len(b.history(sc)); n != 2 {
		t.Fatalf("%d executions, want 2", n)
	}
}

func TestScheduleThatCannotFire_GoesToErrorWithAReasonAndNotifies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		break_ func(b *bundle, sc *geoetl.Schedule)
		reason string
	}{
		{"WorkflowGone", func(b *bundle, sc *geoetl.Schedule) {
			// Forced deletion puts the schedule into error itself; put it
			// back to active to see what the scheduler does with it.
			if _, err := b.store.DeleteWorkflow(context.Background(), b.tenant.ID, sc.WorkflowID, true); err != nil {
				b.t.Fatal(err)
			}
			b.update(sc, func(s *geoetl.Schedule) {
				next := t0.Add(time.Minute)
				s.Status, s.StatusReason, s.NextRunAt = geoetl.StatusActive, nil, &next
			})
		}, geoetl.ErrorWorkflowMissing},
		{"ExpressionNoLongerParses", func(b *bundle, sc *geoetl.Schedule) {
			b.update(sc, func(s *geoetl.Schedule) { s.CronExpression = "61 * * * *" })
		}, "invalid cron expression: minute: 61 is out of range 0-59"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupSQLite(t)
			n := newTestNotifier()
			b.start("i1", func(c *Config) { c.Notifier = n })
			sc := b.schedule(b.workflow(defEmpty), "* * * * *", nil)
			tt.break_(b, sc)
			b.advanceTo(t0.Add(time.Minute))
			ev := n.waitScheduleEvent(t)
			if ev.event != "schedule.error" || ev.schedule.ID != sc.ID || str(ev.schedule.StatusReason) != tt.reason {
				t.Fatalf("notified %s for %s with reason %q, want schedule.error with %q", ev.event, ev.schedule.ID, str(ev.schedule.StatusReason), tt.reason)
			}
			got := b.reload(sc)
			if got.Status != geoetl.StatusError || str(got.StatusReason) != tt.reason || got.NextRunAt != nil {
				t.Fatalf("status %s reason %q next %v", got.Status, str(got.StatusReason), got.NextRunAt)
			}
			if n := len(b.history(sc)); n != 0 {
				t.Fatalf("%d executions of a schedule that cannot fire", n)
			}
		})
	}
}

func TestReaper_FailsLostRunsAndRetriesThem(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i2", nil)
	sc := b.schedule(b.workflow(defEmpty), "0 0 1 1 *", func(s *geoetl.Schedule) { s.RetryAttempts, s.RetryDelayMinutes = 1, 0 })
	// An execution that instance i1 started and then died with, and a
	// claim i1 made and never started.
	lost := "i1"
	old := t0.Add(-5 * time.Hour) // older than the lease timeout
	mk := func(status geoetl.ExecutionStatus, at time.Time) *geoetl.Execution {
		e := &geoetl.Execution{TenantID: b.tenant.ID, ScheduleID: &sc.ID, WorkflowID: sc.WorkflowID, ScheduledAt: at, DueAt: at,
			Trigger: geoetl.TriggerSchedule, Status: status, InstanceID: &lost, HeartbeatAt: &old}
		if status == geoetl.ExecRunning {
			e.ExecutedAt = &old
		}
		if err := b.store.CreateExecution(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	running := mk(geoetl.ExecRunning, old)
	claimed := mk(geoetl.ExecPending, old.Add(time.Minute))
	if err := s.chores.reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := b.execution(running.ID)
	if got.Status != geoetl.ExecFailed || str(got.ErrorMessage) != geoetl.ErrorInstanceLost {
		t.Fatalf("lost run = %s %q", got.Status, str(got.ErrorMessage))
	}
	// The claim is handed back and run here; the lost run is retried here.
	b.waitStatus(sc, geoetl.ExecCompleted, 2)
	for _, e := range b.history(sc) {
		if e.ID == claimed.ID && str(e.InstanceID) != "i2" {
			t.Fatalf("handed-back claim ran on %s", str(e.InstanceID))
		}
		if e.Trigger == geoetl.TriggerRetry && (str(e.RetryOf) != running.ID || e.Status != geoetl.ExecCompleted) {
			t.Fatalf("retry = %+v", e)
		}
	}
	// Reaping again (a second reaper) changes nothing.
	if err := s.chores.reap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(b.history(sc)); n != 3 {
		t.Fatalf("%d executions after a second reap, want 3", n)
	}
}

func TestStop_HandsBackClaimsAndCancelsRunsAfterTheGrace(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i1", func(c *Config) { c.ShutdownGrace = 100 * time.Millisecond })
	long := b.schedule(b.workflow(defWait(3600)), "0 0 1 1 *", nil)
	e := b.runNow(long, nil, false)
	b.waitStatus(long, geoetl.ExecRunning, 1)
	// Claimed ahead, not yet started.
	soon := b.schedule(b.workflow(defEmpty), "* * * * *", nil)
	b.advanceTo(t0.Add(time.Minute - 200*time.Millisecond))
	b.waitStatus(soon, geoetl.ExecPending, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.execution(e.ID); got.Status != geoetl.ExecCancelled || str(got.ErrorMessage) != geoetl.ErrorCancelledShutdown {
		t.Fatalf("running at shutdown: %s %q", got.Status, str(got.ErrorMessage))
	}
	h := b.history(soon)
	if len(h) != 1 || h[0].Status != geoetl.ExecPending || h[0].InstanceID != nil {
		t.Fatalf("claim at shutdown = %+v, want handed back", h)
	}
	// The next instance runs it on time.
	b.start("i2", nil)
	b.advanceTo(t0.Add(time.Minute))
	ev := b.waitStatus(soon, geoetl.ExecCompleted, 1)[0]
	if got := b.execution(ev.ExecutionID); got.ID != h[0].ID || str(got.InstanceID) != "i2" || !got.ExecutedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after restart: %+v", got)
	}
}

func TestDST_ThroughTheDispatcher(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone, expr string
		from             string
		want             []string
	}{
		// Spring forward in New York: 02:30 does not exist on 2027-03-14
		// and fires once at the jump, 03:00 EDT.
		{"NewYorkSpringForwardFiresAtTheJump", "America/New_York", "30 2 * * *", "2027-03-13T12:00:00Z",
			[]string{"2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"}},
		// Fall back: a fixed time fires once, in the first pass.
		{"NewYorkFallBackFixedTimeOnce", "America/New_York", "30 1 * * *", "2027-11-06T12:00:00Z",
			[]string{"2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"}},
		// Fall back: an interval expression fires in both passes.
		{"NewYorkFallBackIntervalTwice", "America/New_York", "30 * * * *", "2027-11-07T04:00:00Z",
			[]string{"2027-11-07T04:30:00Z", "2027-11-07T05:30:00Z", "2027-11-07T06:30:00Z", "2027-11-07T07:30:00Z"}},
		// Lord Howe moves by half an hour: 02:15 does not exist on
		// 2027-10-03 and fires at the jump (02:00 standard = 15:00Z).
		{"LordHoweHalfHourSpringForward", "Australia/Lord_Howe", "15 2 * * *", "2027-10-01T12:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setupSQLite(t)
			b.advanceTo(mustTime(t, tt.from))
			b.start("i1", nil)
			sc := b.schedule(b.workflow(defEmpty), tt.expr, func(s *geoetl.Schedule) { s.Timezone = tt.zone })
			var want []time.Time
			for _, w := range tt.want {
				want = append(want, mustTime(t, w))
			}
			if tt.name == "LordHoweHalfHourSpringForward" {
				want = wantLordHowe(t, sc)
			}
			for _, at := range want {
				b.advanceTo(at)
				b.waitStatus(sc, geoetl.ExecCompleted, 1)
			}
			h := b.history(sc)
			if len(h) != len(want) {
				t.Fatalf("%d executions, want %d", len(h), len(want))
			}
			for i, e := range h {
				if !e.ScheduledAt.Equal(want[i]) || !e.ExecutedAt.Equal(want[i]) {
					t.Errorf("run %d: occurrence %s started %v, want %s", i, e.ScheduledAt, e.ExecutedAt, want[i])
				}
			}
		})
	}
}

// wantLordHowe computes the Lord Howe expectations from the zone data: the
// day before the change 02:15 is at +10:30, on the day of the change
// 02:15 does not exist and the run fires at the jump (02:00 +10:30, which
// is 02:30 +11:00).
func wantLordHowe(t *testing.T, sc *geoetl.Schedule) []time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Australia/Lord_Howe")
	if err != nil {
		t.Skipf("no zone data for Australia/Lord_Howe: %v", err)
	}
	dayBefore := time.Date(2027, 10, 2, 2, 15, 0, 0, loc).UTC()
	jump := time.Date(2027, 10, 3, 2, 0, 0, 0, time.FixedZone("LHST", 10*3600+1800)).UTC()
	if _, off := jump.In(loc).Zone(); off != 11*3600 {
		t.Fatalf("zone data: %s is at offset %d, expected the change to +11:00 there", jump, off)
	}
	return []time.Time{dayBefore, jump}
}

func TestPauseResume_ThroughTheService(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	s := b.start("i1", nil)
	svc := service.New(service.Service{Store: b.store, Engine: b.engine, Scheduler: s, Clock: b.clock, Logger: testLogger(t)})
	p := geoetl.Principal{TenantID: b.tenant.ID, Actor: "tester", ActorID: "tester", Role: geoetl.RoleEditor}
	sc := b.schedule(b.workflow(defEmpty), "* * * * *", nil)
	b.advanceTo(t0.Add(time.Minute))
	b.waitStatus(sc, geoetl.ExecCompleted, 1)
	if _, err := svc.PauseSchedule(context.Background(), p, sc.ID, "maintenance"); err != nil {
		t.Fatal(err)
	}
	b.advanceTo(t0.Add(2 * time.Minute))
	b.advanceTo(t0.Add(3*time.Minute + 30*time.Second))
	resumed, err := svc.ResumeSchedule(context.Background(), p, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.NextRunAt == nil || !resumed.NextRunAt.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("next run after resume = %v, want computed from now (%s)", resumed.NextRunAt, t0.Add(4*time.Minute))
	}
	b.advanceTo(t0.Add(4 * time.Minute))
	b.waitStatus(sc, geoetl.ExecCompleted, 1)
	var got []time.Time
	for _, e := range b.history(sc) {
		got = append(got, e.ScheduledAt)
	}
	if len(got) != 2 || !got[0].Equal(t0.Add(time.Minute)) || !got[1].Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("runs at %v, want 10:01 and 10:04 only (nothing while paused, no catch-up)", got)
	}
}

func TestNotifications_OnlyForTheFinalOutcome(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	n := newTestNotifier()
	b.start("i1", func(c *Config) { c.Notifier = n })
	sc := b.schedule(b.workflow(defFail), "0 * * * *", func(s *geoetl.Schedule) { s.RetryAttempts, s.RetryDelayMinutes = 1, 0 })
	b.advanceTo(t0.Add(time.Hour))
	b.waitStatus(sc, geoetl.ExecFailed, 2)
	b.sched.runner.writer.drainForTest(t)
	evs := n.executionEvents()
	if len(evs) != 2 || !evs[0].WillRetry || evs[1].WillRetry || evs[1].Execution.RetryCount != 1 || evs[1].WorkflowName == "" {
		t.Fatalf("planned %d notifications: %+v", len(evs), evs)
	}
}
