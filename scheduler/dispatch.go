package scheduler

import (
	"context"
	"time"
)

// dispatcher claims due work whenever the soonest next run (minus the
// lookahead) comes, when woken by a change, and at least every
// SweepInterval. Database errors make it back off and try again; it never
// runs anything it has not claimed.
func (s *Scheduler) dispatcher() {
	defer s.loops.Done()
	ctx := s.stopCtx
	t := s.clock.NewTimer(0)
	defer t.Stop()
	failures := 0
	for {
		wait, err := s.dispatchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait = backoff(failures)
			s.log.Warn("dispatcher: database error; backing off", "err", err, "retry_in", wait)
			// Real time, not the scheduler's clock: this waits for the
			// database, not for an occurrence.
			select {
			case <-time.After(wait):
			case <-s.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		failures = 0
		if wait <= 0 {
			continue
		}
		t.Stop()
		t.Reset(wait)
		select {
		case <-t.C():
		case <-s.wake:
		case <-ctx.Done():
			return
		}
	}
}

// dispatchOnce claims until nothing more is due, then returns how long to
// sleep: until the soonest next run minus the lookahead, at most
// SweepInterval.
func (s *Scheduler) dispatchOnce(ctx context.Context) (time.Duration, error) {
	for {
		res, err := s.claim(ctx)
		if err != nil {
			return 0, err
		}
		if !res.more || ctx.Err() != nil {
			break
		}
	}
	next, err := s.store.NextWakeAtExcept(ctx, s.blockedList())
	if err != nil {
		return 0, err
	}
	now := s.dbNow()
	sleep := s.cfg.SweepInterval
	if next != nil {
		sleep = min(sleep, next.Add(-s.cfg.Lookahead).Sub(now))
	}
	if sleep <= 0 {
		// Something is due that the claim left alone: an occurrence
		// deferred to its exact time, or work beyond this instance's
		// capacity. Sleep until the deferred time, or briefly.
		sleep = 50 * time.Millisecond
		s.mu.Lock()
		if s.defer_ != nil {
			sleep = max(0, min(s.cfg.SweepInterval, s.defer_.Sub(now)))
			if sleep == 0 {
				sleep = time.Millisecond
			}
			s.defer_ = nil
		}
		s.mu.Unlock()
	}
	return sleep, nil
}
