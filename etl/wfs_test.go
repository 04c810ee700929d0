package etl

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestWFSSource_SendsGetFeatureAndReadsGeoJSON(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var query map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		query = map[string]string{}
		for k, v := range r.URL.Query() {
			query[strings.ToUpper(k)] = v[0]
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(pointsNear(5, 10, 50)))
	}))
	defer srv.Close()
	env := newEnv(t, allowPrivate)
	sum, _ := env.mustRun(chain(node{id: "src", typ: "data_source.wfs", params: map[string]any{
		"url": srv.URL + "/geoserver/wfs?map=x", "typename": "topp:states", "bbox": []any{9, 49, 11, 51}, "max_features": 3,
	}}, geojsonOut("o.json")))
	if sum.FeaturesRead != 3 {
		t.Errorf("read %d features, want 3 (max_features)", sum.FeaturesRead)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, want := range map[string]string{
		"SERVICE": "WFS", "REQUEST": "GetFeature", "VERSION": "2.0.0", "TYPENAMES": "topp:states", "COUNT": "3",
		"OUTPUTFORMAT": "application/json", "BBOX": "9,49,11,51,urn:ogc:def:crs:OGC:1.3:CRS84", "MAP": "x",
	} {
		if query[k] != want {
			t.Errorf("%s = %q, want %q", k, query[k], want)
		}
	}
}

// ogcServer serves a collection of n points in pages with next links.
func ogcServer(t *testing.T, n int) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.RequestURI())
		mu.Unlock()
		if r.URL.Path != "/collections/parcels/items" {
			http.NotFound(w, r)
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		var feats []string
		for i := offset; i < n && i < offset+limit; i++ {
			feats = append(feats, fmt.Sprintf(`{"type":"Feature","id":%d,"properties":{"i":%d},"geometry":{"type":"Point","coordinates":[%d,1]}}`, i, i, i))
		}
		links := `[{"rel":"self","href":"x"}]`
		if offset+limit < n {
			// A relative next link, placed after the features as many
			// servers do.
			links = fmt.Sprintf(`[{"rel":"next","type":"application/geo+json","href":"items?limit=%d&offset=%d"}]`, limit, offset+limit)
		}
		w.Header().Set("Content-Type", "application/geo+json")
		fmt.Fprintf(w, `{"type":"FeatureCollection","numberReturned":%d,"features":[%s],"links":%s}`, len(feats), strings.Join(feats, ","), links)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

func TestOGCAPIFeatures_FollowsNextLinksAcrossPages(t *testing.T) {
	t.Parallel()
	srv, requests := ogcServer(t, 25)
	env := newEnv(t, allowPrivate)
	sum, _ := env.mustRun(chain(node{id: "src", typ: "data_source.wfs", params: map[string]any{
		"url": srv.URL + "/collections/parcels", "page_size": 10,
	}}, geojsonOut("o.json")))
	if sum.FeaturesRead != 25 || len(*requests) != 3 {
		t.Errorf("read %d features in %d requests (%v), want 25 in 3", sum.FeaturesRead, len(*requests), *requests)
	}
	fs := env.readFC("o.json")
	if len(fs) != 25 || fs[24].ID != int64(24) {
		t.Errorf("features out of order or missing")
	}
	env2 := newEnv(t, allowPrivate)
	sum, _ = env2.mustRun(chain(node{id: "src", typ: "data_source.wfs", params: map[string]any{
		"url": srv.URL + "/collections/parcels/items", "page_size": 10, "max_features": 12,
	}}, geojsonOut("o.json")))
	if sum.FeaturesRead != 12 {
		t.Errorf("max_features: read %d", sum.FeaturesRead)
	}
}

func TestURLSources_DefaultPolicyRefusesLoopback(t *testing.T) {
	t.Parallel()
	srv, requests := ogcServer(t, 3)
	env := newEnv(t) // AllowPrivate false
	// A literal loopback address is refused when the workflow is checked.
	def := chain(node{id: "src", typ: "data_source.wfs", params: map[string]any{"url": srv.URL + "/collections/parcels"}}, geojsonOut("o.json"))
	if err := env.e.Validate([]byte(def)); err == nil || !strings.Contains(err.Error(), "private") {
		t.Errorf("Validate = %v", err)
	}
	// A URL that only appears at run time (here through a parameter) is
	// refused when the request is made.
	for _, typ := range []string{"data_source.wfs", "data_source.file"} {
		tdef := fmt.Sprintf(`{"parameters":{"u":{"type":"string","defaultValue":%q}},"nodes":[
		  {"id":"src","type":%q,"parameters":{"url":"{{parameters.u}}"}},
		  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.json"}}],"edges":[{"from":"src","to":"out"}]}`,
			strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/collections/parcels/items", typ)
		_, err, _ := env.run(tdef, nil)
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("%s: err = %v, want a refusal", typ, err)
		}
	}
	// A host name that resolves to a loopback address passes every check
	// on the text of the URL and is refused when the connection is made.
	host, _ := os.Hostname()
	addrs, _ := net.LookupHost(host)
	if len(addrs) == 0 || !net.ParseIP(addrs[0]).IsLoopback() {
		t.Logf("host name %q does not resolve to loopback here; skipping the connect-time check", host)
	} else {
		u := strings.Replace(srv.URL, "127.0.0.1", host, 1) + "/collections/parcels"
		_, err, _ := env.run(chain(node{id: "src", typ: "data_source.wfs", params: map[string]any{"url": u}}, geojsonOut("o.json")), nil)
		if err == nil || !strings.Contains(err.Error(), "URL refused") {
			t.Errorf("connect-time check: err = %v", err)
		}
	}
	if len(*requests) != 0 {
		t.Errorf("the server was reached: %v", *requests)
	}
}

func TestURLSources_DownloadsAreSizeLimited(t *testing.T) {
	t.Parallel()
	big := pointsFC(2000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		}
		w.Write([]byte(big))
	}))
	defer srv.Close()
	env := newEnv(t, allowPrivate, func(c *Config) { c.MaxDownloadBytes = 10_000 })
	for _, q := range []string{"", "?chunked=1"} {
		_, err, _ := env.run(chain(node{id: "src", typ: "data_source.file", params: map[string]any{"url": srv.URL + "/big.json" + q}}, geojsonOut("o.json")), nil)
		if err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("%q: err = %v, want the download limit", q, err)
		}
	}
}
