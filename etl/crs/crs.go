// Package crs transforms coordinates between coordinate reference systems
// the way PROJ does, in pure Go. The definitions come from PROJ's database
// (proj.db), generated into the embedded table projdb.tsv.gz by
// internal/gen: every EPSG (and ESRI) geographic 2D/3D CRS, and every
// projected CRS whose conversion is one of transverse Mercator (also south
// orientated), Lambert conic conformal 1SP and 2SP, Albers equal area,
// Lambert azimuthal equal area, polar stereographic A and B, oblique
// stereographic, Hotine oblique Mercator A and B, Mercator A and B,
// Pseudo-Mercator, Cassini-Soldner, equidistant cylindrical and Krovak
// (also north orientated).
//
// Between two CRSs a Transformer uses the datum transformation PROJ would
// choose: the candidates from the database (Helmert, longitude rotation
// and NTv2 grid transformations, directly or through one intermediate
// CRS), superseded ones dropped, ones whose grid is not installed skipped,
// a "ballpark" no-shift fallback added where the candidates do not cover
// the CRSs' area of use; for each point the most accurate candidate whose
// area of use contains it, as proj_trans does. Grids are looked for where
// PROJ looks: PROJ_DATA (or PROJ_LIB), then the system's PROJ data folder.
// Where a better transformation was skipped for a missing grid, or points
// may fall back to the ballpark, Note says so, for the run log.
//
// Coordinates are always in "GIS order", as GDAL writes them by default:
// x is longitude or easting, y latitude or northing, in the CRS's own
// units (degrees, metres, US survey feet...) with its prime meridian; a
// CRS whose first axis is northing or latitude is swapped, other axis
// orders stay as defined (Krovak's southing and westing, for instance).
// Heights are used in datum shifts (through geocentric coordinates) and
// passed through unchanged, as cs2cs does for two-dimensional CRSs.
package crs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// ErrUnsupported is returned (wrapped) for a CRS this package does not
// know or cannot compute.
var ErrUnsupported = errors.New("unsupported coordinate reference system")

// ErrOutOfDomain is returned (wrapped) for a coordinate that cannot be
// transformed, such as a pole in Web Mercator.
var ErrOutOfDomain = errors.New("coordinate outside the domain of the projection")

// projection converts between geodetic coordinates (radians, longitude
// relative to the CRS's prime meridian) and projected coordinates
// (metres, false easting and northing included).
type projection interface {
	forward(lon, lat float64) (x, y float64, ok bool)
	inverse(x, y float64) (lon, lat float64, ok bool)
}

// CRS is one coordinate reference system.
type CRS struct {
	// Code identifies the CRS: its EPSG code, or for other definitions
	// (ESRI codes, WKT, PROJ strings) an id above the EPSG range that this
	// process assigned (see Parse).
	Code int
	Name string // e.g. "WGS 84 / UTM zone 32N"
	// WKT is the OGC WKT 1 definition, as GDAL writes it in .prj files
	// and gpkg_spatial_ref_sys.
	WKT string

	authority string // "EPSG", "ESRI" or "" for a custom definition
	authCode  int

	geog    *geogDef    // the base geographic CRS
	towgs84 *[7]float64 // a custom definition's own shift to WGS 84
	proj    projection  // nil for geographic systems
	pd      *projDef    // the projected definition (method and parameters)
	unit    float64     // metres (projected) or radians (geographic) per unit
	area    [4]float64  // area of use: west, south, east, north (degrees)
	swap    bool        // the CRS's first axis is northing or latitude
	wkt     wktInfo
	// Projected axes, in GIS order: x is s1 times the easting (or the
	// northing when xIsN), y is s2 times the other.
	xIsN   bool
	s1, s2 float64
}

// setAxes derives the output axes from the CRS's own (see the generator's
// axisCode): a north-east order, or a polar one whose first axis is the
// northing, is swapped to give the easting first, as GDAL does by
// default; other orders stay as defined, west and south axes negating
// the easting and northing as in PROJ.
func (c *CRS) setAxes(axes string) {
	c.s1, c.s2 = 1, 1
	if len(axes) != 2 {
		return
	}
	a, b := axes[0], axes[1]
	if a == 'n' && b == 'e' || a == 'N' && b == 'E' {
		c.swap = true
		a, b = b, a
	}
	isN := func(l byte) bool { return l == 'n' || l == 'N' || l == 's' }
	sign := func(l byte) float64 {
		if l == 'w' || l == 's' {
			return -1
		}
		return 1
	}
	c.xIsN = isN(a) && !isN(b)
	c.s1, c.s2 = sign(a), sign(b)
}

