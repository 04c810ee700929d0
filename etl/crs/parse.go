package crs

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Definitions that are not an authority code (WKT without a known
// identifier, PROJ strings) are interned: the same definition always gets
// the same id in a process, so etl.Feature.CRS stays an int.
var interned struct {
	sync.Mutex
	byKey map[string]int
	next  int
}

func intern(c *CRS) int {
	key := internKey(c)
	interned.Lock()
	defer interned.Unlock()
	if id, ok := interned.byKey[key]; ok {
		return id
	}
	if interned.byKey == nil {
		interned.byKey = map[string]int{}
		interned.next = customBase + 1
	}
	id := interned.next
	interned.next++
	interned.byKey[key] = id
	c.Code = id
	cache.Store(id, c)
	return id
}

// internKey identifies a definition by what it computes, so that its own
// WKT read back, with other names, gets the same id.
func internKey(c *CRS) string {
	d := c.geog.datum
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%.12g|%.12g|%.12g|%.15g|%v|", d.code, d.ell.a, d.ell.invf, d.pm.lon, c.unit, c.towgs84)
	if c.proj != nil {
		fmt.Fprintf(&b, "%s|%v|%v|%v|", c.pd.method, c.xIsN, c.s1, c.s2)
		keys := make([]int, 0, len(c.pd.params))
		for k := range c.pd.params {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%d=%.12g,", k, c.pd.params[k])
		}
	}
	return b.String()
}

func looksLikeWKT(u string) bool {
	for _, k := range []string{"PROJCS[", "GEOGCS[", "PROJCRS[", "GEOGCRS[", "GEODCRS[", "GEOGRAPHICCRS[", "PROJECTEDCRS[", "GEODETICCRS[", "BOUNDCRS["} {
		if strings.HasPrefix(u, k) {
			return true
		}
	}
	return false
}

// wktNode is one KEYWORD[...] of a WKT string; its args are strings
// (quoted text or bare words), numbers or nodes.
type wktNode struct {
	key  string
	args []any
}

func (n *wktNode) child(keys ...string) *wktNode {
	for _, a := range n.args {
		if c, ok := a.(*wktNode); ok {
			for _, k := range keys {
				if c.key == k {
					return c
				}
			}
		}
	}
	return nil
}

func (n *wktNode) children(key string) []*wktNode {
	var out []*wktNode
	for _, a := range n.args {
		if c, ok := a.(*wktNode); ok && c.key == key {
			out = append(out, c)
		}
	}
	return out
}

func (n *wktNode) str(i int) string {
	if n == nil || i >= len(n.args) {
		return ""
	}
	switch v := n.args[i].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return ""
}

func (n *wktNode) num(i int) (float64, bool) {
	if n == nil || i >= len(n.args) {
		return 0, false
	}
	v, ok := n.args[i].(float64)
	return v, ok
}

type wktParser struct {
	s   string
	pos int
}

func (p *wktParser) skip() {
	for p.pos < len(p.s) && unicode.IsSpace(rune(p.s[p.pos])) {
		p.pos++
	}
}

func (p *wktParser) node() (*wktNode, error) {
	p.skip()
	start := p.pos
	for p.pos < len(p.s) && (unicode.IsLetter(rune(p.s[p.pos])) || unicode.IsDigit(rune(p.s[p.pos])) || p.s[p.pos] == '_') {
		p.pos++
	}
	key := strings.ToUpper(p.s[start:p.pos])
	p.skip()
	if key == "" || p.pos >= len(p.s) || p.s[p.pos] != '[' && p.s[p.pos] != '(' {
		return nil, fmt.Errorf("WKT: expected a keyword and '[' at offset %d", start)
	}
	closer := byte(']')
	if p.s[p.pos] == '(' {
		closer = ')'
	}
	p.pos++
	n := &wktNode{key: key}
	for {
		p.skip()
		if p.pos >= len(p.s) {
			return nil, errors.New("WKT: unexpected end")
		}
		c := p.s[p.pos]
		switch {
		case c == closer:
			p.pos++
			return n, nil
		case c == ',':
			p.pos++
		case c == '"':
			var b strings.Builder
			p.pos++
			for {
				if p.pos >= len(p.s) {
					return nil, errors.New("WKT: unterminated string")
				}
				if p.s[p.pos] == '"' {
					if p.pos+1 < len(p.s) && p.s[p.pos+1] == '"' {
						b.WriteByte('"')
						p.pos += 2
						continue
					}
					p.pos++
					break
				}
				b.WriteByte(p.s[p.pos])
				p.pos++
			}
			n.args = append(n.args, b.String())
		case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
			start := p.pos
			for p.pos < len(p.s) && strings.IndexByte("+-.0123456789eE", p.s[p.pos]) >= 0 {
				p.pos++
			}
			v, err := strconv.ParseFloat(p.s[start:p.pos], 64)
			if err != nil {
				return nil, fmt.Errorf("WKT: bad number %q", p.s[start:p.pos])
			}
			n.args = append(n.args, v)
		default:
			save := p.pos
			for p.pos < len(p.s) && (unicode.IsLetter(rune(p.s[p.pos])) || unicode.IsDigit(rune(p.s[p.pos])) || p.s[p.pos] == '_') {
				p.pos++
			}
			word := p.s[save:p.pos]
			p.skip()
			if p.pos < len(p.s) && (p.s[p.pos] == '[' || p.s[p.pos] == '(') {
				p.pos = save
				child, err := p.node()
				if err != nil {
					return nil, err
				}
				n.args = append(n.args, child)
			} else if word != "" {
				n.args = append(n.args, word)
			} else {
				return nil, fmt.Errorf("WKT: unexpected %q at offset %d", c, p.pos)
			}
		}
	}
}

// authorityOf returns "EPSG:4326" from AUTHORITY["EPSG","4326"] (WKT 1) or
// ID["EPSG",4326] (WKT 2) directly under n.
func authorityOf(n *wktNode) string {
	if n == nil {
		return ""
	}
	a := n.child("AUTHORITY", "ID")
	if a == nil {
		return ""
	}
	auth := strings.ToUpper(a.str(0))
	code := a.str(1)
	if auth == "" || code == "" {
		return ""
	}
	return auth + ":" + code
}

// parseWKT reads a WKT 1 (as GDAL or ESRI write it) or WKT 2 CRS: by its
// authority code when it has one this package knows, else built from its
// parameters and, when its name and parameters match a definition of
// PROJ's database, identified as that one.
func parseWKT(s string) (int, error) {
	p := &wktParser{s: strings.TrimSpace(s)}
	root, err := p.node()
	if err != nil {
		return 0, err
	}
	if root.key == "BOUNDCRS" {
		if src := root.child("SOURCECRS"); src != nil {
			if inner, ok := firstNode(src); ok {
				root = inner
			}
		}
	}
	if ref := authorityOf(root); ref != "" {
		if id, ok := idOf(ref); ok {
			if _, err := Lookup(id); err == nil {
				return id, nil
			}
		}
	}
	c, err := buildFromWKT(root)
	if err != nil {
		return 0, err
	}
	if id, ok := identify(c); ok {
		return id, nil
	}
	c.WKT = c.buildWKT1()
	return intern(c), nil
}

// buildCRSFromWKTText builds a CRS from WKT without identifying it.
func buildCRSFromWKTText(s string) (*CRS, error) {
	p := &wktParser{s: s}
	root, err := p.node()
	if err != nil {
		return nil, err
	}
	return buildFromWKT(root)
}

func firstNode(n *wktNode) (*wktNode, bool) {
	for _, a := range n.args {
		if c, ok := a.(*wktNode); ok {
			return c, true
		}
	}
	return nil, false
}

// unitFactor reads UNIT[name, factor] (or ANGLEUNIT, LENGTHUNIT).
func unitFactor(n *wktNode, def float64) (float64, string) {
	u := n.child("UNIT", "ANGLEUNIT", "LENGTHUNIT")
	if u == nil {
		return def, ""
	}
	v, ok := u.num(1)
	if !ok || v <= 0 {
		return def, u.str(0)
	}
	return v, u.str(0)
}

func buildFromWKT(root *wktNode) (*CRS, error) {
	r, err := db()
	if err != nil {
		return nil, err
	}
	switch root.key {
	case "GEOGCS", "GEOGCRS", "GEODCRS", "GEOGRAPHICCRS", "GEODETICCRS":
		g, tw, err := geogFromWKT(r, root)
		if err != nil {
			return nil, err
		}
		c := &CRS{Name: g.name, geog: g, unit: g.unit, area: g.area, towgs84: tw}
		c.wkt.angUnitName = angUnitName(root)
		if first := root.child("AXIS"); first != nil && strings.EqualFold(first.str(1), "north") {
			c.swap = true
		}
		return c, nil
	case "PROJCS", "PROJCRS", "PROJECTEDCRS":
	default:
		return nil, fmt.Errorf("WKT: %s is not a geographic or projected CRS", root.key)
	}
	base := root.child("GEOGCS", "BASEGEOGCRS", "BASEGEODCRS")
	if base == nil {
		return nil, errors.New("WKT: projected CRS without its geographic CRS")
	}
	g, tw, err := geogFromWKT(r, base)
	if err != nil {
		return nil, err
	}
	method, params, err := conversionFromWKT(root, g)
	if err != nil {
		return nil, err
	}
	lin, lname := unitFactor(root, 1)
	pd := &projDef{name: root.str(0), method: method, params: params, unit: lin, unitName: lname, axes: "en"}
	if lname == "" {
		pd.unitName = "metre"
	}
	pd.unitCode = linearUnitCode(lin)
	axes := root.children("AXIS")
	switch {
	case len(axes) >= 2:
		pd.axes = wktAxis(axes[0]) + wktAxis(axes[1])
	case method == "9819":
		pd.axes = "sw" // WKT 1 Krovak is the southing/westing form
	}
	pr, err := buildProjection(method, params, g.datum.ell)
	if err != nil {
		return nil, err
	}
	c := &CRS{Name: pd.name, geog: g, proj: pr, pd: pd, unit: lin, area: [4]float64{-180, -90, 180, 90}, towgs84: tw}
	c.setAxes(pd.axes)
	c.wkt.angUnitName = angUnitName(base)
	return c, nil
}

func angUnitName(n *wktNode) string {
	if u := n.child("UNIT", "ANGLEUNIT"); u != nil {
		return u.str(0)
	}
	return ""
}

func wktAxis(a *wktNode) string {
	switch strings.ToLower(a.str(1)) {
	case "east":
		return "e"
	case "north":
		return "n"
	case "west":
		return "w"
	case "south":
		return "s"
	}
	return "o"
}

func linearUnitCode(f float64) string {
	switch {
	case f == 1:
		return "9001"
	case f == 0.3048:
		return "9002"
	case math.Abs(f-0.304800609601219) < 1e-15:
		return "9003"
	}
	return ""
}

// geogFromWKT builds the geographic part: the datum is the database's
// when its authority or name is known (so its transformations apply),
// else a custom one on the given ellipsoid.
func geogFromWKT(r *registry, n *wktNode) (*geogDef, *[7]float64, error) {
	if ref := authorityOf(n); ref != "" {
		if g, ok := r.geogs[ref]; ok {
			return g, nil, nil
		}
	}
	dn := n.child("DATUM", "ENSEMBLE", "TRF", "GEODETICDATUM")
	if dn == nil {
		return nil, nil, errors.New("WKT: geographic CRS without DATUM")
	}
	en := dn.child("SPHEROID", "ELLIPSOID")
	if en == nil {
		return nil, nil, errors.New("WKT: DATUM without SPHEROID")
	}
	a, ok1 := en.num(1)
	invf, ok2 := en.num(2)
	if !ok1 || !ok2 || a <= 0 {
		return nil, nil, errors.New("WKT: SPHEROID needs a semi-major axis and an inverse flattening")
	}
	if f, _ := unitFactor(en, 1); f != 1 {
		a *= f
	}
	var tw *[7]float64
	if t := dn.child("TOWGS84"); t != nil {
		var v [7]float64
		for i := range 7 {
			v[i], _ = t.num(i)
		}
		if v != ([7]float64{}) {
			tw = &v
		}
	}
	var d *datumDef
	if ref := authorityOf(dn); ref != "" {
		d = r.datums[ref]
	}
	if d == nil {
		if ref, ok := r.lookupName("D", dn.str(0)); ok {
			d = r.datums[ref]
		}
	}
	if d != nil && math.Abs(d.ell.a-a) > 1e-3 {
		d = nil // same name, other ellipsoid: not that datum
	}
	pmLon := 0.0
	pmName := "Greenwich"
	if pm := n.child("PRIMEM"); pm != nil {
		pmLon, _ = pm.num(1)
		pmName = pm.str(0)
		if f, _ := unitFactor(pm, 0); f != 0 && math.Abs(f-math.Pi/180) > 1e-12 && n.key != "GEOGCS" {
			pmLon = pmLon * f / deg
		}
	}
	if d != nil && math.Abs(d.pm.lon-pmLon) > 1e-9 {
		d = nil
	}
	if d == nil {
		ell := &ellipsoidDef{name: en.str(0), a: a, invf: invf}
		if ref := authorityOf(en); ref != "" {
			if e, ok := r.ellipsoids[ref]; ok && math.Abs(e.a-a) < 1e-3 {
				ell = e
			}
		}
		d = &datumDef{name: dn.str(0), ell: ell, pm: &pmDef{name: pmName, lon: pmLon}}
		if pmLon == 0 {
			d.pm = r.pms["EPSG:8901"]
		}
	}
	unit, _ := unitFactor(n, math.Pi/180)
	if cs := n.child("CS"); cs != nil && unit == math.Pi/180 {
		// WKT 2 may put the unit in each AXIS.
		if ax := n.child("AXIS"); ax != nil {
			unit, _ = unitFactor(ax, unit)
		}
	}
	g := &geogDef{name: n.str(0), datum: d, unit: exactDegree(unit), area: [4]float64{-180, -90, 180, 90}}
	return g, tw, nil
}

// wkt1Methods maps WKT 1 projection names (GDAL's and ESRI's, lower case)
// to EPSG methods.
var wkt1Methods = map[string]string{
	"transverse_mercator": "9807", "gauss_kruger": "9807", "transverse_mercator_south_orientated": "9808",
	"lambert_conformal_conic_1sp": "9801", "lambert_conformal_conic_2sp": "9802", "lambert_conformal_conic": "lcc",
	"albers_conic_equal_area": "9822", "albers": "9822", "lambert_azimuthal_equal_area": "9820",
	"polar_stereographic": "ps", "stereographic_north_pole": "9829", "stereographic_south_pole": "9829",
	"oblique_stereographic": "9809", "double_stereographic": "9809",
	"hotine_oblique_mercator": "9812", "hotine_oblique_mercator_azimuth_natural_origin": "9812",
	"hotine_oblique_mercator_azimuth_center": "9815", "rectified_skew_orthomorphic_natural_origin": "9812",
	"mercator_1sp": "9804", "mercator_2sp": "9805", "mercator": "merc", "mercator_auxiliary_sphere": "1024",
	"popular_visualisation_pseudo_mercator": "1024",
	"cassini_soldner":                       "9806", "cassini": "9806", "equirectangular": "1028", "equidistant_cylindrical": "1028",
	"plate_carree": "1028", "krovak": "9819",
}

// wkt1Params maps lower-case WKT 1 parameter names to EPSG parameter codes
// for each method.
func wkt1ParamCode(method, name string) int {
	if method == "1041" {
		method = "9819"
	}
	switch name {
	case "false_easting":
		switch method {
		case "9802", "9822":
			return 8826
		case "9815":
			return 8816
		}
		return 8806
	case "false_northing":
		switch method {
		case "9802", "9822":
			return 8827
		case "9815":
			return 8817
		}
		return 8807
	case "scale_factor":
		switch method {
		case "9812", "9815":
			return 8815
		case "9819":
			return 8819
		}
		return 8805
	case "latitude_of_origin", "latitude_of_center":
		switch method {
		case "9802", "9822":
			return 8821
		case "9812", "9815", "9819":
			return 8811
		case "9829":
			return 8832
		}
		return 8801
	case "central_meridian", "longitude_of_center", "longitude_of_origin":
		switch method {
		case "9802", "9822":
			return 8822
		case "9812", "9815":
			return 8812
		case "9819", "9829":
			return 8833
		}
		return 8802
	case "standard_parallel_1":
		if method == "9829" {
			return 8832
		}
		return 8823
	case "standard_parallel_2":
		return 8824
	case "azimuth":
		if method == "9819" {
			return 1036
		}
		return 8813
	case "rectified_grid_angle":
		return 8814
	case "pseudo_standard_parallel_1":
		return 8818
	}
	return 0
}

// conversionFromWKT returns the EPSG method and parameters (degrees,
// metres) of a projected CRS's PROJECTION (WKT 1) or CONVERSION (WKT 2).
func conversionFromWKT(root *wktNode, g *geogDef) (string, map[int]float64, error) {
	params := map[int]float64{}
	lin, _ := unitFactor(root, 1)
	if conv := root.child("CONVERSION"); conv != nil {
		m := conv.child("METHOD")
		method := ""
		if ref := authorityOf(m); strings.HasPrefix(ref, "EPSG:") {
			method = ref[5:]
		}
		if method == "" {
			return "", nil, fmt.Errorf("WKT: conversion method %q has no EPSG identifier", m.str(0))
		}
		for _, pn := range conv.children("PARAMETER") {
			ref := authorityOf(pn)
			code, err := strconv.Atoi(strings.TrimPrefix(ref, "EPSG:"))
			if err != nil || !strings.HasPrefix(ref, "EPSG:") {
				return "", nil, fmt.Errorf("WKT: parameter %q has no EPSG identifier", pn.str(0))
			}
			v, _ := pn.num(1)
			if u := pn.child("ANGLEUNIT"); u != nil {
				f, _ := u.num(1)
				v = v * f / deg
			} else if u := pn.child("LENGTHUNIT"); u != nil {
				f, _ := u.num(1)
				v *= f
			}
			params[code] = v
		}
		return method, params, nil
	}
	pn := root.child("PROJECTION")
	if pn == nil {
		return "", nil, errors.New("WKT: projected CRS without PROJECTION")
	}
	name := strings.ToLower(pn.str(0))
	method, ok := wkt1Methods[name]
	if !ok {
		return "", nil, fmt.Errorf("%w: projection %q", ErrUnsupported, pn.str(0))
	}
	raw := map[string]float64{}
	for _, p := range root.children("PARAMETER") {
		v, _ := p.num(1)
		raw[strings.ToLower(p.str(0))] = v
	}
	switch method {
	case "lcc":
		method = "9801"
		if _, ok := raw["standard_parallel_2"]; ok {
			method = "9802"
		} else if sp1, ok := raw["standard_parallel_1"]; ok {
			raw["latitude_of_origin"] = sp1
			delete(raw, "standard_parallel_1")
		}
	case "merc":
		method = "9804"
		if _, ok := raw["standard_parallel_1"]; ok {
			method = "9805"
		}
	case "9819":
		// ESRI's Krovak says its orientation with X_Scale, Y_Scale and
		// XY_Plane_Rotation: 1, 1, 0 is the classic southing/westing
		// form, -1, -1, 90 the East North one.
		xs, ok := raw["x_scale"]
		if ok && xs == -1 && raw["y_scale"] == 1 && raw["xy_plane_rotation"] == 90 {
			method = "1041"
		} else if ok && !(xs == 1 && raw["y_scale"] == 1 && raw["xy_plane_rotation"] == 0) {
			return "", nil, fmt.Errorf("%w: Krovak with X_Scale %g, Y_Scale %g, XY_Plane_Rotation %g", ErrUnsupported, xs, raw["y_scale"], raw["xy_plane_rotation"])
		}
		delete(raw, "x_scale")
		delete(raw, "y_scale")
		delete(raw, "xy_plane_rotation")
	case "ps":
		method = "9829"
		if lat := raw["latitude_of_origin"]; math.Abs(math.Abs(lat)-90) < 1e-9 {
			method = "9810"
		}
	}
	for k, v := range raw {
		code := wkt1ParamCode(method, k)
		if code == 0 {
			if v != 0 {
				return "", nil, fmt.Errorf("%w: parameter %q of %s", ErrUnsupported, k, pn.str(0))
			}
			continue
		}
		if angularParams[code] {
			v = v * g.unit / deg // in the GEOGCS's unit
		} else if code != 8805 && code != 8815 && code != 8819 {
			v *= lin // false easting and northing are in the linear unit
		}
		params[code] = v
	}
	if method == "9812" || method == "9815" {
		if _, ok := params[8814]; !ok {
			params[8814] = params[8813]
		}
	}
	if method == "9805" && params[8823] == 0 {
		// Mercator with its standard parallel on the equator, as ESRI
		// writes EPSG:3395: variant A with a scale of 1.
		method = "9804"
		params = map[int]float64{8801: 0, 8802: params[8802], 8805: 1, 8806: params[8806], 8807: params[8807]}
	}
	return method, params, nil
}

// identify returns the database CRS that a built definition is, as GDAL
// and PROJ identify a WKT without identifier: same name (or alias) and
// the same datum, method and parameters.
func identify(c *CRS) (int, bool) {
	r, err := db()
	if err != nil || c.towgs84 != nil {
		return 0, false
	}
	kind := "G"
	if c.proj != nil {
		kind = "R"
	}
	ref, ok := r.lookupName(kind, c.Name)
	if !ok {
		return 0, false
	}
	id, ok := idOf(ref)
	if !ok {
		return 0, false
	}
	cand, err := Lookup(id)
	if err != nil || !equivalent(c, cand) {
		return 0, false
	}
	return id, true
}

// equivalent reports whether a built definition computes the same as a
// database one: the same datum (or, for a definition whose datum has no
// code, as ESRI's .prj files name some, the same ellipsoid and prime
// meridian), unit, method and parameters.
func equivalent(a, b *CRS) bool {
	da, db := a.geog.datum, b.geog.datum
	if (a.proj == nil) != (b.proj == nil) {
		return false
	}
	if da.code != "" && da.code != db.code {
		return false
	}
	if da.code == "" && (math.Abs(da.ell.a-db.ell.a) > 1e-3 || math.Abs(da.ell.invf-db.ell.invf) > 1e-6 || math.Abs(da.pm.lon-db.pm.lon) > 1e-7) {
		return false
	}
	if math.Abs(a.unit-b.unit) > 1e-12*b.unit {
		return false
	}
	if a.proj == nil {
		return true
	}
	if a.pd.method != b.pd.method || a.xIsN != b.xIsN || a.s1 != b.s1 || a.s2 != b.s2 {
		return false
	}
	keys := map[int]bool{}
	for k := range a.pd.params {
		keys[k] = true
	}
	for k := range b.pd.params {
		keys[k] = true
	}
	for k := range keys {
		d := a.pd.params[k] - b.pd.params[k]
		if angularParams[k] {
			d = math.Remainder(d, 360) // ESRI writes 337.25556 as -22.74444
		}
		if math.Abs(d) > 1e-7*math.Max(1, math.Abs(b.pd.params[k])) {
			return false
		}
	}
	return true
}

// projEllipsoids maps PROJ's +ellps names to EPSG ellipsoids.
var projEllipsoids = map[string]string{
	"wgs84": "EPSG:7030", "grs80": "EPSG:7019", "bessel": "EPSG:7004", "intl": "EPSG:7022", "clrk66": "EPSG:7008",
	"clrk80": "EPSG:7034", "clrk80ign": "EPSG:7011", "airy": "EPSG:7001", "mod_airy": "EPSG:7002", "krass": "EPSG:7024",
	"wgs72": "EPSG:7043", "aust_sa": "EPSG:7003", "helmert": "EPSG:7020", "evrst30": "EPSG:7015", "grs67": "EPSG:7036",
	"bess_nam": "EPSG:7046", "wgs66": "EPSG:7025", "hough": "EPSG:7053", "new_intl": "EPSG:7036",
}

// projMethods maps +proj names to EPSG methods.
var projMethods = map[string]string{
	"tmerc": "9807", "etmerc": "9807", "utm": "9807", "lcc": "lcc", "aea": "9822", "laea": "9820", "stere": "ps",
	"ups": "9810", "sterea": "9809", "omerc": "omerc", "merc": "merc", "cass": "9806", "eqc": "1028", "krovak": "9819",
	"somerc": "9815",
}

// parseProjString reads a PROJ string such as "+proj=utm +zone=32
// +datum=WGS84 +units=m +no_defs".
func parseProjString(s string) (int, error) {
	kv := map[string]string{}
	var order []string
	for _, tok := range strings.Fields(s) {
		tok = strings.TrimPrefix(tok, "+")
		k, v, _ := strings.Cut(tok, "=")
		k = strings.ToLower(k)
		if _, dup := kv[k]; !dup {
			order = append(order, k)
		}
		kv[k] = v
	}
	if init := kv["init"]; init != "" {
		return Parse(init)
	}
	r, err := db()
	if err != nil {
		return 0, err
	}
	num := func(k string, def float64) (float64, error) {
		v, ok := kv[k]
		if !ok {
			return def, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("PROJ string: +%s=%q is not a number", k, v)
		}
		return f, nil
	}
	proj := kv["proj"]
	if proj == "" {
		return 0, errors.New("PROJ string without +proj")
	}
	// Web Mercator as GDAL writes it.
	if proj == "merc" && kv["a"] == "6378137" && kv["b"] == "6378137" && kv["nadgrids"] == "@null" {
		return 3857, nil
	}
	var d *datumDef
	if dn := kv["datum"]; dn != "" {
		if ref, ok := r.lookupName("P", dn); ok {
			d = r.datums[ref]
		} else if ref, ok := r.lookupName("D", dn); ok {
			d = r.datums[ref]
		}
		if d == nil {
			return 0, fmt.Errorf("PROJ string: unknown datum %q", dn)
		}
	}
	var ell *ellipsoidDef
	if en := kv["ellps"]; en != "" {
		ref, ok := projEllipsoids[strings.ToLower(en)]
		if !ok {
			return 0, fmt.Errorf("PROJ string: unknown ellipsoid %q", en)
		}
		ell = r.ellipsoids[ref]
	}
	if _, ok := kv["a"]; ok {
		a, err := num("a", 0)
		if err != nil {
			return 0, err
		}
		invf := 0.0
		switch {
		case kv["rf"] != "":
			if invf, err = num("rf", 0); err != nil {
				return 0, err
			}
		case kv["b"] != "":
			b, err := num("b", a)
			if err != nil {
				return 0, err
			}
			if b != a {
				invf = a / (a - b)
			}
		case kv["f"] != "":
			f, err := num("f", 0)
			if err != nil {
				return 0, err
			}
			if f != 0 {
				invf = 1 / f
			}
		}
		ell = &ellipsoidDef{name: "unknown", a: a, invf: invf}
	} else if _, ok := kv["r"]; ok {
		a, err := num("r", 0)
		if err != nil {
			return 0, err
		}
		ell = &ellipsoidDef{name: "sphere", a: a}
	}
	if d == nil {
		if ell == nil {
			ell = r.ellipsoids["EPSG:7030"] // PROJ's default ellipsoid
		}
		d = &datumDef{name: "Unknown based on " + ell.name + " ellipsoid", ell: ell, pm: r.pms["EPSG:8901"]}
	}
	if pmv := kv["pm"]; pmv != "" && pmv != "greenwich" {
		lon, err := strconv.ParseFloat(pmv, 64)
		if err != nil {
			found := false
			for _, pm := range r.pms {
				if strings.EqualFold(pm.name, pmv) {
					lon, found = pm.lon, true
				}
			}
			if !found {
				return 0, fmt.Errorf("PROJ string: unknown prime meridian %q", pmv)
			}
		}
		if d.code != "" && d.pm.lon != lon {
			return 0, fmt.Errorf("PROJ string: +pm=%s does not belong to +datum=%s", pmv, kv["datum"])
		}
		if d.code == "" {
			d.pm = &pmDef{name: pmv, lon: lon}
		}
	}
	var tw *[7]float64
	if t := kv["towgs84"]; t != "" {
		var v [7]float64
		for i, f := range strings.Split(t, ",") {
			if i >= 7 {
				break
			}
			if v[i], err = strconv.ParseFloat(f, 64); err != nil {
				return 0, fmt.Errorf("PROJ string: bad +towgs84 %q", t)
			}
		}
		if v != ([7]float64{}) || d.code == "" {
			tw = &v
		}
	}
	if g, ok := kv["nadgrids"]; ok && g != "@null" {
		return 0, fmt.Errorf("%w: PROJ string with +nadgrids=%s", ErrUnsupported, g)
	}
	g := &geogDef{name: d.name, datum: d, unit: math.Pi / 180, area: [4]float64{-180, -90, 180, 90}}
	if d.code != "" {
		// The database's geographic CRS of that datum, for its name.
		var refs []string
		for ref, gg := range r.geogs {
			if gg.datum == d && !gg.deprecated && gg.unit == math.Pi/180 {
				refs = append(refs, ref)
			}
		}
		sort.Slice(refs, func(i, j int) bool { return refLess(refs[i], refs[j]) })
		if len(refs) > 0 {
			g = r.geogs[refs[0]]
		}
	}
	c := &CRS{geog: g, towgs84: tw, area: [4]float64{-180, -90, 180, 90}}
	if proj == "longlat" || proj == "latlong" || proj == "lonlat" || proj == "latlon" {
		c.Name, c.unit = g.name, g.unit
		if id, ok := identify(c); ok && tw == nil {
			return id, nil
		}
		c.WKT = c.buildWKT1()
		return intern(c), nil
	}
	method, ok := projMethods[proj]
	if !ok {
		return 0, fmt.Errorf("%w: +proj=%s", ErrUnsupported, proj)
	}
	lat0, _ := num("lat_0", 0)
	lon0, _ := num("lon_0", 0)
	k0, err := num("k_0", 1)
	if err != nil {
		return 0, err
	}
	if _, ok := kv["k"]; ok {
		if k0, err = num("k", 1); err != nil {
			return 0, err
		}
	}
	fe, _ := num("x_0", 0)
	fn, _ := num("y_0", 0)
	lat1, _ := num("lat_1", lat0)
	lat2, has2 := kv["lat_2"]
	latTS, _ := num("lat_ts", 0)
	params := map[int]float64{}
	switch proj {
	case "utm":
		zone, err := num("zone", 0)
		if err != nil || zone < 1 || zone > 60 || zone != math.Trunc(zone) {
			return 0, errors.New("PROJ string: +proj=utm needs +zone=1..60")
		}
		lon0, k0, fe, fn = zone*6-183, 0.9996, 500000, 0
		if _, south := kv["south"]; south {
			fn = 10000000
		}
		lat0 = 0
	}
	switch method {
	case "9807", "9809", "9806":
		params = map[int]float64{8801: lat0, 8802: lon0, 8805: k0, 8806: fe, 8807: fn}
	case "lcc":
		l2, _ := strconv.ParseFloat(lat2, 64)
		if !has2 || l2 == lat1 {
			method = "9801"
			params = map[int]float64{8801: lat1, 8802: lon0, 8805: k0, 8806: fe, 8807: fn}
		} else {
			method = "9802"
			params = map[int]float64{8821: lat0, 8822: lon0, 8823: lat1, 8824: l2, 8826: fe, 8827: fn}
		}
	case "9822":
		l2, _ := strconv.ParseFloat(lat2, 64)
		params = map[int]float64{8821: lat0, 8822: lon0, 8823: lat1, 8824: l2, 8826: fe, 8827: fn}
	case "9820":
		params = map[int]float64{8801: lat0, 8802: lon0, 8806: fe, 8807: fn}
	case "ps", "9810":
		if math.Abs(math.Abs(lat0)-90) > 1e-9 {
			return 0, fmt.Errorf("%w: oblique +proj=stere (only polar)", ErrUnsupported)
		}
		if _, ok := kv["lat_ts"]; ok {
			method = "9829"
			params = map[int]float64{8832: latTS, 8833: lon0, 8806: fe, 8807: fn}
		} else {
			method = "9810"
			params = map[int]float64{8801: lat0, 8802: lon0, 8805: k0, 8806: fe, 8807: fn}
		}
	case "merc":
		if _, ok := kv["lat_ts"]; ok {
			method = "9805"
			params = map[int]float64{8823: latTS, 8802: lon0, 8806: fe, 8807: fn}
		} else {
			method = "9804"
			params = map[int]float64{8801: 0, 8802: lon0, 8805: k0, 8806: fe, 8807: fn}
		}
	case "omerc":
		alpha, _ := num("alpha", 0)
		gamma, _ := num("gamma", alpha)
		lonc, _ := num("lonc", lon0)
		if _, ok := kv["no_uoff"]; ok {
			method = "9812"
			params = map[int]float64{8811: lat0, 8812: lonc, 8813: alpha, 8814: gamma, 8815: k0, 8806: fe, 8807: fn}
		} else {
			method = "9815"
			params = map[int]float64{8811: lat0, 8812: lonc, 8813: alpha, 8814: gamma, 8815: k0, 8816: fe, 8817: fn}
		}
	case "9815": // somerc
		params = map[int]float64{8811: lat0, 8812: lon0, 8813: 90, 8814: 90, 8815: k0, 8816: fe, 8817: fn}
	case "1028":
		params = map[int]float64{8823: latTS, 8801: lat0, 8802: lon0, 8806: fe, 8807: fn}
	case "9819":
		alpha, _ := num("alpha", 30.28813972222222)
		lat0, _ := num("lat_0", 49.5)
		lon0, _ := num("lon_0", 24.83333333333333)
		k0, _ := num("k", 0.9999)
		params = map[int]float64{8811: lat0, 8833: lon0, 1036: alpha, 8818: 78.5, 8819: k0, 8806: fe, 8807: fn}
		method = "1041"
	}
	unit := 1.0
	unitName, unitCode := "metre", "9001"
	switch kv["units"] {
	case "", "m":
	case "us-ft":
		unit, unitName, unitCode = 0.304800609601219, "US survey foot", "9003"
	case "ft":
		unit, unitName, unitCode = 0.3048, "foot", "9002"
	case "km":
		unit, unitName, unitCode = 1000, "kilometre", "9036"
	default:
		return 0, fmt.Errorf("%w: +units=%s", ErrUnsupported, kv["units"])
	}
	if _, ok := kv["to_meter"]; ok {
		if unit, err = num("to_meter", 1); err != nil || unit <= 0 {
			return 0, errors.New("PROJ string: bad +to_meter")
		}
		unitName, unitCode = "unknown", linearUnitCode(unit)
	}
	axes := "en"
	if a := kv["axis"]; a != "" && a != "enu" {
		if len(a) < 2 {
			return 0, fmt.Errorf("PROJ string: bad +axis=%s", a)
		}
		axes = a[:2]
	}
	pd := &projDef{name: "unknown", method: method, params: params, unit: unit, unitName: unitName, unitCode: unitCode, axes: axes}
	pr, err := buildProjection(method, params, d.ell)
	if err != nil {
		return 0, err
	}
	c.proj, c.pd, c.unit = pr, pd, unit
	c.setAxes(axes)
	if id, ok := identifyByParameters(r, c); ok {
		return id, nil
	}
	c.Name = "unknown"
	c.WKT = c.buildWKT1()
	return intern(c), nil
}

// identifyByParameters finds the database projected CRS with the same
// datum, method and parameters (PROJ strings carry no name).
func identifyByParameters(r *registry, c *CRS) (int, bool) {
	if c.towgs84 != nil || c.geog.datum.code == "" {
		return 0, false
	}
	var refs []string
	r.eachProj(func(ref string, p *projDef) {
		if p.method == c.pd.method && !p.deprecated && strings.HasPrefix(ref, "EPSG:") {
			refs = append(refs, ref)
		}
	})
	sort.Slice(refs, func(i, j int) bool { return refLess(refs[i], refs[j]) })
	for _, ref := range refs {
		id, _ := idOf(ref)
		cand, err := Lookup(id)
		if err == nil && equivalent(c, cand) {
			return id, true
		}
	}
	return 0, false
}
