package etl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// data_source.geopackage reads one feature table of a GeoPackage.
func (e *Engine) gpkgSource() *NodeType {
	return &NodeType{
		Type: "data_source.geopackage", Category: "source", HasOutput: true,
		Description: "Reads a feature table (layer) of a GeoPackage in the data folder, or an attribute-only table (features without geometry). Curve types whose parts are straight are read as the equivalent linear types; circular arcs are refused, naming the feature. Z and M values are kept; BLOB columns are binary.",
		Parameters: []ParamSpec{
			{Name: "file_path", Type: "string", Required: true, Description: "Path relative to the data folder."},
			{Name: "table_name", Type: "string", Description: "Layer to read; default: the first feature table (or, without one, the first attribute table)."},
			{Name: "limit", Type: "integer", Description: "Read at most this many features."},
		},
		check: func(p params, add func(string, string, ...any)) {
			checkPathParam(p, "file_path", add)
			if p.has("limit") && p.integer("limit") < 0 {
				add("limit", "must not be negative")
			}
		},
		build: func(p params) (nodeFunc, error) {
			return func(ctx context.Context, nc *nodeCtx) error {
				return readGPKG(ctx, nc, p.str("file_path"), p.str("table_name"), p)
			}, nil
		},
	}
}

func readGPKG(ctx context.Context, nc *nodeCtx, relPath, table string, p params) error {
	sf, err := nc.r.sqliteSource(relPath)
	if err != nil {
		return err
	}
	defer sf.Close()
	db, err := openGPKG(sf.Path, true)
	if err != nil {
		return fmt.Errorf("opening GeoPackage %q: %v", relPath, err)
	}
	defer db.Close()
	if table == "" {
		err := db.QueryRowContext(ctx, "SELECT table_name FROM gpkg_contents WHERE data_type IN ('features', 'attributes') ORDER BY data_type = 'attributes', rowid LIMIT 1").Scan(&table)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("GeoPackage %q has no feature or attribute table", relPath)
		}
		if err != nil {
			return fmt.Errorf("GeoPackage %q: %v", relPath, err)
		}
	}
	var geomCol, org, srsDef string
	var srsID, orgID int
	err = db.QueryRowContext(ctx, `SELECT g.column_name, g.srs_id, coalesce(s.organization, ''), coalesce(s.organization_coordsys_id, 0), coalesce(s.definition, '')
		FROM gpkg_geometry_columns g LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id
		WHERE lower(g.table_name) = lower(?)`, table).Scan(&geomCol, &srsID, &org, &orgID, &srsDef)
	if errors.Is(err, sql.ErrNoRows) {
		// An attribute table: features without geometry.
		var dataType string
		err = db.QueryRowContext(ctx, "SELECT data_type FROM gpkg_contents WHERE lower(table_name) = lower(?)", table).Scan(&dataType)
		if err != nil || dataType != "attributes" {
			return fmt.Errorf("GeoPackage %q has no feature or attribute table %q", relPath, table)
		}
		geomCol, srsID, org, orgID = "", 4326, "EPSG", 4326
	} else if err != nil {
		return fmt.Errorf("GeoPackage %q: %v", relPath, err)
	}
	code := srsID
	switch {
	case strings.EqualFold(org, "EPSG") && orgID > 0:
		code = orgID
	case srsID > 0 && strings.EqualFold(org, "ESRI") && orgID > 0:
		if id, err := crs.Parse(fmt.Sprintf("ESRI:%d", orgID)); err == nil {
			code = id
		}
	case srsID > 0 && srsDef != "" && !strings.EqualFold(srsDef, "undefined"):
		// Another organization's code or a custom CRS: its WKT says what it is.
		if id, err := crs.Parse(srsDef); err == nil {
			code = id
		}
	}
	if code <= 0 {
		nc.log("warn", "table %q has an undefined CRS; assuming EPSG:4326", table)
		code = 4326
	}
	if _, err := crs.Lookup(code); err != nil {
		nc.log("warn", "table %q is in CRS %d (%s), which geoprocessing.reproject cannot transform", table, code, err)
	}
	q := "SELECT * FROM " + quoteIdent(table)
	var args []any
	if p.has("limit") {
		q += " LIMIT ?"
		args = append(args, p.integer("limit"))
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("reading table %q: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	geomIdx, fidIdx := -1, -1
	for i, c := range cols {
		switch {
		case strings.EqualFold(c.Name(), geomCol):
			geomIdx = i
		case strings.EqualFold(c.Name(), "fid") && fidIdx < 0:
			fidIdx = i
		}
	}
	if geomIdx < 0 && geomCol != "" {
		return fmt.Errorf("table %q has no column %q", table, geomCol)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		n++
		f := Feature{CRS: code, Props: make(Properties, 0, len(cols)-1)}
		if geomIdx >= 0 {
			if b, ok := vals[geomIdx].([]byte); ok && len(b) > 0 {
				g, _, err := decodeGPKGBlob(b)
				if err != nil {
					fid := ""
					if fidIdx >= 0 {
						fid = fmt.Sprintf(" (fid %v)", feature.Normalize(vals[fidIdx]))
					}
					return fmt.Errorf("table %q feature %d%s: %v", table, n, fid, err)
				}
				f.Geometry = g
			}
		}
		for i, c := range cols {
			if i == geomIdx || i == fidIdx {
				continue
			}
			f.Props = append(f.Props, Property{Key: c.Name(), Value: sqliteToValue(vals[i], c.DatabaseTypeName())})
		}
		if fidIdx >= 0 {
			f.ID = feature.Normalize(vals[fidIdx])
		}
		if err := nc.emit(ctx, f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading table %q: %v", table, err)
	}
	return nil
}

func sqliteToValue(v any, declType string) any {
	v = feature.Normalize(v)
	if strings.EqualFold(declType, "BOOLEAN") {
		if i, ok := v.(int64); ok {
			return i != 0
		}
	}
	return v
}
