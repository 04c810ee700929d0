package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/geoetl/geoetl/worker"
)

// config is the configuration of serve and the database commands. Each
// field has a flag and an environment variable; flags win.
type config struct {
	DB               string
	Addr             string
	DataDir          string
	InstanceID       string
	SMTPURL          string
	SMTPFrom         string
	PublicURL        string
	AllowPrivateURLs bool
	NoScheduler      bool
	Workers          int
	ShutdownGrace    time.Duration
	Lease            time.Duration
	Retention        time.Duration
	APIRateLimit     float64
	LogLevel         string
	LogFormat        string
	RunMemoryLimit   int64
	// Per-tenant quotas (see tenantLimitFlags).
	TenantMaxRuns      int
	TenantMaxSchedules int
	MinInterval        time.Duration
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "geoetl"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// newFlagSet returns a flag set whose errors come back as usage errors
// instead of exiting, with the database flag every command shares.
func newFlagSet(name string, cfg *config, env map[string]string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.DB, "db", envOr(env, "GEOETL_DATABASE_URL", "sqlite:geoetl.db"), "database URL: sqlite:PATH or postgres://… (env GEOETL_DATABASE_URL)")
	return fs
}

// addServeFlags adds the flags of serve.
func addServeFlags(fs *flag.FlagSet, cfg *config, env map[string]string) error {
	fs.StringVar(&cfg.Addr, "addr", envOr(env, "GEOETL_ADDR", "127.0.0.1:8080"), "listen address (env GEOETL_ADDR)")
	fs.StringVar(&cfg.DataDir, "data-dir", envOr(env, "GEOETL_DATA_DIR", "./data"), "the only folder file sources and sinks may use (env GEOETL_DATA_DIR)")
	fs.StringVar(&cfg.InstanceID, "instance-id", envOr(env, "GEOETL_INSTANCE_ID", defaultInstanceID()), "this instance's id (env GEOETL_INSTANCE_ID)")
	fs.StringVar(&cfg.SMTPURL, "smtp-url", env["GEOETL_SMTP_URL"], "smtp://user:pass@host:port or smtps://… (env GEOETL_SMTP_URL)")
	fs.StringVar(&cfg.SMTPFrom, "smtp-from", envOr(env, "GEOETL_SMTP_FROM", "geoetl@"+hostName()), "sender address (env GEOETL_SMTP_FROM)")
	fs.StringVar(&cfg.PublicURL, "public-url", env["GEOETL_PUBLIC_URL"], "base URL for links in notifications (env GEOETL_PUBLIC_URL; default http://<addr>)")
	fs.StringVar(&cfg.LogLevel, "log-level", envOr(env, "GEOETL_LOG_LEVEL", "info"), "debug, info, warn or error (env GEOETL_LOG_LEVEL)")
	fs.StringVar(&cfg.LogFormat, "log-format", envOr(env, "GEOETL_LOG_FORMAT", "text"), "text or json (env GEOETL_LOG_FORMAT)")
	fs.BoolVar(&cfg.NoScheduler, "no-scheduler", false, "serve the console and API only; run no schedules")

	var err error
	if cfg.AllowPrivateURLs, err = envBool(env, "GEOETL_ALLOW_PRIVATE_URLS", false); err != nil {
		return err
	}
	fs.BoolVar(&cfg.AllowPrivateURLs, "allow-private-urls", cfg.AllowPrivateURLs, "let webhooks and URL sources reach loopback and private addresses (env GEOETL_ALLOW_PRIVATE_URLS)")
	workers := 4 * runtime.NumCPU()
	if workers < 8 {
		workers = 8
	}
	if cfg.Workers, err = envInt(env, "GEOETL_WORKERS", workers); err != nil {
		return err
	}
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "executions run at once by this instance (env GEOETL_WORKERS)")
	if cfg.ShutdownGrace, err = envDuration(env, "GEOETL_SHUTDOWN_GRACE", 30*time.Second); err != nil {
		return err
	}
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "how long running executions may finish at shutdown (env GEOETL_SHUTDOWN_GRACE)")
	if cfg.Lease, err = envDuration(env, "GEOETL_LEASE", defaultLease); err != nil {
		return err
	}
	fs.DurationVar(&cfg.Lease, "lease", cfg.Lease, "how long a run may go without a heartbeat before another instance records it lost and retries it; heartbeats and the reaper run every sixth of it (env GEOETL_LEASE)")
	if cfg.Retention, err = envDuration(env, "GEOETL_RETENTION", 90*24*time.Hour); err != nil {
		return err
	}
	if cfg.APIRateLimit, err = envFloat(env, "GEOETL_API_RATE_LIMIT", 200); err != nil {
		return err
	}
	fs.Float64Var(&cfg.APIRateLimit, "api-rate-limit", cfg.APIRateLimit, "API requests per second per caller (burst twice that); 0 turns limiting off (env GEOETL_API_RATE_LIMIT)")
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention, "keep finished executions this long; 0 keeps them forever (env GEOETL_RETENTION)")
	cfg.RunMemoryLimit = worker.DefaultMemoryLimit
	if v := env["GEOETL_RUN_MEMORY_LIMIT"]; v != "" {
		n, err := worker.ParseSize(v)
		if err != nil {
			return usagef("GEOETL_RUN_MEMORY_LIMIT: %v", err)
		}
		cfg.RunMemoryLimit = n
	}
	fs.Func("run-memory-limit", "hard memory limit of one workflow run, like 256MiB or 2GiB; default 1GiB (env GEOETL_RUN_MEMORY_LIMIT)", func(v string) error {
		n, err := worker.ParseSize(v)
		if err != nil {
			return err
		}
		cfg.RunMemoryLimit = n
		return nil
	})
	return addTenantLimitFlags(fs, cfg, env)
}

