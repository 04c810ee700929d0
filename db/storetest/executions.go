package storetest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func (s *suite) executions(t *testing.T) {
	st, clk := s.fresh(t)

	t.Run("CreateAndFindRoundTrip", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		e := w.execution(x, epoch.Add(-time.Hour), geoetl.TriggerManual)
		e.CreatedBy, e.Force, e.WorkflowRunID = "alice", true, "run-1"
		w.mustExecution(t, e)
		if !geoetl.IsUUID(e.ID) || !e.DueAt.Equal(e.ScheduledAt) || e.CreatedAt.IsZero() {
			t.Fatalf("CreateExecution filled %+v", e)
		}
		got, err := st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		sameJSON(t, "execution", got, e)
		if !got.Force || got.CreatedBy != "alice" {
			t.Fatalf("force/createdBy lost: %+v", got)
		}
		adhoc := w.mustExecution(t, w.execution(nil, epoch, geoetl.TriggerManual))
		got, err = st.FindExecutionByID(bg, w.ten.ID, adhoc.ID)
		noErr(t, err)
		if got.ScheduleID != nil {
			t.Fatalf("ad hoc run has schedule %v", *got.ScheduleID)
		}
	})

	t.Run("OccurrenceKeyIsUniqueForScheduleAndCatchupOnly", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		at := epoch.Add(-time.Minute)
		w.mustExecution(t, w.execution(x, at, geoetl.TriggerSchedule))
		for _, trig := range []geoetl.Trigger{geoetl.TriggerSchedule, geoetl.TriggerCatchup} {
			err := st.CreateExecution(bg, w.execution(x, at, trig))
			wantCode(t, err, geoetl.ECONFLICT)
		}
		// Retries, run-nows and backfills of the same occurrence are their
		// own rows.
		for _, trig := range []geoetl.Trigger{geoetl.TriggerRetry, geoetl.TriggerManual, geoetl.TriggerBackfill, geoetl.TriggerManual} {
			w.mustExecution(t, w.execution(x, at, trig))
		}
		// Another schedule's occurrence at the same time is distinct.
		w.mustExecution(t, w.execution(w.schedule(t, nil), at, geoetl.TriggerSchedule))
	})

	t.Run("FindExecutionsNewestFirstWithFiltersAndCursor", func(t *testing.T) {
		w := newWorld(t, st)
		a, b := w.schedule(t, nil), w.schedule(t, nil)
		var want []*geoetl.Execution // newest first
		for i := 0; i < 7; i++ {
			x := a
			if i%2 == 1 {
				x = b
			}
			e := w.execution(x, epoch.Add(time.Duration(i)*time.Minute), geoetl.TriggerSchedule)
			if i == 3 {
				e.Status = geoetl.ExecFailed
			}
			want = append([]*geoetl.Execution{w.mustExecution(t, e)}, want...)
		}
		// Two runs of one occurrence: the later created comes first.
		clk.Advance(time.Second)
		retry := w.execution(a, epoch.Add(6*time.Minute), geoetl.TriggerRetry)
		w.mustExecution(t, retry)
		want = append([]*geoetl.Execution{retry}, want...)

		got, total, next, err := st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID})
		noErr(t, err)
		sameIDs(t, "newest first", execIDs(got), execIDs(want))
		if total != 8 || next != "" {
			t.Fatalf("total %d next %q", total, next)
		}
		var walked []*geoetl.Execution
		f := geoetl.ExecutionFilter{TenantID: w.ten.ID, Page: geoetl.Page{Limit: 3}}
		for {
			page, _, next, err := st.FindExecutions(bg, f)
			noErr(t, err)
			walked = append(walked, page...)
			if next == "" {
				break
			}
			f.Cursor = next
		}
		sameIDs(t, "walked", execIDs(walked), execIDs(want))

		hist, total, _, err := st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, ScheduleID: b.ID})
		noErr(t, err)
		if total != 3 || len(hist) != 3 {
			t.Fatalf("history of b: %d", total)
		}
		_, total, _, err = st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, Status: geoetl.ExecFailed})
		noErr(t, err)
		if total != 1 {
			t.Fatalf("failed: %d", total)
		}
		_, total, _, err = st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, Trigger: geoetl.TriggerRetry, WorkflowID: w.wf.ID})
		noErr(t, err)
		if total != 1 {
			t.Fatalf("retries: %d", total)
		}
		since, until := epoch.Add(2*time.Minute), epoch.Add(5*time.Minute)
		_, total, _, err = st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, Since: &since, Until: &until})
		noErr(t, err)
		if total != 3 {
			t.Fatalf("since/until: %d, want 3", total)
		}
		_, _, _, err = st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: w.ten.ID, Page: geoetl.Page{Cursor: "nope"}})
		wantCode(t, err, geoetl.EINVALID)
	})

	// A schedule's history is ordered by occurrence, then creation, then
	// id; runs of one occurrence (retries, run-nows, backfills) and runs
	// created at the same instant keep that order across pages.
	t.Run("ScheduleHistoryOrdersRunsOfOneOccurrenceAcrossPages", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		at := epoch.Add(-time.Hour)
		created := epoch.Add(-30 * time.Minute)
		var all []*geoetl.Execution
		add := func(e *geoetl.Execution, createdAt time.Time) {
			e.CreatedAt = createdAt
			all = append(all, w.mustExecution(t, e))
		}
		add(w.execution(x, at.Add(-time.Minute), geoetl.TriggerSchedule), created)
		add(w.execution(x, at, geoetl.TriggerSchedule), created)
		for i, trig := range []geoetl.Trigger{geoetl.TriggerRetry, geoetl.TriggerManual, geoetl.TriggerBackfill, geoetl.TriggerManual} {
			// Two pairs created at the same instant: the id decides.
			add(w.execution(x, at, trig), created.Add(time.Duration(1+i/2)*time.Second))
		}
		add(w.execution(x, at.Add(time.Minute), geoetl.TriggerSchedule), created)
		want := append([]*geoetl.Execution(nil), all...)
		sort.Slice(want, func(i, j int) bool {
			a, b := want[i], want[j]
			if !a.ScheduledAt.Equal(b.ScheduledAt) {
				return a.ScheduledAt.After(b.ScheduledAt)
			}
			if !a.CreatedAt.Equal(b.CreatedAt) {
				return a.CreatedAt.After(b.CreatedAt)
			}
			return a.ID > b.ID
		})
		for _, limit := range []int{1, 2, 3, 10} {
			var walked []*geoetl.Execution
			f := geoetl.ExecutionFilter{TenantID: w.ten.ID, ScheduleID: x.ID, Page: geoetl.Page{Limit: limit}}
			for {
				page, total, next, err := st.FindExecutions(bg, f)
				noErr(t, err)
				if total != len(want) {
					t.Fatalf("limit %d: total %d, want %d", limit, total, len(want))
				}
				walked = append(walked, page...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			sameIDs(t, fmt.Sprintf("history walked %d at a time", limit), execIDs(walked), execIDs(want))
		}
	})

	t.Run("RequestCancelPendingRunningFinished", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		pending := w.mustExecution(t, w.execution(x, epoch, geoetl.TriggerManual))
		got, err := st.RequestCancel(bg, w.ten.ID, pending.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecCancelled || got.CompletedAt == nil || got.ErrorMessage == nil || *got.ErrorMessage != geoetl.ErrorCancelledByUser {
			t.Fatalf("cancelled pending = %+v", got)
		}
		stored, err := st.FindExecutionByID(bg, w.ten.ID, pending.ID)
		noErr(t, err)
		sameJSON(t, "stored cancel", stored, got)

		inst := "node-1"
		running := w.execution(x, epoch.Add(time.Minute), geoetl.TriggerManual)
		running.Status, running.InstanceID, running.ExecutedAt = geoetl.ExecRunning, &inst, &epoch
		w.mustExecution(t, running)
		got, err = st.RequestCancel(bg, w.ten.ID, running.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecRunning || !got.CancelRequested {
			t.Fatalf("running after cancel request = %s, flag %v", got.Status, got.CancelRequested)
		}
		done := w.execution(x, epoch.Add(2*time.Minute), geoetl.TriggerManual)
		done.Status = geoetl.ExecCompleted
		w.mustExecution(t, done)
		for _, id := range []string{done.ID, pending.ID} {
			_, err = st.RequestCancel(bg, w.ten.ID, id)
			wantCode(t, err, geoetl.ECONFLICT)
		}
	})

	t.Run("NodesAndLogs", func(t *testing.T) {
		w := newWorld(t, st)
		e := w.mustExecution(t, w.execution(nil, epoch, geoetl.TriggerManual))
		t1, t2 := epoch.Add(time.Second), epoch.Add(2*time.Second)
		noErr(t, st.AppendNodeRuns(bg, []*geoetl.NodeRun{
			{ExecutionID: e.ID, NodeID: "src", NodeType: "data_source.file", Status: "running", StartedAt: &t1},
			{ExecutionID: e.ID, NodeID: "out", NodeType: "data_sink.geojson", Status: "pending"},
		}))
		dur := int64(1000)
		// Recording a node again updates it in place.
		noErr(t, st.AppendNodeRuns(bg, []*geoetl.NodeRun{
			{ExecutionID: e.ID, NodeID: "src", NodeType: "data_source.file", Status: "completed", StartedAt: &t1, CompletedAt: &t2, DurationMs: &dur, FeaturesIn: 10, FeaturesOut: 9},
		}))
		nodes, err := st.ExecutionNodes(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if len(nodes) != 2 || nodes[0].NodeID != "src" || nodes[0].Status != "completed" || nodes[0].FeaturesOut != 9 ||
			*nodes[0].DurationMs != 1000 || !nodes[0].CompletedAt.Equal(t2) || nodes[1].NodeID != "out" || nodes[1].StartedAt != nil {
			t.Fatalf("nodes = %+v %+v", nodes[0], nodes[len(nodes)-1])
		}
		var logs []*geoetl.LogEntry
		for i := 0; i < 5; i++ {
			logs = append(logs, &geoetl.LogEntry{ExecutionID: e.ID, Level: "info", NodeID: "src", Message: "line", At: epoch.Add(time.Duration(i) * time.Millisecond)})
		}
		noErr(t, st.AppendLogs(bg, logs[:3]))
		noErr(t, st.AppendLogs(bg, logs[3:]))
		for i, l := range logs {
			if l.Seq != int64(i+1) {
				t.Fatalf("log %d got seq %d", i, l.Seq)
			}
		}
		got, err := st.ExecutionLogs(bg, w.ten.ID, e.ID, 2, 2)
		noErr(t, err)
		if len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 4 || !got[0].At.Equal(logs[2].At) || got[0].Message != "line" {
			t.Fatalf("logs after 2 = %+v", got)
		}
		got, err = st.ExecutionLogs(bg, w.ten.ID, e.ID, 0, 0)
		noErr(t, err)
		if len(got) != 5 {
			t.Fatalf("all logs: %d", len(got))
		}
	})

	t.Run("AnotherTenantsExecutionIsNotFound", func(t *testing.T) {
		w := newWorld(t, st)
		e := w.mustExecution(t, w.execution(w.schedule(t, nil), epoch, geoetl.TriggerManual))
		noErr(t, st.CreateDeliveries(bg, []*geoetl.Delivery{{TenantID: w.ten.ID, ExecutionID: &e.ID, Event: "execution.failed", Channel: geoetl.ChannelEmail, Target: "a@example.com"}}))
		other := mustTenant(t, st)
		for _, tid := range append([]string{other.ID}, badIDs...) {
			_, err := st.FindExecutionByID(bg, tid, e.ID)
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = st.RequestCancel(bg, tid, e.ID)
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = st.ExecutionNodes(bg, tid, e.ID)
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = st.ExecutionLogs(bg, tid, e.ID, 0, 10)
			wantCode(t, err, geoetl.ENOTFOUND)
			_, err = st.ListDeliveries(bg, tid, e.ID)
			wantCode(t, err, geoetl.ENOTFOUND)
		}
		for _, id := range badIDs {
			_, err := st.FindExecutionByID(bg, w.ten.ID, id)
			wantCode(t, err, geoetl.ENOTFOUND)
		}
		list, total, _, err := st.FindExecutions(bg, geoetl.ExecutionFilter{TenantID: other.ID})
		noErr(t, err)
		if len(list) != 0 || total != 0 {
			t.Fatal("FindExecutions shows another tenant's executions")
		}
		got, err := st.FindExecutionByID(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if got.Status != geoetl.ExecPending {
			t.Fatalf("the other tenant's cancel went through: %s", got.Status)
		}
	})

	t.Run("ExecutionStats", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		// Durations 100..2000 ms on 20 completed runs and one failed run of
		// 5000 ms; p95 by nearest rank over 21 values is the 20th smallest.
		var last *geoetl.Execution
		for i := 1; i <= 21; i++ {
			e := w.execution(x, epoch.Add(time.Duration(i)*time.Minute), geoetl.TriggerSchedule)
			e.Status = geoetl.ExecCompleted
			d := int64(i * 100)
			if i == 21 {
				e.Status, d = geoetl.ExecFailed, 5000
			}
			at := epoch.Add(time.Duration(i) * time.Minute)
			e.DurationMs, e.ExecutedAt = &d, &at
			last = w.mustExecution(t, e)
		}
		w.mustExecution(t, w.execution(x, epoch.Add(time.Hour), geoetl.TriggerSchedule)) // pending
		old := w.execution(x, epoch.Add(-48*time.Hour), geoetl.TriggerSchedule)
		old.Status = geoetl.ExecCompleted
		w.mustExecution(t, old) // before since
		w.mustExecution(t, w.execution(w.schedule(t, nil), epoch, geoetl.TriggerSchedule))

		stats, err := st.ExecutionStats(bg, w.ten.ID, x.ID, epoch.Add(-time.Hour))
		noErr(t, err)
		if stats.Total != 22 || stats.ByStatus[geoetl.ExecCompleted] != 20 || stats.ByStatus[geoetl.ExecFailed] != 1 || stats.ByStatus[geoetl.ExecPending] != 1 {
			t.Fatalf("counts: %+v", stats)
		}
		if stats.SuccessRate == nil || *stats.SuccessRate != 20.0/21.0 {
			t.Fatalf("success rate %v", stats.SuccessRate)
		}
		wantAvg := float64(21000+5000) / 21
		if stats.AvgDurationMs == nil || *stats.AvgDurationMs-wantAvg > 1e-9 || wantAvg-*stats.AvgDurationMs > 1e-9 {
			t.Fatalf("avg %v, want %v", stats.AvgDurationMs, wantAvg)
		}
		if stats.P95DurationMs == nil || *stats.P95DurationMs != 2000 {
			t.Fatalf("p95 %v, want 2000", stats.P95DurationMs)
		}
		if stats.LastRunAt == nil || !stats.LastRunAt.Equal(*last.ExecutedAt) || *stats.LastRunStatus != geoetl.ExecFailed {
			t.Fatalf("last run %v %v", stats.LastRunAt, stats.LastRunStatus)
		}
		if len(stats.RunsByHour) != 1 || !stats.RunsByHour[0].Hour.Equal(epoch.Truncate(time.Hour)) ||
			stats.RunsByHour[0].Completed != 20 || stats.RunsByHour[0].Failed != 1 {
			t.Fatalf("runs by hour %+v", stats.RunsByHour)
		}
		all, err := st.ExecutionStats(bg, w.ten.ID, "", epoch.Add(-72*time.Hour))
		noErr(t, err)
		if all.Total != 24 {
			t.Fatalf("tenant-wide total %d, want 24", all.Total)
		}
		none, err := st.ExecutionStats(bg, mustTenant(t, st).ID, "", time.Time{})
		noErr(t, err)
		if none.Total != 0 || none.SuccessRate != nil || none.P95DurationMs != nil || none.LastRunAt != nil {
			t.Fatalf("empty stats %+v", none)
		}
	})

	t.Run("MissRecordStandsForItsOccurrences", func(t *testing.T) {
		w := newWorld(t, st)
		x := w.schedule(t, nil)
		reason := geoetl.SkipReasonSuperseded
		rec := w.execution(x, epoch.Add(-10*time.Minute), geoetl.TriggerSchedule)
		until := epoch.Add(-time.Minute)
		rec.Status, rec.Skipped, rec.SkipReason, rec.MissedCount, rec.MissedUntil = geoetl.ExecSkipped, true, &reason, 10, &until
		w.mustExecution(t, rec)
		got, err := st.FindExecutionByID(bg, w.ten.ID, rec.ID)
		noErr(t, err)
		if got.MissedCount != 10 || got.MissedUntil == nil || !got.MissedUntil.Equal(until) {
			t.Fatalf("miss record read back as count %d until %v", got.MissedCount, got.MissedUntil)
		}
		single := w.execution(x, epoch, geoetl.TriggerSchedule)
		single.Status, single.Skipped, single.SkipReason, single.MissedCount, single.MissedUntil = geoetl.ExecSkipped, true, &reason, 1, &single.ScheduledAt
		w.mustExecution(t, single)
		done := w.execution(x, epoch.Add(time.Second), geoetl.TriggerSchedule)
		done.Status = geoetl.ExecCompleted
		w.mustExecution(t, done)

		stats, err := st.ExecutionStats(bg, w.ten.ID, x.ID, epoch.Add(-time.Hour))
		noErr(t, err)
		if stats.Missed != 11 || stats.ByStatus[geoetl.ExecSkipped] != 11 || stats.Total != 12 {
			t.Fatalf("stats count rows, not occurrences: missed %d, skipped %d, total %d; want 11, 11, 12",
				stats.Missed, stats.ByStatus[geoetl.ExecSkipped], stats.Total)
		}

		bad := w.execution(x, epoch.Add(-2*time.Hour), geoetl.TriggerSchedule)
		bad.Status, bad.Skipped, bad.SkipReason, bad.MissedCount = geoetl.ExecSkipped, true, &reason, 3
		wantCode(t, st.CreateExecution(bg, bad), geoetl.EINVALID)
		before := epoch.Add(-3 * time.Hour)
		bad.MissedUntil = &before
		wantCode(t, st.CreateExecution(bg, bad), geoetl.EINVALID)
	})
}
