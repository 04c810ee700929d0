package etl

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/geoetl/geoetl/etl/crs"
)

// sourceFormats are the formats data_source.file reads.
var sourceFormats = []string{"geojson", "shapefile", "flatgeobuf", "geoparquet", "kml", "gpx"}

// formatFromPath picks the format from a path's or URL's extension.
func formatFromPath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".shp", ".zip":
		return "shapefile"
	case ".fgb":
		return "flatgeobuf"
	case ".parquet", ".geoparquet":
		return "geoparquet"
	case ".kml":
		return "kml"
	case ".gpx":
		return "gpx"
	}
	return "geojson"
}

// sourceFile is a file to read: a data-folder file, or a download kept in
// an unlinked temporary file.
type sourceFile struct {
	*os.File
	name string
	size int64
}

func openSourceFile(ctx context.Context, e *Engine, nc *nodeCtx, p params) (*sourceFile, error) {
	if p.has("file_path") {
		f, err := nc.r.openData(p.str("file_path"))
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, dataErr(p.str("file_path"), err)
		}
		nc.log("info", "reading %s", p.str("file_path"))
		return &sourceFile{File: f, name: p.str("file_path"), size: st.Size()}, nil
	}
	if !p.has("url") {
		return nil, fmt.Errorf("this format needs file_path or url")
	}
	body, err := e.httpGet(ctx, p.str("url"), "*/*")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	nc.log("info", "downloading %s", redactURL(p.str("url")))
	tmp, err := os.CreateTemp("", "geoetl-download-*")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name())
	n, err := io.Copy(tmp, body)
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("downloading %s: %v", redactURL(p.str("url")), err)
	}
	return &sourceFile{File: tmp, name: redactURL(p.str("url")), size: n}, nil
}

// readFormat reads the formats other than GeoJSON.
func readFormat(ctx context.Context, e *Engine, nc *nodeCtx, p params, format string, override int) error {
	n := 0
	emit := func(f Feature) error {
		n++
		if override != 0 {
			f.CRS = override
		}
		return nc.emit(ctx, f)
	}
	var err error
	switch format {
	case "shapefile":
		err = readShapefileSource(ctx, e, nc, p, override, emit)
	case "flatgeobuf":
		err = withSourceFile(ctx, e, nc, p, func(sf *sourceFile) error {
			return readFlatGeobuf(ctx, sf, sf.name, override, emit)
		})
	case "geoparquet":
		err = withSourceFile(ctx, e, nc, p, func(sf *sourceFile) error {
			return readGeoParquet(ctx, sf, sf.size, sf.name, override, emit)
		})
	case "kml", "gpx":
		err = readXMLSource(ctx, e, nc, p, format, emit)
	default:
		err = fmt.Errorf("format %q is not supported", format)
	}
	if err != nil {
		return err
	}
	nc.log("info", "read %d features (%s)", n, format)
	return nil
}

func withSourceFile(ctx context.Context, e *Engine, nc *nodeCtx, p params, fn func(*sourceFile) error) error {
	sf, err := openSourceFile(ctx, e, nc, p)
	if err != nil {
		return err
	}
	defer sf.Close()
	return fn(sf)
}

func readShapefileSource(ctx context.Context, e *Engine, nc *nodeCtx, p params, override int, emit func(Feature) error) error {
	var sp *shapefileParts
	if p.has("file_path") && !strings.EqualFold(path.Ext(p.str("file_path")), ".zip") {
		var err error
		sp, err = openShapefileParts(func(rel string) (io.ReadCloser, error) { return nc.r.openData(rel) }, p.str("file_path"))
		if err != nil {
			return err
		}
		nc.log("info", "reading %s", p.str("file_path"))
	} else {
		if p.has("url") && !strings.EqualFold(path.Ext(strings.SplitN(p.str("url"), "?", 2)[0]), ".zip") {
			return fmt.Errorf("a shapefile from a URL must be a .zip holding its .shp, .shx, .dbf and .prj")
		}
		sf, err := openSourceFile(ctx, e, nc, p)
		if err != nil {
			return err
		}
		defer sf.Close()
		if sp, err = openZippedShapefile(sf.name, sf, sf.size); err != nil {
			return err
		}
	}
	defer sp.Close()
	code := override
	if code == 0 {
		if sp.prj == nil {
			return fmt.Errorf("shapefile %s has no .prj file; give the source's crs parameter", sp.name)
		}
		c, err := crsFromWKT(string(sp.prj))
		if err != nil {
			return fmt.Errorf("shapefile %s: the CRS of its .prj cannot be identified (%v); give the source's crs parameter", sp.name, err)
		}
		code = c
	}
	return readShapefile(ctx, sp, code, emit)
}

