package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/geoetl/geoetl"
)

// channel is the PostgreSQL notification channel instances share.
const channel = "geoetl_changes"

// maxPayload keeps notifications under PostgreSQL's 8000-byte limit.
const maxPayload = 7000

// message is one notification between instances. It carries ids only
// (and statuses), never schedule contents: receivers read the database.
type message struct {
	From   string                  `json:"f"`
	Wake   bool                    `json:"w,omitempty"` // schedules or pending executions changed
	Cancel []string                `json:"x,omitempty"` // executions whose cancellation was requested
	Events []geoetl.ExecutionEvent `json:"-"`
	// Compact form of Events: tenant, execution, schedule, status.
	E [][4]string `json:"e,omitempty"`
}

// bus is the PostgreSQL side of change propagation: LISTEN on a dedicated
// connection (re-established with backoff, and followed by a resync after
// every reconnect), NOTIFY through a small pool of its own.
type bus struct {
	s    *Scheduler
	url  string
	pool *pgxpool.Pool

	mu      sync.Mutex
	out     message // coalesced, waiting to be sent
	kick    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    sync.WaitGroup
	onReady chan struct{} // closed once LISTEN is first in place
	ready   sync.Once
}

func newBus(s *Scheduler, url string) *bus {
	ctx, cancel := context.WithCancel(context.Background())
	return &bus{s: s, url: url, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, onReady: make(chan struct{})}
}

// start opens the sending pool and the listener, and waits (within ctx)
// until the listener is in place, so a change made right after Start is
// not missed.
func (b *bus) start(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(b.url)
	if err != nil {
		return fmt.Errorf("scheduler: database URL: %w", err)
	}
	cfg.MaxConns = 2
	b.pool, err = pgxpool.NewWithConfig(b.ctx, cfg)
	if err != nil {
		return fmt.Errorf("scheduler: notify pool: %w", err)
	}
	b.done.Add(2)
	go b.listen()
	go b.send()
	select {
	case <-b.onReady:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		b.s.log.Warn("LISTEN not in place after 10 s; carrying on, the sweep covers missed changes")
	}
	return nil
}

func (b *bus) close() {
	b.cancel()
	b.done.Wait()
	b.pool.Close()
}

// publish queues m for sending; it never blocks the caller.
func (b *bus) publish(_ context.Context, m message) {
	b.mu.Lock()
	b.out.Wake = b.out.Wake || m.Wake
	b.out.Cancel = append(b.out.Cancel, m.Cancel...)
	b.out.Events = append(b.out.Events, m.Events...)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// send writes queued messages as notifications, in chunks under the
// payload limit.
func (b *bus) send() {
	defer b.done.Done()
	for {
		select {
		case <-b.kick:
		case <-b.ctx.Done():
			return
		}
		b.mu.Lock()
		m := b.out
		b.out = message{}
		b.mu.Unlock()
		for _, payload := range encodeMessages(b.s.id, m) {
			if _, err := b.pool.Exec(b.ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
				if b.ctx.Err() != nil {
					return
				}
				// Notifications are a fast path only: a lost one is caught
				// by the sweep (at most SweepInterval later).
				b.s.log.Warn("NOTIFY failed", "err", err)
				break
			}
		}
	}
}

// encodeMessages splits m into payloads of at most maxPayload bytes.
func encodeMessages(from string, m message) []string {
	var out []string
	base := message{From: from, Wake: m.Wake}
	cur := base
	size := func(c message) int { b, _ := json.Marshal(c); return len(b) }
	flush := func() {
		b, _ := json.Marshal(cur)
		out = append(out, string(b))
		cur = message{From: from}
	}
	for _, id := range m.Cancel {
		cur.Cancel = append(cur.Cancel, id)
		if size(cur) > maxPayload-100 {
			flush()
		}
	}
	for _, ev := range m.Events {
		cur.E = append(cur.E, [4]string{ev.TenantID, ev.ExecutionID, ev.ScheduleID, string(ev.Status)})
		if len(cur.E)%16 == 0 && size(cur) > maxPayload-1000 {
			flush()
		}
	}
	if cur.Wake || len(cur.Cancel) > 0 || len(cur.E) > 0 {
		flush()
	}
	return out
}

// listen keeps a LISTEN connection open and acts on notifications.
func (b *bus) listen() {
	defer b.done.Done()
	for failures := 0; b.ctx.Err() == nil; {
		err := b.listenOnce()
		if b.ctx.Err() != nil {
			return
		}
		failures++
		wait := backoff(failures)
		b.s.log.Warn("LISTEN connection lost; reconnecting", "err", err, "retry_in", wait)
		if !sleepCtx(b.ctx, wait) {
			return
		}
	}
}

func (b *bus) listenOnce() error {
	conn, err := pgx.Connect(b.ctx, b.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(b.ctx, "LISTEN "+channel); err != nil {
		return err
	}
	b.ready.Do(func() { close(b.onReady) })
	// Whatever was notified while the connection was down is lost: look
	// at the database again.
	b.s.resync()
	for {
		n, err := conn.WaitForNotification(b.ctx)
		if err != nil {
			return err
		}
		b.receive(n.Payload)
	}
}

// receive acts on one notification from another instance.
func (b *bus) receive(payload string) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		b.s.log.Warn("ignoring a malformed notification", "err", err)
		return
	}
	if m.From == b.s.id {
		return
	}
	if m.Wake {
		b.s.resync()
	}
	for _, id := range m.Cancel {
		b.s.cancelLocal(id, stopRemote)
	}
	var freed, touched []string
	events := make([]geoetl.ExecutionEvent, 0, len(m.E))
	for _, e := range m.E {
		ev := geoetl.ExecutionEvent{TenantID: e[0], ExecutionID: e[1], ScheduleID: e[2], Status: geoetl.ExecutionStatus(e[3])}
		events = append(events, ev)
		b.s.events.publish(ev)
		if ev.ScheduleID != "" {
			touched = append(touched, ev.ScheduleID)
		}
		if ev.Status.Finished() && ev.ScheduleID != "" {
			freed = append(freed, ev.ScheduleID)
		}
	}
	if len(freed) > 0 {
		b.s.unblock(freed...)
	}
	b.s.tenantsFreed(events)
	// A contended occurrence may be waiting for exactly this outcome.
	if len(touched) > 0 && b.s.awaitsOutcome(touched...) {
		b.s.pokeDecider()
	}
}

// resync forgets what the dispatcher believed blocked and wakes it.
func (s *Scheduler) resync() {
	s.unblockAll()
	s.poke()
}
