// Package static holds the console's assets, embedded in the binary:
// vendored htmx, its SSE extension and Pico CSS (versions and checksums in
// VERSIONS), and the console's own small stylesheet and script.
//
// Each file is served under a path that contains a hash of the file's
// content, so browsers may cache it for a year and still see a new version
// the moment it changes.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"sort"
)

//go:embed *.js *.css *.svg
var files embed.FS

// FS returns the embedded assets.
func FS() fs.FS { return files }

// Asset is one embedded file with its cache-busted URL path.
type Asset struct {
	Name string // file name, e.g. htmx.min.js
	Path string // URL path, e.g. /static/3f2a9c1b/htmx.min.js
	Hash string // hex prefix of the content's SHA-256
	Data []byte
}

// Prefix is where assets are served.
const Prefix = "/static/"

// Assets lists every embedded file with its hashed path, by name.
func Assets() (map[string]Asset, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	out := make(map[string]Asset, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:6])
		out[e.Name()] = Asset{Name: e.Name(), Hash: h, Path: path.Join(Prefix, h, e.Name()), Data: b}
	}
	return out, nil
}

// Names returns the asset names in order.
func Names(m map[string]Asset) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
