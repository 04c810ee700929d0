package etl

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	geoetl "github.com/geoetl/geoetl"
)

func TestRun_EmptyWorkflowDoesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	sum, err, rec := env.run(`{"nodes":[],"edges":[]}`, nil)
	if err != nil || sum.FeaturesRead != 0 || len(rec.nodes) != 0 {
		t.Errorf("Run = %+v, %v, %d node records", sum, err, len(rec.nodes))
	}
	// Nothing to record either: every log line is a row written per run.
	if len(rec.logs) != 0 {
		t.Errorf("an empty workflow logged %q", rec.logs)
	}
}

// A workflow without nodes (an every-second no-op schedule's) is run on
// every occurrence: its definition is decoded once, not on each run, and
// each run still answers its own parameters as a first one does.
func TestRun_NodelessWorkflowIsDecodedOnce(t *testing.T) {
	env := newEnv(t)
	wf := &geoetl.Workflow{ID: geoetl.NewID(), Definition: []byte(`{"parameters":{"p":{"type":"integer","defaultValue":1}},"nodes":[],"edges":[]}`)}
	run := func(params map[string]any) ([]string, error) {
		rec := &recorder{}
		_, err := env.e.Run(context.Background(), geoetl.RunRequest{TenantName: env.tenant, Workflow: wf, Parameters: params, Recorder: rec})
		return rec.logs, err
	}
	for range 2 {
		if logs, err := run(map[string]any{"other": 1}); err != nil || len(logs) != 1 || !strings.Contains(logs[0], "other") {
			t.Fatalf("Run with an undeclared value = %v, logs %q; want one line naming it", err, logs)
		}
		if _, err := run(map[string]any{"p": "x"}); geoetl.ErrorCode(err) != geoetl.EINVALID {
			t.Fatalf("Run with a bad value = %v, want EINVALID", err)
		}
	}
	// Once decoded, a run allocates a few small values of its own; the
	// JSON decoding it replaces takes dozens.
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := run(nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 12 {
		t.Fatalf("a run of a node-less workflow allocates %.0f objects, want at most 12", allocs)
	}
}

func TestRun_SubstitutesParametersAndRunVariables(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in/north.geojson", pointsFC(10))
	def := `{"parameters":{
	    "region":{"type":"string","defaultValue":"south"},
	    "minid":{"type":"integer","defaultValue":100},
	    "d":{"type":"number","required":true}},
	  "nodes":[
	    {"id":"src","type":"data_source.file","parameters":{"file_path":"in/{{parameters.region}}.geojson"}},
	    {"id":"f","type":"geoprocessing.filter","parameters":{"expression":"id >= {{ parameters.minid }}"}},
	    {"id":"b","type":"geoprocessing.buffer","parameters":{"distance":"{{parameters.d}}","segments":1}},
	    {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"out/{{run.date}}/{{parameters.region}}-{{run.executionId}}.json"}}],
	  "edges":[{"from":"src","to":"f"},{"from":"f","to":"b"},{"from":"b","to":"out"}]}`
	sum, err, rec := env.run(def, map[string]any{"region": "north", "minid": float64(7), "d": 0.5})
	if err != nil {
		t.Fatalf("%v\n%s", err, rec.logText())
	}
	if sum.FeaturesRead != 10 || sum.FeaturesWritten != 3 {
		t.Errorf("summary %+v, want 10 read, 3 written", sum)
	}
	fs := env.readFC("out/2026-03-29/north-exec-1.json")
	if len(fs) != 3 || fs[0].Geometry.Type().String() != "Polygon" {
		t.Errorf("output = %d features", len(fs))
	}
}

func TestRun_ParameterErrorsNameTheParameter(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := `{"parameters":{"d":{"type":"number","required":true},"when":{"type":"date"}},"nodes":[]}`
	cases := []struct {
		values map[string]any
		field  string
	}{
		{nil, "parameters.d"},
		{map[string]any{"d": "wide"}, "parameters.d"},
		{map[string]any{"d": 1.0, "when": "29/03/2026"}, "parameters.when"},
	}
	for _, c := range cases {
		_, err, _ := env.run(def, c.values)
		if geoetl.ErrorCode(err) != geoetl.EINVALID || geoetl.ErrorFields(err)[c.field] == nil {
			t.Errorf("values %v: err = %v, want an EINVALID error on %s", c.values, err, c.field)
		}
	}
}

func TestRun_TemplateOfWrongTypeFailsAfterSubstitution(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	def := `{"parameters":{"d":{"type":"string","defaultValue":"wide"}},"nodes":[
	  {"id":"src","type":"data_source.file","parameters":{"content":{"type":"Point","coordinates":[1,2]}}},
	  {"id":"b","type":"geoprocessing.buffer","parameters":{"distance":"{{parameters.d}}"}},
	  {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"o.json"}}],
	  "edges":[{"from":"src","to":"b"},{"from":"b","to":"out"}]}`
	if err := env.e.Validate([]byte(def)); err != nil {
		t.Fatalf("a template is allowed where a number goes: %v", err)
	}
	_, err, _ := env.run(def, nil)
	if msgs := geoetl.ErrorFields(err)["nodes[b].parameters.distance"]; len(msgs) == 0 || !strings.Contains(msgs[0], "number") {
		t.Errorf("err = %v, want a type error on nodes[b].parameters.distance", err)
	}
}

func TestRun_RecordsEveryNodeFromPendingToCompleted(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("in.json", pointsFC(1200))
	_, rec := env.mustRun(chain(src("in.json"), node{id: "c", typ: "geoprocessing.centroid", params: map[string]any{}}, geojsonOut("o.json")))
	for _, id := range []string{"src", "c", "out"} {
		if got := strings.Join(rec.statuses(id), ","); got != "pending,running,completed" {
			t.Errorf("%s went %s", id, got)
		}
	}
	c := rec.last("c")
	if c.FeaturesIn != 1200 || c.FeaturesOut != 1200 || c.StartedAt == nil || c.CompletedAt == nil || c.DurationMs == nil {
		t.Errorf("centroid record = %+v", c)
	}
	if out := rec.last("out"); out.FeaturesIn != 1200 || out.FeaturesOut != 1200 {
		t.Errorf("sink record = %+v", out)
	}
}

func TestRun_CancellationStopsWaitAtOnce(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	running := make(chan struct{})
	rec := &recorder{onNode: func(n geoetl.NodeRun) {
		if n.Status == "running" {
			close(running)
		}
	}}
	go func() {
		_, err, _ := env.runWith(ctx, rec, `{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":3600}}]}`, nil)
		done <- err
	}()
	<-running
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %s to return after cancel", d)
		}
		if got := rec.last("w").Status; got != "cancelled" {
			t.Errorf("wait node status %q, want cancelled", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

func TestRun_DeadlineEndsRunWithDeadlineExceeded(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err, _ := env.runCtx(ctx, `{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":60}}]}`, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestRun_NodeTimeoutFailsTheNode(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	start := time.Now()
	_, err, rec := env.run(`{"nodes":[{"id":"w","type":"control.wait","parameters":{"seconds":60},"execution":{"timeoutSeconds":0.1}}]}`, nil)
	if err == nil || !strings.Contains(err.Error(), `node "w"`) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err = %v, want the node's time-out", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the time-out was not honoured promptly")
	}
	if n := rec.last("w"); n.Status != "failed" || n.Error == nil || !strings.Contains(*n.Error, "timed out") {
		t.Errorf("node record = %+v", n)
	}
}

func TestRun_ContinueOnErrorSkipsDependentsAndCompletes(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.write("good.json", pointsFC(5))
	def := graph([]node{
		{id: "bad", typ: "data_source.file", params: map[string]any{"file_path": "missing.json"}, exec: map[string]any{"continueOnError": true}},
		{id: "badout", typ: "data_sink.geojson", params: map[string]any{"output_path": "bad.json"}},
		{id: "good", typ: "data_source.file", params: map[string]any{"file_path": "good.json"}},
		{id: "goodout", typ: "data_sink.geojson", params: map[string]any{"output_path": "good-out.json"}},
	}, [][2]string{{"bad", "badout"}, {"good", "goodout"}})
	sum, err, rec := env.run(def, nil)
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if n := rec.last("bad"); n.Status != "failed" || n.Error == nil || !strings.Contains(*n.Error, "does not exist") {
		t.Errorf("bad source record = %+v", n)
	}
	if n := rec.last("badout"); n.Status != "skipped" {
		t.Errorf("dependent sink status %q, want skipped", n.Status)
	}
	if _, statErr := os.Stat(env.path("bad.json")); statErr == nil {
		t.Error("the skipped sink wrote its file")
	}
	if sum.FeaturesWritten != 5 || len(env.readFC("good-out.json")) != 5 {
		t.Errorf("the independent branch did not complete: %+v", sum)
	}
	if sum.Extra["failedNodes"] == nil || sum.Extra["skippedNodes"] == nil {
		t.Errorf("summary extra = %v", sum.Extra)
	}
}

func TestRun_FailureWithoutContinueOnErrorFailsRunNamingNode(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, err, rec := env.run(chain(src("missing.json"), geojsonOut("o.json")), nil)
	if err == nil || !strings.Contains(err.Error(), `node "src" (data_source.file) failed`) {
		t.Errorf("err = %v", err)
	}
	if s := rec.last("out").Status; s != "skipped" && s != "cancelled" {
		t.Errorf("sink status %q", s)
	}
}

func TestRun_RetriesANodeThatFailedBeforeReading(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(pointsFC(4)))
	}))
	defer srv.Close()
	env := newEnv(t, allowPrivate)
	def := chain(node{id: "src", typ: "data_source.file", params: map[string]any{"url": srv.URL + "/p.json"}, exec: map[string]any{"maxRetries": 2}}, geojsonOut("o.json"))
	sum, rec := env.mustRun(def)
	if hits.Load() != 3 || sum.FeaturesWritten != 4 {
		t.Errorf("hits = %d, written = %d", hits.Load(), sum.FeaturesWritten)
	}
	if !strings.Contains(rec.logText(), "retrying") {
		t.Errorf("no retry logged:\n%s", rec.logText())
	}
	hits.Store(-10)
	def = chain(node{id: "src", typ: "data_source.file", params: map[string]any{"url": srv.URL + "/p.json"}, exec: map[string]any{"maxRetries": 1}}, geojsonOut("o.json"))
	if _, err, _ := env.run(def, nil); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("after the retries ran out: err = %v", err)
	}
}

