package sqlstore

import (
	"context"
	"sync"
	"time"
)

// flights lets one reader of a list do the work that every reader of it
// needs once: the first count of a search, or its first set of matches.
// Eight readers asking at once for a list never counted would otherwise
// each count it (a third of 100,000 rows each, on two cores: a second at
// p99); the others wait for the one, then bring what it kept up to date
// from the change log, as any later reader does.
type flights struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func newFlights() *flights { return &flights{m: map[string]chan struct{}{}} }

// flightWait bounds how long a reader waits for another's count. It waits
// inside its transaction, whose session the server ends after being idle
// that long (the PostgreSQL store's IdleInTransactionTimeout, 5 s); a
// count that takes longer is made by the waiters too, as without flights.
const flightWait = time.Second

// begin makes the caller the one that computes key, when no other reader
// is computing it: lead is then true and done must be called once the
// result is kept (or given up). Otherwise begin waits for the reader that
// is (at most flightWait) and returns lead false; the caller then reads
// what it kept, and computes for itself if that does not serve.
func (f *flights) begin(ctx context.Context, key string) (lead bool, done func(), err error) {
	return f.beginWait(ctx, key, flightWait)
}

// beginWait is begin with another bound on the wait.
func (f *flights) beginWait(ctx context.Context, key string, wait time.Duration) (lead bool, done func(), err error) {
	f.mu.Lock()
	ch, busy := f.m[key]
	if !busy {
		ch = make(chan struct{})
		f.m[key] = ch
		f.mu.Unlock()
		return true, func() {
			f.mu.Lock()
			delete(f.m, key)
			f.mu.Unlock()
			close(ch)
		}, nil
	}
	f.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ch:
		return false, nil, nil
	case <-t.C:
		return false, nil, nil
	case <-ctx.Done():
		return false, nil, ctx.Err()
	}
}