// fromAxes returns the easting and northing (metres) of a coordinate.
func (c *CRS) fromAxes(x, y float64) (float64, float64) {
	x, y = x*c.unit*c.s1, y*c.unit*c.s2
	if c.xIsN {
		return y, x
	}
	return x, y
}

// toAxes is the inverse of fromAxes.
func (c *CRS) toAxes(e, n float64) (float64, float64) {
	if c.xIsN {
		e, n = n, e
	}
	return e * c.s1 / c.unit, n * c.s2 / c.unit
}

// Geographic reports whether the CRS has angular coordinates.
func (c *CRS) Geographic() bool { return c.proj == nil }

// String returns "EPSG:<code>", "ESRI:<code>", or the name of a custom
// definition.
func (c *CRS) String() string {
	if c.authority != "" {
		return c.authority + ":" + strconv.Itoa(c.authCode)
	}
	return c.Name
}

// Authority returns the authority ("EPSG" or "ESRI") and code of the CRS,
// or "" and 0 for a custom definition.
func (c *CRS) Authority() (string, int) { return c.authority, c.authCode }

// EPSG returns the CRS's EPSG code, or 0 when it has none.
func (c *CRS) EPSG() int {
	if c.authority == "EPSG" {
		return c.authCode
	}
	return 0
}

// AxisSwapped reports whether the CRS's own first axis is northing or
// latitude, which this package swaps to give easting or longitude first.
func (c *CRS) AxisSwapped() bool { return c.swap }

// AreaOfUse returns the CRS's area of use (degrees, WGS 84).
func (c *CRS) AreaOfUse() (west, south, east, north float64) {
	return c.area[0], c.area[1], c.area[2], c.area[3]
}

var cache sync.Map // int -> *CRS

// Lookup returns the CRS with the given id: an EPSG code, or an id that
// Parse returned for another definition.
func Lookup(code int) (*CRS, error) {
	if c, ok := cache.Load(code); ok {
		return c.(*CRS), nil
	}
	if code >= customBase {
		return nil, fmt.Errorf("%w: no definition has id %d in this process", ErrUnsupported, code)
	}
	ref := refOf(code)
	if ref == "" {
		return nil, fmt.Errorf("%w: %d is not an EPSG code", ErrUnsupported, code)
	}
	c, err := lookupRef(ref)
	if err != nil {
		return nil, err
	}
	c.Code = code
	got, _ := cache.LoadOrStore(code, c)
	return got.(*CRS), nil
}

func lookupRef(ref string) (*CRS, error) {
	r, err := db()
	if err != nil {
		return nil, err
	}
	auth, num, _ := strings.Cut(ref, ":")
	n, _ := strconv.Atoi(num)
	if g, ok := r.geogs[ref]; ok {
		c := &CRS{Name: g.name, authority: auth, authCode: n, geog: g, unit: g.unit, area: g.area, swap: g.swap}
		c.WKT = c.buildWKT1()
		return c, nil
	}
	if w, ok := r.wkts[ref]; ok {
		c, err := buildCRSFromWKTText(w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		c.Name, c.authority, c.authCode = r.wktNames[ref], auth, n
		c.WKT = c.buildWKT1()
		return c, nil
	}
	p, ok := r.proj(ref)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a geographic or projected CRS with a supported method in PROJ %s's database (EPSG %s)",
			ErrUnsupported, ref, r.projVersion, r.epsgVersion)
	}
	g, ok := r.geogs[p.geog]
	if !ok {
		return nil, fmt.Errorf("%w: %s is based on %s, which is not a geographic CRS", ErrUnsupported, ref, p.geog)
	}
	p, err = p.withParams()
	if err != nil {
		return nil, err
	}
	pr, err := buildProjection(p.method, p.params, g.datum.ell)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	c := &CRS{Name: p.name, authority: auth, authCode: n, geog: g, proj: pr, pd: p, unit: p.unit, area: p.area}
	c.setAxes(p.axes)
	c.WKT = c.buildWKT1()
	return c, nil
}

