package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geoetl/geoetl/db/sqlite"
	"github.com/geoetl/geoetl/internal/chaos"
)

// TestMain lets this test binary stand in for geoetl when serve, run in
// process by the tests, starts its workers: os.Executable is then the test
// binary, and "worker" as its first argument runs the real worker command.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	os.Exit(m.Run())
}

// api calls the REST API with a bearer token and decodes the answer.
func api(t *testing.T, base, token, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+"/admin/api/geoetl"+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// server is a `geoetl serve` run in process (its workers are real
// processes) with an admin token.
type server struct {
	base, token, dbPath, dataDir string
	errOut                       *syncBuffer
	stop                         func()
	done                         chan int
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := &server{base: "http://" + addr, dbPath: filepath.Join(dir, "g.db"), dataDir: filepath.Join(dir, "data"), errOut: &syncBuffer{}, done: make(chan int, 1)}
	env := []string{
		"GEOETL_DATABASE_URL=sqlite:" + srv.dbPath,
		"GEOETL_DATA_DIR=" + srv.dataDir,
		"GEOETL_ADDR=" + addr,
		"GEOETL_ADMIN_PASSWORD=a-long-enough-password",
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	srv.stop = stop
	go func() {
		srv.done <- run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), io.Discard, srv.errOut, env)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !srv.ready() {
		select {
		case code := <-srv.done:
			t.Fatalf("serve exited early with %d: %s", code, srv.errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 60s: %s", srv.errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errText := runCLI(t, env, "", "token", "create", "--tenant", "default", "--role", "admin", "--name", "test")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errText)
	}
	srv.token = strings.TrimSpace(out)
	return srv
}

func (s *server) ready() bool { return s.readiness() == "" }

// readiness is "" when /readyz answers 200, else what it answered.
func (s *server) readiness() string {
	resp, err := http.Get(s.base + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	return ""
}

// shutdown stops serve as SIGTERM does and waits for it to exit.
func (s *server) shutdown(t *testing.T) {
	t.Helper()
	s.stop()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("serve exit %d: %s", code, s.errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func (s *server) workflow(t *testing.T, name, def string) string {
	var w struct{ ID string }
	api(t, s.base, s.token, "POST", "/workflows", map[string]any{"name": name, "definition": json.RawMessage(def)}, &w)
	return w.ID
}

func (s *server) schedule(t *testing.T, name, wf, cron string, retries int) string {
	var sc struct{ ID string }
	api(t, s.base, s.token, "POST", "/schedules", map[string]any{
		"name": name, "workflowId": wf, "cronExpression": cron, "retryAttempts": retries, "retryDelayMinutes": 0,
	}, &sc)
	return sc.ID
}

// filterDef reads one feature, filters it with expr and writes it.
func filterDef(expr string) string {
	e, _ := json.Marshal(expr)
	return `{"nodes":[
	 {"id":"src","type":"data_source.file","parameters":{"content":{"type":"Feature","properties":{"kind":"a"},"geometry":{"type":"Point","coordinates":[1,2]}}}},
	 {"id":"keep","type":"geoprocessing.filter","parameters":{"expression":` + string(e) + `}},
	 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"out-{{run.executionId}}.geojson"}}],
	 "edges":[{"from":"src","to":"keep"},{"from":"keep","to":"out"}]}`
}

func TestServe_SurvivesWorkflowsThatOutgrowTheirMemoryLimit(t *testing.T) {
	srv := startServer(t, "--shutdown-grace", "5s", "--run-memory-limit", "64MiB")
	if !strings.Contains(srv.errOut.String(), "workflow runs are contained in worker processes") {
		t.Fatalf("no line saying how runs are contained: %s", srv.errOut.String())
	}
	dbPath, errOut := srv.dbPath, srv.errOut
	// Up means answering: the process lives and serves its API. (/readyz
	// also times the database, which a loaded machine can make slow.)
	ready := func() bool {
		resp, err := http.Get(srv.base + "/healthz")
		if err != nil {
			t.Logf("/healthz: %v", err)
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Logf("/healthz: %d", resp.StatusCode)
			return false
		}
		var list struct{ Items []json.RawMessage }
		api(t, srv.base, srv.token, "GET", "/workflows", nil, &list)
		return len(list.Items) > 0
	}
	noop := srv.workflow(t, "no-op", `{"nodes":[]}`)
	real := srv.workflow(t, "real", filterDef(`kind == "a"`))
	// The expression that once took a whole server down by asking for a
	// terabyte is refused on save now, naming its node; what reaches a
	// worker and outgrows it is the dissolve below.
	body, _ := json.Marshal(map[string]any{"name": "terabyte", "definition": json.RawMessage(filterDef(`len(repeat(repeat("a", 999999), 1000000)) > 0`))})
	req, _ := http.NewRequest("POST", srv.base+"/admin/api/geoetl/workflows", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	refusal, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(refusal), "nodes[keep]") {
		t.Fatalf("the terabyte expression on save: %d %s, want 400 naming the node", resp.StatusCode, refusal)
	}
	schedule := func(name, wf string, retries int) string { return srv.schedule(t, name, wf, "* * * * * *", retries) }
	var steady []string
	for i := range 40 {
		steady = append(steady, schedule(fmt.Sprintf("no-op %d", i), noop, 0))
	}
	for i := range 3 {
		steady = append(steady, schedule(fmt.Sprintf("real %d", i), real, 0))
	}
	// A dissolve by a unique id keeps every feature: it grows steadily
	// past the limit instead of dying of one allocation.
	writePolygons(t, filepath.Join(srv.dataDir, "default", "many.geojson"), 400_000)
	dissolve := srv.workflow(t, "dissolve", `{"nodes":[
	 {"id":"src","type":"data_source.file","parameters":{"file_path":"many.geojson"}},
	 {"id":"d","type":"geoprocessing.dissolve","parameters":{"by":["id"]}},
	 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"d.geojson"}}],
	 "edges":[{"from":"src","to":"d"},{"from":"d","to":"out"}]}`)
	dissolveID := srv.schedule(t, "dissolve", dissolve, "0 0 1 1 *", 1)
	// And every second, with a retry: a feature whose one attribute is
	// larger than the limit.
	writeBigAttribute(t, filepath.Join(srv.dataDir, "default", "big.geojson"), 96<<20)
	big := srv.workflow(t, "big attribute", `{"nodes":[
	 {"id":"src","type":"data_source.file","parameters":{"file_path":"big.geojson"}},
	 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"big-out.geojson"}}],
	 "edges":[{"from":"src","to":"out"}]}`)
	bigID := schedule("big attribute", big, 1)
	api(t, srv.base, srv.token, "POST", "/schedules/"+dissolveID+"/run-now", map[string]any{}, nil)

	// Let every schedule fire for a while, checking that serve answers.
	for range 16 {
		time.Sleep(500 * time.Millisecond)
		if !ready() {
			t.Fatalf("serve stopped answering: %s", errOut.String())
		}
	}
	if len(workerChildren(t)) == 0 {
		t.Error("no worker processes while serve runs: the orphan check below would prove nothing")
	}
	// Generous: reading 400,000 polygons twice is slow under -race.
	waitWithin(t, 5*time.Minute, "the dissolve and its retry to end", func() bool {
		var list struct{ Items []execution }
		api(t, srv.base, srv.token, "GET", "/executions?scheduleId="+dissolveID, nil, &list)
		ended := 0
		for _, e := range list.Items {
			if e.Status != "pending" && e.Status != "running" {
				ended++
			}
		}
		if !ready() {
			t.Fatalf("serve stopped answering: %s", errOut.String())
		}
		return ended == 2
	})
	srv.shutdown(t)

	if left := workerChildren(t); len(left) > 0 {
		t.Errorf("worker processes left after serve stopped: %v", left)
	}

	conn, err := sql.Open("sqlite", sqlite.DSN(dbPath, false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	overlaps := 0
	defer func() { t.Logf("%d occurrences skipped by the overlap policy", overlaps) }()
	for _, id := range steady {
		rows, err := conn.Query(`SELECT scheduled_at, status, skipped, COALESCE(error_message, skip_reason, '') FROM executions
			WHERE schedule_id = ? AND trigger_type = 'schedule' ORDER BY scheduled_at`, id)
		if err != nil {
			t.Fatal(err)
		}
		var prev int64
		n := 0
		for rows.Next() {
			var at int64
			var status, msg string
			var skipped int
			if err := rows.Scan(&at, &status, &skipped, &msg); err != nil {
				t.Fatal(err)
			}
			n++
			switch {
			case prev != 0 && at == prev:
				t.Errorf("schedule %s: occurrence %d twice", id, at)
			case prev != 0 && at != prev+1_000_000:
				t.Errorf("schedule %s: missed %d occurrence(s) before %d", id, (at-prev)/1_000_000-1, at)
			}
			switch {
			case skipped != 0 && strings.HasPrefix(msg, "overlap:"):
				// The previous run of a real workflow was still going (the
				// machine is shared): the overlap policy, not a miss.
				overlaps++
			case skipped != 0 || (status != "completed" && status != "cancelled" && status != "pending"):
				t.Errorf("schedule %s at %d: %s %q", id, at, status, msg)
			}
			prev = at
		}
		rows.Close()
		if n < 4 {
			t.Errorf("schedule %s ran only %d times in 8 s", id, n)
		}
	}
	var failed, retried int
	rows, err := conn.Query(`SELECT trigger_type, status, COALESCE(error_message, skip_reason, '') FROM executions WHERE schedule_id = ?`, bigID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var trig, status, msg string
		if err := rows.Scan(&trig, &status, &msg); err != nil {
			t.Fatal(err)
		}
		switch {
		case status == "failed" && strings.Contains(msg, "exceeded the 64 MiB memory limit"):
			failed++
			if trig == "retry" {
				retried++
			}
		case status == "pending" || status == "cancelled" || strings.HasPrefix(msg, "overlap:"):
		default:
			t.Errorf("big attribute run: %s %s %q", trig, status, msg)
		}
	}
	rows.Close()
	t.Logf("big attribute: %d runs failed with the memory limit, %d of them retries", failed, retried)
	if failed < 4 || retried < 2 {
		t.Errorf("big attribute: %d runs failed with the memory limit (%d retries)", failed, retried)
	}
	var msgs []string
	rows, err = conn.Query(`SELECT trigger_type || ' ' || status || ' ' || COALESCE(error_message, '') FROM executions WHERE schedule_id = ? ORDER BY created_at`, dissolveID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	if len(msgs) != 2 || !strings.HasPrefix(msgs[0], "manual failed worker exceeded the 64 MiB memory limit") ||
		!strings.HasPrefix(msgs[1], "retry failed worker exceeded the 64 MiB memory limit") {
		t.Fatalf("dissolve runs: %q", msgs)
	}
}

// writePolygons writes n small squares with distinct ids.
func writePolygons(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		x, y := float64(i%1000)*0.01, float64(i/1000)*0.01
		fmt.Fprintf(w, `{"type":"Feature","properties":{"id":%d},"geometry":{"type":"Polygon","coordinates":[[[%g,%g],[%g,%g],[%g,%g],[%g,%g],[%g,%g]]]}}`,
			i, x, y, x+0.005, y, x+0.005, y+0.005, x, y+0.005, x, y)
	}
	w.WriteString(`]}`)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// workerChildren lists the worker processes this test process started.
func workerChildren(t *testing.T) []int {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	return childrenOf(os.Getpid(), "worker")
}

// get fetches an API path as text, for polling.
func (s *server) get(t *testing.T, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+"/admin/api/geoetl"+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitFor polls until cond holds, for at most a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, time.Minute, what, cond)
}

func waitWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

var workerPIDRe = regexp.MustCompile(`running in worker process (\d+)`)

type execution struct {
	ID           string
	Trigger      string
	Status       string
	ErrorMessage *string
}

func TestServe_KillNineOfAWorkerFailsItsRunWhichIsRetriedOnANewWorker(t *testing.T) {
	srv := startServer(t, "--shutdown-grace", "1s")
	// Real data then a wait, so the run happens in a worker and lasts
	// long enough to be killed.
	hold := func(secs int) string {
		return srv.workflow(t, fmt.Sprintf("hold %d", secs), `{"nodes":[
		 {"id":"src","type":"data_source.file","parameters":{"content":{"type":"Feature","properties":{"kind":"a"},"geometry":{"type":"Point","coordinates":[1,2]}}}},
		 {"id":"hold","type":"control.wait","parameters":{"seconds":`+fmt.Sprint(secs)+`}},
		 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"held-{{run.executionId}}.geojson"}}],
		 "edges":[{"from":"src","to":"hold"},{"from":"hold","to":"out"}]}`)
	}
	sched := srv.schedule(t, "hold", hold(3), "0 0 1 1 *", 1)
	var first execution
	api(t, srv.base, srv.token, "POST", "/schedules/"+sched+"/run-now", map[string]any{}, &first)
	var victim string
	waitFor(t, "the run's worker", func() bool {
		m := workerPIDRe.FindStringSubmatch(srv.get(t, "/executions/"+first.ID+"/logs"))
		if m != nil {
			victim = m[1]
		}
		return m != nil
	})
	pid, _ := strconv.Atoi(victim)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var got execution
	waitFor(t, "the killed run to fail", func() bool {
		api(t, srv.base, srv.token, "GET", "/executions/"+first.ID, nil, &got)
		return got.Status == "failed"
	})
	if got.ErrorMessage == nil || *got.ErrorMessage != "worker exited: signal 9" {
		t.Fatalf("error %q, want worker exited: signal 9", deref(got.ErrorMessage))
	}
	var retry execution
	waitFor(t, "the retry to complete", func() bool {
		var list struct{ Items []execution }
		api(t, srv.base, srv.token, "GET", "/executions?scheduleId="+sched+"&trigger=retry", nil, &list)
		if len(list.Items) > 0 {
			retry = list.Items[0]
		}
		return retry.Status == "completed" || retry.Status == "failed"
	})
	if retry.Status != "completed" {
		t.Fatalf("retry %+v", retry)
	}
	m := workerPIDRe.FindStringSubmatch(srv.get(t, "/executions/"+retry.ID+"/logs"))
	if m == nil || m[1] == victim {
		t.Fatalf("the retry ran on %v, the killed worker was %s", m, victim)
	}
	var list struct{ Items []execution }
	api(t, srv.base, srv.token, "GET", "/executions?scheduleId="+sched, nil, &list)
	if len(list.Items) != 2 {
		t.Fatalf("%d executions, want the killed run and one retry: %+v", len(list.Items), list.Items)
	}
	var nodeList struct {
		Items []struct {
			NodeID      string
			Status      string
			FeaturesOut int64
		}
	}
	api(t, srv.base, srv.token, "GET", "/executions/"+retry.ID+"/nodes", nil, &nodeList)
	nodes := nodeList.Items
	if len(nodes) != 3 {
		t.Fatalf("node records of the retry: %+v", nodes)
	}
	for _, n := range nodes {
		if n.Status != "completed" || n.FeaturesOut != 1 {
			t.Errorf("node record %+v", n)
		}
	}

	// A user's cancel reaches the run in its worker.
	long := hold(600)
	cancelled := srv.schedule(t, "to cancel", long, "0 0 1 1 *", 0)
	var cr execution
	api(t, srv.base, srv.token, "POST", "/schedules/"+cancelled+"/run-now", map[string]any{}, &cr)
	waitFor(t, "the run to cancel in its worker", func() bool {
		return workerPIDRe.MatchString(srv.get(t, "/executions/"+cr.ID+"/logs"))
	})
	api(t, srv.base, srv.token, "POST", "/executions/"+cr.ID+"/cancel", nil, nil)
	waitFor(t, "the cancelled run to end", func() bool {
		api(t, srv.base, srv.token, "GET", "/executions/"+cr.ID, nil, &cr)
		return cr.Status != "running" && cr.Status != "pending"
	})
	if cr.Status != "cancelled" {
		t.Fatalf("cancelled run: %+v", cr)
	}

	// Shutdown: a run still going gets the grace period, then is
	// cancelled and recorded so, and no worker outlives serve.
	cut := srv.schedule(t, "long", long, "0 0 1 1 *", 0)
	var lr execution
	api(t, srv.base, srv.token, "POST", "/schedules/"+cut+"/run-now", map[string]any{}, &lr)
	waitFor(t, "the long run in its worker", func() bool {
		return workerPIDRe.MatchString(srv.get(t, "/executions/"+lr.ID+"/logs"))
	})
	srv.shutdown(t)
	if left := workerChildren(t); len(left) > 0 {
		t.Errorf("worker processes left after serve stopped: %v", left)
	}
	conn, err := sql.Open("sqlite", sqlite.DSN(srv.dbPath, false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var status string
	if err := conn.QueryRow(`SELECT status FROM executions WHERE id = ?`, lr.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "cancelled" {
		t.Fatalf("the run cut by shutdown is %s, want cancelled", status)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestServe_WorkersDieWithServeEvenWhenItIsKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin, err := chaos.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--db", "sqlite:"+filepath.Join(dir, "g.db"), "--addr", addr, "--data-dir", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "GEOETL_ADMIN_PASSWORD=a-long-enough-password")
	var errOut syncBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var workers []int
	waitFor(t, "serve with its warm workers", func() bool {
		workers = childrenOf(cmd.Process.Pid, "worker")
		return len(workers) >= 2
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, "the workers to die with serve", func() bool {
		for _, pid := range workers {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				return false
			}
		}
		return true
	})
}

// childrenOf lists the processes whose parent is ppid and whose first
// argument is arg.
func childrenOf(ppid int, arg string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if args := strings.Split(string(cmd), "\x00"); len(args) > 1 && args[1] == arg {
			out = append(out, pid)
		}
	}
	return out
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// writeBigAttribute writes one feature whose name attribute is n bytes.
func writeBigAttribute(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"`)
	w.WriteString(strings.Repeat("a", n))
	w.WriteString(`"},"geometry":{"type":"Point","coordinates":[1,2]}}]}`)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}
