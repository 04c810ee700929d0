// Package crs transforms coordinates between the coordinate reference
// systems the GeoETL engine supports: EPSG:4326 and 4258 (geographic),
// 3857 (Web Mercator), every WGS 84 UTM zone (32601-32660, 32701-32760),
// the ETRS89 UTM zones 25828-25838, 3035 (LAEA Europe), 27700 (British
// National Grid) and 2154 (Lambert-93).
//
// The projection formulas are exact to well below a millimetre and are
// checked against PROJ's cs2cs (see the test vectors in testdata). Datum
// shifts follow what PROJ does on a machine without extra grids: WGS 84,
// ETRS89 and RGF93 are treated as the same datum (PROJ's null
// transformation, good to about a metre), and for 27700 PROJ falls back to
// its "ballpark" transformation, which applies no datum shift at all when
// the OSTN15 grid is not installed. This package matches that, so its
// output agrees with cs2cs and ogr2ogr on the same machine; the price is
// the same as theirs: British National Grid coordinates differ from the
// Ordnance Survey's OSTN15 ones by up to about 120 m.
//
// Coordinates are always in "GIS order": x is longitude or easting, y is
// latitude or northing, angles in degrees.
package crs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrUnsupported is returned (wrapped) for an EPSG code this package does
// not know.
var ErrUnsupported = errors.New("unsupported coordinate reference system")

// ErrOutOfDomain is returned (wrapped) for a coordinate that cannot be
// transformed, such as a pole in Web Mercator.
var ErrOutOfDomain = errors.New("coordinate outside the domain of the projection")

// projection converts between geodetic coordinates (radians) and projected
// coordinates (metres, false easting and northing included).
type projection interface {
	forward(lon, lat float64) (x, y float64, ok bool)
	inverse(x, y float64) (lon, lat float64, ok bool)
}

// CRS is one supported coordinate reference system.
type CRS struct {
	Code int    // EPSG code
	Name string // EPSG name, e.g. "WGS 84 / UTM zone 32N"
	// WKT is the OGC WKT 1 definition, as GDAL writes it, for
	// gpkg_spatial_ref_sys.
	WKT  string
	proj projection // nil for geographic systems
	// shift, when set, converts the CRS's own datum to WGS 84 inside its
	// area of use.
	shift *helmert
	// areaMin and areaMax bound the shift's area of use in the CRS's own
	// coordinates, as PROJ checks a projected source point.
	areaMin, areaMax [2]float64
}

// Geographic reports whether the CRS has angular (degree) coordinates.
func (c *CRS) Geographic() bool { return c.proj == nil }

// String returns "EPSG:<code>".
func (c *CRS) String() string { return "EPSG:" + strconv.Itoa(c.Code) }

// Lookup returns the CRS with the given EPSG code.
func Lookup(code int) (*CRS, error) {
	switch {
	case code == 4326:
		return &CRS{Code: 4326, Name: "WGS 84", WKT: wktWGS84}, nil
	case code == 4258:
		return &CRS{Code: 4258, Name: "ETRS89", WKT: wktETRS89}, nil
	case code == 3857:
		return &CRS{Code: 3857, Name: "WGS 84 / Pseudo-Mercator", WKT: wkt3857, proj: webMercator{}}, nil
	case code == 3035:
		return &CRS{Code: 3035, Name: "ETRS89-extended / LAEA Europe", WKT: wkt3035,
			proj: newLAEA(grs80, 52, 10, 4321000, 3210000)}, nil
	case code == 27700:
		c := &CRS{Code: 27700, Name: "OSGB36 / British National Grid", WKT: wkt27700,
			proj: newTransverseMercator(airy1830, 49, -2, 0.9996012717, 400000, -100000), shift: osgb36ToWGS84}
		c.areaMin, c.areaMax = projectedArea(c)
		return c, nil
	case code == 2154:
		return &CRS{Code: 2154, Name: "RGF93 v1 / Lambert-93", WKT: wkt2154,
			proj: newLCC2SP(grs80, 49, 44, 46.5, 3, 700000, 6600000)}, nil
	case code >= 32601 && code <= 32660, code >= 32701 && code <= 32760:
		zone := code % 100
		south := code >= 32701
		name := fmt.Sprintf("WGS 84 / UTM zone %d%s", zone, hemi(south))
		return &CRS{Code: code, Name: name, WKT: utmWKT(code, name, zone, south, false), proj: utm(wgs84, zone, south)}, nil
	case code >= 25828 && code <= 25838:
		zone := code % 100
		name := fmt.Sprintf("ETRS89 / UTM zone %dN", zone)
		return &CRS{Code: code, Name: name, WKT: utmWKT(code, name, zone, false, true), proj: utm(grs80, zone, false)}, nil
	}
	return nil, fmt.Errorf("%w: EPSG:%d (supported: 4326, 4258, 3857, 3035, 27700, 2154, 25828-25838, 32601-32660, 32701-32760)", ErrUnsupported, code)
}

func hemi(south bool) string {
	if south {
		return "S"
	}
	return "N"
}

func utm(e ellipsoid, zone int, south bool) projection {
	fn := 0.0
	if south {
		fn = 10000000
	}
	return newTransverseMercator(e, 0, float64(zone*6-183), 0.9996, 500000, fn)
}

