package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/handlers"
	"github.com/geoetl/geoetl/metrics"
	"github.com/geoetl/geoetl/netguard"
	"github.com/geoetl/geoetl/notify"
	"github.com/geoetl/geoetl/scheduler"
	"github.com/geoetl/geoetl/service"
	"github.com/geoetl/geoetl/worker"
)

// cmdServe runs the console, the API and (unless --no-scheduler) the
// scheduler until SIGINT or SIGTERM, then shuts down gracefully.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, env map[string]string) error {
	var cfg config
	fs := newFlagSet("serve", &cfg, env)
	if err := addServeFlags(fs, &cfg, env); err != nil {
		return err
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("serve: unexpected argument %q", pos[0])
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	slog.SetDefault(logger)

	// Bind first, so a taken port fails fast with a clear line instead of
	// after migrations and bootstrap.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	stopPprof, err := startPprof(env["GEOETL_PPROF_ADDR"], logger)
	if err != nil {
		return err
	}
	defer stopPprof()

	if err := db.MigrateUp(ctx, cfg.DB); err != nil {
		return err
	}
	store, err := db.Open(ctx, cfg.DB, db.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := etl.UpgradeDataLayout(cfg.DataDir, logger); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	policy := netguard.Policy{AllowPrivate: cfg.AllowPrivateURLs}
	engine, err := etl.New(engineConfig(cfg.DataDir, cfg.AllowPrivateURLs, logger))
	if err != nil {
		return err
	}
	// Workflows run in worker processes; serve keeps only validation and
	// the runs that execute no node code (see the worker package).
	var workflows geoetl.WorkflowEngine = engine
	var pool *worker.Pool
	m := metrics.New()
	if !cfg.NoScheduler {
		command, err := workerCommand(cfg)
		if err != nil {
			return fmt.Errorf("worker command: %w", err)
		}
		pool, err = worker.New(worker.Config{
			Command: command, Local: engine, MemoryLimit: cfg.RunMemoryLimit, Logger: logger, Registerer: m.Registry,
		})
		if err != nil {
			return err
		}
		if err := pool.Start(ctx); err != nil {
			return err
		}
		defer func() {
			closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := pool.Close(closeCtx); err != nil {
				logger.Error("worker pool close", "err", err)
			}
		}()
		workflows = pool
	}
	notifier, err := notify.New(notify.Config{
		SMTPURL: cfg.SMTPURL, From: cfg.SMTPFrom, PublicURL: cfg.PublicURL, Network: policy,
		InstanceID: cfg.InstanceID, Clock: clock.Real{}, Logger: logger, Metrics: m,
	}, store)
	if err != nil {
		return usagef("--smtp-url: %v", err)
	}
	cluster, err := db.OpenCluster(cfg.DB)
	if err != nil {
		return err
	}
	heartbeat, reap := leaseTimings(cfg.Lease)
	sched, err := scheduler.New(scheduler.Config{
		Store: store, Engine: workflows, Notifier: notifier, Clock: clock.Real{}, Logger: logger, Metrics: m,
		InstanceID: cfg.InstanceID, Cluster: cluster, Workers: cfg.Workers,
		LeaseTimeout: cfg.Lease, HeartbeatInterval: heartbeat, ReapInterval: reap,
		ShutdownGrace: cfg.ShutdownGrace, Retention: cfg.Retention, Dispatch: !cfg.NoScheduler,
		TenantMaxRuns: cfg.TenantMaxRuns,
	})
	if err != nil {
		return err
	}
	svc := service.New(service.Service{Store: store, Engine: workflows, Scheduler: sched, Notifier: notifier, Clock: clock.Real{}, Network: policy, Logger: logger,
		Limits: geoetl.TenantLimits{MaxRuns: cfg.TenantMaxRuns, MaxSchedules: cfg.TenantMaxSchedules, MinInterval: cfg.MinInterval}})

	if err := bootstrap(ctx, svc, engine, cfg, env, logger); err != nil {
		return err
	}

	srv := handlers.New(svc, handlers.Config{
		Logger: logger, SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://"), PublicURL: cfg.PublicURL,
		Version: version, Catalog: engine.Catalog(), Metrics: m.Handler(), Events: sched, Ready: readiness(store),
		MetricsRecorder: m, RateLimit: rateLimit(cfg.APIRateLimit),
	})
	// Requests derive their context from baseCtx, which shutdown cancels,
	// so long-lived SSE streams end at once instead of holding shutdown
	// up until their own time limit.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	httpServer := &http.Server{
		Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return baseCtx },
	}
	httpServer.RegisterOnShutdown(cancelBase)

	if err := sched.Start(ctx); err != nil {
		return err
	}
	notifyCtx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNotify()
	notifyDone := make(chan struct{})
	go func() { defer close(notifyDone); notifier.Run(notifyCtx) }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	mode := "web console, API and scheduler"
	if cfg.NoScheduler {
		mode = "web console and API (no scheduler)"
	}
	logger.Info("geoetl serving "+mode, "url", "http://"+ln.Addr().String(), "db", redactURL(cfg.DB), "instance", cfg.InstanceID, "version", version)

	var failure error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: no new runs start; running ones get the grace period", "grace", cfg.ShutdownGrace)
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			failure = fmt.Errorf("http server: %w", err)
			logger.Error("http server failed; shutting down", "err", err)
		}
	}
	// Shut down in dependency order with a fresh context: the signal
	// context is already cancelled.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace+15*time.Second)
	defer cancel()
	if err := sched.Stop(shutdownCtx); err != nil {
		logger.Error("scheduler stop", "err", err)
	}
	stopNotify()
	<-notifyDone
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		logger.Error("http shutdown", "err", err)
	}
	logger.Info("stopped")
	return failure
}

