-- The claim's read of due pending executions (DuePending) and the
-- dispatcher's next wake-up ask for unclaimed pending rows in (due_at, id)
-- order. The index on due_at alone made every claim sort a group of rows
-- due at the same instant (a bulk run-now, a backfill queued at once) to
-- take the first of them; this one hands them out in order, and holds only
-- the rows waiting to be claimed.

-- +goose Up
CREATE INDEX executions_pending_unclaimed_idx ON executions (due_at, id) WHERE status = 'pending' AND instance_id IS NULL;

-- +goose Down
DROP INDEX executions_pending_unclaimed_idx;
