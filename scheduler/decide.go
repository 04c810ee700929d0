package scheduler

import (
	"context"
	"slices"
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
// never come here and start with no database round trip.

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

func (s *Scheduler) pokeDecider() {
	select {
	case s.decideWake <- struct{}{}:
	default:
	}
}

// decider decides contended jobs as they fall due, and those waiting for
// another instance's outcome whenever one may have arrived.
func (s *Scheduler) decider() {
	defer s.claimers.Done()
	ctx := s.stopCtx
	t := s.clock.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for failures := 0; ; {
		select {
		case <-s.decideWake:
		case <-t.C():
		case <-ctx.Done():
			return
		}
		again, err := s.decideDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait := clock.Backoff(failures)
			s.log.Warn("decider: database error; backing off", "err", err, "retry_in", wait)
			if !clock.SleepContext(ctx, wait) {
				return
			}
			s.pokeDecider()
			continue
		}
		failures = 0
		t.Stop()
		select { // drop a stale tick
		case <-t.C():
		default:
		}
		if !again.IsZero() {
			resetAt(s.clock, t, again)
		}
	}
}

// decideDue decides the contended jobs that are due, in one transaction,
// and returns when to look again at those left waiting.
func (s *Scheduler) decideDue(ctx context.Context) (time.Time, error) {
	s.mu.Lock()
	var list []*job
	for _, j := range s.deciding {
		if j.state == jobDeciding {
			list = append(list, j)
		}
	}
	s.deciding = list
	s.mu.Unlock()
	if len(list) == 0 {
		return time.Time{}, nil
	}
	list = slices.Clone(list)
	var d *decisions
	err := s.store.Claim(ctx, func(tx geoetl.ClaimTx) error {
		var err error
		d, err = s.decideIn(tx, list, s.clock.Now())
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	s.applyDecisions(ctx, d)
	return d.again, nil
}

// decideIn applies the overlap policy to due contended jobs, oldest
// occurrence first, and writes what it decided.
func (s *Scheduler) decideIn(tx geoetl.ClaimTx, list []*job, local time.Time) (*decisions, error) {
	dbNow := tx.Now()
	var ids []string
	for _, j := range list {
		if !slices.Contains(ids, j.schedule.ID) {
			ids = append(ids, j.schedule.ID)
		}
	}
	schedules, err := tx.FindSchedules(ids) // locked until the commit
	if err != nil {
		return nil, err
	}
	occ, err := tx.Occupancy(ids)
	if err != nil {
		return nil, err
	}
	// This instance's own rows: its memory knows whether they run.
	mine := map[string]jobState{}
	s.mu.Lock()
	for _, rows := range occ {
		for _, e := range rows {
			if e.InstanceID != nil && *e.InstanceID == s.id {
				if j := s.jobs[e.ID]; j != nil {
					mine[e.ID] = j.state
				} else {
					mine[e.ID] = jobDropped
				}
			}
		}
	}
	s.mu.Unlock()

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
	d := &decisions{kind: map[*job]decisionKind{}}
	var updates []*geoetl.Execution
	for _, j := range list {
		sc := schedules[j.schedule.ID]
		if sc == nil {
			sc = j.schedule // deleted meanwhile: decide as claimed
		}
		rows := occ[sc.ID]
		if !holdsRow(rows, j.exec.ID, s.id) {
			d.kind[j] = decisionGone
			continue
		}
		overdue := !local.Before(j.fireAt.Add(s.cfg.MisfireGrace))
		var holders, unsure []*geoetl.Execution
		waiting := 0
		for _, e := range rows {
			if e.ID == j.exec.ID {
				continue
			}
			if other := inBatch[e.ID]; other != nil {
				// Decided earlier in this batch (an older occurrence),
				// or later in it (a newer one, which holds nothing now).
				switch k, ok := d.kind[other]; {
				case ok && k == decisionStart:
					holders = append(holders, e)
				case ok && k == decisionWait:
					unsure = append(unsure, e)
				}
				continue
			}
			switch {
			case e.InstanceID == nil:
				waiting++
			case *e.InstanceID == s.id:
				switch mine[e.ID] {
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
			case !e.DueAt.After(dbNow) && !overdue:
				unsure = append(unsure, e)
			}
		}
		limit := sc.ConcurrencyLimit()
		switch {
		case limit == 0 || len(holders)+len(unsure) < limit:
			d.kind[j] = decisionStart
		case sc.OverlapPolicy == geoetl.OverlapCancelPrevious:
			for _, h := range append(holders, unsure...) {
				d.cancels = append(d.cancels, h.ID)
			}
			d.kind[j] = decisionStart
		case len(holders) < limit:
			d.kind[j] = decisionWait
			at := local.Add(deciderPoll)
			if deadline := j.fireAt.Add(s.cfg.MisfireGrace); deadline.Before(at) {
				at = deadline
			}
			if d.again.IsZero() || at.Before(d.again) {
				d.again = at
			}
		case sc.OverlapPolicy == geoetl.OverlapQueue && waiting == 0:
			e := *j.exec
			e.InstanceID, e.HeartbeatAt = nil, nil
			updates = append(updates, &e)
			d.kind[j] = decisionRelease
			d.blocked = append(d.blocked, sc.ID)
		default:
			reason := geoetl.SkipReasonOverlap
			if sc.OverlapPolicy == geoetl.OverlapQueue {
				reason = geoetl.SkipReasonQueueFull
			}
			e := *j.exec
			e.Status, e.Skipped, e.SkipReason, e.CompletedAt = geoetl.ExecSkipped, true, &reason, &dbNow
			updates = append(updates, &e)
			d.kind[j] = decisionSkip
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
func (s *Scheduler) applyDecisions(ctx context.Context, d *decisions) {
	s.mu.Lock()
	now := s.clock.Now()
	for j, k := range d.kind {
		if j.state != jobDeciding {
			continue // dropped meanwhile (a cancel, a lapsed lease, Stop)
		}
		switch k {
		case decisionStart:
			j.state = jobReady
			s.dispatchReady(j, now)
		case decisionSkip, decisionRelease, decisionGone:
			j.state = jobDropped
			delete(s.jobs, j.exec.ID)
		}
	}
	kept := s.deciding[:0]
	clear(s.undecided)
	for _, j := range s.deciding {
		if j.state == jobDeciding {
			kept = append(kept, j)
			if d.kind[j] == decisionWait {
				s.undecided[j.schedule.ID]++
			}
		}
	}
	s.deciding = kept
	for _, id := range d.blocked {
		s.blocked[id] = struct{}{}
	}
	s.mu.Unlock()
	if hasNewArrivals(d, kept) {
		s.pokeDecider()
	}
	s.announceDecided(ctx, d.cancels, d.events, d.skipped)
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

// awaitsOutcome reports whether a contended job waits for an outcome of
// the schedule, so that news of it should wake the decider.
func (s *Scheduler) awaitsOutcome(scheduleIDs ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range scheduleIDs {
		if s.undecided[id] > 0 {
			return true
		}
	}
	return false
}
