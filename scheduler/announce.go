package scheduler

import (
	"context"

	"github.com/geoetl/geoetl"
)

// announcer tells what happened: subscribers here (events), the other
// instances (the cluster's change feed), metrics and notifications; and it
// wakes the claimer and the decider when a slot they wait for may be
// free. changes.go has the other direction: acting on what the other
// instances tell.
type announcer struct {
	*deps
	held    *held
	claimer *claimer // woken when slots free or retries are added
	decider *decider // woken when an outcome a contended job waits for arrives
	events  *hub
	feed    geoetl.ChangeFeed // nil without a cluster
}

// changed wakes the dispatchers, here and on the other instances.
func (a *announcer) changed(ctx context.Context) {
	a.claimer.unblockAll()
	a.claimer.poke()
	a.publish(ctx, geoetl.Change{Wake: true})
}

// announceDecided acts on what a committed claim or decider transaction
// decided: runs it cancelled (cancel_previous) are stopped here or, through
// the change feed, wherever they run; events of the rows it wrote go to
// subscribers here and on other instances; skips are counted.
func (a *announcer) announceDecided(ctx context.Context, cancels []string, events []geoetl.ExecutionEvent, skipped map[string]int) {
	var remote []string
	for _, id := range cancels {
		if !a.held.cancel(id, stopNewerRun) {
			remote = append(remote, id)
		}
	}
	if len(remote) > 0 {
		a.publish(ctx, geoetl.Change{Cancel: remote})
	}
	for _, ev := range events {
		a.events.publish(ev)
	}
	if len(events) > 0 {
		a.publish(ctx, geoetl.Change{Events: events})
	}
	a.claimer.tenantsFreed(events)
	if a.m != nil {
		for r, n := range skipped {
			a.m.SkippedN(r, n)
		}
	}
}

// scheduleEvents logs schedules that stopped (error or expiry) and stores
// their notifications.
func (a *announcer) scheduleEvents(ctx context.Context, list []*geoetl.Schedule, event string) {
	var ds []*geoetl.Delivery
	for _, sc := range list {
		reason := ""
		if sc.StatusReason != nil {
			reason = *sc.StatusReason
		}
		a.log.Warn("schedule stopped firing", "event", event, "schedule", sc.ID, "tenant", sc.TenantID, "reason", reason)
		if a.cfg.Notifier != nil {
			ds = append(ds, a.cfg.Notifier.PlanScheduleEvent(sc, event)...)
		}
	}
	if len(ds) == 0 {
		return
	}
	if err := a.store.CreateDeliveries(ctx, ds); err != nil {
		a.log.Error("storing schedule notifications failed", "event", event, "err", err)
		return
	}
	a.cfg.Notifier.Kick()
}

// finished acts on outcomes written by this instance's runs: the jobs
// leave this instance, then announce.
func (a *announcer) finished(rs []geoetl.ExecutionResult) {
	if len(rs) == 0 {
		return
	}
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.Execution.ID)
	}
	a.held.forget(ids)
	a.announce(rs)
}

// announce publishes written outcomes: events here and to other
// instances, metrics, notifications, and a look at the database when a
// retry was added or a slot freed.
func (a *announcer) announce(rs []geoetl.ExecutionResult) {
	var schedules []string
	retries, deliveries := false, false
	events := make([]geoetl.ExecutionEvent, 0, len(rs))
	for _, r := range rs {
		e := r.Execution
		if e.ScheduleID != nil {
			schedules = append(schedules, *e.ScheduleID)
		}
		retries = retries || r.Retry != nil
		deliveries = deliveries || len(r.Deliveries) > 0
		ev := eventOf(e)
		events = append(events, ev)
		a.events.publish(ev)
		if e.Status != geoetl.ExecSkipped { // counted as skipped when decided
			a.m.Finished(string(e.Status), string(e.Trigger))
		}
	}
	a.publish(context.Background(), geoetl.Change{Events: events})
	if deliveries && a.cfg.Notifier != nil {
		a.cfg.Notifier.Kick()
	}
	a.claimer.unblock(schedules...)
	a.claimer.tenantsFreed(events)
	if a.held.awaitsOutcome(schedules...) {
		a.decider.poke()
	}
	if retries {
		a.claimer.poke()
	}
}
