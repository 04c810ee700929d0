package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/notify"
	"github.com/geoetl/geoetl/service"
)

// openService opens and migrates the database for a command-line command.
func openService(ctx context.Context, cfg *config) (*service.Service, func(), error) {
	if err := db.MigrateUp(ctx, cfg.DB); err != nil {
		return nil, nil, err
	}
	store, err := db.Open(ctx, cfg.DB, db.Options{})
	if err != nil {
		return nil, nil, err
	}
	return service.New(service.Service{Store: store}), func() { store.Close() }, nil
}

// cmdMigrate runs "migrate up|down|status".
func cmdMigrate(ctx context.Context, args []string, stdout io.Writer, env map[string]string) error {
	var cfg config
	fs := newFlagSet("migrate", &cfg, env)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "up" && pos[0] != "down" && pos[0] != "status") {
		return usagef("migrate: expected up, down or status")
	}
	return db.Migrate(ctx, cfg.DB, pos[0], stdout)
}

// cmdTenantCreate runs "tenant create NAME" and prints the tenant's id.
func cmdTenantCreate(ctx context.Context, args []string, stdout io.Writer, env map[string]string) error {
	var cfg config
	pos, err := parseArgs(newFlagSet("tenant create", &cfg, env), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("tenant create: expected one tenant name")
	}
	svc, done, err := openService(ctx, &cfg)
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.CreateTenant(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, t.ID)
	return nil
}

// cmdTenantWebhookSecret prints the tenant's webhook signing secret,
// creating it on first use.
func cmdTenantWebhookSecret(ctx context.Context, args []string, stdout io.Writer, env map[string]string) error {
	var cfg config
	pos, err := parseArgs(newFlagSet("tenant webhook-secret", &cfg, env), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("tenant webhook-secret: expected one tenant name")
	}
	svc, done, err := openService(ctx, &cfg)
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.TenantByName(ctx, pos[0])
	if err != nil {
		return err
	}
	secret, err := notify.EnsureWebhookSecret(ctx, svc.Store, t.ID)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

// cmdUserCreate runs "user create"; the password comes from standard
// input (its first line), so it never shows in the process list.
func cmdUserCreate(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, env map[string]string) error {
	var cfg config
	fs := newFlagSet("user create", &cfg, env)
	tenant := fs.String("tenant", "", "tenant name (required)")
	email := fs.String("email", "", "email address (required)")
	role := fs.String("role", "", "viewer, editor or admin (required)")
	name := fs.String("name", "", "user name for signing in (default: the part of the email before @)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("user create: unexpected argument %q", pos[0])
	}
	if *tenant == "" || *email == "" || *role == "" {
		return usagef("user create: --tenant, --email and --role are required")
	}
	if !geoetl.Role(*role).Valid() {
		return usagef("--role: must be viewer, editor or admin")
	}
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	svc, done, err := openService(ctx, &cfg)
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.TenantByName(ctx, *tenant)
	if err != nil {
		return err
	}
	u, err := svc.CreateUserAsSystem(ctx, &geoetl.User{TenantID: t.ID, Name: *name, Email: *email, Role: geoetl.Role(*role)}, password)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, u.ID)
	return nil
}

func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usagef("user create: give the password on standard input")
	}
	return pw, nil
}

// cmdTokenCreate prints only the new token on standard output.
func cmdTokenCreate(ctx context.Context, args []string, stdout io.Writer, env map[string]string) error {
	var cfg config
	fs := newFlagSet("token create", &cfg, env)
	tenant := fs.String("tenant", "", "tenant name (required)")
	role := fs.String("role", "", "viewer, editor or admin (required)")
	name := fs.String("name", "", "a label for the token (required)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("token create: unexpected argument %q", pos[0])
	}
	if *tenant == "" || *role == "" || *name == "" {
		return usagef("token create: --tenant, --role and --name are required")
	}
	if !geoetl.Role(*role).Valid() {
		return usagef("--role: must be viewer, editor or admin")
	}
	svc, done, err := openService(ctx, &cfg)
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.TenantByName(ctx, *tenant)
	if err != nil {
		return err
	}
	_, secret, err := svc.CreateTokenAsSystem(ctx, t.ID, *name, geoetl.Role(*role))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

// systemPrincipal acts for the command line with full rights in a tenant.
func systemPrincipal(t *geoetl.Tenant) geoetl.Principal {
	return geoetl.Principal{TenantID: t.ID, Actor: "cli", ActorID: "cli", Role: geoetl.RoleAdmin}
}

// cmdSchedulesExport writes the tenant's schedules as JSON.
func cmdSchedulesExport(ctx context.Context, args []string, stdout io.Writer, env map[string]string) error {
	var cfg config
	fs := newFlagSet("schedules export", &cfg, env)
	tenant := fs.String("tenant", geoetl.DefaultTenantName, "tenant name")
	out := fs.String("out", "", "write to this file instead of standard output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("schedules export: unexpected argument %q", pos[0])
	}
	svc, done, err := openService(ctx, &cfg)
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.TenantByName(ctx, *tenant)
	if err != nil {
		return err
	}
	doc, err := svc.ExportSchedules(ctx, systemPrincipal(t))
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if *out == "" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}

// cmdSchedulesImport creates or updates schedules by name from a file
// ("-" for standard input) and prints one line per item.
func cmdSchedulesImport(ctx context.Context, args []string, stdout io.Writer, env map[string]string) error {
	var cfg config
	fs := newFlagSet("schedules import", &cfg, env)
	tenant := fs.String("tenant", geoetl.DefaultTenantName, "tenant name")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("schedules import: expected one file")
	}
	body, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("read %s: %w", pos[0], err)
	}
	svc, done, err := openService(ctx, &cfg)
	if err != nil {
		return err
	}
	defer done()
	t, err := svc.TenantByName(ctx, *tenant)
	if err != nil {
		return err
	}
	results, err := svc.ImportSchedules(ctx, systemPrincipal(t), body)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		line := fmt.Sprintf("%s\t%s\t%s", r.Action, r.Name, r.ID)
		if r.Action == "failed" {
			failed++
			line = fmt.Sprintf("failed\t%s\t%s", r.Name, r.Error)
			for f, msgs := range r.Errors {
				line += fmt.Sprintf(" %s: %s;", f, strings.Join(msgs, ", "))
			}
		}
		fmt.Fprintln(stdout, line)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d schedules failed to import", failed, len(results))
	}
	return nil
}
