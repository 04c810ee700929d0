package scheduler

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// Contended occurrences.
//
// An occurrence is claimed up to Lookahead before its time. If its
// schedule's slot is taken then, the run holding it may well end before the
// occurrence is due, so the claim only marks the job contended (it holds
// the row like any claim) and the overlap policy decides at the
// occurrence's time: the firer hands it to the decider instead of a worker.
// The decider reads the schedule's occupancy once, in a transaction that
// locks the schedule row (so claimers of the same schedule take turns),
// and trusts this instance's memory for its own runs. Another instance's
// run that the database still shows as running (or as claimed and due) may
// have ended with its outcome not yet written, so for skip and queue the
// decider waits for that outcome, up to MisfireGrace after the occurrence's
// time: an occurrence is skipped only if the earlier run was still running
// when it came. Past that, a run the database shows running counts as
// running, and a claim never started counts as not running (its instance
// is gone or stalled; the reaper hands it out again). cancel_previous
// does not wait: it cancels whatever holds the slot. Uncontended claims
// never come here and start with no database round trip. Nor do most
// claims whose slot only this instance's own jobs held when claimed
// (job.after: the catch-up a restart claims together with the next
// occurrence, or the previous occurrence of a schedule firing as often as
// the lookahead): the firer decides them from its own memory
// (held.decideOwnLocked), since no other instance can hold the slot then
// that could not hold it against an uncontended claim. Finished holders
// free the slot; holders still waiting for a worker are superseded (under
// overload, or behind a restart's catch-ups, the on-time occurrence comes
// first); only a holder still running, or overlap queue, comes here.

// deciderPoll is how often the decider looks again at occurrences waiting
// for another instance's outcome, besides when a notification about their
// schedule arrives.
const deciderPoll = 200 * time.Millisecond

// decisionKind is what the decider does with one contended job.
type decisionKind int

const (
	decisionStart   decisionKind = iota // the slot is free (or freed): run it
	decisionWait                        // another instance's outcome is awaited
	decisionSkip                        // recorded skipped
	decisionRelease                     // queue: handed back to wait for a free slot
	decisionGone                        // no longer this instance's (cancelled or taken back)
)

// decisions is what one decider transaction decided, applied once it
// committed.
type decisions struct {
	kind    map[*job]decisionKind
	cancels []string                // holders cancelled by cancel_previous
	events  []geoetl.ExecutionEvent // rows skipped
	skipped map[string]int          // skipped occurrences by reason, for metrics
	blocked []string                // schedules of released rows
	again   time.Time               // local time to look again; zero when none waits
}

// decider decides contended jobs as they fall due: it reads the
// occupancy of their schedules in one transaction, asks decideOverlap what
// the policy says, writes that, and hands the jobs that may start to the
// runner.
type decider struct {
	*deps
	held    *held
	runner  *runner  // runs the jobs that may start
	claimer *claimer // leaves released rows' schedules out of claims until a slot frees
	out     *announcer
	wake    chan struct{} // contended jobs due, or an outcome they wait for arrived
	txs     atomic.Int64  // decider transactions so far (tests)
}

// poke wakes the decider without blocking.
func (dc *decider) poke() {
	select {
	case dc.wake <- struct{}{}:
	default:
	}
}

// loop decides contended jobs as they fall due, and those waiting for
// another instance's outcome whenever one may have arrived.
func (dc *decider) loop(ctx context.Context) {
	t := dc.clock.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for failures := 0; ; {
		select {
		case <-dc.wake:
		case <-t.C():
		case <-ctx.Done():
			return
		}
		again, err := dc.decideDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait := clock.Backoff(failures)
			dc.log.Warn("decider: database error; backing off", "err", err, "retry_in", wait)
			if !clock.SleepContext(ctx, wait) {
				return
			}
			dc.poke()
			continue
		}
		failures = 0
		t.Stop()
		select { // drop a stale tick
		case <-t.C():
		default:
		}
		if !again.IsZero() {
			resetAt(dc.clock, t, again)
		}
	}
}