func (e *ellipsoidDef) ellipsoid() ellipsoid {
	if e.invf == 0 {
		return ellipsoid{a: e.a}
	}
	return newEllipsoid(e.a, e.invf)
}

// buildProjection makes the projection of an EPSG method from its
// parameters (EPSG parameter codes; degrees, metres, unitless).
func buildProjection(method string, p map[int]float64, ed *ellipsoidDef) (projection, error) {
	el := ed.ellipsoid()
	get := func(codes ...int) float64 {
		for _, c := range codes {
			if v, ok := p[c]; ok {
				return v
			}
		}
		return 0
	}
	scale := func(code int) float64 {
		if v, ok := p[code]; ok {
			return v
		}
		return 1
	}
	fe, fn := get(8806), get(8807)
	switch method {
	case "9807":
		return newTransverseMercator(el, get(8801), get(8802), scale(8805), fe, fn), nil
	case "9808": // its west and south axes do the orientation
		return newTransverseMercator(el, get(8801), get(8802), scale(8805), fe, fn), nil
	case "9801":
		return newLCC1SP(el, get(8801), get(8802), scale(8805), fe, fn), nil
	case "9802":
		return newLCC2SP(el, get(8823), get(8824), get(8821), get(8822), get(8826), get(8827)), nil
	case "9822":
		return newAlbers(el, get(8821), get(8822), get(8823), get(8824), get(8826), get(8827)), nil
	case "9820":
		lat0 := get(8801)
		if math.Abs(math.Abs(lat0)-90) < 1e-10 {
			l := newLAEA(el, 0, get(8802), fe, fn) // for qp and the authalic series
			return &laeaPolar{e: el.e, es: el.es, a: el.a, qp: l.qp, lon0: get(8802) * deg, fe: fe, fn: fn, south: lat0 < 0, apa: l.apa}, nil
		}
		return newLAEA(el, lat0, get(8802), fe, fn), nil
	case "9810":
		lat0 := get(8801)
		if math.Abs(math.Abs(lat0)-90) > 1e-10 {
			return nil, fmt.Errorf("%w: polar stereographic (variant A) with latitude of origin %g", ErrUnsupported, lat0)
		}
		return newStereoPolar(el, lat0 < 0, scale(8805), 0, get(8802), fe, fn, false), nil
	case "9829":
		ts := get(8832)
		return newStereoPolar(el, ts < 0, 1, ts, get(8833), fe, fn, true), nil
	case "9809":
		return newSterea(el, get(8801), get(8802), scale(8805), fe, fn), nil
	case "9812", "9815":
		alpha := get(8813)
		gamma := alpha
		if v, ok := p[8814]; ok {
			gamma = v
		}
		if method == "9815" && math.Abs(alpha-90) < 1e-4 && math.Abs(gamma-90) < 1e-4 {
			return newSomerc(el, get(8811), get(8812), scale(8815), get(8816), get(8817)), nil
		}
		if method == "9815" {
			return newHotine(el, get(8811), get(8812), alpha, gamma, scale(8815), get(8816), get(8817), true), nil
		}
		return newHotine(el, get(8811), get(8812), alpha, gamma, scale(8815), fe, fn, false), nil
	case "9804":
		if get(8801) != 0 {
			return nil, fmt.Errorf("%w: Mercator (variant A) with latitude of origin %g", ErrUnsupported, get(8801))
		}
		return &mercator{e: el.e, ak0: el.a * scale(8805), lon0: get(8802) * deg, fe: fe, fn: fn}, nil
	case "9805":
		return &mercator{e: el.e, ak0: el.a * msfn(get(8823)*deg, el.es), lon0: get(8802) * deg, fe: fe, fn: fn}, nil
	case "1024":
		return &mercator{e: 0, ak0: el.a, lon0: get(8802) * deg, fe: fe, fn: fn}, nil
	case "9806":
		return newCassini(el, get(8801), get(8802), fe, fn), nil
	case "1028", "1029":
		return &eqc{a: el.a, rc: math.Cos(get(8823) * deg), lat0: get(8801) * deg, lon0: get(8802) * deg, fe: fe, fn: fn}, nil
	case "9819", "1041":
		return newKrovak(el, get(8811), get(8833), get(1036), get(8818), scale(8819), fe, fn), nil
	}
	return nil, fmt.Errorf("%w: conversion method EPSG:%s", ErrUnsupported, method)
}

