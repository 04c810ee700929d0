package static

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestVersions_ChecksumsMatchTheVendoredFiles checks that every vendored
// file is listed in VERSIONS with the sha256 of the file as committed, so
// a changed or swapped file cannot pass unnoticed.
func TestVersions_ChecksumsMatchTheVendoredFiles(t *testing.T) {
	f, err := os.Open("VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 4 {
			t.Fatalf("VERSIONS line %q: want file, package, version, sha256", line)
		}
		listed[fields[0]] = fields[3]
	}
	want := map[string]string{"htmx.min.js": "2.0.11", "htmx-ext-sse.min.js": "2.2.4", "pico.min.css": "2.1.1"}
	for name := range want {
		sum, ok := listed[name]
		if !ok {
			t.Errorf("%s is not listed in VERSIONS", name)
			continue
		}
		b, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, VERSIONS says %s", name, got, sum)
		}
	}
	b, _ := files.ReadFile("htmx.min.js")
	if !strings.Contains(string(b), `version:"2.0.11"`) {
		t.Error("htmx.min.js does not say it is version 2.0.11")
	}
}

// TestAssets_PathsChangeWithContent checks the cache-busting paths: each
// holds a hash of its file's content.
func TestAssets_PathsChangeWithContent(t *testing.T) {
	m, err := Assets()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"htmx.min.js", "htmx-ext-sse.min.js", "pico.min.css", "app.css", "app.js", "favicon.svg"} {
		a, ok := m[name]
		if !ok {
			t.Fatalf("%s is not embedded", name)
		}
		sum := sha256.Sum256(a.Data)
		if !strings.HasPrefix(hex.EncodeToString(sum[:]), a.Hash) || a.Path != Prefix+a.Hash+"/"+name {
			t.Errorf("%s: hash %s, path %s", name, a.Hash, a.Path)
		}
	}
	if len(Names(m)) != len(m) {
		t.Error("Names lost entries")
	}
}
