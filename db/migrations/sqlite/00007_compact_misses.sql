-- Compact misses: a skipped execution with reason "missed: …" stands for
-- missed_count occurrences of its schedule, from scheduled_at up to
-- missed_until (microseconds), so an overload or a long downtime writes
-- one row per schedule and gap instead of one per occurrence (0: not a
-- miss record).
--
-- executions_pending_due_idx goes: every query on due pending rows also
-- asks for unclaimed ones and uses executions_pending_unclaimed_idx
-- (00005), so keeping it only cost two index writes per run.

-- +goose Up
ALTER TABLE executions ADD COLUMN missed_until INTEGER;
ALTER TABLE executions ADD COLUMN missed_count INTEGER NOT NULL DEFAULT 0;
UPDATE executions SET missed_count = 1, missed_until = scheduled_at WHERE skipped = 1 AND skip_reason LIKE 'missed%';
DROP INDEX executions_pending_due_idx;

-- +goose Down
CREATE INDEX executions_pending_due_idx ON executions (due_at) WHERE status = 'pending';
ALTER TABLE executions DROP COLUMN missed_count;
ALTER TABLE executions DROP COLUMN missed_until;
