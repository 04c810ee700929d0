package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl"
)

// envChildDataDir makes the test binary a worker: the pool under test
// starts this binary (os.Executable is the test binary, not geoetl), and
// TestMain then runs the same ChildMain that `geoetl worker` runs.
const envChildDataDir = "GEOETL_TEST_WORKER_DATA_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envChildDataDir); dir != "" {
		eng, err := etl.New(etl.Config{DataDir: dir})
		if err == nil {
			err = ChildMain(crashingEngine{eng})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashingEngine is the real engine, except for three workflow names that
// make the worker process die the ways node code can: "panic" panics in a
// goroutine of its own, where no recover can catch it (a bug in a node's
// helper goroutine), and "terabyte" asks for 1 TB at once (what the
// filter expression len(repeat(repeat("a", 999999), 1000000)) did before
// expressions had budgets), which the Go runtime answers with a fatal
// error before any limit can act; "stubborn" never returns, whatever its
// context says.
type crashingEngine struct{ *etl.Engine }

var sink []byte

func (e crashingEngine) Run(ctx context.Context, req geoetl.RunRequest) (geoetl.RunSummary, error) {
	switch {
	case req.Workflow != nil && req.Workflow.Name == "panic":
		req.Recorder.Log("info", "", "about to panic")
		go func() { panic("boom in a helper goroutine") }()
		<-ctx.Done()
	case req.Workflow != nil && req.Workflow.Name == "stubborn":
		// Node code stuck where it never looks at its context.
		req.Recorder.Log("info", "", "ignoring cancellation")
		select {}
	case req.Workflow != nil && req.Workflow.Name == "terabyte":
		req.Recorder.Log("info", "", "about to allocate 1 TB")
		sink = make([]byte, 1<<40)
		sink[len(sink)-1] = 1
	}
	return e.Engine.Run(ctx, req)
}

// testTenant is the tenant the tests run as; its files are in
// <data folder>/<testTenant>.
const testTenant = "acme"

// newPool starts a pool of real worker processes on a fresh data folder,
// and returns the test tenant's folder in it.
func newPool(t testing.TB, edit func(*Config)) (*Pool, *etl.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, testTenant), 0o755); err != nil {
		t.Fatal(err)
	}
	local, err := etl.New(etl.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Command: []string{os.Args[0]},
		Env:     append(os.Environ(), envChildDataDir+"="+dir),
		Local:   local,
	}
	if edit != nil {
		edit(&cfg)
	}
	pl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := pl.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return pl, local, filepath.Join(dir, testTenant)
}

// recorder keeps what a run reports, and lets a test wait for a line.
type recorder struct {
	mu    sync.Mutex
	nodes []geoetl.NodeRun
	logs  []string
	grew  chan struct{}
}

func newRecorder() *recorder { return &recorder{grew: make(chan struct{}, 1)} }

func (r *recorder) Node(n geoetl.NodeRun) {
	r.mu.Lock()
	r.nodes = append(r.nodes, n)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Log(level, node, msg string) {
	r.mu.Lock()
	r.logs = append(r.logs, level+" "+node+": "+msg)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.grew <- struct{}{}:
	default:
	}
}

// waitLog waits for a log line matching re and returns its submatches.
func (r *recorder) waitLog(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		for _, l := range r.logs {
			if m := re.FindStringSubmatch(l); m != nil {
				r.mu.Unlock()
				return m
			}
		}
		r.mu.Unlock()
		select {
		case <-r.grew:
		case <-deadline:
			t.Fatalf("no log line matching %s in 60s: %q", re, r.logs)
		}
	}
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

func (r *recorder) logLines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.logs)
}

var workerLine = regexp.MustCompile(`running in worker process (\d+)`)

func workflow(def string) *geoetl.Workflow {
	return &geoetl.Workflow{ID: "w1", TenantID: "t1", Name: "test", Definition: json.RawMessage(def)}
}

