package handlers

import (
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl/static"
)

// assets are the embedded static files with their content-hashed paths,
// computed once at start.
var assets = mustAssets()

func mustAssets() map[string]static.Asset {
	m, err := static.Assets()
	if err != nil {
		panic("static assets: " + err.Error()) // the files are embedded; this cannot fail at run time
	}
	return m
}

// assetURL returns the cache-busted URL of an embedded file.
func assetURL(name string) string {
	if a, ok := assets[name]; ok {
		return a.Path
	}
	return static.Prefix + name
}

// handleStatic is GET /static/{hash}/{name}. The current hash is cached for
// a year as immutable; an old hash (a page from before an upgrade) gets the
// current file without long caching, so nothing breaks mid-upgrade.
func (s *Server) handleStatic(c echo.Context) error {
	a, ok := assets[c.Param("name")]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "No such file.")
	}
	h := c.Response().Header()
	if c.Param("hash") == a.Hash {
		h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		h.Set(echo.HeaderCacheControl, "no-cache")
	}
	h.Set("ETag", `"`+a.Hash+`"`)
	if match := c.Request().Header.Get("If-None-Match"); match == `"`+a.Hash+`"` {
		return c.NoContent(http.StatusNotModified)
	}
	ct := mime.TypeByExtension(path.Ext(a.Name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return c.Blob(http.StatusOK, ct, a.Data)
}
