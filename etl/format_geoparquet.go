package etl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// GeoParquet 1.0 through parquet-go (pure Go): one WKB geometry column
// described by the file's "geo" key-value metadata.

type geoMetadata struct {
	Version       string                       `json:"version"`
	PrimaryColumn string                       `json:"primary_column"`
	Columns       map[string]geoColumnMetadata `json:"columns"`
}

type geoColumnMetadata struct {
	Encoding      string          `json:"encoding"`
	GeometryTypes []string        `json:"geometry_types"`
	CRS           json.RawMessage `json:"crs,omitempty"`
	BBox          []float64       `json:"bbox,omitempty"`
}

// geoParquetCRS reads a GeoParquet crs member: absent means OGC:CRS84
// (lon/lat on WGS 84, EPSG:4326 in the engine's axis order); null means
// unknown, which is refused; a PROJJSON object needs an EPSG id.
func geoParquetCRS(raw json.RawMessage) (int, error) {
	if len(raw) == 0 {
		return 4326, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("crs is not JSON")
	}
	switch x := v.(type) {
	case nil:
		return 0, errors.New("the geometry column's crs is null (unknown)")
	case string:
		if c, err := crs.Parse(x); err == nil {
			if _, err := crs.Lookup(c); err != nil {
				return 0, err
			}
			return c, nil
		}
		return crsFromWKT(x)
	case map[string]any:
		if id, ok := x["id"].(map[string]any); ok {
			auth, _ := id["authority"].(string)
			var code int
			switch c := id["code"].(type) {
			case float64:
				code = int(c)
			case string:
				code, _ = strconv.Atoi(c)
			}
			switch {
			case auth == "OGC" && fmt.Sprint(id["code"]) == "CRS84":
				return 4326, nil
			case equalFoldASCII(auth, "EPSG") && code > 0:
				if _, err := crs.Lookup(code); err != nil {
					return 0, err
				}
				return code, nil
			}
		}
		if name, _ := x["name"].(string); name != "" {
			if code, ok := esriNames[name]; ok {
				return code, nil
			}
			return 0, fmt.Errorf("PROJJSON CRS %q has no EPSG id this engine knows", name)
		}
	}
	return 0, errors.New("the crs member is not a PROJJSON object with an EPSG id")
}

func readGeoParquet(ctx context.Context, ra io.ReaderAt, size int64, name string, override int, emit func(Feature) error) (err error) {
	// parquet-go trusts parts of the file it reads; a corrupt file must
	// fail the node, not the process.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s is not a readable Parquet file (%v)", name, r)
		}
	}()
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return fmt.Errorf("%s is not a readable Parquet file: %v", name, err)
	}
	raw, ok := f.Lookup("geo")
	if !ok {
		return fmt.Errorf("%s has no GeoParquet \"geo\" metadata", name)
	}
	var meta geoMetadata
	if err := json.Unmarshal([]byte(raw), &meta); err != nil {
		return fmt.Errorf("%s: the \"geo\" metadata is not valid JSON: %v", name, err)
	}
	gc, ok := meta.Columns[meta.PrimaryColumn]
	if !ok {
		return fmt.Errorf("%s: the primary geometry column %q is not described", name, meta.PrimaryColumn)
	}
	if gc.Encoding != "WKB" {
		return fmt.Errorf("%s: geometry encoding %q is not supported (only WKB)", name, gc.Encoding)
	}
	code := override
	if code == 0 {
		if code, err = geoParquetCRS(gc.CRS); err != nil {
			return fmt.Errorf("%s: %v; give the source's crs parameter", name, err)
		}
	}
	schema := f.Schema()
	cols := schema.Columns()
	type colInfo struct {
		name    string
		logical *format.LogicalType
		kind    parquet.Kind
		geom    bool
		skip    bool
	}
	infos := make([]colInfo, len(cols))
	for i, path := range cols {
		leaf, _ := schema.Lookup(path...)
		if len(path) != 1 || leaf.MaxRepetitionLevel > 0 {
			return fmt.Errorf("%s: nested column %v is not supported", name, path)
		}
		infos[i] = colInfo{name: path[0], logical: leaf.Node.Type().LogicalType(), kind: leaf.Node.Type().Kind(), geom: path[0] == meta.PrimaryColumn}
		if _, other := meta.Columns[path[0]]; other && !infos[i].geom {
			infos[i].skip = true
		}
	}
	n := 0
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 256)
		for {
			k, err := rows.ReadRows(buf)
			for _, row := range buf[:k] {
				n++
				feat := Feature{CRS: code, Props: make(Properties, 0, len(cols))}
				for _, v := range row {
					ci := v.Column()
					if ci < 0 || ci >= len(infos) {
						continue
					}
					in := &infos[ci]
					if in.skip {
						continue
					}
					if in.geom {
						if v.IsNull() {
							continue
						}
						g, err := geom.UnmarshalWKB(v.ByteArray(), geom.NoValidate{})
						if err != nil {
							rows.Close()
							return fmt.Errorf("%s: row %d: geometry: %v", name, n, err)
						}
						feat.Geometry = g
						continue
					}
					val, err := parquetValue(v, in.kind, in.logical)
					if err != nil {
						rows.Close()
						return fmt.Errorf("%s: row %d: column %q: %v", name, n, in.name, err)
					}
					feat.Props = append(feat.Props, Property{Key: in.name, Value: val})
				}
				if err := emit(feat); err != nil {
					rows.Close()
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("%s: %v", name, err)
			}
			if ctx.Err() != nil {
				rows.Close()
				return ctx.Err()
			}
		}
		rows.Close()
	}
	return nil
}