// bootstrap prepares a fresh database: the default tenant, the admin user
// (password from GEOETL_ADMIN_PASSWORD or generated and printed once) and
// the sample workflow with a paused sample schedule.
func bootstrap(ctx context.Context, svc *service.Service, engine *etl.Engine, cfg config, env map[string]string, logger *slog.Logger) error {
	tenant, generated, created, err := svc.Bootstrap(ctx, env["GEOETL_ADMIN_PASSWORD"])
	if err != nil {
		return err
	}
	if !created {
		return nil
	}
	if generated != "" {
		// Printed once, on purpose, so a new user can sign in.
		logger.Warn("first start: created user admin with a generated password; sign in and change it", "user", geoetl.AdminUserName, "password", generated)
	} else {
		logger.Info("first start: created user admin with the password from GEOETL_ADMIN_PASSWORD")
	}
	if err := etl.InstallSampleData(cfg.DataDir); err != nil {
		logger.Warn("sample data not installed", "err", err)
		return nil
	}
	return seedSample(ctx, svc, tenant)
}

// seedSample creates the sample workflow and a paused sample schedule.
func seedSample(ctx context.Context, svc *service.Service, tenant *geoetl.Tenant) error {
	p := geoetl.Principal{TenantID: tenant.ID, Actor: "system", ActorID: "system", Role: geoetl.RoleAdmin}
	name, def := etl.SampleWorkflow()
	desc := "Sample: reads the bundled parcels, keeps the large ones, reprojects them to Web Mercator and writes a GeoPackage."
	w, err := svc.CreateWorkflow(ctx, p, service.WorkflowInput{Name: &name, Description: &desc, Definition: def})
	if err != nil {
		return fmt.Errorf("seed sample workflow: %w", err)
	}
	schedName, cronExpr, status := "Sample: parcels every 15 minutes", "*/15 * * * *", geoetl.StatusPaused
	sdesc := "Paused sample. Resume it, or use Run now, to see a real run."
	_, err = svc.CreateSchedule(ctx, p, geoetl.ScheduleUpdate{Name: &schedName, Description: &sdesc, WorkflowID: &w.ID, CronExpression: &cronExpr, Status: &status})
	if err != nil {
		return fmt.Errorf("seed sample schedule: %w", err)
	}
	return nil
}

func readiness(store geoetl.Store) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := store.Ping(ctx); err != nil {
			return fmt.Errorf("database unreachable")
		}
		ok, err := store.MigrationsCurrent(ctx)
		if err != nil {
			return fmt.Errorf("cannot read migration state")
		}
		if !ok {
			return fmt.Errorf("migrations pending")
		}
		return nil
	}
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redactURL hides a database password in logs.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			cred := rest[:at]
			if c := strings.Index(cred, ":"); c >= 0 {
				return u[:i+3] + cred[:c] + ":****" + rest[at:]
			}
		}
	}
	return u
}

// rateLimit turns --api-rate-limit into the handlers' setting: the given
// rate per caller with a burst of twice that; anonymous callers get a
// tenth, which is plenty to be told 401 and slows token guessing.
func rateLimit(perSecond float64) handlers.RateLimit {
	if perSecond <= 0 {
		return handlers.RateLimit{}
	}
	anon := perSecond / 10
	if anon < 1 {
		anon = 1
	}
	return handlers.RateLimit{PerSecond: perSecond, Burst: int(2*perSecond) + 1, AnonymousPerSecond: anon, AnonymousBurst: int(2*anon) + 1}
}
