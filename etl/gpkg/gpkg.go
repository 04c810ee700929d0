// Package gpkg reads and writes GeoPackage 1.3 files: the standard
// geometry blob (GeoPackageBinary header, envelope, ISO WKB; curve types
// with straight parts read as their linear equivalents), the core tables
// (gpkg_contents, gpkg_spatial_ref_sys filled from etl/crs,
// gpkg_geometry_columns), column types that follow etl/feature's field
// types, and the gpkg_rtree_index extension, bulk-loaded for new tables.
// It knows files, not paths: the engine decides which file may be opened
// (etl/paths.go) and how a finished copy replaces its output.
package gpkg

import (
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/peterstace/simplefeatures/geom"
	"modernc.org/sqlite"
)

const (
	applicationID = 0x47504B47 // "GPKG"
	userVersion   = 10300
)

// appendBlob encodes g as a GeoPackage geometry blob. Points carry no
// envelope (their envelope is the point); empty geometries set the empty
// flag, as the standard asks.
func appendBlob(dst []byte, g geom.Geometry, srsID int32) []byte {
	empty := g.IsEmpty()
	flags := byte(1) // little-endian header values
	lo, hi, hasEnv := g.Envelope().MinMaxXYs()
	withEnv := !empty && hasEnv && !g.IsPoint()
	switch {
	case empty:
		flags |= 1 << 4
	case withEnv:
		flags |= 1 << 1 // envelope [minx, maxx, miny, maxy]
	}
	dst = append(dst, 'G', 'P', 0, flags)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(srsID))
	if withEnv {
		for _, v := range [4]float64{lo.X, hi.X, lo.Y, hi.Y} {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
	}
	return g.AppendWKB(dst)
}

// Header is the parsed header of a geometry blob.
type Header struct {
	srsID  int32
	empty  bool
	env    []float64 // minx, maxx, miny, maxy[, ...] when present
	wkbOff int
}

func parseHeader(b []byte) (Header, error) {
	if len(b) < 8 || b[0] != 'G' || b[1] != 'P' {
		return Header{}, errors.New("not a GeoPackage geometry blob")
	}
	flags := b[3]
	var bo binary.ByteOrder = binary.BigEndian
	if flags&1 == 1 {
		bo = binary.LittleEndian
	}
	h := Header{srsID: int32(bo.Uint32(b[4:8])), empty: flags&(1<<4) != 0}
	n := 0
	switch (flags >> 1) & 7 {
	case 0:
	case 1:
		n = 4
	case 2, 3:
		n = 6
	case 4:
		n = 8
	default:
		return Header{}, errors.New("bad envelope code in GeoPackage geometry blob")
	}
	if len(b) < 8+8*n {
		return Header{}, errors.New("GeoPackage geometry blob is truncated")
	}
	for i := 0; i < n; i++ {
		h.env = append(h.env, math.Float64frombits(bo.Uint64(b[8+8*i:])))
	}
	h.wkbOff = 8 + 8*n
	return h, nil
}

// DecodeBlob parses a GeoPackage geometry blob without validating the
// geometry.
func DecodeBlob(b []byte) (geom.Geometry, Header, error) {
	h, err := parseHeader(b)
	if err != nil {
		return geom.Geometry{}, h, err
	}
	wkb := b[h.wkbOff:]
	if isCurveWKB(wkb) {
		if wkb, err = linearWKB(wkb); err != nil {
			return geom.Geometry{}, h, err
		}
	}
	g, err := geom.UnmarshalWKB(wkb, geom.NoValidate{})
	if err != nil {
		return geom.Geometry{}, h, fmt.Errorf("GeoPackage geometry: %w", err)
	}
	return g, h, nil
}

var registerOnce sync.Once

// registerSQLFunctions adds the ST_* functions that the rtree triggers of
// the gpkg_rtree_index extension call, so that later inserts into a table
// (by this engine in append mode, or by any client using this driver) keep
// the spatial index current. Registration applies to connections opened
// afterwards.
func registerSQLFunctions() {
	registerOnce.Do(func() {
		funcs := map[string]func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error){
			"ST_MinX": envelopeFunc(0, false), "ST_MaxX": envelopeFunc(1, true),
			"ST_MinY": envelopeFunc(2, false), "ST_MaxY": envelopeFunc(3, true),
			"ST_IsEmpty": stIsEmpty,
		}
		for name, fn := range funcs {
			// An error here means the name is registered already (by
			// another package of this process); its version serves.
			_ = sqlite.RegisterDeterministicScalarFunction(name, 1, fn)
		}
	})
}

// envelopeFunc is the SQL function giving one bound of a geometry blob's
// envelope: i indexes [minx, maxx, miny, maxy]. NULL for an empty or
// unreadable geometry.
func envelopeFunc(i int, isMax bool) func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
	return func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		b, ok := args[0].([]byte)
		if !ok || len(b) == 0 {
			return nil, nil
		}
		g, h, err := DecodeBlob(b)
		if err != nil || h.empty || g.IsEmpty() {
			return nil, nil
		}
		if len(h.env) >= 4 {
			return h.env[i], nil
		}
		lo, hi, ok := g.Envelope().MinMaxXYs()
		if !ok {
			return nil, nil
		}
		xy := lo
		if isMax {
			xy = hi
		}
		if i < 2 {
			return xy.X, nil
		}
		return xy.Y, nil
	}
}

