package etl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/geoetl/geoetl/netguard"
)

// data_source.wfs reads features from an OGC WFS (GetFeature with a
// GeoJSON output format) or from an OGC API Features collection, following
// its "next" links page by page.
func (e *Engine) wfsSource() *NodeType {
	return &NodeType{
		Type: "data_source.wfs", Category: "source", HasOutput: true,
		Description: "Reads features from a WFS service (GetFeature, GeoJSON output) or an OGC API Features collection (a URL ending in /collections/{id} or /collections/{id}/items), following next links. Private addresses are refused unless --allow-private-urls is set.",
		Parameters: []ParamSpec{
			{Name: "url", Type: "string", Required: true, Description: "WFS endpoint, or OGC API Features collection URL."},
			{Name: "typename", Type: "string", Description: "Feature type name (WFS; required there)."},
			{Name: "version", Type: "string", Default: "2.0.0", Enum: []string{"1.0.0", "1.1.0", "2.0.0"}, Description: "WFS version."},
			{Name: "bbox", Type: "bbox", Description: "Only features within [minx, miny, maxx, maxy] in WGS 84 longitude/latitude."},
			{Name: "max_features", Type: "integer", Description: "Read at most this many features."},
			{Name: "page_size", Type: "integer", Default: int64(1000), Description: "Features per page (OGC API Features)."},
		},
		check: func(p params, add func(string, string, ...any)) {
			checkURLParam(e, p, "url", add)
			if p.has("max_features") && p.integer("max_features") <= 0 {
				add("max_features", "must be positive")
			}
			if p.has("page_size") && (p.integer("page_size") <= 0 || p.integer("page_size") > 10000) {
				add("page_size", "must be between 1 and 10000")
			}
		},
		build: func(p params) (nodeFunc, error) {
			u, err := url.Parse(p.str("url"))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, fmt.Errorf("url must be an http or https URL")
			}
			if isOGCAPI(u) {
				return func(ctx context.Context, nc *nodeCtx) error { return e.readOGCAPI(ctx, nc, u, p) }, nil
			}
			if p.str("typename") == "" {
				return nil, fmt.Errorf("typename is required for a WFS service (or give an OGC API Features collection URL)")
			}
			return func(ctx context.Context, nc *nodeCtx) error { return e.readWFS(ctx, nc, u, p) }, nil
		},
	}
}

// isOGCAPI tells an OGC API Features collection URL from a WFS endpoint.
func isOGCAPI(u *url.URL) bool {
	path := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndex(path, "/collections/")
	if i < 0 {
		return false
	}
	rest := path[i+len("/collections/"):]
	return rest != "" && (!strings.Contains(rest, "/") || strings.HasSuffix(rest, "/items"))
}

func bboxString(b []float64) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (e *Engine) readWFS(ctx context.Context, nc *nodeCtx, u *url.URL, p params) error {
	q := u.Query()
	version := p.str("version")
	if version == "" {
		version = "2.0.0"
	}
	set := func(k, v string) {
		for key := range q {
			if strings.EqualFold(key, k) {
				q.Del(key)
			}
		}
		q.Set(k, v)
	}
	set("SERVICE", "WFS")
	set("REQUEST", "GetFeature")
	set("VERSION", version)
	set("OUTPUTFORMAT", "application/json")
	if version == "2.0.0" {
		set("TYPENAMES", p.str("typename"))
		if p.has("max_features") {
			set("COUNT", strconv.FormatInt(p.integer("max_features"), 10))
		}
		// WFS 2.0 axis order for EPSG:4326 is latitude first; a CRS84 bbox
		// keeps longitude first.
		if p.has("bbox") {
			set("BBOX", bboxString(p["bbox"].([]float64))+",urn:ogc:def:crs:OGC:1.3:CRS84")
		}
		set("SRSNAME", "urn:ogc:def:crs:OGC:1.3:CRS84")
	} else {
		set("TYPENAME", p.str("typename"))
		if p.has("max_features") {
			set("MAXFEATURES", strconv.FormatInt(p.integer("max_features"), 10))
		}
		if p.has("bbox") {
			set("BBOX", bboxString(p["bbox"].([]float64)))
		}
		set("SRSNAME", "EPSG:4326")
	}
	target := *u
	target.RawQuery = q.Encode()
	body, err := e.httpGet(ctx, target.String(), "application/json, application/geo+json;q=0.9")
	if err != nil {
		return err
	}
	defer body.Close()
	max := p.integer("max_features")
	lim := &limitEmitter{nc: nc, max: max}
	_, err = emitGeoJSONTo(ctx, lim, body)
	if err == errLimitReached {
		return nil
	}
	return err
}

