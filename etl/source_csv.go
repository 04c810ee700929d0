package etl

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/peterstace/simplefeatures/geom"
)

// data_source.csv_geometry reads a delimited text file whose rows carry
// their geometry as a longitude/latitude pair or as WKT.
func (e *Engine) csvSource() *NodeType {
	return &NodeType{
		Type: "data_source.csv_geometry", Category: "source", HasOutput: true,
		Description: "Reads a CSV file from the data folder; each row becomes a feature whose geometry comes from two coordinate columns (latlon) or a WKT column. Other columns become attributes: integers and decimals are read as numbers, empty cells as null.",
		Parameters: []ParamSpec{
			{Name: "file_path", Type: "string", Required: true, Description: "Path relative to the data folder."},
			{Name: "geometry_format", Type: "string", Default: "latlon", Enum: []string{"latlon", "wkt"}, Description: "Where the geometry is."},
			{Name: "lon_column", Type: "string", Description: "Longitude or x column (latlon); default: the first of lon, lng, long, longitude, x."},
			{Name: "lat_column", Type: "string", Description: "Latitude or y column (latlon); default: the first of lat, latitude, y."},
			{Name: "wkt_column", Type: "string", Description: "WKT column (wkt); default: the first of wkt, geometry, geom, the_geom."},
			{Name: "delimiter", Type: "string", Default: ",", Description: "One character; \\t for tab."},
			{Name: "crs", Type: "crs", Default: 4326, Description: "CRS of the coordinates."},
		},
		check: func(p params, add func(string, string, ...any)) {
			checkPathParam(p, "file_path", add)
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
				f, err := nc.r.openData(p.str("file_path"))
				if err != nil {
					return err
				}
				defer f.Close()
				return readCSV(ctx, nc, f, delim, p)
			}, nil
		},
	}
}

func csvDelimiter(s string) (rune, error) {
	if s == "" {
		return ',', nil
	}
	if s == `\t` || s == "tab" {
		return '\t', nil
	}
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
		return 0, errors.New("must be a single character other than a quote or a line break")
	}
	return r, nil
}

func findColumn(header []string, given string, defaults ...string) (int, error) {
	if given != "" {
		for i, h := range header {
			if h == given {
				return i, nil
			}
		}
		for i, h := range header {
			if strings.EqualFold(h, given) {
				return i, nil
			}
		}
		return -1, fmt.Errorf("column %q is not in the header (%s)", given, strings.Join(header, ", "))
	}
	for _, d := range defaults {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), d) {
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("no column named %s in the header (%s); name it with a parameter", strings.Join(defaults, " or "), strings.Join(header, ", "))
}

func readCSV(ctx context.Context, nc *nodeCtx, rd io.Reader, delim rune, p params) error {
	cr := csv.NewReader(rd)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("CSV header: %v", err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	wktMode := p.str("geometry_format") == "wkt"
	geomCols := map[int]bool{}
	var lonI, latI, wktI int
	if wktMode {
		if wktI, err = findColumn(header, p.str("wkt_column"), "wkt", "geometry", "geom", "the_geom"); err != nil {
			return err
		}
		geomCols[wktI] = true
	} else {
		if lonI, err = findColumn(header, p.str("lon_column"), "lon", "lng", "long", "longitude", "x"); err != nil {
			return err
		}
		if latI, err = findColumn(header, p.str("lat_column"), "lat", "latitude", "y"); err != nil {
			return err
		}
		geomCols[lonI], geomCols[latI] = true, true
	}
	code := p.crsCode("crs")
	if code == 0 {
		code = 4326
	}
	line := 1
	noGeom := 0
	defer func() {
		if noGeom > 0 {
			nc.log("info", "%d rows with an empty coordinate read without geometry", noGeom)
		}
	}()
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line++
		if err != nil {
			return fmt.Errorf("CSV: %v", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) != len(header) {
			return fmt.Errorf("CSV line %d has %d fields, the header has %d", line, len(rec), len(header))
		}
		var g geom.Geometry
		if wktMode {
			s := strings.TrimSpace(rec[wktI])
			if s != "" {
				if g, err = geom.UnmarshalWKT(s, geom.NoValidate{}); err != nil {
					return fmt.Errorf("CSV line %d: bad WKT: %v", line, err)
				}
			}
		} else if xs, ys := strings.TrimSpace(rec[lonI]), strings.TrimSpace(rec[latI]); xs == "" || ys == "" {
			// As GDAL reads it: a row with an empty coordinate has no
			// geometry. A cell that is not a number still fails, where
			// GDAL would silently read 0.
			noGeom++
		} else {
			x, err1 := strconv.ParseFloat(xs, 64)
			y, err2 := strconv.ParseFloat(ys, 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("CSV line %d: coordinates %q, %q are not numbers", line, rec[lonI], rec[latI])
			}
			g = geom.NewPoint(geom.Coordinates{XY: geom.XY{X: x, Y: y}, Type: geom.DimXY}).AsGeometry()
		}
		props := make(Properties, 0, len(header)-len(geomCols))
		for i, h := range header {
			if geomCols[i] {
				continue
			}
			props = append(props, Property{Key: h, Value: csvValue(rec[i])})
		}
		if err := nc.emit(ctx, Feature{Geometry: g, Props: props, CRS: code}); err != nil {
			return err
		}
	}
}

// csvValue reads a cell: integers and decimals become numbers (without
// leading zeros, which usually mark codes), empty cells null.
func csvValue(s string) any {
	if s == "" {
		return nil
	}
	t := strings.TrimSpace(s)
	if t != "" && (len(t) == 1 || t[0] != '0' || strings.HasPrefix(t, "0.")) && !strings.HasPrefix(t, "+") {
		if i, err := strconv.ParseInt(t, 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXnN") {
			return f
		}
	}
	return s
}
