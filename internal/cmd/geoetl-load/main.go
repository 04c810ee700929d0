// Command geoetl-load is the load test of GeoETL (`make load`): it builds
// geoetl, runs `geoetl serve` on a fresh database with 1,000 every-second
// schedules, measures the API under concurrent readers and writers and the
// scheduler's lateness with and without that load, then lists and
// searches a tenant of 100,000 schedules, and prints the figures as
// Markdown tables. It exits 1 when any request got a 5xx answer or any
// occurrence ran twice.
//
// With -sched it runs the scheduler throughput benchmark of the real
// binary instead: N every-second no-op schedules on SQLite (or, with -db,
// on PostgreSQL with -instances processes), created
// through the API, lined up and measured from outside (the executions
// table, and the process tree's CPU, memory and writes in /proc). It
// exits 1 when an occurrence ran twice or was missed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/geoetl/geoetl/internal/chaos"
	"github.com/geoetl/geoetl/internal/load"
)

func main() {
	var cfg load.Config
	dbURL := flag.String("db", "sqlite", `"sqlite" (a new file) or the URL of an empty PostgreSQL database`)
	flag.IntVar(&cfg.Schedules, "schedules", 1000, "every-second schedules firing")
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of each measured phase")
	flag.IntVar(&cfg.Runs, "runs", 3, "quiet/loaded pairs; figures are medians over them")
	flag.IntVar(&cfg.Readers, "readers", 8, "concurrent API readers")
	flag.IntVar(&cfg.Writers, "writers", 4, "concurrent API writers")
	flag.Float64Var(&cfg.Rate, "rate", 100, "API requests per second, readers and writers together, on a fixed timetable (0: as fast as answers come)")
	flag.IntVar(&cfg.ListSchedules, "list", 100_000, "schedules of the tenant listed and searched (-1 skips)")
	sched := flag.Bool("sched", false, "run the scheduler benchmark of the real binary instead (SQLite; -schedules, -duration)")
	lead := flag.Duration("lead", 10*time.Second, "-sched: time from the restart to the lined-up first occurrence")
	probe := flag.Float64("probe", 5, "-sched: API requests a second during the window (0: none)")
	profile := flag.String("profile", "", "-sched, -import: write CPU, allocation, mutex and block profiles of serve into this folder")
	down := flag.Duration("down", 0, "-sched: line the schedules up as if the server had been down this long, and measure the on-time runs after the restart")
	instances := flag.Int("instances", 1, "-sched: geoetl serve processes sharing the database (more than one needs -db postgres://…)")
	importN := flag.Int("import", 0, "time importing this many schedules through the API of the real binary (SQLite) instead")
	serverLog := flag.String("serverlog", "", "-sched: write serve's log lines into this file after the run")
	logLevel := flag.String("log-level", "", "-sched: serve's --log-level (default info)")
	bin := flag.String("bin", "", "-sched, -import: measure this geoetl binary instead of building the one in this checkout (to compare builds of other commits)")
	flag.Parse()
	if *importN > 0 {
		if err := runImport(*importN, *profile, *bin); err != nil {
			fmt.Fprintln(os.Stderr, "geoetl-load:", err)
			os.Exit(1)
		}
		return
	}
	if *sched {
		schedDB := ""
		if *dbURL != "sqlite" {
			schedDB = *dbURL
		}
		if err := runSched(load.SchedConfig{DB: schedDB, Instances: *instances, Schedules: cfg.Schedules, Duration: cfg.Duration, Lead: *lead, Probe: *probe,
			ProfileDir: *profile, Down: *down, Bin: *bin, ServerLog: *serverLog, LogLevel: *logLevel}); err != nil {
			fmt.Fprintln(os.Stderr, "geoetl-load:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(cfg, *dbURL); err != nil {
		fmt.Fprintln(os.Stderr, "geoetl-load:", err)
		os.Exit(1)
	}
}

func run(cfg load.Config, dbURL string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "geoetl-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.Bin, err = chaos.Build(ctx, dir); err != nil {
		return err
	}
	if dbURL != "sqlite" {
		cfg.DB = dbURL
	}
	cfg.Dir, cfg.Log = dir, os.Stderr
	rep, err := load.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	if n, twice := rep.ServerErrors(), rep.Twice(); n > 0 || twice > 0 {
		return fmt.Errorf("%d answers were 5xx and %d occurrences ran twice", n, twice)
	}
	return nil
}

func runSched(cfg load.SchedConfig) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "geoetl-sched-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if cfg.Bin == "" {
		if cfg.Bin, err = chaos.Build(ctx, dir); err != nil {
			return err
		}
	}
	cfg.Dir, cfg.Log = dir, os.Stderr
	rep, err := load.RunSched(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	if rep.Twice > 0 || rep.Missed > 0 || rep.GivingUp > 0 || rep.Unfinished > 0 {
		return fmt.Errorf("%d occurrences ran twice, %d were missed, %d outcome writes gave up, %d rows were left unfinished by the stop",
			rep.Twice, rep.Missed, rep.GivingUp, rep.Unfinished)
	}
	return nil
}

func runImport(n int, profileDir, bin string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "geoetl-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		if bin, err = chaos.Build(ctx, dir); err != nil {
			return err
		}
	}
	rep, err := load.RunImport(ctx, bin, dir, n, profileDir)
	if err != nil {
		return err
	}
	fmt.Printf("Import of %d schedules through the API (real binary, SQLite): %s, %.0f/s, %.1f s CPU of serve; database %d MB\n",
		n, rep.Took.Round(10*time.Millisecond), float64(n)/rep.Took.Seconds(), rep.CPU.Seconds(), rep.Size>>20)
	return nil
}
