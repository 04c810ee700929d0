// Package etl is the GeoETL engine: workflow definitions in the Honua
// shape, the node catalog (sources, geoprocessing, sinks, control) and the
// runner that streams features through a workflow's nodes.
//
// Every file a workflow reads or writes lies inside its tenant's folder of
// Config.DataDir; URL sources go through the netguard policy; PostgreSQL
// connections are named in configuration, never written into workflows,
// and granted to tenants by name.
package etl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	geoetl "github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/netguard"
)

// Config configures an Engine.
type Config struct {
	// DataDir holds one folder per tenant, <DataDir>/<tenant name>/, the
	// only folder that tenant's file sources and sinks use; paths in
	// workflows are relative to it.
	DataDir string
	// Network is the policy for URL sources (AllowPrivate comes from
	// --allow-private-urls).
	Network netguard.Policy
	// Connections maps connection names to PostgreSQL URLs (see
	// ConnectionsFromEnv).
	Connections map[string]string
	// ConnectionGrants maps lower-cased connection names to the tenants
	// that may use them (see ConnectionGrantsFromEnv); a connection
	// missing here is usable by the default tenant only.
	ConnectionGrants map[string][]string
	// MaxDownloadBytes bounds each HTTP response a source reads; default
	// 256 MiB.
	MaxDownloadBytes int64
	// RetryDelay is the wait before a node's first retry, doubled for each
	// further one (at most 30 s); default 1 s.
	RetryDelay time.Duration
	Logger     *slog.Logger
}

// DefaultMaxDownloadBytes is the download limit when Config leaves it 0.
const DefaultMaxDownloadBytes = 256 << 20

// Engine validates and runs workflow definitions. It implements
// geoetl.WorkflowEngine and is safe for concurrent use.
type Engine struct {
	cfg    Config
	cat    *catalog
	client *http.Client

	// nodeless keeps the parsed and validated definitions without nodes,
	// by their text, up to maxNodeless of them: such a workflow (an
	// every-second no-op schedule's) would otherwise decode its JSON on
	// every run for nothing. Nothing of a node-less definition is changed
	// by a run.
	nodeless  sync.Map // string -> *Definition
	nodelessN atomic.Int64
}

const maxNodeless = 1000

var _ geoetl.WorkflowEngine = (*Engine)(nil)

