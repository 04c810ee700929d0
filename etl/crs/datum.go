package crs

import "math"

const arcsec = math.Pi / (180 * 3600)

// helmert is a seven-parameter datum shift between two ellipsoids in the
// position-vector convention, with the small-angle rotation matrix that
// PROJ uses ("+proj=helmert +convention=position_vector"); the reverse
// direction uses the transposed matrix, as PROJ does.
type helmert struct {
	src, dst   ellipsoid
	tx, ty, tz float64 // metres
	rx, ry, rz float64 // radians
	scale      float64 // 1 + ppm/1e6
	px, py, pz float64 // Molodensky-Badekas evaluation point (0 for Helmert)
}

func newHelmert(src, dst ellipsoid, p [10]float64) *helmert {
	return &helmert{src: src, dst: dst, tx: p[0], ty: p[1], tz: p[2],
		rx: p[3] * arcsec, ry: p[4] * arcsec, rz: p[5] * arcsec, scale: 1 + p[6]*1e-6, px: p[7], py: p[8], pz: p[9]}
}

// forward shifts geodetic coordinates (radians, metres) on the source
// datum to the target one; the height takes part in the shift, as in
// PROJ's pipelines, and the caller keeps its own.
func (h *helmert) forward(lon, lat, z float64) (float64, float64) {
	x, y, zz := toECEF(h.src, lon, lat, z)
	x, y, zz = x-h.px, y-h.py, zz-h.pz
	s := h.scale
	X := h.tx + h.px + s*(x-h.rz*y+h.ry*zz)
	Y := h.ty + h.py + s*(h.rz*x+y-h.rx*zz)
	Z := h.tz + h.pz + s*(-h.ry*x+h.rx*y+zz)
	return fromECEF(h.dst, X, Y, Z)
}

func (h *helmert) inverse(lon, lat, z float64) (float64, float64) {
	X, Y, Z := toECEF(h.dst, lon, lat, z)
	X, Y, Z = (X-h.tx-h.px)/h.scale, (Y-h.ty-h.py)/h.scale, (Z-h.tz-h.pz)/h.scale
	x := X + h.rz*Y - h.ry*Z + h.px
	y := -h.rz*X + Y + h.rx*Z + h.py
	zz := h.ry*X - h.rx*Y + Z + h.pz
	return fromECEF(h.src, x, y, zz)
}

// toECEF converts geodetic coordinates to geocentric ones.
func toECEF(e ellipsoid, lon, lat, h float64) (float64, float64, float64) {
	sl, cl := math.Sincos(lat)
	n := e.a / math.Sqrt(1-e.es*sl*sl)
	return (n + h) * cl * math.Cos(lon), (n + h) * cl * math.Sin(lon), (n*(1-e.es) + h) * sl
}

// fromECEF converts geocentric coordinates to geodetic longitude and
// latitude by iterating on the latitude; the caller keeps its own height,
// as cs2cs does for two-dimensional CRSs.
func fromECEF(e ellipsoid, x, y, z float64) (float64, float64) {
	p := math.Hypot(x, y)
	lat := math.Atan2(z, p*(1-e.es))
	for range 10 {
		sl := math.Sin(lat)
		n := e.a / math.Sqrt(1-e.es*sl*sl)
		// h = p/cos(lat) - n, and tan(lat) = z / (p (1 - es n/(n+h))).
		cl := math.Cos(lat)
		var next float64
		if math.Abs(cl) > 1e-12 {
			h := p/cl - n
			next = math.Atan2(z, p*(1-e.es*n/(n+h)))
		} else {
			next = math.Atan2(z+e.es*n*sl, p)
		}
		if math.Abs(next-lat) < 1e-15 {
			lat = next
			break
		}
		lat = next
	}
	return math.Atan2(y, x), lat
}
