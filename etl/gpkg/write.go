package gpkg

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// Writer writes features into one table of a GeoPackage inside a
// single transaction: a failed run leaves the file as it was. In replace
// mode the table is dropped and rebuilt and the spatial index is filled
// directly, with the index triggers created at the end (as GDAL does); in
// append mode the table's existing triggers maintain the index.
type Writer struct {
	ctx      context.Context
	db       *sql.DB
	tx       *sql.Tx
	table    string
	geomCol  string
	mode     string
	srsID    int
	ready    bool
	existing bool // appending to a table that existed before

	cols      []column
	colByKey  map[string]int
	usedNames map[string]bool

	// Rows are inserted several at a time (one statement per rowsPerStmt
	// rows), which saves most of the per-statement cost of SQLite and
	// database/sql.
	insert      *sql.Stmt // for rowsPerStmt rows
	rowsPerStmt int
	rowArgs     []any         // arguments of the pending rows
	rowEnv      []rowEnv      // their envelopes, for the spatial index
	arena       []byte        // their geometry blobs
	rb          *rtreeBuilder // fills the index of a table this writer created

	// pendingIndex holds spatial index entries not yet packed into the
	// R-tree (see rtree_bulk.go).
	pendingIndex []rtreeEntry

	// declared is the geometry column's type, which gpkg_geometry_columns
	// repeats; every geometry must be of that type unless it is GEOMETRY.
	declared string
	hasZ     bool
	hasM     bool

	// schema holds the types the sink's schema parameter declares.
	schema []feature.Field
	// vals holds one feature's converted attribute values, by column.
	vals  []any
	env   geom.Envelope
	count int64
}

type rowEnv struct {
	ok     bool
	lo, hi geom.XY
}

// column is one attribute column. ft is the field type its values have
// needed so far ("" while they were all null); a column the schema
// declares, or that an appended-to table already has, keeps its type
// (fixed) and values must fit it.
type column struct {
	key, name, typ string
	ft             feature.FieldType
	fixed          bool
}

// columnType is the GeoPackage column type of a field type; a column
// that has held only nulls is TEXT, as GDAL makes it.
func columnType(t feature.FieldType) string {
	switch t {
	case feature.FieldInteger:
		return "INTEGER"
	case feature.FieldReal:
		return "REAL"
	case feature.FieldBoolean:
		return "BOOLEAN"
	case feature.FieldDate:
		return "DATE"
	case feature.FieldDateTime:
		return "DATETIME"
	case feature.FieldBinary:
		return "BLOB"
	}
	return "TEXT"
}

// fieldType reads the field type of an existing column's declared
// type, by SQLite's affinity rules; "" for types that take any value.
func fieldType(decl string) feature.FieldType {
	d := strings.ToUpper(decl)
	switch {
	case d == "BOOLEAN":
		return feature.FieldBoolean
	case d == "DATE":
		return feature.FieldDate
	case d == "DATETIME":
		return feature.FieldDateTime
	case strings.Contains(d, "INT"):
		return feature.FieldInteger
	case strings.Contains(d, "CHAR") || strings.Contains(d, "CLOB") || strings.Contains(d, "TEXT"):
		return feature.FieldText
	case d == "BLOB":
		return feature.FieldBinary
	case strings.Contains(d, "REAL") || strings.Contains(d, "FLOA") || strings.Contains(d, "DOUB"):
		return feature.FieldReal
	}
	return ""
}

