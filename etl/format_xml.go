package etl

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/peterstace/simplefeatures/geom"
)

// KML and GPX are read with encoding/xml: both are small vocabularies, and
// the Go packages for them (go-kml writes only; gpxgo loads whole files)
// do not stream.

// xmlNode is a generic element tree.
type xmlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Content string     `xml:",chardata"`
	Nodes   []xmlNode  `xml:",any"`
}

func (n *xmlNode) child(local string) *xmlNode {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == local {
			return &n.Nodes[i]
		}
	}
	return nil
}

func (n *xmlNode) text(local string) (string, bool) {
	if c := n.child(local); c != nil {
		return strings.TrimSpace(c.Content), true
	}
	return "", false
}

func (n *xmlNode) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func readXMLSource(ctx context.Context, e *Engine, nc *nodeCtx, p params, format string, emit func(Feature) error) error {
	var rd io.Reader
	name := "content"
	if p.has("content") {
		raw := p["content"].(json.RawMessage)
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return fmt.Errorf("content for format %s must be a string of XML", format)
		}
		rd = strings.NewReader(s)
	} else {
		sf, err := openSourceFile(ctx, e, nc, p)
		if err != nil {
			return err
		}
		defer sf.Close()
		rd, name = sf, sf.name
	}
	var err error
	if format == "kml" {
		err = readKML(ctx, rd, emit)
	} else {
		err = readGPX(ctx, rd, emit)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// streamElements decodes every element named in want, wherever it is
// nested, and hands it to fn.
func streamElements(ctx context.Context, rd io.Reader, want map[string]bool, fn func(*xmlNode) error) error {
	dec := xml.NewDecoder(rd)
	dec.Strict = true
	n := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || !want[se.Name.Local] {
			continue
		}
		var node xmlNode
		if err := dec.DecodeElement(&node, &se); err != nil {
			return fmt.Errorf("not well-formed XML: %v", err)
		}
		n++
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fn(&node); err != nil {
			return err
		}
	}
}

