package scheduler

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/notify"
)

// claimer claims due work: its dispatcher (dispatch.go) sleeps until the
// soonest next run minus the lookahead (lookahead.go), then runs claim
// transactions that turn due schedules and pending rows into jobs held
// here, deciding overlap, misfire and tenant-share policies as it goes
// (overlap.go, plan.go, tenantshare.go). It hands the jobs to the runner.
type claimer struct {
	*deps
	held   *held
	runner *runner // starts the claimed jobs at their time
	out    *announcer

	wake   chan struct{} // wakes the dispatcher
	rate   claimRate     // of claim transactions, for the adaptive lookahead
	window claimWindow   // how far claims reach for a large set due together
	share  tenantGate    // tenants whose runs wait for a run slot

	blockedMu sync.Mutex
	blocked   map[string]struct{} // schedules whose pending rows wait for a slot

	// upSince is the database time of this instance's first claim (Unix
	// nanoseconds; 0 before it): an occurrence due after it that a claim
	// finds past the misfire grace was missed while this instance was
	// dispatching, because it fell behind, not because no one was up.
	upSince atomic.Int64

	onSleep func() // called when the dispatcher goes to sleep (tests and benchmarks)
}

func newClaimer(d *deps, h *held, out *announcer) *claimer {
	return &claimer{deps: d, held: h, out: out, wake: make(chan struct{}, 1), blocked: map[string]struct{}{}}
}

// poke wakes the dispatcher without blocking.
func (cl *claimer) poke() {
	select {
	case cl.wake <- struct{}{}:
	default:
	}
}

func (cl *claimer) unblockAll() {
	cl.blockedMu.Lock()
	clear(cl.blocked)
	cl.blockedMu.Unlock()
	cl.share.clear()
}

// unblock forgets that a schedule's pending rows wait for a slot (one of
// its runs finished) and wakes the dispatcher if they did.
func (cl *claimer) unblock(scheduleIDs ...string) {
	cl.blockedMu.Lock()
	n := 0
	for _, id := range scheduleIDs {
		if _, ok := cl.blocked[id]; ok {
			delete(cl.blocked, id)
			n++
		}
	}
	cl.blockedMu.Unlock()
	if n > 0 {
		cl.poke()
	}
}

// markBlocked records schedules whose pending rows wait for a slot, so
// that claims leave them out until one of their runs ends.
func (cl *claimer) markBlocked(scheduleIDs []string) {
	if len(scheduleIDs) == 0 {
		return
	}
	cl.blockedMu.Lock()
	for _, id := range scheduleIDs {
		cl.blocked[id] = struct{}{}
	}
	cl.blockedMu.Unlock()
}

func (cl *claimer) blockedList() []string {
	cl.blockedMu.Lock()
	defer cl.blockedMu.Unlock()
	out := make([]string, 0, len(cl.blocked))
	for id := range cl.blocked {
		out = append(out, id)
	}
	return out
}

// claimResult is what one claim transaction did, applied after it
// committed.
type claimResult struct {
	dbNow    time.Time
	jobs     []*job                  // claimed to run here
	events   []geoetl.ExecutionEvent // rows inserted or changed
	cancels  []string                // executions cancelled by cancel_previous
	errored  []*geoetl.Schedule      // schedules put into error, with status and reason set
	blocked  []string                // schedules whose pending rows wait for a slot
	byTrig   map[string]int          // claimed executions by trigger, for metrics
	skipped  map[string]int          // skipped occurrences by reason, for metrics
	until    time.Time               // how far (database time) the claim looked
	rows     int                     // due rows read, for the claim rate
	more     bool                    // a batch was full or new rows wait: claim again at once
	progress bool                    // something was claimed or written

	fullTenants []string // tenants whose runs wait for a run slot (tenantshare.go)
	gateGen     uint64   // the tenant gate's generation when the claim began
}

// maxRowsPerClaim bounds the rows one claim transaction writes, so that
// misfires of many schedules after long downtime are spread over several
// short transactions.
const maxRowsPerClaim = 5000