const points = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":1,"kind":"a"},"geometry":{"type":"Point","coordinates":[10,50]}},
 {"type":"Feature","properties":{"id":2,"kind":"b"},"geometry":{"type":"Point","coordinates":[11,51]}}]}`

func filterWorkflow(expr string) *geoetl.Workflow {
	e, _ := json.Marshal(expr)
	return workflow(`{"nodes":[
	 {"id":"src","type":"data_source.file","parameters":{"content":` + points + `}},
	 {"id":"keep","type":"geoprocessing.filter","parameters":{"expression":` + string(e) + `}},
	 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"out.geojson"}}],
	 "edges":[{"from":"src","to":"keep"},{"from":"keep","to":"out"}]}`)
}

// hugeExpression would ask for about 1 TB at once.
const hugeExpression = `len(repeat(repeat("a", 999999), 1000000)) > 0`

func run(t *testing.T, pl *Pool, w *geoetl.Workflow) (geoetl.RunSummary, error, *recorder) {
	t.Helper()
	rec := newRecorder()
	sum, err := pl.Run(context.Background(), geoetl.RunRequest{
		TenantID: "t1", TenantName: testTenant, ExecutionID: "e-" + strconv.FormatInt(time.Now().UnixNano(), 36), Workflow: w,
		Parameters: map[string]any{}, ScheduledAt: time.Now().UTC(), Trigger: geoetl.TriggerManual, Recorder: rec,
	})
	return sum, err, rec
}

func workerPID(t *testing.T, rec *recorder) int {
	t.Helper()
	pid, _ := strconv.Atoi(rec.waitLog(t, workerLine)[1])
	return pid
}

func TestPool_HugeAllocationFailsTheRunWithMemoryLimitAndTheNextRunSucceeds(t *testing.T) {
	pl, _, dir := newPool(t, nil)
	// The expression that once asked for a terabyte is refused on save
	// now (its budget is checked in process, before anything is built);
	// the worker below dies of the same allocation made directly.
	if err := pl.Validate(filterWorkflow(hugeExpression).Definition); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("validation: %v, want the expression refused for its budget", err)
	}
	w := filterWorkflow("true")
	w.Name = "terabyte"
	_, err, rec := run(t, pl, w)
	if err == nil || !strings.Contains(err.Error(), "memory limit") || !strings.Contains(err.Error(), "1 GiB") {
		t.Fatalf("err = %v, want the 1 GiB memory limit named", err)
	}
	if !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("err = %v, want the runtime's last words", err)
	}
	dead := workerPID(t, rec)
	if syscall.Kill(dead, 0) == nil {
		t.Errorf("worker %d still alive after its out-of-memory death", dead)
	}
	sum, err, rec := run(t, pl, filterWorkflow(`kind == "a"`))
	if err != nil {
		t.Fatalf("next run: %v (log %q)", err, rec.logLines())
	}
	if pid := workerPID(t, rec); pid == dead {
		t.Fatalf("next run on the dead worker %d", pid)
	}
	if sum.FeaturesRead != 2 || sum.FeaturesWritten != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.geojson")); err != nil {
		t.Fatalf("the next run wrote nothing: %v", err)
	}
}

// writeManyPolygons writes n small polygons with distinct ids.
func writeManyPolygons(t testing.TB, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		x, y := float64(i%1000)*0.01, float64(i/1000)*0.01
		fmt.Fprintf(&b, `{"type":"Feature","properties":{"id":%d,"name":"parcel %d"},"geometry":{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}}`,
			i, i, x, y, x+0.005, y, x+0.005, y+0.005, x, y+0.005, x, y)
		if b.Len() > 1<<20 {
			if _, err := f.WriteString(b.String()); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	b.WriteString(`]}`)
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

func TestPool_SteadyGrowthPastTheLimitIsKilledWithMemoryLimit(t *testing.T) {
	pl, _, dir := newPool(t, func(c *Config) { c.MemoryLimit = 64 << 20 })
	writeManyPolygons(t, filepath.Join(dir, "many.geojson"), 400_000)
	// dissolve by a unique id keeps one group per feature: memory grows
	// with every feature read.
	_, err, rec := run(t, pl, workflow(`{"nodes":[
	 {"id":"src","type":"data_source.file","parameters":{"file_path":"many.geojson"}},
	 {"id":"d","type":"geoprocessing.dissolve","parameters":{"by":["id"]}},
	 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"d.geojson"}}],
	 "edges":[{"from":"src","to":"d"},{"from":"d","to":"out"}]}`))
	if err == nil || !strings.Contains(err.Error(), "exceeded the 64 MiB memory limit") {
		t.Fatalf("err = %v, want the 64 MiB memory limit", err)
	}
	t.Logf("mechanism %s: %v (log %q)", pl.Mechanism(), err, rec.logLines())
	if _, err, _ := run(t, pl, filterWorkflow("true")); err != nil {
		t.Fatalf("a run after the kill: %v", err)
	}
}

// blockingWorkflow reads real data, then waits, so that it runs in a
// worker (control.wait alone would stay in process) and stays there.
const blockingWorkflow = `{"nodes":[
 {"id":"src","type":"data_source.file","parameters":{"content":` + points + `}},
 {"id":"hold","type":"control.wait","parameters":{"seconds":120}},
 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"held.geojson"}}],
 "edges":[{"from":"src","to":"hold"},{"from":"hold","to":"out"}]}`

func TestPool_KillNineFailsOnlyThatRunAndANewWorkerIsReady(t *testing.T) {
	pl, _, _ := newPool(t, nil)
	type result struct {
		err error
		rec *recorder
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func() (chan result, *recorder) {
		rec := newRecorder()
		ch := make(chan result, 1)
		go func() {
			_, err := pl.Run(ctx, geoetl.RunRequest{TenantName: testTenant, ExecutionID: "e", Workflow: workflow(blockingWorkflow), Recorder: rec})
			ch <- result{err, rec}
		}()
		return ch, rec
	}
	victimDone, victimRec := start()
	otherDone, otherRec := start()
	victim := workerPID(t, victimRec)
	other := workerPID(t, otherRec)
	victimRec.waitLog(t, regexp.MustCompile(`^info src: completed`))
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res := <-victimDone
	if res.err == nil || res.err.Error() != "worker exited: signal 9" {
		t.Fatalf("err = %v, want worker exited: signal 9", res.err)
	}
	if st := res.rec.statuses("src"); !slices.Contains(st, "completed") {
		t.Errorf("node records before the kill were lost: %v", st)
	}
	select {
	case r := <-otherDone:
		t.Fatalf("the other run ended with the victim: %v", r.err)
	default:
	}
	if syscall.Kill(other, 0) != nil {
		t.Fatal("the other worker died too")
	}
	// Warm workers are replaced at once: two idle ones are ready, neither
	// of them the victim.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := pl.Status()
		if s.Idle >= 2 && !slices.Contains(s.PIDs, victim) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two idle workers 10 s after the kill: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err, rec := run(t, pl, filterWorkflow("true"))
	if err != nil || workerPID(t, rec) == victim {
		t.Fatalf("retry: %v", err)
	}
	cancel()
	if r := <-otherDone; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("the other run: %v", r.err)
	}
}

func TestPool_CancelStopsTheRunInItsWorkerAndKeepsTheWorker(t *testing.T) {
	pl, _, _ := newPool(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	rec := newRecorder()
	done := make(chan error, 1)
	go func() {
		_, err := pl.Run(ctx, geoetl.RunRequest{TenantName: testTenant, ExecutionID: "e", Workflow: workflow(blockingWorkflow), Recorder: rec})
		done <- err
	}()
	pid := workerPID(t, rec)
	rec.waitLog(t, regexp.MustCompile(`^info src: completed`))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancelled run did not return")
	}
	if st := rec.statuses("hold"); st[len(st)-1] != "cancelled" {
		t.Errorf("hold: %v, want it to end cancelled", st)
	}
	if syscall.Kill(pid, 0) != nil {
		t.Error("a cancelled run cost its worker")
	}
}

func TestPool_PanicOutsideAnyRecoverFailsTheRunWithThePanicMessage(t *testing.T) {
	pl, _, _ := newPool(t, nil)
	w := filterWorkflow("true")
	w.Name = "panic"
	_, err, rec := run(t, pl, w)
	if err == nil || err.Error() != "worker exited: panic: boom in a helper goroutine" {
		t.Fatalf("err = %v (log %q)", err, rec.logLines())
	}
	if _, err, _ := run(t, pl, filterWorkflow("true")); err != nil {
		t.Fatalf("next run: %v", err)
	}
}

func TestDeathError_ReadsTheWorkersLastWords(t *testing.T) {
	p := &proc{pool: &Pool{cfg: Config{MemoryLimit: 1 << 30}}, tail: &lastWords{}}
	for _, l := range []string{"panic: runtime error: index out of range [3] with length 2", "", "goroutine 7 [running]:", "main.f()"} {
		p.tail.add(l)
	}
	if got := p.deathError().Error(); got != "worker exited: panic: runtime error: index out of range [3] with length 2" {
		t.Fatalf("got %q", got)
	}
	p = &proc{pool: &Pool{cfg: Config{MemoryLimit: 1 << 30}}, tail: &lastWords{}}
	for _, l := range []string{"runtime: out of memory: cannot allocate 1000000004096-byte block (3997696 in use)", "fatal error: out of memory", "goroutine 1 [running]:"} {
		p.tail.add(l)
	}
	if got := p.deathError().Error(); !strings.Contains(got, "exceeded the 1 GiB memory limit") || !strings.Contains(got, "cannot allocate 1000000004096-byte block") {
		t.Fatalf("got %q", got)
	}
}

// inProcess runs w with the in-process engine, for comparison.
func inProcess(t *testing.T, e *etl.Engine, ctx context.Context, w *geoetl.Workflow, params map[string]any) (geoetl.RunSummary, error, *recorder) {
	rec := newRecorder()
	sum, err := e.Run(ctx, geoetl.RunRequest{TenantName: testTenant, ExecutionID: "e", Workflow: w, Parameters: params, Recorder: rec})
	return sum, err, rec
}

func TestPool_RunsReportTheSameAsInProcess(t *testing.T) {
	pl, local, _ := newPool(t, nil)
	for _, tc := range []struct {
		name   string
		def    string
		params map[string]any
	}{
		{"completes", string(filterWorkflow(`kind == "a"`).Definition), nil},
		{"node fails", `{"nodes":[{"id":"src","type":"data_source.file","parameters":{"file_path":"missing.geojson"}},
		  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.geojson"}}],"edges":[{"from":"src","to":"out"}]}`, nil},
		{"continue on error", `{"nodes":[{"id":"src","type":"data_source.file","parameters":{"file_path":"missing.geojson"},"execution":{"continueOnError":true}},
		  {"id":"ok","type":"data_source.file","parameters":{"content":` + points + `}},
		  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.geojson"}},
		  {"id":"out2","type":"data_sink.geojson","parameters":{"output_path":"o2.geojson"}}],
		  "edges":[{"from":"src","to":"out"},{"from":"ok","to":"out2"}]}`, nil},
		{"node time-out", `{"nodes":[{"id":"src","type":"data_source.file","parameters":{"content":` + points + `}},
		  {"id":"w","type":"control.wait","parameters":{"seconds":30},"execution":{"timeoutSeconds":0.2}},
		  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.geojson"}}],
		  "edges":[{"from":"src","to":"w"},{"from":"w","to":"out"}]}`, nil},
		{"bad parameter value", `{"parameters":{"n":{"type":"integer","required":true}},"nodes":[{"id":"src","type":"data_source.file","parameters":{"content":` + points + `}},
		  {"id":"keep","type":"geoprocessing.filter","parameters":{"expression":"id > {{parameters.n}}"}},
		  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.geojson"}}],"edges":[{"from":"src","to":"keep"},{"from":"keep","to":"out"}]}`,
			map[string]any{"n": "three"}},
		{"large integer parameter", `{"parameters":{"n":{"type":"integer","required":true}},"nodes":[{"id":"src","type":"data_source.file","parameters":{"content":` + points + `}},
		  {"id":"keep","type":"geoprocessing.filter","parameters":{"expression":"id < {{parameters.n}}"}},
		  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.geojson"}}],"edges":[{"from":"src","to":"keep"},{"from":"keep","to":"out"}]}`,
			map[string]any{"n": json.Number("9007199254740993")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := workflow(tc.def)
			wantSum, wantErr, want := inProcess(t, local, context.Background(), w, tc.params)
			rec := newRecorder()
			sum, err := pl.Run(context.Background(), geoetl.RunRequest{TenantName: testTenant, ExecutionID: "e", Workflow: w, Parameters: tc.params, Recorder: rec})
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || geoetl.ErrorCode(err) != geoetl.ErrorCode(wantErr) ||
				!reflect.DeepEqual(geoetl.ErrorFields(err), geoetl.ErrorFields(wantErr)) {
				t.Fatalf("err = %v (%s), in process %v (%s)", err, geoetl.ErrorCode(err), wantErr, geoetl.ErrorCode(wantErr))
			}
			if fmt.Sprint(sum.AsMap()) != fmt.Sprint(wantSum.AsMap()) {
				t.Errorf("summary %v, in process %v", sum.AsMap(), wantSum.AsMap())
			}
			for _, id := range []string{"src", "ok", "keep", "w", "out", "out2"} {
				if got, want := rec.statuses(id), want.statuses(id); !slices.Equal(got, want) {
					t.Errorf("node %s: %v, in process %v", id, got, want)
				}
			}
			got := rec.logLines()
			if len(got) > 0 && workerLine.MatchString(got[0]) {
				got = got[1:]
			}
			if len(got) != len(want.logLines()) {
				t.Errorf("log %q, in process %q", got, want.logLines())
			}
		})
	}
}

