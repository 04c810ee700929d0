-- Bulk creation of schedules (an import) keeps the search index, the
-- status counts and the list-change log with a few statements per batch
-- instead of the row triggers of migrations 00004 and 00006 firing for
-- every schedule: those triggers were about half of what SQLite spent
-- inserting a schedule row.
--
-- A transaction that creates schedules in bulk puts a row into
-- schedule_bulk_insert first; the two insert triggers skip every row while
-- it is there, and the transaction then writes what they would have
-- written (the same trigrams, counts and numbered changes) and deletes the
-- row before it commits. Nothing outside that transaction ever sees the
-- row: SQLite has one writer, and readers see only committed data. Every
-- other insert, by any code, finds the table empty and fires the
-- triggers as before.

-- +goose Up
CREATE TABLE schedule_bulk_insert (
    id INTEGER PRIMARY KEY CHECK (id = 1)
) STRICT;

DROP TRIGGER schedules_search_insert;
-- +goose StatementBegin
CREATE TRIGGER schedules_search_insert AFTER INSERT ON schedules
WHEN NOT EXISTS (SELECT 1 FROM schedule_bulk_insert) BEGIN
    INSERT INTO schedule_search (rowid, search_lc) VALUES (new.rowid, new.search_lc);
END;
-- +goose StatementEnd

DROP TRIGGER schedules_list_insert;
-- +goose StatementBegin
CREATE TRIGGER schedules_list_insert AFTER INSERT ON schedules
WHEN NOT EXISTS (SELECT 1 FROM schedule_bulk_insert) BEGIN
    INSERT INTO schedule_status_counts (tenant_id, status, n) VALUES (new.tenant_id, new.status, 1)
        ON CONFLICT (tenant_id, status) DO UPDATE SET n = n + 1;
    INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
        SELECT new.tenant_id, coalesce(max(generation), 0) + 1, 1, new.status, new.workflow_id, new.tags, new.search_lc
        FROM schedule_list_changes WHERE tenant_id = new.tenant_id;
    DELETE FROM schedule_list_changes WHERE tenant_id = new.tenant_id
        AND generation <= (SELECT max(generation) FROM schedule_list_changes WHERE tenant_id = new.tenant_id) - 10000;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER schedules_list_insert;
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

DROP TRIGGER schedules_search_insert;
-- +goose StatementBegin
CREATE TRIGGER schedules_search_insert AFTER INSERT ON schedules BEGIN
    INSERT INTO schedule_search (rowid, search_lc) VALUES (new.rowid, new.search_lc);
END;
-- +goose StatementEnd

DROP TABLE schedule_bulk_insert;
