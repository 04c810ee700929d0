package crs

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// definitions reads testdata/definitions.tsv (written by internal/mkvectors
// from GDAL's ogr2ogr and PROJ's projinfo).
func definitions(t *testing.T) map[string]map[int]string {
	t.Helper()
	f, err := os.Open("testdata/definitions.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[int]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fs := strings.SplitN(sc.Text(), "\t", 3)
		if len(fs) != 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		code, _ := strconv.Atoi(fs[0])
		if out[fs[1]] == nil {
			out[fs[1]] = map[int]string{}
		}
		out[fs[1]][code] = fs[2]
	}
	return out
}

func TestParse_IdentifiesWKTFromGDALAndPROJ(t *testing.T) {
	t.Parallel()
	defs := definitions(t)
	for _, kind := range []string{"prj", "wkt1", "wkt2"} {
		for code, text := range defs[kind] {
			got, err := Parse(text)
			if err != nil || got != code {
				t.Errorf("%s of EPSG:%d: Parse = %d, %v", kind, code, got, err)
			}
		}
	}
}

// The .prj files of shapefiles carry no identifier: the CRS is built from
// the parameters and must compute what the EPSG definition computes even
// where it is not identified.
func TestParse_BuildsPRJWithoutIdentifier(t *testing.T) {
	t.Parallel()
	defs := definitions(t)
	for code, text := range defs["prj"] {
		c, err := buildCRSFromWKTText(text)
		if err != nil {
			t.Errorf("EPSG:%d: %v", code, err)
			continue
		}
		want, _ := Lookup(code)
		if !equivalent(c, want) {
			t.Errorf("EPSG:%d: the .prj builds a different CRS:\n%s\n%s", code, c.buildWKT1(), want.WKT)
		}
	}
}

// The WKT 1 this package writes for .prj files and GeoPackages is the
// one GDAL writes (projinfo -o WKT1_GDAL).
func TestWKT1_MatchesProjinfo(t *testing.T) {
	t.Parallel()
	for code, want := range definitions(t)["wkt1"] {
		c, err := Lookup(code)
		if err != nil {
			t.Fatal(err)
		}
		if c.WKT != want {
			t.Errorf("EPSG:%d:\n got %s\nwant %s", code, c.WKT, want)
		}
	}
}

func TestParse_PROJStringsTransformAsCS2CSDoes(t *testing.T) {
	t.Parallel()
	defs := definitions(t)["proj"]
	rows := readVectorFile(t, "testdata/cs2cs_projstrings.txt", 5)
	var st errStats
	for _, r := range rows {
		code := int(r[0])
		id, err := Parse(defs[code])
		if err != nil {
			t.Errorf("EPSG:%d %q: %v", code, defs[code], err)
			continue
		}
		tr, err := NewTransformer(4326, id)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := Lookup(id)
		x, y, err := tr.Transform(r[1], r[2])
		if err != nil {
			t.Errorf("EPSG:%d %q (%g %g): %v", code, defs[code], r[1], r[2], err)
			continue
		}
		// cs2cs gives a PROJ string's geographic coordinates in degrees.
		wx, wy := r[3], r[4]
		if c.Geographic() {
			wx, wy = cs2csUnits(c, wx, wy)
		}
		if e := groundError(c, x, y, wx, wy); !st.add(e, defs[code], mm) {
			t.Errorf("EPSG:%d %q (%g %g) = (%.6f %.6f), cs2cs (%.6f %.6f): off by %.4f m", code, defs[code], r[1], r[2], x, y, wx, wy, e)
		}
	}
	t.Logf("%v", &st)
}

func TestParse_InternsCustomDefinitionsOutsideTheEPSGRange(t *testing.T) {
	t.Parallel()
	s := "+proj=lcc +lat_1=49 +lat_2=44 +lat_0=46.5 +lon_0=3 +x_0=700000 +y_0=6600000 +ellps=GRS80 +units=m"
	a, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse(s + " +no_defs")
	if a != b || a < customBase {
		t.Errorf("ids %d and %d", a, b)
	}
	c, err := Lookup(a)
	if err != nil {
		t.Fatal(err)
	}
	if c.EPSG() != 0 || !strings.Contains(c.WKT, `PROJECTION["Lambert_Conformal_Conic_2SP"]`) {
		t.Errorf("EPSG %d, WKT %s", c.EPSG(), c.WKT)
	}
	// Its WKT reads back as the same definition.
	if again, err := Parse(c.WKT); err != nil || again != a {
		t.Errorf("WKT read back as %d, %v", again, err)
	}
	if id, err := Parse("ESRI:102100"); err != nil || id != esriBase+102100 {
		t.Errorf("ESRI:102100 = %d, %v", id, err)
	} else if c, err := Lookup(id); err != nil || !strings.Contains(c.WKT, `AUTHORITY["ESRI","102100"]`) {
		t.Errorf("ESRI:102100: %v", err)
	}
}

func TestParse_RejectsWhatItCannotCompute(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"+proj=robin +datum=WGS84",
		"+proj=utm +zone=61 +datum=WGS84",
		"+proj=tmerc +datum=NOPE",
		`PROJCS["x",GEOGCS["y",DATUM["z",SPHEROID["s",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Robinson"],UNIT["metre",1]]`,
		`PROJCS["x",GEOGCS["y"`,
		"urn:ogc:def:crs:EPSG::abc",
	} {
		if id, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %d", s, id)
		}
	}
}

func TestCount_CoversThousandsOfCRSs(t *testing.T) {
	t.Parallel()
	p, g := Count()
	if p < 5000 || g < 1000 {
		t.Errorf("%d projected and %d geographic CRSs", p, g)
	}
	// Every projected CRS of the table builds.
	r, _ := db()
	for ref := range r.projLines {
		id, ok := idOf(ref)
		if !ok {
			continue
		}
		if _, err := Lookup(id); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	_ = math.Pi
}
