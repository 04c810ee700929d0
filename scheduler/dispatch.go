package scheduler

import (
	"context"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// dispatcher claims due work whenever the soonest next run (minus the
// lookahead) comes, when woken by a change, and at least every
// SweepInterval. Database errors make it back off and try again; it never
// runs anything it has not claimed.
func (cl *claimer) dispatcher(ctx context.Context) {
	t := cl.clock.NewTimer(time.Hour)
	defer t.Stop()
	failures := 0
	for {
		deadline, poll, err := cl.dispatchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait := clock.Backoff(failures)
			cl.log.Warn("dispatcher: database error; backing off", "err", err, "retry_in", wait)
			// Real time, not the scheduler's clock: this waits for the
			// database, not for an occurrence.
			select {
			case <-time.After(wait):
			case <-cl.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		failures = 0
		if poll {
			// Due work was left for capacity: what frees it (runs ending,
			// their outcomes written, claims handed back) happens in real
			// time, so look again after real time, not the scheduler's
			// clock, which a test may have stopped at the occurrence.
			select {
			case <-time.After(pollInterval):
			case <-cl.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		// The deadline is absolute: a clock that moved while the claim ran
		// (or a fake one moved by a test) fires the timer at once.
		wait := deadline.Sub(cl.clock.Now())
		if wait <= 0 {
			continue
		}
		if cl.onSleep != nil {
			cl.onSleep()
		}
		t.Stop()
		select { // drop a stale tick
		case <-t.C():
		default:
		}
		resetAt(cl.clock, t, deadline)
		select {
		case <-t.C():
		case <-cl.wake:
		case <-ctx.Done():
			return
		}
	}
}

// pollInterval is how soon the dispatcher looks again at due work it left
// alone for lack of capacity, in real time.
const pollInterval = 50 * time.Millisecond

// dispatchOnce claims until nothing more is due, then returns the local
// time to look again: the soonest next run minus the lookahead, at most
// SweepInterval away; or poll when something due was left alone for lack
// of capacity, to look again after pollInterval of real time.
func (cl *claimer) dispatchOnce(ctx context.Context) (deadline time.Time, poll bool, err error) {
	var seen time.Time // the latest time the claims looked up to
	for {
		res, err := cl.claim(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		if len(res.jobs) > 0 || len(res.events) > 0 {
			cl.log.Debug("claimed", "jobs", len(res.jobs), "events", len(res.events), "db_now", res.dbNow)
		}
		seen = res.until
		if !res.more || ctx.Err() != nil {
			break
		}
	}
	next, err := cl.store.NextWakeAt(ctx, &geoetl.NextWakeAtParams{Waiting: cl.blockedList(), Tenants: cl.tenantsWaiting()})
	if err != nil {
		return time.Time{}, false, err
	}
	local := cl.clock.Now()
	offset := cl.db.lead()
	deadline = local.Add(cl.cfg.SweepInterval)
	if next != nil {
		lead, err := cl.lead(ctx, *next, local.Add(offset))
		if err != nil {
			return time.Time{}, false, err
		}
		at := next.Add(-lead - offset)
		if cl.isPG {
			// Instances would otherwise all wake at the same instant and the
			// quickest would claim every occurrence, every time: a random
			// quarter of the lookahead spreads the claims.
			at = at.Add(time.Duration(cl.rand() * float64(cl.cfg.Lookahead) / 4))
		}
		if at.Before(deadline) {
			deadline = at
		}
	}
	if !deadline.After(local) && next.After(seen) {
		// It fell due after the claim looked: claim again at once.
		return local, false, nil
	}
	if !deadline.After(local) {
		// Something is due that the claim left alone: work beyond this
		// instance's capacity. Look again shortly.
		cl.log.Debug("dispatcher polls", "next", next)
		return local, true, nil
	}
	cl.log.Debug("dispatcher sleeps", "until", deadline, "next", next)
	return deadline, false, nil
}
