package crs

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

const wgs84Datum = "EPSG:6326"

// step is one transformation between two geographic CRSs, applied to
// Greenwich longitudes (so a longitude rotation between prime meridians
// is already done and has no step).
type step struct {
	op      *opDef
	inverse bool
	h       *helmert
	grid    *ntv2File
	offset  bool    // geographic offsets from op.helmert[0:2]
	rot     float64 // longitude shift (radians) of a longitude rotation
}

// path is one candidate datum transformation: one or two steps (through
// an intermediate CRS), or none for PROJ's "ballpark" no-shift fallback.
type path struct {
	name     string
	steps    []step
	areas    [][4]float64
	accuracy float64 // metres; -1 when unknown
	ballpark bool
	grids    bool
	sortArea float64
	offshore bool
	null     bool // every step is a Helmert with all parameters zero
}

func (p *path) contains(lonDeg, latDeg float64) bool {
	for _, a := range p.areas {
		if !areaContains(a, lonDeg, latDeg) {
			return false
		}
	}
	return true
}

func areaContains(a [4]float64, lon, lat float64) bool {
	if lat < a[1] || lat > a[3] {
		return false
	}
	if a[0] <= a[2] {
		return lon >= a[0] && lon <= a[2]
	}
	return lon >= a[0] || lon <= a[2] // across the antimeridian
}

func areaContainsArea(outer, inner [4]float64) bool {
	if inner[1] < outer[1] || inner[3] > outer[3] {
		return false
	}
	if outer[0] <= outer[2] && inner[0] <= inner[2] {
		return inner[0] >= outer[0] && inner[2] <= outer[2]
	}
	if outer[0] > outer[2] && inner[0] <= inner[2] {
		return inner[0] >= outer[0] || inner[2] <= outer[2]
	}
	return outer[0] > outer[2] && inner[0] >= outer[0] && inner[2] <= outer[2]
}

// pseudoArea is PROJ's measure of an area of use: its width in longitude
// times the integral of cos(latitude) over its height.
func pseudoArea(a [4]float64) float64 {
	w := a[2] - a[0]
	if w < 0 {
		w += 360
	}
	if a[3] < a[1] {
		return 0
	}
	return w * (math.Sin(a[3]*deg) - math.Sin(a[1]*deg))
}

// apply runs the steps on Greenwich geodetic coordinates (radians).
func (p *path) apply(lon, lat, z float64) (float64, float64, bool) {
	for _, s := range p.steps {
		switch {
		case s.h != nil && !s.inverse:
			lon, lat = s.h.forward(lon, lat, z)
		case s.h != nil:
			lon, lat = s.h.inverse(lon, lat, z)
		case s.rot != 0:
			if s.inverse {
				lon -= s.rot
			} else {
				lon += s.rot
			}
		case s.offset:
			dlat, dlon := s.op.helmert[0]*arcsec, s.op.helmert[1]*arcsec
			if s.inverse {
				dlat, dlon = -dlat, -dlon
			}
			lon, lat = lon+dlon, lat+dlat
		case s.grid != nil:
			var ok bool
			if s.inverse {
				lon, lat, ok = s.grid.inverse(lon, lat)
			} else {
				lon, lat, ok = s.grid.forward(lon, lat)
			}
			if !ok {
				return 0, 0, false
			}
		}
	}
	return lon, lat, true
}

// Transformer converts coordinates from one CRS to another. It is safe
// for concurrent use.
type Transformer struct {
	from, to     *CRS
	identity     bool
	paths        []*path // nil when the datums are the same
	fallback     *path   // for points outside every candidate's area
	srcPM, dstPM float64 // radians
	note         string
	// srcBoxes holds, for a projected source, each path's area of use as
	// a box in the source's easting and northing, as PROJ computes it.
	srcBoxes [][4]float64
}

// NewTransformer returns a transformer between two CRS ids (EPSG codes or
// ids from Parse).
func NewTransformer(from, to int) (*Transformer, error) {
	f, err := Lookup(from)
	if err != nil {
		return nil, err
	}
	t, err := Lookup(to)
	if err != nil {
		return nil, err
	}
	return newTransformer(f, t)
}

