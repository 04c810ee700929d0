package sqlstore

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
)

// Last runs set aside (Dialect.LastRunsAside, PostgreSQL).
//
// An outcome whose schedule row another transaction holds (a claimer
// advancing it, a decider) does not wait for the row: its last run goes
// into the aside table in the outcome's own transaction, keyed by schedule,
// so it is as durable as the outcome, and the last-run folder copies it
// into the schedule row once nobody holds that, without ever waiting for a
// lock. Until then the schedule shows the last run before it; the
// executions, which the scheduler reads for slots and the API for
// history, are exact at once.
//
// Waiting for the held rows in a second transaction right after the
// outcome's (as before) kept each instance's outcome writer, which is one
// loop, behind the claims of every instance: outcomes were written late,
// late outcomes kept their schedules' slots taken, and the next
// occurrences were decided as overlapping, in deciders that waited for the
// same rows in turn.

// foldBatch bounds the aside rows one fold transaction takes.
const foldBatch = 1000

// foldRetry is how soon the folder tries again when a pass left rows
// whose schedule was held; foldIdle how often it looks without being
// told to (after a restart, or rows another instance set aside).
const (
	foldRetry = 20 * time.Millisecond
	foldIdle  = time.Second
)

// folding is the state of a store's last-run folder.
type folding struct {
	mu     sync.Mutex
	folder *lastRunFolder // nil until started
	closed bool
}

// lastRunFolder runs the fold passes of one store.
type lastRunFolder struct {
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// ensureFolder starts the store's last-run folder, where the dialect sets
// last runs aside, unless it runs or the store is closed. It is started by
// the first outcome written, not when the store opens: a store may be
// opened before its migrations run, and one that never writes outcomes (a
// migration, a tool) need not fold. Its first pass is at once, for rows an
// earlier process left.
func (s *Store) ensureFolder() {
	if s.d.LastRunsAside == "" {
		return
	}
	s.fold.mu.Lock()
	defer s.fold.mu.Unlock()
	if s.fold.folder != nil || s.fold.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &lastRunFolder{kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	s.fold.folder = f
	go func() {
		defer close(f.done)
		wait := time.Duration(0)
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-f.kick:
				t.Stop()
			case <-t.C:
			}
			left, err := s.FoldLastRuns(ctx)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				s.log.Warn("fold last runs", "err", err)
				wait = foldIdle
			case left:
				wait = foldRetry
			default:
				wait = foldIdle
			}
		}
	}()
}

// kickFolder tells the folder that rows were set aside.
func (s *Store) kickFolder() {
	s.fold.mu.Lock()
	f := s.fold.folder
	s.fold.mu.Unlock()
	if f == nil {
		return
	}
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// stopFolder ends the folder for good. Rows it has not folded stay in the
// aside table, for the folder of another instance or of the next start.
func (s *Store) stopFolder() {
	s.fold.mu.Lock()
	f := s.fold.folder
	s.fold.closed = true
	s.fold.mu.Unlock()
	if f == nil {
		return
	}
	f.cancel()
	<-f.done
}

// FoldLastRuns copies set-aside last runs into their schedule rows, for the
// rows nobody else holds (neither the schedule's nor the aside row), and
// drops those of schedules that are gone. It never waits for a lock. It
// reports whether rows were left (held elsewhere, or more than one batch).
func (s *Store) FoldLastRuns(ctx context.Context) (bool, error) {
	if s.d.LastRunsAside == "" {
		return false, nil
	}
	aside := s.d.LastRunsAside
	var left bool
	err := s.write(ctx, "", func(tx Tx) error {
		left = false
		// The aside rows first, skipping those an outcome is writing; then
		// their schedules, skipping the held ones. Outcome transactions
		// take the two kinds in the other order but never wait for a
		// schedule row, and this takes neither waiting: no cycle.
		rows, err := tx.Query(ctx, `SELECT schedule_id FROM `+aside+` ORDER BY schedule_id LIMIT $1`+s.d.LockSkip, int64(foldBatch))
		if err != nil {
			return err
		}
		ids, err := collect(rows, scanID)
		if err != nil || len(ids) == 0 {
			return err
		}
		left = len(ids) == foldBatch
		rows, err = tx.Query(ctx, `SELECT id FROM schedules WHERE `+s.d.InIDs("id", 1)+` ORDER BY id`+s.d.LockSkip, s.d.IDList(ids))
		if err != nil {
			return err
		}
		locked, err := collect(rows, scanID)
		if err != nil {
			return err
		}
		// The ids neither locked nor existing are of deleted schedules:
		// their aside rows go. Those that exist but were held stay.
		_, err = tx.Exec(ctx, `WITH l AS (DELETE FROM `+aside+` a WHERE `+s.d.InIDs("a.schedule_id", 1)+`
				OR (`+s.d.InIDs("a.schedule_id", 2)+` AND NOT EXISTS (SELECT 1 FROM schedules x WHERE x.id = a.schedule_id))
				RETURNING a.schedule_id, a.last_run_at, a.last_run_status, a.last_run_id)
			UPDATE schedules s SET last_run_at = l.last_run_at, last_run_status = l.last_run_status, last_run_id = l.last_run_id
			FROM l WHERE s.id = l.schedule_id AND (s.last_run_at IS NULL OR s.last_run_at <= l.last_run_at)`,
			s.d.IDList(locked), s.d.IDList(ids))
		if err != nil {
			return err
		}
		if len(locked) < len(ids) {
			var rest int64
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+aside+` WHERE `+s.d.InIDs("schedule_id", 1), s.d.IDList(ids)).Scan(&rest); err != nil {
				return err
			}
			left = left || rest > 0
		}
		return nil
	})
	return left, err
}

// setLastRunsAside writes, in the outcome's transaction, the last runs of
// schedules whose rows another transaction holds into the aside table,
// keeping a later run already there (runs of one schedule may finish out
// of order).
func (s *Store) setLastRunsAside(ctx context.Context, tx Tx, busy map[string]*geoetl.Execution) error {
	n := len(busy)
	sids := make([]string, 0, n)
	for sid := range busy {
		sids = append(sids, sid)
	}
	// In schedule id order, as every writer of the aside rows takes them.
	sort.Strings(sids)
	ats, statuses, runs := make([]*time.Time, n), make([]string, n), make([]string, n)
	for i, sid := range sids {
		e := busy[sid]
		at := micro(lastRunAt(e))
		id, _ := normID(e.ID)
		ats[i], statuses[i], runs[i] = &at, string(e.Status), id
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+s.d.LastRunsAside+` AS a (schedule_id, last_run_at, last_run_status, last_run_id)
		SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::uuid[])
		ON CONFLICT (schedule_id) DO UPDATE SET last_run_at = excluded.last_run_at, last_run_status = excluded.last_run_status,
			last_run_id = excluded.last_run_id
		WHERE a.last_run_at <= excluded.last_run_at`, sids, ats, statuses, runs)
	return err
}
