package etl

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"

	"github.com/geoetl/geoetl/etl/feature"
	"github.com/peterstace/simplefeatures/geom"
)

// Overlays, measurements and geometry operations on an invalid geometry
// (a bow-tie, a spike, a ring that crosses itself) return results that
// look plausible and are wrong: clipping a bow-tie returned nearly the
// whole clip box. Every such node therefore checks each geometry it is
// given and, per its invalidGeometry parameter, fails naming the feature
// (the default, as GEOS refuses these shapes), repairs it the way
// PostGIS's ST_MakeValid does, or skips the feature and counts it.

const (
	invalidError  = "error"
	invalidRepair = "repair"
	invalidSkip   = "skip"
)

// invalidGeometryParam is the parameter every node that computes with
// geometries takes.
var invalidGeometryParam = ParamSpec{
	Name: "invalidGeometry", Type: "string", Default: invalidError,
	Enum: []string{invalidError, invalidRepair, invalidSkip},
	Description: "What to do with an invalid input geometry (self-intersecting or unclosed ring, spike, hole outside its shell, overlapping parts): " +
		"error fails the run naming the feature and the reason; repair makes it valid as PostGIS's ST_MakeValid does (collapsed parts such as spikes are dropped); " +
		"skip leaves the feature out and counts it in the run summary (invalidSkipped).",
}

// withInvalidParam adds the invalidGeometry parameter to a node type.
func withInvalidParam(t *NodeType) *NodeType {
	t.Parameters = append(t.Parameters, invalidGeometryParam)
	return t
}

func invalidMode(p params) string {
	if m := p.str("invalidGeometry"); m != "" {
		return m
	}
	return invalidError
}

// validGeometry applies the node's invalidGeometry mode to g: it returns
// the geometry to use, or keep false when the feature is to be skipped.
// The error says why g is invalid; callers add which feature it was.
func (nc *nodeCtx) validGeometry(mode string, g geom.Geometry) (geom.Geometry, bool, error) {
	verr := g.Validate()
	if verr == nil {
		return g, true, nil
	}
	switch mode {
	case invalidSkip:
		nc.ns.invalidSkipped.Add(1)
		return g, false, nil
	case invalidRepair:
		r, err := repairGeometry(g)
		if err != nil {
			return g, false, fmt.Errorf("invalid geometry (%s) that cannot be repaired: %v", invalidReason(g, verr), err)
		}
		nc.ns.invalidRepaired.Add(1)
		return r, true, nil
	}
	return g, false, fmt.Errorf("invalid geometry: %s; set invalidGeometry to %q or %q to go on", invalidReason(g, verr), invalidRepair, invalidSkip)
}

// guardGeometry wraps a per-feature operation so that it only ever sees
// valid geometries.
func guardGeometry(mode string, fn func(nc *nodeCtx, f Feature) (Feature, bool, error)) func(nc *nodeCtx, f Feature) (Feature, bool, error) {
	return func(nc *nodeCtx, f Feature) (Feature, bool, error) {
		g, keep, err := nc.validGeometry(mode, f.Geometry)
		if err != nil || !keep {
			return f, false, err
		}
		return fn(nc, withGeometry(f, g))
	}
}

// logInvalid wraps a node's work to log how many invalid geometries it
// skipped or repaired.
func logInvalid(fn nodeFunc) nodeFunc {
	return func(ctx context.Context, nc *nodeCtx) error {
		s0, r0 := nc.ns.invalidSkipped.Load(), nc.ns.invalidRepaired.Load()
		err := fn(ctx, nc)
		if n := nc.ns.invalidSkipped.Load() - s0; n > 0 {
			nc.log("warn", "%d features with invalid geometries skipped", n)
		}
		if n := nc.ns.invalidRepaired.Load() - r0; n > 0 {
			nc.log("info", "%d invalid geometries repaired", n)
		}
		return err
	}
}

var sfLocation = regexp.MustCompile(`\(at or near \{([^ ]+) ([^}]+)\}\)`)

// invalidReason says why g is invalid, in the words GEOS uses where they
// differ, and where: for a ring that is not simple, the point where it
// touches or crosses itself rather than the ring's first vertex.
func invalidReason(g geom.Geometry, verr error) string {
	if xy, ok := selfIntersection(g); ok {
		return "self-intersection at " + fmtXY(xy)
	}
	return sfLocation.ReplaceAllString(verr.Error(), "at or near $1 $2")
}

