-- The candidates of a search as a uuid array, for a statement that reads
-- them and the rows they name in one snapshot: the keys the store keeps
-- of a narrow search's matches (sqlstore, search_matches.go) must be those
-- of one snapshot, or a schedule added between two statements would be
-- missing from every later page.
--
-- schedule_search_candidates (00009) returns the ids as text, which a
-- statement must cast to uuid[]; a cast is not leakproof, so under the
-- row-level security of schedules the planner will not make
-- id = ANY(ids::uuid[]) an index condition and reads every row of every
-- tenant (3-6 s for 100,000). A uuid[] needs no cast, and = on uuid is
-- leakproof: the rows are looked up by primary key. ROWS 1 says that the
-- function returns one row, so that the planner loops over it.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION schedule_search_ids(q text, lim integer) RETURNS TABLE (n bigint, ids uuid[])
LANGUAGE sql STABLE SECURITY DEFINER ROWS 1 SET search_path = pg_catalog, public SET random_page_cost = 1.1 AS $$
    SELECT count(*), coalesce(array_agg(c.id), '{}') FROM (
        SELECT s.id FROM public.schedule_search s
        WHERE s.tenant_id = NULLIF(current_setting('geoetl.tenant_id', true), '')::uuid
          AND s.search_lc LIKE '%' || replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%'
        LIMIT lim
    ) c
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION schedule_search_ids(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schedule_search_ids(text, integer) TO geoetl_app;

-- +goose Down
DROP FUNCTION schedule_search_ids(text, integer);
