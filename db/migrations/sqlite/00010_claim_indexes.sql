-- Two indexes every claimed run goes through, reshaped for the claim.
--
-- schedules_due_idx also holds the schedule's id, the claim's tie-break
-- (ORDER BY next_run_at, id). Without it SQLite sorted each group of
-- schedules due at the same time: 1,000 every-second schedules share one
-- next_run_at, so every claim transaction read and sorted all of them,
-- whole rows, to return its batch of 500; 10,000 made each second's claims
-- read about 100,000 rows. Now the index gives the order and the scan
-- stops at the batch.
--
-- The occurrence key leads with the occurrence's time instead of its
-- schedule. Uniqueness is the same (one row per schedule and occurrence
-- for scheduled and catch-up triggers), and nothing reads the index by
-- schedule alone (a schedule's runs go through executions_active_idx and
-- executions_schedule_history_idx). Keyed by schedule first, every claimed
-- run landed on a leaf page of its own schedule's, so a second's runs of
-- 1,000 schedules dirtied about 1,000 pages of this index, each written
-- whole to the WAL and copied again by the checkpoint; keyed by time
-- first, they append to the same few pages at the end of the index.

-- +goose Up
DROP INDEX schedules_due_idx;
CREATE INDEX schedules_due_idx ON schedules (next_run_at, id) WHERE enabled = TRUE AND status = 'active';
DROP INDEX executions_occurrence_key;
CREATE UNIQUE INDEX executions_occurrence_key ON executions (scheduled_at, schedule_id) WHERE trigger_type IN ('schedule', 'catchup');

-- +goose Down
DROP INDEX executions_occurrence_key;
CREATE UNIQUE INDEX executions_occurrence_key ON executions (schedule_id, scheduled_at) WHERE trigger_type IN ('schedule', 'catchup');
DROP INDEX schedules_due_idx;
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled = TRUE AND status = 'active';
