package etl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/geoetl/geoetl/etl/crs"
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
	af, err := nc.r.createData(path)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			af.abort()
		}
	}()
	w := bufio.NewWriterSize(af, 1<<20)
	code := 0
	n := 0
	var buf, ind []byte
	header := func(c int) error {
		w.WriteString(`{"type":"FeatureCollection",`)
		if c != 4326 {
			urn, err := crs.URN(c)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, `"crs":{"type":"name","properties":{"name":"%s"}},`, urn)
		}
		w.WriteString(`"features":[`)
		return nil
	}
	err = nc.eachBatchAll(ctx, func(b []Feature) error {
		for i := range b {
			f := &b[i]
			if n == 0 {
				code = f.CRS
				if err := header(code); err != nil {
					return err
				}
			} else if f.CRS != code {
				return fmt.Errorf("feature %d is in EPSG:%d, earlier ones in EPSG:%d; add geoprocessing.reproject before the sink", n+1, f.CRS, code)
			}
			if len(schema) > 0 {
				cf, err := coerceFeature(*f, schema)
				if err != nil {
					return fmt.Errorf("feature %d%s: %v", n+1, idSuffix(*f), err)
				}
				f = &cf
			}
			if buf, err = appendGeoJSONFeature(buf[:0], f); err != nil {
				return fmt.Errorf("feature %d: %v", n+1, err)
			}
			if n > 0 {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
			if pretty {
				var out bytes.Buffer
				if err := json.Indent(&out, buf, "  ", "  "); err != nil {
					return err
				}
				w.WriteString("  ")
				ind = out.Bytes()
				w.Write(ind)
			} else {
				w.Write(buf)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		_ = header(4326) // no crs member, so no error
	}
	w.WriteString("\n]}\n")
	if err := w.Flush(); err != nil {
		return err
	}
	if err := af.commit(); err != nil {
		return err
	}
	ok = true
	nc.count(n)
	nc.log("info", "wrote %d features to %s", n, path)
	return nil
}

func appendGeoJSONFeature(dst []byte, f *Feature) ([]byte, error) {
	dst = append(dst, `{"type":"Feature",`...)
	if f.ID != nil {
		dst = append(dst, `"id":`...)
		var err error
		if dst, err = appendValue(dst, f.ID); err != nil {
			return nil, err
		}
		dst = append(dst, ',')
	}
	dst = append(dst, `"properties":`...)
	var err error
	if dst, err = appendProperties(dst, f.Props); err != nil {
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
				if err := checkTableName(p.str("table_name")); err != nil {
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
				w, err := nc.r.newGPKGWriter(ctx, p.str("output_path"), p.str("table_name"), p.str("mode"), schema)
				if err != nil {
					return err
				}
				if err := nc.eachBatchAll(ctx, w.write); err != nil {
					w.abort()
					return err
				}
				if err := w.commit(); err != nil {
					return fmt.Errorf("GeoPackage %q: %v", p.str("output_path"), err)
				}
				nc.count(int(w.count))
				nc.log("info", "wrote %d features to table %q of %s", w.count, p.str("table_name"), p.str("output_path"))
				return nil
			}, nil
		},
	})
}

func (e *Engine) csvSink() *NodeType {
	return sinkType(&NodeType{
		Type:        "data_sink.csv_geometry",
		Description: "Writes a CSV file to the data folder with the geometry as WKT (column wkt) or, for points, as two columns (lon and lat in geographic CRSs, x and y otherwise). The columns come from the first features; attributes that appear only later are left out, with a warning.",
		Parameters: []ParamSpec{
			{Name: "output_path", Type: "string", Required: true, Description: "Path relative to the data folder."},
			{Name: "geometry_format", Type: "string", Default: "wkt", Enum: []string{"wkt", "latlon"}, Description: "How to write the geometry."},
			{Name: "delimiter", Type: "string", Default: ",", Description: "One character; \\t for tab."},
		},
		check: func(p params, add func(string, string, ...any)) {
			checkPathParam(p, "output_path", add)
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
			return func(ctx context.Context, nc *nodeCtx) error {
				return writeCSV(ctx, nc, p.str("output_path"), p.str("geometry_format") == "latlon", delim)
			}, nil
		},
	})
}

func writeCSV(ctx context.Context, nc *nodeCtx, path string, latlon bool, delim rune) error {
	af, err := nc.r.createData(path)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			af.abort()
		}
	}()
	bw := bufio.NewWriterSize(af, 1<<20)
	cw := csv.NewWriter(bw)
	cw.Comma = delim
	var cols []string
	colSet := map[string]bool{}
	dropped := map[string]bool{}
	n := 0
	var rec []string
	err = nc.eachBatchAll(ctx, func(b []Feature) error {
		if cols == nil {
			cols = []string{}
			for _, f := range b {
				for _, kv := range f.Props {
					if !colSet[kv.Key] {
						colSet[kv.Key] = true
						cols = append(cols, kv.Key)
					}
				}
			}
			head := []string{"wkt"}
			if latlon {
				head = []string{"lon", "lat"}
				if c, err := crs.Lookup(b[0].CRS); err == nil && !c.Geographic() {
					head = []string{"x", "y"}
				}
			}
			if err := cw.Write(append(head, cols...)); err != nil {
				return err
			}
		}
		for _, f := range b {
			n++
			rec = rec[:0]
			if latlon {
				pt, isPt := f.Geometry.AsPoint()
				xy, ok := pt.XY()
				if !isPt {
					return fmt.Errorf("feature %d is a %s; geometry_format latlon needs points (use wkt or geoprocessing.centroid)", n, f.Geometry.Type())
				}
				if ok {
					rec = append(rec, strconv.FormatFloat(xy.X, 'f', -1, 64), strconv.FormatFloat(xy.Y, 'f', -1, 64))
				} else {
					rec = append(rec, "", "")
				}
			} else {
				rec = append(rec, f.Geometry.AsText())
			}
			for _, c := range cols {
				v, _ := f.Props.Get(c)
				rec = append(rec, csvCell(v))
			}
			for _, kv := range f.Props {
				if !colSet[kv.Key] {
					dropped[kv.Key] = true
				}
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if cols == nil {
		head := []string{"wkt"}
		if latlon {
			head = []string{"lon", "lat"}
		}
		cw.Write(head)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := af.commit(); err != nil {
		return err
	}
	ok = true
	if len(dropped) > 0 {
		names := make([]string, 0, len(dropped))
		for k := range dropped {
			names = append(names, k)
		}
		sort.Strings(names)
		nc.log("warn", "attributes missing from the first features were left out: %s", strings.Join(names, ", "))
	}
	nc.count(n)
	return nil
}

func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return formatValue(v)
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
