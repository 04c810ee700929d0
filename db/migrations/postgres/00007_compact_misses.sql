-- Compact misses: a skipped execution with reason "missed: …" stands for
-- missed_count occurrences of its schedule, from scheduled_at up to
-- missed_until (a timestamptz), so an overload or a long downtime writes
-- one row per schedule and gap instead of one per occurrence (0: not a
-- miss record).
--
-- executions_pending_due_idx goes: every query on due pending rows also
-- asks for unclaimed ones and uses executions_pending_unclaimed_idx
-- (00005), so keeping it only cost two index writes per run.
--
-- schedule_status_counts keeps each tenant's schedules counted by status,
-- so a list filtered by status alone, or not at all, reads its total
-- instead of counting 100,000 rows under row-level security. The counts
-- are sharded (by the writing session) so that concurrent writers of one
-- tenant do not queue on one row; a total is the sum of its shards, read
-- in the list's own snapshot, so it stays exact. Inserts and deletes are
-- counted per statement from their transition tables (an import inserts
-- thousands at once); a change of status or tenant per row, and only
-- then: the dispatcher's updates of next_run_at and of the last run do not
-- fire it.

-- +goose Up
ALTER TABLE executions ADD COLUMN missed_until timestamptz;
ALTER TABLE executions ADD COLUMN missed_count integer NOT NULL DEFAULT 0;
UPDATE executions SET missed_count = 1, missed_until = scheduled_at WHERE skipped AND skip_reason LIKE 'missed%';
DROP INDEX executions_pending_due_idx;

CREATE TABLE schedule_status_counts (
    tenant_id uuid NOT NULL, -- no foreign key: deleting a tenant deletes its schedules, whose trigger writes here
    status    text NOT NULL,
    shard     smallint NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, status, shard)
);
INSERT INTO schedule_status_counts (tenant_id, status, shard, n)
    SELECT tenant_id, status, 0, count(*) FROM schedules GROUP BY tenant_id, status;
GRANT SELECT, INSERT, UPDATE, DELETE ON schedule_status_counts TO geoetl_app;
ALTER TABLE schedule_status_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_status_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_status_counts
    USING ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid))
    WITH CHECK ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid));

-- +goose StatementBegin
CREATE FUNCTION schedule_status_counts_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO schedule_status_counts (tenant_id, status, shard, n)
            SELECT tenant_id, status, pg_backend_pid() % 16, count(*) FROM new_rows GROUP BY tenant_id, status
            ON CONFLICT (tenant_id, status, shard) DO UPDATE SET n = schedule_status_counts.n + excluded.n;
    ELSE
        INSERT INTO schedule_status_counts (tenant_id, status, shard, n)
            SELECT tenant_id, status, pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY tenant_id, status
            ON CONFLICT (tenant_id, status, shard) DO UPDATE SET n = schedule_status_counts.n + excluded.n;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION schedule_status_counts_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO schedule_status_counts (tenant_id, status, shard, n)
        VALUES (old.tenant_id, old.status, pg_backend_pid() % 16, -1), (new.tenant_id, new.status, pg_backend_pid() % 16, 1)
        ON CONFLICT (tenant_id, status, shard) DO UPDATE SET n = schedule_status_counts.n + excluded.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER schedules_status_counts_insert AFTER INSERT ON schedules
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION schedule_status_counts_statement();
CREATE TRIGGER schedules_status_counts_delete AFTER DELETE ON schedules
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION schedule_status_counts_statement();
CREATE TRIGGER schedules_status_counts_update AFTER UPDATE OF tenant_id, status ON schedules
    FOR EACH ROW WHEN (old.tenant_id IS DISTINCT FROM new.tenant_id OR old.status IS DISTINCT FROM new.status)
    EXECUTE FUNCTION schedule_status_counts_row();

-- +goose Down
DROP TRIGGER schedules_status_counts_update ON schedules;
DROP TRIGGER schedules_status_counts_delete ON schedules;
DROP TRIGGER schedules_status_counts_insert ON schedules;
DROP FUNCTION schedule_status_counts_row();
DROP FUNCTION schedule_status_counts_statement();
DROP TABLE schedule_status_counts;
CREATE INDEX executions_pending_due_idx ON executions (due_at) WHERE status = 'pending';
ALTER TABLE executions DROP COLUMN missed_count;
ALTER TABLE executions DROP COLUMN missed_until;
