package etl

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	geoetl "github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/netguard"
)

// recorder keeps what a run reports.
type recorder struct {
	mu     sync.Mutex
	nodes  []geoetl.NodeRun
	logs   []string
	onNode func(geoetl.NodeRun)
}

func (r *recorder) Node(n geoetl.NodeRun) {
	r.mu.Lock()
	r.nodes = append(r.nodes, n)
	on := r.onNode
	r.mu.Unlock()
	if on != nil {
		on(n)
	}
}

func (r *recorder) Log(level, node, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, level+" "+node+": "+msg)
}

// last returns the final record of a node.
func (r *recorder) last(id string) geoetl.NodeRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.nodes) - 1; i >= 0; i-- {
		if r.nodes[i].NodeID == id {
			return r.nodes[i]
		}
	}
	return geoetl.NodeRun{}
}

func (r *recorder) statuses(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.nodes {
		if n.NodeID == id {
			out = append(out, n.Status)
		}
	}
	return out
}

func (r *recorder) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.logs, "\n")
}

type testEnv struct {
	t       *testing.T
	dataDir string // the engine's data folder
	dir     string // the tenant's folder in it, where the test's files go
	tenant  string
	e       *Engine
}

func newEnv(t *testing.T, mods ...func(*Config)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, RetryDelay: time.Millisecond}
	for _, m := range mods {
		m(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{t: t, dataDir: dir, e: e}
	return env.as(geoetl.DefaultTenantName)
}

// as returns the environment of another tenant of the same engine.
func (env *testEnv) as(tenant string) *testEnv {
	other := *env
	other.tenant, other.dir = tenant, filepath.Join(env.dataDir, tenant)
	if err := os.MkdirAll(other.dir, tenantFolderPerm); err != nil {
		env.t.Fatal(err)
	}
	return &other
}

func allowPrivate(c *Config) { c.Network = netguard.Policy{AllowPrivate: true} }

func (env *testEnv) write(rel, content string) {
	env.t.Helper()
	p := filepath.Join(env.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		env.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) read(rel string) string {
	env.t.Helper()
	b, err := os.ReadFile(filepath.Join(env.dir, rel))
	if err != nil {
		env.t.Fatal(err)
	}
	return string(b)
}

func (env *testEnv) path(rel string) string { return filepath.Join(env.dir, rel) }

// run executes a definition and returns the summary, the error and what
// was recorded.
func (env *testEnv) run(def string, values map[string]any) (geoetl.RunSummary, error, *recorder) {
	env.t.Helper()
	return env.runCtx(context.Background(), def, values)
}

func (env *testEnv) runCtx(ctx context.Context, def string, values map[string]any) (geoetl.RunSummary, error, *recorder) {
	env.t.Helper()
	return env.runWith(ctx, &recorder{}, def, values)
}

func (env *testEnv) runWith(ctx context.Context, rec *recorder, def string, values map[string]any) (geoetl.RunSummary, error, *recorder) {
	sum, err := env.e.Run(ctx, geoetl.RunRequest{
		TenantID: "t-" + env.tenant, TenantName: env.tenant, ExecutionID: "exec-1",
		Workflow:    &geoetl.Workflow{ID: "w", Name: "test", Definition: json.RawMessage(def)},
		Parameters:  values,
		ScheduledAt: time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC),
		Trigger:     geoetl.TriggerManual,
		Recorder:    rec,
	})
	return sum, err, rec
}

// mustRun runs a definition that must succeed.
func (env *testEnv) mustRun(def string) (geoetl.RunSummary, *recorder) {
	env.t.Helper()
	sum, err, rec := env.run(def, nil)
	if err != nil {
		env.t.Fatalf("run failed: %v\nlog:\n%s", err, rec.logText())
	}
	return sum, rec
}

// requireTool returns the path of an external tool; outside CI a missing
// tool skips the test with one line, under CI=true it fails.
func requireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (apt-get install %s)", name, pkg)
		}
		t.Skipf("%s not installed: skipping the check against it (apt-get install %s)", name, pkg)
	}
	return p
}

// ogrinfo runs ogrinfo -al -so on a file and returns its output.
func ogrinfo(t *testing.T, path string, args ...string) string {
	t.Helper()
	bin := requireTool(t, "ogrinfo", "gdal-bin")
	out, err := exec.Command(bin, append([]string{"-ro", "-al", "-so", path}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// node is one node of a test workflow.
type node struct {
	id, typ string
	params  map[string]any
	exec    map[string]any
}

// chain builds a definition whose nodes feed each other in order.
func chain(nodes ...node) string {
	return graph(nodes, nil)
}

// graph builds a definition with explicit edges (from, to pairs); nil
// edges chain the nodes in order.
func graph(nodes []node, edges [][2]string) string {
	type jn struct {
		ID         string         `json:"id"`
		Type       string         `json:"type"`
		Parameters map[string]any `json:"parameters"`
		Execution  map[string]any `json:"execution,omitempty"`
	}
	type je struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	d := struct {
		Nodes []jn `json:"nodes"`
		Edges []je `json:"edges"`
	}{Nodes: []jn{}, Edges: []je{}}
	for i, n := range nodes {
		d.Nodes = append(d.Nodes, jn{n.id, n.typ, n.params, n.exec})
		if edges == nil && i > 0 {
			d.Edges = append(d.Edges, je{nodes[i-1].id, n.id})
		}
	}
	for _, e := range edges {
		d.Edges = append(d.Edges, je{e[0], e[1]})
	}
	b, _ := json.Marshal(d)
	return string(b)
}

func src(path string) node {
	return node{id: "src", typ: "data_source.file", params: map[string]any{"file_path": path}}
}

func inline(id string, geojson string) node {
	return node{id: id, typ: "data_source.file", params: map[string]any{"content": geojson}}
}

func geojsonOut(path string) node {
	return node{id: "out", typ: "data_sink.geojson", params: map[string]any{"output_path": path}}
}

// readFC reads a GeoJSON output back into features.
func (env *testEnv) readFC(rel string) []Feature {
	env.t.Helper()
	f, err := os.Open(env.path(rel))
	if err != nil {
		env.t.Fatal(err)
	}
	defer f.Close()
	g := newGeoJSONReader(f)
	var out []Feature
	for {
		ft, err := g.next()
		if err != nil {
			if err.Error() == "EOF" {
				return out
			}
			env.t.Fatalf("reading %s: %v", rel, err)
		}
		out = append(out, ft)
	}
}

// pointsFC builds a FeatureCollection of n points with id and kind.
func pointsFC(n int) string {
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		kind := "a"
		if i%2 == 1 {
			kind = "b"
		}
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"id":%d,"kind":"%s"},"geometry":{"type":"Point","coordinates":[%g,%g]}}`,
			i, kind, float64(i%360-180)+0.5, float64(i%170-85)+0.25)
	}
	b.WriteString(`]}`)
	return b.String()
}

// pointsNear builds n points with id and kind within a degree of lon, lat.
func pointsNear(n int, lon, lat float64) string {
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		kind := "a"
		if i%2 == 1 {
			kind = "b"
		}
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"id":%d,"kind":"%s"},"geometry":{"type":"Point","coordinates":[%g,%g]}}`,
			i, kind, lon+float64(i%100)/100, lat+float64(i/100%100)/100)
	}
	b.WriteString(`]}`)
	return b.String()
}
