package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl/db/sqlite"
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

func TestServe_SurvivesAWorkflowThatAsksForATerabyte(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dbPath := filepath.Join(dir, "g.db")
	env := []string{
		"GEOETL_DATABASE_URL=sqlite:" + dbPath,
		"GEOETL_DATA_DIR=" + filepath.Join(dir, "data"),
		"GEOETL_ADDR=" + addr,
		"GEOETL_ADMIN_PASSWORD=a-long-enough-password",
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--shutdown-grace", "5s"}, strings.NewReader(""), io.Discard, &errOut, env)
	}()
	base := "http://" + addr
	ready := func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 60s: %s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(errOut.String(), "workflow runs are contained in worker processes") {
		t.Fatalf("no line saying how runs are contained: %s", errOut.String())
	}
	code, out, errText := runCLI(t, env, "", "token", "create", "--tenant", "default", "--role", "admin", "--name", "test")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errText)
	}
	token := strings.TrimSpace(out)

	workflow := func(name string, def string) string {
		var w struct{ ID string }
		api(t, base, token, "POST", "/workflows", map[string]any{"name": name, "definition": json.RawMessage(def)}, &w)
		return w.ID
	}
	noop := workflow("no-op", `{"nodes":[]}`)
	filter := func(expr string) string {
		e, _ := json.Marshal(expr)
		return `{"nodes":[
		 {"id":"src","type":"data_source.file","parameters":{"content":{"type":"Feature","properties":{"kind":"a"},"geometry":{"type":"Point","coordinates":[1,2]}}}},
		 {"id":"keep","type":"geoprocessing.filter","parameters":{"expression":` + string(e) + `}},
		 {"id":"out","type":"data_sink.geojson","parameters":{"output_path":"out-{{run.executionId}}.geojson"}}],
		 "edges":[{"from":"src","to":"keep"},{"from":"keep","to":"out"}]}`
	}
	real := workflow("real", filter(`kind == "a"`))
	huge := workflow("terabyte", filter(`len(repeat(repeat("a", 999999), 1000000)) > 0`))

	schedule := func(name, wf string, retries int) string {
		var s struct{ ID string }
		api(t, base, token, "POST", "/schedules", map[string]any{
			"name": name, "workflowId": wf, "cronExpression": "* * * * * *",
			"retryAttempts": retries, "retryDelayMinutes": 0,
		}, &s)
		return s.ID
	}
	var steady []string
	for i := range 40 {
		steady = append(steady, schedule(fmt.Sprintf("no-op %d", i), noop, 0))
	}
	for i := range 3 {
		steady = append(steady, schedule(fmt.Sprintf("real %d", i), real, 0))
	}
	hugeID := schedule("terabyte", huge, 1)

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
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d: %s", code, errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop")
	}

	if left := workerChildren(t); len(left) > 0 {
		t.Errorf("worker processes left after serve stopped: %v", left)
	}

	conn, err := sql.Open("sqlite", sqlite.DSN(dbPath, false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, id := range steady {
		rows, err := conn.Query(`SELECT scheduled_at, status, skipped, COALESCE(error_message, '') FROM executions
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
			if skipped != 0 || (status != "completed" && status != "cancelled" && status != "pending") {
				t.Errorf("schedule %s at %d: %s %q", id, at, status, msg)
			}
			prev = at
		}
		rows.Close()
		if n < 4 {
			t.Errorf("schedule %s ran only %d times in 8 s", id, n)
		}
	}
	var failed, retried, other int
	rows, err := conn.Query(`SELECT trigger_type, status, COALESCE(error_message, '') FROM executions WHERE schedule_id = ?`, hugeID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var trig, status, msg string
		if err := rows.Scan(&trig, &status, &msg); err != nil {
			t.Fatal(err)
		}
		switch {
		case status == "failed" && strings.Contains(msg, "memory limit"):
			if failed == 0 {
				t.Logf("terabyte run %s: %q", trig, msg)
			}
			failed++
			if trig == "retry" {
				retried++
			}
		case status == "skipped" || status == "cancelled" || status == "pending":
		default:
			other++
			t.Errorf("terabyte run: %s %s %q", trig, status, msg)
		}
	}
	rows.Close()
	t.Logf("terabyte: %d runs failed with the memory limit, %d of them retries", failed, retried)
	if failed < 2 || retried < 1 || other > 0 {
		t.Fatalf("terabyte runs: %d failed with the memory limit (%d retries), %d otherwise", failed, retried, other)
	}
}

// workerChildren lists the worker processes this test process started.
func workerChildren(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var out []string
	me := fmt.Sprint(os.Getpid())
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[1] != me {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if args := strings.Split(string(cmd), "\x00"); len(args) > 1 && args[1] == "worker" {
			out = append(out, e.Name())
		}
	}
	return out
}
