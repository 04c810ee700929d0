package notify

import (
	"errors"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

func TestRecord_RetriesWithBackoffThenGivesUp(t *testing.T) {
	n := planNotifier(t, Config{MaxAttempts: 3, Backoff: func(a int) time.Duration { return time.Duration(a) * time.Minute }})
	d := &geoetl.Delivery{Channel: geoetl.ChannelWebhook, Target: "https://hooks.example.com/x", Status: geoetl.DeliveryPending}
	now := planNow

	n.record(d, outcome{statusCode: 500, err: errors.New("HTTP 500"), retry: true}, now)
	if d.Status != geoetl.DeliveryPending || d.Attempts != 1 || !d.NextAttemptAt.Equal(now.Add(time.Minute)) || *d.LastStatusCode != 500 {
		t.Fatalf("after attempt 1: %+v, want pending, next in 1 min", d)
	}
	n.record(d, outcome{statusCode: 429, err: errors.New("HTTP 429"), retry: true, retryAfter: 90 * time.Second}, now)
	if d.Status != geoetl.DeliveryPending || d.Attempts != 2 || !d.NextAttemptAt.Equal(now.Add(90*time.Second)) {
		t.Fatalf("after attempt 2: %+v, want pending, next after the Retry-After", d)
	}
	n.record(d, outcome{err: errors.New("connection refused"), retry: true}, now)
	if d.Status != geoetl.DeliveryFailed || d.Attempts != 3 || d.NextAttemptAt != nil || d.LastStatusCode != nil || *d.LastError != "connection refused" {
		t.Fatalf("after attempt 3 of 3: %+v, want failed with the last error", d)
	}
}

func TestRecord_SuccessClearsTheError(t *testing.T) {
	n := planNotifier(t, Config{})
	d := &geoetl.Delivery{Status: geoetl.DeliveryPending, Attempts: 1, LastError: geoetl.Ptr("HTTP 503")}
	n.record(d, outcome{statusCode: 204}, planNow)
	if d.Status != geoetl.DeliverySent || d.Attempts != 2 || d.LastError != nil || d.NextAttemptAt != nil || d.DeliveredAt == nil || !d.DeliveredAt.Equal(planNow) {
		t.Fatalf("%+v: want sent at now without error", d)
	}
}

func TestRecord_PermanentFailureIsFinalAtOnce(t *testing.T) {
	n := planNotifier(t, Config{})
	d := &geoetl.Delivery{Status: geoetl.DeliveryPending}
	n.record(d, outcome{statusCode: 400, err: errors.New("HTTP 400: bad payload")}, planNow)
	if d.Status != geoetl.DeliveryFailed || d.Attempts != 1 || d.NextAttemptAt != nil {
		t.Fatalf("%+v: want failed after one attempt", d)
	}
}

func TestDefaultBackoff_GrowsOverMinutesWithJitter(t *testing.T) {
	for attempt, base := range map[int]time.Duration{1: 30 * time.Second, 2: 2 * time.Minute, 3: 8 * time.Minute, 4: 30 * time.Minute, 9: 30 * time.Minute} {
		for range 50 {
			d := DefaultBackoff(attempt)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("DefaultBackoff(%d) = %v, want within 20%% of %v", attempt, d, base)
			}
		}
	}
}
