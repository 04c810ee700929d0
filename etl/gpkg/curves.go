package gpkg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// GeoPackage allows the curve types of ISO 19125 / SQL-MM (CircularString,
// CompoundCurve, CurvePolygon, MultiCurve, MultiSurface). The engine's
// geometry model has straight segments only. Curve containers whose parts
// are all straight (GDAL writes a MultiSurface of plain polygons, say) are
// rewritten to the equivalent linear types, which loses nothing. A real
// circular arc is refused with an error naming the feature: linearising it
// needs a tolerance, and a silent choice would change the geometry.

const (
	wkbCircularString = 8
	wkbCompoundCurve  = 9
	wkbCurvePolygon   = 10
	wkbMultiCurve     = 11
	wkbMultiSurface   = 12
)

// errCircularArc is returned for a geometry with a true arc.
var errCircularArc = errors.New("it has circular arcs (CircularString), which are not supported: convert them with ogr2ogr -nlt CONVERT_TO_LINEAR (or ST_CurveToLine) first")

// wkbReader walks ISO WKB.
type wkbReader struct {
	b   []byte
	pos int
}

func (r *wkbReader) header() (bo binary.ByteOrder, base, dims uint32, err error) {
	if r.pos+5 > len(r.b) {
		return nil, 0, 0, errors.New("WKB is truncated")
	}
	switch r.b[r.pos] {
	case 0:
		bo = binary.BigEndian
	case 1:
		bo = binary.LittleEndian
	default:
		return nil, 0, 0, errors.New("bad WKB byte order")
	}
	t := bo.Uint32(r.b[r.pos+1:])
	r.pos += 5
	if t&0xE0000000 != 0 { // EWKB flags: not what GeoPackage stores
		return nil, 0, 0, fmt.Errorf("unsupported WKB type %#x", t)
	}
	return bo, t % 1000, t / 1000, nil
}

func (r *wkbReader) uint32(bo binary.ByteOrder) (uint32, error) {
	if r.pos+4 > len(r.b) {
		return 0, errors.New("WKB is truncated")
	}
	v := bo.Uint32(r.b[r.pos:])
	r.pos += 4
	return v, nil
}

func coordsPerPoint(dims uint32) int {
	switch dims {
	case 1, 2:
		return 3
	case 3:
		return 4
	}
	return 2
}

// isCurveWKB reports whether b (ISO WKB) is one of the curve types.
func isCurveWKB(b []byte) bool {
	r := wkbReader{b: b}
	_, base, _, err := r.header()
	return err == nil && base >= wkbCircularString && base <= wkbMultiSurface
}