func newTransformer(f, t *CRS) (*Transformer, error) {
	tr := &Transformer{from: f, to: t, srcPM: f.geog.datum.pm.lon * deg, dstPM: t.geog.datum.pm.lon * deg}
	if f == t || f.Code == t.Code && f.Code != 0 {
		tr.identity = true
		return tr, nil
	}
	r, err := db()
	if err != nil {
		return nil, err
	}
	paths, notes := r.candidates(f, t)
	tr.paths = paths
	if paths != nil {
		for _, p := range paths {
			if !p.grids {
				tr.fallback = p
				break
			}
		}
		if tr.fallback == nil {
			tr.fallback = paths[0]
		}
	}
	if f.proj != nil {
		for _, p := range paths {
			tr.srcBoxes = append(tr.srcBoxes, projectedBox(f, p.extent()))
		}
	}
	tr.identity = paths == nil && f.proj == nil && t.proj == nil && f.unit == t.unit && tr.srcPM == tr.dstPM
	if len(notes) > 0 {
		tr.note = fmt.Sprintf("%s to %s: %s", f, t, strings.Join(notes, "; "))
	}
	return tr, nil
}

// Note returns what the caller should log about the datum transformation
// chosen, such as a grid that is not installed and what is used instead,
// or points that will not be shifted; "" when there is nothing to say.
func (t *Transformer) Note() string { return t.note }

// Identity reports whether the transformer leaves coordinates unchanged.
func (t *Transformer) Identity() bool { return t.identity }

// Transform converts one coordinate at height zero.
func (t *Transformer) Transform(x, y float64) (float64, float64, error) {
	return t.TransformZ(x, y, 0)
}

// TransformZ converts one coordinate; the height (metres above the
// source ellipsoid) takes part in datum shifts and is not changed, as
// cs2cs does with two-dimensional CRSs.
func (t *Transformer) TransformZ(x, y, z float64) (float64, float64, error) {
	if t.identity {
		return x, y, nil
	}
	var lon, lat, e, n float64
	if p := t.from.proj; p != nil {
		var ok bool
		e, n = t.from.fromAxes(x, y)
		if lon, lat, ok = p.inverse(e, n); !ok || math.IsNaN(lon) || math.IsNaN(lat) {
			return 0, 0, fmt.Errorf("%w: (%g, %g) in %s", ErrOutOfDomain, x, y, t.from)
		}
	} else {
		lon, lat = x*t.from.unit, y*t.from.unit
		if math.Abs(lat) > math.Pi/2+1e-12 || math.IsNaN(lon) || math.IsInf(lon, 0) || math.IsNaN(lat) {
			return 0, 0, fmt.Errorf("%w: latitude %g in %s", ErrOutOfDomain, y, t.from)
		}
	}
	lon += t.srcPM
	if t.paths != nil {
		var ok bool
		if lon, lat, ok = t.shift(lon, lat, z, e, n); !ok {
			return 0, 0, fmt.Errorf("%w: (%g, %g) from %s to %s: outside the datum transformation's grid", ErrOutOfDomain, x, y, t.from, t.to)
		}
	}
	lon -= t.dstPM
	if p := t.to.proj; p != nil {
		ox, oy, ok := p.forward(lon, lat)
		if !ok || math.IsNaN(ox) || math.IsNaN(oy) {
			return 0, 0, fmt.Errorf("%w: (%g, %g) to %s", ErrOutOfDomain, x, y, t.to)
		}
		ox, oy = t.to.toAxes(ox, oy)
		return ox, oy, nil
	}
	return normalizeLon(lon) / t.to.unit, lat / t.to.unit, nil
}

// suggest picks the datum transformation for one point as proj_trans
// does: among the candidates whose area of use contains it (in the source
// CRS's coordinates: e and n for a projected one), the most accurate one,
// a later one of the same accuracy replacing it when its area lies
// strictly within the former's on all four sides (what cs2cs of PROJ 9.1
// does: a sharing edge keeps the first), offshore ones only when nothing
// else fits; -1 if none.
func (t *Transformer) suggest(ld, pd, e, n float64, excluded [2]int) int {
	best := -1
	bestAcc := math.MaxFloat64
	projected := t.from.proj != nil
	var bb [4]float64
	for i, p := range t.paths {
		if i == excluded[0] || i == excluded[1] {
			continue
		}
		var b [4]float64
		if projected {
			b = t.srcBoxes[i]
			if e < b[0] || e > b[2] || n < b[1] || n > b[3] {
				continue
			}
		} else {
			b = p.extent()
			if !p.contains(ld, pd) {
				continue
			}
		}
		inside := b[0] > bb[0] && b[1] > bb[1] && b[2] < bb[2] && b[3] < bb[3]
		if best < 0 || p.accuracy >= 0 && (p.accuracy < bestAcc || p.accuracy == bestAcc && inside) && !p.offshore {
			best, bestAcc, bb = i, p.accuracy, b
		}
	}
	return best
}

