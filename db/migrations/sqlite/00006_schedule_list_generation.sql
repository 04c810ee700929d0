-- Exact schedule-list totals without counting 100,000 rows per request.
--
-- A count over every matching schedule costs 15 ms for 100,000 on this
-- engine, 45-85 ms for a broad search or a tag filter, and every page of a
-- list asks for it again. Two tables kept by the triggers below let the
-- store skip it:
--
-- * schedule_status_counts: schedules per tenant and status, so a list
--   filtered by status alone, or not at all, has its total at once.
-- * schedule_list_changes: every change to the set of schedules a list
--   filter can select (a schedule added or removed, or its status,
--   workflow, tags, name or description edited; not the dispatcher's
--   writes of next_run_at and the last run), as the filter columns of the
--   row that left the lists (sign -1) or joined them (sign +1), numbered
--   per tenant. The newest number is the tenant's list generation: the
--   store keeps each total it counted with the generation it was counted
--   at, and brings it up to date by applying the list's own filter to the
--   changes since then instead of counting again. Changes older than the
--   newest 10,000 of a tenant are pruned (a total older than the oldest
--   change left is counted afresh).
--
-- SQLite runs one writer at a time, so rows per tenant cost no contention.
-- PostgreSQL has no such tables: there a hot row would serialise every
-- schedule change of a tenant.

-- +goose Up
CREATE TABLE schedule_status_counts (
    tenant_id TEXT NOT NULL,
    status    TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, status)
) STRICT, WITHOUT ROWID;
INSERT INTO schedule_status_counts (tenant_id, status, n)
    SELECT tenant_id, status, count(*) FROM schedules GROUP BY tenant_id, status;

-- The filter columns have the names they have in schedules, so the store
-- applies a list's WHERE clause to them unchanged.
CREATE TABLE schedule_list_changes (
    tenant_id   TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    sign        INTEGER NOT NULL,
    status      TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    tags        TEXT NOT NULL,
    search_lc   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, generation)
) STRICT, WITHOUT ROWID;

-- Each trigger logs its change(s) as the tenant's next generation, then
-- prunes what the newest 10,000 leave behind.

-- +goose StatementBegin
CREATE TRIGGER schedules_list_insert AFTER INSERT ON schedules BEGIN
    INSERT INTO schedule_status_counts (tenant_id, status, n) VALUES (new.tenant_id, new.status, 1)
        ON CONFLICT (tenant_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
        SELECT new.tenant_id, coalesce(max(generation), 0) + 1, 1, new.status, new.workflow_id, new.tags, new.search_lc
        FROM schedule_list_changes WHERE tenant_id = new.tenant_id;
    DELETE FROM schedule_list_changes WHERE tenant_id = new.tenant_id
        AND generation <= (SELECT max(generation) FROM schedule_list_changes WHERE tenant_id = new.tenant_id) - 10000;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER schedules_list_delete AFTER DELETE ON schedules BEGIN
    UPDATE schedule_status_counts SET n = n - 1 WHERE tenant_id = old.tenant_id AND status = old.status;
    INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
        SELECT old.tenant_id, coalesce(max(generation), 0) + 1, -1, old.status, old.workflow_id, old.tags, old.search_lc
        FROM schedule_list_changes WHERE tenant_id = old.tenant_id;
    DELETE FROM schedule_list_changes WHERE tenant_id = old.tenant_id
        AND generation <= (SELECT max(generation) FROM schedule_list_changes WHERE tenant_id = old.tenant_id) - 10000;
END;
-- +goose StatementEnd

-- An edit is the old row leaving and the new one joining.
-- +goose StatementBegin
CREATE TRIGGER schedules_list_update AFTER UPDATE OF tenant_id, status, workflow_id, tags, search_lc ON schedules
WHEN old.tenant_id IS NOT new.tenant_id OR old.status IS NOT new.status OR old.workflow_id IS NOT new.workflow_id
    OR old.tags IS NOT new.tags OR old.search_lc IS NOT new.search_lc BEGIN
    UPDATE schedule_status_counts SET n = n - 1 WHERE tenant_id = old.tenant_id AND status = old.status;
    INSERT INTO schedule_status_counts (tenant_id, status, n) VALUES (new.tenant_id, new.status, 1)
        ON CONFLICT (tenant_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
        SELECT old.tenant_id, coalesce(max(generation), 0) + 1, -1, old.status, old.workflow_id, old.tags, old.search_lc
        FROM schedule_list_changes WHERE tenant_id = old.tenant_id;
    INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
        SELECT new.tenant_id, coalesce(max(generation), 0) + 1, 1, new.status, new.workflow_id, new.tags, new.search_lc
        FROM schedule_list_changes WHERE tenant_id = new.tenant_id;
    DELETE FROM schedule_list_changes WHERE tenant_id = new.tenant_id
        AND generation <= (SELECT max(generation) FROM schedule_list_changes WHERE tenant_id = new.tenant_id) - 10000;
END;
-- +goose StatementEnd

-- A deleted tenant's schedules go with it (ON DELETE CASCADE); so do its
-- counts and changes.
-- +goose StatementBegin
CREATE TRIGGER tenants_list_delete AFTER DELETE ON tenants BEGIN
    DELETE FROM schedule_status_counts WHERE tenant_id = old.id;
    DELETE FROM schedule_list_changes WHERE tenant_id = old.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tenants_list_delete;
DROP TRIGGER schedules_list_update;
DROP TRIGGER schedules_list_delete;
DROP TRIGGER schedules_list_insert;
DROP TABLE schedule_list_changes;
DROP TABLE schedule_status_counts;
