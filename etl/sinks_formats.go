package etl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
	"github.com/geoetl/geoetl/etl/internal/hilbert"
)

// collectedFeatures is a sink's whole input, held in a spool, with what
// the writers must know before their first byte: the schema over all
// features, the CRS, geometry types and dimensions, the extent and the
// widest text of each field.
type collectedFeatures struct {
	sp        *spool
	fields    []Field
	n         int
	crs       int
	types     map[geom.GeometryType]bool
	cts       map[geom.CoordinatesType]bool
	env       geom.Envelope
	hasEnv    bool
	widths    map[string]int
	firstType map[geom.GeometryType]int // feature number of the first of each type
	wkbTypes  map[string]bool           // GeoParquet spellings ("Point Z")
	empties   int                       // features without a geometry
}

// collectForSink reads every input feature into a spool. Attributes the
// declared schema names are converted to their types (failing loudly,
// naming the feature); the others get the narrowest type holding all of
// their values.
func collectForSink(ctx context.Context, nc *nodeCtx, declared []Field) (*collectedFeatures, error) {
	c := &collectedFeatures{sp: newSpool(), types: map[geom.GeometryType]bool{}, cts: map[geom.CoordinatesType]bool{},
		widths: map[string]int{}, firstType: map[geom.GeometryType]int{}, wkbTypes: map[string]bool{}}
	var sb SchemaBuilder
	err := nc.eachBatchAll(ctx, func(b []Feature) error {
		out := b
		if declared != nil {
			out = make([]Feature, len(b))
		}
		for i := range b {
			f := b[i]
			c.n++
			if c.n == 1 {
				c.crs = f.CRS
			} else if f.CRS != c.crs {
				return fmt.Errorf("feature %d%s is in %s, earlier ones in %s; add geoprocessing.reproject before the sink", c.n, feature.IDSuffix(f), crsName(f.CRS), crsName(c.crs))
			}
			if declared != nil {
				var err error
				if f, err = coerceFeature(f, declared); err != nil {
					return fmt.Errorf("feature %d%s: %v", c.n, feature.IDSuffix(f), err)
				}
				out[i] = f
			}
			sb.Add(f.Props)
			for _, kv := range f.Props {
				if w := valueWidth(kv.Value); w > c.widths[kv.Key] {
					c.widths[kv.Key] = w
				}
			}
			if f.Geometry.IsEmpty() {
				c.empties++
			} else {
				t := f.Geometry.Type()
				if !c.types[t] {
					c.types[t] = true
					c.firstType[t] = c.n
				}
				c.cts[f.Geometry.CoordinatesType()] = true
				c.wkbTypes[geoParquetGeometryType(f.Geometry)] = true
				env := f.Geometry.Envelope()
				if c.hasEnv {
					c.env = c.env.ExpandToIncludeEnvelope(env)
				} else {
					c.env, c.hasEnv = env, true
				}
			}
		}
		return c.sp.add(out)
	})
	if err != nil {
		c.sp.close()
		return nil, err
	}
	c.fields = sb.Fields()
	for _, d := range declared {
		found := false
		for i := range c.fields {
			if c.fields[i].Name == d.Name {
				c.fields[i].Type, found = d.Type, true
			}
		}
		if !found {
			c.fields = append(c.fields, d)
		}
	}
	return c, nil
}

// widen converts each value to its field's derived type (integers in a
// real field become reals; mixed fields become text).
func (c *collectedFeatures) widen(f *Feature) error {
	if len(f.Props) == len(c.fields) {
		same := true
		for i, kv := range f.Props {
			t, ok := feature.TypeOf(kv.Value)
			if kv.Key != c.fields[i].Name || (ok && t != c.fields[i].Type) {
				same = false
				break
			}
		}
		if same {
			return nil // already in the schema's order and types
		}
	}
	props := make(Properties, 0, len(c.fields))
	for _, fd := range c.fields {
		v, _ := f.Props.Get(fd.Name)
		cv, err := feature.Coerce(v, fd.Type)
		if err != nil {
			return fmt.Errorf("attribute %q: %v", fd.Name, err)
		}
		props = append(props, Property{Key: fd.Name, Value: cv})
	}
	f.Props = props
	return nil
}

func valueWidth(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return len(x)
	case int64:
		return len(strconv.FormatInt(x, 10))
	case []byte:
		return len(x)
	case float64:
		var buf [32]byte
		return len(strconv.AppendFloat(buf[:0], x, 'f', -1, 64))
	case bool:
		return 5
	}
	return len(feature.FormatValue(v))
}

func crsName(code int) string {
	if c, err := crs.Lookup(code); err == nil {
		return c.String()
	}
	return "EPSG:" + strconv.Itoa(code)
}

