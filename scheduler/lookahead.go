package scheduler

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// Adaptive lookahead.
//
// Occurrences are claimed Lookahead before they are due, so that they start
// on time and a change made later than that applies from the next one. A
// large set falling due together (10,000 schedules at the top of the hour)
// takes longer than that to claim, and its last occurrences would start
// late. So, when the dispatcher goes to sleep with the soonest occurrence
// less than MaxLookahead (and a sweep) away, it counts the schedules due
// within a second of it, from the due index alone, and estimates from the
// measured claim rate how long claiming them takes. A set that takes more
// than half the lookahead to claim is claimed earlier, by that much and a
// half lookahead more, up to MaxLookahead; small sets keep the short
// lookahead, so edits keep applying quickly. The set's claims then reach
// the end of its second (the claim window), whatever the lookahead.

// defaultClaimRate is the rows per second a claim transaction is assumed
// to handle until one has been measured: low, so that the first large set
// is claimed early enough on a slow machine.
const defaultClaimRate = 2000

// minRateSample is the fewest rows a claim must handle for its rate to
// count: smaller ones measure the transaction's fixed cost.
const minRateSample = 100

// claimRate is the measured rate of claim transactions, in rows per
// second (a float64's bits).
type claimRate struct{ bits atomic.Uint64 }

func (r *claimRate) get() float64 {
	if v := math.Float64frombits(r.bits.Load()); v > 0 {
		return v
	}
	return defaultClaimRate
}

// note adds a claim of rows that took d, weighing it as much as all
// earlier ones together.
func (r *claimRate) note(rows int, d time.Duration) {
	if rows < minRateSample || d <= 0 {
		return
	}
	v := float64(rows) / d.Seconds()
	if old := math.Float64frombits(r.bits.Load()); old > 0 {
		v = (old + v) / 2
	}
	r.bits.Store(math.Float64bits(v))
}

// claimWindow is the database time up to which claims reach beyond the
// lookahead, while a large set is being claimed early (Unix nanoseconds;
// zero when none).
type claimWindow struct{ ns atomic.Int64 }

func (w *claimWindow) set(t time.Time) { w.ns.Store(t.UnixNano()) }

// claimUntil is how far a claim starting at database time now reaches.
func (cl *claimer) claimUntil(now time.Time) time.Time {
	until := now.Add(cl.cfg.Lookahead)
	if ns := cl.window.ns.Load(); ns != 0 {
		w := time.Unix(0, ns)
		if limit := now.Add(cl.cfg.MaxLookahead); w.After(limit) {
			w = limit
		}
		if w.After(until) {
			until = w
		}
	}
	return until
}

// lead returns how long before next (database time) claiming should
// start, and widens the claim window when the set due with next is large.
// dbNow is the database's clock, about.
func (cl *claimer) lead(ctx context.Context, next, dbNow time.Time) (time.Duration, error) {
	if cl.cfg.MaxLookahead <= cl.cfg.Lookahead || next.Sub(dbNow) > cl.cfg.MaxLookahead+cl.cfg.SweepInterval {
		return cl.cfg.Lookahead, nil
	}
	end := next.Add(time.Second)
	n, err := cl.store.CountDueSchedules(ctx, end, cl.cfg.MaxClaimed)
	if err != nil {
		return 0, err
	}
	need := time.Duration(float64(n) / cl.rate.get() * float64(time.Second))
	if need <= cl.cfg.Lookahead/2 {
		return cl.cfg.Lookahead, nil
	}
	cl.window.set(end)
	lead := min(cl.cfg.MaxLookahead, need+cl.cfg.Lookahead/2)
	cl.log.Debug("large set falling due: claiming it early", "due", n, "at", next, "lead", lead)
	return lead, nil
}
