package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// walSizeAfterLoad writes about 24 MB through the writer while readers
// keep overlapping read transactions open the whole time, and returns the
// WAL file's size at the end. With restart false the store's checkpointer
// does not run: only SQLite's automatic checkpoint does.
func walSizeAfterLoad(t *testing.T, restart bool) int64 {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	writer, reader := openPair(t, path)
	if _, err := writer.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
		t.Fatal(err)
	}
	if restart {
		c, err := startCheckpointer(ctx, path, writer, 1<<20, 10*time.Millisecond, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered, so that some reader always holds a snapshot, as
			// under a steady API load.
			time.Sleep(time.Duration(i) * time.Millisecond)
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := reader.BeginTx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
					t.Error(err)
				}
				time.Sleep(4 * time.Millisecond)
				_ = tx.Rollback()
			}
		}()
	}
	blob := []byte(strings.Repeat("x", 1000))
	for range 240 {
		tx, err := writer.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, blob); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	// One more commit lets a restarted WAL be truncated to the limit.
	if _, err := writer.ExecContext(ctx, `INSERT INTO t (v) VALUES (x'00')`); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCheckpointer_KeepsTheWALBoundedWhileReadersNeverLeaveAGap(t *testing.T) {
	starved := walSizeAfterLoad(t, false)
	if starved < 12<<20 {
		// The premise: without the checkpointer the WAL cannot start
		// over. If SQLite found a gap after all, the comparison below
		// proves nothing.
		t.Fatalf("without the checkpointer the WAL is %d bytes: the readers left gaps; the test needs more overlap", starved)
	}
	bounded := walSizeAfterLoad(t, true)
	if bounded > 6<<20 {
		t.Fatalf("WAL with the checkpointer = %d bytes, want at most 6 MiB (without it: %d)", bounded, starved)
	}
	t.Logf("WAL after 24 MB of writes under constant reads: %d bytes without the checkpointer, %d with it", starved, bounded)
}

func TestCheckpointer_ALongReaderPostponesTheRestartInsteadOfHoldingWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	writer, reader := openPair(t, path)
	mustExec := func(q string) {
		t.Helper()
		if _, err := writer.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`)
	mustExec(`INSERT INTO t (v) VALUES (zeroblob(1000))`)
	// A read transaction that keeps its snapshot (an export, say).
	long, err := reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := long.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	mustExec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO t (v) SELECT zeroblob(1000) FROM n`)
	c := &checkpointer{writer: writer, limit: 1 << 20, log: slog.New(slog.DiscardHandler)}
	postponed, err := c.check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !postponed {
		t.Fatal("the restart went through while a reader held an older snapshot")
	}
	// The writer's own busy timeout is back: a write still waits for
	// locks as long as it did.
	var timeout int
	if err := writer.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&timeout); err != nil || timeout != writerBusyTimeout {
		t.Fatalf("writer busy_timeout after a check = %d (%v), want %d", timeout, err, writerBusyTimeout)
	}
	_ = long.Rollback()
	if postponed, err = c.check(ctx, false); err != nil || postponed {
		t.Fatalf("after the reader ended: postponed %v, err %v", postponed, err)
	}
	// The next write starts the WAL over from its beginning.
	mustExec(`INSERT INTO t (v) VALUES (x'00')`)
	var busy, frames, done int
	if err := writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done); err != nil {
		t.Fatal(err)
	}
	if frames > 10 {
		t.Fatalf("WAL holds %d frames after the restart and one small write, want a few", frames)
	}
}

// Commits must not copy the WAL into the database themselves (that ends in
// an fsync the writer would wait for): the database file stays as it was
// however much is written, until the checkpointer's own connection copies.
func TestCheckpointer_CommitsLeaveTheCopyingToTheCheckpointer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	writer, _ := openPair(t, path)
	if _, err := writer.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
		t.Fatal(err)
	}
	c, err := startCheckpointer(ctx, path, writer, 1<<30, time.Hour, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	// Past SQLite's default threshold of 1,000 pages, in many commits.
	for range 50 {
		if _, err := writer.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 100)
			INSERT INTO t (v) SELECT zeroblob(1000) FROM n`); err != nil {
			t.Fatal(err)
		}
	}
	if got := size(); got != before {
		t.Fatalf("the database file went from %d to %d bytes: a commit checkpointed", before, got)
	}
	if _, err := c.check(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := size(); got < 4<<20 {
		t.Fatalf("after the checkpointer's copy the database file is %d bytes, want the 5 MB written", got)
	}
}

// openPair opens a file as the store does: one writer connection and a
// pool of readers, both closed when the test ends.
func openPair(t *testing.T, path string) (writer, reader *sql.DB) {
	t.Helper()
	writer, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	writer.SetMaxOpenConns(1)
	t.Cleanup(func() { writer.Close() })
	reader, err = sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	return writer, reader
}
