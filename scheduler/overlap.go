package scheduler

import (
	"github.com/geoetl/geoetl"
)

// decision is what the claim does with one candidate execution.
type decision int

const (
	decideStart         decision = iota // claim it and run it
	decideWait                          // leave it pending until a slot frees
	decideSkipOverlap                   // record it skipped: SkipReasonOverlap
	decideSkipQueueFull                 // record it skipped: SkipReasonQueueFull
	decideCancelAndRun                  // cancel the runs holding the slots, then run it
)

// candidateKind says how a candidate relates to the overlap policy.
type candidateKind int

const (
	// kindFresh is a new occurrence or a run-now: the overlap policy
	// decides.
	kindFresh candidateKind = iota
	// kindWaiting waits for a free slot whatever the policy (backfills,
	// run_all catch-ups, queued occurrences, claims handed back).
	kindWaiting
	// kindAlways runs at once: retries (they carry on their occurrence),
	// forced run-nows and ad hoc workflow runs.
	kindAlways
)

// kindOf classifies a pending execution found by the claim.
func kindOf(e *geoetl.Execution) candidateKind {
	switch {
	case e.ScheduleID == nil, e.Force, e.Trigger == geoetl.TriggerRetry, e.Trigger == geoetl.TriggerDependency:
		return kindAlways
	case e.Trigger == geoetl.TriggerManual:
		return kindFresh
	default:
		return kindWaiting
	}
}

// slots is one schedule's occupancy as the claim transaction sees it,
// kept up to date as the claim decides.
type slots struct {
	limit   int                 // 0: no limit
	holders []*geoetl.Execution // running, or claimed by an instance
	waiting []*geoetl.Execution // pending, unclaimed, not retries or backfills
}

// newSlots splits a schedule's occupancy into holders and waiting rows.
func newSlots(s *geoetl.Schedule, occ []*geoetl.Execution) *slots {
	sl := &slots{limit: s.ConcurrencyLimit()}
	for _, e := range occ {
		if e.Status == geoetl.ExecRunning || e.InstanceID != nil {
			sl.holders = append(sl.holders, e)
		} else {
			sl.waiting = append(sl.waiting, e)
		}
	}
	return sl
}

func (sl *slots) free() bool { return sl.limit == 0 || len(sl.holders) < sl.limit }

// waitingOthers counts the waiting rows other than self.
func (sl *slots) waitingOthers(self string) int {
	n := 0
	for _, e := range sl.waiting {
		if e.ID != self {
			n++
		}
	}
	return n
}

// decide applies the overlap policy to a candidate of the given kind. self
// is the candidate's id when it is a row already (it then does not count
// as waiting behind itself).
func (sl *slots) decide(policy geoetl.OverlapPolicy, kind candidateKind, self string) decision {
	if kind == kindAlways || sl.free() {
		return decideStart
	}
	if kind == kindWaiting {
		// Even under cancel_previous: backfills cancelling each other
		// would run only the last one.
		return decideWait
	}
	switch policy {
	case geoetl.OverlapQueue:
		if sl.waitingOthers(self) == 0 {
			return decideWait
		}
		return decideSkipQueueFull
	case geoetl.OverlapCancelPrevious:
		return decideCancelAndRun
	case geoetl.OverlapAllow:
		return decideStart
	default:
		return decideSkipOverlap
	}
}

// supersededBy returns a later occurrence of the same schedule holding a
// slot that makes e, a waiting occurrence, moot: e is a claim handed back
// by a lost or stopping instance (only such rows of a scheduled occurrence
// wait under these policies), and a newer occurrence was claimed since.
// Waiting for the slot would starve it whenever occurrences are claimed
// back to back (a schedule firing about as often as the lookahead), and
// running it after the newer one would run the schedule backwards; the
// misfire policies run_once and skip say the newer occurrence is what
// runs. queue keeps its queued row (the newer ones are the skipped ones)
// and run_all runs every missed occurrence.
func (sl *slots) supersededBy(sc *geoetl.Schedule, e *geoetl.Execution) *geoetl.Execution {
	if e.Trigger != geoetl.TriggerSchedule || e.Force || waitedForTenant(e) ||
		sc.OverlapPolicy == geoetl.OverlapQueue || sc.MisfirePolicy == geoetl.MisfireRunAll {
		return nil
	}
	for _, h := range sl.holders {
		if h.Trigger == geoetl.TriggerSchedule && h.ScheduledAt.After(e.ScheduledAt) {
			return h
		}
	}
	return nil
}

// started records that e now holds a slot (and no longer waits).
func (sl *slots) started(e *geoetl.Execution) {
	sl.removeWaiting(e.ID)
	sl.holders = append(sl.holders, e)
}

// waits records that e waits for a slot.
func (sl *slots) waits(e *geoetl.Execution) {
	for _, w := range sl.waiting {
		if w.ID == e.ID {
			return
		}
	}
	sl.waiting = append(sl.waiting, e)
}

// evict removes the holders (being cancelled) and returns them.
func (sl *slots) evict() []*geoetl.Execution {
	h := sl.holders
	sl.holders = nil
	return h
}

func (sl *slots) removeWaiting(id string) {
	for i, w := range sl.waiting {
		if w.ID == id {
			sl.waiting = append(sl.waiting[:i], sl.waiting[i+1:]...)
			return
		}
	}
}