func parquetValue(v parquet.Value, kind parquet.Kind, lt *format.LogicalType) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	var logical any
	if lt != nil {
		logical = lt.Value
	}
	switch l := logical.(type) {
	case *format.DateType:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02"), nil
	case *format.TimestampType:
		var t time.Time
		switch l.Unit.Value.(type) {
		case *format.MilliSeconds:
			t = time.UnixMilli(v.Int64())
		case *format.MicroSeconds:
			t = time.UnixMicro(v.Int64())
		default:
			t = time.Unix(0, v.Int64())
		}
		t = t.UTC()
		if l.IsAdjustedToUTC {
			return t.Format(time.RFC3339Nano), nil
		}
		return t.Format("2006-01-02T15:04:05.999999999"), nil
	case *format.StringType, *format.EnumType:
		return string(v.ByteArray()), nil
	case *format.JsonType:
		var j any
		if err := unmarshalJSON(v.ByteArray(), &j); err != nil {
			return nil, errors.New("is not valid JSON")
		}
		return normalizeNested(j), nil
	case *format.DecimalType:
		var unscaled *big.Int
		switch kind {
		case parquet.Int32:
			unscaled = big.NewInt(int64(v.Int32()))
		case parquet.Int64:
			unscaled = big.NewInt(v.Int64())
		default:
			unscaled = new(big.Int).SetBytes(v.ByteArray())
			if b := v.ByteArray(); len(b) > 0 && b[0]&0x80 != 0 {
				unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		f, err := strconv.ParseFloat(unscaled.String()+"e-"+strconv.Itoa(int(l.Scale)), 64)
		if err != nil {
			return nil, err
		}
		return f, nil
	case *format.IntType:
		if !l.IsSigned && l.BitWidth == 64 && v.Int64() < 0 {
			return nil, fmt.Errorf("%d does not fit a 64-bit signed integer", uint64(v.Int64()))
		}
		if !l.IsSigned && l.BitWidth == 32 {
			return int64(uint32(v.Int32())), nil
		}
	}
	switch kind {
	case parquet.Boolean:
		return v.Boolean(), nil
	case parquet.Int32:
		return int64(v.Int32()), nil
	case parquet.Int64:
		return v.Int64(), nil
	case parquet.Float:
		return float64(v.Float()), nil
	case parquet.Double:
		return v.Double(), nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return append([]byte(nil), v.ByteArray()...), nil
	}
	return nil, fmt.Errorf("Parquet type %s is not supported", kind)
}

// ---- writing ----

func parquetNode(t FieldType) parquet.Node {
	switch t {
	case FieldInteger:
		return parquet.Int(64)
	case FieldReal:
		return parquet.Leaf(parquet.DoubleType)
	case FieldBoolean:
		return parquet.Leaf(parquet.BooleanType)
	case FieldDate:
		return parquet.Date()
	case FieldJSON:
		return parquet.JSON()
	case FieldBinary:
		return parquet.Leaf(parquet.ByteArrayType)
	}
	// datetime values are kept as the text they came with: a timestamp
	// column would force one time zone choice on values that may have none.
	return parquet.String()
}

// geoParquetWriter writes rows whose values already have the fields' types.
type geoParquetWriter struct {
	w       *parquet.Writer
	fields  []Field
	colIdx  []int
	geomIdx int
	row     parquet.Row
	rows    []parquet.Row
	jsonBuf []byte
}

const geoParquetGeometryColumn = "geometry"

func newGeoParquetWriter(out io.Writer, fields []Field, geoMeta []byte) (*geoParquetWriter, error) {
	group := parquet.Group{geoParquetGeometryColumn: parquet.Optional(parquet.Leaf(parquet.ByteArrayType))}
	for _, f := range fields {
		if f.Name == geoParquetGeometryColumn {
			return nil, fmt.Errorf("attribute %q clashes with the geometry column; rename it with attributes.rename", f.Name)
		}
		group[f.Name] = parquet.Optional(parquetNode(f.Type))
	}
	schema := parquet.NewSchema("geoetl", group)
	gw := &geoParquetWriter{fields: fields, colIdx: make([]int, len(fields))}
	for i, f := range fields {
		leaf, _ := schema.Lookup(f.Name)
		gw.colIdx[i] = leaf.ColumnIndex
	}
	leaf, _ := schema.Lookup(geoParquetGeometryColumn)
	gw.geomIdx = leaf.ColumnIndex
	gw.w = parquet.NewWriter(out, schema, parquet.KeyValueMetadata("geo", string(geoMeta)),
		parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(65536), parquet.CreatedBy("geoetl", "", ""))
	return gw, nil
}

func (gw *geoParquetWriter) write(f *Feature) error {
	row := make(parquet.Row, len(gw.fields)+1)
	for i, fd := range gw.fields {
		v, _ := f.Props.Get(fd.Name)
		ci := gw.colIdx[i]
		if v == nil {
			row[ci] = parquet.Value{}.Level(0, 0, ci)
			continue
		}
		var pv parquet.Value
		switch fd.Type {
		case FieldInteger:
			pv = parquet.Int64Value(v.(int64))
		case FieldReal:
			x := v.(float64)
			if math.IsNaN(x) || math.IsInf(x, 0) {
				row[ci] = parquet.Value{}.Level(0, 0, ci)
				continue
			}
			pv = parquet.DoubleValue(x)
		case FieldBoolean:
			pv = parquet.BooleanValue(v.(bool))
		case FieldDate:
			d, err := time.Parse("2006-01-02", v.(string))
			if err != nil {
				return fmt.Errorf("attribute %q: %v", fd.Name, err)
			}
			pv = parquet.Int32Value(int32(d.Unix() / 86400))
		case FieldBinary:
			pv = parquet.ByteArrayValue(v.([]byte))
		case FieldJSON:
			j, err := feature.AppendValue(nil, v)
			if err != nil {
				return fmt.Errorf("attribute %q: %v", fd.Name, err)
			}
			pv = parquet.ByteArrayValue(j)
		default:
			pv = parquet.ByteArrayValue([]byte(textOf(v)))
		}
		row[ci] = pv.Level(0, 1, ci)
	}
	if f.Geometry.IsEmpty() && f.Geometry.IsGeometryCollection() {
		row[gw.geomIdx] = parquet.Value{}.Level(0, 0, gw.geomIdx)
	} else {
		row[gw.geomIdx] = parquet.ByteArrayValue(f.Geometry.AsBinary()).Level(0, 1, gw.geomIdx)
	}
	gw.rows = append(gw.rows, row)
	if len(gw.rows) >= 1024 {
		return gw.flush()
	}
	return nil
}

func (gw *geoParquetWriter) flush() error {
	if len(gw.rows) == 0 {
		return nil
	}
	_, err := gw.w.WriteRows(gw.rows)
	gw.rows = gw.rows[:0]
	return err
}

func (gw *geoParquetWriter) close() error {
	if err := gw.flush(); err != nil {
		return err
	}
	return gw.w.Close()
}

// geoParquetMetadata builds the "geo" metadata of GeoParquet 1.0.0.
func geoParquetMetadata(types map[string]bool, bbox *[4]float64, code int) ([]byte, error) {
	gt := make([]string, 0, len(types))
	for t := range types {
		gt = append(gt, t)
	}
	sort.Strings(gt)
	col := geoColumnMetadata{Encoding: "WKB", GeometryTypes: gt}
	if bbox != nil {
		col.BBox = bbox[:]
	}
	if code != 0 && code != 4326 {
		pj, err := projJSON(code)
		if err != nil {
			return nil, err
		}
		col.CRS = pj
	}
	return json.Marshal(geoMetadata{Version: "1.0.0", PrimaryColumn: geoParquetGeometryColumn,
		Columns: map[string]geoColumnMetadata{geoParquetGeometryColumn: col}})
}

// geoParquetGeometryType is the GeoParquet geometry_types spelling of a geometry.
func geoParquetGeometryType(g geom.Geometry) string {
	n := g.Type().String()
	if g.CoordinatesType().Is3D() {
		n += " Z"
	}
	return n
}