// readKML reads every Placemark: Name and Description (as GDAL's KML
// driver names them), ExtendedData values as text attributes, and the
// geometry in EPSG:4326 (with heights when every coordinate has one).
func readKML(ctx context.Context, rd io.Reader, emit func(Feature) error) error {
	n := 0
	return streamElements(ctx, rd, map[string]bool{"Placemark": true}, func(pm *xmlNode) error {
		n++
		props := Properties{}
		name, _ := pm.text("name")
		desc, _ := pm.text("description")
		props = append(props, Property{Key: "Name", Value: nilIfEmpty(name)}, Property{Key: "Description", Value: nilIfEmpty(desc)})
		if ed := pm.child("ExtendedData"); ed != nil {
			for _, d := range ed.Nodes {
				switch d.XMLName.Local {
				case "Data":
					v, _ := d.text("value")
					props = setProp(props, d.attr("name"), v)
				case "SchemaData":
					for _, sd := range d.Nodes {
						if sd.XMLName.Local == "SimpleData" {
							props = setProp(props, sd.attr("name"), strings.TrimSpace(sd.Content))
						}
					}
				}
			}
		}
		var g geom.Geometry
		for i := range pm.Nodes {
			c := &pm.Nodes[i]
			if kmlGeometryElement[c.XMLName.Local] {
				var err error
				if g, err = kmlGeometry(c); err != nil {
					return fmt.Errorf("placemark %d (%s): %v", n, name, err)
				}
				break
			}
		}
		return emit(Feature{Geometry: g, Props: props, CRS: 4326})
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func setProp(p Properties, key string, v any) Properties {
	if key == "" {
		return p
	}
	for i := range p {
		if p[i].Key == key {
			p[i].Value = v
			return p
		}
	}
	return append(p, Property{Key: key, Value: v})
}

var kmlGeometryElement = map[string]bool{"Point": true, "LineString": true, "LinearRing": true, "Polygon": true, "MultiGeometry": true, "Track": true}

func kmlGeometry(n *xmlNode) (geom.Geometry, error) {
	switch n.XMLName.Local {
	case "Point":
		s, err := kmlCoords(n)
		if err != nil {
			return geom.Geometry{}, err
		}
		if s.Length() != 1 {
			return geom.Geometry{}, fmt.Errorf("a Point has %d coordinates", s.Length())
		}
		return geom.NewPoint(s.Get(0)).AsGeometry(), nil
	case "LineString", "LinearRing":
		s, err := kmlCoords(n)
		if err != nil {
			return geom.Geometry{}, err
		}
		return geom.NewLineString(s).AsGeometry(), nil
	case "Polygon":
		var rings []geom.LineString
		for _, part := range []string{"outerBoundaryIs", "innerBoundaryIs"} {
			for i := range n.Nodes {
				b := &n.Nodes[i]
				if b.XMLName.Local != part {
					continue
				}
				lr := b.child("LinearRing")
				if lr == nil {
					return geom.Geometry{}, fmt.Errorf("%s without a LinearRing", part)
				}
				s, err := kmlCoords(lr)
				if err != nil {
					return geom.Geometry{}, err
				}
				rings = append(rings, geom.NewLineString(s))
			}
		}
		if len(rings) == 0 {
			return geom.Polygon{}.AsGeometry(), nil
		}
		return geom.NewPolygon(rings).AsGeometry(), nil
	case "MultiGeometry":
		var parts []geom.Geometry
		for i := range n.Nodes {
			if kmlGeometryElement[n.Nodes[i].XMLName.Local] {
				g, err := kmlGeometry(&n.Nodes[i])
				if err != nil {
					return geom.Geometry{}, err
				}
				parts = append(parts, g)
			}
		}
		return multiOf(parts), nil
	}
	return geom.Geometry{}, fmt.Errorf("KML %s geometries are not supported", n.XMLName.Local)
}

// multiOf builds the multi geometry GDAL builds from a MultiGeometry: a
// MultiPoint/MultiLineString/MultiPolygon when the parts agree, else a
// GeometryCollection.
func multiOf(parts []geom.Geometry) geom.Geometry {
	if len(parts) == 0 {
		return geom.GeometryCollection{}.AsGeometry()
	}
	t := parts[0].Type()
	for _, p := range parts {
		if p.Type() != t {
			return geom.NewGeometryCollection(parts).AsGeometry()
		}
	}
	switch t {
	case geom.TypePoint:
		pts := make([]geom.Point, len(parts))
		for i, p := range parts {
			pts[i] = p.MustAsPoint()
		}
		return geom.NewMultiPoint(pts).AsGeometry()
	case geom.TypeLineString:
		ls := make([]geom.LineString, len(parts))
		for i, p := range parts {
			ls[i] = p.MustAsLineString()
		}
		return geom.NewMultiLineString(ls).AsGeometry()
	case geom.TypePolygon:
		ps := make([]geom.Polygon, len(parts))
		for i, p := range parts {
			ps[i] = p.MustAsPolygon()
		}
		return geom.NewMultiPolygon(ps).AsGeometry()
	}
	return geom.NewGeometryCollection(parts).AsGeometry()
}

// kmlCoords parses "lon,lat[,alt] lon,lat[,alt] ...".
func kmlCoords(n *xmlNode) (geom.Sequence, error) {
	raw, ok := n.text("coordinates")
	if !ok {
		return geom.Sequence{}, fmt.Errorf("%s without coordinates", n.XMLName.Local)
	}
	tuples := strings.Fields(raw)
	var flat []float64
	dims := 0
	for _, t := range tuples {
		parts := strings.Split(t, ",")
		if len(parts) < 2 || len(parts) > 3 {
			return geom.Sequence{}, fmt.Errorf("coordinate %q is not lon,lat[,alt]", t)
		}
		if dims == 0 {
			dims = len(parts)
		} else if dims != len(parts) {
			return geom.Sequence{}, fmt.Errorf("coordinates mix 2 and 3 values (%q)", t)
		}
		for _, p := range parts {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return geom.Sequence{}, fmt.Errorf("coordinate %q is not a number", t)
			}
			flat = append(flat, v)
		}
	}
	ct := geom.DimXY
	if dims == 3 {
		ct = geom.DimXYZ
	}
	return geom.NewSequence(flat, ct), nil
}

// gpxFields are the GPX elements read as attributes, with GDAL's names.
var gpxFields = []string{"ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "sym", "type", "fix", "sat", "hdop", "vdop", "pdop", "ageofdgpsdata", "dgpsid", "number"}

// readGPX reads waypoints as points, routes as lines and tracks as
// multilines (one line per segment), in document order, with the
// attribute gpx_type saying which ("waypoint", "route", "track"; GDAL
// puts them in separate layers). As in GDAL, coordinates are 2D and the
// elevation is the ele attribute of waypoints.
func readGPX(ctx context.Context, rd io.Reader, emit func(Feature) error) error {
	n := 0
	return streamElements(ctx, rd, map[string]bool{"wpt": true, "rte": true, "trk": true}, func(el *xmlNode) error {
		n++
		props := Properties{{Key: "gpx_type", Value: map[string]string{"wpt": "waypoint", "rte": "route", "trk": "track"}[el.XMLName.Local]}}
		for _, f := range gpxFields {
			s, ok := el.text(f)
			if !ok {
				continue
			}
			var v any = s
			switch f {
			case "ele", "magvar", "geoidheight", "hdop", "vdop", "pdop", "ageofdgpsdata":
				x, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return fmt.Errorf("%s %d: %s %q is not a number", el.XMLName.Local, n, f, s)
				}
				v = x
			case "sat", "dgpsid", "number":
				x, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("%s %d: %s %q is not an integer", el.XMLName.Local, n, f, s)
				}
				v = x
			}
			props = append(props, Property{Key: f, Value: v})
		}
		pt := func(p *xmlNode) (geom.XY, error) {
			x, err1 := strconv.ParseFloat(strings.TrimSpace(p.attr("lon")), 64)
			y, err2 := strconv.ParseFloat(strings.TrimSpace(p.attr("lat")), 64)
			if err1 != nil || err2 != nil {
				return geom.XY{}, fmt.Errorf("%s %d: a point without numeric lat and lon", el.XMLName.Local, n)
			}
			return geom.XY{X: x, Y: y}, nil
		}
		line := func(parent *xmlNode, child string) (geom.LineString, error) {
			var flat []float64
			for i := range parent.Nodes {
				if parent.Nodes[i].XMLName.Local != child {
					continue
				}
				xy, err := pt(&parent.Nodes[i])
				if err != nil {
					return geom.LineString{}, err
				}
				flat = append(flat, xy.X, xy.Y)
			}
			return geom.NewLineString(geom.NewSequence(flat, geom.DimXY)), nil
		}
		var g geom.Geometry
		switch el.XMLName.Local {
		case "wpt":
			xy, err := pt(el)
			if err != nil {
				return err
			}
			g = xy.AsPoint().AsGeometry()
		case "rte":
			ls, err := line(el, "rtept")
			if err != nil {
				return err
			}
			g = ls.AsGeometry()
		case "trk":
			var segs []geom.LineString
			for i := range el.Nodes {
				if el.Nodes[i].XMLName.Local == "trkseg" {
					ls, err := line(&el.Nodes[i], "trkpt")
					if err != nil {
						return err
					}
					segs = append(segs, ls)
				}
			}
			g = geom.NewMultiLineString(segs).AsGeometry()
		}
		return emit(Feature{Geometry: g, Props: props, CRS: 4326})
	})
}
