package etl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
	"github.com/geoetl/geoetl/etl/gpkg"
)

func sinkType(t *NodeType) *NodeType {
	t.Category, t.MinInputs, t.MaxInputs, t.HasOutput = "sink", 1, -1, false
	t.InputNotes = "One or more inputs; with several, their features interleave."
	return t
}

func (e *Engine) geojsonSink() *NodeType {
	return sinkType(&NodeType{
		Type:        "data_sink.geojson",
		Description: "Writes a GeoJSON FeatureCollection to the data folder, replacing the file when the run succeeds. Coordinates other than EPSG:4326 are written with the legacy crs member, as GDAL does.",
		Parameters: []ParamSpec{
			{Name: "output_path", Type: "string", Required: true, Description: "Path relative to the data folder."},
			{Name: "pretty", Type: "boolean", Default: false, Description: "Indent the output."},
			schemaParam,
		},
		check: func(p params, add func(string, string, ...any)) {
			checkPathParam(p, "output_path", add)
			checkSchemaParam(p, add)
		},
		build: func(p params) (nodeFunc, error) {
			schema, err := parseSchemaParam(p["schema"])
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, nc *nodeCtx) error {
				return writeGeoJSON(ctx, nc, p.str("output_path"), p.boolean("pretty"), schema)
			}, nil
		},
	})
}

func writeGeoJSON(ctx context.Context, nc *nodeCtx, path string, pretty bool, schema []Field) error {
	gw := geojsonWriter{pretty: pretty, schema: schema}
	err := nc.r.writeOutput([]string{path}, func(files []*atomicFile) error {
		gw.w = files[0].buffered()
		if err := nc.eachBatchAll(ctx, gw.writeBatch); err != nil {
			return err
		}
		return gw.close()
	})
	if err != nil {
		return err
	}
	nc.count(gw.n)
	nc.log("info", "wrote %d features to %s", gw.n, path)
	return nil
}

// geojsonWriter writes a FeatureCollection in the CRS of its first
// feature (named in a crs member unless EPSG:4326).
type geojsonWriter struct {
	w        *bufio.Writer
	pretty   bool
	schema   []Field
	code, n  int
	buf, ind []byte
}

func (g *geojsonWriter) header(c int) error {
	g.w.WriteString(`{"type":"FeatureCollection",`)
	if c != 4326 {
		urn, err := crs.URN(c)
		if err != nil {
			return err
		}
		fmt.Fprintf(g.w, `"crs":{"type":"name","properties":{"name":"%s"}},`, urn)
	}
	g.w.WriteString(`"features":[`)
	return nil
}

func (g *geojsonWriter) writeBatch(b []Feature) error {
	for i := range b {
		if err := g.write(&b[i]); err != nil {
			return err
		}
	}
	return nil
}

func (g *geojsonWriter) write(f *Feature) error {
	if g.n == 0 {
		g.code = f.CRS
		if err := g.header(g.code); err != nil {
			return err
		}
	} else if f.CRS != g.code {
		return fmt.Errorf("feature %d is in EPSG:%d, earlier ones in EPSG:%d; add geoprocessing.reproject before the sink", g.n+1, f.CRS, g.code)
	}
	if len(g.schema) > 0 {
		cf, err := coerceFeature(*f, g.schema)
		if err != nil {
			return fmt.Errorf("feature %d%s: %v", g.n+1, feature.IDSuffix(*f), err)
		}
		f = &cf
	}
	var err error
	if g.buf, err = appendGeoJSONFeature(g.buf[:0], f); err != nil {
		return fmt.Errorf("feature %d: %v", g.n+1, err)
	}
	if g.n > 0 {
		g.w.WriteByte(',')
	}
	g.w.WriteByte('\n')
	if g.pretty {
		var out bytes.Buffer
		if err := json.Indent(&out, g.buf, "  ", "  "); err != nil {
			return err
		}
		g.w.WriteString("  ")
		g.ind = out.Bytes()
		g.w.Write(g.ind)
	} else {
		g.w.Write(g.buf)
	}
	g.n++
	return nil
}

// close ends the collection (an empty one has no crs member).
func (g *geojsonWriter) close() error {
	if g.n == 0 {
		_ = g.header(4326) // no crs member, so no error
	}
	g.w.WriteString("\n]}\n")
	return nil
}

func appendGeoJSONFeature(dst []byte, f *Feature) ([]byte, error) {
	dst = append(dst, `{"type":"Feature",`...)
	if f.ID != nil {
		dst = append(dst, `"id":`...)
		var err error
		if dst, err = feature.AppendValue(dst, f.ID); err != nil {
			return nil, err
		}
		dst = append(dst, ',')
	}
	dst = append(dst, `"properties":`...)
	var err error
	if dst, err = feature.AppendProperties(dst, f.Props); err != nil {
		return nil, err
	}
	dst = append(dst, `,"geometry":`...)
	if f.Geometry.IsEmpty() && f.Geometry.IsGeometryCollection() {
		dst = append(dst, "null"...)
	} else {
		gj, err := f.Geometry.MarshalJSON()
		if err != nil {
			return nil, err
		}
		dst = append(dst, gj...)
	}
	return append(dst, '}'), nil
}