func (c *collectedFeatures) envelope() *[4]float64 {
	if !c.hasEnv {
		return nil
	}
	lo, _ := c.env.Min().XY()
	hi, _ := c.env.Max().XY()
	return &[4]float64{lo.X, lo.Y, hi.X, hi.Y}
}

// oneDimension returns the single coordinate dimension of the data, or
// an error naming the mix.
func (c *collectedFeatures) oneDimension(format string) (geom.CoordinatesType, error) {
	if len(c.cts) > 1 {
		var names []string
		for ct := range c.cts {
			names = append(names, dimName(ct))
		}
		sort.Strings(names)
		return 0, fmt.Errorf("the features mix %s coordinates; %s holds one kind per file (use a separate sink per kind)", strings.Join(names, " and "), format)
	}
	for ct := range c.cts {
		return ct, nil
	}
	return geom.DimXY, nil
}

func schemaFromParams(p params) ([]Field, error) {
	if !p.has("schema") {
		return nil, nil
	}
	return parseSchemaParam(p["schema"])
}

func fileSinkType(typ, desc string, build func(p params, declared []Field) nodeFunc) *NodeType {
	return sinkType(&NodeType{
		Type:        typ,
		Description: desc,
		Parameters: []ParamSpec{
			{Name: "output_path", Type: "string", Required: true, Description: "Path relative to the data folder."},
			schemaParam,
		},
		check: func(p params, add func(string, string, ...any)) {
			checkPathParam(p, "output_path", add)
			checkSchemaParam(p, add)
		},
		build: func(p params) (nodeFunc, error) {
			declared, err := schemaFromParams(p)
			if err != nil {
				return nil, err
			}
			return build(p, declared), nil
		},
	})
}

func (e *Engine) shapefileSink() *NodeType {
	return fileSinkType("data_sink.shapefile",
		"Writes an ESRI Shapefile (.shp, .shx, .dbf, .prj, .cpg; text in UTF-8) to the data folder, replacing it when the run succeeds. Shapefile limits fail loudly or are reported: one geometry kind per file (points, lines, polygons or multipoints), field names cut to 10 characters as GDAL does (listed in the log), text up to 254 bytes, no binary fields. DBF field types follow the schema.",
		func(p params, declared []Field) nodeFunc {
			return func(ctx context.Context, nc *nodeCtx) error {
				return writeShapefile(ctx, nc, p.str("output_path"), declared)
			}
		})
}

func (e *Engine) flatgeobufSink() *NodeType {
	return fileSinkType("data_sink.flatgeobuf",
		"Writes a FlatGeobuf file (version 3) with its packed Hilbert R-tree spatial index (features in the index's order; without an index when some feature has no geometry) to the data folder, replacing it when the run succeeds, with the CRS (EPSG code and WKT) in its header.",
		func(p params, declared []Field) nodeFunc {
			return func(ctx context.Context, nc *nodeCtx) error {
				return writeFlatGeobuf(ctx, nc, p.str("output_path"), declared)
			}
		})
}

func (e *Engine) geoparquetSink() *NodeType {
	return fileSinkType("data_sink.geoparquet",
		"Writes GeoParquet 1.0 (WKB geometry column \"geometry\", Snappy compression, row groups of 65,536) to the data folder, replacing it when the run succeeds. The geo metadata gives the geometry types, the bounding box and the CRS (omitted for EPSG:4326 longitude/latitude, which is GeoParquet's default).",
		func(p params, declared []Field) nodeFunc {
			return func(ctx context.Context, nc *nodeCtx) error {
				return writeGeoParquetSink(ctx, nc, p.str("output_path"), declared)
			}
		})
}

// replayWidened replays the collected features with their values in the
// schema's types.
func (c *collectedFeatures) replayWidened(fn func(n int, f *Feature) error) error {
	n := 0
	return c.sp.replay(func(b []Feature) error {
		for i := range b {
			n++
			f := b[i]
			if err := c.widen(&f); err != nil {
				return fmt.Errorf("feature %d%s: %v", n, feature.IDSuffix(f), err)
			}
			if err := fn(n, &f); err != nil {
				return fmt.Errorf("feature %d%s: %v", n, feature.IDSuffix(f), err)
			}
		}
		return nil
	})
}

