// Command geoetl runs the GeoETL Scheduler (geoetl serve) and administers
// it from the command line. Every command prints one clear line to
// standard error and exits non-zero when it fails.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/geoetl/geoetl"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes: 1 for a failed command, 2 for bad usage or invalid input.
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks errors that are the caller's mistake (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

// run executes one command and returns its exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	env := envMap(environ)
	err := dispatch(ctx, args, stdin, stdout, stderr, env)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "geoetl: "+oneLine(err))
	var ue usageError
	if errors.As(err, &ue) || geoetl.ErrorCode(err) == geoetl.EINVALID {
		return exitUsage
	}
	return exitFailure
}

const usageText = `usage: geoetl <command> [flags]

commands:
  serve                      run the web console, the API and the scheduler (default)
  migrate up|down|status     manage the database schema
  tenant create NAME         create a tenant and print its id
  tenant webhook-secret NAME print the tenant's webhook signing secret
  user create --tenant NAME --email E --role R [--name N]   password from standard input
  token create --tenant NAME --role R --name LABEL           print a new API token
  schedules export [--tenant NAME] [--out FILE]
  schedules import [--tenant NAME] FILE
  cron next EXPR [--tz ZONE] [--from RFC3339] [--count N]
  cron describe EXPR
  version

Run 'geoetl <command> -h' for the flags of a command.`

// commands are the first words geoetl understands.
var commands = map[string]bool{"serve": true, "migrate": true, "version": true, "cron": true, "tenant": true, "user": true, "token": true, "schedules": true, "help": true}

// hoistCommand lets flags come before the command ("geoetl --db X migrate
// up"): it moves the first command word to the front.
func hoistCommand(args []string) []string {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return args
	}
	for i, a := range args {
		if commands[a] {
			out := append([]string{a}, args[:i]...)
			return append(out, args[i+1:]...)
		}
	}
	return args
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env map[string]string) error {
	args = hoistCommand(args)
	if len(args) == 0 || (len(args[0]) > 0 && args[0][0] == '-' && args[0] != "-h" && args[0] != "--help") {
		return cmdServe(ctx, args, stdout, stderr, env)
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if len(rest) > 0 {
		sub = rest[0]
	}
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usageText)
		return nil
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr, env)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, env)
	case "worker":
		return cmdWorker(ctx, rest, stdout, env)
	case "version":
		fmt.Fprintln(stdout, "geoetl "+version)
		return nil
	case "cron":
		switch sub {
		case "next":
			return cmdCronNext(rest[1:], stdout)
		case "describe":
			return cmdCronDescribe(rest[1:], stdout)
		}
		return usagef("cron: expected 'next' or 'describe'")
	case "tenant":
		switch sub {
		case "create":
			return cmdTenantCreate(ctx, rest[1:], stdout, env)
		case "webhook-secret":
			return cmdTenantWebhookSecret(ctx, rest[1:], stdout, env)
		}
		return usagef("tenant: expected 'create' or 'webhook-secret'")
	case "user":
		if sub == "create" {
			return cmdUserCreate(ctx, rest[1:], stdin, stdout, env)
		}
		return usagef("user: expected 'create'")
	case "token":
		if sub == "create" {
			return cmdTokenCreate(ctx, rest[1:], stdout, env)
		}
		return usagef("token: expected 'create'")
	case "schedules":
		switch sub {
		case "export":
			return cmdSchedulesExport(ctx, rest[1:], stdout, env)
		case "import":
			return cmdSchedulesImport(ctx, rest[1:], stdout, env)
		}
		return usagef("schedules: expected 'export' or 'import'")
	}
	return usagef("unknown command %q (run 'geoetl help')", cmd)
}

// oneLine flattens an error message onto a single line.
func oneLine(err error) string {
	msg := err.Error()
	out := make([]rune, 0, len(msg))
	for _, r := range msg {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}