// claim runs one claim transaction and hands its jobs to the pool.
func (cl *claimer) claim(ctx context.Context) (*claimResult, error) {
	limit := min(cl.cfg.BatchSize, cl.cfg.MaxClaimed-cl.held.count())
	if limit <= 0 {
		// Saturated: leave due work to other instances (or to later).
		now := cl.db.now()
		return &claimResult{dbNow: now, until: cl.claimUntil(now)}, nil
	}
	blocked := cl.blockedList()
	gen := cl.share.generation()
	var res *claimResult
	var local time.Time
	began := time.Now() // real time: the rate is the database's
	err := cl.store.Claim(ctx, func(tx geoetl.ClaimTx) error {
		// The database read its clock when the transaction began, before
		// this local reading: their difference is a lower bound of the
		// offset, so runs timed with it never start early.
		local = cl.clock.Now()
		res = &claimResult{dbNow: tx.Now(), byTrig: map[string]int{}, gateGen: gen, skipped: map[string]int{}}
		return cl.claimIn(tx, limit, blocked, local, res)
	})
	if err != nil {
		return nil, err
	}
	cl.rate.note(res.rows, time.Since(began))
	cl.db.measured(res.dbNow.Sub(local))
	cl.applyClaim(ctx, res)
	return res, nil
}

// claimIn decides, inside the claim transaction, what to do with due
// pending executions and due schedules, and writes it.
func (cl *claimer) claimIn(tx geoetl.ClaimTx, limit int, blocked []string, local time.Time, res *claimResult) error {
	now := tx.Now()
	cl.upSince.CompareAndSwap(0, now.UnixNano())
	until := cl.claimUntil(now)
	res.until = until
	pending, err := tx.DuePending(&geoetl.DuePendingParams{Until: until, Limit: limit, Waiting: blocked, Tenants: cl.tenantsWaiting()})
	if err != nil {
		return err
	}
	c := &claimCtx{cl: cl, tx: tx, now: now, local: local, res: res,
		schedules: map[string]*geoetl.Schedule{}, slots: map[string]*slots{}, workflows: map[string]*geoetl.Workflow{}}
	// The schedules of pending rows are locked (waiting for another
	// claimer) before the due schedules are (skipping those another
	// claimer holds): a transaction then never waits while it holds a
	// lock another waits for in turn.
	if err := c.loadSchedules(pending); err != nil {
		return err
	}
	due, err := tx.DueSchedules(until, limit)
	if err != nil {
		return err
	}
	res.more = len(pending) == limit || len(due) == limit
	res.rows = len(pending) + len(due)
	for _, sc := range due {
		c.schedules[sc.ID] = sc
	}
	if err := c.loadOccupancy(); err != nil {
		return err
	}
	if err := c.loadTenantRuns(pending, due); err != nil {
		return err
	}
	for _, e := range pending {
		if err := c.pending(e); err != nil {
			return err
		}
	}
	// On-time schedules first, then those past the misfire grace, so a
	// full transaction leaves catch-up work, not on-time runs, for later.
	late := now.Add(-cl.cfg.MisfireGrace)
	slices.SortStableFunc(due, func(a, b *geoetl.Schedule) int {
		return cmpBool(a.NextRunAt != nil && a.NextRunAt.Before(late), b.NextRunAt != nil && b.NextRunAt.Before(late))
	})
	for _, sc := range due {
		if len(c.inserts) >= maxRowsPerClaim {
			res.more = true // the rest stay due for the next transaction
			break
		}
		if err := c.schedule(sc); err != nil {
			return err
		}
	}
	return c.write()
}

// claimCtx carries one claim transaction's state.
type claimCtx struct {
	cl    *claimer
	tx    geoetl.ClaimTx
	now   time.Time // database clock
	local time.Time // local clock at the same moment (about)
	res   *claimResult

	schedules map[string]*geoetl.Schedule
	slots     map[string]*slots
	workflows map[string]*geoetl.Workflow // by tenant/id; nil when gone
	// tenantRuns counts the runs holding a slot of each tenant with
	// candidates, as the claim decides (tenantshare.go).
	tenantRuns map[string]int

	inserts    []*geoetl.Execution
	insertJobs []*job          // parallel to inserts: the job to run, or nil
	fresh      map[string]bool // ids of rows this transaction claims as jobs here
	updates    []*geoetl.Execution
	advances   []geoetl.ScheduleAdvance
}

