package etl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// PostGIS nodes connect through connections named in configuration
// (GEOETL_CONNECTION_<NAME>), so workflows never hold credentials. Every
// value goes to the server as a bind parameter and every identifier is
// quoted with pgx.Identifier; the only SQL text a workflow supplies is the
// source's own query and filter, which run in a read-only transaction with
// their {{...}} templates bound as parameters.

func (e *Engine) connect(ctx context.Context, nc *nodeCtx, name string) (*pgx.Conn, error) {
	if !e.granted(nc.r.req.TenantName, name) {
		return nil, errors.New(notGranted(name))
	}
	u, ok := e.cfg.Connections[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("no connection named %q is configured (set GEOETL_CONNECTION_%s=postgres://...)", name, strings.ToUpper(name))
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// pgx errors can include the host but never the password.
		return nil, fmt.Errorf("connecting to %q: %v", name, err)
	}
	return conn, nil
}

// tableIdent parses "table" or "schema.table".
func tableIdent(s string) (pgx.Identifier, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsRune(s, 0) {
		return nil, errors.New("table name must not be empty")
	}
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("table %q: use table or schema.table", s)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("table %q: use table or schema.table", s)
		}
	}
	return pgx.Identifier(parts), nil
}

var placeholderRe = regexp.MustCompile(`\$(\d+)`)

// renumber shifts the $n placeholders of SQL text by offset.
func renumber(sql string, offset int) string {
	if offset == 0 {
		return sql
	}
	return placeholderRe.ReplaceAllStringFunc(sql, func(m string) string {
		n, _ := strconv.Atoi(m[1:])
		return "$" + strconv.Itoa(n+offset)
	})
}