func writeShapefile(ctx context.Context, nc *nodeCtx, out string, declared []Field) error {
	ext := path.Ext(out)
	if !strings.EqualFold(ext, ".shp") {
		return fmt.Errorf("output_path %q must end in .shp", out)
	}
	c, err := collectForSink(ctx, nc, declared)
	if err != nil {
		return err
	}
	defer c.sp.close()
	family := 0
	var firstName string
	for t, n := range c.firstType {
		fam, err := shpTypeOf(geomOfType(t))
		if err != nil {
			return fmt.Errorf("feature %d: %v", n, err)
		}
		if family == 0 {
			family, firstName = fam, t.String()
		} else if fam != family {
			return fmt.Errorf("the features mix %s (e.g. feature %d) and %s; a shapefile holds one geometry kind: split them with geoprocessing.filter or write GeoPackage or FlatGeobuf", firstName, c.firstType[geomTypeByName(firstName)], t.String())
		}
	}
	if family == 0 {
		family = 1
	}
	ct, err := c.oneDimension("a shapefile")
	if err != nil {
		return err
	}
	cols, renames, err := dbfLayout(c.fields, c.widths)
	if err != nil {
		return err
	}
	if len(renames) > 0 {
		nc.log("warn", "field names cut to the 10 characters a shapefile allows: %s", strings.Join(renames, ", "))
	}
	// The .shp is renamed into place last, so a reader never finds a new
	// .shp beside old attribute files.
	base := strings.TrimSuffix(out, ext)
	err = nc.r.writeOutput([]string{base + ".shx", base + ".dbf", base + ".cpg", base + ".prj", base + ".shp"}, func(files []*atomicFile) error {
		return writeShapefileFiles(c, cols, family, ct, files[4], files[0], files[1], files[2], files[3])
	})
	if err != nil {
		return err
	}
	nc.count(c.n)
	nc.log("info", "wrote %d features to %s", c.n, out)
	return nil
}

// writeShapefileFiles writes the collected features into the files of a
// shapefile.
func writeShapefileFiles(c *collectedFeatures, cols []dbfColumn, family int, ct geom.CoordinatesType, shp, shx, dbf, cpg, prj *atomicFile) error {
	sw := newShpWriter(shp, shx, family, ct)
	dbfW := dbf.buffered()
	if err := writeDBFHeader(dbfW, cols, c.n); err != nil {
		return err
	}
	cells := make([]string, len(cols))
	var rec []byte
	err := c.replayWidened(func(_ int, f *Feature) error {
		if err := sw.write(f.Geometry); err != nil {
			return err
		}
		for i := range cols {
			v, _ := f.Props.Get(cols[i].src.Name)
			s, err := dbfCell(&cols[i], v)
			if err != nil {
				return fmt.Errorf("attribute %q: %v", cols[i].src.Name, err)
			}
			cells[i] = s
		}
		rec = appendDBFRecord(rec[:0], cols, cells)
		_, err := dbfW.Write(rec)
		return err
	})
	if err != nil {
		return err
	}
	dbfW.WriteByte(0x1A)
	if err := sw.finish(shp, shx); err != nil {
		return err
	}
	cpg.WriteString("UTF-8")
	if cr, err := crs.Lookup(c.crs); err == nil && c.n > 0 {
		prj.WriteString(cr.WKT)
	} else if c.n > 0 {
		return err
	} else {
		prj.WriteString(mustWKT(4326))
	}
	return nil
}

func mustWKT(code int) string {
	c, err := crs.Lookup(code)
	if err != nil {
		return ""
	}
	return c.WKT
}

func geomOfType(t geom.GeometryType) geom.Geometry {
	switch t {
	case geom.TypePoint:
		return geom.Point{}.AsGeometry()
	case geom.TypeLineString:
		return geom.LineString{}.AsGeometry()
	case geom.TypePolygon:
		return geom.Polygon{}.AsGeometry()
	case geom.TypeMultiPoint:
		return geom.MultiPoint{}.AsGeometry()
	case geom.TypeMultiLineString:
		return geom.MultiLineString{}.AsGeometry()
	case geom.TypeMultiPolygon:
		return geom.MultiPolygon{}.AsGeometry()
	}
	return geom.GeometryCollection{}.AsGeometry()
}

func geomTypeByName(n string) geom.GeometryType {
	for _, t := range []geom.GeometryType{geom.TypePoint, geom.TypeLineString, geom.TypePolygon, geom.TypeMultiPoint, geom.TypeMultiLineString, geom.TypeMultiPolygon, geom.TypeGeometryCollection} {
		if t.String() == n {
			return t
		}
	}
	return geom.TypeGeometryCollection
}

func writeFlatGeobuf(ctx context.Context, nc *nodeCtx, out string, declared []Field) error {
	c, err := collectForSink(ctx, nc, declared)
	if err != nil {
		return err
	}
	defer c.sp.close()
	ct, err := c.oneDimension("FlatGeobuf")
	if err != nil {
		return err
	}
	var gt byte
	if len(c.types) == 1 {
		for t := range c.types {
			gt = fgbGeomType(t)
		}
	}
	err = nc.r.writeOutput([]string{out}, func(files []*atomicFile) error {
		return writeFlatGeobufFile(nc, files[0], c, out, gt, ct)
	})
	if err != nil {
		return err
	}
	nc.count(c.n)
	nc.log("info", "wrote %d features to %s", c.n, out)
	return nil
}

