package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// runCLI runs one command in-process and returns its exit code and output.
func runCLI(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, env)
	return code, out.String(), errOut.String()
}

func TestCronNext_FollowsDSTRules(t *testing.T) {
	code, out, _ := runCLI(t, nil, "", "cron", "next", "30 * * * *", "--tz", "America/New_York", "--from", "2027-11-07T04:00:00Z", "--count", "4")
	want := "2027-11-07T04:30:00Z\n2027-11-07T05:30:00Z\n2027-11-07T06:30:00Z\n2027-11-07T07:30:00Z\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, out %q, want %q", code, out, want)
	}
	code, out, _ = runCLI(t, nil, "", "cron", "next", "30 2 * * *", "--tz", "America/New_York", "--from", "2027-03-13T12:00:00Z", "--count", "2")
	if code != 0 || out != "2027-03-14T07:00:00Z\n2027-03-15T06:30:00Z\n" {
		t.Fatalf("spring forward: exit %d, out %q", code, out)
	}
}

func TestCommands_BadInputExitsNonZeroWithOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"cron", "next", "0 0 * * 8"}, 2, "day-of-week: 8 is out of range 0-7"},
		{[]string{"cron", "next", "0 0 30 2 *"}, 2, "day-of-month"},
		{[]string{"cron", "next", "* * * * *", "--tz", "Mars/Olympus"}, 2, "--tz"},
		{[]string{"cron", "next", "* * * * *", "--from", "yesterday"}, 2, "--from"},
		{[]string{"cron", "next", "* * * * *", "--count", "0"}, 2, "--count"},
		{[]string{"cron", "describe"}, 2, "expected one expression"},
		{[]string{"cron", "next", "* * * * *", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"migrate", "sideways"}, 2, "expected up, down or status"},
		{[]string{"--db", "mysql://x", "migrate", "up"}, 1, "unsupported database URL scheme"},
		{[]string{"serve", "--workers", "0"}, 2, "--workers"},
		{[]string{"serve", "--run-memory-limit", "lots"}, 2, "run-memory-limit"},
		{[]string{"serve", "--run-memory-limit", "1MiB"}, 2, "--run-memory-limit: must be at least 32 MiB"},
		{[]string{"serve", "--tenant-max-runs", "-1"}, 2, "--tenant-max-runs"},
		{[]string{"serve", "--tenant-max-schedules", "0"}, 2, "--tenant-max-schedules"},
		{[]string{"serve", "--min-interval", "500ms"}, 2, "--min-interval"},
		{[]string{"serve", "--min-interval", "soon"}, 2, "min-interval"},
		{[]string{"serve", "--lease", "1s"}, 2, "--lease: must be between 3s and 1h0m0s"},
		{[]string{"token", "create", "--tenant", "default"}, 2, "required"},
		{[]string{"user", "create", "--tenant", "x", "--email", "a@b.c", "--role", "boss"}, 2, "--role"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			env := []string{"GEOETL_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "x.db")}
			code, _, errOut := runCLI(t, env, "", tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.msg) {
				t.Errorf("stderr %q: want one line containing %q", errOut, tc.msg)
			}
		})
	}
}

