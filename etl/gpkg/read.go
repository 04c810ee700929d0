package gpkg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// Layer is a table of a GeoPackage to read: a feature table, or an
// attribute table (no geometry column) whose features have no geometry.
type Layer struct {
	Table string
	// GeomColumn is "" for an attribute table.
	GeomColumn string
	// CRS is the EPSG (or etl/crs) code of the geometries; 4326 when the
	// file leaves it undefined, which UndefinedCRS then reports.
	CRS          int
	UndefinedCRS bool
}

// FindLayer looks up table in the GeoPackage db, or without a name the
// first feature table (else the first attribute table). name is how
// errors refer to the file.
func FindLayer(ctx context.Context, db *sql.DB, name, table string) (Layer, error) {
	if table == "" {
		err := db.QueryRowContext(ctx, "SELECT table_name FROM gpkg_contents WHERE data_type IN ('features', 'attributes') ORDER BY data_type = 'attributes', rowid LIMIT 1").Scan(&table)
		if errors.Is(err, sql.ErrNoRows) {
			return Layer{}, fmt.Errorf("GeoPackage %q has no feature or attribute table", name)
		}
		if err != nil {
			return Layer{}, fmt.Errorf("GeoPackage %q: %v", name, err)
		}
	}
	var geomCol, org, srsDef string
	var srsID, orgID int
	err := db.QueryRowContext(ctx, `SELECT g.column_name, g.srs_id, coalesce(s.organization, ''), coalesce(s.organization_coordsys_id, 0), coalesce(s.definition, '')
		FROM gpkg_geometry_columns g LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id
		WHERE lower(g.table_name) = lower(?)`, table).Scan(&geomCol, &srsID, &org, &orgID, &srsDef)
	if errors.Is(err, sql.ErrNoRows) {
		var dataType string
		err = db.QueryRowContext(ctx, "SELECT data_type FROM gpkg_contents WHERE lower(table_name) = lower(?)", table).Scan(&dataType)
		if err != nil || dataType != "attributes" {
			return Layer{}, fmt.Errorf("GeoPackage %q has no feature or attribute table %q", name, table)
		}
		geomCol, srsID, org, orgID = "", 4326, "EPSG", 4326
	} else if err != nil {
		return Layer{}, fmt.Errorf("GeoPackage %q: %v", name, err)
	}
	l := Layer{Table: table, GeomColumn: geomCol, CRS: srsCode(srsID, org, orgID, srsDef)}
	if l.CRS <= 0 {
		l.CRS, l.UndefinedCRS = 4326, true
	}
	return l, nil
}

// srsCode is the code etl/crs knows a gpkg_spatial_ref_sys row by.
func srsCode(srsID int, org string, orgID int, def string) int {
	switch {
	case strings.EqualFold(org, "EPSG") && orgID > 0:
		return orgID
	case srsID > 0 && strings.EqualFold(org, "ESRI") && orgID > 0:
		if id, err := crs.Parse(fmt.Sprintf("ESRI:%d", orgID)); err == nil {
			return id
		}
	case srsID > 0 && def != "" && !strings.EqualFold(def, "undefined"):
		// Another organization's code or a custom CRS: its WKT says what it is.
		if id, err := crs.Parse(def); err == nil {
			return id
		}
	}
	return srsID
}

// Rows reads a layer's rows as features, in file order.
type Rows struct {
	layer           Layer
	rows            *sql.Rows
	cols            []*sql.ColumnType
	vals, ptrs      []any
	geomIdx, fidIdx int
	n               int
}

// ReadLayer starts reading l; limit < 0 reads every row.
func ReadLayer(ctx context.Context, db *sql.DB, l Layer, limit int64) (*Rows, error) {
	q := "SELECT * FROM " + quoteIdent(l.Table)
	var args []any
	if limit >= 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading table %q: %v", l.Table, err)
	}
	cols, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, err
	}
	r := &Rows{layer: l, rows: rows, cols: cols, vals: make([]any, len(cols)), ptrs: make([]any, len(cols)), geomIdx: -1, fidIdx: -1}
	for i := range r.vals {
		r.ptrs[i] = &r.vals[i]
	}
	for i, c := range cols {
		switch {
		case strings.EqualFold(c.Name(), l.GeomColumn):
			r.geomIdx = i
		case strings.EqualFold(c.Name(), "fid") && r.fidIdx < 0:
			r.fidIdx = i
		}
	}
	if r.geomIdx < 0 && l.GeomColumn != "" {
		rows.Close()
		return nil, fmt.Errorf("table %q has no column %q", l.Table, l.GeomColumn)
	}
	return r, nil
}

// Next reads the next row into f; false at the end.
func (r *Rows) Next(f *feature.Feature) (bool, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return false, fmt.Errorf("reading table %q: %v", r.layer.Table, err)
		}
		return false, nil
	}
	if err := r.rows.Scan(r.ptrs...); err != nil {
		return false, err
	}
	r.n++
	*f = feature.Feature{CRS: r.layer.CRS, Props: make(feature.Properties, 0, len(r.cols)-1)}
	if r.geomIdx >= 0 {
		if b, ok := r.vals[r.geomIdx].([]byte); ok && len(b) > 0 {
			g, _, err := DecodeBlob(b)
			if err != nil {
				fid := ""
				if r.fidIdx >= 0 {
					fid = fmt.Sprintf(" (fid %v)", feature.Normalize(r.vals[r.fidIdx]))
				}
				return false, fmt.Errorf("table %q feature %d%s: %v", r.layer.Table, r.n, fid, err)
			}
			f.Geometry = g
		}
	}
	for i, c := range r.cols {
		if i == r.geomIdx || i == r.fidIdx {
			continue
		}
		f.Props = append(f.Props, feature.Property{Key: c.Name(), Value: sqliteToValue(r.vals[i], c.DatabaseTypeName())})
	}
	if r.fidIdx >= 0 {
		f.ID = feature.Normalize(r.vals[r.fidIdx])
	}
	return true, nil
}

// Close ends the read.
func (r *Rows) Close() error { return r.rows.Close() }

func sqliteToValue(v any, declType string) any {
	v = feature.Normalize(v)
	if strings.EqualFold(declType, "BOOLEAN") {
		if i, ok := v.(int64); ok {
			return i != 0
		}
	}
	return v
}
