package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/geoetl/geoetl"
)

func (s *suite) concurrency(t *testing.T) {
	t.Run("ConcurrentClaimersNeverShareARow", func(t *testing.T) {
		t.Parallel()
		st, _ := s.fresh(t)
		s.concurrentClaimers(t, newWorld(t, st), 40)
	})

	t.Run("FiftyWritersLoseNoUpdate", func(t *testing.T) {
		t.Parallel()
		st := s.open(t, nil)
		w := newWorld(t, st)
		shared := w.schedule(t, func(s *geoetl.Schedule) { s.ParameterValues = map[string]any{"counter": 0.0} })
		const writers, rounds = 50, 3
		var wg sync.WaitGroup
		errs := make(chan error, writers*(rounds+1))
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each writer creates a schedule of its own while the others do...
				own := newSchedule(w.ten.ID, w.wf.ID, fmt.Sprintf("writer %02d", i))
				if err := st.CreateSchedule(bg, own); err != nil {
					errs <- fmt.Errorf("create: %w", err)
					return
				}
				// ...and increments the shared counter a few times.
				for r := 0; r < rounds; r++ {
					_, err := st.UpdateSchedule(bg, w.ten.ID, shared.ID, nil, func(s *geoetl.Schedule) error {
						n, _ := s.ParameterValues["counter"].(float64)
						s.ParameterValues["counter"] = n + 1
						return nil
					})
					if err != nil {
						errs <- fmt.Errorf("update: %w", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent writer failed (a busy database must queue, not fail): %v", err)
		}
		got, err := st.FindScheduleByID(bg, w.ten.ID, shared.ID)
		noErr(t, err)
		if got.ParameterValues["counter"] != float64(writers*rounds) || got.Version != 1+writers*rounds {
			t.Fatalf("counter %v at version %d, want %d at version %d", got.ParameterValues["counter"], got.Version, writers*rounds, 1+writers*rounds)
		}
		_, total, _, err := st.FindSchedules(bg, geoetl.ScheduleFilter{TenantID: w.ten.ID, Q: "writer"})
		noErr(t, err)
		if total != writers {
			t.Fatalf("%d writer schedules, want %d", total, writers)
		}
		vs, err := st.ScheduleVersions(bg, w.ten.ID, shared.ID)
		noErr(t, err)
		if len(vs) != 1+writers*rounds {
			t.Fatalf("%d versions kept", len(vs))
		}
	})
}
