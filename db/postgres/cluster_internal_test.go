package postgres

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/geoetl/geoetl"
)

// TestEncodeMessages_SplitsUnderThePayloadLimitAndKeepsEveryItem: NOTIFY
// refuses payloads of 8000 bytes or more, so a large coalesced batch must
// be split, and no cancellation or event may be lost in the split.
func TestEncodeMessages_SplitsUnderThePayloadLimitAndKeepsEveryItem(t *testing.T) {
	t.Parallel()
	var m message
	m.Wake = true
	for i := range 500 {
		m.Cancel = append(m.Cancel, fmt.Sprintf("00000000-0000-0000-0000-%012d", i))
		m.Events = append(m.Events, geoetl.ExecutionEvent{
			TenantID: "t", ExecutionID: fmt.Sprintf("e-%d", i), ScheduleID: "s", Status: geoetl.ExecCompleted,
		})
	}
	payloads := encodeMessages("me", m)
	if len(payloads) < 2 {
		t.Fatalf("%d payloads for 500 cancellations and 500 events, want a split", len(payloads))
	}
	var cancels, events int
	wakes := 0
	for _, p := range payloads {
		if len(p) >= 8000 {
			t.Fatalf("payload of %d bytes, over PostgreSQL's limit", len(p))
		}
		var got message
		if err := json.Unmarshal([]byte(p), &got); err != nil {
			t.Fatal(err)
		}
		if got.From != "me" {
			t.Fatalf("payload from %q, want me", got.From)
		}
		if got.Wake {
			wakes++
		}
		cancels += len(got.Cancel)
		events += len(got.E)
	}
	if cancels != 500 || events != 500 || wakes != 1 {
		t.Fatalf("payloads carry %d cancellations, %d events, %d wakes; want 500, 500, 1", cancels, events, wakes)
	}
}
