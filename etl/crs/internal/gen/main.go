// Command gen writes the coordinate reference system table of package crs
// from PROJ's database (proj.db): every EPSG and ESRI geographic 2D CRS, the
// projected CRSs whose conversion method package crs implements, their
// ellipsoids, prime meridians, units and axis orders, and the Helmert,
// longitude-rotation and NTv2 transformations between geographic CRSs that
// PROJ chooses among. Run it through "go generate" in etl/crs.
//
// The output is a gzip-compressed, tab-separated text file, one record per
// line, whose first field names the record type:
//
//	E code name a invf                       ellipsoid (invf 0: sphere)
//	P code name lon                          prime meridian, degrees
//	D code name ellipsoid pm                 geodetic datum
//	G crs name datum unit swap w s e n dep 3d  geographic CRS (unit: radians per unit)
//	R crs name geog method unit uname ucode axes w s e n dep params
//	                                         (axes: see axisCode)
//	T code name src tgt acc kind params w s e n superseded-by offshore
//	(T kind "c": a concatenation of the T records listed, in order)
//	W crs name dep wkt                       an ESRI CRS proj.db defines by its WKT
//	A kind ref alias                         another name of an E, D, G or R record
//	                                         (kind P: a +datum name of PROJ strings)
//
// CRS references are "EPSG:4326" or "ESRI:102100"; angles are degrees,
// lengths metres, scales unitless. T kinds: "h" Helmert (tx ty tz m, rx ry
// rz arc-seconds position-vector convention, ds ppm), "l" longitude
// rotation (degrees), "o" geographic offsets (latitude and longitude,
// arc-seconds), "g" NTv2 grid (names PROJ looks for, in its order); the
// Helmert ones also carry the Molodensky-Badekas evaluation point px py pz;
// "G" is an NTv2 grid whose file shifts from target to source;
// "H" is a Helmert between geocentric CRSs, which PROJ only uses as a step
// of a concatenated operation.
package main

import (
	"compress/gzip"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite"
)

// methods are the EPSG conversion methods package crs implements.
var methods = map[string]bool{
	"9807": true, // Transverse Mercator
	"9808": true, // Transverse Mercator (South Orientated)
	"9801": true, // Lambert Conic Conformal (1SP)
	"9802": true, // Lambert Conic Conformal (2SP)
	"9822": true, // Albers Equal Area
	"9820": true, // Lambert Azimuthal Equal Area
	"9810": true, // Polar Stereographic (variant A)
	"9829": true, // Polar Stereographic (variant B)
	"9809": true, // Oblique Stereographic
	"9812": true, // Hotine Oblique Mercator (variant A)
	"9815": true, // Hotine Oblique Mercator (variant B)
	"9804": true, // Mercator (variant A)
	"9805": true, // Mercator (variant B)
	"1024": true, // Popular Visualisation Pseudo Mercator
	"9806": true, // Cassini-Soldner
	"1028": true, // Equidistant Cylindrical
	"1029": true, // Equidistant Cylindrical (Spherical)
	"9819": true, // Krovak
	"1041": true, // Krovak (North Orientated)
}

type unit struct {
	name   string
	typ    string
	factor sql.NullFloat64
}

var units = map[string]unit{}

