package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/geoetl/geoetl/etl"
	"github.com/geoetl/geoetl/netguard"
	"github.com/geoetl/geoetl/worker"
)

// engineConfig is the etl configuration of serve and of its workers; both
// build it here so that they agree.
func engineConfig(dataDir string, allowPrivate bool, logger *slog.Logger) etl.Config {
	return etl.Config{
		DataDir: dataDir, Network: netguard.Policy{AllowPrivate: allowPrivate},
		Connections: etl.ConnectionsFromEnv(os.Environ()), ConnectionGrants: etl.ConnectionGrantsFromEnv(os.Environ()),
		Logger: logger,
	}
}

// workerCommand is how serve starts a worker: this same binary, with the
// engine settings as flags and the rest (connections) in the environment.
func workerCommand(cfg config) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		// The very file serve runs from, even after a package upgrade
		// replaced the binary at its path: a worker is always the same
		// version as its serve.
		exe = "/proc/self/exe"
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return []string{exe, "worker", "--data-dir", dir, "--allow-private-urls=" + strconv.FormatBool(cfg.AllowPrivateURLs)}, nil
}

// cmdWorker is `geoetl worker`, the internal command serve starts for its
// worker processes; it is not for people to run. It runs the workflows
// serve sends on standard input and never opens the database.
func cmdWorker(_ context.Context, args []string, _ io.Writer, env map[string]string) error {
	var cfg config
	// Deliberately without --db: a worker has no business with the
	// database, and serve does not even pass it the URL.
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.DataDir, "data-dir", envOr(env, "GEOETL_DATA_DIR", "./data"), "the only folder file sources and sinks may use")
	allow, err := envBool(env, "GEOETL_ALLOW_PRIVATE_URLS", false)
	if err != nil {
		return err
	}
	fs.BoolVar(&cfg.AllowPrivateURLs, "allow-private-urls", allow, "let URL sources reach loopback and private addresses")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("worker: unexpected argument %q", pos[0])
	}
	// Run log lines travel to serve, which writes them to its log; the
	// engine's own logger would only write them twice.
	eng, err := etl.New(engineConfig(cfg.DataDir, cfg.AllowPrivateURLs, slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	return worker.ChildMain(eng)
}
