package etl

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/geoetl/geoetl/etl/crs"
)

// GeoParquet names a CRS in PROJJSON, which readers (PROJ, and through it
// GDAL, pyproj, DuckDB) parse in full: an object with only an id is
// refused ("Missing base_crs"). The engine has no PROJ, so the PROJJSON is
// built from the WKT 1 that etl/crs holds for every system, for the
// projection methods that WKT uses; a method it does not know is an error
// rather than a half description.

// wktNode is one KEYWORD[...] of a WKT text.
type wktNode struct {
	key  string
	args []any // string (quoted), float64, or *wktNode; bare words as string
}

func parseWKT1(s string) (*wktNode, error) {
	p := &wktParser{s: s}
	n, err := p.node()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("text after the WKT at %d", p.i)
	}
	return n, nil
}

type wktParser struct {
	s string
	i int
}

func (p *wktParser) space() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

func (p *wktParser) word() string {
	p.space()
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("[](),\" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *wktParser) node() (*wktNode, error) {
	key := p.word()
	if key == "" {
		return nil, fmt.Errorf("expected a WKT keyword at %d", p.i)
	}
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '[' && p.s[p.i] != '(') {
		return nil, fmt.Errorf("expected [ after %s", key)
	}
	closer := byte(']')
	if p.s[p.i] == '(' {
		closer = ')'
	}
	p.i++
	n := &wktNode{key: strings.ToUpper(key)}
	for {
		p.space()
		if p.i >= len(p.s) {
			return nil, errors.New("unterminated WKT")
		}
		switch c := p.s[p.i]; {
		case c == '"':
			end := strings.IndexByte(p.s[p.i+1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated string in WKT")
			}
			n.args = append(n.args, p.s[p.i+1:p.i+1+end])
			p.i += end + 2
		default:
			save := p.i
			w := p.word()
			p.space()
			if p.i < len(p.s) && (p.s[p.i] == '[' || p.s[p.i] == '(') {
				p.i = save
				child, err := p.node()
				if err != nil {
					return nil, err
				}
				n.args = append(n.args, child)
			} else if f, err := strconv.ParseFloat(w, 64); err == nil {
				n.args = append(n.args, f)
			} else if w != "" {
				n.args = append(n.args, w)
			} else {
				return nil, fmt.Errorf("unexpected %q in WKT", p.s[p.i])
			}
		}
		p.space()
		if p.i >= len(p.s) {
			return nil, errors.New("unterminated WKT")
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.s[p.i] == closer {
			p.i++
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %q in WKT", p.s[p.i])
	}
}

func (n *wktNode) name() string {
	if len(n.args) > 0 {
		if s, ok := n.args[0].(string); ok {
			return s
		}
	}
	return ""
}

func (n *wktNode) num(i int) float64 {
	if i < len(n.args) {
		if f, ok := n.args[i].(float64); ok {
			return f
		}
	}
	return 0
}

func (n *wktNode) child(key string) *wktNode {
	for _, a := range n.args {
		if c, ok := a.(*wktNode); ok && c.key == key {
			return c
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

// id returns the node's AUTHORITY as a PROJJSON id, or nil.
func (n *wktNode) id() map[string]any {
	a := n.child("AUTHORITY")
	if a == nil || len(a.args) < 2 {
		return nil
	}
	auth, _ := a.args[0].(string)
	var code any = a.args[1]
	if s, ok := code.(string); ok {
		if i, err := strconv.Atoi(s); err == nil {
			code = i
		}
	}
	if f, ok := code.(float64); ok {
		code = int(f)
	}
	return map[string]any{"authority": auth, "code": code}
}

func withID(m map[string]any, n *wktNode) map[string]any {
	if id := n.id(); id != nil {
		m["id"] = id
	}
	return m
}

// projJSONMethods maps WKT 1 projection names to EPSG methods and their
// parameters (WKT 1 name -> EPSG name, code, unit kind).
var projJSONMethods = map[string]struct {
	name   string
	code   int
	params map[string]projJSONParam
}{
	"Transverse_Mercator": {"Transverse Mercator", 9807, map[string]projJSONParam{
		"latitude_of_origin": {"Latitude of natural origin", 8801, "angle"},
		"central_meridian":   {"Longitude of natural origin", 8802, "angle"},
		"scale_factor":       {"Scale factor at natural origin", 8805, "scale"},
		"false_easting":      {"False easting", 8806, "length"},
		"false_northing":     {"False northing", 8807, "length"},
	}},
	"Lambert_Conformal_Conic_2SP": {"Lambert Conic Conformal (2SP)", 9802, map[string]projJSONParam{
		"latitude_of_origin":  {"Latitude of false origin", 8821, "angle"},
		"central_meridian":    {"Longitude of false origin", 8822, "angle"},
		"standard_parallel_1": {"Latitude of 1st standard parallel", 8823, "angle"},
		"standard_parallel_2": {"Latitude of 2nd standard parallel", 8824, "angle"},
		"false_easting":       {"Easting at false origin", 8826, "length"},
		"false_northing":      {"Northing at false origin", 8827, "length"},
	}},
	"Lambert_Azimuthal_Equal_Area": {"Lambert Azimuthal Equal Area", 9820, map[string]projJSONParam{
		"latitude_of_center":  {"Latitude of natural origin", 8801, "angle"},
		"longitude_of_center": {"Longitude of natural origin", 8802, "angle"},
		"false_easting":       {"False easting", 8806, "length"},
		"false_northing":      {"False northing", 8807, "length"},
	}},
	"Lambert_Conformal_Conic_1SP": {"Lambert Conic Conformal (1SP)", 9801, map[string]projJSONParam{
		"latitude_of_origin": {"Latitude of natural origin", 8801, "angle"},
		"central_meridian":   {"Longitude of natural origin", 8802, "angle"},
		"scale_factor":       {"Scale factor at natural origin", 8805, "scale"},
		"false_easting":      {"False easting", 8806, "length"},
		"false_northing":     {"False northing", 8807, "length"},
	}},
	"Albers_Conic_Equal_Area": {"Albers Equal Area", 9822, map[string]projJSONParam{
		"latitude_of_center":  {"Latitude of false origin", 8821, "angle"},
		"longitude_of_center": {"Longitude of false origin", 8822, "angle"},
		"standard_parallel_1": {"Latitude of 1st standard parallel", 8823, "angle"},
		"standard_parallel_2": {"Latitude of 2nd standard parallel", 8824, "angle"},
		"false_easting":       {"Easting at false origin", 8826, "length"},
		"false_northing":      {"Northing at false origin", 8827, "length"},
	}},
	"Oblique_Stereographic": {"Oblique Stereographic", 9809, map[string]projJSONParam{
		"latitude_of_origin": {"Latitude of natural origin", 8801, "angle"},
		"central_meridian":   {"Longitude of natural origin", 8802, "angle"},
		"scale_factor":       {"Scale factor at natural origin", 8805, "scale"},
		"false_easting":      {"False easting", 8806, "length"},
		"false_northing":     {"False northing", 8807, "length"},
	}},
	"Cassini_Soldner": {"Cassini-Soldner", 9806, map[string]projJSONParam{
		"latitude_of_origin": {"Latitude of natural origin", 8801, "angle"},
		"central_meridian":   {"Longitude of natural origin", 8802, "angle"},
		"false_easting":      {"False easting", 8806, "length"},
		"false_northing":     {"False northing", 8807, "length"},
	}},
	"Hotine_Oblique_Mercator_Azimuth_Center": {"Hotine Oblique Mercator (variant B)", 9815, map[string]projJSONParam{
		"latitude_of_center":   {"Latitude of projection centre", 8811, "angle"},
		"longitude_of_center":  {"Longitude of projection centre", 8812, "angle"},
		"azimuth":              {"Azimuth of initial line", 8813, "angle"},
		"rectified_grid_angle": {"Angle from Rectified to Skew Grid", 8814, "angle"},
		"scale_factor":         {"Scale factor on initial line", 8815, "scale"},
		"false_easting":        {"Easting at projection centre", 8816, "length"},
		"false_northing":       {"Northing at projection centre", 8817, "length"},
	}},
	"Hotine_Oblique_Mercator": {"Hotine Oblique Mercator (variant A)", 9812, map[string]projJSONParam{
		"latitude_of_center":   {"Latitude of projection centre", 8811, "angle"},
		"longitude_of_center":  {"Longitude of projection centre", 8812, "angle"},
		"azimuth":              {"Azimuth of initial line", 8813, "angle"},
		"rectified_grid_angle": {"Angle from Rectified to Skew Grid", 8814, "angle"},
		"scale_factor":         {"Scale factor on initial line", 8815, "scale"},
		"false_easting":        {"False easting", 8806, "length"},
		"false_northing":       {"False northing", 8807, "length"},
	}},
	"Mercator_2SP": {"Mercator (variant B)", 9805, map[string]projJSONParam{
		"standard_parallel_1": {"Latitude of 1st standard parallel", 8823, "angle"},
		"central_meridian":    {"Longitude of natural origin", 8802, "angle"},
		"false_easting":       {"False easting", 8806, "length"},
		"false_northing":      {"False northing", 8807, "length"},
	}},
	"Mercator_1SP": {"Mercator (variant A)", 9804, map[string]projJSONParam{
		"latitude_of_origin": {"Latitude of natural origin", 8801, "angle"},
		"central_meridian":   {"Longitude of natural origin", 8802, "angle"},
		"scale_factor":       {"Scale factor at natural origin", 8805, "scale"},
		"false_easting":      {"False easting", 8806, "length"},
		"false_northing":     {"False northing", 8807, "length"},
	}},
}

// northingFirst lists the projected systems of etl/crs whose EPSG axes
// are northing, easting.
var northingFirst = map[int]bool{3035: true}

type projJSONParam struct {
	name string
	code int
	kind string
}

func projJSONUnit(u *wktNode, fallback string) any {
	if u == nil {
		return fallback
	}
	switch strings.ToLower(u.name()) {
	case "degree":
		return "degree"
	case "metre", "meter":
		return "metre"
	}
	kind := "LinearUnit"
	if fallback == "degree" {
		kind = "AngularUnit"
	}
	return withID(map[string]any{"type": kind, "name": u.name(), "conversion_factor": u.num(1)}, u)
}

func geographicProjJSON(g *wktNode) (map[string]any, error) {
	d := g.child("DATUM")
	if d == nil || d.child("SPHEROID") == nil {
		return nil, errors.New("GEOGCS without DATUM/SPHEROID")
	}
	sp := d.child("SPHEROID")
	unit := projJSONUnit(g.child("UNIT"), "degree")
	datum := withID(map[string]any{
		"type": "GeodeticReferenceFrame",
		"name": strings.ReplaceAll(d.name(), "_", " "),
		"ellipsoid": withID(map[string]any{
			"name": sp.name(), "semi_major_axis": sp.num(1), "inverse_flattening": sp.num(2),
		}, sp),
	}, d)
	if pm := g.child("PRIMEM"); pm != nil && pm.num(1) != 0 {
		datum["prime_meridian"] = map[string]any{"name": pm.name(), "longitude": pm.num(1)}
	}
	return withID(map[string]any{
		"type":  "GeographicCRS",
		"name":  g.name(),
		"datum": datum,
		"coordinate_system": map[string]any{"subtype": "ellipsoidal", "axis": []any{
			map[string]any{"name": "Geodetic latitude", "abbreviation": "Lat", "direction": "north", "unit": unit},
			map[string]any{"name": "Geodetic longitude", "abbreviation": "Lon", "direction": "east", "unit": unit},
		}},
	}, g), nil
}

// wkt1ToProjJSON converts the WKT 1 of etl/crs to PROJJSON.
// swapped says that the system's EPSG axes are northing, easting, which
// WKT 1 as GDAL writes it leaves out.
func wkt1ToProjJSON(wkt string, code int, swapped bool) (map[string]any, error) {
	root, err := parseWKT1(wkt)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	switch root.key {
	case "GEOGCS":
		if out, err = geographicProjJSON(root); err != nil {
			return nil, err
		}
	case "PROJCS":
		g := root.child("GEOGCS")
		pr := root.child("PROJECTION")
		if g == nil || pr == nil {
			return nil, errors.New("PROJCS without GEOGCS or PROJECTION")
		}
		base, err := geographicProjJSON(g)
		if err != nil {
			return nil, err
		}
		delete(base, "type")
		m, ok := projJSONMethods[pr.name()]
		if !ok {
			return nil, fmt.Errorf("projection method %q has no PROJJSON mapping", pr.name())
		}
		method := map[string]any{"name": m.name, "id": map[string]any{"authority": "EPSG", "code": m.code}}
		convName := "unnamed"
		if code == 3857 {
			method = map[string]any{"name": "Popular Visualisation Pseudo Mercator", "id": map[string]any{"authority": "EPSG", "code": 1024}}
			convName = "Popular Visualisation Pseudo-Mercator"
		}
		length := projJSONUnit(root.child("UNIT"), "metre")
		var params []any
		for _, p := range root.children("PARAMETER") {
			spec, ok := m.params[p.name()]
			if !ok {
				return nil, fmt.Errorf("parameter %q of %s has no PROJJSON mapping", p.name(), pr.name())
			}
			if code == 3857 && spec.code == 8805 {
				continue // the pseudo Mercator method has no scale factor
			}
			unit := any("degree")
			switch spec.kind {
			case "scale":
				unit = "unity"
			case "length":
				unit = length
			}
			params = append(params, map[string]any{"name": spec.name, "value": p.num(1), "unit": unit,
				"id": map[string]any{"authority": "EPSG", "code": spec.code}})
		}
		axes := []any{
			map[string]any{"name": "Easting", "abbreviation": "E", "direction": "east", "unit": length},
			map[string]any{"name": "Northing", "abbreviation": "N", "direction": "north", "unit": length},
		}
		if ax := root.children("AXIS"); len(ax) == 2 {
			axes = nil
			for _, a := range ax {
				dir := strings.ToLower(fmt.Sprint(a.args[len(a.args)-1]))
				abbr := map[string]string{"east": "E", "north": "N", "west": "W", "south": "S"}[dir]
				axes = append(axes, map[string]any{"name": a.name(), "abbreviation": abbr, "direction": dir, "unit": length})
			}
		}
		switch {
		case code == 3857:
			axes[0].(map[string]any)["abbreviation"] = "X"
			axes[1].(map[string]any)["abbreviation"] = "Y"
		case swapped && len(root.children("AXIS")) == 0:
			// GeoParquet's WKB stays easting first whatever the axes say.
			axes = []any{
				map[string]any{"name": "Northing", "abbreviation": "Y", "direction": "north", "unit": length},
				map[string]any{"name": "Easting", "abbreviation": "X", "direction": "east", "unit": length},
			}
		}
		out = withID(map[string]any{
			"type":              "ProjectedCRS",
			"name":              root.name(),
			"base_crs":          base,
			"conversion":        map[string]any{"name": convName, "method": method, "parameters": params},
			"coordinate_system": map[string]any{"subtype": "Cartesian", "axis": axes},
		}, root)
	default:
		return nil, fmt.Errorf("WKT %s cannot be described in PROJJSON here", root.key)
	}
	out["$schema"] = "https://proj.org/schemas/v0.7/projjson.schema.json"
	return out, nil
}

// projJSON describes a CRS of etl/crs as PROJJSON for GeoParquet.
func projJSON(code int) (json.RawMessage, error) {
	c, err := crs.Lookup(code)
	if err != nil {
		return nil, err
	}
	swapped := northingFirst[code]
	// etl/crs knows the axis order of every system it defines from PROJ's
	// database; ask it when it can say.
	if a, ok := any(c).(interface{ AxisSwapped() bool }); ok {
		swapped = a.AxisSwapped()
	}
	pj, err := wkt1ToProjJSON(c.WKT, code, swapped)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be written to GeoParquet: %v", c, err)
	}
	return json.Marshal(pj)
}
