package etl

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestProjJSON_PROJIdentifiesEveryCode has PROJ parse the PROJJSON written
// to GeoParquet for each kind of system etl/crs defines and identify it
// as the same EPSG code.
func TestProjJSON_PROJIdentifiesEveryCode(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "projinfo", "proj-bin")
	for _, code := range []int{4326, 4258, 3857, 3035, 27700, 2154, 32632, 32733, 25832, 2056, 5070, 28992, 31467, 2193, 4269, 7844} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			pj, err := projJSON(code)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "crs.json")
			os.WriteFile(f, pj, 0o644)
			out, err := exec.Command(bin, "--identify", "-q", "-o", "PROJ", "@"+f).CombinedOutput()
			if err != nil {
				t.Fatalf("projinfo refuses %s: %v\n%s", pj, err, out)
			}
			if !strings.Contains(string(out), "EPSG:"+strconv.Itoa(code)+": 100") {
				t.Fatalf("PROJ does not identify EPSG:%d with full confidence:\n%s\n%s", code, out, pj)
			}
		})
	}
}

// TestProjJSON_FromGDALWKT1 converts the WKT 1 that GDAL writes for
// systems of each mapped method (as etl/crs will define them from PROJ's
// database) and has PROJ identify the result.
func TestProjJSON_FromGDALWKT1(t *testing.T) {
	t.Parallel()
	bin := requireTool(t, "projinfo", "proj-bin")
	// Northing-first systems: GDAL's WKT 1 does not say so; etl/crs does.
	swapped := map[int]bool{31467: true, 2193: true}
	for _, code := range []int{2056, 5070, 28992, 31467, 3413, 2193, 3078, 27200, 2062} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			wkt, err := exec.Command(bin, "-q", "-o", "WKT1_GDAL", "--single-line", "EPSG:"+strconv.Itoa(code)).Output()
			if err != nil {
				t.Skipf("projinfo has no EPSG:%d: %v", code, err)
			}
			pj, err := wkt1ToProjJSON(strings.TrimSpace(string(wkt)), code, swapped[code])
			if err != nil {
				if strings.Contains(err.Error(), "no PROJJSON mapping") {
					t.Logf("refused, as it must be for an unmapped method: %v", err)
					return
				}
				t.Fatal(err)
			}
			b, _ := json.Marshal(pj)
			f := filepath.Join(t.TempDir(), "crs.json")
			os.WriteFile(f, b, 0o644)
			out, err := exec.Command(bin, "--identify", "-q", "-o", "PROJ", "@"+f).CombinedOutput()
			if err != nil {
				t.Fatalf("projinfo refuses %s: %v\n%s", b, err, out)
			}
			if !strings.Contains(string(out), "EPSG:"+strconv.Itoa(code)+": 100") {
				t.Fatalf("PROJ does not identify EPSG:%d with full confidence:\n%s\n%s\n%s", code, out, wkt, b)
			}
		})
	}
}
