package scheduler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// choresLockKey is the advisory lock that elects the instance running the
// singleton chores.
var choresLockKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("geoetl/scheduler/chores"))
	return int64(h.Sum64())
}()

var errNotLeader = errors.New("another instance runs the singleton chores")

// elector is gocron's distributed elector on PostgreSQL: the leader is the
// instance holding a session advisory lock on a connection of its own
// (never a pool's, where the unlock could land on another session). Every
// election checks that connection first, so a leader whose connection
// dropped steps down at once, and the lock, which went with the session,
// is free for another instance.
type elector struct {
	s    *Scheduler
	url  string
	mu   sync.Mutex
	conn *pgx.Conn
	held bool
}

func newElector(s *Scheduler, url string) *elector { return &elector{s: s, url: url} }

// IsLeader returns nil when this instance holds (or just took) the lock.
func (e *elector) IsLeader(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if e.conn != nil {
		if err := e.conn.Ping(ctx); err != nil {
			if e.held {
				e.s.log.Warn("lost the chores lock with its connection; stepping down", "err", err)
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
		return errNotLeader
	}
	e.held = true
	e.s.log.Info("elected to run the singleton chores")
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
	ms := e.s.cfg.electorIdleTimeout().Milliseconds()
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET idle_session_timeout = %d", ms)); err != nil {
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

// close gives the lock up by closing its session.
func (e *elector) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dropLocked()
}

// electorIdleTimeout is how long the leader's lock session may stay silent
// before the server ends it: half the lease, so that another instance
// takes the chores over, and reaps the silent leader's runs, about when
// they are due.
func (c *Config) electorIdleTimeout() time.Duration { return c.LeaseTimeout / 2 }
