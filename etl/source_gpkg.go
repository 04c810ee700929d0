package etl

import (
	"context"
	"fmt"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/gpkg"
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
	db, err := gpkg.Open(sf.Path, true)
	if err != nil {
		return fmt.Errorf("opening GeoPackage %q: %v", relPath, err)
	}
	defer db.Close()
	layer, err := gpkg.FindLayer(ctx, db, relPath, table)
	if err != nil {
		return err
	}
	if layer.UndefinedCRS {
		nc.log("warn", "table %q has an undefined CRS; assuming EPSG:4326", layer.Table)
	}
	if _, err := crs.Lookup(layer.CRS); err != nil {
		nc.log("warn", "table %q is in CRS %d (%s), which geoprocessing.reproject cannot transform", layer.Table, layer.CRS, err)
	}
	limit := int64(-1)
	if p.has("limit") {
		limit = int64(p.integer("limit"))
	}
	rows, err := gpkg.ReadLayer(ctx, db, layer, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for {
		var f Feature
		ok, err := rows.Next(&f)
		if err != nil || !ok {
			return err
		}
		if err := nc.emit(ctx, f); err != nil {
			return err
		}
	}
}