func main() {
	dbPath := flag.String("db", "/usr/share/proj/proj.db", "PROJ database")
	out := flag.String("o", "projdb.tsv.gz", "output file")
	flag.Parse()
	db, err := sql.Open("sqlite", "file:"+*dbPath+"?mode=ro")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var lines []string
	emit := func(fields ...any) {
		s := make([]string, len(fields))
		for i, f := range fields {
			switch v := f.(type) {
			case float64:
				s[i] = strconv.FormatFloat(v, 'g', -1, 64)
			case string:
				if strings.ContainsAny(v, "\n") {
					log.Fatalf("field %q has a tab or newline", v)
				}
				s[i] = v
			default:
				s[i] = fmt.Sprint(v)
			}
		}
		lines = append(lines, strings.Join(s, "\t"))
	}
	var version string
	if err := db.QueryRow(`SELECT value FROM metadata WHERE key = 'PROJ.VERSION'`).Scan(&version); err != nil {
		version = "unknown"
	}
	var epsgVersion string
	_ = db.QueryRow(`SELECT value FROM metadata WHERE key = 'EPSG.VERSION'`).Scan(&epsgVersion)
	emit("V", version, epsgVersion)

	rows := query(db, `SELECT auth_name, code, name, type, conv_factor FROM unit_of_measure`)
	for rows.Next() {
		var a, c, n, t string
		var f sql.NullFloat64
		must(rows.Scan(&a, &c, &n, &t, &f))
		units[a+":"+c] = unit{n, t, f}
	}

	// Extents: the union of an object's usages' bounding boxes.
	type bbox struct{ w, s, e, n float64 }
	extents := map[string]bbox{}
	rows = query(db, `SELECT u.object_table_name, u.object_auth_name, u.object_code, e.west_lon, e.south_lat, e.east_lon, e.north_lat
		FROM usage u JOIN extent e ON e.auth_name = u.extent_auth_name AND e.code = u.extent_code
		ORDER BY u.object_table_name, u.object_auth_name, u.object_code, u.auth_name, u.code`)
	for rows.Next() {
		var t, a, c string
		var w, s, e, n sql.NullFloat64
		must(rows.Scan(&t, &a, &c, &w, &s, &e, &n))
		if !w.Valid {
			continue
		}
		k := t + ":" + a + ":" + c
		b := bbox{w.Float64, s.Float64, e.Float64, n.Float64}
		if old, ok := extents[k]; ok && old.w <= old.e && b.w <= b.e {
			b = bbox{math.Min(old.w, b.w), math.Min(old.s, b.s), math.Max(old.e, b.e), math.Max(old.n, b.n)}
		} else if ok {
			b = old // keep the first of extents crossing the antimeridian
		}
		extents[k] = b
	}
	offshore := map[string]bool{}
	rows = query(db, `SELECT u.object_table_name, u.object_auth_name, u.object_code FROM usage u
		JOIN extent e ON e.auth_name = u.extent_auth_name AND e.code = u.extent_code WHERE e.description LIKE '%- offshore%'`)
	for rows.Next() {
		var t, a, c string
		must(rows.Scan(&t, &a, &c))
		offshore[a+":"+c] = true
	}
	ext := func(table, ref string) []any {
		b, ok := extents[table+":"+ref]
		if !ok {
			b = bbox{-180, -90, 180, 90}
		}
		return []any{b.w, b.s, b.e, b.n}
	}

	usedEll, usedPM, usedDatum := map[string]bool{}, map[string]bool{}, map[string]bool{}
	geog := map[string]bool{}

	// Geographic 2D CRSs with a degree-like axis unit and a datum.
	type geogRow struct {
		ref, name, datum, unit string
		swap, dep, is3D        int
	}
	var geogs []geogRow
	rows = query(db, `SELECT g.auth_name, g.code, g.name, g.datum_auth_name, g.datum_code, g.deprecated,
			a1.orientation, a1.uom_auth_name, a1.uom_code, g.type = 'geographic 3D'
		FROM geodetic_crs g
		JOIN axis a1 ON a1.coordinate_system_auth_name = g.coordinate_system_auth_name AND a1.coordinate_system_code = g.coordinate_system_code AND a1.coordinate_system_order = 1
		WHERE g.type IN ('geographic 2D', 'geographic 3D') AND g.auth_name IN ('EPSG', 'ESRI') AND g.datum_code IS NOT NULL`)
	for rows.Next() {
		var a, c, n, da, dc, o, ua, uc string
		var dep, is3D int
		must(rows.Scan(&a, &c, &n, &da, &dc, &dep, &o, &ua, &uc, &is3D))
		u := units[ua+":"+uc]
		if u.typ != "angle" || !u.factor.Valid {
			continue
		}
		swap := 0
		if o == "north" {
			swap = 1
		}
		geogs = append(geogs, geogRow{a + ":" + c, n, da + ":" + dc, strconv.FormatFloat(u.factor.Float64, 'g', -1, 64), swap, dep, is3D})
	}

	// Projected CRSs.
	type projRow struct{ fields []any }
	var projs []projRow
	rows = query(db, `SELECT p.auth_name, p.code, p.name, p.geodetic_crs_auth_name, p.geodetic_crs_code, p.deprecated,
			c.method_code, c.auth_name, c.code,
			a1.orientation, a2.orientation, a1.uom_auth_name, a1.uom_code, a1.name, a2.name
		FROM projected_crs p
		JOIN conversion_table c ON c.auth_name = p.conversion_auth_name AND c.code = p.conversion_code
		JOIN axis a1 ON a1.coordinate_system_auth_name = p.coordinate_system_auth_name AND a1.coordinate_system_code = p.coordinate_system_code AND a1.coordinate_system_order = 1
		JOIN axis a2 ON a2.coordinate_system_auth_name = p.coordinate_system_auth_name AND a2.coordinate_system_code = p.coordinate_system_code AND a2.coordinate_system_order = 2
		WHERE p.auth_name IN ('EPSG', 'ESRI') AND c.method_auth_name = 'EPSG'`)
	type pr struct {
		a, c, n, ga, gc, mc, ca, cc, o1, o2, ua, uc, n1, n2 string
		dep                                                 int
	}
	var prs []pr
	for rows.Next() {
		var r pr
		must(rows.Scan(&r.a, &r.c, &r.n, &r.ga, &r.gc, &r.dep, &r.mc, &r.ca, &r.cc, &r.o1, &r.o2, &r.ua, &r.uc, &r.n1, &r.n2))
		if methods[r.mc] {
			prs = append(prs, r)
		}
	}
	for _, r := range prs {
		params, ok := conversionParams(db, r.ca, r.cc)
		if !ok {
			log.Printf("skipping %s:%s: unreadable parameters", r.a, r.c)
			continue
		}
		u := units[r.ua+":"+r.uc]
		if u.typ != "length" || !u.factor.Valid {
			continue
		}
		if r.mc == "9804" && paramValue(params, "8801") != "0" && paramValue(params, "8801") != "" {
			continue // Mercator (variant A) with a latitude of origin off the equator: not supported
		}
		axes := axisCode(r.o1, r.n1) + axisCode(r.o2, r.n2)
		ref := r.a + ":" + r.c
		f := []any{"R", ref, r.n, r.ga + ":" + r.gc, r.mc, u.factor.Float64, u.name, r.uc, axes}
		f = append(f, ext("projected_crs", ref)...)
		f = append(f, r.dep, params)
		projs = append(projs, projRow{f})
		geog[r.ga+":"+r.gc] = true
	}

	// ESRI CRSs that proj.db defines by a WKT string, kept as that text.
	rows = query(db, `SELECT 'R', auth_name, code, name, text_definition, deprecated FROM projected_crs WHERE auth_name = 'ESRI' AND text_definition IS NOT NULL
		UNION ALL SELECT 'G', auth_name, code, name, text_definition, deprecated FROM geodetic_crs WHERE auth_name = 'ESRI' AND text_definition IS NOT NULL AND type LIKE 'geographic%'`)
	var wktRecords [][]any
	for rows.Next() {
		var k, a, c, n, w string
		var dep int
		must(rows.Scan(&k, &a, &c, &n, &w, &dep))
		if strings.HasPrefix(w, "PROJCS[") || strings.HasPrefix(w, "GEOGCS[") {
			wktRecords = append(wktRecords, []any{"W", a + ":" + c, n, dep, w})
		}
	}
	geogSet := map[string]bool{}
	for _, g := range geogs {
		geogSet[g.ref] = true
	}
	// PROJ drops an operation when one that supersedes it, between the
	// same CRSs, is among the candidates.
	supersededBy := map[string][]string{}
	rows = query(db, `SELECT superseded_auth_name, superseded_code, replacement_auth_name, replacement_code FROM supersession WHERE same_source_target_crs = 1`)
	for rows.Next() {
		var a, c, ra, rc string
		must(rows.Scan(&a, &c, &ra, &rc))
		supersededBy[a+":"+c] = append(supersededBy[a+":"+c], ra+":"+rc)
	}
	sup := func(ref string) string {
		off := "0"
		if offshore[ref] {
			off = "1"
		}
		if s := supersededBy[ref]; len(s) > 0 {
			return strings.Join(s, ",") + "\t" + off
		}
		return "-\t" + off
	}
	// Transformations between geographic CRSs.
	var trans [][]any
	// Transformations between geocentric CRSs apply to the geographic CRSs
	// of the same datum, as in PROJ.
	geogOfGeocentric := map[string]string{}
	rows = query(db, `SELECT c.auth_name, c.code, (SELECT g.auth_name || ':' || g.code FROM geodetic_crs g
			WHERE g.datum_auth_name = c.datum_auth_name AND g.datum_code = c.datum_code AND g.type = 'geographic 2D' AND g.auth_name = 'EPSG'
			ORDER BY g.deprecated, g.code + 0 LIMIT 1)
		FROM geodetic_crs c WHERE c.type = 'geocentric' AND c.datum_code IS NOT NULL`)
	for rows.Next() {
		var a, c string
		var g sql.NullString
		must(rows.Scan(&a, &c, &g))
		if g.Valid {
			geogOfGeocentric[a+":"+c] = g.String
		}
	}
	geodetic := func(ref string) string {
		if g, ok := geogOfGeocentric[ref]; ok {
			return g
		}
		return ref
	}
	rows = query(db, `SELECT auth_name, code, name, method_code, source_crs_auth_name, source_crs_code, target_crs_auth_name, target_crs_code,
			accuracy, tx, ty, tz, translation_uom_auth_name, translation_uom_code, rx, ry, rz, rotation_uom_auth_name, rotation_uom_code,
			scale_difference, scale_difference_uom_auth_name, scale_difference_uom_code, coalesce(px, 0), coalesce(py, 0), coalesce(pz, 0)
		FROM helmert_transformation_table
		WHERE deprecated = 0 AND auth_name = 'EPSG'
			AND method_code IN ('9603', '9606', '9607', '1031', '1032', '1033', '1035', '1037', '1038', '9636', '1063', '1061', '1065', '1066')
			AND rate_tx IS NULL`)
	for rows.Next() {
		var a, c, n, mc, sa, sc, ta, tc, tua, tuc string
		var acc, rx, ry, rz, ds sql.NullFloat64
		var tx, ty, tz, px, py, pz float64
		var rua, ruc, dua, duc sql.NullString
		must(rows.Scan(&a, &c, &n, &mc, &sa, &sc, &ta, &tc, &acc, &tx, &ty, &tz, &tua, &tuc, &rx, &ry, &rz, &rua, &ruc, &ds, &dua, &duc, &px, &py, &pz))
		_, srcGeocentric := geogOfGeocentric[sa+":"+sc]
		src, tgt := geodetic(sa+":"+sc), geodetic(ta+":"+tc)
		if !geogSet[src] || !geogSet[tgt] {
			continue
		}
		kind := "h"
		if srcGeocentric {
			kind = "H" // between geocentric CRSs: only a step of concatenated operations
		}
		tf := units[tua+":"+tuc].factor.Float64
		var r [3]float64
		if rx.Valid {
			rf := units[rua.String+":"+ruc.String].factor.Float64 / (math.Pi / 180 / 3600)
			r = [3]float64{rx.Float64 * rf, ry.Float64 * rf, rz.Float64 * rf}
			switch mc {
			case "9607", "1032", "1038", "9636", "1066": // coordinate frame: opposite rotation sign
				r = [3]float64{-r[0], -r[1], -r[2]}
			}
		}
		var scale float64
		if ds.Valid {
			scale = ds.Float64 * units[dua.String+":"+duc.String].factor.Float64 * 1e6
		}
		accuracy := -1.0
		if acc.Valid {
			accuracy = acc.Float64
		}
		ref := a + ":" + c
		p := strings.Join([]string{g(tx * tf), g(ty * tf), g(tz * tf), g(r[0]), g(r[1]), g(r[2]), g(scale), g(px), g(py), g(pz)}, " ")
		t := []any{"T", ref, n, src, tgt, accuracy, kind, p}
		trans = append(trans, append(append(t, ext("helmert_transformation", ref)...), sup(ref)))
		usedGeog(geog, src, tgt)
	}
	// Geographic offsets (EPSG 9619, and 9618 without its height offset).
	rows = query(db, `SELECT auth_name, code, name, source_crs_auth_name, source_crs_code, target_crs_auth_name, target_crs_code, accuracy,
			param1_code, param1_value, param1_uom_auth_name, param1_uom_code, param2_code, param2_value, param2_uom_auth_name, param2_uom_code
		FROM other_transformation
		WHERE deprecated = 0 AND auth_name = 'EPSG' AND method_code IN ('9619', '9618')`)
	for rows.Next() {
		var a, c, n, sa, sc, ta, tc, p1, u1a, u1c, p2, u2a, u2c string
		var acc sql.NullFloat64
		var v1, v2 float64
		must(rows.Scan(&a, &c, &n, &sa, &sc, &ta, &tc, &acc, &p1, &v1, &u1a, &u1c, &p2, &v2, &u2a, &u2c))
		src, tgt := sa+":"+sc, ta+":"+tc
		if !geogSet[src] || !geogSet[tgt] || p1 != "8601" || p2 != "8602" {
			continue
		}
		d1, ok1 := toDegrees(v1, u1a+":"+u1c)
		d2, ok2 := toDegrees(v2, u2a+":"+u2c)
		if !ok1 || !ok2 {
			continue
		}
		accuracy := -1.0
		if acc.Valid {
			accuracy = acc.Float64
		}
		ref := a + ":" + c
		t := []any{"T", ref, n, src, tgt, accuracy, "o", g(d1*3600) + " " + g(d2*3600)}
		trans = append(trans, append(append(t, ext("other_transformation", ref)...), sup(ref)))
		usedGeog(geog, src, tgt)
	}
	rows = query(db, `SELECT auth_name, code, name, source_crs_auth_name, source_crs_code, target_crs_auth_name, target_crs_code, accuracy,
			param1_value, param1_uom_auth_name, param1_uom_code
		FROM other_transformation
		WHERE deprecated = 0 AND auth_name = 'EPSG' AND method_code = '9601'`)
	for rows.Next() {
		var a, c, n, sa, sc, ta, tc, ua, uc string
		var acc sql.NullFloat64
		var v float64
		must(rows.Scan(&a, &c, &n, &sa, &sc, &ta, &tc, &acc, &v, &ua, &uc))
		src, tgt := sa+":"+sc, ta+":"+tc
		if !geogSet[src] || !geogSet[tgt] {
			continue
		}
		d, ok := toDegrees(v, ua+":"+uc)
		if !ok {
			continue
		}
		accuracy := 0.0
		if acc.Valid {
			accuracy = acc.Float64
		}
		ref := a + ":" + c
		t := []any{"T", ref, n, src, tgt, accuracy, "l", g(d)}
		trans = append(trans, append(append(t, ext("other_transformation", ref)...), sup(ref)))
		usedGeog(geog, src, tgt)
	}
	rows = query(db, `SELECT t.auth_name, t.code, t.name, t.source_crs_auth_name, t.source_crs_code, t.target_crs_auth_name, t.target_crs_code, t.accuracy,
			t.grid_name, coalesce(ga.proj_grid_name, ''), coalesce(ga.old_proj_grid_name, ''), coalesce(ga.inverse_direction, 0)
		FROM grid_transformation t LEFT JOIN grid_alternatives ga ON ga.original_grid_name = t.grid_name
		WHERE t.deprecated = 0 AND t.auth_name = 'EPSG' AND t.method_code = '9615'`)
	for rows.Next() {
		var a, c, n, sa, sc, ta, tc, grid, pg, og string
		var inv int
		var acc sql.NullFloat64
		must(rows.Scan(&a, &c, &n, &sa, &sc, &ta, &tc, &acc, &grid, &pg, &og, &inv))
		src, tgt := sa+":"+sc, ta+":"+tc
		if !geogSet[src] || !geogSet[tgt] {
			continue
		}
		accuracy := -1.0
		if acc.Valid {
			accuracy = acc.Float64
		}
		// PROJ looks for the grid under its current name, then its old
		// name, then the name the authority gives it.
		var names []string
		for _, nm := range []string{pg, og, grid} {
			if nm != "" && !contains(names, nm) {
				names = append(names, nm)
			}
		}
		ref := a + ":" + c
		kind := "g"
		if inv != 0 {
			kind = "G" // the grid file shifts the other way
		}
		t := []any{"T", ref, n, src, tgt, accuracy, kind, strings.Join(names, " ")}
		trans = append(trans, append(append(t, ext("grid_transformation", ref)...), sup(ref)))
		usedGeog(geog, src, tgt)
	}

	// Concatenated operations whose steps are all among the above; the
	// direction of each step follows from chaining the CRSs.
	haveOp := map[string]bool{}
	for _, t := range trans {
		haveOp[t[1].(string)] = true
	}
	type concat struct {
		ref, name, src, tgt string
		acc                 float64
		steps               []string
	}
	var concats []*concat
	byRef := map[string]*concat{}
	rows = query(db, `SELECT auth_name, code, name, source_crs_auth_name, source_crs_code, target_crs_auth_name, target_crs_code, coalesce(accuracy, -1)
		FROM concatenated_operation WHERE deprecated = 0 AND auth_name = 'EPSG'`)
	for rows.Next() {
		c := &concat{}
		var a, code, sa, sc, ta, tc string
		must(rows.Scan(&a, &code, &c.name, &sa, &sc, &ta, &tc, &c.acc))
		c.ref, c.src, c.tgt = a+":"+code, sa+":"+sc, ta+":"+tc
		concats = append(concats, c)
		byRef[c.ref] = c
	}
	rows = query(db, `SELECT operation_auth_name, operation_code, step_auth_name, step_code FROM concatenated_operation_step ORDER BY operation_auth_name, operation_code, step_number`)
	for rows.Next() {
		var a, c, sa, sc string
		must(rows.Scan(&a, &c, &sa, &sc))
		if k := byRef[a+":"+c]; k != nil {
			k.steps = append(k.steps, sa+":"+sc)
		}
	}
next:
	for _, c := range concats {
		c.src, c.tgt = geodetic(c.src), geodetic(c.tgt)
		if !geogSet[c.src] || !geogSet[c.tgt] || len(c.steps) == 0 {
			continue
		}
		for _, st := range c.steps {
			if !haveOp[st] {
				continue next
			}
		}
		t := []any{"T", c.ref, c.name, c.src, c.tgt, c.acc, "c", strings.Join(c.steps, " ")}
		trans = append(trans, append(append(t, ext("concatenated_operation", c.ref)...), sup(c.ref)))
	}
	// Datums, ellipsoids and prime meridians of every geographic CRS kept.
	datums := map[string][2]string{}
	rows = query(db, `SELECT auth_name, code, name, ellipsoid_auth_name, ellipsoid_code, prime_meridian_auth_name, prime_meridian_code FROM geodetic_datum`)
	var datumLines [][]any
	for rows.Next() {
		var a, c, n, ea, ec, pa, pc string
		must(rows.Scan(&a, &c, &n, &ea, &ec, &pa, &pc))
		datums[a+":"+c] = [2]string{ea + ":" + ec, pa + ":" + pc}
		datumLines = append(datumLines, []any{"D", a + ":" + c, n, ea + ":" + ec, pa + ":" + pc})
	}
	for _, gr := range geogs {
		if d, ok := datums[gr.datum]; ok {
			usedDatum[gr.datum] = true
			usedEll[d[0]] = true
			usedPM[d[1]] = true
		}
	}
	rows = query(db, `SELECT auth_name, code, name, semi_major_axis, uom_auth_name, uom_code, inv_flattening, semi_minor_axis FROM ellipsoid`)
	for rows.Next() {
		var a, c, n, ua, uc string
		var sa float64
		var invf, sb sql.NullFloat64
		must(rows.Scan(&a, &c, &n, &sa, &ua, &uc, &invf, &sb))
		if !usedEll[a+":"+c] {
			continue
		}
		f := units[ua+":"+uc].factor.Float64
		inv := 0.0
		switch {
		case invf.Valid:
			inv = invf.Float64
		case sb.Valid && sb.Float64 != sa:
			inv = sa / (sa - sb.Float64)
		}
		emit("E", a+":"+c, n, sa*f, inv)
	}
	rows = query(db, `SELECT auth_name, code, name, longitude, uom_auth_name, uom_code FROM prime_meridian`)
	for rows.Next() {
		var a, c, n, ua, uc string
		var lon float64
		must(rows.Scan(&a, &c, &n, &lon, &ua, &uc))
		if !usedPM[a+":"+c] {
			continue
		}
		d, ok := toDegrees(lon, ua+":"+uc)
		if !ok {
			log.Fatalf("prime meridian %s:%s: unit %s:%s", a, c, ua, uc)
		}
		emit("P", a+":"+c, n, d)
	}
	for _, d := range datumLines {
		if usedDatum[d[1].(string)] {
			emit(d...)
		}
	}
	for _, gr := range geogs {
		if _, ok := datums[gr.datum]; !ok {
			continue
		}
		f := []any{"G", gr.ref, gr.name, gr.datum, gr.unit, gr.swap}
		f = append(f, ext("geodetic_crs", gr.ref)...)
		emit(append(f, gr.dep, gr.is3D)...)
	}
	for _, p := range projs {
		if geogSet[p.fields[3].(string)] {
			emit(p.fields...)
		}
	}
	for _, t := range trans {
		emit(t...)
	}
	for _, w := range wktRecords {
		emit(w...)
	}
	// Other names (ESRI's, PROJ's) for identifying WKT and PROJ strings.
	rows = query(db, `SELECT table_name, auth_name, code, alt_name, coalesce(source, '') FROM alias_name
		WHERE table_name IN ('geodetic_datum', 'ellipsoid', 'geodetic_crs', 'projected_crs') ORDER BY 1, 2, 3, 4`)
	kinds := map[string]string{"geodetic_datum": "D", "ellipsoid": "E", "geodetic_crs": "G", "projected_crs": "R"}
	known := map[string]bool{}
	for _, l := range lines {
		f := strings.SplitN(l, "\t", 3)
		if len(f) > 1 {
			known[f[0]+f[1]] = true
		}
	}
	for rows.Next() {
		var t, a, c, n, src string
		must(rows.Scan(&t, &a, &c, &n, &src))
		if known[kinds[t]+a+":"+c] && !strings.ContainsAny(n, "\t\n") {
			kind := kinds[t]
			if src == "PROJ" && kind == "D" {
				kind = "P" // PROJ's +datum names
			}
			emit("A", kind, a+":"+c, n)
		}
	}
	sort.Strings(lines[1:])
	fh, err := os.Create(*out)
	must(err)
	zw, _ := gzip.NewWriterLevel(fh, gzip.BestCompression)
	for _, l := range lines {
		fmt.Fprintln(zw, l)
	}
	must(zw.Close())
	must(fh.Close())
	log.Printf("wrote %d records to %s", len(lines), *out)
}

