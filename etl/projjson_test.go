package etl

import (
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
	bin := requireTool(t, "projinfo", "proj-bin")
	for _, code := range []int{4326, 4258, 3857, 3035, 27700, 2154, 32632, 32733, 25832} {
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