func TestAdminCommands_CreateTenantUserAndToken(t *testing.T) {
	env := []string{"GEOETL_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "a.db")}
	code, out, errOut := runCLI(t, env, "", "tenant", "create", "acme")
	if code != 0 || len(strings.TrimSpace(out)) != 36 {
		t.Fatalf("tenant create: exit %d out %q err %q", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, env, "", "tenant", "create", "acme"); code == 0 || !strings.Contains(errOut, "already") {
		t.Fatalf("duplicate tenant: exit %d err %q", code, errOut)
	}
	code, out, errOut = runCLI(t, env, "s3cret-password\n", "user", "create", "--tenant", "acme", "--email", "ann@example.com", "--role", "editor")
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("user create: exit %d out %q err %q", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, env, "short\n", "user", "create", "--tenant", "acme", "--email", "bo@example.com", "--role", "viewer"); code != 2 || !strings.Contains(errOut, "password") {
		t.Fatalf("short password: exit %d err %q", code, errOut)
	}
	code, out, errOut = runCLI(t, env, "", "token", "create", "--tenant", "acme", "--role", "viewer", "--name", "ci")
	if code != 0 || !strings.HasPrefix(out, "geo_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create: exit %d out %q err %q", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, env, "", "token", "create", "--tenant", "nope", "--role", "viewer", "--name", "ci"); code != 1 || !strings.Contains(errOut, "no tenant named") {
		t.Fatalf("unknown tenant: exit %d err %q", code, errOut)
	}
	code, out1, _ := runCLI(t, env, "", "tenant", "webhook-secret", "acme")
	_, out2, _ := runCLI(t, env, "", "tenant", "webhook-secret", "acme")
	if code != 0 || strings.TrimSpace(out1) == "" || out1 != out2 {
		t.Fatalf("webhook-secret: exit %d, %q then %q (want the same secret twice)", code, out1, out2)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe_FirstStartBootstrapsAndStopsCleanlyOnSignal(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{
		"GEOETL_DATABASE_URL=sqlite:" + filepath.Join(dir, "g.db"),
		"GEOETL_DATA_DIR=" + filepath.Join(dir, "data"),
		"GEOETL_ADDR=" + addr,
	}
	ctx, stop := context.WithCancel(context.Background())
	var out bytes.Buffer
	var errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--shutdown-grace", "2s"}, strings.NewReader(""), &out, &errOut, env)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
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
	if !strings.Contains(errOut.String(), "password=") {
		t.Errorf("first start did not print the admin password: %s", errOut.String())
	}
	resp, err := http.Get("http://" + addr + "/admin/api/geoetl/schedules")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous API call: %d, want 401", resp.StatusCode)
	}
	stop() // what SIGINT/SIGTERM do through signal.NotifyContext
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after signal, want 0: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of the signal")
	}
	if !strings.Contains(errOut.String(), "stopped") {
		t.Errorf("no stop line in the log: %s", errOut.String())
	}

	// A second start on the same database creates nothing new.
	ctx2, stop2 := context.WithCancel(context.Background())
	var errOut2 syncBuffer
	go func() { done <- run(ctx2, []string{"serve"}, strings.NewReader(""), &out, &errOut2, env) }()
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 1200 {
			t.Fatal("second start never answered")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop2()
	if code := <-done; code != 0 {
		t.Fatalf("second run exit %d", code)
	}
	if strings.Contains(errOut2.String(), "password=") {
		t.Error("second start printed a new admin password")
	}
}

func TestServeConfig_TenantLimitsAndLeaseComeFromFlagsOrEnvironment(t *testing.T) {
	parse := func(env []string, args ...string) (config, error) {
		var cfg config
		e := envMap(env)
		fs := newFlagSet("serve", &cfg, e)
		if err := addServeFlags(fs, &cfg, e); err != nil {
			return cfg, err
		}
		if _, err := parseArgs(fs, args); err != nil {
			return cfg, err
		}
		return cfg, cfg.validate()
	}
	cfg, err := parse(nil, "--workers", "8")
	if err != nil || cfg.TenantMaxRuns != 6 || cfg.TenantMaxSchedules != 10000 || cfg.MinInterval != time.Second {
		t.Fatalf("defaults: %d runs, %d schedules, %s (%v); want 6 (of 8 workers), 10000, 1s", cfg.TenantMaxRuns, cfg.TenantMaxSchedules, cfg.MinInterval, err)
	}
	if cfg, err = parse(nil, "--workers", "1"); err != nil || cfg.TenantMaxRuns != 1 {
		t.Fatalf("one worker: %d runs per tenant (%v), want 1", cfg.TenantMaxRuns, err)
	}
	env := []string{"GEOETL_TENANT_MAX_RUNS=500", "GEOETL_TENANT_MAX_SCHEDULES=200000", "GEOETL_MIN_INTERVAL=1m"}
	if cfg, err = parse(env); err != nil || cfg.TenantMaxRuns != 500 || cfg.TenantMaxSchedules != 200000 || cfg.MinInterval != time.Minute {
		t.Fatalf("from the environment: %d, %d, %s (%v)", cfg.TenantMaxRuns, cfg.TenantMaxSchedules, cfg.MinInterval, err)
	}
	if cfg, err = parse(env, "--tenant-max-runs", "7"); err != nil || cfg.TenantMaxRuns != 7 {
		t.Fatalf("a flag wins over the environment: %d (%v)", cfg.TenantMaxRuns, err)
	}
	if cfg.Lease != 30*time.Second {
		t.Fatalf("default lease %s, want 30s", cfg.Lease)
	}
	if cfg, err = parse([]string{"GEOETL_LEASE=12s"}); err != nil || cfg.Lease != 12*time.Second {
		t.Fatalf("lease from the environment: %s (%v)", cfg.Lease, err)
	}
	if hb, reap := leaseTimings(defaultLease); hb != 5*time.Second || reap != 5*time.Second {
		t.Fatalf("the default lease heartbeats every %s and reaps every %s, want 5s and 5s", hb, reap)
	}
}
