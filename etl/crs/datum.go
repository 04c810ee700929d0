package crs

import "math"

// helmert is a seven-parameter datum shift from a local datum to WGS 84 in
// the position-vector convention, with the small-angle rotation matrix that
// PROJ uses ("+proj=helmert +convention=position_vector").
type helmert struct {
	local          ellipsoid
	tx, ty, tz     float64 // metres
	rx, ry, rz     float64 // radians
	scale          float64 // 1 + ppm/1e6
	minLon, minLat float64 // area of use, degrees (WGS 84)
	maxLon, maxLat float64
}

const arcsec = math.Pi / (180 * 3600)

// osgb36ToWGS84 is EPSG:1314, "OSGB36 to WGS 84 (6)", the operation PROJ
// picks for EPSG:27700 inside its area of use when the OSTN15 grid is not
// installed. Outside that area PROJ falls back to a ballpark
// transformation without any shift, and so does this package.
var osgb36ToWGS84 = &helmert{
	local: airy1830,
	tx:    446.448, ty: -125.157, tz: 542.06,
	rx: 0.15 * arcsec, ry: 0.247 * arcsec, rz: 0.842 * arcsec,
	scale:  1 - 20.489e-6,
	minLon: -8.82, minLat: 49.79, maxLon: 1.92, maxLat: 60.94,
}

func (h *helmert) contains(lonDeg, latDeg float64) bool {
	return lonDeg >= h.minLon && lonDeg <= h.maxLon && latDeg >= h.minLat && latDeg <= h.maxLat
}

// toWGS84 shifts geodetic coordinates (radians) on the local datum to WGS 84.
func (h *helmert) toWGS84(lon, lat float64) (float64, float64) {
	x, y, z := toECEF(h.local, lon, lat)
	s := h.scale
	X := h.tx + s*(x-h.rz*y+h.ry*z)
	Y := h.ty + s*(h.rz*x+y-h.rx*z)
	Z := h.tz + s*(-h.ry*x+h.rx*y+z)
	return fromECEF(wgs84, X, Y, Z)
}

// fromWGS84 is the reverse shift, with the transposed rotation as PROJ
// does it.
func (h *helmert) fromWGS84(lon, lat float64) (float64, float64) {
	X, Y, Z := toECEF(wgs84, lon, lat)
	X, Y, Z = (X-h.tx)/h.scale, (Y-h.ty)/h.scale, (Z-h.tz)/h.scale
	x := X + h.rz*Y - h.ry*Z
	y := -h.rz*X + Y + h.rx*Z
	z := h.ry*X - h.rx*Y + Z
	return fromECEF(h.local, x, y, z)
}

// toECEF converts geodetic coordinates at height zero to geocentric ones.
func toECEF(e ellipsoid, lon, lat float64) (float64, float64, float64) {
	sl, cl := math.Sincos(lat)
	n := e.a / math.Sqrt(1-e.es*sl*sl)
	return n * cl * math.Cos(lon), n * cl * math.Sin(lon), n * (1 - e.es) * sl
}

// fromECEF converts geocentric coordinates to geodetic longitude and
// latitude by iterating on the latitude; the height is discarded, as cs2cs
// does for two-dimensional input.
func fromECEF(e ellipsoid, x, y, z float64) (float64, float64) {
	p := math.Hypot(x, y)
	lat := math.Atan2(z, p*(1-e.es))
	for range 10 {
		sl := math.Sin(lat)
		n := e.a / math.Sqrt(1-e.es*sl*sl)
		next := math.Atan2(z+e.es*n*sl, p)
		if math.Abs(next-lat) < 1e-15 {
			lat = next
			break
		}
		lat = next
	}
	return math.Atan2(y, x), lat
}
