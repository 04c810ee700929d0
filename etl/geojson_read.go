package etl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
	"github.com/geoetl/geoetl/etl/feature"
)

// geojsonReader streams the features of a GeoJSON document (a
// FeatureCollection, a single Feature or a bare geometry) without holding
// more than one feature in memory. It also picks up the legacy "crs"
// member that GDAL writes for coordinates other than WGS 84, and the
// "links" of an OGC API Features page.
type geojsonReader struct {
	dec *jsontext.Decoder
	crs int
	// crsFixed is set when the crs was found by scanTopLevelCRS before
	// reading: a crs member in the stream must then agree with it.
	crsFixed bool
	links    []geojsonLink
	state    int // 0 before, 1 inside the features array, 2 done
	single   bool
	pending  *Feature
}

type geojsonLink struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
	Type string `json:"type"`
}

func newGeoJSONReader(r io.Reader) *geojsonReader {
	return &geojsonReader{
		dec: jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)),
		crs: 4326,
	}
}

// next returns the next feature, or io.EOF after the last one.
func (g *geojsonReader) next() (Feature, error) {
	for {
		switch g.state {
		case 0:
			if err := g.start(); err != nil {
				return Feature{}, err
			}
		case 1:
			if g.dec.PeekKind() == ']' {
				if _, err := g.dec.ReadToken(); err != nil {
					return Feature{}, g.syntax(err)
				}
				if err := g.rest(); err != nil {
					return Feature{}, err
				}
				g.state = 2
				continue
			}
			f, err := g.feature()
			if err != nil {
				return Feature{}, err
			}
			return f, nil
		default:
			if g.pending != nil {
				f := *g.pending
				g.pending = nil
				f.CRS = g.crs
				return f, nil
			}
			return Feature{}, io.EOF
		}
	}
}

func (g *geojsonReader) syntax(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("GeoJSON ends early (offset %d)", g.dec.InputOffset())
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Errorf("GeoJSON is not valid JSON: %v", err)
	}
	return err
}

// start reads the top-level object up to the features array (or, for a
// single Feature or geometry, the whole document).
func (g *geojsonReader) start() error {
	tok, err := g.dec.ReadToken()
	if err != nil {
		return g.syntax(err)
	}
	if tok.Kind() != '{' {
		return fmt.Errorf("GeoJSON must be an object, not %s", tok.Kind())
	}
	// A document is decoded member by member: the members other than
	// "features" are small, and those of a single Feature are gathered
	// into one feature.
	var single Feature
	var typ string
	var sawGeom bool
	// A bare geometry's members may come in any order (content given as
	// a JSON object is re-encoded with sorted keys, so "coordinates"
	// precedes "type"): they are kept until the type is known.
	var bareCoords coordTree
	var bareMembers []geom.Geometry
	haveCoords, haveMembers := false, false
	for g.dec.PeekKind() != '}' {
		key, err := g.dec.ReadToken()
		if err != nil {
			return g.syntax(err)
		}
		switch key.String() {
		case "type":
			t, err := g.dec.ReadToken()
			if err != nil {
				return g.syntax(err)
			}
			if t.Kind() != '"' {
				return errors.New(`GeoJSON "type" must be a string`)
			}
			typ = t.String()
		case "features":
			if typ != "" && typ != "FeatureCollection" {
				return fmt.Errorf("GeoJSON of type %q has a features member", typ)
			}
			t, err := g.dec.ReadToken()
			if err != nil {
				return g.syntax(err)
			}
			if t.Kind() != '[' {
				return errors.New(`GeoJSON "features" must be an array`)
			}
			g.state = 1
			return nil
		case "crs":
			if err := g.readCRS(); err != nil {
				return err
			}
		case "links":
			if err := g.readLinks(); err != nil {
				return err
			}
		case "geometry":
			if single.Geometry, err = readGeometry(g.dec); err != nil {
				return err
			}
			sawGeom = true
		case "properties":
			if single.Props, err = readProperties(g.dec); err != nil {
				return err
			}
		case "id":
			if single.ID, err = readID(g.dec); err != nil {
				return err
			}
		case "coordinates":
			if bareCoords, err = readCoords(g.dec, 0); err != nil {
				return g.syntax(err)
			}
			haveCoords = true
		case "geometries":
			if bareMembers, err = readGeometries(g.dec); err != nil {
				return g.syntax(err)
			}
			haveMembers = true
		default:
			if err := g.dec.SkipValue(); err != nil {
				return g.syntax(err)
			}
		}
	}
	if _, err := g.dec.ReadToken(); err != nil {
		return g.syntax(err)
	}
	g.state = 2
	switch typ {
	case "FeatureCollection":
		return nil // no features member: an empty collection
	case "Feature":
		if !sawGeom {
			return errors.New(`GeoJSON Feature has no "geometry" member`)
		}
		g.pending = &single
		return nil
	case "GeometryCollection":
		if !haveMembers {
			return errors.New(`GeoJSON GeometryCollection has no "geometries"`)
		}
		g.pending = &Feature{Geometry: geom.NewGeometryCollection(bareMembers).AsGeometry()}
		return nil
	case "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon":
		if !haveCoords {
			return fmt.Errorf(`GeoJSON %s has no "coordinates"`, typ)
		}
		gm, err := buildGeometry(typ, bareCoords)
		if err != nil {
			return err
		}
		g.pending = &Feature{Geometry: gm}
		return nil
	case "":
		return errors.New(`GeoJSON object has no "type" member`)
	}
	return fmt.Errorf("GeoJSON type %q is not a FeatureCollection, Feature or geometry", typ)
}