// loadSchedules reads and locks the schedules of pending rows, so that
// the slot decisions about them are not made by two instances at once.
func (c *claimCtx) loadSchedules(pending []*geoetl.Execution) error {
	var need []string
	seen := map[string]bool{}
	for _, e := range pending {
		if e.ScheduleID != nil && !seen[*e.ScheduleID] {
			seen[*e.ScheduleID] = true
			need = append(need, *e.ScheduleID)
		}
	}
	if len(need) == 0 {
		return nil
	}
	found, err := c.tx.FindSchedules(need)
	if err != nil {
		return err
	}
	for id, sc := range found {
		c.schedules[id] = sc
	}
	return nil
}

func (c *claimCtx) loadOccupancy() error {
	ids := make([]string, 0, len(c.schedules))
	for id := range c.schedules {
		ids = append(ids, id)
	}
	// This instance's own runs are most of what a claim finds holding
	// slots (the previous occurrence of each schedule is still running when
	// the next is claimed): they come from memory rather than being read
	// back, and only what others hold is read.
	except, own := c.cl.held.ownOccupancy(c.schedules, c.cl.id)
	occ, err := c.tx.Occupancy(geoetl.OccupancyParams{ScheduleIDs: ids, Instance: c.cl.id, Except: except})
	if err != nil {
		return err
	}
	mergeOccupancy(occ, own)
	for id, sc := range c.schedules {
		c.slots[id] = newSlots(sc, occ[id])
	}
	return nil
}

