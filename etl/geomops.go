package etl

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/geoetl/geoetl/etl/crs"
)

// transformGeometry converts every coordinate of g (Z and M stay).
func transformGeometry(g geom.Geometry, t *crs.Transformer) (geom.Geometry, error) {
	if t.Identity() {
		return g, nil
	}
	if g.CoordinatesType().Is3D() {
		return transformGeometryZ(g, t)
	}
	var firstErr error
	out := g.TransformXY(func(xy geom.XY) geom.XY {
		x, y, err := t.Transform(xy.X, xy.Y)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return geom.XY{X: x, Y: y}
	})
	return out, firstErr
}

// circle returns a closed ring of 4*quadSegs vertices around c.
func circle(c geom.XY, r float64, quadSegs int) []float64 {
	n := 4 * quadSegs
	flat := make([]float64, 0, 2*(n+1))
	for i := 0; i < n; i++ {
		a := 2 * math.Pi * float64(i) / float64(n)
		flat = append(flat, c.X+r*math.Cos(a), c.Y+r*math.Sin(a))
	}
	return append(flat, flat[0], flat[1])
}

// capsule returns the counter-clockwise ring around segment a-b at
// distance r: two half circles joined by straight sides.
func capsule(a, b geom.XY, r float64, quadSegs int) []float64 {
	if a == b {
		return circle(a, r, quadSegs)
	}
	theta := math.Atan2(b.Y-a.Y, b.X-a.X)
	half := 2 * quadSegs
	flat := make([]float64, 0, 4*(half+1)+2)
	for i := 0; i <= half; i++ {
		ang := theta - math.Pi/2 + math.Pi*float64(i)/float64(half)
		flat = append(flat, b.X+r*math.Cos(ang), b.Y+r*math.Sin(ang))
	}
	for i := 0; i <= half; i++ {
		ang := theta + math.Pi/2 + math.Pi*float64(i)/float64(half)
		flat = append(flat, a.X+r*math.Cos(ang), a.Y+r*math.Sin(ang))
	}
	return append(flat, flat[0], flat[1])
}

func ringPolygon(flat []float64) geom.Geometry {
	return geom.NewPolygon([]geom.LineString{geom.NewLineString(geom.NewSequence(flat, geom.DimXY))}).AsGeometry()
}

// segmentCapsules returns the capsules of every segment of the sequences.
func segmentCapsules(seqs []geom.Sequence, r float64, quadSegs int) []geom.Geometry {
	var out []geom.Geometry
	for _, s := range seqs {
		n := s.Length()
		if n == 1 {
			out = append(out, ringPolygon(circle(s.GetXY(0), r, quadSegs)))
		}
		for i := 0; i+1 < n; i++ {
			out = append(out, ringPolygon(capsule(s.GetXY(i), s.GetXY(i+1), r, quadSegs)))
		}
	}
	return out
}

// bufferGeometry computes the buffer of g at distance d as the union of
// the capsules around every segment (the Minkowski sum with a disk,
// approximated by polygons of 4*quadSegs sides per circle), joined with
// the polygon interiors. A negative distance shrinks polygons by removing
// the capsules around their boundary; for points and lines it gives an
// empty polygon.
func bufferGeometry(g geom.Geometry, d float64, quadSegs int) (geom.Geometry, error) {
	empty := geom.Polygon{}.AsGeometry()
	if g.IsEmpty() {
		return empty, nil
	}
	switch g.Type() {
	case geom.TypePoint:
		if d <= 0 {
			return empty, nil
		}
		xy, _ := g.MustAsPoint().XY()
		return ringPolygon(circle(xy, d, quadSegs)), nil
	case geom.TypeMultiPoint, geom.TypeLineString, geom.TypeMultiLineString:
		if d <= 0 {
			return empty, nil
		}
		return unionAll(segmentCapsules(sequencesOf(g), d, quadSegs))
	case geom.TypePolygon, geom.TypeMultiPolygon:
		if d == 0 {
			return geom.UnaryUnion(g)
		}
		caps := segmentCapsules(sequencesOf(g.Boundary()), math.Abs(d), quadSegs)
		if d > 0 {
			return unionAll(append(caps, g))
		}
		ring, err := unionAll(caps)
		if err != nil {
			return geom.Geometry{}, err
		}
		return geom.Difference(g, ring)
	case geom.TypeGeometryCollection:
		var parts []geom.Geometry
		for _, part := range g.MustAsGeometryCollection().Dump() {
			b, err := bufferGeometry(part, d, quadSegs)
			if err != nil {
				return geom.Geometry{}, err
			}
			parts = append(parts, b)
		}
		return unionAll(parts)
	}
	return geom.Geometry{}, fmt.Errorf("cannot buffer a %s", g.Type())
}

