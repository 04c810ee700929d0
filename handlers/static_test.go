package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// TestStatic_HashedPathsCacheForeverAndOldHashesDoNot checks the asset
// routes: the current hash is immutable for a year, an old hash still
// gets the file but must revalidate, unknown names are 404, and pages
// load nothing from another origin.
func TestStatic_HashedPathsCacheForeverAndOldHashesDoNot(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	b := env.browser()
	cur := assetURL("htmx.min.js")
	res := b.get(cur, nil).want(http.StatusOK)
	if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("Content-Type = %q", ct)
	}
	if len(res.Body) != len(assets["htmx.min.js"].Data) {
		t.Error("served a different file")
	}
	etag := res.Header.Get("ETag")
	b.get(cur, http.Header{"If-None-Match": {etag}}).want(http.StatusNotModified)
	old := b.get("/static/000000000000/htmx.min.js", nil).want(http.StatusOK)
	if cc := old.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("old hash Cache-Control = %q", cc)
	}
	b.get("/static/000000000000/nothing.js", nil).want(http.StatusNotFound)
	if ct := b.get(assetURL("pico.min.css"), nil).Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("CSS Content-Type = %q", ct)
	}

	page := b.get("/login", nil).want(http.StatusOK)
	for _, name := range []string{"htmx.min.js", "htmx-ext-sse.min.js", "pico.min.css", "app.css", "app.js"} {
		page.has(`"` + assetURL(name) + `"`)
	}
	for _, attr := range []string{`src="http`, `href="http`, `src="//`, `href="//`} {
		page.lacks(attr)
	}
}
