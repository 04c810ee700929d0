-- Exact totals of searches over 100,000 schedules without counting them
-- on every request.
--
-- A search's total has no counts to read (00009 keeps them per workflow
-- and tag only): it counted every match, 100-200 ms for a broad search of
-- 100,000 schedules. schedule_list_changes logs every change to the set
-- of schedules a list filter can select (a schedule added or removed, or
-- its status, workflow, tags, name or description edited; never the
-- dispatcher's writes of next_run_at and the last run) as the filter
-- columns of the row that left the lists (sign -1) or joined them (+1),
-- with the transaction that made it (xid). The store keeps each total it
-- counted with the snapshot it was counted in, and brings it up to date by
-- adding the logged changes, filtered like the list, that the kept
-- snapshot did not see and the list's statement does. As SQLite's
-- schedule_list_changes (its 00006), with snapshots in place of a per
-- tenant generation, which here would be a hot row that serialises every
-- schedule change of a tenant: the log is only ever appended to.
--
-- Each tenant's log is pruned to about its newest 10,000 changes, every
-- 1,024 changes logged: the changes of transactions before a horizon xid
-- are deleted, and schedule_list_horizon records that xid. A kept total
-- whose snapshot's xmin is older than its tenant's horizon may lack pruned
-- changes and is counted afresh. Only a prune writes the horizon row.

-- +goose Up
CREATE TABLE schedule_list_changes (
    seq         bigint GENERATED ALWAYS AS IDENTITY (CACHE 32),
    tenant_id   uuid NOT NULL, -- no foreign key, as schedule_filter_counts
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    sign        smallint NOT NULL,
    -- The filter columns, named as in schedules so that a list's WHERE
    -- clause applies to them unchanged.
    id          uuid NOT NULL,
    status      text NOT NULL,
    workflow_id uuid NOT NULL,
    tags        jsonb NOT NULL,
    name_lc     text COLLATE "C" NOT NULL,
    search_lc   text COLLATE "C" NOT NULL
);
CREATE INDEX schedule_list_changes_tenant_xid_idx ON schedule_list_changes (tenant_id, xid);
GRANT SELECT, INSERT, DELETE ON schedule_list_changes TO geoetl_app;
ALTER TABLE schedule_list_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_list_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_list_changes
    USING ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid))
    WITH CHECK ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid));

CREATE TABLE schedule_list_horizon (
    tenant_id uuid PRIMARY KEY,
    xid       xid8 NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON schedule_list_horizon TO geoetl_app;
ALTER TABLE schedule_list_horizon ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_list_horizon FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_list_horizon
    USING ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid))
    WITH CHECK ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid));

-- Inserts and deletes are logged per statement from their transition
-- tables.
-- +goose StatementBegin
CREATE FUNCTION schedule_list_changes_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO schedule_list_changes (tenant_id, sign, id, status, workflow_id, tags, name_lc, search_lc)
            SELECT tenant_id, 1, id, status, workflow_id, tags, name_lc, search_lc FROM new_rows;
    ELSE
        INSERT INTO schedule_list_changes (tenant_id, sign, id, status, workflow_id, tags, name_lc, search_lc)
            SELECT tenant_id, -1, id, status, workflow_id, tags, name_lc, search_lc FROM old_rows;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- An edit is the old row leaving and the new one joining.
-- +goose StatementBegin
CREATE FUNCTION schedule_list_changes_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO schedule_list_changes (tenant_id, sign, id, status, workflow_id, tags, name_lc, search_lc) VALUES
        (old.tenant_id, -1, old.id, old.status, old.workflow_id, old.tags, old.name_lc, old.search_lc),
        (new.tenant_id, 1, new.id, new.status, new.workflow_id, new.tags, new.name_lc, new.search_lc);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Every 1,024 changes logged, each tenant among them drops the changes of
-- transactions older than its newest 10,000 changes.
-- +goose StatementBegin
CREATE FUNCTION schedule_list_changes_prune() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t uuid;
    h xid8;
