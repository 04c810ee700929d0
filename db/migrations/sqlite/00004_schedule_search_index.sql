-- A trigram index over search_lc, so that a schedule search of three
-- characters or more reads the few rows that can match instead of testing
-- every schedule of the tenant (25 ms over 100,000 schedules).
--
-- The index is an external-content FTS5 table: it stores only the trigram
-- lists, keyed by the rowid of schedules, and reads nothing else. search_lc
-- is lower-cased by the store already, so the tokenizer keeps case
-- (case_sensitive 1) and folds nothing: its trigrams are exactly those of
-- search_lc, for every script, and the store's test of search_lc after the
-- index decides the result. detail=none keeps only which rows hold a
-- trigram, not where (6 MB instead of 17 MB for 100,000 schedules, and
-- quicker to read): the store asks for the rows holding some trigrams of
-- the search and tests the substring itself.
--
-- The triggers below keep the index in step with every write to schedules,
-- whichever code makes it (the store, a cascade from a deleted tenant).
-- schedules has indexes, so VACUUM copies its rowids unchanged and the
-- index stays valid. A restore that renumbers rowids (a dump loaded without
-- --preserve-rowids), or a later migration that rebuilds the schedules
-- table, must end with:
--   INSERT INTO schedule_search(schedule_search) VALUES ('rebuild');

-- +goose Up
CREATE VIRTUAL TABLE schedule_search USING fts5(
    search_lc,
    content = 'schedules',
    content_rowid = 'rowid',
    tokenize = 'trigram case_sensitive 1',
    detail = none
);
INSERT INTO schedule_search (schedule_search) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER schedules_search_insert AFTER INSERT ON schedules BEGIN
    INSERT INTO schedule_search (rowid, search_lc) VALUES (new.rowid, new.search_lc);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER schedules_search_delete AFTER DELETE ON schedules BEGIN
    INSERT INTO schedule_search (schedule_search, rowid, search_lc) VALUES ('delete', old.rowid, old.search_lc);
END;
-- +goose StatementEnd

-- Only writes that change the text touch the index: the dispatcher's
-- updates of next_run_at and the outcome columns cost nothing more.
-- +goose StatementBegin
CREATE TRIGGER schedules_search_update AFTER UPDATE OF search_lc ON schedules
WHEN old.search_lc IS NOT new.search_lc BEGIN
    INSERT INTO schedule_search (schedule_search, rowid, search_lc) VALUES ('delete', old.rowid, old.search_lc);
    INSERT INTO schedule_search (rowid, search_lc) VALUES (new.rowid, new.search_lc);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER schedules_search_update;
DROP TRIGGER schedules_search_delete;
DROP TRIGGER schedules_search_insert;
DROP TABLE schedule_search;
