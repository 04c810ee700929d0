package scheduler

import (
	"slices"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// These pin down decideOverlap on its own: what the overlap policy says
// of contended jobs given the occupancy the decider read. No store, no
// clock: the view is built by hand.

const (
	here  = "i1" // the deciding instance
	there = "i2" // another instance
)

var decideT0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// overlapCase builds the rows of one schedule's occupancy and the
// contended jobs among them.
type overlapCase struct {
	sc   *geoetl.Schedule
	rows []*geoetl.Execution
	jobs []*job
	mine map[string]jobState
}

func newOverlapCase(policy geoetl.OverlapPolicy, limit int) *overlapCase {
	return &overlapCase{
		sc:   &geoetl.Schedule{ID: "sc", OverlapPolicy: policy, MaxConcurrentExecutions: limit},
		mine: map[string]jobState{},
	}
}

// row adds an occupancy row: claimed by instance ("" for unclaimed),
// with the given status, due at due.
func (c *overlapCase) row(id, instance string, st geoetl.ExecutionStatus, due time.Time) *geoetl.Execution {
	scID := c.sc.ID
	e := &geoetl.Execution{ID: id, ScheduleID: &scID, Status: st, ScheduledAt: due, DueAt: due}
	if instance != "" {
		e.InstanceID = &instance
	}
	c.rows = append(c.rows, e)
	return e
}

// contended adds a row claimed here, due at due, and its contended job.
func (c *overlapCase) contended(id string, due time.Time) *job {
	e := c.row(id, here, geoetl.ExecPending, due)
	j := &job{exec: e, schedule: c.sc, fireAt: due, state: jobDeciding}
	c.jobs = append(c.jobs, j)
	c.mine[id] = jobDeciding
	return j
}

// ownRun adds a row this instance runs (or holds in another state).
func (c *overlapCase) own(id string, st jobState) {
	status := geoetl.ExecPending
	if st == jobRunning {
		status = geoetl.ExecRunning
	}
	c.row(id, here, status, decideT0.Add(-time.Minute))
	c.mine[id] = st
}

func (c *overlapCase) view(local time.Time) overlapView {
	return overlapView{
		instance:  here,
		dbNow:     local,
		local:     local,
		grace:     5 * time.Second,
		schedules: map[string]*geoetl.Schedule{c.sc.ID: c.sc},
		occupancy: map[string][]*geoetl.Execution{c.sc.ID: c.rows},
		mine:      c.mine,
	}
}

func TestDecideOverlap(t *testing.T) {
	t.Parallel()
	due := decideT0
	atDue := due                          // decided at the occurrence's time
	pastGrace := due.Add(5 * time.Second) // the misfire grace has run out
	poll := atDue.Add(deciderPoll)        // when a waiting job is looked at again
	type want struct {
		kind    decisionKind
		reason  string
		cancels []string
		again   time.Time
	}
	cases := []struct {
		name    string
		setup   func() *overlapCase
		now     time.Time
		deleted bool   // the schedule was deleted since the claim
		want    []want // by job, oldest occurrence first
	}{
		{
			name: "FreeSlotStarts",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionStart}},
		},
		{
			name: "OwnRunningRunMakesSkipSkip",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.own("e1", jobRunning)
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionSkip, reason: geoetl.SkipReasonOverlap}},
		},
		{
			name: "OwnRunFinishedButNotWrittenFreesTheSlot",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.own("e1", jobFinished)
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionStart}},
		},
		{
			name: "OtherInstancesRunWaitsForItsOutcomeWithinTheGrace",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.row("e1", there, geoetl.ExecRunning, due.Add(-time.Minute))
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionWait, again: poll}},
		},
		{
			name: "WaitLooksAgainAtTheGraceIfThatComesFirst",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.row("e1", there, geoetl.ExecRunning, due.Add(-time.Minute))
				c.contended("e2", due)
				return c
			},
			now:  pastGrace.Add(-deciderPoll / 2),
			want: []want{{kind: decisionWait, again: pastGrace}},
		},
		{
			name: "OtherInstancesRunCountsAsRunningPastTheGrace",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.row("e1", there, geoetl.ExecRunning, due.Add(-time.Minute))
				c.contended("e2", due)
				return c
			},
			now:  pastGrace,
			want: []want{{kind: decisionSkip, reason: geoetl.SkipReasonOverlap}},
		},
		{
			name: "OtherInstancesDueClaimIsUnsureWithinTheGrace",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.row("e1", there, geoetl.ExecPending, due.Add(-time.Second))
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionWait, again: poll}},
		},
		{
			name: "OtherInstancesClaimNeverStartedHoldsNothingPastTheGrace",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.row("e1", there, geoetl.ExecPending, due.Add(-time.Second))
				c.contended("e2", due)
				return c
			},
			now:  pastGrace,
			want: []want{{kind: decisionStart}},
		},
		{
			name: "OtherInstancesClaimNotYetDueHoldsNothing",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.row("e3", there, geoetl.ExecPending, due.Add(time.Minute))
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionStart}},
		},
		{
			name: "CancelPreviousCancelsHoldersAndUnsureAndStarts",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapCancelPrevious, 1)
				c.own("e0", jobRunning)
				c.row("e1", there, geoetl.ExecRunning, due.Add(-time.Minute))
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionStart, cancels: []string{"e0", "e1"}}},
		},
		{
			name: "QueueHandsBackWhenNothingWaits",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapQueue, 1)
				c.own("e1", jobRunning)
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionRelease}},
		},
		{
			name: "QueueSkipsWhenARowWaitsAlready",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapQueue, 1)
				c.own("e1", jobRunning)
				c.row("e0", "", geoetl.ExecPending, due.Add(-30*time.Second))
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionSkip, reason: geoetl.SkipReasonQueueFull}},
		},
		{
			// Two occurrences fall due while the run goes on and are decided
			// together (a late decider, a clock jump): the older one takes
			// the single waiting place, so the newer finds the queue full.
			name: "QueueHandsBackOnlyTheOlderOfTwoDecidedTogether",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapQueue, 1)
				c.own("e1", jobRunning)
				c.contended("e2", due.Add(-time.Minute))
				c.contended("e3", due)
				return c
			},
			now: atDue,
			want: []want{
				{kind: decisionRelease},
				{kind: decisionSkip, reason: geoetl.SkipReasonQueueFull},
			},
		},
		{
			name: "LimitOfTwoStartsBesideOneRun",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 2)
				c.own("e1", jobRunning)
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionStart}},
		},
		{
			name: "AllowAlwaysStarts",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapAllow, 1)
				c.own("e1", jobRunning)
				c.contended("e2", due)
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionStart}},
		},
		{
			name: "RowNoLongerClaimedHereIsGone",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				j := c.contended("e2", due)
				j.exec.InstanceID = nil // handed back by the reaper meanwhile
				return c
			},
			now:  atDue,
			want: []want{{kind: decisionGone}},
		},
		{
			name: "OlderJobOfTheBatchStartsAndHoldsTheSlotForTheNewer",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.contended("e3", due.Add(time.Second)) // given newest first: the order is the function's
				c.contended("e2", due)
				return c
			},
			now: atDue.Add(time.Second),
			want: []want{
				{kind: decisionStart},
				{kind: decisionSkip, reason: geoetl.SkipReasonOverlap},
			},
		},
		{
			name: "NewerJobOfTheBatchWaitsWhileTheOlderWaits",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.row("e1", there, geoetl.ExecRunning, due.Add(-time.Minute))
				c.contended("e2", due)
				c.contended("e3", due.Add(time.Second))
				return c
			},
			now: atDue.Add(time.Second),
			want: []want{
				{kind: decisionWait, again: atDue.Add(time.Second + deciderPoll)},
				{kind: decisionWait, again: atDue.Add(time.Second + deciderPoll)},
			},
		},
		{
			name: "DeletedScheduleIsDecidedAsClaimed",
			setup: func() *overlapCase {
				c := newOverlapCase(geoetl.OverlapSkip, 1)
				c.own("e1", jobRunning)
				c.contended("e2", due)
				return c
			},
			now:     atDue,
			deleted: true,
			want:    []want{{kind: decisionSkip, reason: geoetl.SkipReasonOverlap}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.setup()
			v := c.view(tc.now)
			if tc.deleted {
				v.schedules = map[string]*geoetl.Schedule{}
			}
			given := slices.Clone(c.jobs)
			got := decideOverlap(c.jobs, v)
			if !slices.Equal(c.jobs, given) {
				t.Fatal("decideOverlap reordered the caller's jobs")
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d verdicts, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if i > 0 && g.job.exec.ScheduledAt.Before(got[i-1].job.exec.ScheduledAt) {
					t.Fatalf("verdict %d is older than the one before: not oldest first", i)
				}
				if g.kind != w.kind || g.skipReason != w.reason || !slices.Equal(g.cancels, w.cancels) || !g.again.Equal(w.again) {
					t.Errorf("verdict %d (%s): got kind %d reason %q cancels %v again %v; want kind %d reason %q cancels %v again %v",
						i, g.job.exec.ID, g.kind, g.skipReason, g.cancels, g.again, w.kind, w.reason, w.cancels, w.again)
				}
			}
		})
	}
}