// shift applies the datum transformation proj_trans would use for one
// point: the suggested one, another if a grid does not cover the point
// (twice at most), else the first candidate that needs no grid.
func (t *Transformer) shift(lon, lat, z, e, n float64) (float64, float64, bool) {
	ld, pd := normalizeLon(lon)/deg, lat/deg
	excluded := [2]int{-1, -1}
	for try := 0; try <= 2; try++ {
		i := t.suggest(ld, pd, e, n, excluded)
		if i < 0 {
			break
		}
		if olon, olat, ok := t.paths[i].apply(lon, lat, z); ok {
			return olon, olat, true
		}
		if try == 2 {
			break
		}
		excluded[try] = i
	}
	return t.fallback.apply(lon, lat, z)
}

// datumOf returns the datum code of a geographic CRS reference.
func (r *registry) datumOf(ref string) string {
	if g, ok := r.geogs[ref]; ok {
		return g.datum.code
	}
	return ""
}

// opsFrom returns the database transformations from a datum, each with
// the direction that starts there.
func (r *registry) opsFrom(datum string) []step {
	var out []step
	for _, o := range r.opsByDatum[datum] {
		out = append(out, step{op: o, inverse: r.datumOf(o.src) != datum})
	}
	return out
}

func (r *registry) otherEnd(s step) string {
	if s.inverse {
		return r.datumOf(s.op.src)
	}
	return r.datumOf(s.op.tgt)
}

// expand turns a step into the steps that compute it: itself, or the
// parts of a concatenated operation, each in the direction that chains
// from the given datum.
func (r *registry) expand(s step, from string) ([]step, bool) {
	if s.op.kind != opConcat {
		return []step{s}, true
	}
	refs := append([]string{}, s.op.grids...)
	if s.inverse {
		for i, j := 0, len(refs)-1; i < j; i, j = i+1, j-1 {
			refs[i], refs[j] = refs[j], refs[i]
		}
	}
	var out []step
	cur := from
	for _, ref := range refs {
		o := r.opByRef[ref]
		if o == nil {
			return nil, false
		}
		sd, td := r.datumOf(o.src), r.datumOf(o.tgt)
		var st step
		switch cur {
		case sd:
			st, cur = step{op: o}, td
		case td:
			st, cur = step{op: o, inverse: true}, sd
		default:
			return nil, false
		}
		sub, ok := r.expand(st, r.otherStart(st))
		if !ok {
			return nil, false
		}
		out = append(out, sub...)
	}
	return out, true
}

func (r *registry) otherStart(s step) string {
	if s.inverse {
		return r.datumOf(s.op.tgt)
	}
	return r.datumOf(s.op.src)
}

// candidates returns the datum transformations PROJ would consider
// between two CRSs, sorted as PROJ sorts them, and notes for the log;
// nil paths mean the datums are the same.
func (r *registry) candidates(f, t *CRS) ([]*path, []string) {
	var notes []string
	var paths []*path
	switch {
	case f.towgs84 != nil || t.towgs84 != nil:
		// A definition with its own TOWGS84 goes through WGS 84, as PROJ
		// does with a bound CRS.
		src := r.towgs84Paths(f, false, &notes)
		dst := r.towgs84Paths(t, true, &notes)
		for _, a := range src {
			for _, b := range dst {
				paths = append(paths, joinPaths(a, b))
			}
		}
		if len(paths) == 0 {
			return []*path{ballpark()}, append(notes, "no datum transformation: coordinates are not shifted (ballpark), as PROJ does")
		}
		sortPaths(paths)
		return paths, notes
	}
	sd, td := f.geog.datum.code, t.geog.datum.code
	if sd == td {
		return nil, nil
	}
	paths = r.datumPaths(sd, td, f, t, &notes)
	return paths, notes
}

