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
//
// The copying itself is off the writer's path. SQLite's automatic
// checkpoint runs inside the commit that crosses its threshold, on the
// writer's connection, and ends with an fsync of the database file: on a
// disk shared with other work that took up to a second, during which no
// claim and no outcome could be written, and a second's occurrences
// started late or were skipped as overlaps. So the writer's automatic
// checkpoint is off (wal_autocheckpoint 0) and a connection of the
// checkpointer's own copies the WAL into the database (PASSIVE, which
// neither waits for nor blocks writers) every check; only the rare
// RESTART above still runs on the writer.
//
// A check copies each page once, its newest frame, however many commits
// wrote it since the last check. The pages every second's runs share (the
// schedule rows advanced by each claim and given their last run by each
// outcome batch, the last pages of the executions table and its
// time-ordered indexes) are written by several commits a second, so
// checking once a second instead of five times copied about a quarter
// fewer bytes per run (1,000 every-second schedules, real binary: 8.4 to
// 7.2 KB written per run, WAL and copies together). The WAL then holds at
// most a second more than it did, a few MB at that load, far below the
// restart limit.

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
	writer *sql.DB
	// copier is the checkpointer's own connection, for the PASSIVE
	// copies (nil: they run on the writer, as in tests of the restart).
	copier   *sql.DB
	limit    int64 // bytes of WAL content
	interval time.Duration
	log      *slog.Logger
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// startCheckpointer turns the writer's automatic checkpoint off and copies
// the WAL of the database at path into it from a connection of its own
// every interval, restarting the WAL through the writer when it passes
// limit.
func startCheckpointer(ctx context.Context, path string, writer *sql.DB, limit int64, interval time.Duration, log *slog.Logger) (*checkpointer, error) {
	// The file is truncated to this size when the WAL starts over, so a
	// burst does not leave a large file behind.
	if _, err := writer.ExecContext(ctx, "PRAGMA journal_size_limit = "+itoa(limit*walFileLimitFraction)); err != nil {
		return nil, err
	}
	copier, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		return nil, err
	}
	copier.SetMaxOpenConns(1)
	copier.SetMaxIdleConns(1)
	copier.SetConnMaxLifetime(0)
	copier.SetConnMaxIdleTime(0)
	if err := copier.PingContext(ctx); err != nil {
		copier.Close()
		return nil, err
	}
	// Set on the writer's one connection, which is kept open for good; a
	// connection opened in its place would checkpoint in its commits
	// again, which is slower but loses nothing.
	if _, err := writer.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		copier.Close()
		return nil, err
	}
	c := &checkpointer{writer: writer, copier: copier, limit: limit, interval: interval, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

func (c *checkpointer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	if c.copier != nil {
		// The WAL's last frames are copied when the writer, the last
		// connection, closes.
		c.copier.Close()
	}
}

// maxCheckBackoff bounds how long checks pause after restarts that long
// readers postponed: each such attempt holds the writer for the whole
// busy wait.
const maxCheckBackoff = 30 * time.Second

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(c.interval)
	defer t.Stop()
	backoff := time.Duration(0)
	var restartAfter time.Time // restarts wait until then after a postponed one
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		postponed, err := c.check(context.Background(), time.Now().Before(restartAfter))
		if err != nil {
			c.log.Warn("sqlite: WAL checkpoint failed", "err", err)
		}
		if postponed {
			backoff = min(max(2*backoff, 2*c.interval), maxCheckBackoff)
			restartAfter = time.Now().Add(backoff)
		} else if !time.Now().Before(restartAfter) {
			backoff = 0
		}
	}
}

// check copies the WAL into the database and, unless holdRestart, restarts
// the WAL when its content passes the limit; it reports whether a reader
// made the restart give up (to be tried again later).
func (c *checkpointer) check(ctx context.Context, holdRestart bool) (postponed bool, err error) {
	// PASSIVE copies what it can without waiting and reports the WAL's
	// length in frames.
	copier := c.copier
	if copier == nil {
		copier = c.writer
	}
	var busy, frames, done, pageSize int64
	if err := copier.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
		return false, err
	}
	if err := copier.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return false, err
	}
	if holdRestart || frames*pageSize < c.limit {
		return false, nil
	}
	conn, err := c.writer.Conn(ctx) // the only writer: writes wait meanwhile
	if err != nil {
		return false, err
	}
	defer conn.Close()
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