// rest reads the members after the features array (OGC API pages often
// put "links" there).
func (g *geojsonReader) rest() error {
	for g.dec.PeekKind() != '}' {
		key, err := g.dec.ReadToken()
		if err != nil {
			return g.syntax(err)
		}
		switch key.String() {
		case "links":
			err = g.readLinks()
		case "crs":
			err = g.readCRS()
		default:
			err = g.dec.SkipValue()
		}
		if err != nil {
			return g.syntax(err)
		}
	}
	_, err := g.dec.ReadToken()
	return g.syntax(err)
}

func (g *geojsonReader) readCRS() error {
	v, err := g.dec.ReadValue()
	if err != nil {
		return g.syntax(err)
	}
	code, ok, err := parseCRSMember(v)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	if g.crsFixed && code != g.crs {
		return fmt.Errorf("GeoJSON has two crs members that disagree (EPSG:%d and EPSG:%d)", g.crs, code)
	}
	g.crs = code
	return nil
}

// parseCRSMember reads a legacy (2008) GeoJSON crs member, in its named
// form {"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}}
// or its EPSG form {"type":"EPSG","properties":{"code":3857}}. ok is false
// for members GDAL ignores too (links, null, unreadable ones).
func parseCRSMember(v []byte) (code int, ok bool, err error) {
	var c struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
			Code any    `json:"code"`
		} `json:"properties"`
	}
	if err := unmarshalJSON(v, &c); err != nil {
		return 0, false, nil
	}
	ref := c.Properties.Name
	if strings.EqualFold(c.Type, "EPSG") && c.Properties.Code != nil {
		ref = "EPSG:" + strings.Trim(fmt.Sprint(feature.Normalize(c.Properties.Code)), `"`)
	}
	if ref == "" {
		return 0, false, nil
	}
	code, err = crs.Parse(ref)
	if err != nil {
		return 0, false, fmt.Errorf("GeoJSON crs: %w", err)
	}
	return code, true, nil
}

// jsonStructural marks the bytes scanTopLevelCRS looks at outside strings.
var jsonStructural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// scanChunk is how much scanTopLevelCRS reads at a time.
var scanChunk = 1 << 20