func (e *Engine) geopackageSink() *NodeType {
	return sinkType(&NodeType{
		Type:        "data_sink.geopackage",
		Description: "Writes a feature table into a GeoPackage 1.3 in the data folder (created when missing), with an R-tree spatial index, in one transaction. mode replace rebuilds the table; append adds to it (new attributes become new columns). Column types hold every value written (see schema); appending a value an existing column cannot hold fails the run.",
		Parameters: []ParamSpec{
			{Name: "output_path", Type: "string", Required: true, Description: "Path relative to the data folder."},
			{Name: "table_name", Type: "string", Required: true, Description: "Table (layer) name."},
			{Name: "mode", Type: "string", Default: "replace", Enum: []string{"replace", "append"}, Description: "Replace the table or append to it."},
			schemaParam,
		},
		check: func(p params, add func(string, string, ...any)) {
			checkPathParam(p, "output_path", add)
			checkSchemaParam(p, add)
			if p.has("table_name") {
				if err := gpkg.CheckTableName(p.str("table_name")); err != nil {
					add("table_name", "%v", err)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			schema, err := parseSchemaParam(p["schema"])
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, nc *nodeCtx) error {
				return writeGeoPackage(ctx, nc, p.str("output_path"), p.str("table_name"), p.str("mode"), schema)
			}, nil
		},
	})
}

// writeGeoPackage writes the node's input into a table of a copy of the
// GeoPackage (see atomicFile.forSQLite) and renames the copy over it once
// the table's transaction has committed.
func writeGeoPackage(ctx context.Context, nc *nodeCtx, relPath, table, mode string, schema []Field) error {
	if err := gpkg.CheckTableName(table); err != nil {
		return fmt.Errorf("table_name %q %v", table, err)
	}
	var count int64
	err := nc.r.writeOutput([]string{relPath}, func(files []*atomicFile) error {
		path, err := files[0].forSQLite()
		if err != nil {
			return err
		}
		db, err := gpkg.Open(path, false)
		if err != nil {
			return fmt.Errorf("opening GeoPackage %q: %v", relPath, err)
		}
		w, err := gpkg.NewWriter(ctx, db, table, mode, schema)
		if err != nil {
			return fmt.Errorf("GeoPackage %q: %v", relPath, err)
		}
		if err := nc.eachBatchAll(ctx, w.Write); err != nil {
			w.Abort()
			return err
		}
		if err := w.Commit(); err != nil {
			return fmt.Errorf("GeoPackage %q: %v", relPath, err)
		}
		count = w.Count()
		return nil
	})
	if err != nil {
		return err
	}
	nc.count(int(count))
	nc.log("info", "wrote %d features to table %q of %s", count, table, relPath)
	return nil
}

func (e *Engine) csvSink() *NodeType {
	return sinkType(&NodeType{
		Type:        "data_sink.csv_geometry",
		Description: "Writes a CSV file to the data folder with the geometry as WKT (column wkt) or, for points, as two columns (lon and lat in geographic CRSs, x and y otherwise), and beside it a .csvt file giving GDAL each column's type. The columns come from all features (or the schema parameter); a feature without an attribute leaves its cell empty.",
		Parameters: []ParamSpec{
			{Name: "output_path", Type: "string", Required: true, Description: "Path relative to the data folder."},
			{Name: "geometry_format", Type: "string", Default: "wkt", Enum: []string{"wkt", "latlon"}, Description: "How to write the geometry."},
			{Name: "delimiter", Type: "string", Default: ",", Description: "One character; \\t for tab."},
			schemaParam,
		},
		check: func(p params, add func(string, string, ...any)) {
			checkPathParam(p, "output_path", add)
			checkSchemaParam(p, add)
			if p.has("delimiter") {
				if _, err := csvDelimiter(p.str("delimiter")); err != nil {
					add("delimiter", "%v", err)
				}
			}
		},
		build: func(p params) (nodeFunc, error) {
			delim, err := csvDelimiter(p.str("delimiter"))
			if err != nil {
				return nil, err
			}
			schema, err := parseSchemaParam(p["schema"])
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, nc *nodeCtx) error {
				return writeCSV(ctx, nc, p.str("output_path"), p.str("geometry_format") == "latlon", delim, schema)
			}, nil
		},
	})
}

// csvtTypes are the column types GDAL's CSV driver reads from a .csvt
// file; without them it would guess, and read the text "0049" as 49.
var csvtTypes = map[FieldType]string{
	FieldInteger: "Integer64", FieldReal: "Real", FieldText: "String", FieldBoolean: "Integer(Boolean)",
	FieldDate: "Date", FieldDateTime: "DateTime", FieldJSON: "String", FieldBinary: "String",
}

