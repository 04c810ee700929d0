package sqlite

import "github.com/geoetl/geoetl/db/internal/sqlstore"

// bulkScheduleInsert keeps, for a batch of created schedules, what the
// insert triggers of migrations 00004 and 00006 keep for each row: the
// batch's trigrams in the search index, the status counts, and one
// numbered change per schedule in the list-change log, in the order the
// rows went in, pruned to the tenant's newest 10,000. Migration 00013
// makes those triggers skip rows while schedule_bulk_insert has its row.
//
// CROSS JOIN keeps the list of ids the outer loop: the planner may
// otherwise walk the tenant's schedules and parse the list again for each.
var bulkScheduleInsert = &sqlstore.BulkScheduleInsert{
	Begin: `INSERT INTO schedule_bulk_insert (id) VALUES (1)`,
	Finish: []string{
		`INSERT INTO schedule_search (rowid, search_lc)
			SELECT s.rowid, s.search_lc FROM json_each($1) AS j CROSS JOIN schedules AS s ON s.id = j.value
			WHERE s.tenant_id = $2 ORDER BY j.key`,
		`INSERT INTO schedule_status_counts (tenant_id, status, n)
			SELECT s.tenant_id, s.status, count(*) FROM json_each($1) AS j CROSS JOIN schedules AS s ON s.id = j.value
			WHERE s.tenant_id = $2 GROUP BY s.tenant_id, s.status
			ON CONFLICT (tenant_id, status) DO UPDATE SET n = n + excluded.n`,
		`INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
			SELECT s.tenant_id, (SELECT coalesce(max(generation), 0) FROM schedule_list_changes WHERE tenant_id = $2) + row_number() OVER (ORDER BY j.key),
				1, s.status, s.workflow_id, s.tags, s.search_lc
			FROM json_each($1) AS j CROSS JOIN schedules AS s ON s.id = j.value
			WHERE s.tenant_id = $2`,
		`DELETE FROM schedule_list_changes WHERE tenant_id = $2
			AND generation <= (SELECT max(generation) FROM schedule_list_changes WHERE tenant_id = $2) - 10000`,
	},
	End: `DELETE FROM schedule_bulk_insert`,
}