// mergeOccupancy adds this instance's own rows to those read, in the
// order Occupancy returns them; a row read wins over the one from memory
// (it was handed back or taken over meanwhile).
func mergeOccupancy(occ, own map[string][]*geoetl.Execution) {
	for id, mine := range own {
		list := occ[id]
		read := make(map[string]bool, len(list))
		for _, e := range list {
			read[e.ID] = true
		}
		n := len(list)
		for _, e := range mine {
			if !read[e.ID] {
				list = append(list, e)
			}
		}
		if len(list) == n {
			continue
		}
		slices.SortFunc(list, func(a, b *geoetl.Execution) int {
			if c := a.ScheduledAt.Compare(b.ScheduledAt); c != 0 {
				return c
			}
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		occ[id] = list
	}
}

// workflow returns a workflow by tenant and id, nil when it is gone, and
// reads each at most once per transaction.
func (c *claimCtx) workflow(tenantID, id string) (*geoetl.Workflow, error) {
	key := tenantID + "/" + id
	if w, ok := c.workflows[key]; ok {
		return w, nil
	}
	w, err := c.tx.FindWorkflow(tenantID, id)
	if geoetl.IsNotFound(err) {
		w, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.workflows[key] = w
	return w, nil
}

// pending decides about one due pending execution (run-now, backfill,
// retry, queued occurrence, ad hoc run, or a claim handed back).
func (c *claimCtx) pending(e *geoetl.Execution) error {
	wf, err := c.workflow(e.TenantID, e.WorkflowID)
	if err != nil {
		return err
	}
	if wf == nil {
		c.fail(e, geoetl.ErrorWorkflowMissing)
		return nil
	}
	if e.ScheduleID == nil {
		if !c.tenantWaits(e, false) {
			c.claimRow(e, nil, wf)
		}
		return nil
	}
	sc := c.schedules[*e.ScheduleID]
	if sc == nil {
		c.fail(e, "schedule not found")
		return nil
	}
	sl := c.slots[sc.ID]
	switch sl.decide(sc.OverlapPolicy, kindOf(e), e.ID) {
	case decideStart:
		if c.tenantWaits(e, false) {
			return nil
		}
		c.claimRow(e, sc, wf)
		sl.started(e)
	case decideWait:
		if sl.supersededBy(sc, e) != nil {
			c.skipRow(e, geoetl.SkipReasonSuperseded)
			sl.removeWaiting(e.ID)
			return nil
		}
		sl.waits(e)
		c.res.blocked = append(c.res.blocked, sc.ID)
	case decideSkipOverlap:
		c.skipRow(e, geoetl.SkipReasonOverlap)
		sl.removeWaiting(e.ID)
	case decideSkipQueueFull:
		c.skipRow(e, geoetl.SkipReasonQueueFull)
		sl.removeWaiting(e.ID)
	case decideCancelAndRun:
		if c.tenantWaits(e, false) {
			return nil
		}
		c.cancelHolders(sl)
		c.claimRow(e, sc, wf)
		sl.started(e)
	}
	return nil
}

// schedule plans a due schedule: its occurrences, overlap, next run.
func (c *claimCtx) schedule(sc *geoetl.Schedule) error {
	wf, err := c.workflow(sc.TenantID, sc.WorkflowID)
	if err != nil {
		return err
	}
	if wf == nil {
		c.setError(sc, geoetl.ErrorWorkflowMissing)
		return nil
	}
	opts := planOptions{Grace: c.cl.cfg.MisfireGrace, MaxMissed: c.cl.cfg.MaxMissed}
	p := planSchedule(sc, c.now, opts)
	nextNow := p.misfired && p.NextRunAt != nil && !p.NextRunAt.After(c.res.until)
	if nextNow && c.cl.fellBehind(sc) {
		p.Occurrences = foldCatchup(p.Occurrences)
	}
	c.plan(sc, wf, p)
	if nextNow {
		// After a misfire the next occurrence is due within this claim's
		// window: claim it now rather than in a later pass, which after a
		// restart with many schedules behind would start it late.
		next := *sc
		next.NextRunAt = p.NextRunAt
		p = planSchedule(&next, c.now, opts)
		c.plan(sc, wf, p)
	}
	adv := geoetl.ScheduleAdvance{ScheduleID: sc.ID, NextRunAt: p.NextRunAt}
	if p.Status != nil {
		reason := p.Reason
		adv.Status, adv.Reason = p.Status, &reason
		errored := sc.Clone()
		errored.Status, errored.StatusReason, errored.NextRunAt = *p.Status, &reason, nil
		c.res.errored = append(c.res.errored, errored)
	}
	c.advances = append(c.advances, adv)
	c.res.progress = true
	return nil
}

// plan writes the rows of one plan of sc.
func (c *claimCtx) plan(sc *geoetl.Schedule, wf *geoetl.Workflow, p schedulePlan) {
	sl := c.slots[sc.ID]
	for _, o := range p.Occurrences {
		e := c.newRow(sc, o)
		if o.Count > 0 {
			until := o.Until
			e.MissedCount, e.MissedUntil = o.Count, &until
		}
		switch {
		case o.Skip != "":
			c.insertSkipped(e, o.Skip)
		case o.Wait:
			c.insert(e, nil)
			sl.waits(e)
			c.res.more = true // a slot may be free: look again at once
		case c.tenantWaits(e, true):
			c.insert(e, nil)
		default:
			// Whether the slot is taken matters at the occurrence's time,
			// not now (up to Lookahead before it, when the run holding
			// the slot may be about to end): a taken slot makes the claim
			// contended, and the overlap policy decides when it is due
			// (decide.go). It holds the slot meanwhile.
			j := c.lease(e, sc, wf)
			j.contended = sl.decide(sc.OverlapPolicy, kindFresh, "") != decideStart
			if j.contended {
				// Taken by this instance's own runs alone (the catch-up
				// a restart claims with the next occurrence, or the
				// previous occurrence still running): the firer starts
				// it directly if they have ended by its time.
				j.after, _ = c.cl.held.ownHolders(sl.holders, c.fresh)
			}
			c.insert(e, j)
			sl.started(e)
		}
	}
}

// fellBehind reports whether sc's overdue occurrences fell due while this
// instance was dispatching: it missed them because it could not keep up
// (overload, a stalled machine), not because no instance was up.
func (cl *claimer) fellBehind(sc *geoetl.Schedule) bool {
	up := cl.upSince.Load()
	return up != 0 && sc.NextRunAt != nil && sc.NextRunAt.UnixNano() >= up
}

// foldCatchup turns the run_once catch-up of a misfire into part of its
// miss record, for a schedule that fell behind while its next occurrence
// is claimed in the same transaction: that on-time run would supersede
// the catch-up anyway (a catch-up waits behind on-time runs, and an
// instance that fell behind has those waiting), so running it would only
// cost a run's writes, or delay the on-time one. The whole gap is one
// miss record, and catch-up work never competes with on-time runs under
// overload. Other plans are returned as they are (run_all runs every
// missed occurrence; skip runs none).
func foldCatchup(occ []occurrence) []occurrence {
	n := len(occ)
	if n == 0 || occ[n-1].Trigger != geoetl.TriggerCatchup || occ[n-1].Wait || occ[n-1].Skip != "" {
		return occ
	}
	last := occ[n-1]
	if n >= 2 && occ[n-2].Skip == geoetl.SkipReasonSuperseded {
		rec := occ[n-2]
		rec.Until, rec.Count = last.At, rec.Count+1
		return append(occ[:n-2:n-2], rec)
	}
	return append(occ[:n-1:n-1], occurrence{At: last.At, Trigger: geoetl.TriggerSchedule, Skip: geoetl.SkipReasonSuperseded, Until: last.At, Count: 1})
}

// newRow is the execution row of one occurrence of sc.
func (c *claimCtx) newRow(sc *geoetl.Schedule, o occurrence) *geoetl.Execution {
	id := sc.ID
	due := o.At
	if o.Trigger == geoetl.TriggerCatchup && !o.Wait {
		due = c.now // a catch-up is due when it is decided
	}
	return &geoetl.Execution{
		ID:              geoetl.NewTimeID(),
		TenantID:        sc.TenantID,
		ScheduleID:      &id,
		WorkflowID:      sc.WorkflowID,
		WorkflowRunID:   geoetl.NewID(),
		ScheduledAt:     o.At,
		DueAt:           due,
		Trigger:         o.Trigger,
		Status:          geoetl.ExecPending,
		ParameterValues: sc.ParameterValues,
		CreatedAt:       c.now,
		CreatedBy:       "scheduler",
	}
}

func (c *claimCtx) insert(e *geoetl.Execution, j *job) {
	if j != nil {
		if c.fresh == nil {
			c.fresh = map[string]bool{}
		}
		c.fresh[e.ID] = true
	}
	c.inserts = append(c.inserts, e)
	c.insertJobs = append(c.insertJobs, j)
}

func (c *claimCtx) insertSkipped(e *geoetl.Execution, reason string) {
	c.markSkipped(e, reason)
	c.insert(e, nil)
}

// claimRow claims an existing pending row for this instance.
func (c *claimCtx) claimRow(e *geoetl.Execution, sc *geoetl.Schedule, wf *geoetl.Workflow) {
	j := c.lease(e, sc, wf)
	if c.fresh == nil {
		c.fresh = map[string]bool{}
	}
	c.fresh[e.ID] = true
	c.updates = append(c.updates, e)
	c.res.jobs = append(c.res.jobs, j)
	c.res.byTrig[string(e.Trigger)]++
	c.res.progress = true
}

// lease marks e claimed by this instance and returns its job.
func (c *claimCtx) lease(e *geoetl.Execution, sc *geoetl.Schedule, wf *geoetl.Workflow) *job {
	id, now := c.cl.id, c.now
	e.InstanceID, e.HeartbeatAt = &id, &now
	fireDB := e.DueAt
	if fireDB.Before(c.now) {
		fireDB = c.now
	}
	return &job{
		exec: e, schedule: sc, workflow: wf, index: -1,
		fireAt:     c.local.Add(fireDB.Sub(c.now)),
		leaseUntil: c.local.Add(c.cl.cfg.fence()),
	}
}

func (c *claimCtx) markSkipped(e *geoetl.Execution, reason string) {
	now := c.now
	e.Status, e.Skipped, e.SkipReason, e.CompletedAt = geoetl.ExecSkipped, true, &reason, &now
	if strings.HasPrefix(reason, geoetl.MissedPrefix) && e.MissedCount == 0 {
		at := e.ScheduledAt
		e.MissedCount, e.MissedUntil = 1, &at
	}
	c.res.skipped[reason] += max(1, e.MissedCount)
}

func (c *claimCtx) skipRow(e *geoetl.Execution, reason string) {
	c.markSkipped(e, reason)
	c.updates = append(c.updates, e)
	c.res.events = append(c.res.events, eventOf(e))
	c.res.progress = true
}

// fail records a pending row that cannot run at all.
func (c *claimCtx) fail(e *geoetl.Execution, msg string) {
	now := c.now
	e.Status, e.ErrorMessage, e.CompletedAt = geoetl.ExecFailed, &msg, &now
	c.updates = append(c.updates, e)
	c.res.events = append(c.res.events, eventOf(e))
	c.res.progress = true
}

// cancelHolders cancels the runs holding a schedule's slots
// (cancel_previous).
func (c *claimCtx) cancelHolders(sl *slots) {
	for _, h := range sl.evict() {
		c.res.cancels = append(c.res.cancels, h.ID)
	}
}

// setError puts a schedule that can no longer fire into error.
func (c *claimCtx) setError(sc *geoetl.Schedule, reason string) {
	st := geoetl.StatusError
	c.advances = append(c.advances, geoetl.ScheduleAdvance{ScheduleID: sc.ID, Status: &st, Reason: &reason})
	errored := sc.Clone()
	errored.Status, errored.StatusReason, errored.NextRunAt = st, &reason, nil
	c.res.errored = append(c.res.errored, errored)
	c.res.progress = true
}

// write stores the transaction's decisions.
func (c *claimCtx) write() error {
	if len(c.inserts) > 0 {
		ok, err := c.tx.InsertExecutions(c.inserts)
		if err != nil {
			return err
		}
		if slices.Contains(ok, false) {
			// A row another claimer had may be what a job waits
			// for: those go through the decider.
			for _, j := range c.insertJobs {
				if j != nil {
					j.after = nil
				}
			}
		}
		for i, e := range c.inserts {
			if !ok[i] {
				// The occurrence exists already: another claimer had it.
				continue
			}
			c.res.events = append(c.res.events, eventOf(e))
			if j := c.insertJobs[i]; j != nil {
				c.res.jobs = append(c.res.jobs, j)
				c.res.byTrig[string(e.Trigger)]++
			}
		}
		c.res.progress = true
	}
	if len(c.updates) > 0 {
		if err := c.tx.UpdateExecutions(c.updates); err != nil {
			return err
		}
	}
	if len(c.res.cancels) > 0 {
		if err := c.tx.CancelExecutions(c.res.cancels, geoetl.ErrorCancelledByNewerRun); err != nil {
			return err
		}
	}
	if len(c.advances) > 0 {
		return c.tx.AdvanceSchedules(c.advances)
	}
	return nil
}

// applyClaim acts on a committed claim: jobs to the pool, local cancels,
// events, notifications and metrics.
func (cl *claimer) applyClaim(ctx context.Context, res *claimResult) {
	cl.runner.hold(res.jobs)
	cl.markBlocked(res.blocked)
	if cl.share.markFull(cl.clock.Now(), res.fullTenants, res.gateGen) {
		cl.poke() // a run of a tenant found full ended meanwhile
	}
	cl.out.announceDecided(ctx, res.cancels, res.events, res.skipped)
	if len(res.errored) > 0 {
		cl.out.scheduleEvents(ctx, res.errored, notify.EventScheduleError)
	}
	if cl.m != nil {
		cl.m.Claimed(res.byTrig)
	}
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