// writeCSV spools every feature first: the header must name every
// attribute, and one seen only in the last feature is still data.
func writeCSV(ctx context.Context, nc *nodeCtx, path string, latlon bool, delim rune, declared []Field) error {
	c, err := collectForSink(ctx, nc, declared)
	if err != nil {
		return err
	}
	defer c.sp.close()
	// The types are renamed into place first, so that a reader never pairs
	// the new CSV with the old types.
	typesPath := strings.TrimSuffix(path, pathExt(path)) + ".csvt"
	err = nc.r.writeOutput([]string{typesPath, path}, func(files []*atomicFile) error {
		return writeCSVFiles(c, files[1].buffered(), files[0], latlon, delim)
	})
	if err != nil {
		return err
	}
	nc.count(c.n)
	nc.log("info", "wrote %d features to %s", c.n, path)
	return nil
}

// writeCSVFiles writes the collected features as CSV to bw and their
// column types, as GDAL reads them from a .csvt, to typesOut.
func writeCSVFiles(c *collectedFeatures, bw *bufio.Writer, typesOut io.Writer, latlon bool, delim rune) error {
	cw := csv.NewWriter(bw)
	cw.Comma = delim
	head, types := []string{"wkt"}, []string{"WKT"}
	if latlon {
		head, types = []string{"lon", "lat"}, []string{"Real", "Real"}
		if cr, err := crs.Lookup(c.crs); c.n > 0 && err == nil && !cr.Geographic() {
			head = []string{"x", "y"}
		}
	}
	geomCols := len(head)
	for _, fd := range c.fields {
		for _, h := range head[:geomCols] {
			if strings.EqualFold(fd.Name, h) {
				return fmt.Errorf("attribute %q has the name of the geometry column %s; rename it with attributes.rename", fd.Name, h)
			}
		}
		head = append(head, fd.Name)
		types = append(types, csvtTypes[fd.Type])
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	var rec []string
	err := c.replayWidened(func(n int, f *Feature) error {
		rec = rec[:0]
		if latlon {
			pt, isPt := f.Geometry.AsPoint()
			if !isPt {
				return fmt.Errorf("a %s; geometry_format latlon needs points (use wkt or geoprocessing.centroid)", f.Geometry.Type())
			}
			if xy, ok := pt.XY(); ok {
				rec = append(rec, strconv.FormatFloat(xy.X, 'f', -1, 64), strconv.FormatFloat(xy.Y, 'f', -1, 64))
			} else {
				rec = append(rec, "", "")
			}
		} else {
			rec = append(rec, f.Geometry.AsText())
		}
		for _, fd := range c.fields {
			v, _ := f.Props.Get(fd.Name)
			rec = append(rec, csvCell(v))
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	tw := csv.NewWriter(typesOut)
	tw.Comma = delim
	if err := tw.Write(types); err != nil {
		return err
	}
	if tw.Flush(); tw.Error() != nil {
		return tw.Error()
	}
	return nil
}

func pathExt(p string) string {
	for i := len(p) - 1; i >= 0 && p[i] != '/'; i-- {
		if p[i] == '.' {
			return p[i:]
		}
	}
	return ""
}

// csvCell writes a value as GDAL's CSV driver reads it back: reals keep a
// decimal point (1.0, not 1) so that a column of whole reals is not taken
// for integers when GDAL guesses types without the .csvt.
func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return feature.FormatValue(x)
		}
		return string(feature.AppendReal(nil, x))
	}
	return feature.FormatValue(v)
}

func (e *Engine) waitNode() *NodeType {
	return &NodeType{
		Type: "control.wait", Category: "control", MinInputs: 0, MaxInputs: -1, HasOutput: true,
		InputNotes:  "Optional inputs are passed on unchanged after the wait.",
		Description: "Waits the given number of seconds (and stops at once when the run is cancelled), then passes on the features of its inputs.",
		Parameters: []ParamSpec{
			{Name: "seconds", Type: "number", Required: true, Description: "Seconds to wait (at most a day)."},
		},
		check: func(p params, add func(string, string, ...any)) {
			if p.has("seconds") && (p.num("seconds") < 0 || p.num("seconds") > 86400) {
				add("seconds", "must be between 0 and 86400")
			}
		},
		build: func(p params) (nodeFunc, error) {
			d := time.Duration(p.num("seconds") * float64(time.Second))
			return func(ctx context.Context, nc *nodeCtx) error {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
					return ctx.Err()
				}
				return nc.eachBatchAll(ctx, func(b []Feature) error {
					for _, f := range b {
						if err := nc.emit(ctx, f); err != nil {
							return err
						}
					}
					return nil
				})
			}, nil
		},
	}
}