// stIsEmpty is ST_IsEmpty: 1 for an empty geometry blob, NULL for one
// that is missing or unreadable.
func stIsEmpty(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	b, ok := args[0].([]byte)
	if !ok || len(b) == 0 {
		return nil, nil
	}
	g, h, err := DecodeBlob(b)
	if err != nil {
		return nil, nil
	}
	if h.empty || g.IsEmpty() {
		return int64(1), nil
	}
	return int64(0), nil
}

// Open opens a GeoPackage file with one connection.
func Open(path string, readOnly bool) (*sql.DB, error) {
	registerSQLFunctions()
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=cache_size(-8000)&_txlock=immediate"
	if readOnly {
		dsn = "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// quoteIdent quotes an SQLite identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// CheckTableName refuses names that would clash with the GeoPackage's own
// tables.
func CheckTableName(s string) error {
	l := strings.ToLower(s)
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("must not be empty")
	case strings.ContainsRune(s, 0):
		return errors.New("must not contain NUL")
	case len(s) > 200:
		return errors.New("must be at most 200 characters")
	case strings.HasPrefix(l, "gpkg_") || strings.HasPrefix(l, "rtree_") || strings.HasPrefix(l, "sqlite_"):
		return errors.New(`must not start with "gpkg_", "rtree_" or "sqlite_"`)
	}
	return nil
}

// geometryTypeName returns the geometry type name of the
// gpkg_geometry_columns table.
func geometryTypeName(t geom.GeometryType) string {
	switch t {
	case geom.TypePoint:
		return "POINT"
	case geom.TypeLineString:
		return "LINESTRING"
	case geom.TypePolygon:
		return "POLYGON"
	case geom.TypeMultiPoint:
		return "MULTIPOINT"
	case geom.TypeMultiLineString:
		return "MULTILINESTRING"
	case geom.TypeMultiPolygon:
		return "MULTIPOLYGON"
	case geom.TypeGeometryCollection:
		return "GEOMETRYCOLLECTION"
	}
	return "GEOMETRY"
}

// The GeoPackage 1.3 core tables and the rtree extension definitions.
const coreDDL = `
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
`

// rtreeTriggers returns the six triggers of the gpkg_rtree_index
// extension (GeoPackage 1.3, Annex F.3) for table t and column c.
func rtreeTriggers(t, c string) []string {
	rt := quoteIdent("rtree_" + t + "_" + c)
	qt, qc := quoteIdent(t), quoteIdent(c)
	name := func(suffix string) string { return quoteIdent("rtree_" + t + "_" + c + "_" + suffix) }
	return []string{
		`CREATE TRIGGER ` + name("insert") + ` AFTER INSERT ON ` + qt + ` WHEN (new.` + qc + ` NOT NULL AND NOT ST_IsEmpty(NEW.` + qc + `)) BEGIN INSERT OR REPLACE INTO ` + rt + ` VALUES (NEW.fid, ST_MinX(NEW.` + qc + `), ST_MaxX(NEW.` + qc + `), ST_MinY(NEW.` + qc + `), ST_MaxY(NEW.` + qc + `)); END`,
		`CREATE TRIGGER ` + name("update1") + ` AFTER UPDATE OF ` + qc + ` ON ` + qt + ` WHEN OLD.fid = NEW.fid AND (NEW.` + qc + ` NOTNULL AND NOT ST_IsEmpty(NEW.` + qc + `)) BEGIN INSERT OR REPLACE INTO ` + rt + ` VALUES (NEW.fid, ST_MinX(NEW.` + qc + `), ST_MaxX(NEW.` + qc + `), ST_MinY(NEW.` + qc + `), ST_MaxY(NEW.` + qc + `)); END`,
		`CREATE TRIGGER ` + name("update2") + ` AFTER UPDATE OF ` + qc + ` ON ` + qt + ` WHEN OLD.fid = NEW.fid AND (NEW.` + qc + ` ISNULL OR ST_IsEmpty(NEW.` + qc + `)) BEGIN DELETE FROM ` + rt + ` WHERE id = OLD.fid; END`,
		`CREATE TRIGGER ` + name("update3") + ` AFTER UPDATE ON ` + qt + ` WHEN OLD.fid != NEW.fid AND (NEW.` + qc + ` NOTNULL AND NOT ST_IsEmpty(NEW.` + qc + `)) BEGIN DELETE FROM ` + rt + ` WHERE id = OLD.fid; INSERT OR REPLACE INTO ` + rt + ` VALUES (NEW.fid, ST_MinX(NEW.` + qc + `), ST_MaxX(NEW.` + qc + `), ST_MinY(NEW.` + qc + `), ST_MaxY(NEW.` + qc + `)); END`,
		`CREATE TRIGGER ` + name("update4") + ` AFTER UPDATE ON ` + qt + ` WHEN OLD.fid != NEW.fid AND (NEW.` + qc + ` ISNULL OR ST_IsEmpty(NEW.` + qc + `)) BEGIN DELETE FROM ` + rt + ` WHERE id IN (OLD.fid, NEW.fid); END`,
		`CREATE TRIGGER ` + name("delete") + ` AFTER DELETE ON ` + qt + ` WHEN old.` + qc + ` NOT NULL BEGIN DELETE FROM ` + rt + ` WHERE id = OLD.fid; END`,
	}
}