func (e *Engine) readOGCAPI(ctx context.Context, nc *nodeCtx, u *url.URL, p params) error {
	items := *u
	if !strings.HasSuffix(strings.TrimSuffix(items.Path, "/"), "/items") {
		items.Path = strings.TrimSuffix(items.Path, "/") + "/items"
	}
	q := items.Query()
	pageSize := p.integer("page_size")
	if pageSize <= 0 {
		pageSize = 1000
	}
	max := p.integer("max_features")
	if max > 0 && max < pageSize {
		pageSize = max
	}
	q.Set("limit", strconv.FormatInt(pageSize, 10))
	if p.has("bbox") {
		q.Set("bbox", bboxString(p["bbox"].([]float64)))
	}
	items.RawQuery = q.Encode()
	next := items.String()
	lim := &limitEmitter{nc: nc, max: max}
	seen := map[string]bool{}
	for page := 1; next != ""; page++ {
		cur := next
		if seen[next] {
			return fmt.Errorf("page %d links back to an earlier page", page)
		}
		seen[next] = true
		body, err := e.httpGet(ctx, next, "application/geo+json, application/json;q=0.9")
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		before := lim.n
		g, err := emitGeoJSONTo(ctx, lim, body)
		body.Close()
		if err == errLimitReached {
			return nil
		}
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		nc.log("info", "page %d: %d features", page, lim.n-before)
		next = ""
		if lim.n == before {
			break // an empty page ends the collection whatever the links say
		}
		for _, l := range g.links {
			if l.Rel == "next" && l.Href != "" {
				ref, err := url.Parse(l.Href)
				if err != nil {
					return fmt.Errorf("page %d: bad next link %q", page, l.Href)
				}
				base, _ := url.Parse(cur)
				next = base.ResolveReference(ref).String()
				break
			}
		}
	}
	return nil
}

// limitEmitter passes features on until max (0 for no limit).
type limitEmitter struct {
	nc  *nodeCtx
	max int64
	crs int // overrides the features' CRS when set
	n   int64
}

var errLimitReached = errors.New("feature limit reached")

func (l *limitEmitter) emit(ctx context.Context, f Feature) error {
	if l.max > 0 && l.n >= l.max {
		return errLimitReached
	}
	l.n++
	if l.crs != 0 {
		f.CRS = l.crs
	}
	return l.nc.emit(ctx, f)
}

// emitGeoJSONTo streams one GeoJSON document through a limitEmitter. A
// legacy crs member may come after the features; so the document's crs
// members are found first by a quick scan (of a copy in a temporary file
// when rd cannot seek back), and every feature is emitted in the right
// CRS from the start.
func emitGeoJSONTo(ctx context.Context, l *limitEmitter, rd io.Reader) (*geojsonReader, error) {
	if l.crs != 0 {
		// The node's crs parameter overrides whatever the data says.
		return streamGeoJSON(ctx, l, newGeoJSONReader(rd))
	}
	rs, seekable := rd.(io.ReadSeeker)
	var start int64
	if seekable {
		var err error
		if start, err = rs.Seek(0, io.SeekCurrent); err != nil {
			return nil, err
		}
	} else {
		tmp, err := os.CreateTemp("", "geoetl-geojson-*")
		if err != nil {
			return nil, err
		}
		// Unlinked at once: nothing is left behind if the process dies.
		os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, rd); err != nil {
			if errors.Is(err, netguard.ErrTooLarge) {
				return nil, fmt.Errorf("the response is larger than the limit of %d bytes", l.nc.r.e.cfg.MaxDownloadBytes)
			}
			return nil, err
		}
		rs = tmp
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	members, err := scanTopLevelCRS(rs)
	if err != nil {
		return nil, err
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	g := newGeoJSONReader(rs)
	for _, m := range members {
		code, ok, err := parseCRSMember(m)
		if err != nil {
			return g, err
		}
		if !ok {
			continue
		}
		if g.crsFixed && code != g.crs {
			return g, fmt.Errorf("GeoJSON has two crs members that disagree (EPSG:%d and EPSG:%d)", g.crs, code)
		}
		g.crs, g.crsFixed = code, true
	}
	return streamGeoJSON(ctx, l, g)
}

// streamGeoJSON emits the features of g.
func streamGeoJSON(ctx context.Context, l *limitEmitter, g *geojsonReader) (*geojsonReader, error) {
	for {
		f, err := g.next()
		if errors.Is(err, io.EOF) {
			return g, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return g, ctx.Err()
			}
			if errors.Is(err, netguard.ErrTooLarge) {
				return g, fmt.Errorf("the response is larger than the limit of %d bytes", l.nc.r.e.cfg.MaxDownloadBytes)
			}
			return g, fmt.Errorf("reading feature %d: %w", l.n+1, err)
		}
		if err := l.emit(ctx, f); err != nil {
			return g, err
		}
	}
}
