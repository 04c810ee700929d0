package crs

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

type vector struct {
	code           int
	lon, lat, x, y float64
	lon2, lat2     float64
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/cs2cs_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 7 {
			t.Fatalf("bad vector line %q", line)
		}
		var v vector
		v.code, _ = strconv.Atoi(fs[0])
		nums := []*float64{&v.lon, &v.lat, &v.x, &v.y, &v.lon2, &v.lat2}
		for i, p := range nums {
			if *p, err = strconv.ParseFloat(fs[i+1], 64); err != nil {
				t.Fatalf("bad number in %q: %v", line, err)
			}
		}
		out = append(out, v)
	}
	return out
}

// The recorded cs2cs output has six decimals (a micrometre), so a
// millimetre tolerance leaves room only for real disagreement.
const mm = 0.001

func TestTransform_MatchesRecordedCS2CSVectorsToOneMillimetre(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		fwd, err := NewTransformer(4326, v.code)
		if err != nil {
			t.Fatal(err)
		}
		x, y, err := fwd.Transform(v.lon, v.lat)
		if err != nil {
			t.Errorf("EPSG:%d (%g %g): %v", v.code, v.lon, v.lat, err)
			continue
		}
		if math.Abs(x-v.x) > mm || math.Abs(y-v.y) > mm {
			t.Errorf("EPSG:%d forward (%g %g) = (%.6f %.6f), cs2cs (%.6f %.6f), off by (%.4f %.4f) m",
				v.code, v.lon, v.lat, x, y, v.x, v.y, x-v.x, y-v.y)
		}
		inv, _ := NewTransformer(v.code, 4326)
		lon, lat, err := inv.Transform(v.x, v.y)
		if err != nil {
			t.Errorf("EPSG:%d inverse (%f %f): %v", v.code, v.x, v.y, err)
			continue
		}
		// 1e-8 degrees is at most 1.1 mm on the ground; the recorded
		// values have ten decimals.
		dlat := (lat - v.lat2) * 111320
		dlon := math.Remainder(lon-v.lon2, 360) * 111320 * math.Cos(v.lat2*deg)
		if math.Abs(dlat) > mm || math.Abs(dlon) > mm {
			t.Errorf("EPSG:%d inverse (%.6f %.6f) = (%.10f %.10f), cs2cs (%.10f %.10f), off by (%.4f %.4f) m",
				v.code, v.x, v.y, lon, lat, v.lon2, v.lat2, dlon, dlat)
		}
	}
}

// TestTransform_AgreesWithLiveCS2CS checks points that the recorded vectors
// do not hold against the cs2cs installed on this machine, including
// projected-to-projected transforms.
func TestTransform_AgreesWithLiveCS2CS(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("cs2cs"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cs2cs is not installed (apt-get install proj-bin)")
		}
		t.Skip("cs2cs not installed: skipping the live PROJ comparison")
	}
	cases := []struct {
		from, to int
		x, y     float64
	}{
		{4326, 32631, 2.35, 48.85},
		{4326, 32756, 151.2, -33.87},
		{3857, 25832, 1113194.9, 6446275.8},
		{27700, 3857, 530000, 180000},
		{2154, 3035, 652000, 6862000},
		{3035, 32633, 4500000, 3000000},
		{25833, 2154, 390000, 5820000},
		{32617, 4326, 630000, 4830000},
	}
	for _, c := range cases {
		tr, err := NewTransformer(c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		x, y, err := tr.Transform(c.x, c.y)
		if err != nil {
			t.Fatal(err)
		}
		wx, wy := runCS2CS(t, c.from, c.to, c.x, c.y)
		tol := mm
		if c.to == 4326 {
			tol = 1e-8 // degrees, about a millimetre
		}
		if math.Abs(x-wx) > tol || math.Abs(y-wy) > tol {
			t.Errorf("EPSG:%d->%d (%g %g) = (%.9f %.9f), cs2cs (%.9f %.9f)", c.from, c.to, c.x, c.y, x, y, wx, wy)
		}
	}
}

// runCS2CS runs cs2cs in GIS axis order and returns x and y.
func runCS2CS(t *testing.T, from, to int, x, y float64) (float64, float64) {
	t.Helper()
	swapIn := from == 4326 || from == 3035
	swapOut := to == 4326 || to == 3035
	if swapIn {
		x, y = y, x
	}
	cmd := exec.Command("cs2cs", fmt.Sprintf("EPSG:%d", from), fmt.Sprintf("EPSG:%d", to), "-f", "%.10f")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("%.10f %.10f\n", x, y))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cs2cs: %v", err)
	}
	fs := strings.Fields(string(out))
	if len(fs) < 2 {
		t.Fatalf("cs2cs printed %q", out)
	}
	a, _ := strconv.ParseFloat(fs[0], 64)
	b, _ := strconv.ParseFloat(fs[1], 64)
	if swapOut {
		a, b = b, a
	}
	return a, b
}

func TestParse_AcceptsCommonSpellings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"EPSG:3857": 3857, "epsg:27700": 27700, "4326": 4326, " 2154 ": 2154,
		"urn:ogc:def:crs:EPSG::3035":                  3035,
		"http://www.opengis.net/def/crs/EPSG/0/32632": 32632,
		"CRS84": 4326, "http://www.opengis.net/def/crs/OGC/1.3/CRS84": 4326,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "EPSG:", "EPSG:abc", "-4326", "mercator"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestLookup_RejectsUnsupportedCodes(t *testing.T) {
	t.Parallel()
	// Not CRSs (0, 32600, 25827), a geocentric and a vertical CRS, and
	// projected CRSs with methods this package does not implement (New
	// Zealand Map Grid, Lambert cylindrical equal area).
	for _, code := range []int{0, 32600, 25827, 4978, 5703, 27200, 6933} {
		if _, err := Lookup(code); err == nil {
			t.Errorf("Lookup(%d) succeeded", code)
		}
	}
}

func TestTransform_WebMercatorRefusesPoles(t *testing.T) {
	t.Parallel()
	tr, _ := NewTransformer(4326, 3857)
	if _, _, err := tr.Transform(0, 90); err == nil {
		t.Error("the pole was projected")
	}
	if _, _, err := tr.Transform(0, 91); err == nil {
		t.Error("latitude 91 was accepted")
	}
}

func TestUTMWKT_NamesZoneAndCentralMeridian(t *testing.T) {
	t.Parallel()
	c, err := Lookup(32733)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"WGS 84 / UTM zone 33S"`, `"central_meridian",15]`, `"false_northing",10000000]`, `AUTHORITY["EPSG","32733"]]`} {
		if !strings.Contains(c.WKT, want) {
			t.Errorf("WKT lacks %s: %s", want, c.WKT)
		}
	}
}