// Defaults of the per-tenant quotas. Each bounds what one tenant can take
// from the others, and each can be raised (load tests of a single tenant
// do):
//   - concurrent runs: three quarters of --workers (at least 1), so a
//     tenant with a burst of runs cannot fill every worker while another
//     tenant's run waits for one; it is counted over every instance, so an
//     install of several instances may raise it;
//   - schedules: 10,000, ten times the every-second schedules one instance
//     keeps within its precision targets, and the most one import takes;
//   - shortest interval: 1 s, the finest a cron expression can fire at, so
//     nothing is refused by default; an operator raises it to keep
//     every-second schedules out.
const (
	defaultTenantMaxSchedules = 10000
	defaultMinInterval        = time.Second
)

// The lease of a running execution: 30 s by default, heartbeated and
// reaped every sixth of it (5 s). A shorter lease finds lost runs sooner
// at the price of more heartbeat writes and of runs taken for lost when
// an instance stalls for longer than the lease (the chaos tests use a
// few seconds to reach their verdicts quickly); the bounds keep the
// heartbeat between half a second and ten minutes.
const (
	defaultLease = 30 * time.Second
	minLease     = 3 * time.Second
	maxLease     = time.Hour
)

// leaseTimings returns the heartbeat and reaper intervals of a lease.
func leaseTimings(lease time.Duration) (heartbeat, reap time.Duration) {
	return lease / 6, lease / 6
}

// defaultTenantMaxRuns is the share of the workers one tenant may hold.
func defaultTenantMaxRuns(workers int) int { return max(1, workers-workers/4) }

func addTenantLimitFlags(fs *flag.FlagSet, cfg *config, env map[string]string) error {
	var err error
	if cfg.TenantMaxRuns, err = envInt(env, "GEOETL_TENANT_MAX_RUNS", 0); err != nil {
		return err
	}
	fs.IntVar(&cfg.TenantMaxRuns, "tenant-max-runs", cfg.TenantMaxRuns, "runs of one tenant at once over every instance; more wait (env GEOETL_TENANT_MAX_RUNS; default three quarters of --workers)")
	if cfg.TenantMaxSchedules, err = envInt(env, "GEOETL_TENANT_MAX_SCHEDULES", defaultTenantMaxSchedules); err != nil {
		return err
	}
	fs.IntVar(&cfg.TenantMaxSchedules, "tenant-max-schedules", cfg.TenantMaxSchedules, "schedules one tenant may have (env GEOETL_TENANT_MAX_SCHEDULES)")
	if cfg.MinInterval, err = envDuration(env, "GEOETL_MIN_INTERVAL", defaultMinInterval); err != nil {
		return err
	}
	fs.DurationVar(&cfg.MinInterval, "min-interval", cfg.MinInterval, "shortest time between two occurrences of one schedule (env GEOETL_MIN_INTERVAL)")
	return nil
}

