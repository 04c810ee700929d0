package crs

import (
	"strconv"
	"strings"
)

// wktInfo holds what a WKT 1 definition needs beyond the computing
// fields, for definitions that do not come from the table.
type wktInfo struct {
	angUnitName string // e.g. "degree"; "" takes it from the unit factor
	extension   string // an EXTENSION["PROJ4", ...] value
}

// wkt1Projections maps EPSG methods to GDAL's WKT 1 projection names and
// parameters (WKT name and EPSG parameter code), in the order GDAL writes
// them.
var wkt1Projections = map[string]struct {
	name   string
	params [][2]string
}{
	"9807": {"Transverse_Mercator", [][2]string{{"latitude_of_origin", "8801"}, {"central_meridian", "8802"}, {"scale_factor", "8805"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9808": {"Transverse_Mercator_South_Orientated", [][2]string{{"latitude_of_origin", "8801"}, {"central_meridian", "8802"}, {"scale_factor", "8805"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9801": {"Lambert_Conformal_Conic_1SP", [][2]string{{"latitude_of_origin", "8801"}, {"central_meridian", "8802"}, {"scale_factor", "8805"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9802": {"Lambert_Conformal_Conic_2SP", [][2]string{{"latitude_of_origin", "8821"}, {"central_meridian", "8822"}, {"standard_parallel_1", "8823"}, {"standard_parallel_2", "8824"}, {"false_easting", "8826"}, {"false_northing", "8827"}}},
	"9822": {"Albers_Conic_Equal_Area", [][2]string{{"latitude_of_center", "8821"}, {"longitude_of_center", "8822"}, {"standard_parallel_1", "8823"}, {"standard_parallel_2", "8824"}, {"false_easting", "8826"}, {"false_northing", "8827"}}},
	"9820": {"Lambert_Azimuthal_Equal_Area", [][2]string{{"latitude_of_center", "8801"}, {"longitude_of_center", "8802"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9810": {"Polar_Stereographic", [][2]string{{"latitude_of_origin", "8801"}, {"central_meridian", "8802"}, {"scale_factor", "8805"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9829": {"Polar_Stereographic", [][2]string{{"latitude_of_origin", "8832"}, {"central_meridian", "8833"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9809": {"Oblique_Stereographic", [][2]string{{"latitude_of_origin", "8801"}, {"central_meridian", "8802"}, {"scale_factor", "8805"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9812": {"Hotine_Oblique_Mercator", [][2]string{{"latitude_of_center", "8811"}, {"longitude_of_center", "8812"}, {"azimuth", "8813"}, {"rectified_grid_angle", "8814"}, {"scale_factor", "8815"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9815": {"Hotine_Oblique_Mercator_Azimuth_Center", [][2]string{{"latitude_of_center", "8811"}, {"longitude_of_center", "8812"}, {"azimuth", "8813"}, {"rectified_grid_angle", "8814"}, {"scale_factor", "8815"}, {"false_easting", "8816"}, {"false_northing", "8817"}}},
	"9804": {"Mercator_1SP", [][2]string{{"central_meridian", "8802"}, {"scale_factor", "8805"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9805": {"Mercator_2SP", [][2]string{{"standard_parallel_1", "8823"}, {"central_meridian", "8802"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"1024": {"Mercator_1SP", [][2]string{{"central_meridian", "8802"}, {"scale_factor", "-1"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9806": {"Cassini_Soldner", [][2]string{{"latitude_of_origin", "8801"}, {"central_meridian", "8802"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"1028": {"Equirectangular", [][2]string{{"standard_parallel_1", "8823"}, {"central_meridian", "8802"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"1029": {"Equirectangular", [][2]string{{"standard_parallel_1", "8823"}, {"central_meridian", "8802"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"9819": {"Krovak", [][2]string{{"latitude_of_center", "8811"}, {"longitude_of_center", "8833"}, {"azimuth", "1036"}, {"pseudo_standard_parallel_1", "8818"}, {"scale_factor", "8819"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
	"1041": {"Krovak", [][2]string{{"latitude_of_center", "8811"}, {"longitude_of_center", "8833"}, {"azimuth", "1036"}, {"pseudo_standard_parallel_1", "8818"}, {"scale_factor", "8819"}, {"false_easting", "8806"}, {"false_northing", "8807"}}},
}

// angularParams are the EPSG parameters in degrees (the others are
// lengths in metres or scales).
var angularParams = map[int]bool{8801: true, 8802: true, 8811: true, 8812: true, 8813: true, 8814: true, 8821: true, 8822: true,
	8823: true, 8824: true, 8832: true, 8833: true, 1036: true, 8818: true}

func num15(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 15, 64)
}

func authority(ref string) string {
	a, c, ok := strings.Cut(ref, ":")
	if !ok || a == "" || c == "" {
		return ""
	}
	return `,AUTHORITY["` + a + `","` + c + `"]`
}

// wkt1DatumName spells a datum name as GDAL does in WKT 1.
func wkt1DatumName(n string) string {
	switch n {
	case "World Geodetic System 1984", "World Geodetic System 1984 ensemble":
		return "WGS_1984"
	}
	n = strings.TrimSuffix(n, " ensemble")
	var b strings.Builder
	under := false
	for _, r := range n {
		switch {
		case r == '(' || r == ')':
			continue
		case r == ' ' || r == '-' || r == '/' || r == ',' || r == '.':
			if !under && b.Len() > 0 {
				b.WriteByte('_')
				under = true
			}
			continue
		}
		b.WriteRune(r)
		under = false
	}
	return strings.TrimSuffix(b.String(), "_")
}

func angularUnit(rad float64, name string) (string, string) {
	switch {
	case name != "":
		return name, ""
	case rad == 0.017453292519943278 || strconv.FormatFloat(rad, 'g', 15, 64) == "0.0174532925199433":
		return "degree", "EPSG:9122"
	case strconv.FormatFloat(rad, 'g', 15, 64) == "0.0157079632679489":
		return "grad", "EPSG:9105"
	case rad == 1:
		return "radian", "EPSG:9101"
	}
	return "unknown", ""
}

// buildWKT1 writes the CRS in OGC WKT 1, as GDAL does (projinfo -o
// WKT1_GDAL).
func (c *CRS) buildWKT1() string {
	g := c.geog
	d := g.datum
	var b strings.Builder
	unitName, unitRef := angularUnit(g.unit, c.wkt.angUnitName)
	b.WriteString(`GEOGCS["` + g.name + `",DATUM["` + wkt1DatumName(d.name) + `",SPHEROID["` + d.ell.name + `",` + num15(d.ell.a) + `,` + num15(d.ell.invf) + authority(d.ell.code) + `]`)
	if c.towgs84 != nil {
		b.WriteString(`,TOWGS84[`)
		for i, v := range c.towgs84 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(num15(v))
		}
		b.WriteString(`]`)
	}
	b.WriteString(authority(d.code) + `],PRIMEM["` + d.pm.name + `",` + num15(d.pm.lon) + authority(d.pm.code) + `],UNIT["` + unitName + `",` + num15(g.unit) + authority(unitRef) + `]`)
	if c.proj == nil {
		if c.authority != "" {
			b.WriteString(authority(c.authority + ":" + strconv.Itoa(c.authCode)))
		}
		b.WriteString(`]`)
		return b.String()
	}
	b.WriteString(authority(g.ref) + `]`)
	geogcs := b.String()
	b.Reset()
	p := c.pd
	b.WriteString(`PROJCS["` + c.Name + `",` + geogcs)
	if m, ok := wkt1Projections[p.method]; ok {
		b.WriteString(`,PROJECTION["` + m.name + `"]`)
		for _, pp := range m.params {
			code, _ := strconv.Atoi(pp[1])
			v, ok := p.params[code]
			switch {
			case code == -1:
				v, ok = 1, true
			case !ok && (code == 8805 || code == 8815 || code == 8819):
				v, ok = 1, true
			case !ok:
				v, ok = 0, true
			}
			if angularParams[code] {
				v = v * deg / g.unit
			} else if code != 8805 && code != 8815 && code != 8819 && code != -1 {
				v /= p.unit // false easting and northing are in the CRS's unit
			}
			b.WriteString(`,PARAMETER["` + pp[0] + `",` + num15(v) + `]`)
		}
	}
	b.WriteString(`,UNIT["` + p.unitName + `",` + num15(p.unit))
	if p.unitCode != "" {
		b.WriteString(authority("EPSG:" + p.unitCode))
	}
	b.WriteString(`]`)
	if p.axes == "en" {
		b.WriteString(`,AXIS["Easting",EAST],AXIS["Northing",NORTH]`)
	}
	ext := c.wkt.extension
	if p.method == "1024" && ext == "" {
		ext = "+proj=merc +a=" + num15(g.datum.ell.a) + " +b=" + num15(g.datum.ell.a) + " +lat_ts=0 +lon_0=" + num15(p.params[8802]) + " +x_0=" + num15(p.params[8806]) + " +y_0=" + num15(p.params[8807]) + " +k=1 +units=m +nadgrids=@null +wktext +no_defs"
	}
	if ext != "" {
		b.WriteString(`,EXTENSION["PROJ4","` + ext + `"]`)
	}
	if c.authority != "" {
		b.WriteString(authority(c.authority + ":" + strconv.Itoa(c.authCode)))
	}
	b.WriteString(`]`)
	return b.String()
}
