// Command mkvectors records reference coordinates from PROJ's cs2cs for
// the tests of package crs, so that they run on machines without PROJ.
// Run from etl/crs (needs proj-bin and proj-data):
//
//	go run ./internal/mkvectors -db /usr/share/proj/proj.db
//
// It picks the codes the tests must cover, every geographic CRS that has
// a transformation to WGS 84, and projected CRSs of every supported
// method (a fixed pseudo-random sample), draws points inside each CRS's
// area of use with heights up to 2000 m, and writes:
//
//   - testdata/cs2cs_projdb.txt: "code lon lat h x y lon2 lat2": WGS 84 to
//     the CRS (x y) and back (lon2 lat2), in easting/longitude-first
//     order (the CRS's first axis is read from proj.db, independently of
//     the package);
//   - testdata/cs2cs_pairs.txt: "from to x y h x2 y2" between pairs of
//     CRSs, including the ones that use the NTv2 grids of proj-data;
//   - testdata/definitions.tsv: "code kind text" with the .prj GDAL's
//     ogr2ogr writes (kind prj), projinfo's WKT 1 (wkt1), WKT 2 (wkt2) and
//     PROJ string (proj) of the required codes (needs gdal-bin too);
//   - testdata/cs2cs_projstrings.txt: "code lon lat x y": WGS 84 to the
//     code's PROJ string, as cs2cs computes it ("+proj=longlat
//     +datum=WGS84 +to <PROJ string>").
package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite"
)

var required = []int{2056, 3413, 5070, 4269, 31467, 28992, 7844, 27700, 3857, 4326, 4258, 3035, 2154, 25832, 32632, 32756,
	2065, 5514, 27572, 4807, 4087, 2193, 4272, 21781, 3031, 3395, 3078, 2263, 26917, 3347, 3005, 4277, 4314, 4150, 4289}

var methods = []string{"9807", "9808", "9801", "9802", "9822", "9820", "9810", "9829", "9809", "9812", "9815", "9804", "9805", "1024", "9806", "1028", "9819", "1041"}

type crsInfo struct {
	code       int
	swap       bool
	geographic bool
	w, s, e, n float64
}

