-- A generation number per tenant that changes whenever the set of
-- schedules a list filter can select changes: a schedule added or removed,
-- or its status, workflow, tags, name or description edited. The store
-- keeps the exact total of a schedule list (a count over every matching
-- schedule: 15 ms for 100,000 on this engine, 45-85 ms for a broad search
-- or a tag) against the generation it was counted at, so the pages and
-- refreshes that follow skip the count until something it depends on
-- changes. The dispatcher's writes (next_run_at, the last run) do not
-- change it.
--
-- The number of schedules per tenant and status is kept beside it, so a
-- list that filters by status alone, or not at all, has its total at once
-- even after a change.
--
-- SQLite runs one writer at a time, so rows per tenant cost no contention.
-- PostgreSQL has no such tables: there a hot row would serialise every
-- schedule change of a tenant.

-- +goose Up
CREATE TABLE schedule_list_generations (
    tenant_id  TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE schedule_status_counts (
    tenant_id TEXT NOT NULL,
    status    TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, status)
) STRICT, WITHOUT ROWID;
INSERT INTO schedule_status_counts (tenant_id, status, n)
    SELECT tenant_id, status, count(*) FROM schedules GROUP BY tenant_id, status;

-- +goose StatementBegin
CREATE TRIGGER schedules_generation_insert AFTER INSERT ON schedules BEGIN
    INSERT INTO schedule_list_generations (tenant_id, generation) VALUES (new.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET generation = generation + 1;
    INSERT INTO schedule_status_counts (tenant_id, status, n) VALUES (new.tenant_id, new.status, 1)
        ON CONFLICT (tenant_id, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER schedules_generation_delete AFTER DELETE ON schedules BEGIN
    INSERT INTO schedule_list_generations (tenant_id, generation) VALUES (old.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET generation = generation + 1;
    UPDATE schedule_status_counts SET n = n - 1 WHERE tenant_id = old.tenant_id AND status = old.status;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER schedules_generation_update AFTER UPDATE OF tenant_id, status, workflow_id, tags, search_lc ON schedules
WHEN old.tenant_id IS NOT new.tenant_id OR old.status IS NOT new.status OR old.workflow_id IS NOT new.workflow_id
    OR old.tags IS NOT new.tags OR old.search_lc IS NOT new.search_lc BEGIN
    INSERT INTO schedule_list_generations (tenant_id, generation) VALUES (old.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET generation = generation + 1;
    INSERT INTO schedule_list_generations (tenant_id, generation) VALUES (new.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET generation = generation + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER schedules_status_count_update AFTER UPDATE OF tenant_id, status ON schedules
WHEN old.tenant_id IS NOT new.tenant_id OR old.status IS NOT new.status BEGIN
    UPDATE schedule_status_counts SET n = n - 1 WHERE tenant_id = old.tenant_id AND status = old.status;
    INSERT INTO schedule_status_counts (tenant_id, status, n) VALUES (new.tenant_id, new.status, 1)
        ON CONFLICT (tenant_id, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- A deleted tenant's schedules go with it (ON DELETE CASCADE); so does its
-- generation and counts.
-- +goose StatementBegin
CREATE TRIGGER tenants_generation_delete AFTER DELETE ON tenants BEGIN
    DELETE FROM schedule_list_generations WHERE tenant_id = old.id;
    DELETE FROM schedule_status_counts WHERE tenant_id = old.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tenants_generation_delete;
DROP TRIGGER schedules_status_count_update;
DROP TRIGGER schedules_generation_update;
DROP TRIGGER schedules_generation_delete;
DROP TRIGGER schedules_generation_insert;
DROP TABLE schedule_status_counts;
DROP TABLE schedule_list_generations;
