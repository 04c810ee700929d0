package etl

import (
	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
)

// transformGeometryZ converts every coordinate of a geometry that has
// heights: the height takes part in datum shifts (1.9 cm at 1,000 m in
// EPSG:27700) and is itself kept, as cs2cs keeps it for two-dimensional
// CRSs; M values stay too.
func transformGeometryZ(g geom.Geometry, t *crs.Transformer) (geom.Geometry, error) {
	var firstErr error
	seq := func(s geom.Sequence) geom.Sequence {
		ct := s.CoordinatesType()
		n := s.Length()
		flat := make([]float64, 0, n*ct.Dimension())
		for i := range n {
			c := s.Get(i)
			x, y, err := t.TransformZ(c.X, c.Y, c.Z)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			flat = append(flat, x, y)
			if ct.Is3D() {
				flat = append(flat, c.Z)
			}
			if ct.IsMeasured() {
				flat = append(flat, c.M)
			}
		}
		return geom.NewSequence(flat, ct)
	}
	line := func(l geom.LineString) geom.LineString { return geom.NewLineString(seq(l.Coordinates())) }
	poly := func(p geom.Polygon) geom.Polygon {
		rings := p.DumpRings()
		for i, r := range rings {
			rings[i] = line(r)
		}
		return geom.NewPolygon(rings).ForceCoordinatesType(p.CoordinatesType())
	}
	var walk func(g geom.Geometry) geom.Geometry
	walk = func(g geom.Geometry) geom.Geometry {
		switch g.Type() {
		case geom.TypePoint:
			p := g.MustAsPoint()
			c, ok := p.Coordinates()
			if !ok {
				return g
			}
			x, y, err := t.TransformZ(c.X, c.Y, c.Z)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			c.X, c.Y = x, y
			return geom.NewPoint(c).AsGeometry()
		case geom.TypeLineString:
			return line(g.MustAsLineString()).AsGeometry()
		case geom.TypePolygon:
			return poly(g.MustAsPolygon()).AsGeometry()
		case geom.TypeMultiPoint:
			pts := g.MustAsMultiPoint().Dump()
			for i, p := range pts {
				pts[i] = walk(p.AsGeometry()).MustAsPoint()
			}
			return geom.NewMultiPoint(pts).ForceCoordinatesType(g.CoordinatesType()).AsGeometry()
		case geom.TypeMultiLineString:
			ls := g.MustAsMultiLineString().Dump()
			for i, l := range ls {
				ls[i] = line(l)
			}
			return geom.NewMultiLineString(ls).ForceCoordinatesType(g.CoordinatesType()).AsGeometry()
		case geom.TypeMultiPolygon:
			ps := g.MustAsMultiPolygon().Dump()
			for i, p := range ps {
				ps[i] = poly(p)
			}
			return geom.NewMultiPolygon(ps).ForceCoordinatesType(g.CoordinatesType()).AsGeometry()
		case geom.TypeGeometryCollection:
			gs := g.MustAsGeometryCollection().Dump()
			for i, c := range gs {
				gs[i] = walk(c)
			}
			return geom.NewGeometryCollection(gs).ForceCoordinatesType(g.CoordinatesType()).AsGeometry()
		}
		return g
	}
	out := walk(g)
	return out, firstErr
}