// decideDue decides the contended jobs that are due, in one transaction,
// and returns when to look again at those left waiting.
func (dc *decider) decideDue(ctx context.Context) (time.Time, error) {
	h := dc.held
	h.mu.Lock()
	var list []*job
	for _, j := range h.deciding {
		if j.state == jobDeciding {
			list = append(list, j)
		}
	}
	h.deciding = list
	h.mu.Unlock()
	if len(list) == 0 {
		return time.Time{}, nil
	}
	list = slices.Clone(list)
	dc.txs.Add(1)
	var d *decisions
	err := dc.store.Claim(ctx, func(tx geoetl.ClaimTx) error {
		var err error
		d, err = dc.decideIn(tx, list, dc.clock.Now())
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	dc.applyDecisions(ctx, d)
	return d.again, nil
}

// heldScheduleRetry is how soon the decider looks again at jobs whose
// schedule another transaction held.
const heldScheduleRetry = 20 * time.Millisecond

// decideIn reads, in the decider's transaction, what decideOverlap needs
// (the schedules, locked so that claimers of the same schedule take turns,
// and their occupancy), and writes what it decided: rows skipped or
// handed back, holders cancelled.
func (dc *decider) decideIn(tx geoetl.ClaimTx, list []*job, local time.Time) (*decisions, error) {
	dbNow := tx.Now()
	var ids []string
	for _, j := range list {
		if !slices.Contains(ids, j.schedule.ID) {
			ids = append(ids, j.schedule.ID)
		}
	}
	// Locked until the commit; a schedule another transaction holds (a
	// claim of its next occurrence, another instance's decider) is not
	// waited for: its jobs are decided on the next pass, shortly, unless
	// one of them would by then be past its grace. Waiting for it while
	// holding the others made deciders, claims and outcome writers of
	// several instances queue behind each other.
	schedules, held, err := tx.FindFreeSchedules(ids)
	if err != nil {
		return nil, err
	}
	var urgent []string
	for _, j := range list {
		if slices.Contains(held, j.schedule.ID) && !slices.Contains(urgent, j.schedule.ID) &&
			!local.Add(2*heldScheduleRetry).Before(j.fireAt.Add(dc.cfg.MisfireGrace)) {
			urgent = append(urgent, j.schedule.ID)
		}
	}
	if len(urgent) > 0 {
		more, err := tx.FindSchedules(urgent)
		if err != nil {
			return nil, err
		}
		maps.Copy(schedules, more)
		held = slices.DeleteFunc(held, func(id string) bool { return slices.Contains(urgent, id) })
	}
	d := &decisions{kind: map[*job]decisionKind{}}
	if len(held) > 0 {
		var kept []*job // a new slice: the transaction may run again
		for _, j := range list {
			if slices.Contains(held, j.schedule.ID) {
				d.kind[j] = decisionWait
				continue
			}
			kept = append(kept, j)
		}
		list = kept
		d.again = local.Add(heldScheduleRetry)
	}
	occ, err := tx.Occupancy(geoetl.OccupancyParams{ScheduleIDs: ids})
	if err != nil {
		return nil, err
	}
	verdicts := decideOverlap(list, overlapView{
		instance:  dc.id,
		dbNow:     dbNow,
		local:     local,
		grace:     dc.cfg.MisfireGrace,
		schedules: schedules,
		occupancy: occ,
		mine:      dc.held.statesOf(occ, dc.id),
	})

	var updates []*geoetl.Execution
	for _, v := range verdicts {
		j := v.job
		d.kind[j] = v.kind
		d.cancels = append(d.cancels, v.cancels...)
		switch v.kind {
		case decisionWait:
			if d.again.IsZero() || v.again.Before(d.again) {
				d.again = v.again
			}
		case decisionRelease:
			e := *j.exec
			e.InstanceID, e.HeartbeatAt = nil, nil
			updates = append(updates, &e)
			d.blocked = append(d.blocked, j.schedule.ID)
		case decisionSkip:
			reason := v.skipReason
			e := *j.exec
			e.Status, e.Skipped, e.SkipReason, e.CompletedAt = geoetl.ExecSkipped, true, &reason, &dbNow
			updates = append(updates, &e)
			d.events = append(d.events, eventOf(&e))
			if d.skipped == nil {
				d.skipped = map[string]int{}
			}
			d.skipped[reason]++
		}
	}
	if len(updates) > 0 {
		if err := tx.UpdateExecutions(updates); err != nil {
			return nil, err
		}
	}
	if len(d.cancels) > 0 {
		if err := tx.CancelExecutions(d.cancels, geoetl.ErrorCancelledByNewerRun); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// overlapView is what the decider knows when it decides: the rows it read
// in its transaction and this instance's memory of its own runs.
type overlapView struct {
	instance  string                         // this instance's id
	dbNow     time.Time                      // the database's clock when the transaction began
	local     time.Time                      // the local clock at about the same moment
	grace     time.Duration                  // Config.MisfireGrace: how long to wait for another instance's outcome
	schedules map[string]*geoetl.Schedule    // as locked now; missing when deleted meanwhile
	occupancy map[string][]*geoetl.Execution // by schedule: rows running, claimed or waiting (ClaimTx.Occupancy)
	mine      map[string]jobState            // this instance's own rows among occupancy, as its memory says
}

// verdict is what the overlap policy says of one contended job.
type verdict struct {
	job        *job
	kind       decisionKind
	skipReason string    // for decisionSkip
	cancels    []string  // runs holding the slot, to cancel first (cancel_previous)
	again      time.Time // for decisionWait: local time to look again
}

// decideOverlap says what the overlap policy does with each contended job,
// oldest occurrence first (the order of the result). It only reads: the
// decider writes what it says. An older job decided to start in the same
// call holds a slot for the newer ones; one left waiting leaves them
// unsure too.
func decideOverlap(jobs []*job, v overlapView) []verdict {
	list := slices.Clone(jobs)
	slices.SortFunc(list, func(a, b *job) int {
		if c := a.exec.ScheduledAt.Compare(b.exec.ScheduledAt); c != 0 {
			return c
		}
		return compareStrings(a.exec.ID, b.exec.ID)
	})
	inBatch := map[string]*job{}
	for _, j := range list {
		inBatch[j.exec.ID] = j
	}
	kind := map[*job]decisionKind{}
	out := make([]verdict, 0, len(list))
	for _, j := range list {
		vd := decideOne(j, v, inBatch, kind)
		kind[j] = vd.kind
		out = append(out, vd)
	}
	return out
}

// decideOne decides one job, given the verdicts on the older ones of the
// same call (kind).
func decideOne(j *job, v overlapView, inBatch map[string]*job, kind map[*job]decisionKind) verdict {
	sc := v.schedules[j.schedule.ID]
	if sc == nil {
		sc = j.schedule // deleted meanwhile: decide as claimed
	}
	rows := v.occupancy[sc.ID]
	if !holdsRow(rows, j.exec.ID, v.instance) {
		return verdict{job: j, kind: decisionGone}
	}
	overdue := !v.local.Before(j.fireAt.Add(v.grace))
	var holders, unsure []*geoetl.Execution
	waiting := 0
	for _, e := range rows {
		if e.ID == j.exec.ID {
			continue
		}
		if other := inBatch[e.ID]; other != nil {
			// Decided earlier in this batch (an older occurrence),
			// or later in it (a newer one, which holds nothing now).
			switch k, ok := kind[other]; {
			case ok && k == decisionStart:
				holders = append(holders, e)
			case ok && k == decisionWait:
				unsure = append(unsure, e)
			case ok && k == decisionRelease:
				waiting++ // it took the queue's place
			}
			continue
		}
		switch {
		case e.InstanceID == nil:
			waiting++
		case *e.InstanceID == v.instance:
			switch v.mine[e.ID] {
			case jobReady, jobRunning:
				holders = append(holders, e)
			case jobDeciding:
				unsure = append(unsure, e)
			}
		case e.Status == geoetl.ExecRunning:
			if overdue {
				holders = append(holders, e)
			} else {
				unsure = append(unsure, e)
			}
		case !e.DueAt.After(v.dbNow) && !overdue:
			unsure = append(unsure, e)
		}
	}
	limit := sc.ConcurrencyLimit()
	switch {
	case limit == 0 || len(holders)+len(unsure) < limit:
		return verdict{job: j, kind: decisionStart}
	case sc.OverlapPolicy == geoetl.OverlapCancelPrevious:
		var cancels []string
		for _, h := range append(holders, unsure...) {
			cancels = append(cancels, h.ID)
		}
		return verdict{job: j, kind: decisionStart, cancels: cancels}
	case len(holders) < limit:
		at := v.local.Add(deciderPoll)
		if deadline := j.fireAt.Add(v.grace); deadline.Before(at) {
			at = deadline
		}
		return verdict{job: j, kind: decisionWait, again: at}
	case sc.OverlapPolicy == geoetl.OverlapQueue && waiting == 0:
		return verdict{job: j, kind: decisionRelease}
	case sc.OverlapPolicy == geoetl.OverlapQueue:
		return verdict{job: j, kind: decisionSkip, skipReason: geoetl.SkipReasonQueueFull}
	default:
		return verdict{job: j, kind: decisionSkip, skipReason: geoetl.SkipReasonOverlap}
	}
}

// holdsRow reports whether the row id is among rows, still claimed by
// instance (not cancelled, finished or handed back meanwhile).
func holdsRow(rows []*geoetl.Execution, id, instance string) bool {
	for _, e := range rows {
		if e.ID == id {
			return e.Status == geoetl.ExecPending && e.InstanceID != nil && *e.InstanceID == instance
		}
	}
	return false
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// applyDecisions acts on a committed decider transaction: jobs to the
// workers or away from this instance, events, cancels, blocked schedules.
func (dc *decider) applyDecisions(ctx context.Context, d *decisions) {
	h := dc.held
	h.mu.Lock()
	now := dc.clock.Now()
	for j, k := range d.kind {
		if j.state != jobDeciding {
			continue // dropped meanwhile (a cancel, a lapsed lease, Stop)
		}
		switch k {
		case decisionStart:
			j.state = jobReady
			dc.runner.dispatchReady(j, now)
		case decisionSkip, decisionRelease, decisionGone:
			j.state = jobDropped
			delete(h.jobs, j.exec.ID)
		}
	}
	kept := h.deciding[:0]
	clear(h.undecided)
	for _, j := range h.deciding {
		if j.state == jobDeciding {
			kept = append(kept, j)
			if d.kind[j] == decisionWait {
				h.undecided[j.schedule.ID]++
			}
		}
	}
	h.deciding = kept
	// Marked while the jobs change state, as one step: a run ending just
	// after must find its schedule blocked to unblock it.
	dc.claimer.markBlocked(d.blocked)
	h.mu.Unlock()
	if len(d.blocked) > 0 {
		// A dispatcher that looked for work while these rows were handed
		// back saw them due and left alone, and looks again only after
		// a short poll; now that their schedules are blocked, it can
		// sleep until the next real occurrence instead.
		dc.claimer.poke()
	}
	if hasNewArrivals(d, kept) {
		dc.poke()
	}
	dc.out.announceDecided(ctx, d.cancels, d.events, d.skipped)
}

// hasNewArrivals reports whether a job among kept came in while the
// decider's transaction ran (it was not part of it), so the decider must
// look again at once.
func hasNewArrivals(d *decisions, kept []*job) bool {
	for _, j := range kept {
		if _, ok := d.kind[j]; !ok {
			return true
		}
	}
	return false
}

// recordSkipped hands rows the firer decided skipped (decideOwnLocked) to
// the writer, which records them with the outcomes; they leave this
// instance once written, as finished runs do.
func (r *runner) recordSkipped(rows []geoetl.ExecutionResult) {
	for _, res := range rows {
		if r.m != nil {
			r.m.SkippedN(*res.Execution.SkipReason, max(1, res.Execution.MissedCount))
		}
		r.writer.finish(res)
	}
}