func TestPool_NoOpAndWaitOnlyWorkflowsStayInProcess(t *testing.T) {
	pl, _, _ := newPool(t, nil)
	for _, def := range []string{`{"nodes":[]}`, `{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":0}}]}`} {
		_, err, rec := run(t, pl, workflow(def))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rec.logLines() {
			if workerLine.MatchString(l) {
				t.Fatalf("%s ran in a worker: %q", def, rec.logLines())
			}
		}
	}
}

func TestEncodeRequest_EveryFieldButTheRecorderCrossesTheBoundary(t *testing.T) {
	var req geoetl.RunRequest
	v := reflect.ValueOf(&req).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value of " + v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64, reflect.Int32:
			f.SetInt(42)
		case reflect.Interface:
			// The recorder stays with the caller.
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]any{"region": "north", "limit": json.Number("12345678901234567")}))
		case reflect.Pointer:
			f.Set(reflect.ValueOf(workflow(`{"nodes":[]}`)))
		case reflect.Struct:
			f.Set(reflect.ValueOf(time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC)))
		default:
			t.Fatalf("field %s of kind %s: teach this test (and check it can cross)", v.Type().Field(i).Name, f.Kind())
		}
	}
	req.Recorder = newRecorder()
	raw, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRequest(raw)
	if err != nil {
		t.Fatal(err)
	}
	req.Recorder = nil
	if !reflect.DeepEqual(got, req) {
		t.Fatalf("after the crossing\n got %#v\nwant %#v", got, req)
	}
}

