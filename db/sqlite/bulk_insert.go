package sqlite

import "github.com/geoetl/geoetl/db/internal/sqlstore"

// bulkScheduleInsert keeps, for a batch of created schedules, what the
// insert triggers of migrations 00004 and 00006 keep for each row: the
// batch's trigrams in the search index, the status counts, and one
// numbered change per schedule in the list-change log, in the order the
// rows went in, pruned to the tenant's newest 10,000. Migration 00013
// makes those triggers skip rows while schedule_bulk_insert has its row.
//
// The batch's rows are found by rowid: schedules has no INTEGER PRIMARY
// KEY and no AUTOINCREMENT, so SQLite gives each new row the largest rowid
// so far plus one, and every row above the largest before the batch (Floor)
// is one the batch inserted, in the order it went in. A range of rowids
// reads the batch's rows in a few pages; joining the list of ids looked
// each one up in the id index and then in the table, three times, which
// was a sixth of the writer's time for an import.
var bulkScheduleInsert = &sqlstore.BulkScheduleInsert{
	Begin: `INSERT INTO schedule_bulk_insert (id) VALUES (1)`,
	Floor: `SELECT coalesce(max(rowid), 0) FROM schedules`,
	Finish: []string{
		`INSERT INTO schedule_search (rowid, search_lc)
			SELECT s.rowid, s.search_lc FROM schedules AS s
			WHERE s.rowid > $1 AND s.tenant_id = $2 ORDER BY s.rowid`,
		`INSERT INTO schedule_status_counts (tenant_id, status, n)
			SELECT s.tenant_id, s.status, count(*) FROM schedules AS s
			WHERE s.rowid > $1 AND s.tenant_id = $2 GROUP BY s.tenant_id, s.status
			ON CONFLICT (tenant_id, status) DO UPDATE SET n = n + excluded.n`,
		`INSERT INTO schedule_list_changes (tenant_id, generation, sign, status, workflow_id, tags, search_lc)
			SELECT s.tenant_id, (SELECT coalesce(max(generation), 0) FROM schedule_list_changes WHERE tenant_id = $2) + row_number() OVER (ORDER BY s.rowid),
				1, s.status, s.workflow_id, s.tags, s.search_lc
			FROM schedules AS s
			WHERE s.rowid > $1 AND s.tenant_id = $2`,
		`DELETE FROM schedule_list_changes WHERE tenant_id = $2
			AND generation <= (SELECT max(generation) FROM schedule_list_changes WHERE tenant_id = $2) - 10000`,
	},
	End: `DELETE FROM schedule_bulk_insert`,
}
