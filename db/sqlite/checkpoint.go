package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// WAL checkpoint starvation.
//
// SQLite's automatic checkpoint (PASSIVE, after a commit that leaves the
// WAL past 1,000 pages) copies frames into the database file but can only
// start the WAL over from its beginning when no reader still uses an older
// snapshot. Under a steady API read load there is always such a reader,
// so the WAL grows without bound (273 MB, then 441 MB in the load test)
// and every read and write searches an ever larger WAL index: the
// scheduler fell seconds behind. SQLite's documentation calls this
// checkpoint starvation; the cure is a reader gap, which a RESTART
// checkpoint makes: it waits (through the busy handler) for the readers
// of older snapshots to finish, while new readers read the fully
// checkpointed database, then starts the WAL over. journal_size_limit
// then truncates the file.
//
// The wait holds the writer, so it is bounded by a short busy timeout: a
// reader that outlasts it (a long export) makes the checkpoint give up
// until the next check rather than stall every write.

// Checkpoint defaults; Options override them.
const (
	defaultWALLimit      = 32 << 20 // bytes of WAL content that trigger a RESTART checkpoint
	walCheckInterval     = time.Second
	checkpointBusyWait   = 100  // milliseconds a RESTART waits for old readers
	writerBusyTimeout    = 5000 // as in pragmas
	walFileLimitFraction = 2    // journal_size_limit is twice the trigger
)

// checkpointer runs on file databases until stop is closed.
type checkpointer struct {
	writer   *sql.DB
	limit    int64 // bytes of WAL content
	interval time.Duration
	log      *slog.Logger
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func startCheckpointer(ctx context.Context, writer *sql.DB, limit int64, interval time.Duration, log *slog.Logger) (*checkpointer, error) {
	// The file is truncated to this size when the WAL starts over, so a
	// burst does not leave a large file behind.
	if _, err := writer.ExecContext(ctx, "PRAGMA journal_size_limit = "+itoa(limit*walFileLimitFraction)); err != nil {
		return nil, err
	}
	c := &checkpointer{writer: writer, limit: limit, interval: interval, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

func (c *checkpointer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

// maxCheckBackoff bounds how long checks pause after restarts that long
// readers postponed: each such attempt holds the writer for the whole
// busy wait.
const maxCheckBackoff = 30 * time.Second

func (c *checkpointer) loop() {
	defer close(c.done)
	wait := c.interval
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		postponed, err := c.check(context.Background())
		if err != nil {
			c.log.Warn("sqlite: WAL checkpoint failed", "err", err)
		}
		if postponed {
			wait = min(2*wait, maxCheckBackoff)
		} else {
			wait = c.interval
		}
		t.Reset(wait)
	}
}

// check restarts the WAL when its content passes the limit, and reports
// whether a reader made it give up (to be tried again later).
func (c *checkpointer) check(ctx context.Context) (postponed bool, err error) {
	conn, err := c.writer.Conn(ctx) // the only writer: writes wait meanwhile
	if err != nil {
		return false, err
	}
	defer conn.Close()
	// PASSIVE copies what it can without waiting and reports the WAL's
	// length in frames; the autocheckpoint has done most of the copying.
	var busy, frames, done int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
		return false, err
	}
	var pageSize int64
	if err := conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return false, err
	}
	if frames*pageSize < c.limit {
		return false, nil
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+itoa(checkpointBusyWait)); err != nil {
		return false, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+itoa(writerBusyTimeout)) //nolint:errcheck // restored on the same connection; a failure shows in the next write
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &done); err != nil {
		return false, err
	}
	if busy != 0 {
		c.log.Debug("sqlite: WAL restart postponed: a reader outlasted the wait", "frames", frames)
		return true, nil
	}
	return false, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