// New returns an engine. The data folder is created when missing.
func New(cfg Config) (*Engine, error) {
	if strings.TrimSpace(cfg.DataDir) == "" {
		return nil, errors.New("etl: a data folder is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("etl: data folder: %w", err)
	}
	if cfg.MaxDownloadBytes <= 0 {
		cfg.MaxDownloadBytes = DefaultMaxDownloadBytes
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	conns := map[string]string{}
	for k, v := range cfg.Connections {
		conns[strings.ToLower(k)] = v
	}
	cfg.Connections = conns
	grants := map[string][]string{}
	for k, v := range cfg.ConnectionGrants {
		grants[strings.ToLower(k)] = v
	}
	cfg.ConnectionGrants = grants
	e := &Engine{cfg: cfg, client: cfg.Network.NewClient(netguard.ClientOptions{Timeout: httpTimeout})}
	e.cat = newCatalog(e.nodeTypes())
	return e, nil
}

// Catalog lists the node types with their parameters, for
// GET /admin/api/geoetl/workflows/catalog.
func (e *Engine) Catalog() []NodeType {
	out := make([]NodeType, len(e.cat.types))
	for i, t := range e.cat.types {
		out[i] = *t
	}
	return out
}

// Validate checks a definition. Its *geoetl.Error (code EINVALID) names
// each bad field: "nodes[src].parameters.file_path", "edges[2].to",
// "nodes[wgs].type", "parameters.region".
func (e *Engine) Validate(definition json.RawMessage) error {
	d, err := ParseDefinition(definition)
	if err != nil {
		return err
	}
	return d.validate(e.cat)
}

// ValidateFor checks a definition as Validate does, and also that every
// connection it names is granted to the tenant.
func (e *Engine) ValidateFor(tenantName string, definition json.RawMessage) error {
	d, err := ParseDefinition(definition)
	if err != nil {
		return err
	}
	fe := geoetl.FieldErrors{}
	if err := d.validate(e.cat); err != nil {
		f := geoetl.ErrorFields(err)
		if f == nil {
			return err
		}
		for k, v := range f {
			fe[k] = append(fe[k], v...)
		}
	}
	e.checkGrants(tenantName, d, fe)
	return fe.Err()
}

// Parameters lists the parameters a definition declares, sorted by name.
func (e *Engine) Parameters(definition json.RawMessage) ([]geoetl.WorkflowParameter, error) {
	d, err := ParseDefinition(definition)
	if err != nil {
		return nil, err
	}
	out := make([]geoetl.WorkflowParameter, 0, len(d.Parameters))
	for name, p := range d.Parameters {
		out = append(out, geoetl.WorkflowParameter{
			Name: name, Type: p.Type, DefaultValue: p.DefaultValue, Required: p.Required, Description: p.Description,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (e *Engine) retryDelay(attempt int) time.Duration {
	d := e.cfg.RetryDelay << attempt
	if d > 30*time.Second || d <= 0 {
		d = 30 * time.Second
	}
	return d
}

// runnable parses and validates a definition to run.
func (e *Engine) runnable(raw json.RawMessage) (*Definition, error) {
	if d, ok := e.nodeless.Load(string(raw)); ok {
		return d.(*Definition), nil
	}
	d, err := ParseDefinition(raw)
	if err != nil {
		return nil, err
	}
	if err := d.validate(e.cat); err != nil {
		return nil, err
	}
	if len(d.Nodes) == 0 && len(d.Edges) == 0 && e.nodelessN.Load() < maxNodeless {
		if _, loaded := e.nodeless.LoadOrStore(string(raw), d); !loaded {
			e.nodelessN.Add(1)
		}
	}
	return d, nil
}

// Run executes a workflow. Node records and log lines go to req.Recorder
// as they happen. It returns an error wrapping ctx.Err() when ctx ends the
// run, an EINVALID *geoetl.Error when the definition or the parameter
// values are bad, and otherwise an error naming the node that failed.
func (e *Engine) Run(ctx context.Context, req geoetl.RunRequest) (geoetl.RunSummary, error) {
	if req.Workflow == nil {
		return geoetl.RunSummary{}, geoetl.Errorf(geoetl.EINVALID, "no workflow to run")
	}
	rec := req.Recorder
	if rec == nil {
		rec = nopRecorder{}
	}
	d, err := e.runnable(req.Workflow.Definition)
	if err != nil {
		return geoetl.RunSummary{}, err
	}
	values, ignored, err := resolveValues(d, req.Parameters)
	if err != nil {
		rec.Log("error", "", err.Error())
		return geoetl.RunSummary{}, err
	}
	if len(ignored) > 0 {
		sort.Strings(ignored)
		rec.Log("warn", "", fmt.Sprintf("ignored values for undeclared parameters: %s", strings.Join(ignored, ", ")))
	}
	scheduledAt := req.ScheduledAt
	if scheduledAt.IsZero() {
		scheduledAt = time.Now()
	}
	rv := &runVars{params: values, scheduledAt: scheduledAt, executionID: req.ExecutionID}

	r := &run{e: e, req: req, rec: rec}
	byID := map[string]*nodeState{}
	fe, denied := geoetl.FieldErrors{}, geoetl.FieldErrors{}
	for i, n := range d.order() {
		nt := e.cat.byType[n.Type]
		key := nodeField(i, n)
		p := rv.resolveNode(key, n, nt, fe)
		if len(fe) > 0 {
			continue
		}
		if nt.spec("connection") != nil && p.has("connection") && !e.granted(req.TenantName, p.str("connection")) {
			denied.Add(key+".parameters.connection", "%s", notGranted(p.str("connection")))
			continue
		}
		fn, err := nt.build(p)
		if err != nil {
			fe.Add(key, "%v", err)
			continue
		}
		ns := &nodeState{node: n, typ: nt, fn: fn}
		r.nodes = append(r.nodes, ns)
		byID[n.ID] = ns
	}
	if err := denied.Err(); err != nil && len(fe) == 0 {
		rec.Log("error", "", err.Error())
		return geoetl.RunSummary{}, err
	}
	for k, v := range denied {
		fe[k] = append(fe[k], v...)
	}
	if err := fe.Err(); err != nil {
		ge := err.(*geoetl.Error)
		ge.Message = "Workflow parameters are invalid after substitution."
		rec.Log("error", "", ge.Error())
		return geoetl.RunSummary{}, ge
	}
	for _, edge := range d.Edges {
		ch := make(chan []Feature, chanBatches)
		from, to := byID[edge.From], byID[edge.To]
		from.outs = append(from.outs, ch)
		to.ins = append(to.ins, &input{from: from, ch: ch, ready: make(chan struct{})})
	}
	if len(r.nodes) == 0 {
		// No log line: the run's record (completed, nothing read or
		// written) says it all, and a line would be a row written for
		// every run of every such schedule, most of what an every-second
		// no-op schedule costs the database besides its execution row.
		return geoetl.RunSummary{}, nil
	}
	root, err := e.tenantRoot(req.TenantName)
	if err != nil {
		rec.Log("error", "", err.Error())
		return geoetl.RunSummary{}, err
	}
	defer root.Close()
	r.root, r.dir = root, filepath.Join(e.cfg.DataDir, req.TenantName)
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)

	started := time.Now()
	rec.Log("info", "", fmt.Sprintf("run started: %d nodes, %d edges", len(d.Nodes), len(d.Edges)))
	r.execute()

	var sum geoetl.RunSummary
	var invalidSkipped, invalidRepaired int64
	for _, ns := range r.nodes {
		invalidSkipped += ns.invalidSkipped.Load()
		invalidRepaired += ns.invalidRepaired.Load()
		switch ns.typ.Category {
		case "source":
			sum.FeaturesRead += ns.out.Load()
		case "sink":
			sum.FeaturesWritten += ns.out.Load()
		}
	}
	if len(r.failed) > 0 || len(r.skipped) > 0 || invalidSkipped > 0 || invalidRepaired > 0 {
		sum.Extra = map[string]any{}
		if invalidSkipped > 0 {
			sum.Extra["invalidSkipped"] = invalidSkipped
		}
		if invalidRepaired > 0 {
			sum.Extra["invalidRepaired"] = invalidRepaired
		}
		if len(r.failed) > 0 {
			sum.Extra["failedNodes"] = r.failed
		}
		if len(r.skipped) > 0 {
			sum.Extra["skippedNodes"] = r.skipped
		}
	}
	if err := ctx.Err(); err != nil {
		rec.Log("warn", "", "run cancelled")
		return sum, fmt.Errorf("run stopped: %w", err)
	}
	if r.err != nil {
		return sum, r.err
	}
	rec.Log("info", "", fmt.Sprintf("run completed in %s: %d features read, %d written",
		time.Since(started).Round(time.Millisecond), sum.FeaturesRead, sum.FeaturesWritten))
	return sum, nil
}

type nopRecorder struct{}

func (nopRecorder) Node(geoetl.NodeRun) {}
func (nopRecorder) Log(_, _, _ string)  {}