// Parse reads a CRS reference in any of the common spellings ("EPSG:3857",
// "epsg:3857", "3857", "urn:ogc:def:crs:EPSG::3857",
// "http://www.opengis.net/def/crs/EPSG/0/3857", "CRS84", "OGC:CRS84") and
// returns its EPSG code. It does not check that the code is supported.
func Parse(s string) (int, error) {
	t := strings.TrimSpace(s)
	u := strings.ToUpper(t)
	switch {
	case u == "CRS84" || u == "OGC:CRS84" || strings.HasSuffix(u, "/OGC/1.3/CRS84") || u == "URN:OGC:DEF:CRS:OGC:1.3:CRS84" || u == "WGS84":
		return 4326, nil
	case strings.HasPrefix(u, "EPSG:"):
		t = t[5:]
	case strings.HasPrefix(u, "URN:OGC:DEF:CRS:EPSG:"):
		t = t[strings.LastIndex(t, ":")+1:]
	case strings.Contains(u, "/DEF/CRS/EPSG/"):
		t = t[strings.LastIndex(t, "/")+1:]
	}
	code, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || code <= 0 {
		return 0, fmt.Errorf("%q is not a CRS reference (use e.g. \"EPSG:4326\")", s)
	}
	return code, nil
}

// Transformer converts coordinates from one CRS to another.
type Transformer struct {
	from, to *CRS
	identity bool
}

// NewTransformer returns a transformer between two EPSG codes.
func NewTransformer(from, to int) (*Transformer, error) {
	f, err := Lookup(from)
	if err != nil {
		return nil, err
	}
	t, err := Lookup(to)
	if err != nil {
		return nil, err
	}
	// Every supported datum is treated as WGS 84 (see the package
	// comment), so two geographic systems differ only in name.
	same := from == to || f.Geographic() && t.Geographic()
	return &Transformer{from: f, to: t, identity: same}, nil
}

// Identity reports whether the transformer leaves coordinates unchanged.
func (t *Transformer) Identity() bool { return t.identity }

// Transform converts one coordinate.
func (t *Transformer) Transform(x, y float64) (float64, float64, error) {
	if t.identity {
		return x, y, nil
	}
	lon, lat := x*deg, y*deg
	if p := t.from.proj; p != nil {
		var ok bool
		if lon, lat, ok = p.inverse(x, y); !ok {
			return 0, 0, fmt.Errorf("%w: (%g, %g) in %s", ErrOutOfDomain, x, y, t.from)
		}
		if f := t.from; f.shift != nil && x >= f.areaMin[0] && x <= f.areaMax[0] && y >= f.areaMin[1] && y <= f.areaMax[1] {
			lon, lat = f.shift.toWGS84(lon, lat)
		}
	} else if math.Abs(lat) > math.Pi/2+1e-12 || math.IsNaN(lon) || math.IsInf(lon, 0) {
		return 0, 0, fmt.Errorf("%w: latitude %g in %s", ErrOutOfDomain, y, t.from)
	}
	if p := t.to.proj; p != nil {
		if s := t.to.shift; s != nil && s.contains(lon/deg, lat/deg) {
			lon, lat = s.fromWGS84(lon, lat)
		}
		ox, oy, ok := p.forward(lon, lat)
		if !ok {
			return 0, 0, fmt.Errorf("%w: (%g, %g) to %s", ErrOutOfDomain, x, y, t.to)
		}
		return ox, oy, nil
	}
	return normalizeLon(lon) / deg, lat / deg, nil
}

// normalizeLon brings a longitude into [-π, π], as PROJ does on output.
func normalizeLon(lon float64) float64 {
	if lon >= -math.Pi && lon <= math.Pi {
		return lon
	}
	lon = math.Mod(lon+math.Pi, 2*math.Pi)
	if lon < 0 {
		lon += 2 * math.Pi
	}
	return lon - math.Pi
}

const deg = math.Pi / 180

// ellipsoid holds the constants of a reference ellipsoid.
type ellipsoid struct {
	a  float64 // semi-major axis, metres
	f  float64 // flattening
	es float64 // eccentricity squared
	e  float64 // eccentricity
}

func newEllipsoid(a, invf float64) ellipsoid {
	f := 1 / invf
	es := f * (2 - f)
	return ellipsoid{a: a, f: f, es: es, e: math.Sqrt(es)}
}

var (
	wgs84    = newEllipsoid(6378137, 298.257223563)
	grs80    = newEllipsoid(6378137, 298.257222101)
	airy1830 = newEllipsoid(6377563.396, 299.3249646)
)

// projectedArea returns the envelope, in the CRS's own coordinates, of its
// datum shift's area of use, sampled along the edges as PROJ does when it
// decides whether a projected point lies inside an operation's area.
func projectedArea(c *CRS) (lo, hi [2]float64) {
	s := c.shift
	lo = [2]float64{math.Inf(1), math.Inf(1)}
	hi = [2]float64{math.Inf(-1), math.Inf(-1)}
	const steps = 20
	for i := 0; i <= steps; i++ {
		f := float64(i) / steps
		for _, p := range [][2]float64{
			{s.minLon + f*(s.maxLon-s.minLon), s.minLat}, {s.minLon + f*(s.maxLon-s.minLon), s.maxLat},
			{s.minLon, s.minLat + f*(s.maxLat-s.minLat)}, {s.maxLon, s.minLat + f*(s.maxLat-s.minLat)},
		} {
			lon, lat := s.fromWGS84(p[0]*deg, p[1]*deg)
			x, y, ok := c.proj.forward(lon, lat)
			if !ok {
				continue
			}
			lo[0], lo[1] = math.Min(lo[0], x), math.Min(lo[1], y)
			hi[0], hi[1] = math.Max(hi[0], x), math.Max(hi[1], y)
		}
	}
	return lo, hi
}