func main() {
	dbPath := flag.String("db", "/usr/share/proj/proj.db", "PROJ database")
	perCode := flag.Int("n", 20, "points per code")
	flag.Parse()
	db, err := sql.Open("sqlite", "file:"+*dbPath+"?mode=ro")
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewSource(13))
	codes := map[int]bool{}
	for _, c := range required {
		codes[c] = true
	}
	// Geographic CRSs with a Helmert transformation to WGS 84.
	for _, c := range ints(db, `SELECT DISTINCT g.code FROM geodetic_crs g JOIN helmert_transformation h ON h.source_crs_auth_name = 'EPSG' AND h.source_crs_code = g.code
		WHERE g.auth_name = 'EPSG' AND g.type = 'geographic 2D' AND g.deprecated = 0 AND h.target_crs_code = '4326' AND h.deprecated = 0 ORDER BY 1`) {
		if rng.Intn(3) == 0 {
			codes[c] = true
		}
	}
	for _, m := range methods {
		all := ints(db, `SELECT p.code FROM projected_crs p JOIN conversion_table c ON c.auth_name = p.conversion_auth_name AND c.code = p.conversion_code
			WHERE p.auth_name = 'EPSG' AND p.deprecated = 0 AND c.method_code = ? ORDER BY 1`, m)
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		n := 12
		if m == "9807" || m == "9802" {
			n = 60
		}
		for i := 0; i < n && i < len(all); i++ {
			codes[all[i]] = true
		}
	}
	var list []int
	for c := range codes {
		list = append(list, c)
	}
	sort.Ints(list)

	out, err := os.Create("testdata/cs2cs_projdb.txt")
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "# code lon lat h x y lon2 lat2 (x y with ten decimals): cs2cs EPSG:4326 -> EPSG:code and back, easting/longitude first; written by internal/mkvectors")
	total, used := 0, 0
	for _, code := range list {
		ci, ok := info(db, code)
		if !ok {
			continue
		}
		var pts [][3]float64
		for range *perCode {
			lon := ci.w + (ci.e-ci.w)*(0.02+0.96*rng.Float64())
			lat := ci.s + (ci.n-ci.s)*(0.02+0.96*rng.Float64())
			if lon > 180 {
				lon -= 360
			}
			pts = append(pts, [3]float64{lon, lat, float64(rng.Intn(2000))})
		}
		if code == 3857 {
			// Longitudes beyond ±180 wrap, as in PROJ.
			pts = append(pts, [3]float64{190, 10, 0}, [3]float64{-200, -40, 0}, [3]float64{540, 60, 0})
		}
		fwd := cs2cs("EPSG:4326", fmt.Sprintf("EPSG:%d", code), pts, true, ci.swap)
		inv := cs2cs(fmt.Sprintf("EPSG:%d", code), "EPSG:4326", fwdPoints(fwd, pts), ci.swap, true)
		n := 0
		for i, p := range pts {
			if fwd[i] == nil || inv[i] == nil {
				continue
			}
			fmt.Fprintf(w, "%d %.10f %.10f %.0f %.10f %.10f %.10f %.10f\n", code, p[0], p[1], p[2], fwd[i][0], fwd[i][1], inv[i][0], inv[i][1])
			n++
		}
		if n > 0 {
			used++
		}
		total += n
	}
	must(w.Flush())
	must(out.Close())
	log.Printf("%d points across %d codes", total, used)

	pairs := [][2]int{{31467, 25832}, {31467, 4326}, {4314, 4258}, {2193, 4272}, {4272, 2193}, {27572, 2154}, {2154, 27572}, {4807, 4171},
		{21781, 2056}, {2056, 21781}, {27700, 3857}, {28992, 3035}, {2065, 5514}, {5070, 3857}, {3413, 3031}, {4269, 5070}, {7844, 28355},
		{3857, 4326}, {32632, 31467}, {25833, 2154}}
	pout, err := os.Create("testdata/cs2cs_pairs.txt")
	if err != nil {
		log.Fatal(err)
	}
	pw := bufio.NewWriter(pout)
	fmt.Fprintln(pw, "# from to x y h x2 y2: cs2cs EPSG:from -> EPSG:to, easting/longitude first; written by internal/mkvectors")
	for _, pr := range pairs {
		a, ok1 := info(db, pr[0])
		b, ok2 := info(db, pr[1])
		if !ok1 || !ok2 {
			log.Fatalf("pair %v: unknown code", pr)
		}
		// Points in the area both CRSs share.
		w0, s0, e0, n0 := max(a.w, b.w), max(a.s, b.s), min(a.e, b.e), min(a.n, b.n)
		var pts [][3]float64
		for range 15 {
			pts = append(pts, [3]float64{w0 + (e0-w0)*(0.02+0.96*rng.Float64()), s0 + (n0-s0)*(0.02+0.96*rng.Float64()), float64(rng.Intn(1500))})
		}
		src := cs2cs("EPSG:4326", fmt.Sprintf("EPSG:%d", pr[0]), pts, true, a.swap)
		in := fwdPoints(src, pts)
		dst := cs2cs(fmt.Sprintf("EPSG:%d", pr[0]), fmt.Sprintf("EPSG:%d", pr[1]), in, a.swap, b.swap)
		for i := range in {
			if src[i] == nil || dst[i] == nil {
				continue
			}
			fmt.Fprintf(pw, "%d %d %.10f %.10f %.0f %.10f %.10f\n", pr[0], pr[1], in[i][0], in[i][1], in[i][2], dst[i][0], dst[i][1])
		}
	}
	must(pw.Flush())
	must(pout.Close())

	dout, err := os.Create("testdata/definitions.tsv")
	must(err)
	sout, err := os.Create("testdata/cs2cs_projstrings.txt")
	must(err)
	fmt.Fprintln(sout, "# code lon lat x y: cs2cs +proj=longlat +datum=WGS84 +to <projinfo's PROJ string of EPSG:code>; written by internal/mkvectors")
	tmp, err := os.MkdirTemp("", "mkvectors")
	must(err)
	defer os.RemoveAll(tmp)
	src := tmp + "/p.geojson"
	must(os.WriteFile(src, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[0,0]}}]}`), 0o644))
	for _, code := range required {
		ref := fmt.Sprintf("EPSG:%d", code)
		shp := fmt.Sprintf("%s/c%d.shp", tmp, code)
		if out, err := exec.Command("ogr2ogr", "-skipfailures", "-f", "ESRI Shapefile", shp, src, "-t_srs", ref).CombinedOutput(); err != nil {
			log.Fatalf("ogr2ogr %s: %v %s", ref, err, out)
		}
		prj, err := os.ReadFile(strings.TrimSuffix(shp, ".shp") + ".prj")
		if err != nil {
			log.Fatalf("%s: %v", ref, err)
		}
		fmt.Fprintf(dout, "%d\tprj\t%s\n", code, strings.TrimSpace(string(prj)))
		for _, k := range [][2]string{{"wkt1", "WKT1_GDAL"}, {"wkt2", "WKT2_2019"}, {"proj", "PROJ"}} {
			out, err := exec.Command("projinfo", ref, "-o", k[1], "--single-line", "-q").Output()
			if err != nil {
				log.Fatalf("projinfo %s -o %s: %v", ref, k[1], err)
			}
			fmt.Fprintf(dout, "%d\t%s\t%s\n", code, k[0], strings.TrimSpace(string(out)))
			if k[0] != "proj" {
				continue
			}
			ci, _ := info(db, code)
			var pts [][3]float64
			for range 5 {
				lon := ci.w + (ci.e-ci.w)*(0.02+0.96*rng.Float64())
				if lon > 180 {
					lon -= 360
				}
				pts = append(pts, [3]float64{lon, ci.s + (ci.n-ci.s)*(0.02+0.96*rng.Float64()), 0})
			}
			var in bytes.Buffer
			for _, p := range pts {
				fmt.Fprintf(&in, "%.12f %.12f 0\n", p[0], p[1])
			}
			args := append([]string{"-f", "%.12f", "+proj=longlat", "+datum=WGS84", "+to"}, strings.Fields(strings.TrimSpace(string(out)))...)
			cmd := exec.Command("cs2cs", args...)
			cmd.Stdin = &in
			res, err := cmd.Output()
			if err != nil && len(res) == 0 {
				log.Fatalf("cs2cs %v: %v", args, err)
			}
			for i, l := range strings.Split(strings.TrimSpace(string(res)), "\n") {
				f := strings.Fields(l)
				if len(f) < 2 || f[0] == "*" {
					continue
				}
				fmt.Fprintf(sout, "%d %.10f %.10f %s %s\n", code, pts[i][0], pts[i][1], f[0], f[1])
			}
		}
	}
	must(dout.Close())
	must(sout.Close())
}

func fwdPoints(fwd [][]float64, pts [][3]float64) [][3]float64 {
	out := make([][3]float64, len(pts))
	for i, f := range fwd {
		if f != nil {
			out[i] = [3]float64{f[0], f[1], pts[i][2]}
		}
	}
	return out
}

// cs2cs runs cs2cs on points given easting/longitude first and returns
// them the same way, nil where cs2cs failed.
func cs2cs(from, to string, pts [][3]float64, swapIn, swapOut bool) [][]float64 {
	var in bytes.Buffer
	for _, p := range pts {
		x, y := p[0], p[1]
		if swapIn {
			x, y = y, x
		}
		fmt.Fprintf(&in, "%.12f %.12f %.3f\n", x, y, p[2])
	}
	cmd := exec.Command("cs2cs", "-f", "%.12f", from, to)
	cmd.Stdin = &in
	b, err := cmd.Output()
	if err != nil {
		log.Fatalf("cs2cs %s %s: %v", from, to, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) != len(pts) {
		log.Fatalf("cs2cs %s %s: %d lines for %d points", from, to, len(lines), len(pts))
	}
	out := make([][]float64, len(pts))
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		x, err1 := strconv.ParseFloat(f[0], 64)
		y, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil {
			continue // "*" where PROJ could not transform
		}
		if swapOut {
			x, y = y, x
		}
		out[i] = []float64{x, y}
	}
	return out
}

func info(db *sql.DB, code int) (crsInfo, bool) {
	ci := crsInfo{code: code}
	var o, o2, n1, n2, typ string
	err := db.QueryRow(`SELECT a.orientation, a2.orientation, a.name, a2.name, 'projected', e.west_lon, e.south_lat, e.east_lon, e.north_lat
		FROM projected_crs p JOIN axis a ON a.coordinate_system_auth_name = p.coordinate_system_auth_name AND a.coordinate_system_code = p.coordinate_system_code AND a.coordinate_system_order = 1
		JOIN axis a2 ON a2.coordinate_system_auth_name = p.coordinate_system_auth_name AND a2.coordinate_system_code = p.coordinate_system_code AND a2.coordinate_system_order = 2
		JOIN usage u ON u.object_table_name = 'projected_crs' AND u.object_auth_name = p.auth_name AND u.object_code = p.code
		JOIN extent e ON e.auth_name = u.extent_auth_name AND e.code = u.extent_code
		WHERE p.auth_name = 'EPSG' AND p.code = ? LIMIT 1`, code).Scan(&o, &o2, &n1, &n2, &typ, &ci.w, &ci.s, &ci.e, &ci.n)
	if err != nil {
		err = db.QueryRow(`SELECT a.orientation, '', '', '', 'geographic', e.west_lon, e.south_lat, e.east_lon, e.north_lat
			FROM geodetic_crs p JOIN axis a ON a.coordinate_system_auth_name = p.coordinate_system_auth_name AND a.coordinate_system_code = p.coordinate_system_code AND a.coordinate_system_order = 1
			JOIN usage u ON u.object_table_name = 'geodetic_crs' AND u.object_auth_name = p.auth_name AND u.object_code = p.code
			JOIN extent e ON e.auth_name = u.extent_auth_name AND e.code = u.extent_code
			WHERE p.auth_name = 'EPSG' AND p.code = ? LIMIT 1`, code).Scan(&o, &o2, &n1, &n2, &typ, &ci.w, &ci.s, &ci.e, &ci.n)
	}
	if err != nil {
		return ci, false
	}
	if ci.w > ci.e {
		ci.e += 360 // across the antimeridian: draw in [w, e+360)
	}
	// GDAL's rule for its default (traditional GIS) axis order: swap a
	// north-east order, and a polar one whose first axis is the northing.
	base := func(s string) string { return strings.ToLower(strings.Fields(s + " x")[0]) }
	ci.swap = o == "north" && (typ == "geographic" || o2 == "east") ||
		base(o) == base(o2) && (base(o) == "north" || base(o) == "south") && strings.HasPrefix(n1, "Northing") && strings.HasPrefix(n2, "Easting")
	ci.geographic = typ == "geographic"
	return ci, true
}

func ints(db *sql.DB, q string, args ...any) []int {
	rows, err := db.Query(q, args...)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var s string
		must(rows.Scan(&s))
		if n, err := strconv.Atoi(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