// sequencesOf returns the coordinate sequences of points and lines (each
// point as a one-element sequence).
func sequencesOf(g geom.Geometry) []geom.Sequence {
	var out []geom.Sequence
	switch g.Type() {
	case geom.TypePoint:
		if xy, ok := g.MustAsPoint().XY(); ok {
			out = append(out, geom.NewSequence([]float64{xy.X, xy.Y}, geom.DimXY))
		}
	case geom.TypeMultiPoint:
		mp := g.MustAsMultiPoint()
		for i := 0; i < mp.NumPoints(); i++ {
			if xy, ok := mp.PointN(i).XY(); ok {
				out = append(out, geom.NewSequence([]float64{xy.X, xy.Y}, geom.DimXY))
			}
		}
	case geom.TypeLineString:
		out = append(out, g.MustAsLineString().Coordinates())
	case geom.TypeMultiLineString:
		mls := g.MustAsMultiLineString()
		for i := 0; i < mls.NumLineStrings(); i++ {
			out = append(out, mls.LineStringN(i).Coordinates())
		}
	case geom.TypeGeometryCollection:
		for _, part := range g.Dump() {
			out = append(out, sequencesOf(part)...)
		}
	}
	return out
}

// errCannotRepair is returned when repair does not yield a valid geometry.
var errCannotRepair = errors.New("geometry could not be repaired")

// repairGeometry makes an invalid geometry valid the way GEOS's MakeValid
// (PostGIS's ST_MakeValid, "linework" method) does for areas: the rings of
// a polygon or multipolygon are split at their self-intersections into
// simple loops, and the area is rebuilt from all loops with the even-odd
// rule (a point is inside when an odd number of loops surround it). So a
// bow-tie becomes two triangles, a hole outside its shell a second
// polygon, a shell nested in another a hole, and the overlap of two
// multipolygon parts is left out, as ST_MakeValid leaves it. Unlike
// ST_MakeValid, parts that collapse to lines or points (spikes, zero-area
// rings) are dropped rather than returned in a collection, so the result
// keeps its dimension; lines and points lose repeated or degenerate parts.
func repairGeometry(g geom.Geometry) (geom.Geometry, error) {
	if g.Validate() == nil {
		return g, nil
	}
	var out geom.Geometry
	var err error
	switch g.Type() {
	case geom.TypePolygon:
		out, err = repairRings(g.MustAsPolygon().DumpRings())
	case geom.TypeMultiPolygon:
		mp := g.MustAsMultiPolygon()
		var rings []geom.LineString
		for i := 0; i < mp.NumPolygons(); i++ {
			rings = append(rings, mp.PolygonN(i).DumpRings()...)
		}
		out, err = repairRings(rings)
	case geom.TypeLineString:
		s := dedupe(g.MustAsLineString().Coordinates())
		if len(s) < 4 {
			out = geom.LineString{}.AsGeometry()
		} else {
			out = geom.NewLineString(geom.NewSequence(s, geom.DimXY)).AsGeometry()
		}
	case geom.TypeMultiLineString:
		mls := g.MustAsMultiLineString()
		var lss []geom.LineString
		for i := 0; i < mls.NumLineStrings(); i++ {
			s := dedupe(mls.LineStringN(i).Coordinates())
			if len(s) >= 4 {
				lss = append(lss, geom.NewLineString(geom.NewSequence(s, geom.DimXY)))
			}
		}
		out = geom.NewMultiLineString(lss).AsGeometry()
	case geom.TypeGeometryCollection:
		var parts []geom.Geometry
		for _, part := range g.Dump() {
			p, err := repairGeometry(part)
			if err != nil {
				return geom.Geometry{}, err
			}
			parts = append(parts, p)
		}
		out = geom.NewGeometryCollection(parts).AsGeometry()
	default:
		// Points fail validation only for NaN or infinite coordinates,
		// which no repair can fix.
		return geom.Geometry{}, fmt.Errorf("%w: %v", errCannotRepair, g.Validate())
	}
	if err != nil {
		return geom.Geometry{}, fmt.Errorf("%w: %v", errCannotRepair, err)
	}
	if verr := out.Validate(); verr != nil {
		return geom.Geometry{}, fmt.Errorf("%w: %v", errCannotRepair, verr)
	}
	return out, nil
}