// A diamond (one source feeding both inputs of a two-input node) must not
// deadlock even when the overlay input needs all of its data first.
func TestRun_DiamondThroughTwoInputNodeDoesNotDeadlock(t *testing.T) {
	// Not parallel: it lowers spoolMemFeatures for every run.
	env := newEnv(t)
	env.write("in.json", pointsFC(3000))
	def := graph([]node{
		src("in.json"),
		{id: "subject", typ: "geoprocessing.buffer", params: map[string]any{"distance": 0.1, "segments": 1}},
		{id: "mask", typ: "geoprocessing.filter", params: map[string]any{"expression": "id < 3"}},
		{id: "mbuf", typ: "geoprocessing.buffer", params: map[string]any{"distance": 0.2, "segments": 2}},
		{id: "x", typ: "geoprocessing.intersection", params: map[string]any{}},
		geojsonOut("o.json"),
	}, [][2]string{{"src", "subject"}, {"src", "mask"}, {"mask", "mbuf"}, {"subject", "x"}, {"mbuf", "x"}, {"x", "out"}})
	// A small spool limit makes the subject input spill to disk.
	old := spoolMemFeatures
	spoolMemFeatures = 100
	defer func() { spoolMemFeatures = old }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err, rec := env.runCtx(ctx, def, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, rec.logText())
	}
	// Points 0..2 and the points that repeat their coordinates every 360
	// ids (none below 3000 share all of them), so exactly 3 remain.
	if sum.FeaturesWritten != 3 {
		t.Errorf("written %d, want 3", sum.FeaturesWritten)
	}
}
