package scheduler

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
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
		conn, err := pgx.Connect(ctx, e.url)
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
