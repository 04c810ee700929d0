-- Two indexes every claimed run goes through, reshaped for the claim.
--
-- schedules_due_idx also holds the schedule's id, the claim's tie-break
-- (ORDER BY next_run_at, id … LIMIT): the index then gives the whole order
-- instead of the schedules due at the same time (all of them, for
-- schedules sharing a cron expression) being sorted by every claim.
--
-- The occurrence key leads with the occurrence's time instead of its
-- schedule. Uniqueness is the same (one row per schedule and occurrence
-- for scheduled and catch-up triggers), and nothing reads the index by
-- schedule alone (a schedule's runs go through executions_active_idx and
-- executions_schedule_history_idx). Keyed by schedule first, every claimed
-- run landed on a leaf page of its own schedule's, so a second's runs of
-- 1,000 schedules touched about 1,000 pages of this index; keyed by time
-- first, they append to the same few pages at its right edge.
--
-- Each new index is built before the old one goes, so neither is ever
-- missing.

-- +goose Up
CREATE INDEX schedules_due_idx_new ON schedules (next_run_at, id) WHERE enabled = TRUE AND status = 'active';
DROP INDEX schedules_due_idx;
ALTER INDEX schedules_due_idx_new RENAME TO schedules_due_idx;
CREATE UNIQUE INDEX executions_occurrence_key_new ON executions (scheduled_at, schedule_id) WHERE trigger_type IN ('schedule', 'catchup');
DROP INDEX executions_occurrence_key;
ALTER INDEX executions_occurrence_key_new RENAME TO executions_occurrence_key;

-- +goose Down
CREATE UNIQUE INDEX executions_occurrence_key_old ON executions (schedule_id, scheduled_at) WHERE trigger_type IN ('schedule', 'catchup');
DROP INDEX executions_occurrence_key;
ALTER INDEX executions_occurrence_key_old RENAME TO executions_occurrence_key;
CREATE INDEX schedules_due_idx_old ON schedules (next_run_at) WHERE enabled = TRUE AND status = 'active';
DROP INDEX schedules_due_idx;
ALTER INDEX schedules_due_idx_old RENAME TO schedules_due_idx;