var (
	wktAuthority = regexp.MustCompile(`AUTHORITY\["EPSG",\s*"?(\d+)"?\]\s*\]\s*$`)
	wktIDEPSG    = regexp.MustCompile(`ID\["EPSG",\s*(\d+)\]\s*\]\s*$`)
	wktName      = regexp.MustCompile(`^\s*(PROJCS|GEOGCS|PROJCRS|GEOGCRS)\["([^"]+)"`)
	esriUTM      = regexp.MustCompile(`^(WGS_1984|ETRS_1989)_UTM_Zone_(\d+)([NS])$`)
)

// crsFromWKT turns a WKT definition (a .prj, a FlatGeobuf or GeoParquet
// CRS) into a code the engine knows. It asks etl/crs first, then reads a
// top-level EPSG authority, then the ESRI names of the systems etl/crs
// defines; anything else is refused rather than guessed.
func crsFromWKT(wkt string) (int, error) {
	wkt = strings.TrimSpace(strings.TrimPrefix(wkt, "\ufeff"))
	if wkt == "" {
		return 0, fmt.Errorf("the CRS definition is empty")
	}
	if code, err := crs.Parse(wkt); err == nil {
		if _, err := crs.Lookup(code); err == nil {
			return code, nil
		}
	}
	for _, re := range []*regexp.Regexp{wktAuthority, wktIDEPSG} {
		if m := re.FindStringSubmatch(wkt); m != nil {
			code, _ := strconv.Atoi(m[1])
			if _, err := crs.Lookup(code); err != nil {
				return 0, err
			}
			return code, nil
		}
	}
	m := wktName.FindStringSubmatch(wkt)
	if m == nil {
		return 0, fmt.Errorf("not a WKT CRS definition")
	}
	name := m[2]
	if code, ok := esriNames[name]; ok {
		return code, nil
	}
	if u := esriUTM.FindStringSubmatch(name); u != nil {
		zone, _ := strconv.Atoi(u[2])
		code := 32600 + zone
		if u[3] == "S" {
			code = 32700 + zone
		}
		if u[1] == "ETRS_1989" {
			if u[3] == "S" {
				return 0, fmt.Errorf("unknown CRS %q", name)
			}
			code = 25800 + zone
		}
		if _, err := crs.Lookup(code); err != nil {
			return 0, err
		}
		return code, nil
	}
	return 0, fmt.Errorf("unknown CRS %q", name)
}

// esriNames are the ESRI spellings (as GDAL writes .prj files) of the
// systems etl/crs defines.
var esriNames = map[string]int{
	"GCS_WGS_1984":                           4326,
	"WGS 84":                                 4326,
	"GCS_ETRS_1989":                          4258,
	"ETRS89":                                 4258,
	"WGS_1984_Web_Mercator_Auxiliary_Sphere": 3857,
	"WGS 84 / Pseudo-Mercator":               3857,
	"ETRS_1989_LAEA":                         3035,
	"ETRS89-extended / LAEA Europe":          3035,
	"ETRS89 / LAEA Europe":                   3035,
	"British_National_Grid":                  27700,
	"OSGB36 / British National Grid":         27700,
	"OSGB_1936_British_National_Grid":        27700,
	"RGF_1993_Lambert_93":                    2154,
	"RGF93 / Lambert-93":                     2154,
	"RGF93 v1 / Lambert-93":                  2154,
}
