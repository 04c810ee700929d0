-- Last runs set aside: the last run of a schedule whose row another
-- transaction holds (a claim advancing it, a decider) when its outcome is
-- written. The outcome transaction puts it here, keyed by schedule, instead
-- of waiting for the row, and the store folds it into schedules.last_run_*
-- once the row is free (sqlstore's last-run folder). Waiting for the row,
-- right after the outcome committed, made each instance's outcome writer
-- queue behind the claims of every instance, and the runs whose outcomes
-- were late held their schedules' slots, so the next occurrences were
-- decided as overlapping.
--
-- No foreign key to schedules: inserting a row that refers to a schedule
-- takes FOR KEY SHARE on it, which waits for a claim's FOR UPDATE, the very
-- wait this table avoids. A row whose schedule is gone is dropped by the
-- fold. Only the store's cross-tenant work (as the connecting role) reads
-- or writes it, so geoetl_app gets no grant and no policy.

-- +goose Up
CREATE TABLE schedule_last_runs (
    schedule_id     uuid PRIMARY KEY,
    last_run_at     timestamptz NOT NULL,
    last_run_status text NOT NULL,
    last_run_id     uuid NOT NULL
);

-- +goose Down
UPDATE schedules s SET last_run_at = l.last_run_at, last_run_status = l.last_run_status, last_run_id = l.last_run_id
FROM schedule_last_runs l WHERE s.id = l.schedule_id AND (s.last_run_at IS NULL OR s.last_run_at <= l.last_run_at);
DROP TABLE schedule_last_runs;