// dedupe returns the XY coordinates of s without consecutive repeats, as a
// flat list.
func dedupe(s geom.Sequence) []float64 {
	var flat []float64
	for i := 0; i < s.Length(); i++ {
		xy := s.GetXY(i)
		if math.IsNaN(xy.X) || math.IsNaN(xy.Y) || math.IsInf(xy.X, 0) || math.IsInf(xy.Y, 0) {
			continue
		}
		if n := len(flat); n >= 2 && flat[n-2] == xy.X && flat[n-1] == xy.Y {
			continue
		}
		flat = append(flat, xy.X, xy.Y)
	}
	return flat
}

func repairRings(rings []geom.LineString) (geom.Geometry, error) {
	var loops []geom.Geometry
	for _, ring := range rings {
		flat := dedupe(ring.Coordinates())
		if n := len(flat); n >= 2 && (flat[0] != flat[n-2] || flat[1] != flat[n-1]) {
			flat = append(flat, flat[0], flat[1]) // close an open ring
		}
		if len(flat) < 8 {
			continue // fewer than three distinct points
		}
		for _, loop := range simpleLoops(toXYs(flat)) {
			if len(loop) < 4 || math.Abs(ringArea(loop)) < 1e-300 {
				continue
			}
			loops = append(loops, ringPolygon(fromXYs(loop)))
		}
	}
	if len(loops) == 0 {
		return geom.Polygon{}.AsGeometry(), nil
	}
	// The symmetric difference is associative, so a balanced tree of
	// pairs keeps the number of overlay passes per loop logarithmic.
	for len(loops) > 1 {
		next := make([]geom.Geometry, 0, (len(loops)+1)/2)
		for i := 0; i+1 < len(loops); i += 2 {
			x, err := geom.SymmetricDifference(loops[i], loops[i+1])
			if err != nil {
				return geom.Geometry{}, err
			}
			next = append(next, x)
		}
		if len(loops)%2 == 1 {
			next = append(next, loops[len(loops)-1])
		}
		loops = next
	}
	return loops[0], nil
}

func toXYs(flat []float64) []geom.XY {
	out := make([]geom.XY, len(flat)/2)
	for i := range out {
		out[i] = geom.XY{X: flat[2*i], Y: flat[2*i+1]}
	}
	return out
}

func fromXYs(xys []geom.XY) []float64 {
	out := make([]float64, 0, 2*len(xys))
	for _, p := range xys {
		out = append(out, p.X, p.Y)
	}
	return out
}

func ringArea(r []geom.XY) float64 {
	a := 0.0
	for i := 0; i+1 < len(r); i++ {
		a += r[i].X*r[i+1].Y - r[i+1].X*r[i].Y
	}
	return a / 2
}