func paramValue(params, code string) string {
	for _, kv := range strings.Split(params, ",") {
		if k, v, _ := strings.Cut(kv, "="); k == code {
			return v
		}
	}
	return ""
}

func usedGeog(m map[string]bool, refs ...string) {
	for _, r := range refs {
		m[r] = true
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func g(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// axisCode abbreviates an axis orientation: e(ast), n(orth), w(est),
// s(outh); for the polar "North along 90°E" kind E or N after the axis
// name (Easting, Northing), else o(ther).
func axisCode(o, name string) string {
	if strings.HasPrefix(o, "North along") || strings.HasPrefix(o, "South along") {
		switch {
		case strings.HasPrefix(name, "Easting"):
			return "E"
		case strings.HasPrefix(name, "Northing"):
			return "N"
		}
	}
	switch o {
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

// conversionParams returns "code=value,..." with angles in degrees and
// lengths in metres.
func conversionParams(db *sql.DB, auth, code string) (string, bool) {
	var cols []any
	vals := make([]sql.NullString, 7*4)
	for i := range vals {
		cols = append(cols, &vals[i])
	}
	q := `SELECT `
	for i := 1; i <= 7; i++ {
		if i > 1 {
			q += ", "
		}
		q += fmt.Sprintf("param%d_code, param%d_value, param%d_uom_auth_name, param%d_uom_code", i, i, i, i)
	}
	q += ` FROM conversion_table WHERE auth_name = ? AND code = ?`
	if err := db.QueryRow(q, auth, code).Scan(cols...); err != nil {
		log.Fatal(err)
	}
	var out []string
	for i := 0; i < 7; i++ {
		pc, pv, ua, uc := vals[4*i], vals[4*i+1], vals[4*i+2], vals[4*i+3]
		if !pc.Valid {
			continue
		}
		v, err := strconv.ParseFloat(pv.String, 64)
		if err != nil {
			return "", false
		}
		u := units[ua.String+":"+uc.String]
		switch u.typ {
		case "angle":
			d, ok := toDegrees(v, ua.String+":"+uc.String)
			if !ok {
				return "", false
			}
			v = d
		case "length", "scale":
			if !u.factor.Valid {
				return "", false
			}
			v *= u.factor.Float64
		}
		out = append(out, pc.String+"="+g(v))
	}
	return strings.Join(out, ","), true
}

// toDegrees converts an angle in the given unit to degrees, including the
// EPSG sexagesimal DMS unit (DDD.MMSSsss).
func toDegrees(v float64, unitRef string) (float64, bool) {
	if unitRef == "EPSG:9110" {
		sign := 1.0
		if v < 0 {
			sign, v = -1, -v
		}
		s := strconv.FormatFloat(v, 'f', 10, 64)
		dot := strings.IndexByte(s, '.')
		d, _ := strconv.ParseFloat(s[:dot], 64)
		frac := s[dot+1:] + "0000"
		m, _ := strconv.ParseFloat(frac[:2], 64)
		sec, _ := strconv.ParseFloat(frac[2:4]+"."+frac[4:], 64)
		return sign * (d + m/60 + sec/3600), true
	}
	if unitRef == "EPSG:9102" || unitRef == "EPSG:9122" {
		return v, true // exact, not through radians
	}
	u := units[unitRef]
	if u.typ != "angle" || !u.factor.Valid {
		return 0, false
	}
	return v * u.factor.Float64 / (math.Pi / 180), true
}

func query(db *sql.DB, q string, args ...any) *sql.Rows {
	rows, err := db.Query(q, args...)
	if err != nil {
		log.Fatalf("%v\n%s", err, q)
	}
	return rows
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
