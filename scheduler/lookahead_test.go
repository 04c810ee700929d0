package scheduler

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func TestClaimRate_CountsOnlyClaimsLargeEnoughToMeasureTheRate(t *testing.T) {
	t.Parallel()
	var r claimRate
	if got := r.get(); got != defaultClaimRate {
		t.Fatalf("unmeasured rate = %v, want the default %v", got, defaultClaimRate)
	}
	r.note(10, time.Millisecond) // the transaction's fixed cost, not a rate
	if got := r.get(); got != defaultClaimRate {
		t.Fatalf("rate after a small claim = %v, want the default", got)
	}
	r.note(1000, 100*time.Millisecond) // 10,000 rows/s
	r.note(1000, 500*time.Millisecond) // 2,000 rows/s: weighs as much as all before
	if got := r.get(); math.Abs(got-6000) > 1e-6 {
		t.Fatalf("rate = %v, want 6000", got)
	}
}

// setRate pins the measured claim rate, as if claims had run that fast.
func setRate(s *Scheduler, rowsPerSecond float64) {
	s.claimer.rate.bits.Store(math.Float64bits(rowsPerSecond))
}

func TestLead_OnlyALargeSetFallingDueTogetherIsClaimedEarly(t *testing.T) {
	t.Parallel() // a store, a clock and schedulers of its own
	b := setupSQLite(t)
	wf := b.workflow(defEmpty)
	for range 200 {
		b.schedule(wf, "0 * * * * *", nil) // all due at t0+1m
	}
	s, err := New(b.config("i1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, next := context.Background(), t0.Add(time.Minute)
	tests := []struct {
		name  string
		rate  float64
		dbNow time.Time
		want  time.Duration
	}{
		{"FarAwayIsNotCounted", 10, t0, time.Second},
		{"QuickToClaimKeepsTheLookahead", 2000, next.Add(-3 * time.Second), time.Second},       // 0.1 s of claims
		{"SlowToClaimStartsEarlier", 200, next.Add(-3 * time.Second), 1500 * time.Millisecond}, // 1 s of claims + half the lookahead
		{"NeverEarlierThanMaxLookahead", 10, next.Add(-3 * time.Second), 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.claimer.window.ns.Store(0)
			setRate(s, tt.rate)
			got, err := s.claimer.lead(ctx, next, tt.dbNow)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("lead = %s, want %s", got, tt.want)
			}
			// An early claim reaches the set's whole second (up to
			// MaxLookahead ahead); otherwise claims reach Lookahead.
			from := next.Add(-got)
			until := s.claimer.claimUntil(from)
			wantUntil := from.Add(time.Second)
			if got > time.Second {
				wantUntil = next.Add(time.Second)
				if limit := from.Add(3 * time.Second); limit.Before(wantUntil) {
					wantUntil = limit
				}
			}
			if !until.Equal(wantUntil) {
				t.Fatalf("a claim at %s reaches %s, want %s", from, until, wantUntil)
			}
		})
	}
}

func TestDispatcher_ClaimsALargeSetEarlyAndStartsItOnTime(t *testing.T) {
	setupEach(t, func(t *testing.T, b *bundle) {
		s := b.start("i1", nil)
		setRate(s, 50) // 200 rows take 4 s: claim MaxLookahead (3 s) ahead
		wf := b.workflow(defEmpty)
		var list []*geoetl.Schedule
		for range 200 {
			list = append(list, b.schedule(wf, "0 * * * * *", nil))
		}
		due := t0.Add(time.Minute)
		// A sweep within MaxLookahead and a sweep of the set sees it coming.
		b.advanceTo(due.Add(-4 * time.Second))
		b.advanceTo(due.Add(-3 * time.Second))
		for _, sc := range list {
			b.waitStatus(sc, geoetl.ExecPending, 1) // claimed 3 s ahead, not 1 s
		}
		b.advanceTo(due)
		for _, sc := range list {
			b.waitStatus(sc, geoetl.ExecCompleted, 1)
			h := b.history(sc)
			if len(h) != 1 || h[0].ExecutedAt == nil || !h[0].ExecutedAt.Equal(due) {
				t.Fatalf("%s: %+v, want one run started exactly at %s", sc.Name, h, due)
			}
		}
	})
}