// scanTopLevelCRS finds the crs members of a GeoJSON document's top-level
// object wherever they are, before or after "features", without decoding
// the features: a byte scan that only tracks strings and nesting, so the
// features can then be streamed with their CRS known from the start.
func scanTopLevelCRS(r io.Reader) ([][]byte, error) {
	buf := make([]byte, scanChunk)
	var (
		depth     int
		inStr     bool
		esc       bool   // the previous byte in a string was a lone backslash
		str       []byte // the current string at depth 1 (a key or a value)
		lastStr   string
		capturing bool
		capture   []byte
		found     [][]byte
	)
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		for i := 0; i < len(chunk); i++ {
			c := chunk[i]
			if inStr {
				if depth > 1 && !capturing && !esc {
					// Inside the features: find the closing quote with
					// IndexByte, which is fast; a quote after an odd
					// number of backslashes is escaped.
					for {
						j := bytes.IndexByte(chunk[i:], '"')
						if j < 0 {
							// The string goes on in the next read; note a
							// trailing backslash.
							k := len(chunk)
							for k > i && chunk[k-1] == '\\' {
								k--
							}
							esc = (len(chunk)-k)%2 == 1
							i = len(chunk)
							break
						}
						q := i + j
						k := q
						for k > i && chunk[k-1] == '\\' {
							k--
						}
						if (q-k)%2 == 0 {
							inStr, i = false, q
							break
						}
						i = q + 1
					}
					continue
				}
				if capturing {
					capture = append(capture, c)
				}
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
					if depth == 1 {
						lastStr = string(str)
						if bytes.IndexByte(str, '\\') >= 0 {
							// An escaped key ("\u0063rs" is "crs").
							var k string
							if unmarshalJSON(append(append([]byte{'"'}, str...), '"'), &k) == nil {
								lastStr = k
							}
						}
					}
					continue
				}
				if depth == 1 {
					str = append(str, c)
				}
				continue
			}
			if depth > 1 && !capturing && !jsonStructural[c] {
				// Numbers, spaces, commas and colons inside the features:
				// skip to the next byte that matters.
				for i+1 < len(chunk) && !jsonStructural[chunk[i+1]] {
					i++
				}
				continue
			}
			if capturing {
				if depth == 1 && (c == ',' || c == '}') {
					found = append(found, capture)
					capturing, capture = false, nil
				} else {
					capture = append(capture, c)
				}
			}
			switch c {
			case '"':
				inStr, str = true, str[:0]
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			case ':':
				if depth == 1 && lastStr == "crs" {
					capturing, capture = true, nil
				}
			}
		}
		if err == io.EOF {
			return found, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (g *geojsonReader) readLinks() error {
	v, err := g.dec.ReadValue()
	if err != nil {
		return g.syntax(err)
	}
	var links []geojsonLink
	if err := unmarshalJSON(v, &links); err == nil {
		g.links = links
	}
	return nil
}

// feature reads one element of the features array.
func (g *geojsonReader) feature() (Feature, error) {
	tok, err := g.dec.ReadToken()
	if err != nil {
		return Feature{}, g.syntax(err)
	}
	if tok.Kind() != '{' {
		return Feature{}, fmt.Errorf("GeoJSON feature must be an object, not %s", tok.Kind())
	}
	f := Feature{CRS: g.crs}
	sawGeom := false
	for g.dec.PeekKind() != '}' {
		key, err := g.dec.ReadToken()
		if err != nil {
			return Feature{}, g.syntax(err)
		}
		switch key.String() {
		case "geometry":
			if f.Geometry, err = readGeometry(g.dec); err != nil {
				return Feature{}, err
			}
			sawGeom = true
		case "properties":
			if f.Props, err = readProperties(g.dec); err != nil {
				return Feature{}, err
			}
		case "id":
			if f.ID, err = readID(g.dec); err != nil {
				return Feature{}, err
			}
		case "type":
			t, err := g.dec.ReadToken()
			if err != nil {
				return Feature{}, g.syntax(err)
			}
			if t.Kind() != '"' || t.String() != "Feature" {
				return Feature{}, fmt.Errorf("GeoJSON features element has type %s, not \"Feature\"", t)
			}
		default:
			if err := g.dec.SkipValue(); err != nil {
				return Feature{}, g.syntax(err)
			}
		}
	}
	if _, err := g.dec.ReadToken(); err != nil {
		return Feature{}, g.syntax(err)
	}
	if !sawGeom {
		return Feature{}, errors.New(`GeoJSON feature has no "geometry" member`)
	}
	return f, nil
}

func readID(dec *jsontext.Decoder) (any, error) {
	t, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch t.Kind() {
	case '"':
		return t.String(), nil
	case '0':
		return numberValue(t), nil
	case 'n':
		return nil, nil
	}
	return nil, errors.New(`GeoJSON feature "id" must be a string or a number`)
}

func numberValue(t jsontext.Token) any {
	s := t.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	return t.Float()
}

// readProperties reads a properties object, keeping its order; null gives
// no properties.
func readProperties(dec *jsontext.Decoder) (Properties, error) {
	t, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if t.Kind() == 'n' {
		return nil, nil
	}
	if t.Kind() != '{' {
		return nil, errors.New(`GeoJSON "properties" must be an object or null`)
	}
	var props Properties
	for dec.PeekKind() != '}' {
		k, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		key := k.String()
		v, err := readAnyValue(dec)
		if err != nil {
			return nil, err
		}
		props = append(props, Property{Key: key, Value: v})
	}
	_, err = dec.ReadToken()
	return props, err
}

// readAnyValue reads one JSON value as an attribute value.
func readAnyValue(dec *jsontext.Decoder) (any, error) {
	switch dec.PeekKind() {
	case '{', '[':
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		var x any
		if err := unmarshalJSON(v, &x); err != nil {
			return nil, err
		}
		return normalizeNested(x), nil
	}
	t, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch t.Kind() {
	case 'n':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case '"':
		return t.String(), nil
	case '0':
		return numberValue(t), nil
	}
	return nil, fmt.Errorf("unexpected JSON %s", t.Kind())
}

// readGeometry reads a GeoJSON geometry object (or null, an empty
// geometry). Geometries are not validated here; see validate_geometry.
func readGeometry(dec *jsontext.Decoder) (geom.Geometry, error) {
	t, err := dec.ReadToken()
	if err != nil {
		return geom.Geometry{}, err
	}
	if t.Kind() == 'n' {
		return geom.Geometry{}, nil
	}
	if t.Kind() != '{' {
		return geom.Geometry{}, errors.New(`GeoJSON "geometry" must be an object or null`)
	}
	var typ string
	var coords coordTree
	var members []geom.Geometry
	haveCoords, haveMembers := false, false
	for dec.PeekKind() != '}' {
		k, err := dec.ReadToken()
		if err != nil {
			return geom.Geometry{}, err
		}
		switch k.String() {
		case "type":
			t, err := dec.ReadToken()
			if err != nil {
				return geom.Geometry{}, err
			}
			typ = t.String()
		case "coordinates":
			if coords, err = readCoords(dec, 0); err != nil {
				return geom.Geometry{}, err
			}
			haveCoords = true
		case "geometries":
			if members, err = readGeometries(dec); err != nil {
				return geom.Geometry{}, err
			}
			haveMembers = true
		default:
			if err := dec.SkipValue(); err != nil {
				return geom.Geometry{}, err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return geom.Geometry{}, err
	}
	if typ == "GeometryCollection" {
		if !haveMembers {
			return geom.Geometry{}, errors.New(`GeoJSON GeometryCollection has no "geometries"`)
		}
		return geom.NewGeometryCollection(members).AsGeometry(), nil
	}
	if !haveCoords {
		if typ == "" {
			return geom.Geometry{}, errors.New(`GeoJSON geometry has no "type"`)
		}
		return geom.Geometry{}, fmt.Errorf(`GeoJSON %s has no "coordinates"`, typ)
	}
	return buildGeometry(typ, coords)
}

func readGeometries(dec *jsontext.Decoder) ([]geom.Geometry, error) {
	t, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	if t.Kind() != '[' {
		return nil, errors.New(`GeoJSON "geometries" must be an array`)
	}
	var out []geom.Geometry
	for dec.PeekKind() != ']' {
		g, err := readGeometry(dec)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	_, err = dec.ReadToken()
	return out, err
}

// coordTree is a parsed coordinates member: a position (pos set) or a list
// of coordTrees.
type coordTree struct {
	pos  []float64
	kids []coordTree
	leaf bool
}

func readCoords(dec *jsontext.Decoder, depth int) (coordTree, error) {
	if depth > 4 {
		return coordTree{}, errors.New("GeoJSON coordinates are nested too deeply")
	}
	t, err := dec.ReadToken()
	if err != nil {
		return coordTree{}, err
	}
	if t.Kind() != '[' {
		return coordTree{}, errors.New("GeoJSON coordinates must be arrays of numbers")
	}
	var ct coordTree
	if dec.PeekKind() == '0' {
		ct.leaf = true
		ct.pos = make([]float64, 0, 3)
		for dec.PeekKind() != ']' {
			n, err := dec.ReadToken()
			if err != nil {
				return coordTree{}, err
			}
			if n.Kind() != '0' {
				return coordTree{}, errors.New("GeoJSON position must hold only numbers")
			}
			ct.pos = append(ct.pos, n.Float())
		}
		if len(ct.pos) < 2 {
			return coordTree{}, errors.New("GeoJSON position needs at least two numbers")
		}
	} else {
		for dec.PeekKind() != ']' {
			kid, err := readCoords(dec, depth+1)
			if err != nil {
				return coordTree{}, err
			}
			ct.kids = append(ct.kids, kid)
		}
	}
	_, err = dec.ReadToken()
	return ct, err
}

// dims returns the coordinate type for a position list: GeoJSON may carry
// a third number (height), which is kept as Z.
func dims(n int) geom.CoordinatesType {
	if n >= 3 {
		return geom.DimXYZ
	}
	return geom.DimXY
}

func flatSeq(cts []coordTree) (geom.Sequence, error) {
	if len(cts) == 0 {
		return geom.NewSequence(nil, geom.DimXY), nil
	}
	n := len(cts[0].pos)
	if n > 3 {
		n = 3
	}
	if n < 2 {
		return geom.Sequence{}, errors.New("GeoJSON position list expected")
	}
	flat := make([]float64, 0, len(cts)*n)
	for _, c := range cts {
		if !c.leaf {
			return geom.Sequence{}, errors.New("GeoJSON position list expected")
		}
		p := c.pos
		if len(p) < n {
			return geom.Sequence{}, errors.New("GeoJSON positions have different numbers of coordinates")
		}
		flat = append(flat, p[:n]...)
	}
	return geom.NewSequence(flat, dims(n)), nil
}

func buildGeometry(typ string, c coordTree) (geom.Geometry, error) {
	switch typ {
	case "Point":
		if !c.leaf {
			if len(c.kids) == 0 {
				return geom.Point{}.AsGeometry(), nil
			}
			return geom.Geometry{}, errors.New("GeoJSON Point needs one position")
		}
		return pointFrom(c.pos).AsGeometry(), nil
	case "LineString":
		s, err := flatSeq(c.kids)
		if err != nil {
			return geom.Geometry{}, err
		}
		return geom.NewLineString(s).AsGeometry(), nil
	case "MultiPoint":
		pts := make([]geom.Point, 0, len(c.kids))
		for _, k := range c.kids {
			if !k.leaf {
				return geom.Geometry{}, errors.New("GeoJSON MultiPoint needs positions")
			}
			pts = append(pts, pointFrom(k.pos))
		}
		return geom.NewMultiPoint(pts).AsGeometry(), nil
	case "Polygon":
		p, err := polygonFrom(c)
		if err != nil {
			return geom.Geometry{}, err
		}
		return p.AsGeometry(), nil
	case "MultiLineString":
		lss := make([]geom.LineString, 0, len(c.kids))
		for _, k := range c.kids {
			s, err := flatSeq(k.kids)
			if err != nil {
				return geom.Geometry{}, err
			}
			lss = append(lss, geom.NewLineString(s))
		}
		return geom.NewMultiLineString(lss).AsGeometry(), nil
	case "MultiPolygon":
		ps := make([]geom.Polygon, 0, len(c.kids))
		for _, k := range c.kids {
			p, err := polygonFrom(k)
			if err != nil {
				return geom.Geometry{}, err
			}
			ps = append(ps, p)
		}
		return geom.NewMultiPolygon(ps).AsGeometry(), nil
	}
	return geom.Geometry{}, fmt.Errorf("GeoJSON geometry type %q is not known", typ)
}

func pointFrom(p []float64) geom.Point {
	if len(p) >= 3 {
		return geom.NewPoint(geom.Coordinates{XY: geom.XY{X: p[0], Y: p[1]}, Z: p[2], Type: geom.DimXYZ})
	}
	return geom.NewPoint(geom.Coordinates{XY: geom.XY{X: p[0], Y: p[1]}, Type: geom.DimXY})
}

func polygonFrom(c coordTree) (geom.Polygon, error) {
	if c.leaf {
		return geom.Polygon{}, errors.New("GeoJSON Polygon needs rings")
	}
	rings := make([]geom.LineString, 0, len(c.kids))
	for _, k := range c.kids {
		s, err := flatSeq(k.kids)
		if err != nil {
			return geom.Polygon{}, err
		}
		rings = append(rings, geom.NewLineString(s))
	}
	return geom.NewPolygon(rings), nil
}
