package etl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
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
	var geomOID uint32
	if err := tx.QueryRow(ctx, "SELECT 'geometry'::regtype::oid").Scan(&geomOID); err != nil {
		return fmt.Errorf("PostGIS is not installed in this database: %v", err)
	}
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
			if fd.DataTypeOID == geomOID {
				geomCol = fd.Name
				break
			}
		}
		rows.Close()
		if geomCol == "" {
			return errors.New("the rows have no geometry column")
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
			if fds[i].Name == geomCol || fds[i].DataTypeOID == geomOID {
				continue
			}
			f.Props = append(f.Props, Property{Key: fds[i].Name, Value: pgToValue(vals[i])})
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

// pgToValue converts what pgx returns into attribute values.
func pgToValue(v any) any {
	switch x := v.(type) {
	case map[string]any, []any:
		return normalizeNested(x)
	case [16]byte: // uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	}
	switch x := normalizeValue(v).(type) {
	case nil, bool, int64, float64, string:
		return x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

func (e *Engine) postgisSink() *NodeType {
	return &NodeType{
		Type: "data_sink.postgis", Category: "sink", MinInputs: 1, MaxInputs: -1,
		Description: "Writes features to a PostGIS table through a named connection, in one transaction. mode insert: the table must exist; append: created when missing; replace: dropped and created anew. New attributes become new columns.",
		Parameters: []ParamSpec{
			{Name: "connection", Type: "string", Required: true, Description: "Connection name from GEOETL_CONNECTION_<NAME>."},
			{Name: "table", Type: "string", Required: true, Description: "Table or schema.table."},
			{Name: "geometry_column", Type: "string", Default: "geom", Description: "Geometry column."},
			{Name: "srid", Type: "integer", Description: "SRID of the table; features in another CRS are reprojected to it. Default: the features' CRS."},
			{Name: "mode", Type: "string", Default: "append", Enum: []string{"insert", "append", "replace"}, Description: "What to do with the table."},
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
		},
		build: func(p params) (nodeFunc, error) {
			return func(ctx context.Context, nc *nodeCtx) error { return e.writePostGIS(ctx, nc, p) }, nil
		},
	}
}

type pgColumn struct {
	key, name, typ string
}

func pgType(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int64:
		return "bigint"
	case float64:
		return "double precision"
	case map[string]any, []any:
		return "jsonb"
	}
	return "text"
}

// pgParam converts an attribute value for a column of the given type.
func pgParam(v any, typ string) any {
	if v == nil {
		return nil
	}
	switch typ {
	case "text", "character varying", "character":
		switch x := v.(type) {
		case string:
			return x
		case map[string]any, []any:
			b, _ := json.Marshal(x)
			return string(b)
		}
		return formatValue(v)
	case "jsonb", "json":
		b, _ := json.Marshal(v)
		return string(b)
	}
	switch x := v.(type) {
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return v
}

func (e *Engine) writePostGIS(ctx context.Context, nc *nodeCtx, p params) error {
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

	w := &pgWriter{tx: tx, table: table, geomCol: geomCol, mode: mode, srid: int(p.integer("srid")), cols: map[string]*pgColumn{}}
	if err := nc.eachBatchAll(ctx, func(b []Feature) error { return w.write(ctx, b) }); err != nil {
		return err
	}
	if !w.ready {
		if err := w.setup(ctx, nil); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	nc.count(int(w.count))
	return nil
}

type pgWriter struct {
	tx      pgx.Tx
	table   pgx.Identifier
	geomCol string
	mode    string
	srid    int
	ready   bool
	cols    map[string]*pgColumn // by lower-cased name
	byKey   map[string]*pgColumn
	order   []*pgColumn
	tr      map[int]*crs.Transformer
	count   int64
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
		// The SRID is a validated integer; type modifiers cannot be bind
		// parameters.
		ddl := "CREATE TABLE " + w.table.Sanitize() + " (id bigserial PRIMARY KEY, " +
			pgx.Identifier{w.geomCol}.Sanitize() + " geometry(Geometry," + strconv.Itoa(w.srid) + "))"
		if _, err := w.tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("creating table: %v", err)
		}
		idx := pgx.Identifier{w.table[len(w.table)-1] + "_" + w.geomCol + "_gix"}.Sanitize()
		if _, err := w.tx.Exec(ctx, "CREATE INDEX "+idx+" ON "+w.table.Sanitize()+" USING gist ("+pgx.Identifier{w.geomCol}.Sanitize()+")"); err != nil {
			return fmt.Errorf("creating spatial index: %v", err)
		}
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
		var c pgColumn
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			rows.Close()
			return err
		}
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

// column returns the column for an attribute key, adding it when the
// table lacks it.
func (w *pgWriter) column(ctx context.Context, key string, v any) (*pgColumn, error) {
	if c, ok := w.byKey[key]; ok {
		return c, nil
	}
	c, ok := w.cols[strings.ToLower(key)]
	if !ok {
		if strings.EqualFold(key, "id") {
			return nil, nil // the table's own key; the attribute is dropped
		}
		c = &pgColumn{key: key, name: key, typ: pgType(v)}
		if _, err := w.tx.Exec(ctx, "ALTER TABLE "+w.table.Sanitize()+" ADD COLUMN "+pgx.Identifier{key}.Sanitize()+" "+c.typ); err != nil {
			return nil, fmt.Errorf("adding column %q: %v", key, err)
		}
		w.cols[strings.ToLower(key)] = c
	}
	w.byKey[key] = c
	return c, nil
}

func (w *pgWriter) write(ctx context.Context, fs []Feature) error {
	if !w.ready {
		if err := w.setup(ctx, fs); err != nil {
			return err
		}
	}
	batch := &pgx.Batch{}
	for _, f := range fs {
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
				return err
			}
		}
		names := []string{pgx.Identifier{w.geomCol}.Sanitize()}
		args := []any{g.AsBinary()}
		ph := []string{"ST_SetSRID(ST_GeomFromWKB($1), " + strconv.Itoa(w.srid) + ")"}
		for _, kv := range f.Props {
			c, err := w.column(ctx, kv.Key, kv.Value)
			if err != nil {
				return err
			}
			if c == nil || strings.EqualFold(c.name, w.geomCol) {
				continue
			}
			names = append(names, pgx.Identifier{c.name}.Sanitize())
			args = append(args, pgParam(kv.Value, c.typ))
			ph = append(ph, "$"+strconv.Itoa(len(args)))
		}
		batch.Queue("INSERT INTO "+w.table.Sanitize()+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(ph, ", ")+")", args...)
	}
	br := w.tx.SendBatch(ctx, batch)
	for range fs {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("inserting: %v", err)
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	w.count += int64(len(fs))
	return nil
}
