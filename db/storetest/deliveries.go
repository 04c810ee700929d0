package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func (s *suite) deliveries(t *testing.T) {
	t.Run("ClaimLeasesAndUpdateReleases", func(t *testing.T) {
		st, clk := s.fresh(t)
		w := newWorld(t, st)
		e := w.mustExecution(t, w.execution(nil, epoch, geoetl.TriggerManual))
		later := epoch.Add(time.Hour)
		mk := func(target string, next *time.Time) *geoetl.Delivery {
			return &geoetl.Delivery{TenantID: w.ten.ID, ExecutionID: &e.ID, Event: "execution.completed", Channel: geoetl.ChannelEmail,
				Target: target, Payload: []byte("hello"), NextAttemptAt: next}
		}
		a, b, c := mk("a@example.com", nil), mk("b@example.com", nil), mk("c@example.com", &later)
		noErr(t, st.CreateDeliveries(bg, []*geoetl.Delivery{a, b, c}))
		if a.MaskedTarget != "a@example.com" || a.Status != geoetl.DeliveryPending || !a.NextAttemptAt.Equal(a.CreatedAt) {
			t.Fatalf("defaults = %+v", a)
		}
		lease := epoch.Add(time.Minute)
		got, err := st.ClaimDeliveries(bg, "node-1", 1, lease)
		noErr(t, err)
		if len(got) != 1 || string(got[0].Payload) != "hello" {
			t.Fatalf("first claim = %+v", got)
		}
		first := got[0]
		got, err = st.ClaimDeliveries(bg, "node-2", 10, lease)
		noErr(t, err)
		if len(got) != 1 || got[0].ID == first.ID {
			t.Fatalf("second claim = %v, want the other due delivery", got)
		}
		got, err = st.ClaimDeliveries(bg, "node-3", 10, lease)
		noErr(t, err)
		if len(got) != 0 {
			t.Fatalf("third claim got %d leased deliveries", len(got))
		}
		// The first holder reports a retryable failure: the lease goes and
		// the next attempt is due at once.
		code, msg, next := 503, "unavailable", clk.Now()
		first.Attempts, first.LastStatusCode, first.LastError, first.NextAttemptAt = 1, &code, &msg, &next
		noErr(t, st.UpdateDelivery(bg, first))
		got, err = st.ClaimDeliveries(bg, "node-3", 10, lease)
		noErr(t, err)
		if len(got) != 1 || got[0].ID != first.ID || got[0].Attempts != 1 || *got[0].LastStatusCode != 503 {
			t.Fatalf("after release = %+v", got)
		}
		// A lease that ran out is free again.
		clk.Advance(2 * time.Minute)
		got, err = st.ClaimDeliveries(bg, "node-4", 10, clk.Now().Add(time.Minute))
		noErr(t, err)
		if len(got) != 2 {
			t.Fatalf("after leases expired: %d claimed, want 2", len(got))
		}
		// Sent deliveries are never claimed again.
		sent := clk.Now()
		for _, d := range got {
			d.Status, d.DeliveredAt, d.Attempts = geoetl.DeliverySent, &sent, d.Attempts+1
			noErr(t, st.UpdateDelivery(bg, d))
		}
		clk.Advance(2 * time.Hour)
		got, err = st.ClaimDeliveries(bg, "node-5", 10, clk.Now().Add(time.Minute))
		noErr(t, err)
		if len(got) != 1 || got[0].ID != c.ID {
			t.Fatalf("only the later one should be left: %+v", got)
		}
		list, err := st.ListDeliveries(bg, w.ten.ID, e.ID)
		noErr(t, err)
		if len(list) != 3 {
			t.Fatalf("ListDeliveries = %d", len(list))
		}
		sentCount := 0
		for _, d := range list {
			if d.Status == geoetl.DeliverySent {
				sentCount++
				if d.DeliveredAt == nil || !d.DeliveredAt.Equal(sent) {
					t.Fatalf("delivered at %v", d.DeliveredAt)
				}
			}
		}
		if sentCount != 2 {
			t.Fatalf("%d sent", sentCount)
		}
		other := mustTenant(t, st)
		wantCode(t, st.UpdateDelivery(bg, &geoetl.Delivery{ID: a.ID, TenantID: other.ID, Status: geoetl.DeliveryFailed}), geoetl.ENOTFOUND)
	})

	t.Run("ConcurrentClaimersNeverShareADelivery", func(t *testing.T) {
		st, _ := s.fresh(t)
		w := newWorld(t, st)
		e := w.mustExecution(t, w.execution(nil, epoch, geoetl.TriggerManual))
		const n = 60
		var ds []*geoetl.Delivery
		for i := 0; i < n; i++ {
			ds = append(ds, &geoetl.Delivery{TenantID: w.ten.ID, ExecutionID: &e.ID, Event: "execution.completed", Channel: geoetl.ChannelWebhook,
				Target: fmt.Sprintf("https://example.com/%d", i)})
		}
		noErr(t, st.CreateDeliveries(bg, ds))
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := st.ClaimDeliveries(bg, fmt.Sprintf("node-%d", c), 7, epoch.Add(time.Hour))
					if err != nil {
						t.Errorf("ClaimDeliveries: %v", err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						seen[d.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d deliveries claimed, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("delivery %s claimed %d times", id, c)
			}
		}
	})
}

func (s *suite) audit(t *testing.T) {
	st, clk := s.fresh(t)
	w := newWorld(t, st)
	other := mustTenant(t, st)
	var want []*geoetl.AuditEntry // newest first
	for i := 0; i < 5; i++ {
		clk.Advance(time.Second)
		a := &geoetl.AuditEntry{TenantID: w.ten.ID, ActorID: "u1", Actor: "alice", Action: "schedule.update", ObjectType: "schedule",
			ObjectID: fmt.Sprintf("s%d", i%2), Before: json.RawMessage(`{"v":1}`), After: json.RawMessage(`{"v":2}`)}
		if i == 4 {
			a.Action, a.Before, a.After = "schedule.create", nil, nil
		}
		noErr(t, st.AppendAudit(bg, a))
		want = append([]*geoetl.AuditEntry{a}, want...)
	}
	noErr(t, st.AppendAudit(bg, &geoetl.AuditEntry{TenantID: other.ID, Action: "schedule.delete"}))

	t.Run("NewestFirstWithCursor", func(t *testing.T) {
		got, total, next, err := st.FindAudit(bg, geoetl.AuditFilter{TenantID: w.ten.ID, Page: geoetl.Page{Limit: 3}})
		noErr(t, err)
		if total != 5 || next == "" {
			t.Fatalf("total %d next %q", total, next)
		}
		sameJSON(t, "first page", got, want[:3])
		got, _, next, err = st.FindAudit(bg, geoetl.AuditFilter{TenantID: w.ten.ID, Page: geoetl.Page{Limit: 3, Cursor: next}})
		noErr(t, err)
		sameJSON(t, "second page", got, want[3:])
		if next != "" {
			t.Fatalf("next %q on the last page", next)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		_, total, _, err := st.FindAudit(bg, geoetl.AuditFilter{TenantID: w.ten.ID, ObjectType: "schedule", ObjectID: "s0"})
		noErr(t, err)
		if total != 3 {
			t.Fatalf("object s0: %d", total)
		}
		got, total, _, err := st.FindAudit(bg, geoetl.AuditFilter{TenantID: w.ten.ID, Action: "schedule.create"})
		noErr(t, err)
		if total != 1 || got[0].Before != nil {
			t.Fatalf("create entries: %d, before %s", total, got[0].Before)
		}
		got, total, _, err = st.FindAudit(bg, geoetl.AuditFilter{TenantID: other.ID})
		noErr(t, err)
		if total != 1 || got[0].Action != "schedule.delete" {
			t.Fatalf("the other tenant sees %d entries", total)
		}
		_, _, _, err = st.FindAudit(bg, geoetl.AuditFilter{TenantID: w.ten.ID, Page: geoetl.Page{Cursor: "x"}})
		wantCode(t, err, geoetl.EINVALID)
	})
}