func joinPaths(a, b *path) *path {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	p := &path{name: a.name + " + " + b.name, steps: append(append([]step{}, a.steps...), b.steps...),
		areas: append(append([][4]float64{}, a.areas...), b.areas...), grids: a.grids || b.grids, ballpark: a.ballpark && b.ballpark}
	p.accuracy = a.accuracy + b.accuracy
	if a.accuracy < 0 || b.accuracy < 0 {
		p.accuracy = -1
	}
	return p
}

// towgs84Paths returns the ways from a CRS to WGS 84 (or back when
// reverse is set): its own TOWGS84, nothing when it is on WGS 84, or the
// database's transformations.
func (r *registry) towgs84Paths(c *CRS, reverse bool, notes *[]string) []*path {
	wgs := r.geogs["EPSG:4326"].datum.ell.ellipsoid()
	if c.towgs84 != nil {
		var p [10]float64
		copy(p[:], c.towgs84[:])
		h := newHelmert(c.geog.datum.ell.ellipsoid(), wgs, p)
		return []*path{{name: "TOWGS84 of " + c.Name, steps: []step{{h: h, inverse: reverse}}, accuracy: -1, areas: [][4]float64{{-180, -90, 180, 90}}}}
	}
	if c.geog.datum.code == wgs84Datum {
		return []*path{nil}
	}
	w := &CRS{Name: "WGS 84", geog: r.geogs["EPSG:4326"], area: [4]float64{-180, -90, 180, 90}}
	if reverse {
		return r.datumPaths(wgs84Datum, c.geog.datum.code, w, c, notes)
	}
	return r.datumPaths(c.geog.datum.code, wgs84Datum, c, w, notes)
}

func ballpark() *path {
	return &path{name: "ballpark (no datum shift)", ballpark: true, accuracy: -1, areas: [][4]float64{{-180, -90, 180, 90}}}
}

