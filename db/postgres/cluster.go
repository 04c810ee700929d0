package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// Cluster keeps the instances sharing a PostgreSQL database in step:
// changes travel by LISTEN/NOTIFY and the chores leader holds an advisory
// lock.
type Cluster struct{ url string }

// NewCluster returns the cluster of the instances using the database at
// url. It connects only when a feed or an elector is used.
func NewCluster(url string) *Cluster { return &Cluster{url: url} }

// MultiProcess is true: any number of processes may share the database.
func (c *Cluster) MultiProcess() bool { return true }

// NewChangeFeed returns a LISTEN/NOTIFY feed.
func (c *Cluster) NewChangeFeed(p *geoetl.ChangeFeedParams) geoetl.ChangeFeed {
	ctx, cancel := context.WithCancel(context.Background())
	return &changeFeed{url: c.url, p: *p, log: logger(p.Logger), kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel, onReady: make(chan struct{})}
}

// NewElector returns an advisory-lock elector.
func (c *Cluster) NewElector(p *geoetl.ElectorParams) geoetl.Elector {
	return &elector{url: c.url, idle: p.IdleTimeout, log: logger(p.Logger)}
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// channel is the notification channel instances share.
const channel = "geoetl_changes"

// maxPayload keeps notifications under PostgreSQL's 8000-byte limit.
const maxPayload = 7000

// message is one notification between instances.
type message struct {
	From   string                  `json:"f"`
	Wake   bool                    `json:"w,omitempty"`
	Cancel []string                `json:"x,omitempty"`
	Events []geoetl.ExecutionEvent `json:"-"`
	// Compact form of Events: tenant, execution, schedule, status.
	E [][4]string `json:"e,omitempty"`
}

// changeFeed listens on a dedicated connection (re-established with
// backoff, and followed by a resync after every reconnect) and notifies
// through a small pool of its own.
type changeFeed struct {
	url  string
	p    geoetl.ChangeFeedParams
	log  *slog.Logger
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

// Start opens the sending pool and the listener, and waits (within ctx)
// until the listener is in place.
func (b *changeFeed) Start(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(b.url)
	if err != nil {
		return fmt.Errorf("change feed: database URL: %w", err)
	}
	cfg.MaxConns = 2
	b.pool, err = pgxpool.NewWithConfig(b.ctx, cfg)
	if err != nil {
		return fmt.Errorf("change feed: notify pool: %w", err)
	}
	b.done.Add(2)
	go b.listen()
	go b.send()
	select {
	case <-b.onReady:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		b.log.Warn("LISTEN not in place after 10 s; carrying on, the sweep covers missed changes")
	}
	return nil
}

// Close stops the listener and the sender.
func (b *changeFeed) Close() {
	b.cancel()
	b.done.Wait()
	if b.pool != nil {
		b.pool.Close()
	}
}

// Publish queues c for sending, coalesced with what is still waiting.
func (b *changeFeed) Publish(_ context.Context, c geoetl.Change) {
	b.mu.Lock()
	b.out.Wake = b.out.Wake || c.Wake
	b.out.Cancel = append(b.out.Cancel, c.Cancel...)
	b.out.Events = append(b.out.Events, c.Events...)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// send writes queued messages as notifications, in chunks under the
// payload limit.
func (b *changeFeed) send() {
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
		for _, payload := range encodeMessages(b.p.InstanceID, m) {
			if _, err := b.pool.Exec(b.ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
				if b.ctx.Err() != nil {
					return
				}
				// Notifications are a fast path only: a lost one is caught
				// by the scheduler's sweep.
				b.log.Warn("NOTIFY failed", "err", err)
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
func (b *changeFeed) listen() {
	defer b.done.Done()
	for failures := 0; b.ctx.Err() == nil; {
		err := b.listenOnce()
		if b.ctx.Err() != nil {
			return
		}
		failures++
		wait := clock.Backoff(failures)
		b.log.Warn("LISTEN connection lost; reconnecting", "err", err, "retry_in", wait)
		if !clock.SleepContext(b.ctx, wait) {
			return
		}
	}
}

func (b *changeFeed) listenOnce() error {
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
	b.p.OnResync()
	for {
		n, err := conn.WaitForNotification(b.ctx)
		if err != nil {
			return err
		}
		b.receive(n.Payload)
	}
}

// receive decodes one notification and hands it on unless it is this
// instance's own.
func (b *changeFeed) receive(payload string) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		b.log.Warn("ignoring a malformed notification", "err", err)
		return
	}
	if m.From == b.p.InstanceID {
		return
	}
	c := geoetl.Change{Wake: m.Wake, Cancel: m.Cancel, Events: make([]geoetl.ExecutionEvent, 0, len(m.E))}
	for _, e := range m.E {
		c.Events = append(c.Events, geoetl.ExecutionEvent{TenantID: e[0], ExecutionID: e[1], ScheduleID: e[2], Status: geoetl.ExecutionStatus(e[3])})
	}
	b.p.OnChange(c)
}

// choresLockKey is the advisory lock that elects the instance running the
// singleton chores.
var choresLockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("geoetl/scheduler/chores"))
	return int64(h.Sum64())
}()

// elector's leader is the instance holding a session advisory lock on a
// connection of its own (never a pool's, where the unlock could land on
// another session). Every election checks that connection first, so a
// leader whose connection dropped steps down at once, and the lock, which
// went with the session, is free for another instance.
type elector struct {
	url  string
	idle time.Duration
	log  *slog.Logger
	mu   sync.Mutex
	conn *pgx.Conn
	held bool
}

// IsLeader returns nil when this instance holds (or just took) the lock.
func (e *elector) IsLeader(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if e.conn != nil {
		if err := e.conn.Ping(ctx); err != nil {
			if e.held {
				e.log.Warn("lost the chores lock with its connection; stepping down", "err", err)
			}
			e.dropLocked()
		}
	}
	if e.conn == nil {
		conn, err := e.connect(ctx)
		if err != nil {
			return err
		}
		e.conn = conn
	}
	if e.held {
		return nil
	}
	var got bool
	if err := e.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, choresLockKey).Scan(&got); err != nil {
		e.dropLocked()
		return err
	}
	if !got {
		return geoetl.ErrNotLeader
	}
	e.held = true
	e.log.Info("elected to run the singleton chores")
	return nil
}

// connect opens the elector's own session. Its idle_session_timeout makes
// the server end the session, and so free the lock, when the leader goes
// silent: a leader whose process is frozen (SIGSTOP, a paused VM) keeps
// its socket open, and without the timeout it would hold the lock, and
// keep every other instance from reaping lost runs, for as long as it is
// frozen. A live leader asks at every chore run (about once a second), so
// it never idles that long. Servers before PostgreSQL 14 lack the
// setting; there the lock goes only with the connection.
func (e *elector) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET idle_session_timeout = %d", e.idle.Milliseconds())); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42704" { // undefined_object: an older server
			_ = conn.Close(context.Background())
			return nil, err
		}
	}
	return conn, nil
}

func (e *elector) dropLocked() {
	if e.conn != nil {
		_ = e.conn.Close(context.Background())
	}
	e.conn, e.held = nil, false
}

// Close gives the lock up by closing its session.
func (e *elector) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropLocked()
}