// Parse reads a CRS reference: "EPSG:3857" (also "epsg:3857" and a bare
// "3857"), "ESRI:102100", "urn:ogc:def:crs:EPSG::3857",
// "http://www.opengis.net/def/crs/EPSG/0/3857", OGC CRS84, WKT 1 or 2
// (identified by its authority when it has one, else built from its
// parameters), or a PROJ string ("+proj=utm +zone=32 +datum=WGS84"). It
// returns the EPSG code, or for other definitions an id above the EPSG
// range that Lookup accepts for the life of the process. It does not
// check that an EPSG code is supported; Lookup does.
func Parse(s string) (int, error) {
	t := strings.TrimSpace(s)
	u := strings.ToUpper(t)
	switch {
	case u == "":
		return 0, fmt.Errorf("empty CRS reference (use e.g. \"EPSG:4326\")")
	case u == "CRS84" || u == "OGC:CRS84" || strings.HasSuffix(u, "/OGC/1.3/CRS84") || u == "URN:OGC:DEF:CRS:OGC:1.3:CRS84" || u == "URN:OGC:DEF:CRS:OGC::CRS84" || u == "WGS84":
		return 4326, nil
	case strings.HasPrefix(u, "+") || strings.HasPrefix(u, "PROJ="):
		return parseProjString(t)
	case looksLikeWKT(u):
		return parseWKT(t)
	}
	auth, code := "EPSG", t
	switch {
	case strings.HasPrefix(u, "EPSG:"):
		code = t[5:]
	case strings.HasPrefix(u, "ESRI:"):
		auth, code = "ESRI", t[5:]
	case strings.HasPrefix(u, "URN:OGC:DEF:CRS:EPSG:"), strings.HasPrefix(u, "URN:OGC:DEF:CRS:ESRI:"):
		auth = u[16:20]
		code = t[strings.LastIndex(t, ":")+1:]
	case strings.Contains(u, "/DEF/CRS/EPSG/"), strings.Contains(u, "/DEF/CRS/ESRI/"):
		if strings.Contains(u, "/DEF/CRS/ESRI/") {
			auth = "ESRI"
		}
		code = t[strings.LastIndex(t, "/")+1:]
	}
	n, err := strconv.Atoi(strings.TrimSpace(code))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a CRS reference (use e.g. \"EPSG:4326\", a WKT or a PROJ string)", s)
	}
	id, ok := idOf(auth + ":" + strconv.Itoa(n))
	if !ok {
		return 0, fmt.Errorf("%q is not a CRS reference: code out of range", s)
	}
	return id, nil
}

// adjlon brings a longitude difference into [-π, π] as PROJ does before
// projecting (so 540° is -180°, not 180°).
func adjlon(lon float64) float64 {
	if math.Abs(lon) < math.Pi+1e-12 {
		return lon
	}
	lon += math.Pi
	lon -= 2 * math.Pi * math.Floor(lon/(2*math.Pi))
	return lon - math.Pi
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

// ellipsoid holds the constants of a reference ellipsoid (or a sphere,
// with f = 0).
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

// URN returns the OGC URN of a CRS id ("urn:ogc:def:crs:EPSG::2056",
// "urn:ogc:def:crs:ESRI::102100"), as a GeoJSON crs member names it; a
// custom definition has none, and saying another code would be wrong.
func URN(id int) (string, error) {
	if ref := refOf(id); ref != "" {
		auth, code, _ := strings.Cut(ref, ":")
		return "urn:ogc:def:crs:" + auth + "::" + code, nil
	}
	name := strconv.Itoa(id)
	if c, err := Lookup(id); err == nil {
		name = c.Name
	}
	return "", fmt.Errorf("the CRS %q is a custom definition without an EPSG or ESRI code: reproject to one first", name)
}