// datumPaths finds the transformations between two datums as PROJ does
// for cs2cs: direct ones, else through one intermediate datum; superseded
// ones and ones whose grid is missing dropped, as are ones whose area of
// use misses the area of interest (the smaller of the two CRSs' areas);
// sorted as PROJ sorts them; a ballpark no-shift fallback last unless a
// candidate without grids covers the area of interest.
func (r *registry) datumPaths(sd, td string, f, t *CRS, notes *[]string) []*path {
	aoi := f.area
	if pseudoArea(t.area) < pseudoArea(aoi) {
		aoi = t.area
	}
	from := r.opsFrom(sd)
	var raw [][]step
	for _, s := range from {
		if r.otherEnd(s) == td {
			raw = append(raw, []step{s})
		}
	}
	if len(raw) == 0 {
		for _, s1 := range from {
			mid := r.otherEnd(s1)
			if mid == sd || mid == td {
				continue
			}
			for _, s2 := range r.opsFrom(mid) {
				if s2.op != s1.op && r.otherEnd(s2) == td {
					raw = append(raw, []step{s1, s2})
				}
			}
			if len(raw) > 2000 {
				break
			}
		}
	}
	// PROJ drops superseded operations when what supersedes them is among
	// the candidates left after those with missing grids are discarded.
	present := map[string]bool{}
	for _, steps := range raw {
		usable := true
		for _, s := range steps {
			if atoms, ok := r.expand(s, ""); ok || s.op.kind != opConcat {
				for _, a := range atoms {
					if a.op.kind == opGrid || a.op.kind == opGridReversed {
						if _, g, _ := findGrid(a.op.grids); g == nil {
							usable = false
						}
					}
				}
			}
		}
		if usable {
			for _, s := range steps {
				present[s.op.ref] = true
			}
		}
	}
	var paths []*path
	var missing []string
	bestMissing := math.Inf(1)
next:
	for _, top := range raw {
		p := &path{}
		var names []string
		cur := sd
		for _, s := range top {
			for _, sup := range s.op.supersededBy {
				if present[sup] {
					continue next
				}
			}
			atoms, ok := r.expand(s, cur)
			if !ok {
				continue next
			}
			cur = r.otherEnd(s)
			acc := s.op.accuracy
			sum := 0.0
			for i, a := range atoms {
				o := a.op
				switch o.kind {
				case opHelmert, opGeocentric:
					src, dst := r.geogs[o.src].datum.ell.ellipsoid(), r.geogs[o.tgt].datum.ell.ellipsoid()
					atoms[i].h = newHelmert(src, dst, o.helmert)
				case opOffset:
					atoms[i].offset = true
				case opLonRot:
					// The rotation the operation states, less the prime
					// meridians' difference, shifts Greenwich longitudes
					// (0 when they agree, 0.0039° for MGI (Ferro)).
					d := o.helmert[0] + r.geogs[o.tgt].datum.pm.lon - r.geogs[o.src].datum.pm.lon
					if d != 0 {
						atoms[i].rot = d * deg
					}
				case opGrid, opGridReversed:
					gpath, g, err := findGrid(o.grids)
					if g == nil {
						why := "not installed"
						if errors.Is(err, errGeoTIFFGrid) {
							why = "only in GeoTIFF form at " + gpath + ", which this engine does not read"
						} else if err != nil {
							why = "unreadable: " + err.Error()
						}
						missing = append(missing, fmt.Sprintf("grid %s for %q (%s) is %s", o.grids[len(o.grids)-1], s.op.name, accuracyText(s.op.accuracy), why))
						if s.op.accuracy >= 0 {
							bestMissing = math.Min(bestMissing, s.op.accuracy)
						}
						continue next
					}
					atoms[i].grid = g
					if o.kind == opGridReversed {
						atoms[i].inverse = !atoms[i].inverse
					}
					p.grids = true
				}
				if o.accuracy < 0 || sum < 0 {
					sum = -1
				} else {
					sum += o.accuracy
				}
			}
			if acc < 0 {
				acc = sum
			}
			names = append(names, opLabel(s))
			p.areas = append(p.areas, s.op.area)
			p.offshore = p.offshore || s.op.offshore

			p.steps = append(p.steps, atoms...)
			if acc < 0 || p.accuracy < 0 {
				p.accuracy = -1
			} else {
				p.accuracy += acc
			}
		}
		p.name = strings.Join(names, " + ")
		p.null = len(p.steps) > 0
		for _, a := range p.steps {
			if a.h == nil || a.op.helmert != [10]float64{} {
				p.null = false
			}
		}
		if !intersects(p.extent(), aoi) {
			continue
		}
		p.sortArea = pseudoArea(intersection(p.extent(), aoi))
		paths = append(paths, p)
	}
	sortPaths(paths)
	paths = removeUninteresting(paths)
	coversAOI := false
	for _, p := range paths {
		if !p.grids && areaContainsArea(p.extent(), aoi) {
			coversAOI = true
		}
	}
	switch {
	case len(paths) == 0:
		*notes = append(*notes, fmt.Sprintf("no usable transformation between datums %s and %s in PROJ's database: coordinates are not shifted between them (ballpark, errors up to hundreds of metres), as PROJ does", r.datumName(sd), r.datumName(td)))
		paths = []*path{ballpark()}
	case !coversAOI:
		*notes = append(*notes, fmt.Sprintf("points outside the area of use of %s are not shifted between datums (ballpark), as PROJ does", paths[0].name))
		paths = append(paths, ballpark())
	}
	if len(missing) > 0 {
		best := -1.0
		for _, p := range paths {
			if p.accuracy >= 0 && (best < 0 || p.accuracy < best) {
				best = p.accuracy
			}
		}
		if best < 0 || bestMissing < best {
			*notes = append(*notes, strings.Join(missing, "; ")+fmt.Sprintf(" (looked in %s); using the best transformation available instead, as PROJ does without the grid", strings.Join(gridDirs(), ", ")))
		}
	}
	return paths
}

// removeUninteresting drops, as PROJ does, a candidate that follows one
// with the same area of use and a better or equal accuracy in fewer steps.
func removeUninteresting(ps []*path) []*path {
	var out []*path
	var last *path
	for _, p := range ps {
		if last != nil {
			same := areaContainsArea(p.extent(), last.extent()) && areaContainsArea(last.extent(), p.extent())
			worse := p.accuracy >= last.accuracy && last.accuracy >= 0 || p.accuracy < 0 && last.accuracy >= 0
			if same && worse && len(p.steps) > len(last.steps) {
				continue
			}
		}
		out = append(out, p)
		last = p
	}
	return out
}