// linearWKB rewrites curve-typed WKB whose parts are all straight as the
// equivalent linear WKB (little-endian): CompoundCurve -> LineString,
// CurvePolygon -> Polygon, MultiCurve -> MultiLineString, MultiSurface ->
// MultiPolygon.
func linearWKB(b []byte) ([]byte, error) {
	r := &wkbReader{b: b}
	out, _, err := r.linear(nil, -1)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// linear reads one geometry and appends its linear form. want restricts
// what may appear (-1: anything); it returns the base type written.
func (r *wkbReader) linear(dst []byte, want int) ([]byte, uint32, error) {
	bo, base, dims, err := r.header()
	if err != nil {
		return nil, 0, err
	}
	switch base {
	case wkbCircularString:
		return nil, 0, errCircularArc
	case 2: // LineString
		pts, err := r.points(bo, dims)
		if err != nil {
			return nil, 0, err
		}
		return appendLineWKB(dst, dims, pts), 2, nil
	case wkbCompoundCurve:
		line, err := r.compound(bo, dims)
		if err != nil {
			return nil, 0, err
		}
		return appendLineWKB(dst, dims, line), 2, nil
	case 3, wkbCurvePolygon: // Polygon, CurvePolygon
		rings, err := r.rings(bo, dims, base == wkbCurvePolygon)
		if err != nil {
			return nil, 0, err
		}
		return appendPolygonWKB(dst, dims, rings), 3, nil
	case wkbMultiCurve, wkbMultiSurface:
		n, err := r.uint32(bo)
		if err != nil {
			return nil, 0, err
		}
		outType := uint32(5) // MultiLineString
		if base == wkbMultiSurface {
			outType = 6
		}
		dst = appendWKBHeader(dst, outType, dims)
		dst = binary.LittleEndian.AppendUint32(dst, n)
		for i := uint32(0); i < n; i++ {
			var t uint32
			if dst, t, err = r.linear(dst, -1); err != nil {
				return nil, 0, err
			}
			if t != outType-3 {
				return nil, 0, fmt.Errorf("a %s holds a part of WKB type %d", wkbTypeName(base), t)
			}
		}
		return dst, outType, nil
	}
	return nil, 0, fmt.Errorf("unsupported WKB type %d inside a curve geometry", base)
}

func wkbTypeName(base uint32) string {
	switch base {
	case wkbCompoundCurve:
		return "CompoundCurve"
	case wkbCurvePolygon:
		return "CurvePolygon"
	case wkbMultiCurve:
		return "MultiCurve"
	case wkbMultiSurface:
		return "MultiSurface"
	}
	return fmt.Sprintf("WKB type %d", base)
}

// points reads a point count and the points' coordinates.
func (r *wkbReader) points(bo binary.ByteOrder, dims uint32) ([]float64, error) {
	n, err := r.uint32(bo)
	if err != nil {
		return nil, err
	}
	k := coordsPerPoint(dims)
	if uint64(n)*uint64(k)*8 > uint64(len(r.b)-r.pos) {
		return nil, errors.New("WKB is truncated")
	}
	out := make([]float64, int(n)*k)
	for i := range out {
		out[i] = math.Float64frombits(bo.Uint64(r.b[r.pos:]))
		r.pos += 8
	}
	return out, nil
}

// compound reads the parts of a CompoundCurve and joins them into one
// line (each part starts where the previous one ended).
func (r *wkbReader) compound(bo binary.ByteOrder, dims uint32) ([]float64, error) {
	n, err := r.uint32(bo)
	if err != nil {
		return nil, err
	}
	k := coordsPerPoint(dims)
	var line []float64
	for i := uint32(0); i < n; i++ {
		pbo, base, pdims, err := r.header()
		if err != nil {
			return nil, err
		}
		if base == wkbCircularString {
			return nil, errCircularArc
		}
		if base != 2 || pdims != dims {
			return nil, fmt.Errorf("a CompoundCurve holds a part of WKB type %d", base)
		}
		pts, err := r.points(pbo, pdims)
		if err != nil {
			return nil, err
		}
		if len(line) >= k && len(pts) >= k {
			pts = pts[k:] // the joint is the previous part's last point
		}
		line = append(line, pts...)
	}
	return line, nil
}

// rings reads the rings of a Polygon or (curved) CurvePolygon.
func (r *wkbReader) rings(bo binary.ByteOrder, dims uint32, curved bool) ([][]float64, error) {
	n, err := r.uint32(bo)
	if err != nil {
		return nil, err
	}
	rings := make([][]float64, 0, n)
	for i := uint32(0); i < n; i++ {
		if !curved {
			pts, err := r.points(bo, dims)
			if err != nil {
				return nil, err
			}
			rings = append(rings, pts)
			continue
		}
		rbo, base, rdims, err := r.header()
		if err != nil {
			return nil, err
		}
		var pts []float64
		switch {
		case base == wkbCircularString:
			return nil, errCircularArc
		case rdims != dims:
			return nil, errors.New("a CurvePolygon's rings differ in dimension")
		case base == 2:
			pts, err = r.points(rbo, rdims)
		case base == wkbCompoundCurve:
			pts, err = r.compound(rbo, rdims)
		default:
			return nil, fmt.Errorf("a CurvePolygon holds a ring of WKB type %d", base)
		}
		if err != nil {
			return nil, err
		}
		rings = append(rings, pts)
	}
	return rings, nil
}

func appendWKBHeader(dst []byte, base, dims uint32) []byte {
	dst = append(dst, 1)
	return binary.LittleEndian.AppendUint32(dst, dims*1000+base)
}

func appendPoints(dst []byte, pts []float64, dims uint32) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(pts)/coordsPerPoint(dims)))
	for _, v := range pts {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

func appendLineWKB(dst []byte, dims uint32, pts []float64) []byte {
	return appendPoints(appendWKBHeader(dst, 2, dims), pts, dims)
}

func appendPolygonWKB(dst []byte, dims uint32, rings [][]float64) []byte {
	dst = appendWKBHeader(dst, 3, dims)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rings)))
	for _, r := range rings {
		dst = appendPoints(dst, r, dims)
	}
	return dst
}
