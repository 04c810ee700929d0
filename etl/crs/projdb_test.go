package crs

import (
	"bufio"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func readVectorFile(t *testing.T, name string, fields int) [][]float64 {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != fields {
			t.Fatalf("%s: bad line %q", name, line)
		}
		row := make([]float64, fields)
		for i, s := range fs {
			if row[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("%s: bad number in %q", name, line)
			}
		}
		out = append(out, row)
	}
	return out
}

// cs2csUnits converts cs2cs's degrees to a geographic CRS's own angle
// unit (grads for EPSG:4807), which GDAL and this package use.
func cs2csUnits(c *CRS, x, y float64) (float64, float64) {
	if c.Geographic() {
		return x * deg / c.unit, y * deg / c.unit
	}
	return x, y
}

// groundError returns the distance in metres between two coordinates of
// a CRS: projected ones in its unit, geographic ones in its angle unit.
func groundError(c *CRS, x, y, wx, wy float64) float64 {
	if c.Geographic() {
		dlon := math.Remainder((x-wx)*c.unit, 2*math.Pi)
		dlat := (y - wy) * c.unit
		return 6378137 * math.Hypot(dlon*math.Cos(wy*c.unit), dlat)
	}
	return math.Hypot(x-wx, y-wy) * c.unit
}

type errStats struct {
	n      int
	max    float64
	worst  string
	errs   []float64
	failed int
}

func (s *errStats) add(e float64, what string, tol float64) bool {
	s.n++
	s.errs = append(s.errs, e)
	if e > s.max || math.IsNaN(e) {
		s.max, s.worst = e, what
	}
	if e > tol || math.IsNaN(e) {
		s.failed++
		return false
	}
	return true
}

func (s *errStats) String() string {
	sort.Float64s(s.errs)
	p := func(q float64) float64 { return s.errs[int(q*float64(len(s.errs)-1))] }
	return fmt.Sprintf("%d points: median %.2g m, 99%% %.2g m, max %.2g m (%s)", s.n, p(0.5), p(0.99), s.max, s.worst)
}

// requireProjDataGrids skips (outside CI) a test whose recorded vectors
// were computed with the NTv2 grids of Debian's proj-data package, when
// they are not installed here.
func requireProjDataGrids(t *testing.T) {
	t.Helper()
	for _, g := range []string{"BETA2007.gsb", "nzgd2kgrid0005.gsb", "ntf_r93.gsb"} {
		if p, f, err := findGrid([]string{g}); f == nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("grid %s not found (%q, %v): apt-get install proj-data", g, p, err)
			}
			t.Skipf("grid %s is not installed (apt-get install proj-data): the recorded vectors use it", g)
		}
	}
}

// knownDifferences are CRSs where this package and cs2cs disagree by
// more than a millimetre, with the largest difference seen and why; the
// test still fails beyond it.
var knownDifferences = map[int]struct {
	tol    float64
	reason string
}{
	// Cassini-Soldner on the Zach 1812 ellipsoid (flattening 1/310): the
	// eastings differ by up to 2 cm some 200 km from the origin; every
	// other Cassini CRS agrees to a millimetre.
	8044: {0.025, "Cassini-Soldner on a very flat ellipsoid"},
}

// The recorded vectors (testdata/cs2cs_projdb.txt, written by
// internal/mkvectors from cs2cs) cover about 400 CRSs of every supported
// method, with heights, inside each CRS's area of use.
func TestTransform_MatchesCS2CSOnHundredsOfCodesToOneMillimetre(t *testing.T) {
	t.Parallel()
	requireProjDataGrids(t)
	rows := readVectorFile(t, "testdata/cs2cs_projdb.txt", 8)
	var fwd, inv errStats
	codes := map[int]bool{}
	trs := map[[2]int]*Transformer{}
	NewTransformer := func(from, to int) (*Transformer, error) {
		if tr, ok := trs[[2]int{from, to}]; ok {
			return tr, nil
		}
		tr, err := NewTransformer(from, to)
		trs[[2]int{from, to}] = tr
		return tr, err
	}
	for _, r := range rows {
		code := int(r[0])
		codes[code] = true
		c, err := Lookup(code)
		if err != nil {
			t.Errorf("EPSG:%d: %v", code, err)
			continue
		}
		to, err := NewTransformer(4326, code)
		if err != nil {
			t.Fatal(err)
		}
		r[4], r[5] = cs2csUnits(c, r[4], r[5])
		x, y, err := to.TransformZ(r[1], r[2], r[3])
		what := fmt.Sprintf("EPSG:%d forward (%.8f %.8f h=%g) = (%.6f %.6f), cs2cs (%.6f %.6f)", code, r[1], r[2], r[3], x, y, r[4], r[5])
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		tol := mm
		if k, ok := knownDifferences[code]; ok {
			tol = k.tol
		}
		if !fwd.add(groundError(c, x, y, r[4], r[5]), what, tol) {
			t.Errorf("%s: off by %.4f m", what, groundError(c, x, y, r[4], r[5]))
		}
		back, _ := NewTransformer(code, 4326)
		lon, lat, err := back.TransformZ(r[4], r[5], r[3])
		what = fmt.Sprintf("EPSG:%d inverse (%.6f %.6f h=%g) = (%.10f %.10f), cs2cs (%.10f %.10f)", code, r[4], r[5], r[3], lon, lat, r[6], r[7])
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		w, _ := Lookup(4326)
		if e := groundError(w, lon, lat, r[6], r[7]); !inv.add(e, what, tol) {
			t.Errorf("%s: off by %.4f m", what, e)
		}
	}
	if len(codes) < 200 {
		t.Errorf("only %d codes in the recorded vectors", len(codes))
	}
	t.Logf("%d codes; forward: %v; inverse: %v", len(codes), &fwd, &inv)
}