// simpleLoops nodes a closed ring at its self-intersections and cuts it
// into loops that do not cross themselves.
func simpleLoops(ring []geom.XY) [][]geom.XY {
	n := len(ring) - 1 // segments
	cuts := make([][]struct {
		t  float64
		xy geom.XY
	}, n)
	candidatePairs(ring, func(i, j int) {
		// Neighbouring segments meet at their shared vertex; any other
		// point they have in common (one doubling back over the
		// other) is a node like any crossing.
		shared, adjacent := ring[j], j == i+1
		if i == 0 && j == n-1 {
			shared, adjacent = ring[0], true
		}
		for _, hit := range segmentIntersections(ring[i], ring[i+1], ring[j], ring[j+1]) {
			if adjacent && hit == shared {
				continue
			}
			cuts[i] = append(cuts[i], struct {
				t  float64
				xy geom.XY
			}{param(ring[i], ring[i+1], hit), hit})
			cuts[j] = append(cuts[j], struct {
				t  float64
				xy geom.XY
			}{param(ring[j], ring[j+1], hit), hit})
		}
	})
	var noded []geom.XY
	for i := 0; i < n; i++ {
		noded = append(noded, ring[i])
		sort.Slice(cuts[i], func(a, b int) bool { return cuts[i][a].t < cuts[i][b].t })
		for _, c := range cuts[i] {
			if c.xy != noded[len(noded)-1] && c.xy != ring[i+1] {
				noded = append(noded, c.xy)
			}
		}
	}
	noded = append(noded, ring[0])
	var loops [][]geom.XY
	var stack []geom.XY
	pos := map[geom.XY]int{}
	for _, p := range noded {
		if j, ok := pos[p]; ok {
			loop := append(append([]geom.XY{}, stack[j:]...), p)
			loops = append(loops, loop)
			for _, q := range stack[j+1:] {
				delete(pos, q)
			}
			stack = stack[:j+1]
			continue
		}
		pos[p] = len(stack)
		stack = append(stack, p)
	}
	return loops
}

func param(a, b, p geom.XY) float64 {
	dx, dy := b.X-a.X, b.Y-a.Y
	if math.Abs(dx) >= math.Abs(dy) {
		if dx == 0 {
			return 0
		}
		return (p.X - a.X) / dx
	}
	return (p.Y - a.Y) / dy
}

// segmentIntersections returns the points where segments a-b and c-d
// meet: one point for a crossing or touch, the overlap's ends for
// collinear overlapping segments.
func segmentIntersections(a, b, c, d geom.XY) []geom.XY {
	r := geom.XY{X: b.X - a.X, Y: b.Y - a.Y}
	s := geom.XY{X: d.X - c.X, Y: d.Y - c.Y}
	den := r.X*s.Y - r.Y*s.X
	qp := geom.XY{X: c.X - a.X, Y: c.Y - a.Y}
	if den == 0 {
		if qp.X*r.Y-qp.Y*r.X != 0 {
			return nil // parallel
		}
		var out []geom.XY
		for _, p := range []geom.XY{a, b} {
			if onSegment(c, d, p) {
				out = append(out, p)
			}
		}
		for _, p := range []geom.XY{c, d} {
			if onSegment(a, b, p) {
				out = append(out, p)
			}
		}
		return out
	}
	t := (qp.X*s.Y - qp.Y*s.X) / den
	u := (qp.X*r.Y - qp.Y*r.X) / den
	if t < 0 || t > 1 || u < 0 || u > 1 {
		return nil
	}
	switch {
	case t == 0:
		return []geom.XY{a}
	case t == 1:
		return []geom.XY{b}
	case u == 0:
		return []geom.XY{c}
	case u == 1:
		return []geom.XY{d}
	}
	return []geom.XY{{X: a.X + t*r.X, Y: a.Y + t*r.Y}}
}

func onSegment(a, b, p geom.XY) bool {
	return p.X >= math.Min(a.X, b.X) && p.X <= math.Max(a.X, b.X) && p.Y >= math.Min(a.Y, b.Y) && p.Y <= math.Max(a.Y, b.Y)
}

// unionAll merges geometries by pairwise unions in a balanced tree.
// simplefeatures' UnionMany (v0.50.0) drops an input polygon that exactly
// fills a hole enclosed by the other inputs, as a buffer's interior does,
// while its binary Union handles that case; the tree keeps the number of
// overlay passes per geometry logarithmic.
func unionAll(gs []geom.Geometry) (geom.Geometry, error) {
	if len(gs) == 0 {
		return geom.Polygon{}.AsGeometry(), nil
	}
	level := append([]geom.Geometry(nil), gs...)
	for len(level) > 1 {
		next := make([]geom.Geometry, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			u, err := geom.Union(level[i], level[i+1])
			if err != nil {
				return geom.Geometry{}, err
			}
			next = append(next, u)
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	if len(gs) == 1 {
		return geom.UnaryUnion(level[0])
	}
	return level[0], nil
}