// validateTenantLimits checks the quotas and fills in the default of
// --tenant-max-runs, which follows --workers.
func (c *config) validateTenantLimits() error {
	if c.TenantMaxRuns == 0 {
		c.TenantMaxRuns = defaultTenantMaxRuns(c.Workers)
	}
	if c.TenantMaxRuns < 1 || c.TenantMaxRuns > 1000000 {
		return usagef("--tenant-max-runs: must be between 1 and 1000000")
	}
	if c.TenantMaxSchedules < 1 || c.TenantMaxSchedules > 10000000 {
		return usagef("--tenant-max-schedules: must be between 1 and 10000000")
	}
	if c.MinInterval < time.Second || c.MinInterval > 366*24*time.Hour {
		return usagef("--min-interval: must be between 1s and 8784h")
	}
	return nil
}

// validate checks the values that flag parsing cannot.
func (c *config) validate() error {
	if c.Workers < 1 || c.Workers > 10000 {
		return usagef("--workers: must be between 1 and 10000")
	}
	if c.ShutdownGrace < 0 {
		return usagef("--shutdown-grace: must not be negative")
	}
	if c.Lease < minLease || c.Lease > maxLease {
		return usagef("--lease: must be between %s and %s", minLease, maxLease)
	}
	if err := c.validateTenantLimits(); err != nil {
		return err
	}
	if c.Retention < 0 {
		return usagef("--retention: must not be negative")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return usagef("--log-level: must be debug, info, warn or error")
	}
	if c.RunMemoryLimit < worker.MinMemoryLimit {
		return usagef("--run-memory-limit: must be at least %s", worker.FormatSize(worker.MinMemoryLimit))
	}
	if c.APIRateLimit < 0 {
		return usagef("--api-rate-limit: must not be negative")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return usagef("--log-format: must be text or json")
	}
	if c.InstanceID == "" || len(c.InstanceID) > 200 {
		return usagef("--instance-id: must be 1-200 characters")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return usagef("--public-url: must start with http:// or https://")
	}
	return nil
}

// parseArgs parses flags that may come before or after positional
// arguments ("cron next '0 2 * * *' --tz Europe/Berlin").
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, usagef("%s: flags: %s", fs.Name(), flagList(fs))
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func flagList(fs *flag.FlagSet) string {
	var parts []string
	fs.VisitAll(func(f *flag.Flag) { parts = append(parts, "--"+f.Name) })
	return strings.Join(parts, " ")
}

func envOr(env map[string]string, key, def string) string {
	if v, ok := env[key]; ok && v != "" {
		return v
	}
	return def
}

func envBool(env map[string]string, key string, def bool) (bool, error) {
	v, ok := env[key]
	if !ok || v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, usagef("%s: %q is not true or false", key, v)
	}
	return b, nil
}

func envInt(env map[string]string, key string, def int) (int, error) {
	v, ok := env[key]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usagef("%s: %q is not a whole number", key, v)
	}
	return n, nil
}

func envDuration(env map[string]string, key string, def time.Duration) (time.Duration, error) {
	v, ok := env[key]
	if !ok || v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, usagef("%s: %q is not a duration like 30s or 90m", key, v)
	}
	return d, nil
}

func envFloat(env map[string]string, key string, def float64) (float64, error) {
	v, ok := env[key]
	if !ok || v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, usagef("%s: %q is not a number", key, v)
	}
	return f, nil
}