// Pairs of CRSs (testdata/cs2cs_pairs.txt) exercise datum changes other
// than to WGS 84, including the NTv2 grids of Debian's proj-data.
func TestTransform_MatchesCS2CSBetweenPairsOfCRSs(t *testing.T) {
	t.Parallel()
	requireProjDataGrids(t)
	rows := readVectorFile(t, "testdata/cs2cs_pairs.txt", 7)
	var st errStats
	for _, r := range rows {
		from, to := int(r[0]), int(r[1])
		tr, err := NewTransformer(from, to)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := Lookup(to)
		src, _ := Lookup(from)
		r[2], r[3] = cs2csUnits(src, r[2], r[3])
		r[5], r[6] = cs2csUnits(c, r[5], r[6])
		x, y, err := tr.TransformZ(r[2], r[3], r[4])
		what := fmt.Sprintf("EPSG:%d->%d (%.6f %.6f h=%g) = (%.9f %.9f), cs2cs (%.9f %.9f)", from, to, r[2], r[3], r[4], x, y, r[5], r[6])
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if e := groundError(c, x, y, r[5], r[6]); !st.add(e, what, mm) {
			t.Errorf("%s: off by %.4f m (%s)", what, e, tr.Note())
		}
	}
	t.Logf("%v", &st)
}

// TestTransform_AgreesWithLiveCS2CSOnSampledCodes compares, when cs2cs is
// installed (CI installs proj-bin), a sample of the table's CRSs that the
// recorded vectors may not hold, at points inside their areas of use.
func TestTransform_AgreesWithLiveCS2CSOnSampledCodes(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("cs2cs"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cs2cs is not installed (apt-get install proj-bin)")
		}
		t.Skip("cs2cs not installed: skipping the live PROJ comparison")
	}
	requireProjDataGrids(t)
	r, err := db()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for ref := range r.projLines {
		if p, _ := r.proj(ref); strings.HasPrefix(ref, "EPSG:") && !p.deprecated {
			refs = append(refs, ref)
		}
	}
	sort.Strings(refs)
	rng := rand.New(rand.NewSource(int64(len(refs))))
	var st errStats
	for range 60 {
		ref := refs[rng.Intn(len(refs))]
		id, _ := idOf(ref)
		if _, ok := knownDifferences[id]; ok {
			continue
		}
		c, err := Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTransformer(4326, id)
		if err != nil {
			t.Fatal(err)
		}
		w, s, e, n := c.AreaOfUse()
		if e < w {
			e += 360
		}
		var in strings.Builder
		var pts [][2]float64
		for range 5 {
			lon := w + (e-w)*(0.05+0.9*rng.Float64())
			if lon > 180 {
				lon -= 360
			}
			lat := s + (n-s)*(0.05+0.9*rng.Float64())
			pts = append(pts, [2]float64{lon, lat})
			fmt.Fprintf(&in, "%.10f %.10f\n", lat, lon)
		}
		cmd := exec.Command("cs2cs", "-f", "%.10f", "EPSG:4326", ref)
		cmd.Stdin = strings.NewReader(in.String())
		out, _ := cmd.Output()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		for i, p := range pts {
			if i >= len(lines) {
				break
			}
			fs := strings.Fields(lines[i])
			wx, err1 := strconv.ParseFloat(fs[0], 64)
			wy, err2 := strconv.ParseFloat(fs[1], 64)
			if err1 != nil || err2 != nil {
				continue // PROJ could not transform it either
			}
			if c.AxisSwapped() {
				wx, wy = wy, wx
			}
			x, y, err := tr.Transform(p[0], p[1])
			if err != nil {
				t.Errorf("%s (%g %g): %v, cs2cs (%f %f)", ref, p[0], p[1], err, wx, wy)
				continue
			}
			if e := groundError(c, x, y, wx, wy); !st.add(e, ref, mm) {
				t.Errorf("%s (%.8f %.8f) = (%.6f %.6f), cs2cs (%.6f %.6f): off by %.4f m", ref, p[0], p[1], x, y, wx, wy, e)
			}
		}
	}
	t.Logf("%v", &st)
}

// BenchmarkTransform_WGS84ToWebMercator is the engine's hot path (the
// GeoJSON to EPSG:3857 benchmark); it must not allocate.
func BenchmarkTransform_WGS84ToWebMercator(b *testing.B) {
	benchTransform(b, 4326, 3857, 10, 50)
}

// BenchmarkTransform_WGS84ToBritishNationalGrid includes a Helmert shift.
func BenchmarkTransform_WGS84ToBritishNationalGrid(b *testing.B) {
	benchTransform(b, 4326, 27700, -1.5, 52.5)
}

// BenchmarkTransform_GaussKruegerToUTMWithGrid uses the BETA2007 grid.
func BenchmarkTransform_GaussKruegerToUTMWithGrid(b *testing.B) {
	benchTransform(b, 31467, 25832, 3500000, 5500000)
}

func benchTransform(b *testing.B, from, to int, x, y float64) {
	tr, err := NewTransformer(from, to)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sx float64
	for i := range b.N {
		ox, _, err := tr.Transform(x+float64(i%1000)*1e-3, y)
		if err != nil {
			b.Fatal(err)
		}
		sx += ox
	}
	_ = sx
}
