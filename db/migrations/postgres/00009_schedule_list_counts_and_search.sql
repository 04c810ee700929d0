-- Lists of 100,000 schedules without reading 100,000 rows.
--
-- schedule_filter_counts keeps each tenant's schedules counted by status
-- and workflow (kind 'w', key the workflow id) and by status and tag (kind
-- 't', key the tag), so a list filtered by a workflow or by a tag, with or
-- without a status, reads its total instead of counting the tenant's rows.
-- Like schedule_status_counts (00007) the counts are sharded by the
-- writing session, so concurrent writers of one tenant do not queue on one
-- row, and a total is the sum of its shards read in the list's own
-- snapshot: exact. Inserts and deletes are counted per statement from
-- their transition tables; an update per row, and only when it changes the
-- tenant, status, workflow or tags (never for the dispatcher's writes).
-- A tag is counted once per schedule, however often its array repeats it,
-- and only string elements count: the list filter is tags @> '["tag"]'.
--
-- schedule_search holds each schedule's search_lc beside a pg_trgm index.
-- A search cannot use such an index on schedules itself: under row-level
-- security PostgreSQL tests a policy before any condition that is not
-- leakproof, and LIKE is not, so the planner never makes it an index
-- condition. schedule_search_candidates, a SECURITY DEFINER function,
-- reads the index for the tenant of the transaction only (the same setting
-- the policies read) and returns candidate ids; the store still tests
-- search_lc on schedules under the policy, which alone decides. The copy
-- lives in its own table so that the dispatcher's writes to schedules
-- (next_run_at, the last run) do not rewrite trigram entries.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE schedule_filter_counts (
    tenant_id uuid NOT NULL, -- no foreign key, as schedule_status_counts
    kind      "char" NOT NULL,
    key       text NOT NULL,
    status    text NOT NULL,
    shard     smallint NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (tenant_id, kind, key, status, shard)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON schedule_filter_counts TO geoetl_app;
ALTER TABLE schedule_filter_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_filter_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_filter_counts
    USING ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid))
    WITH CHECK ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid));

-- +goose StatementBegin
CREATE FUNCTION schedule_filter_keys(workflow_id uuid, tags jsonb) RETURNS TABLE (kind "char", key text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'w'::"char", workflow_id::text
    UNION ALL
    SELECT DISTINCT 't'::"char", e #>> '{}'
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(tags) = 'array' THEN tags ELSE '[]'::jsonb END) e
        WHERE jsonb_typeof(e) = 'string'
$$;
-- +goose StatementEnd

INSERT INTO schedule_filter_counts (tenant_id, kind, key, status, shard, n)
    SELECT s.tenant_id, k.kind, k.key, s.status, 0, count(*)
    FROM schedules s, schedule_filter_keys(s.workflow_id, s.tags) k
    GROUP BY 1, 2, 3, 4;