// NewWriter starts writing features into table of the GeoPackage db (mode
// "replace" or "append"), in a transaction that Commit ends; schema
// declares column types. The Writer owns db from here: Commit and Abort
// close it, as does a failed NewWriter.
func NewWriter(ctx context.Context, db *sql.DB, table, mode string, schema []feature.Field) (*Writer, error) {
	w := &Writer{ctx: ctx, db: db, table: table, geomCol: "geom", mode: mode,
		colByKey: map[string]int{}, usedNames: map[string]bool{}, schema: schema,
	}
	if err := w.begin(); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// Count is the number of features written so far.
func (w *Writer) Count() int64 { return w.count }

func (w *Writer) begin() error {
	var appID int64
	if err := w.db.QueryRowContext(w.ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return err
	}
	var tables int
	if err := w.db.QueryRowContext(w.ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return fmt.Errorf("not a SQLite database: %v", err)
	}
	if appID != applicationID && tables > 0 {
		var n int
		_ = w.db.QueryRowContext(w.ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'gpkg_contents'").Scan(&n)
		if n == 0 {
			return errors.New("the file exists and is not a GeoPackage; refusing to change it")
		}
	}
	// application_id and user_version live in the file header, so they
	// are set once here rather than per connection.
	if _, err := w.db.ExecContext(w.ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return err
	}
	if _, err := w.db.ExecContext(w.ctx, fmt.Sprintf("PRAGMA user_version = %d", userVersion)); err != nil {
		return err
	}
	tx, err := w.db.BeginTx(w.ctx, nil)
	if err != nil {
		return err
	}
	w.tx = tx
	if _, err := tx.ExecContext(w.ctx, coreDDL); err != nil {
		return err
	}
	return nil
}

// setup prepares the table once the first feature tells the CRS and the
// attributes.
func (w *Writer) setup(first []feature.Feature) error {
	w.srsID = 4326
	if len(first) > 0 && first[0].CRS != 0 {
		w.srsID = first[0].CRS
	}
	if err := w.ensureSRS(w.srsID); err != nil {
		return err
	}
	if w.srsID != 4326 {
		if err := w.ensureSRS(4326); err != nil {
			return err
		}
	}
	exists, err := w.tableExists()
	if err != nil {
		return err
	}
	if exists && w.mode == "append" {
		if err := w.loadExisting(); err != nil {
			return err
		}
	} else {
		if exists {
			if err := w.dropTable(); err != nil {
				return err
			}
		}
		if err := w.createTable(first); err != nil {
			return err
		}
	}
	w.ready = true
	return w.prepare()
}

func (w *Writer) ensureSRS(code int) error {
	var n int
	if err := w.tx.QueryRowContext(w.ctx, "SELECT count(*) FROM gpkg_spatial_ref_sys WHERE srs_id = ?", code).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	c, err := crs.Lookup(code)
	if err != nil {
		return err
	}
	// ESRI codes and custom definitions (WKT, PROJ strings) keep their own
	// organization, as GDAL writes them ("NONE" for a custom one).
	org, orgID := c.Authority()
	if org == "" {
		org, orgID = "NONE", code
	}
	_, err = w.tx.ExecContext(w.ctx, `INSERT INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, organization_coordsys_id, definition, description) VALUES (?, ?, ?, ?, ?, NULL)`,
		c.Name, code, org, orgID, c.WKT)
	return err
}

func (w *Writer) tableExists() (bool, error) {
	var n int
	err := w.tx.QueryRowContext(w.ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND lower(name) = lower(?)", w.table).Scan(&n)
	return n > 0, err
}

func (w *Writer) dropTable() error {
	var geomCol string
	err := w.tx.QueryRowContext(w.ctx, "SELECT column_name FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)", w.table).Scan(&geomCol)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if geomCol != "" {
		if _, err := w.tx.ExecContext(w.ctx, "DROP TABLE IF EXISTS "+quoteIdent("rtree_"+w.table+"_"+geomCol)); err != nil {
			return err
		}
	}
	for _, q := range []string{
		"DELETE FROM gpkg_extensions WHERE lower(table_name) = lower(?)",
		"DELETE FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
		"DELETE FROM gpkg_contents WHERE lower(table_name) = lower(?)",
	} {
		if _, err := w.tx.ExecContext(w.ctx, q, w.table); err != nil {
			return err
		}
	}
	_, err = w.tx.ExecContext(w.ctx, "DROP TABLE "+quoteIdent(w.table))
	return err
}

func (w *Writer) createTable(first []feature.Feature) error {
	for _, fd := range w.schema {
		c := w.addColumnDef(fd.Name, fd.Type)
		w.cols[c].fixed = true
	}
	// The first batch's types are known at once; later values widen them
	// (see widenColumn).
	var sb feature.SchemaBuilder
	for _, f := range first {
		sb.Add(f.Props)
	}
	for _, fd := range sb.Fields() {
		if _, ok := w.colByKey[fd.Name]; !ok {
			t, _ := sb.Type(fd.Name)
			w.addColumnDef(fd.Name, t)
		}
	}
	gtype := "GEOMETRY"
	ts := map[geom.GeometryType]bool{}
	for _, f := range first {
		if !feature.IsNullGeometry(f.Geometry) {
			ts[f.Geometry.Type()] = true
		}
	}
	if len(ts) == 1 {
		for t := range ts {
			gtype = geometryTypeName(t)
		}
	}
	w.declared = gtype
	var b strings.Builder
	b.WriteString("CREATE TABLE " + quoteIdent(w.table) + " (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, " + quoteIdent(w.geomCol) + " " + gtype)
	for _, c := range w.cols {
		b.WriteString(", " + quoteIdent(c.name) + " " + c.typ)
	}
	b.WriteString(")")
	if _, err := w.tx.ExecContext(w.ctx, b.String()); err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(w.ctx, `INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) VALUES (?, 'features', ?, '', ?, ?)`,
		w.table, w.table, now(), w.srsID); err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(w.ctx, `INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)`, w.table, w.geomCol, gtype, w.srsID); err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(w.ctx, "CREATE VIRTUAL TABLE "+quoteIdent("rtree_"+w.table+"_"+w.geomCol)+" USING rtree(id, minx, maxx, miny, maxy)"); err != nil {
		return err
	}
	var err error
	w.rb, err = newRtreeBuilder(w.ctx, w.tx, "rtree_"+w.table+"_"+w.geomCol)
	return err
}

func (w *Writer) loadExisting() error {
	w.existing = true
	var srs int
	err := w.tx.QueryRowContext(w.ctx, "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)", w.table).Scan(&w.geomCol, &srs)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("table %q exists but is not a feature table", w.table)
	}
	if err != nil {
		return err
	}
	if srs != w.srsID {
		return fmt.Errorf("table %q holds EPSG:%d but the features are in EPSG:%d; add geoprocessing.reproject before the sink", w.table, srs, w.srsID)
	}
	rows, err := w.tx.QueryContext(w.ctx, "SELECT name, type FROM pragma_table_info(?)", w.table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return err
		}
		w.usedNames[strings.ToLower(name)] = true
		if strings.EqualFold(name, "fid") || strings.EqualFold(name, w.geomCol) {
			continue
		}
		w.cols = append(w.cols, column{key: name, name: name, typ: strings.ToUpper(typ), ft: fieldType(typ), fixed: true})
		w.colByKey[name] = len(w.cols) - 1
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var hasRtree int
	if err := w.tx.QueryRowContext(w.ctx, "SELECT count(*) FROM sqlite_master WHERE name = ?", "rtree_"+w.table+"_"+w.geomCol).Scan(&hasRtree); err != nil {
		return err
	}
	var minx, miny, maxx, maxy sql.NullFloat64
	_ = w.tx.QueryRowContext(w.ctx, "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE lower(table_name) = lower(?)", w.table).Scan(&minx, &miny, &maxx, &maxy)
	if minx.Valid && miny.Valid && maxx.Valid && maxy.Valid {
		w.env = geom.NewEnvelope(geom.XY{X: minx.Float64, Y: miny.Float64}, geom.XY{X: maxx.Float64, Y: maxy.Float64})
	}
	var gt string
	if err := w.tx.QueryRowContext(w.ctx, "SELECT geometry_type_name FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)", w.table).Scan(&gt); err != nil {
		return err
	}
	w.declared = strings.ToUpper(gt)
	return nil
}

// addColumnDef records a new column for a property key, renaming it when
// it clashes (SQLite names are case-insensitive) with fid, the geometry
// column or another attribute, and returns its index.
func (w *Writer) addColumnDef(key string, ft feature.FieldType) int {
	name := key
	if name == "" {
		name = "field"
	}
	w.usedNames["fid"] = true
	w.usedNames[strings.ToLower(w.geomCol)] = true
	for i := 1; w.usedNames[strings.ToLower(name)]; i++ {
		name = fmt.Sprintf("%s_%d", key, i)
	}
	w.usedNames[strings.ToLower(name)] = true
	c := column{key: key, name: name, typ: columnType(ft), ft: ft}
	w.cols = append(w.cols, c)
	w.colByKey[key] = len(w.cols) - 1
	return len(w.cols) - 1
}

// value converts one attribute value for its column, adding the column or
// widening its type when the value needs it. A fixed column is never
// widened: a value that does not fit it is an error.
func (w *Writer) value(key string, v any) (int, any, error) {
	i, ok := w.colByKey[key]
	if !ok {
		t, _ := feature.TypeOf(v)
		var err error
		if i, err = w.addColumn(key, t); err != nil {
			return 0, nil, err
		}
	}
	c := &w.cols[i]
	if c.fixed {
		if c.ft == "" {
			return i, sqliteValue(v), nil
		}
		cv, err := feature.Coerce(v, c.ft)
		if err != nil {
			return 0, nil, fmt.Errorf("attribute %q: %v in column %q, which is %s%s", key, err, c.name, c.typ, w.fixedHint(key))
		}
		return i, sqliteValue(cv), nil
	}
	if vt, ok := feature.TypeOf(v); ok && vt != c.ft {
		if nt := feature.Widen(c.ft, vt); nt != c.ft {
			if err := w.widenColumn(i, nt); err != nil {
				return 0, nil, err
			}
		}
	}
	return i, sqliteValue(v), nil
}

func (w *Writer) fixedHint(key string) string {
	for _, f := range w.schema {
		if f.Name == key {
			return " (declared in the sink's schema)"
		}
	}
	return fmt.Sprintf(" in the existing table %q; change the column's type or cast the attribute", w.table)
}

// widenColumn changes the type of a column of a table this writer created
// (integer to real, anything mixed to text) when a value needs it. SQLite
// cannot change a column's type, so the table is rebuilt; each column
// widens at most three times (null, integer, real, text), so a table is
// rebuilt a bounded number of times whatever its size.
func (w *Writer) widenColumn(i int, t feature.FieldType) error {
	c := &w.cols[i]
	c.ft, c.typ = t, columnType(t)
	return w.rebuildTable()
}

func (w *Writer) prepare() error {
	if w.insert != nil {
		w.insert.Close()
		w.insert = nil
	}
	// SQLite allows 32766 bound values per statement.
	w.rowsPerStmt = max(1, min(64, 30000/(len(w.cols)+1)))
	st, err := w.tx.PrepareContext(w.ctx, w.insertSQL(w.rowsPerStmt))
	if err != nil {
		return err
	}
	w.insert = st
	return nil
}

// insertSQL returns an INSERT of n rows.
func (w *Writer) insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + quoteIdent(w.table) + " (" + quoteIdent(w.geomCol))
	for _, c := range w.cols {
		b.WriteString(", " + quoteIdent(c.name))
	}
	b.WriteString(") VALUES ")
	row := "(?" + strings.Repeat(", ?", len(w.cols)) + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// flushRows inserts the pending rows. Rows inserted by one statement into
// a table with AUTOINCREMENT get consecutive fids, so the last insert id
// gives every row's fid for the spatial index.
func (w *Writer) flushRows() error {
	n := len(w.rowEnv)
	if n == 0 {
		return nil
	}
	st := w.insert
	if n != w.rowsPerStmt {
		var err error
		if st, err = w.tx.PrepareContext(w.ctx, w.insertSQL(n)); err != nil {
			return err
		}
		defer st.Close()
	}
	res, err := st.Exec(w.rowArgs...)
	if err != nil {
		return fmt.Errorf("inserting features: %v", err)
	}
	if w.rb != nil {
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for i, e := range w.rowEnv {
			if e.ok {
				w.pendingIndex = append(w.pendingIndex, rtreeEntry{last - int64(n-1-i), e.lo.X, e.hi.X, e.lo.Y, e.hi.Y})
			}
		}
		// A chunk is packed only once more entries follow it, so that
		// the last chunk is never empty when the tree is finished.
		for len(w.pendingIndex) > rtreeChunk {
			if err := w.rb.addChunk(w.pendingIndex[:rtreeChunk]); err != nil {
				return err
			}
			w.pendingIndex = append(w.pendingIndex[:0], w.pendingIndex[rtreeChunk:]...)
		}
	}
	w.rowArgs, w.rowEnv, w.arena = w.rowArgs[:0], w.rowEnv[:0], w.arena[:0]
	return nil
}

// Write adds a batch of features.
func (w *Writer) Write(fs []feature.Feature) error {
	// Statements run without the context: the driver would start a
	// goroutine per statement to watch it. Cancellation is checked once
	// per batch instead, and the transaction itself is bound to the
	// context.
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if !w.ready {
		if err := w.setup(fs); err != nil {
			return err
		}
	}
	for i := range fs {
		f := &fs[i]
		if f.CRS != w.srsID {
			return fmt.Errorf("feature in EPSG:%d, but the table is EPSG:%d; add geoprocessing.reproject before the sink", f.CRS, w.srsID)
		}
		// Values are converted first: adding or widening a column flushes
		// the pending rows, which must not include a half-built one.
		w.vals = w.vals[:0]
		for _, kv := range f.Props {
			ci, v, err := w.value(kv.Key, kv.Value)
			if err != nil {
				return fmt.Errorf("feature %d%s: %v", w.count+1, feature.IDSuffix(*f), err)
			}
			for len(w.vals) < len(w.cols) {
				w.vals = append(w.vals, nil)
			}
			w.vals[ci] = v
		}
		// A feature without geometry (GeoJSON null, read as an empty
		// collection) gets SQL NULL, as GDAL writes it.
		g := f.Geometry
		nullGeom := feature.IsNullGeometry(g)
		if !nullGeom && w.declared != "GEOMETRY" && geometryTypeName(g.Type()) != w.declared {
			if w.existing {
				return fmt.Errorf("table %q holds %s geometries; this feature is a %s", w.table, w.declared, g.Type())
			}
			if err := w.widenToGeometry(); err != nil {
				return err
			}
		}
		base := len(w.rowArgs)
		for j := 0; j <= len(w.cols); j++ {
			w.rowArgs = append(w.rowArgs, nil)
		}
		if !nullGeom {
			start := len(w.arena)
			w.arena = appendBlob(w.arena, g, int32(w.srsID))
			w.rowArgs[base] = w.arena[start:len(w.arena):len(w.arena)]
		}
		copy(w.rowArgs[base+1:], w.vals)
		if g.CoordinatesType().Is3D() {
			w.hasZ = true
		}
		if g.CoordinatesType().IsMeasured() {
			w.hasM = true
		}
		var re rowEnv
		if lo, hi, ok := g.Envelope().MinMaxXYs(); ok && !g.IsEmpty() {
			w.env = w.env.ExpandToIncludeXY(lo).ExpandToIncludeXY(hi)
			re = rowEnv{true, lo, hi}
		}
		w.rowEnv = append(w.rowEnv, re)
		w.count++
		if len(w.rowEnv) == w.rowsPerStmt {
			if err := w.flushRows(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) addColumn(key string, t feature.FieldType) (int, error) {
	// An existing table's column matches an attribute whatever its case,
	// as SQLite's names do.
	if w.existing {
		for i, c := range w.cols {
			if strings.EqualFold(c.name, key) {
				w.colByKey[key] = i
				return i, nil
			}
		}
	}
	if err := w.flushRows(); err != nil {
		return 0, err
	}
	i := w.addColumnDef(key, t)
	c := w.cols[i]
	if _, err := w.tx.ExecContext(w.ctx, "ALTER TABLE "+quoteIdent(w.table)+" ADD COLUMN "+quoteIdent(c.name)+" "+c.typ); err != nil {
		return 0, err
	}
	return i, w.prepare()
}

// sqliteValue converts an attribute value for an SQLite column.
func sqliteValue(v any) any {
	switch x := v.(type) {
	case nil, int64, string, []byte:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return x
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// Commit finishes the table's metadata, commits and closes the file.
func (w *Writer) Commit() error {
	if !w.ready {
		if err := w.setup(nil); err != nil {
			w.Abort()
			return err
		}
	}
	if err := w.finish(); err != nil {
		w.Abort()
		return err
	}
	w.closeStmts()
	if err := w.tx.Commit(); err != nil {
		w.Abort()
		return err
	}
	w.tx = nil
	err := w.db.Close()
	w.db = nil
	if err != nil {
		w.Abort()
		return err
	}
	return nil
}

func (w *Writer) finish() error {
	if err := w.flushRows(); err != nil {
		return err
	}
	if w.rb != nil {
		if err := w.rb.finish(w.pendingIndex); err != nil {
			return err
		}
		w.pendingIndex = nil
	}
	z, m := 0, 0
	if w.hasZ {
		z = 2
	}
	if w.hasM {
		m = 2
	}
	if _, err := w.tx.ExecContext(w.ctx, "UPDATE gpkg_geometry_columns SET z = max(z, ?), m = max(m, ?) WHERE lower(table_name) = lower(?)", z, m, w.table); err != nil {
		return err
	}
	var minx, miny, maxx, maxy any
	if lo, hi, ok := w.env.MinMaxXYs(); ok {
		minx, miny, maxx, maxy = lo.X, lo.Y, hi.X, hi.Y
	}
	if _, err := w.tx.ExecContext(w.ctx, "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, last_change = ? WHERE lower(table_name) = lower(?)",
		minx, miny, maxx, maxy, now(), w.table); err != nil {
		return err
	}
	if w.existing {
		return nil
	}
	for _, t := range rtreeTriggers(w.table, w.geomCol) {
		if _, err := w.tx.ExecContext(w.ctx, t); err != nil {
			return fmt.Errorf("spatial index trigger: %v", err)
		}
	}
	_, err := w.tx.ExecContext(w.ctx, `INSERT OR REPLACE INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')`, w.table, w.geomCol)
	return err
}

func (w *Writer) closeStmts() {
	if w.insert != nil {
		w.insert.Close()
		w.insert = nil
	}
}

// Abort rolls back and closes the file, which stays as it was.
func (w *Writer) Abort() {
	w.closeStmts()
	if w.tx != nil {
		w.tx.Rollback()
		w.tx = nil
	}
	if w.db != nil {
		w.db.Close()
		w.db = nil
	}
}

// widenToGeometry changes the geometry column of the table this writer
// created to the GEOMETRY type when a feature of another type arrives.
func (w *Writer) widenToGeometry() error {
	w.declared = "GEOMETRY"
	return w.rebuildTable()
}

// rebuildTable gives the table this writer created the geometry type and
// column types the writer now holds. SQLite cannot change a column's
// type, so the table is copied (fids kept, so the spatial index stays
// right), inside the writer's transaction; SQLite's type affinity converts
// the values copied (integers to reals, numbers to text).
func (w *Writer) rebuildTable() error {
	if err := w.flushRows(); err != nil {
		return err
	}
	w.closeStmts()
	tmp := w.table + "_geoetl_widen"
	cols := []string{"fid", quoteIdent(w.geomCol)}
	var b strings.Builder
	b.WriteString("CREATE TABLE " + quoteIdent(tmp) + " (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, " + quoteIdent(w.geomCol) + " " + w.declared)
	for _, c := range w.cols {
		b.WriteString(", " + quoteIdent(c.name) + " " + c.typ)
		cols = append(cols, quoteIdent(c.name))
	}
	b.WriteString(")")
	list := strings.Join(cols, ", ")
	for _, q := range []string{
		b.String(),
		"INSERT INTO " + quoteIdent(tmp) + " (" + list + ") SELECT " + list + " FROM " + quoteIdent(w.table),
		"DROP TABLE " + quoteIdent(w.table),
		"ALTER TABLE " + quoteIdent(tmp) + " RENAME TO " + quoteIdent(w.table),
	} {
		if _, err := w.tx.ExecContext(w.ctx, q); err != nil {
			return fmt.Errorf("widening the table's column types: %v", err)
		}
	}
	if _, err := w.tx.ExecContext(w.ctx, "UPDATE gpkg_geometry_columns SET geometry_type_name = ? WHERE lower(table_name) = lower(?)", w.declared, w.table); err != nil {
		return err
	}
	return w.prepare()
}