// extent is the intersection of the path's areas of use.
func (p *path) extent() [4]float64 {
	if len(p.areas) == 0 {
		return [4]float64{-180, -90, 180, 90}
	}
	e := p.areas[0]
	for _, a := range p.areas[1:] {
		e = intersection(e, a)
	}
	return e
}

func intersects(a, b [4]float64) bool {
	if a[1] > b[3] || b[1] > a[3] {
		return false
	}
	if a[0] > a[2] || b[0] > b[2] {
		return true // across the antimeridian: keep it simple, as the latitude test passed
	}
	return a[0] <= b[2] && b[0] <= a[2]
}

func intersection(a, b [4]float64) [4]float64 {
	if a[0] > a[2] || b[0] > b[2] {
		if a[0] > a[2] {
			return b
		}
		return a
	}
	return [4]float64{math.Max(a[0], b[0]), math.Max(a[1], b[1]), math.Min(a[2], b[2]), math.Min(a[3], b[3])}
}

func (r *registry) datumName(code string) string {
	for _, g := range r.geogs {
		if g.datum.code == code {
			return g.datum.name
		}
	}
	return code
}

// opLabel names a step as PROJ does, which matters: PROJ prefers the
// shorter name between otherwise equal candidates.
func opLabel(s step) string {
	if s.inverse {
		return "Inverse of " + s.op.name
	}
	return s.op.name
}

func accuracyText(a float64) string {
	if a < 0 {
		return "unknown accuracy"
	}
	return fmt.Sprintf("%g m", a)
}

// sortPaths orders candidates as PROJ does: ballpark last, those whose
// grids are available first, known accuracy first, then the larger area of
// use within the area of interest, the better accuracy, no grid before
// grid, the fewer steps, a null (all-zero) transformation before others
// (as PROJ 9.1 orders "GDA94 to WGS 84 (1)" before "(2)"), and the name
// backwards (so "Amersfoort to WGS 84 (4)" goes before "(3)").
func sortPaths(ps []*path) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.ballpark != b.ballpark {
			return !a.ballpark
		}
		if (a.accuracy >= 0) != (b.accuracy >= 0) {
			return a.accuracy >= 0
		}
		if a.accuracy < 0 && b.accuracy < 0 && a.grids != b.grids {
			return a.grids
		}
		if a.sortArea != b.sortArea {
			return a.sortArea > b.sortArea
		}
		if a.accuracy != b.accuracy {
			return a.accuracy < b.accuracy
		}
		if a.grids != b.grids {
			return !a.grids
		}
		if len(a.steps) != len(b.steps) {
			return len(a.steps) < len(b.steps)
		}
		if a.null != b.null {
			return a.null
		}
		return a.name > b.name
	})
}

func (p *path) area() float64 {
	m := math.Inf(1)
	for _, a := range p.areas {
		m = math.Min(m, pseudoArea(a))
	}
	return m
}

// projectedBox returns the bounding box, in a projected CRS's easting and
// northing, of a geographic area, sampled along its edges (21 points each)
// as PROJ does.
func projectedBox(c *CRS, a [4]float64) [4]float64 {
	box := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	w, e := a[0], a[2]
	if e < w {
		e += 360
	}
	const steps = 20
	pm := c.geog.datum.pm.lon
	for i := 0; i <= steps; i++ {
		f := float64(i) / steps
		lon := w + f*(e-w)
		lat := a[1] + f*(a[3]-a[1])
		for _, p := range [][2]float64{{lon, a[1]}, {lon, a[3]}, {w, lat}, {e, lat}} {
			x, y, ok := c.proj.forward((p[0]-pm)*deg, p[1]*deg)
			if !ok || math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				continue
			}
			box[0], box[1] = math.Min(box[0], x), math.Min(box[1], y)
			box[2], box[3] = math.Max(box[2], x), math.Max(box[3], y)
		}
	}
	if a[0] == -180 && a[2] == 180 && a[1] == -90 && a[3] == 90 {
		return [4]float64{math.Inf(-1), math.Inf(-1), math.Inf(1), math.Inf(1)}
	}
	return box
}
