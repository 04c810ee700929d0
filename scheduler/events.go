package scheduler

import (
	"sync"

	"github.com/geoetl/geoetl"
)

// subscriberBuffer is how many events a subscriber may fall behind before
// it starts losing them.
const subscriberBuffer = 256

// hub fans execution events out to subscribers by tenant. Publishing never
// blocks: a subscriber whose buffer is full misses the event.
type hub struct {
	mu   sync.RWMutex
	subs map[string]map[chan geoetl.ExecutionEvent]struct{}
}

func newHub() *hub { return &hub{subs: map[string]map[chan geoetl.ExecutionEvent]struct{}{}} }

func (h *hub) subscribe(tenantID string) (<-chan geoetl.ExecutionEvent, func()) {
	c := make(chan geoetl.ExecutionEvent, subscriberBuffer)
	h.mu.Lock()
	if h.subs[tenantID] == nil {
		h.subs[tenantID] = map[chan geoetl.ExecutionEvent]struct{}{}
	}
	h.subs[tenantID][c] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[tenantID], c)
			if len(h.subs[tenantID]) == 0 {
				delete(h.subs, tenantID)
			}
			h.mu.Unlock()
			close(c)
		})
	}
}

func (h *hub) publish(ev geoetl.ExecutionEvent) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.subs[ev.TenantID] {
		select {
		case c <- ev:
		default:
		}
	}
}