func (e *Engine) postgisSource() *NodeType {
	return &NodeType{
		Type: "data_source.postgis", Category: "source", HasOutput: true,
		Description: "Reads features from PostgreSQL/PostGIS through a named connection, from a table or a query, in a read-only transaction. {{...}} templates in query and filter are sent as bind parameters: write them without quotes (kind = {{parameters.kind}}).",
		Parameters: []ParamSpec{
			{Name: "connection", Type: "string", Required: true, Description: "Connection name from GEOETL_CONNECTION_<NAME>."},
			{Name: "table", Type: "string", Description: "Table or schema.table."},
			{Name: "query", Type: "sql", Description: "SELECT statement (instead of table)."},
			{Name: "filter", Type: "sql", Description: "SQL condition applied to the rows."},
			{Name: "geometry_column", Type: "string", Description: "Geometry column; default: the first geometry column."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("table") && p.has("query") {
				add("query", "give table or query, not both")
			}
			if p.has("table") {
				if _, err := tableIdent(p.str("table")); err != nil {
					add("table", "%v", err)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			if !p.has("table") && !p.has("query") {
				return nil, errors.New("one of table and query is required")
			}
			return func(ctx context.Context, nc *nodeCtx) error { return e.readPostGIS(ctx, nc, p) }, nil
		},
	}
}

func (e *Engine) readPostGIS(ctx context.Context, nc *nodeCtx, p params) error {
	conn, err := e.connect(ctx, nc, p.str("connection"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var geomOID, geogOID uint32
	if err := tx.QueryRow(ctx, "SELECT 'geometry'::regtype::oid, coalesce(to_regtype('geography')::oid, 0)").Scan(&geomOID, &geogOID); err != nil {
		return fmt.Errorf("PostGIS is not installed in this database: %v", err)
	}
	isGeom := func(oid uint32) bool { return oid == geomOID || (geogOID != 0 && oid == geogOID) }
	var base string
	var args []any
	if p.has("table") {
		id, _ := tableIdent(p.str("table"))
		base = "SELECT * FROM " + id.Sanitize()
	} else {
		q := p["query"].(sqlText)
		base = strings.TrimRight(strings.TrimSpace(q.SQL), ";")
		args = append(args, q.Args...)
	}
	from := "(" + base + ") AS geoetl_src"
	baseArgs := len(args)
	where := ""
	if p.has("filter") {
		f := p["filter"].(sqlText)
		where = " WHERE (" + renumber(f.SQL, len(args)) + ")"
		args = append(args, f.Args...)
	}
	geomCol := p.str("geometry_column")
	if geomCol == "" {
		rows, err := tx.Query(ctx, "SELECT * FROM "+from+" LIMIT 0", args[:baseArgs]...)
		if err != nil {
			return fmt.Errorf("query: %v", err)
		}
		for _, fd := range rows.FieldDescriptions() {
			if isGeom(fd.DataTypeOID) {
				geomCol = fd.Name
				break
			}
		}
		rows.Close()
		if geomCol == "" {
			return errors.New("the rows have no geometry or geography column")
		}
	}
	gc := pgx.Identifier{"geoetl_src", geomCol}.Sanitize()
	sql := "SELECT ST_AsBinary(" + gc + ") AS geoetl_wkb, ST_SRID(" + gc + ") AS geoetl_srid, geoetl_src.* FROM " + from + where
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("query: %v", err)
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	warned := false
	n := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		n++
		f := Feature{Props: make(Properties, 0, len(vals))}
		if b, ok := vals[0].([]byte); ok && len(b) > 0 {
			if f.Geometry, err = geom.UnmarshalWKB(b, geom.NoValidate{}); err != nil {
				return fmt.Errorf("row %d: %v", n, err)
			}
		}
		srid := 0
		if s, ok := vals[1].(int32); ok {
			srid = int(s)
		}
		if srid == 0 {
			srid = 4326
			if !warned {
				nc.log("warn", "geometries without an SRID are taken as EPSG:4326")
				warned = true
			}
		}
		f.CRS = srid
		for i := 2; i < len(vals); i++ {
			if fds[i].Name == geomCol || isGeom(fds[i].DataTypeOID) {
				continue
			}
			f.Props = append(f.Props, Property{Key: fds[i].Name, Value: pgToValue(vals[i], fds[i].DataTypeOID)})
		}
		if err := nc.emit(ctx, f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %v", err)
	}
	return nil
}

// pgToValue converts what pgx returns for a column of type oid into
// attribute values: bytea stays binary, numeric is a real (as GDAL reads
// it), a date is YYYY-MM-DD, a time HH:MM:SS[.ffffff] and an interval an
// ISO 8601 duration (P1Y2M3DT4H5M6.5S), which PostgreSQL reads back.
func pgToValue(v any, oid uint32) any {
	switch x := v.(type) {
	case map[string]any, []any:
		return normalizeNested(x)
	case [16]byte: // uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case pgtype.Interval:
		if !x.Valid {
			return nil
		}
		return isoDuration(x)
	case pgtype.Numeric:
		if !x.Valid || x.NaN {
			return nil
		}
		f, err := x.Float64Value()
		if err != nil || !f.Valid {
			return nil
		}
		return f.Float64
	case pgtype.Time:
		if !x.Valid {
			return nil
		}
		us := x.Microseconds
		s := fmt.Sprintf("%02d:%02d:%02d", us/3600e6, us/60e6%60, us/1e6%60)
		if frac := us % 1e6; frac != 0 {
			s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		return s
	case time.Time:
		switch oid {
		case pgtype.DateOID:
			return x.Format(time.DateOnly)
		case pgtype.TimestampOID: // without time zone: no zone is made up
			return x.Format("2006-01-02T15:04:05.999999999")
		}
	}
	switch x := feature.Normalize(v).(type) {
	case nil, bool, int64, float64, string, []byte:
		return x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

// isoDuration writes an interval as an ISO 8601 duration. PostgreSQL
// keeps months, days and microseconds apart (a month is not 30 days), and
// so does the duration; a negative part gets its own sign, as PostgreSQL
// writes and reads it.
func isoDuration(iv pgtype.Interval) string {
	var b strings.Builder
	b.WriteByte('P')
	if y, m := iv.Months/12, iv.Months%12; y != 0 || m != 0 {
		if y != 0 {
			fmt.Fprintf(&b, "%dY", y)
		}
		if m != 0 {
			fmt.Fprintf(&b, "%dM", m)
		}
	}
	if iv.Days != 0 {
		fmt.Fprintf(&b, "%dD", iv.Days)
	}
	if us := iv.Microseconds; us != 0 {
		b.WriteByte('T')
		neg := us < 0
		if neg {
			us = -us
		}
		sign := ""
		if neg {
			sign = "-"
		}
		if h := us / 3600e6; h != 0 {
			fmt.Fprintf(&b, "%s%dH", sign, h)
		}
		if m := us / 60e6 % 60; m != 0 {
			fmt.Fprintf(&b, "%s%dM", sign, m)
		}
		if sec, frac := us/1e6%60, us%1e6; sec != 0 || frac != 0 {
			fmt.Fprintf(&b, "%s%d", sign, sec)
			if frac != 0 {
				b.WriteString(strings.TrimRight(fmt.Sprintf(".%06d", frac), "0"))
			}
			b.WriteByte('S')
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}

func (e *Engine) postgisSink() *NodeType {
	return &NodeType{
		Type: "data_sink.postgis", Category: "sink", MinInputs: 1, MaxInputs: -1,
		Description: "Writes features to a PostGIS table through a named connection, in one transaction. mode insert: the table must exist; append: created when missing; replace: dropped and created anew. A table created here has the key column fid (an id attribute is an ordinary column) and a geometry column declared with its type, Z/M and SRID (geometry(PointZ,4326)); column types hold every value written (see schema). New attributes become new columns; a value an existing column cannot hold fails the run.",
		Parameters: []ParamSpec{
			{Name: "connection", Type: "string", Required: true, Description: "Connection name from GEOETL_CONNECTION_<NAME>."},
			{Name: "table", Type: "string", Required: true, Description: "Table or schema.table."},
			{Name: "geometry_column", Type: "string", Default: "geom", Description: "Geometry column."},
			{Name: "srid", Type: "integer", Description: "SRID of the table; features in another CRS are reprojected to it. Default: the features' CRS."},
			{Name: "mode", Type: "string", Default: "append", Enum: []string{"insert", "append", "replace"}, Description: "What to do with the table."},
			schemaParam,
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("table") {
				if _, err := tableIdent(p.str("table")); err != nil {
					add("table", "%v", err)
				}
			}
			if p.has("srid") {
				if _, err := crs.Lookup(int(p.integer("srid"))); err != nil {
					add("srid", "%v", err)
				}
			}
			checkSchemaParam(p, add)
		},
		build: func(p params) (nodeFunc, error) {
			schema, err := parseSchemaParam(p["schema"])
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, nc *nodeCtx) error { return e.writePostGIS(ctx, nc, p, schema) }, nil
		},
	}
}

// pgColumn is one attribute column of the sink's table. ft is the field
// type its values have needed so far ("" while all were null); a column
// the schema declares or the table already had is fixed: values must fit
// it.
type pgColumn struct {
	key, name, typ string
	ft             FieldType
	fixed          bool
}

// pgColumnType is the PostgreSQL type of a field type; a column that has
// held only nulls is text.
func pgColumnType(t FieldType) string {
	switch t {
	case FieldInteger:
		return "bigint"
	case FieldReal:
		return "double precision"
	case FieldBoolean:
		return "boolean"
	case FieldDate:
		return "date"
	case FieldDateTime:
		return "timestamp with time zone"
	case FieldJSON:
		return "jsonb"
	case FieldBinary:
		return "bytea"
	}
	return "text"
}

// pgFieldType reads the field type of an existing column from its
// information_schema data_type; "" for types values are passed to as they
// are (uuid, arrays, ...), where PostgreSQL itself checks them.
func pgFieldType(dataType string) FieldType {
	switch dataType {
	case "smallint", "integer", "bigint":
		return FieldInteger
	case "real", "double precision", "numeric":
		return FieldReal
	case "text", "character varying", "character":
		return FieldText
	case "boolean":
		return FieldBoolean
	case "date":
		return FieldDate
	case "timestamp with time zone", "timestamp without time zone":
		return FieldDateTime
	case "json", "jsonb":
		return FieldJSON
	case "bytea":
		return FieldBinary
	}
	return ""
}

// pgParam converts an attribute value, already of the column's field
// type, into what pgx sends for the column.
func pgParam(v any, t FieldType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case FieldText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return feature.BinaryText(x), nil
		}
		return feature.FormatValue(v), nil
	case FieldJSON:
		b, err := json.Marshal(v)
		return string(b), err
	case FieldDate:
		return time.Parse(time.DateOnly, v.(string))
	case FieldDateTime:
		return feature.ParseDateTime(v.(string))
	case FieldReal:
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, nil
		}
	}
	switch x := v.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(x)
		return string(b), err
	}
	return v, nil
}

func (e *Engine) writePostGIS(ctx context.Context, nc *nodeCtx, p params, schema []Field) error {
	conn, err := e.connect(ctx, nc, p.str("connection"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	table, _ := tableIdent(p.str("table"))
	geomCol := p.str("geometry_column")
	if geomCol == "" {
		geomCol = "geom"
	}
	mode := p.str("mode")
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	w := &pgWriter{tx: tx, table: table, geomCol: geomCol, mode: mode, srid: int(p.integer("srid")), schema: schema, cols: map[string]*pgColumn{}, nc: nc}
	if err := nc.eachBatchAll(ctx, func(b []Feature) error { return w.write(ctx, b) }); err != nil {
		return err
	}
	if !w.ready {
		if err := w.setup(ctx, nil); err != nil {
			return err
		}
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	nc.count(int(w.count))
	return nil
}

// pgKeyColumn is the key column of the tables the sink creates, as GDAL's
// GeoPackage driver names it; attributes (an "id" among them) never go
// into it.
const pgKeyColumn = "fid"

type pgWriter struct {
	tx      pgx.Tx
	nc      *nodeCtx
	table   pgx.Identifier
	geomCol string
	mode    string
	srid    int
	schema  []Field
	ready   bool
	created bool                 // the table was created by this run
	cols    map[string]*pgColumn // by lower-cased name
	byKey   map[string]*pgColumn
	tr      map[int]*crs.Transformer
	count   int64

	// The declared geometry column type of a created table: its type
	// name ("" until a geometry is seen, "Geometry" when they differ),
	// and Z and M; mixedDims when geometries with different dimensions
	// came, so that no typmod can hold them all.
	gtype      string
	z, m       bool
	dimsKnown  bool
	mixedDims  bool
	batch      *pgx.Batch
	batchFirst int64 // number of the first feature in batch
}

func (w *pgWriter) existing(ctx context.Context) (bool, error) {
	var reg *string
	if err := w.tx.QueryRow(ctx, "SELECT to_regclass($1)::text", w.table.Sanitize()).Scan(&reg); err != nil {
		return false, err
	}
	return reg != nil, nil
}

func (w *pgWriter) setup(ctx context.Context, first []Feature) error {
	w.ready = true
	w.byKey = map[string]*pgColumn{}
	w.tr = map[int]*crs.Transformer{}
	if w.srid == 0 {
		w.srid = 4326
		if len(first) > 0 {
			w.srid = first[0].CRS
		}
	}
	exists, err := w.existing(ctx)
	if err != nil {
		return err
	}
	switch {
	case w.mode == "insert" && !exists:
		return fmt.Errorf("table %s does not exist (mode insert); use mode append or replace to create it", w.table.Sanitize())
	case w.mode == "replace" && exists:
		if _, err := w.tx.Exec(ctx, "DROP TABLE "+w.table.Sanitize()); err != nil {
			return err
		}
		exists = false
	}
	if !exists {
		return w.create(ctx, first)
	}
	schema := "current_schema()"
	args := []any{w.table[len(w.table)-1]}
	if len(w.table) == 2 {
		schema = "$2"
		args = append(args, w.table[0])
	}
	rows, err := w.tx.Query(ctx, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 AND table_schema = "+schema, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		c := pgColumn{fixed: true}
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			rows.Close()
			return err
		}
		c.ft = pgFieldType(c.typ)
		w.cols[strings.ToLower(c.name)] = &c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, ok := w.cols[strings.ToLower(w.geomCol)]; !ok {
		return fmt.Errorf("table %s has no column %q", w.table.Sanitize(), w.geomCol)
	}
	return nil
}

// create makes the table with the columns the schema declares and those
// of the first batch, typed by all of the batch's values, and the
// geometry column typed by the batch's geometries.
func (w *pgWriter) create(ctx context.Context, first []Feature) error {
	w.created = true
	for _, f := range first {
		w.noteGeometry(f.Geometry)
	}
	var defs []string
	add := func(key string, ft FieldType, fixed bool) {
		name := key
		for i := 1; strings.EqualFold(name, pgKeyColumn) || strings.EqualFold(name, w.geomCol) || w.cols[strings.ToLower(name)] != nil; i++ {
			name = fmt.Sprintf("%s_%d", key, i)
		}
		c := &pgColumn{key: key, name: name, typ: pgColumnType(ft), ft: ft, fixed: fixed}
		w.cols[strings.ToLower(name)] = c
		w.byKey[key] = c
		defs = append(defs, pgx.Identifier{name}.Sanitize()+" "+c.typ)
	}
	for _, fd := range w.schema {
		add(fd.Name, fd.Type, true)
	}
	var sb SchemaBuilder
	for _, f := range first {
		sb.Add(f.Props)
	}
	for _, fd := range sb.Fields() {
		if _, ok := w.byKey[fd.Name]; !ok {
			t, _ := sb.Type(fd.Name)
			add(fd.Name, t, false)
		}
	}
	// The SRID is a validated integer; type modifiers cannot be bind
	// parameters.
	ddl := "CREATE TABLE " + w.table.Sanitize() + " (" + pgKeyColumn + " bigserial PRIMARY KEY, " +
		pgx.Identifier{w.geomCol}.Sanitize() + " " + w.geomType()
	for _, d := range defs {
		ddl += ", " + d
	}
	ddl += ")"
	if _, err := w.tx.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("creating table: %v", err)
	}
	if w.mixedDims {
		if err := w.checkSRID(ctx); err != nil {
			return err
		}
	}
	idx := pgx.Identifier{w.table[len(w.table)-1] + "_" + w.geomCol + "_gix"}.Sanitize()
	if _, err := w.tx.Exec(ctx, "CREATE INDEX "+idx+" ON "+w.table.Sanitize()+" USING gist ("+pgx.Identifier{w.geomCol}.Sanitize()+")"); err != nil {
		return fmt.Errorf("creating spatial index: %v", err)
	}
	w.cols[strings.ToLower(w.geomCol)] = &pgColumn{name: w.geomCol, typ: "USER-DEFINED", fixed: true}
	w.cols[pgKeyColumn] = &pgColumn{name: pgKeyColumn, typ: "bigint", fixed: true}
	return nil
}

// noteGeometry widens the geometry column's declared type for g and
// reports whether it changed.
func (w *pgWriter) noteGeometry(g geom.Geometry) bool {
	if feature.IsNullGeometry(g) {
		return false
	}
	changed := false
	name := pgGeometryName(g.Type())
	switch w.gtype {
	case "":
		w.gtype, changed = name, true
	case name, "Geometry":
	default:
		w.gtype, changed = "Geometry", true
	}
	ct := g.CoordinatesType()
	switch {
	case !w.dimsKnown:
		w.z, w.m, w.dimsKnown = ct.Is3D(), ct.IsMeasured(), true
	case !w.mixedDims && (w.z != ct.Is3D() || w.m != ct.IsMeasured()):
		w.mixedDims, changed = true, true
	}
	return changed
}

func pgGeometryName(t geom.GeometryType) string {
	switch t {
	case geom.TypePoint:
		return "Point"
	case geom.TypeLineString:
		return "LineString"
	case geom.TypePolygon:
		return "Polygon"
	case geom.TypeMultiPoint:
		return "MultiPoint"
	case geom.TypeMultiLineString:
		return "MultiLineString"
	case geom.TypeMultiPolygon:
		return "MultiPolygon"
	}
	return "GeometryCollection"
}

// geomType is the declared type of the geometry column: geometry(PointZ,
// 25832) and the like. Geometries of different dimensions (2D and 3D, say)
// fit no typmod; the column is then plain geometry, with its SRID
// enforced by a check constraint (which PostGIS's geometry_columns reads).
func (w *pgWriter) geomType() string {
	if w.mixedDims {
		return "geometry"
	}
	t := w.gtype
	if t == "" {
		t = "Geometry"
	}
	if w.z {
		t += "Z"
	}
	if w.m {
		t += "M"
	}
	return "geometry(" + t + "," + strconv.Itoa(w.srid) + ")"
}

func (w *pgWriter) checkSRID(ctx context.Context) error {
	gc := pgx.Identifier{w.geomCol}.Sanitize()
	cn := pgx.Identifier{"enforce_srid_" + w.geomCol}.Sanitize()
	_, err := w.tx.Exec(ctx, "ALTER TABLE "+w.table.Sanitize()+" ADD CONSTRAINT "+cn+" CHECK (ST_SRID("+gc+") = "+strconv.Itoa(w.srid)+")")
	return err
}

// widenGeometry changes the created table's geometry column type after a
// geometry the declared type cannot hold.
func (w *pgWriter) widenGeometry(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	gc := pgx.Identifier{w.geomCol}.Sanitize()
	if _, err := w.tx.Exec(ctx, "ALTER TABLE "+w.table.Sanitize()+" ALTER COLUMN "+gc+" TYPE "+w.geomType()); err != nil {
		return fmt.Errorf("widening the geometry column to %s: %v", w.geomType(), err)
	}
	if err := w.forgetStatements(ctx); err != nil {
		return err
	}
	if w.mixedDims {
		return w.checkSRID(ctx)
	}
	return nil
}

// column returns the column for an attribute key, adding it when the
// table lacks it.
func (w *pgWriter) column(ctx context.Context, key string, v any) (*pgColumn, error) {
	if c, ok := w.byKey[key]; ok {
		return c, nil
	}
	c, ok := w.cols[strings.ToLower(key)]
	if ok && (w.created || strings.EqualFold(c.name, w.geomCol)) {
		ok = false // the key or geometry column, never an attribute's
	}
	if !ok {
		if err := w.flush(ctx); err != nil {
			return nil, err
		}
		name := key
		for i := 1; w.cols[strings.ToLower(name)] != nil; i++ {
			name = fmt.Sprintf("%s_%d", key, i)
		}
		t, _ := feature.TypeOf(v)
		c = &pgColumn{key: key, name: name, typ: pgColumnType(t), ft: t}
		if _, err := w.tx.Exec(ctx, "ALTER TABLE "+w.table.Sanitize()+" ADD COLUMN "+pgx.Identifier{name}.Sanitize()+" "+c.typ); err != nil {
			return nil, fmt.Errorf("adding column %q: %v", name, err)
		}
		w.cols[strings.ToLower(name)] = c
	}
	w.byKey[key] = c
	return c, nil
}

// value converts an attribute value for its column, widening a column the
// sink created when the value needs it (integer to double precision,
// mixed to text); a fixed column is never changed.
func (w *pgWriter) value(ctx context.Context, key string, c *pgColumn, v any) (any, error) {
	if c.fixed {
		if c.ft == "" {
			return pgParam(v, c.ft)
		}
		cv, err := feature.Coerce(v, c.ft)
		if err != nil {
			where := fmt.Sprintf("the existing table %s; change the column's type or cast the attribute", w.table.Sanitize())
			if w.created {
				where = "the sink's schema"
			}
			return nil, fmt.Errorf("attribute %q: %v in column %q, which is %s in %s", key, err, c.name, c.typ, where)
		}
		return pgParam(cv, c.ft)
	}
	if vt, ok := feature.TypeOf(v); ok && vt != c.ft {
		if nt := feature.Widen(c.ft, vt); nt != c.ft {
			if err := w.flush(ctx); err != nil {
				return nil, err
			}
			typ := pgColumnType(nt)
			col := pgx.Identifier{c.name}.Sanitize()
			if _, err := w.tx.Exec(ctx, "ALTER TABLE "+w.table.Sanitize()+" ALTER COLUMN "+col+" TYPE "+typ+" USING "+col+"::"+typ); err != nil {
				return nil, fmt.Errorf("widening column %q to %s: %v", c.name, typ, err)
			}
			if err := w.forgetStatements(ctx); err != nil {
				return nil, err
			}
			c.ft, c.typ = nt, typ
		}
	}
	if c.ft == "" { // a column that only held nulls so far
		return pgParam(v, FieldText)
	}
	cv, err := feature.Coerce(v, c.ft)
	if err != nil {
		return nil, fmt.Errorf("attribute %q: %v", key, err)
	}
	return pgParam(cv, c.ft)
}

func (w *pgWriter) write(ctx context.Context, fs []Feature) error {
	if !w.ready {
		if err := w.setup(ctx, fs); err != nil {
			return err
		}
	}
	for _, f := range fs {
		n := w.count + 1
		g := f.Geometry
		if f.CRS != w.srid {
			t := w.tr[f.CRS]
			if t == nil {
				var err error
				if t, err = crs.NewTransformer(f.CRS, w.srid); err != nil {
					return err
				}
				w.tr[f.CRS] = t
			}
			var err error
			if g, err = transformGeometry(g, t); err != nil {
				return fmt.Errorf("feature %d%s: %v", n, feature.IDSuffix(f), err)
			}
		}
		if w.created && w.noteGeometry(g) {
			if err := w.widenGeometry(ctx); err != nil {
				return featureErr(n, f, err)
			}
		}
		names := []string{pgx.Identifier{w.geomCol}.Sanitize()}
		var args []any
		ph := []string{"NULL"}
		// A feature without geometry (GeoJSON null) is stored as NULL.
		if !feature.IsNullGeometry(g) {
			args = append(args, g.AsBinary())
			ph[0] = "ST_SetSRID(ST_GeomFromWKB($1), " + strconv.Itoa(w.srid) + ")"
		}
		for _, kv := range f.Props {
			c, err := w.column(ctx, kv.Key, kv.Value)
			if err != nil {
				return featureErr(n, f, err)
			}
			v, err := w.value(ctx, kv.Key, c, kv.Value)
			if err != nil {
				return featureErr(n, f, err)
			}
			names = append(names, pgx.Identifier{c.name}.Sanitize())
			args = append(args, v)
			ph = append(ph, "$"+strconv.Itoa(len(args)))
		}
		if w.batch == nil {
			w.batch, w.batchFirst = &pgx.Batch{}, n
		}
		w.batch.Queue("INSERT INTO "+w.table.Sanitize()+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(ph, ", ")+")", args...)
		w.count++
	}
	return w.flush(ctx)
}

// forgetStatements drops the prepared inserts after a column changed
// type: pgx keeps each statement's parameter types, and would encode the
// next values for the old ones.
func (w *pgWriter) forgetStatements(ctx context.Context) error {
	return w.tx.Conn().DeallocateAll(ctx)
}

// pgInsertError is a failed insert; it already names its feature.
type pgInsertError struct{ error }

// featureErr names the feature in err unless err already does.
func featureErr(n int64, f Feature, err error) error {
	var ie pgInsertError
	if errors.As(err, &ie) {
		return err
	}
	return fmt.Errorf("feature %d%s: %v", n, feature.IDSuffix(f), err)
}

// flush sends the queued inserts.
func (w *pgWriter) flush(ctx context.Context) error {
	if w.batch == nil {
		return nil
	}
	b, first := w.batch, w.batchFirst
	w.batch = nil
	br := w.tx.SendBatch(ctx, b)
	for i := 0; i < b.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return pgInsertError{fmt.Errorf("feature %d: inserting: %v", first+int64(i), err)}
		}
	}
	return br.Close()
}