func TestWorkerEnv_LeavesOutTheDatabaseAndSecrets(t *testing.T) {
	env := workerEnv([]string{"GEOETL_DATABASE_URL=postgres://x", "GEOETL_ADMIN_PASSWORD=p", "GEOETL_SMTP_URL=smtp://u:p@h",
		"GEOETL_CONNECTION_GIS=postgres://gis", "PATH=/bin"}, 1<<30)
	want := []string{"GEOETL_CONNECTION_GIS=postgres://gis", "PATH=/bin", envSoftLimit + "=1073741824"}
	if !slices.Equal(env, want) {
		t.Fatalf("env %q, want %q", env, want)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "256MiB": 256 << 20, "64 MiB": 64 << 20, "512MB": 512e6} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1GiB", "0"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if FormatSize(1<<30) != "1 GiB" || FormatSize(64<<20) != "64 MiB" {
		t.Error(FormatSize(1<<30), FormatSize(64<<20))
	}
}

func TestPool_DeadlineEndsTheRunInItsWorker(t *testing.T) {
	pl, _, _ := newPool(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	rec := newRecorder()
	_, err := pl.Run(ctx, geoetl.RunRequest{TenantName: testTenant, ExecutionID: "e", Workflow: workflow(blockingWorkflow), Recorder: rec})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if st := rec.statuses("hold"); len(st) == 0 || st[len(st)-1] != "cancelled" {
		t.Errorf("hold: %v, want it to end cancelled", st)
	}
}

func TestPool_AWorkerThatIgnoresItsCancellationIsKilled(t *testing.T) {
	pl, _, _ := newPool(t, func(c *Config) { c.CancelGrace = 300 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	rec := newRecorder()
	done := make(chan error, 1)
	w := filterWorkflow("true")
	w.Name = "stubborn"
	go func() {
		_, err := pl.Run(ctx, geoetl.RunRequest{TenantName: testTenant, ExecutionID: "e", Workflow: w, Recorder: rec})
		done <- err
	}()
	pid := workerPID(t, rec)
	rec.waitLog(t, regexp.MustCompile(`ignoring cancellation`))
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "did not stop within 300ms") {
		t.Fatalf("err = %v", err)
	}
	if syscall.Kill(pid, 0) == nil && !strings.Contains(procState(pid), "Z") {
		t.Fatalf("worker %d still alive", pid)
	}
}

// procState is the state letter of a process, "" when it is gone.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