-- +goose StatementBegin
CREATE FUNCTION schedule_filter_counts_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO schedule_filter_counts (tenant_id, kind, key, status, shard, n)
            SELECT r.tenant_id, k.kind, k.key, r.status, pg_backend_pid() % 16, count(*)
            FROM new_rows r, schedule_filter_keys(r.workflow_id, r.tags) k GROUP BY 1, 2, 3, 4
            ON CONFLICT (tenant_id, kind, key, status, shard) DO UPDATE SET n = schedule_filter_counts.n + excluded.n;
        INSERT INTO schedule_search (id, tenant_id, search_lc) SELECT id, tenant_id, search_lc FROM new_rows;
    ELSE
        INSERT INTO schedule_filter_counts (tenant_id, kind, key, status, shard, n)
            SELECT r.tenant_id, k.kind, k.key, r.status, pg_backend_pid() % 16, -count(*)
            FROM old_rows r, schedule_filter_keys(r.workflow_id, r.tags) k GROUP BY 1, 2, 3, 4
            ON CONFLICT (tenant_id, kind, key, status, shard) DO UPDATE SET n = schedule_filter_counts.n + excluded.n;
        DELETE FROM schedule_search s USING old_rows r WHERE s.id = r.id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION schedule_filter_counts_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF old.tenant_id IS DISTINCT FROM new.tenant_id OR old.status IS DISTINCT FROM new.status
        OR old.workflow_id IS DISTINCT FROM new.workflow_id OR old.tags IS DISTINCT FROM new.tags THEN
        INSERT INTO schedule_filter_counts (tenant_id, kind, key, status, shard, n)
            SELECT tenant_id, kind, key, status, pg_backend_pid() % 16, sum(d) FROM (
                SELECT old.tenant_id AS tenant_id, k.kind, k.key, old.status AS status, -1 AS d FROM schedule_filter_keys(old.workflow_id, old.tags) k
                UNION ALL
                SELECT new.tenant_id, k.kind, k.key, new.status, 1 FROM schedule_filter_keys(new.workflow_id, new.tags) k
            ) c GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0
            ON CONFLICT (tenant_id, kind, key, status, shard) DO UPDATE SET n = schedule_filter_counts.n + excluded.n;
    END IF;
    IF old.tenant_id IS DISTINCT FROM new.tenant_id OR old.search_lc IS DISTINCT FROM new.search_lc THEN
        UPDATE schedule_search SET tenant_id = new.tenant_id, search_lc = new.search_lc WHERE id = new.id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TABLE schedule_search (
    id        uuid PRIMARY KEY, -- a schedule's; kept by the triggers on schedules
    tenant_id uuid NOT NULL,
    search_lc text COLLATE "C" NOT NULL
);
INSERT INTO schedule_search (id, tenant_id, search_lc) SELECT id, tenant_id, search_lc FROM schedules;
CREATE INDEX schedule_search_trgm_idx ON schedule_search USING gin (search_lc gin_trgm_ops);
GRANT SELECT, INSERT, UPDATE, DELETE ON schedule_search TO geoetl_app;
ALTER TABLE schedule_search ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_search FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_search
    USING ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid))
    WITH CHECK ((SELECT current_user <> 'geoetl_app') OR tenant_id = (SELECT NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid));

-- The ids (as an array's text, '{}' for none) of at most lim schedules of
-- the transaction's tenant whose search_lc contains q, and how many they
-- are. Without a tenant set it finds nothing.
-- +goose StatementBegin
CREATE FUNCTION schedule_search_candidates(q text, lim integer) RETURNS TABLE (n bigint, ids text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT count(*), coalesce(array_agg(c.id)::text, '{}') FROM (
        SELECT s.id FROM public.schedule_search s
        WHERE s.tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid
          AND s.search_lc LIKE '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%'
        LIMIT lim
    ) c
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION schedule_search_candidates(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schedule_search_candidates(text, integer) TO geoetl_app;

-- How many schedules of the transaction's tenant have a search_lc that
-- contains q: the total of a search that matches too many for the index
-- to be worth it, read from the narrow copy (a tenth of the bytes of
-- schedules) with the same test the store makes.
-- +goose StatementBegin
CREATE FUNCTION schedule_search_count(q text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT count(*) FROM public.schedule_search s
    WHERE s.tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid AND strpos(s.search_lc, q) > 0
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION schedule_search_count(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schedule_search_count(text) TO geoetl_app;

CREATE TRIGGER schedules_filter_counts_insert AFTER INSERT ON schedules
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION schedule_filter_counts_statement();
CREATE TRIGGER schedules_filter_counts_delete AFTER DELETE ON schedules
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION schedule_filter_counts_statement();
CREATE TRIGGER schedules_filter_counts_update AFTER UPDATE OF tenant_id, status, workflow_id, tags, search_lc ON schedules
    FOR EACH ROW WHEN (old.tenant_id IS DISTINCT FROM new.tenant_id OR old.status IS DISTINCT FROM new.status
        OR old.workflow_id IS DISTINCT FROM new.workflow_id OR old.tags IS DISTINCT FROM new.tags
        OR old.search_lc IS DISTINCT FROM new.search_lc)
    EXECUTE FUNCTION schedule_filter_counts_row();

-- +goose Down
DROP TRIGGER schedules_filter_counts_update ON schedules;
DROP TRIGGER schedules_filter_counts_delete ON schedules;
DROP TRIGGER schedules_filter_counts_insert ON schedules;
DROP FUNCTION schedule_search_count(text);
DROP FUNCTION schedule_search_candidates(text, integer);
DROP FUNCTION schedule_filter_counts_row();
DROP FUNCTION schedule_filter_counts_statement();
DROP TABLE schedule_search;
DROP TABLE schedule_filter_counts;
DROP FUNCTION schedule_filter_keys(uuid, jsonb);
