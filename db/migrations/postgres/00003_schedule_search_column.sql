-- A schedule search tests one column, search_lc (lower-cased name, U+001F,
-- lower-cased description), instead of two, as on SQLite.

-- +goose Up
ALTER TABLE schedules ADD COLUMN search_lc text COLLATE "C" NOT NULL DEFAULT '';
UPDATE schedules SET search_lc = name_lc || chr(31) || description_lc;
ALTER TABLE schedules DROP COLUMN description_lc;

-- +goose Down
ALTER TABLE schedules ADD COLUMN description_lc text COLLATE "C" NOT NULL DEFAULT '';
UPDATE schedules SET description_lc = split_part(search_lc, chr(31), 2);
ALTER TABLE schedules DROP COLUMN search_lc;