BEGIN
    FOR t IN SELECT DISTINCT tenant_id FROM logged WHERE seq % 1024 = 0 LOOP
        SELECT c.xid INTO h FROM schedule_list_changes c WHERE c.tenant_id = t ORDER BY c.xid DESC OFFSET 10000 LIMIT 1;
        IF h IS NOT NULL THEN
            INSERT INTO schedule_list_horizon (tenant_id, xid) VALUES (t, h)
                ON CONFLICT (tenant_id) DO UPDATE SET xid = greatest(schedule_list_horizon.xid, excluded.xid);
            DELETE FROM schedule_list_changes c WHERE c.tenant_id = t AND c.xid < h;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER schedule_list_changes_prune AFTER INSERT ON schedule_list_changes
    REFERENCING NEW TABLE AS logged FOR EACH STATEMENT EXECUTE FUNCTION schedule_list_changes_prune();
CREATE TRIGGER schedules_list_changes_insert AFTER INSERT ON schedules
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION schedule_list_changes_statement();
CREATE TRIGGER schedules_list_changes_delete AFTER DELETE ON schedules
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION schedule_list_changes_statement();
CREATE TRIGGER schedules_list_changes_update AFTER UPDATE OF tenant_id, status, workflow_id, tags, name_lc, search_lc ON schedules
    FOR EACH ROW WHEN (old.tenant_id IS DISTINCT FROM new.tenant_id OR old.status IS DISTINCT FROM new.status
        OR old.workflow_id IS DISTINCT FROM new.workflow_id OR old.tags IS DISTINCT FROM new.tags
        OR old.name_lc IS DISTINCT FROM new.name_lc OR old.search_lc IS DISTINCT FROM new.search_lc)
    EXECUTE FUNCTION schedule_list_changes_row();

-- The page of a tenant's schedule list, in name order, from
-- the key (a_name, a_id) on, skipping off rows: a page seeking from an
-- anchor (see the store). Filters as the list's: status, workflow, tag
-- and search (lower-cased), each NULL for none. It runs as the caller,
-- under the tenant's policy. The planner must walk the name index from the
-- key and stop after off + lim rows; without statistics (a table just
-- loaded) it estimates a few hundred rows from the key and would rather
-- fetch and sort all the rows after it (40,000 for a page at 60,000 of
-- 100,000: 400 ms), so bitmap scans and sorts are off inside.
-- +goose StatementBegin
CREATE FUNCTION schedule_list_page(tenant uuid, a_name text, a_id uuid, lim bigint, off bigint,
    f_status text, f_workflow uuid, f_tag text, f_q text) RETURNS SETOF schedules
LANGUAGE sql STABLE ROWS 50 SET enable_bitmapscan = off SET enable_sort = off AS $$
    SELECT s.* FROM public.schedules s
    WHERE s.tenant_id = tenant AND (s.name_lc, s.id) >= (a_name, a_id)
      AND (f_status IS NULL OR s.status = f_status)
      AND (f_workflow IS NULL OR s.workflow_id = f_workflow)
      AND (f_tag IS NULL OR s.tags @> jsonb_build_array(f_tag))
      AND (f_q IS NULL OR strpos(s.search_lc, f_q) > 0)
    ORDER BY s.name_lc, s.id LIMIT lim OFFSET off
$$;
-- +goose StatementEnd
GRANT EXECUTE ON FUNCTION schedule_list_page(uuid, text, uuid, bigint, bigint, text, uuid, text, text) TO geoetl_app;

-- The trigram index finds a narrow search's candidates even when most of
-- its trigrams are common ('district 42' among 100,000 "... district N"
-- descriptions: 1,031 rows): a bitmap scan of the index, 4 times faster
-- than the scan of every row the planner chose under the default page
-- costs, which suit a disk rather than a table this small and this often
-- read. A broad search still scans, and stops at the limit.
ALTER FUNCTION schedule_search_candidates(text, integer) SET random_page_cost = 1.1;

-- +goose Down
ALTER FUNCTION schedule_search_candidates(text, integer) RESET random_page_cost;
DROP FUNCTION schedule_list_page(uuid, text, uuid, bigint, bigint, text, uuid, text, text);
DROP TRIGGER schedules_list_changes_update ON schedules;
DROP TRIGGER schedules_list_changes_delete ON schedules;
DROP TRIGGER schedules_list_changes_insert ON schedules;
DROP TRIGGER schedule_list_changes_prune ON schedule_list_changes;
DROP FUNCTION schedule_list_changes_prune();
DROP FUNCTION schedule_list_changes_row();
DROP FUNCTION schedule_list_changes_statement();
DROP TABLE schedule_list_horizon;
DROP TABLE schedule_list_changes;