// writeFlatGeobufFile writes the collected features to w, with a packed
// R-tree unless some feature has no geometry.
func writeFlatGeobufFile(nc *nodeCtx, w io.Writer, c *collectedFeatures, out string, gt byte, ct geom.CoordinatesType) error {
	code := c.crs
	if c.n == 0 {
		code = 4326
	}
	name := strings.TrimSuffix(path.Base(out), path.Ext(out))
	if c.n == 0 || c.empties > 0 {
		// The packed R-tree has no place for a feature without a box.
		if c.empties > 0 {
			nc.log("info", "%d features have no geometry; the FlatGeobuf is written without a spatial index", c.empties)
		}
		fw, err := newFGBWriter(w, name, c.fields, gt, ct, uint64(c.n), c.envelope(), code, 0)
		if err != nil {
			return err
		}
		if err := c.replayWidened(func(_ int, f *Feature) error { return fw.write(f) }); err != nil {
			return err
		}
		if err := fw.w.Flush(); err != nil {
			return err
		}
	} else if err := writeIndexedFGB(w, c, name, gt, ct, code); err != nil {
		return err
	}
	return nil
}

// writeIndexedFGB writes the features to a temporary file, sorts their
// boxes along a Hilbert curve, and writes the header, the packed R-tree
// and the features in that order, as GDAL does.
func writeIndexedFGB(out io.Writer, c *collectedFeatures, name string, gt byte, ct geom.CoordinatesType, code int) error {
	tmp, err := os.CreateTemp("", "geoetl-fgb-*")
	if err != nil {
		return err
	}
	os.Remove(tmp.Name())
	defer tmp.Close()
	enc := newFGBEncoder(tmp, c.fields, gt, ct)
	entries := make([]fgbEntry, 0, c.n)
	var off int64
	err = c.replayWidened(func(_ int, f *Feature) error {
		if err := enc.write(f); err != nil {
			return err
		}
		env := f.Geometry.Envelope()
		lo, _ := env.Min().XY()
		hi, _ := env.Max().XY()
		entries = append(entries, fgbEntry{lo.X, lo.Y, hi.X, hi.Y, off, enc.last})
		off += int64(enc.last)
		return nil
	})
	if err != nil {
		return err
	}
	if err := enc.w.Flush(); err != nil {
		return err
	}
	ext := c.envelope()
	w, h := ext[2]-ext[0], ext[3]-ext[1]
	keys := make([]uint64, len(entries))
	for i, e := range entries {
		keys[i] = hilbert.Index(((e.minx+e.maxx)/2-ext[0])/(w+1e-300), ((e.miny+e.maxy)/2-ext[1])/(h+1e-300))
	}
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return keys[order[a]] < keys[order[b]] })
	sorted := make([]fgbEntry, len(entries))
	for i, j := range order {
		sorted[i] = entries[j]
	}
	entries, keys, order = nil, nil, nil
	fw, err := newFGBWriter(out, name, c.fields, gt, ct, uint64(c.n), ext, code, fgbIndexNodeSize)
	if err != nil {
		return err
	}
	if err := fw.w.Flush(); err != nil {
		return err
	}
	if err := writeFGBIndex(out, sorted); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	var buf []byte
	for _, e := range sorted {
		if cap(buf) < e.size {
			buf = make([]byte, e.size)
		}
		buf = buf[:e.size]
		if _, err := tmp.ReadAt(buf, e.off); err != nil {
			return fmt.Errorf("reading back feature data: %v", err)
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeGeoParquetSink(ctx context.Context, nc *nodeCtx, out string, declared []Field) error {
	c, err := collectForSink(ctx, nc, declared)
	if err != nil {
		return err
	}
	defer c.sp.close()
	for ct := range c.cts {
		if ct.IsMeasured() {
			return fmt.Errorf("the features have M values, which GeoParquet 1.0 cannot hold")
		}
	}
	code := c.crs
	if c.n == 0 {
		code = 4326
	}
	meta, err := geoParquetMetadata(c.wkbTypes, c.envelope(), code)
	if err != nil {
		return err
	}
	err = nc.r.writeOutput([]string{out}, func(files []*atomicFile) error {
		gw, err := newGeoParquetWriter(files[0].buffered(), c.fields, meta)
		if err != nil {
			return err
		}
		if err := c.replayWidened(func(_ int, f *Feature) error { return gw.write(f) }); err != nil {
			return err
		}
		return gw.close()
	})
	if err != nil {
		return err
	}
	nc.count(c.n)
	nc.log("info", "wrote %d features to %s", c.n, out)
	return nil
}