func fmtXY(xy geom.XY) string {
	return strconv.FormatFloat(xy.X, 'g', -1, 64) + " " + strconv.FormatFloat(xy.Y, 'g', -1, 64)
}

// selfIntersection finds a point where a ring of a polygonal geometry
// touches or crosses itself.
func selfIntersection(g geom.Geometry) (geom.XY, bool) {
	var rings []geom.LineString
	switch g.Type() {
	case geom.TypePolygon:
		rings = g.MustAsPolygon().DumpRings()
	case geom.TypeMultiPolygon:
		mp := g.MustAsMultiPolygon()
		for i := 0; i < mp.NumPolygons(); i++ {
			rings = append(rings, mp.PolygonN(i).DumpRings()...)
		}
	case geom.TypeGeometryCollection:
		for _, part := range g.MustAsGeometryCollection().Dump() {
			if xy, ok := selfIntersection(part); ok {
				return xy, true
			}
		}
		return geom.XY{}, false
	default:
		return geom.XY{}, false
	}
	for _, r := range rings {
		xys := toXYs(dedupe(r.Coordinates()))
		if len(xys) < 4 || xys[0] != xys[len(xys)-1] {
			continue
		}
		if hits := ringSelfHits(xys, true); len(hits) > 0 {
			return hits[0].xy, true
		}
	}
	return geom.XY{}, false
}

// selfHit is a point where segment i of a ring meets segment j.
type selfHit struct {
	i, j int
	xy   geom.XY
}

// ringSelfHits returns where the segments of a closed ring (without
// repeated consecutive points) meet other than at the vertex two
// neighbours share, using a sweep over the segments' x extents so that
// large valid rings cost O(n log n). A spike (a segment doubling back over
// its neighbour) counts as a hit where the overlap ends. With first it stops
// at the first hit.
func ringSelfHits(ring []geom.XY, first bool) []selfHit {
	n := len(ring) - 1
	var hits []selfHit
	candidatePairs(ring, func(i, j int) {
		if first && len(hits) > 0 {
			return
		}
		lo, hi := min(i, j), max(i, j)
		var shared geom.XY
		adjacent := true
		switch {
		case hi == lo+1:
			shared = ring[hi]
		case lo == 0 && hi == n-1:
			shared = ring[0]
		default:
			adjacent = false
		}
		for _, p := range segmentIntersections(ring[lo], ring[lo+1], ring[hi], ring[hi+1]) {
			if adjacent && p == shared {
				continue
			}
			hits = append(hits, selfHit{i: lo, j: hi, xy: p})
			break
		}
	})
	return hits
}

// candidatePairs calls fn(i, j), i < j, for every pair of segments of a
// ring (segment k runs from ring[k] to ring[k+1]) whose bounding boxes
// meet: a sweep over the segments' x extents, so that a large ring costs
// O(n log n) plus the pairs it reports rather than O(n²).
func candidatePairs(ring []geom.XY, fn func(i, j int)) {
	n := len(ring) - 1
	if n < 2 {
		return
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	minX := func(i int) float64 { return math.Min(ring[i].X, ring[i+1].X) }
	maxX := func(i int) float64 { return math.Max(ring[i].X, ring[i+1].X) }
	sort.Slice(idx, func(a, b int) bool { return minX(idx[a]) < minX(idx[b]) })
	for a := 0; a < n; a++ {
		i := idx[a]
		for b := a + 1; b < n && minX(idx[b]) <= maxX(i); b++ {
			j := idx[b]
			if math.Max(ring[i].Y, ring[i+1].Y) < math.Min(ring[j].Y, ring[j+1].Y) ||
				math.Max(ring[j].Y, ring[j+1].Y) < math.Min(ring[i].Y, ring[i+1].Y) {
				continue
			}
			fn(min(i, j), max(i, j))
		}
	}
}

// checkFeature is validGeometry for nodes that read features themselves:
// what is the n-th feature (counted from 1) of the input called which
// ("feature", "overlay feature") in the error.
func (nc *nodeCtx) checkFeature(mode, which string, n int, f Feature) (geom.Geometry, bool, error) {
	g, keep, err := nc.validGeometry(mode, f.Geometry)
	if err != nil {
		return g, false, fmt.Errorf("%s %d%s: %w", which, n, feature.IDSuffix(f), err)
	}
	return g, keep, nil
}
