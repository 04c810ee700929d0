package etl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/geoetl/geoetl/netguard"
)

// data_source.file reads GeoJSON from the data folder, from a URL, or from
// inline content.
func (e *Engine) fileSource() *NodeType {
	return &NodeType{
		Type: "data_source.file", Category: "source", HasOutput: true,
		Description: "Reads GeoJSON (a FeatureCollection, a Feature or a geometry), a Shapefile (.shp beside its .dbf/.prj/.cpg, or a .zip holding one), FlatGeobuf, GeoParquet, KML or GPX from a file in the data folder, an http(s) URL, or inline content (GeoJSON, KML, GPX). Exactly one of file_path, url and content is given.",
		Parameters: []ParamSpec{
			{Name: "file_path", Type: "string", Description: "Path relative to the data folder."},
			{Name: "url", Type: "string", Description: "http or https URL; private addresses are refused unless --allow-private-urls is set; the download is limited in size."},
			{Name: "content", Type: "json", Description: "Inline GeoJSON, as an object or as text."},
			{Name: "format", Type: "string", Enum: sourceFormats, Description: "Input format; default: from the file's extension (.geojson/.json, .shp/.zip, .fgb, .parquet/.geoparquet, .kml, .gpx), else geojson."},
			{Name: "crs", Type: "crs", Description: "CRS of the coordinates when the data does not say (default: what the file says — GeoJSON crs member, .prj, FlatGeobuf header, GeoParquet metadata — else EPSG:4326)."},
		},
		check: func(p params, add func(string, string, ...any)) {
			n := 0
			for _, k := range []string{"file_path", "url", "content"} {
				if p.has(k) {
					n++
				}
			}
			if n > 1 {
				add("file_path", "give only one of file_path, url and content")
			}
			checkPathParam(p, "file_path", add)
			checkURLParam(e, p, "url", add)
			if f := p.str("format"); p.has("content") && f != "" && f != "geojson" && f != "kml" && f != "gpx" {
				add("format", "%s cannot be given inline as content; use file_path or url", f)
			}
		},
		build: func(p params) (nodeFunc, error) {
			if !p.has("file_path") && !p.has("url") && !p.has("content") {
				return nil, errors.New("one of file_path, url and content is required")
			}
			override := p.crsCode("crs")
			format := p.str("format")
			if format == "" {
				format = formatFromPath(p.str("file_path") + p.str("url"))
			}
			if format != "geojson" && p.has("content") && format != "kml" && format != "gpx" {
				return nil, fmt.Errorf("format %s cannot be given inline as content; use file_path or url", format)
			}
			return func(ctx context.Context, nc *nodeCtx) error {
				if format != "geojson" {
					return readFormat(ctx, e, nc, p, format, override)
				}
				var rd io.Reader
				switch {
				case p.has("file_path"):
					f, err := nc.r.openData(p.str("file_path"))
					if err != nil {
						return err
					}
					defer f.Close()
					nc.log("info", "reading %s", p.str("file_path"))
					rd = f
				case p.has("url"):
					body, err := e.httpGet(ctx, p.str("url"), "application/geo+json, application/json;q=0.9, */*;q=0.1")
					if err != nil {
						return err
					}
					defer body.Close()
					nc.log("info", "downloading %s", redactURL(p.str("url")))
					rd = body
				default:
					raw := p["content"].(json.RawMessage)
					var s string
					if json.Unmarshal(raw, &s) == nil {
						rd = strings.NewReader(s)
					} else {
						rd = strings.NewReader(string(raw))
					}
				}
				_, err := emitGeoJSON(ctx, nc, rd, override)
				return err
			}, nil
		},
	}
}

// emitGeoJSON streams the features of a GeoJSON document to the node's
// outputs, with the CRS overridden when override is set.
func emitGeoJSON(ctx context.Context, nc *nodeCtx, rd io.Reader, override int) (*geojsonReader, error) {
	if override == 0 {
		return emitGeoJSONTo(ctx, &limitEmitter{nc: nc}, rd)
	}
	return emitGeoJSONTo(ctx, &limitEmitter{nc: nc, crs: override}, rd)
}

func checkPathParam(p params, name string, add func(string, string, ...any)) {
	if p.has(name) {
		if err := checkRelPath(p.str(name)); err != nil {
			add(name, "%v", err)
		}
	}
}

func checkURLParam(e *Engine, p params, name string, add func(string, string, ...any)) {
	if p.has(name) {
		if err := e.cfg.Network.CheckURL(p.str(name)); err != nil {
			add(name, "%v", err)
		}
	}
}

// httpGet fetches a URL under the network policy and the download limit.
// The body it returns fails with netguard.ErrTooLarge past the limit.
func (e *Engine) httpGet(ctx context.Context, url, accept string) (io.ReadCloser, error) {
	if err := e.cfg.Network.CheckURL(url); err != nil {
		return nil, fmt.Errorf("URL refused: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bad URL: %v", err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "geoetl")
	resp, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if netguard.IsForbidden(err) {
			return nil, fmt.Errorf("URL refused: %s leads to a loopback, link-local or private address (see --allow-private-urls)", redactURL(url))
		}
		return nil, fmt.Errorf("fetching %s: %v", redactURL(url), unwrapURLError(err))
	}
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		resp.Body.Close()
		return nil, fmt.Errorf("fetching %s: HTTP %d %s", redactURL(url), resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	if resp.ContentLength > e.cfg.MaxDownloadBytes {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching %s: %d bytes is more than the limit of %d", redactURL(url), resp.ContentLength, e.cfg.MaxDownloadBytes)
	}
	return struct {
		io.Reader
		io.Closer
	}{netguard.LimitedBody(resp.Body, e.cfg.MaxDownloadBytes), resp.Body}, nil
}

// redactURL drops credentials and the query from a URL for messages.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if at := strings.Index(raw, "@"); at >= 0 {
		if s := strings.Index(raw, "://"); s >= 0 && s < at {
			raw = raw[:s+3] + raw[at+1:]
		}
	}
	return raw
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// httpTimeout bounds one HTTP request of a source; node time-outs and
// cancellation end it sooner.
const httpTimeout = 10 * time.Minute
