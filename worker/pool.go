// Package worker runs workflows outside the scheduling process, so that a
// workflow cannot stop the scheduler: not by running out of memory, not by
// a panic, not by being killed.
//
// A Pool is a geoetl.WorkflowEngine. It validates definitions and lists
// their parameters in process (neither runs node code), and runs each
// workflow in a supervised worker process: the same geoetl binary started
// as `geoetl worker`, one run at a time per process. A few idle workers
// are kept warm so a run starts without waiting for a process to start,
// and a worker that ends is replaced at once. Each worker has a hard
// memory limit (a cgroup v2 leaf where the host delegates one, else a
// watchdog on its resident memory). A worker that dies fails only the run
// it held, with an error that says why ("worker exceeded the 1 GiB memory
// limit", "worker exited: signal 9", a panic's message); the scheduler's
// retry policy then applies as to any failure.
//
// Serve and a worker speak line-delimited JSON over the worker's standard
// input and output (see protocol.go); the worker never opens the
// scheduler's database.
package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/etl"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Pool.
type Config struct {
	// Command starts one worker: the program and its arguments, such as
	// the geoetl binary, "worker" and the engine's flags. Tests pass their
	// own binary here, since os.Executable is then the test binary.
	Command []string
	// Env is the workers' environment; default os.Environ(). Secrets a
	// worker has no use for (the database URL, the admin password, the
	// SMTP URL) are removed from it.
	Env []string
	// Local validates definitions, lists their parameters and runs the
	// workflows that stay in process (see stayInProcess).
	Local geoetl.WorkflowEngine
	// MemoryLimit is the hard limit of one run (its worker), in bytes;
	// default DefaultMemoryLimit.
	MemoryLimit int64
	// Mechanism forces MechanismWatchdog when set to it; left empty, a
	// delegated cgroup v2 subtree is used when there is one.
	Mechanism string
	// Warm is how many idle workers are kept ready; default 2.
	Warm int
	// IdleTimeout retires idle workers beyond Warm that went unused this
	// long; default one minute.
	IdleTimeout time.Duration
	// CancelGrace is how long a worker may take to stop a cancelled run
	// before it is killed; default 5 s.
	CancelGrace time.Duration
	Logger      *slog.Logger
	// Registerer, if set, receives the pool's metrics.
	Registerer prometheus.Registerer
}

const (
	defaultWarm        = 2
	startTimeout       = 30 * time.Second
	watchInterval      = 20 * time.Millisecond
	maxRunsPerWorker   = 1000
	maxForwardedStderr = 20
)

// Pool runs workflows in worker processes. It implements
// geoetl.WorkflowEngine.
type Pool struct {
	cfg       Config
	log       *slog.Logger
	env       []string
	mechanism string
	cg        *cgroupSetup

	mu           sync.Mutex
	idle         []*proc // most recently used last
	busy         int
	spawning     int
	all          map[*proc]bool
	closed       bool
	lastSpawnErr error
	backoffUntil time.Time

	kickCh  chan struct{}
	stopCh  chan struct{}
	stopped chan struct{}
	started bool

	deaths *prometheus.CounterVec

	// inProcess remembers stayInProcess per workflow id and version (a
	// version's definition never changes), so a run does not parse its
	// definition once here and again in the engine.
	inProcess sync.Map
}

var _ geoetl.WorkflowEngine = (*Pool)(nil)

// New returns a pool; Start starts its workers.
func New(cfg Config) (*Pool, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("worker: a command to start workers is required")
	}
	if cfg.Local == nil {
		return nil, errors.New("worker: a local engine is required")
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.MemoryLimit < MinMemoryLimit {
		return nil, fmt.Errorf("worker: the memory limit must be at least %s", FormatSize(MinMemoryLimit))
	}
	if cfg.Mechanism != "" && cfg.Mechanism != MechanismWatchdog && cfg.Mechanism != MechanismCgroup {
		return nil, fmt.Errorf("worker: unknown memory-limit mechanism %q", cfg.Mechanism)
	}
	if cfg.Warm <= 0 {
		cfg.Warm = defaultWarm
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.CancelGrace <= 0 {
		cfg.CancelGrace = 5 * time.Second
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pl := &Pool{
		cfg: cfg, log: log, env: workerEnv(cfg.Env, cfg.MemoryLimit), all: map[*proc]bool{},
		kickCh: make(chan struct{}, 1), stopCh: make(chan struct{}), stopped: make(chan struct{}),
		deaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geoetl_worker_deaths_total", Help: "Worker processes that ended without being asked to, by reason.",
		}, []string{"reason"}),
	}
	return pl, nil
}

// workerEnv is the environment of a worker: serve's, without the secrets
// only serve needs, and with the soft memory target.
func workerEnv(env []string, limit int64) []string {
	drop := map[string]bool{"GEOETL_DATABASE_URL": true, "GEOETL_ADMIN_PASSWORD": true, "GEOETL_SMTP_URL": true, envSoftLimit: true}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, fmt.Sprintf("%s=%d", envSoftLimit, limit))
}

// Start chooses the memory-limit mechanism, logs it, and starts the warm
// workers. It fails when no worker can be started, so that a broken
// installation stops at once instead of failing every run.
func (pl *Pool) Start(ctx context.Context) error {
	pl.mechanism = MechanismWatchdog
	reason := "chosen by configuration"
	if pl.cfg.Mechanism != MechanismWatchdog {
		cg, err := setupCgroup()
		if err == nil {
			pl.cg, pl.mechanism = cg, MechanismCgroup
		} else if pl.cfg.Mechanism == MechanismCgroup {
			return fmt.Errorf("worker: cgroup v2 memory limit: %w", err)
		} else {
			reason = "no delegated cgroup v2: " + err.Error()
		}
	}
	if pl.mechanism == MechanismCgroup {
		pl.log.Info("workflow runs are contained in worker processes; memory limit by cgroup v2",
			"memoryLimit", FormatSize(pl.cfg.MemoryLimit), "mechanism", pl.mechanism, "cgroup", pl.cg.dir)
	} else {
		pl.log.Info("workflow runs are contained in worker processes; memory limit by watchdog on resident memory",
			"memoryLimit", FormatSize(pl.cfg.MemoryLimit), "mechanism", pl.mechanism, "why", reason)
	}
	p, err := pl.spawn(ctx)
	if err != nil && pl.cg != nil && pl.cfg.Mechanism == "" {
		// Starting a process straight into a cgroup needs clone3 (Linux
		// 5.7); rather than run nothing, fall back to the watchdog.
		pl.log.Warn("cannot start a worker in its memory cgroup; falling back to the watchdog", "err", err)
		pl.cg, pl.mechanism = nil, MechanismWatchdog
		p, err = pl.spawn(ctx)
	}
	if err != nil {
		return fmt.Errorf("worker: cannot start a worker process (%s): %w", strings.Join(pl.cfg.Command, " "), err)
	}
	if r := pl.cfg.Registerer; r != nil {
		limit := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "geoetl_worker_memory_limit_bytes", Help: "The hard memory limit of one workflow run, by the mechanism that enforces it (cgroup-v2 or watchdog).",
		}, []string{"mechanism"})
		limit.WithLabelValues(pl.mechanism).Set(float64(pl.cfg.MemoryLimit))
		idle := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "geoetl_workers_idle", Help: "Worker processes ready for a run."},
			func() float64 { s := pl.Status(); return float64(s.Idle) })
		busy := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "geoetl_workers_busy", Help: "Worker processes running a workflow."},
			func() float64 { s := pl.Status(); return float64(s.Busy) })
		for _, c := range []prometheus.Collector{limit, idle, busy, pl.deaths} {
			if err := r.Register(c); err != nil {
				p.stop()
				return fmt.Errorf("worker: metrics: %w", err)
			}
		}
	}
	pl.mu.Lock()
	pl.idle = append(pl.idle, p)
	pl.started = true
	pl.mu.Unlock()
	go pl.supervise()
	pl.kick()
	return nil
}

// Mechanism says how the memory limit is enforced: MechanismCgroup or
// MechanismWatchdog.
func (pl *Pool) Mechanism() string { return pl.mechanism }

// MemoryLimit is the hard limit of one run in bytes.
func (pl *Pool) MemoryLimit() int64 { return pl.cfg.MemoryLimit }

// Status is a snapshot of the pool.
type Status struct {
	Mechanism   string
	MemoryLimit int64
	Idle, Busy  int
	PIDs        []int // of every live worker
}

// Status returns a snapshot of the pool.
func (pl *Pool) Status() Status {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	s := Status{Mechanism: pl.mechanism, MemoryLimit: pl.cfg.MemoryLimit, Idle: len(pl.idle), Busy: pl.busy}
	for p := range pl.all {
		s.PIDs = append(s.PIDs, p.pid)
	}
	return s
}

// Validate checks a definition in process: it parses and checks
// parameters; it reads no data, and evaluates an expression only once,
// without attributes and under the expression budgets.
func (pl *Pool) Validate(definition json.RawMessage) error { return pl.cfg.Local.Validate(definition) }

// ValidateFor is Validate plus the tenant's checks (its connection
// grants), in process.
func (pl *Pool) ValidateFor(tenantName string, definition json.RawMessage) error {
	return pl.cfg.Local.ValidateFor(tenantName, definition)
}

// Parameters lists a definition's parameters in process.
func (pl *Pool) Parameters(definition json.RawMessage) ([]geoetl.WorkflowParameter, error) {
	return pl.cfg.Local.Parameters(definition)
}

// Run runs a workflow in a worker process, or in process when it has no
// node that does work (see stayInProcess).
func (pl *Pool) Run(ctx context.Context, req geoetl.RunRequest) (geoetl.RunSummary, error) {
	if req.Workflow == nil || pl.staysInProcess(req.Workflow) {
		return pl.cfg.Local.Run(ctx, req)
	}
	return pl.runInWorker(ctx, req)
}

// staysInProcess is stayInProcess, remembered per workflow version.
func (pl *Pool) staysInProcess(w *geoetl.Workflow) bool {
	if w.ID == "" {
		return stayInProcess(w)
	}
	key := w.ID + "@" + strconv.Itoa(w.Version)
	if v, ok := pl.inProcess.Load(key); ok {
		return v.(bool)
	}
	v := stayInProcess(w)
	pl.inProcess.Store(key, v)
	return v
}

// stayInProcess reports whether a workflow runs in serve itself. A
// workflow with no nodes, or with only control.wait nodes, runs no node
// code: it reads nothing, allocates nothing by its input and evaluates no
// expression, it only waits on a timer. Running those in process keeps
// the scheduler's start precision and throughput (the benchmarks'
// every-second no-op schedules are such workflows) and gives up nothing
// of the containment. A definition that does not parse stays too: the
// local engine refuses it before running anything.
func stayInProcess(w *geoetl.Workflow) bool {
	d, err := etl.ParseDefinition(w.Definition)
	if err != nil {
		return true
	}
	for _, n := range d.Nodes {
		if n.Type != "control.wait" {
			return false
		}
	}
	return true
}

func (pl *Pool) runInWorker(ctx context.Context, req geoetl.RunRequest) (geoetl.RunSummary, error) {
	payload, err := encodeRequest(req)
	if err != nil {
		return geoetl.RunSummary{}, err
	}
	rec := req.Recorder
	if rec == nil {
		rec = nopRecorder{}
	}
	for attempt := 0; ; attempt++ {
		p, err := pl.acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return geoetl.RunSummary{}, fmt.Errorf("run stopped: %w", ctx.Err())
			}
			return geoetl.RunSummary{}, err
		}
		if err := p.send(message{Type: msgRun, Request: payload}); err != nil && attempt < 2 {
			// The worker was gone before it could read the request, so
			// nothing ran: take another.
			p.kill("")
			pl.release(p, false)
			continue
		}
		rec.Log("info", "", fmt.Sprintf("running in worker process %d", p.pid))
		stop := pl.watch(p)
		sum, err, reusable := pl.exchange(ctx, p, rec, req.ExecutionID)
		stop()
		pl.release(p, reusable)
		return sum, err
	}
}

// exchange follows one run in a worker until its result or the worker's
// end. reusable says whether the worker may take another run.
func (pl *Pool) exchange(ctx context.Context, p *proc, rec geoetl.RunRecorder, executionID string) (geoetl.RunSummary, error, bool) {
	done := ctx.Done()
	var killTimer <-chan time.Time
	for {
		select {
		case m, ok := <-p.msgs:
			if !ok {
				<-p.exited
				err := p.deathError()
				pl.countDeath(err)
				if ctx.Err() != nil {
					return geoetl.RunSummary{}, fmt.Errorf("run stopped: %w (%v)", ctx.Err(), err), false
				}
				pl.log.Warn("worker died during a run", "executionId", executionID, "pid", p.pid, "err", err)
				return geoetl.RunSummary{}, err, false
			}
			switch m.Type {
			case msgNode:
				if m.Node != nil {
					rec.Node(*m.Node)
				}
			case msgLog:
				rec.Log(m.Level, m.NodeID, m.Message)
				pl.logRun(executionID, m)
			case msgResult:
				err := m.Error.err()
				if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
					err = fmt.Errorf("run stopped: %w", ctx.Err())
				}
				return m.Summary.summary(), err, true
			}
		case <-done:
			done = nil
			_ = p.send(message{Type: msgCancel})
			t := time.NewTimer(pl.cfg.CancelGrace)
			defer t.Stop()
			killTimer = t.C
		case <-killTimer:
			killTimer = nil
			p.kill(fmt.Sprintf("the worker did not stop within %s of the cancellation and was killed", pl.cfg.CancelGrace))
		}
	}
}

// logRun writes a run's log line to serve's log, as the engine does when
// it runs in process.
func (pl *Pool) logRun(executionID string, m message) {
	lvl := slog.LevelInfo
	switch m.Level {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	pl.log.Log(context.Background(), lvl, m.Message, "executionId", executionID, "node", m.NodeID)
}

func (pl *Pool) countDeath(err error) {
	reason := "other"
	msg := err.Error()
	switch {
	case strings.Contains(msg, "memory limit"):
		reason = "memory"
	case strings.Contains(msg, "panic:"):
		reason = "panic"
	case strings.Contains(msg, "signal"):
		reason = "signal"
	}
	pl.deaths.WithLabelValues(reason).Inc()
}

// watch polls a busy worker's resident memory and kills it at the limit,
// when no cgroup does that. It returns a function that stops watching.
func (pl *Pool) watch(p *proc) func() {
	if pl.mechanism != MechanismWatchdog {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-p.exited:
				return
			case <-t.C:
			}
			n, err := rss(p.pid)
			if err != nil {
				continue
			}
			if n >= pl.cfg.MemoryLimit {
				p.kill(fmt.Sprintf("worker exceeded the %s memory limit (resident memory %s) and was killed",
					FormatSize(pl.cfg.MemoryLimit), FormatSize(n)))
				return
			}
		}
	}()
	return func() { close(stop); wg.Wait() }
}

// acquire hands out an idle worker, or starts one when none is idle.
func (pl *Pool) acquire(ctx context.Context) (*proc, error) {
	for {
		pl.mu.Lock()
		if pl.closed {
			pl.mu.Unlock()
			return nil, errors.New("the worker pool is shut down")
		}
		if n := len(pl.idle); n > 0 {
			p := pl.idle[n-1]
			pl.idle = pl.idle[:n-1]
			pl.busy++
			pl.mu.Unlock()
			pl.kick()
			select {
			case <-p.exited:
				pl.mu.Lock()
				pl.busy--
				pl.mu.Unlock()
				continue
			default:
				return p, nil
			}
		}
		pl.busy++
		pl.mu.Unlock()
		pl.kick()
		p, err := pl.spawn(ctx)
		if err != nil {
			pl.mu.Lock()
			pl.busy--
			pl.mu.Unlock()
			return nil, err
		}
		return p, nil
	}
}

// release takes a worker back after a run: to the idle list when it may
// run again, else it is stopped.
func (pl *Pool) release(p *proc, reusable bool) {
	p.runs++
	if reusable && p.runs >= maxRunsPerWorker {
		reusable = false
	}
	if reusable && pl.mechanism == MechanismWatchdog {
		// A worker that kept much of a big run's memory would start the
		// next run near the limit.
		if n, err := rss(p.pid); err != nil || n > pl.cfg.MemoryLimit/2 {
			reusable = false
		}
	}
	pl.mu.Lock()
	pl.busy--
	select {
	case <-p.exited:
		reusable = false
	default:
	}
	if reusable && !pl.closed {
		p.idleSince = time.Now()
		pl.idle = append(pl.idle, p)
		pl.mu.Unlock()
		return
	}
	pl.mu.Unlock()
	p.stop()
	pl.kick()
}

func (pl *Pool) kick() {
	select {
	case pl.kickCh <- struct{}{}:
	default:
	}
}

// supervise keeps Warm workers idle and retires the surplus idle ones.
func (pl *Pool) supervise() {
	defer close(pl.stopped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		select {
		case <-pl.stopCh:
			return
		case <-pl.kickCh:
		case <-t.C:
		}
		pl.mu.Lock()
		var retire []*proc
		for len(pl.idle) > pl.cfg.Warm && time.Since(pl.idle[0].idleSince) > pl.cfg.IdleTimeout {
			retire = append(retire, pl.idle[0])
			pl.idle = pl.idle[1:]
		}
		need := pl.cfg.Warm - len(pl.idle) - pl.spawning
		if time.Now().Before(pl.backoffUntil) || pl.closed {
			need = 0
		}
		pl.spawning += max(need, 0)
		pl.mu.Unlock()
		for _, p := range retire {
			p.stop()
		}
		for range need {
			go func() {
				p, err := pl.spawn(ctx)
				pl.mu.Lock()
				defer pl.mu.Unlock()
				pl.spawning--
				if err != nil {
					// Try again after a second rather than in a tight loop
					// when the binary or the host is broken.
					pl.backoffUntil = time.Now().Add(time.Second)
					if ctx.Err() == nil {
						pl.log.Error("cannot start a worker process", "err", err)
					}
					return
				}
				if pl.closed {
					go p.stop()
					return
				}
				p.idleSince = time.Now()
				pl.idle = append(pl.idle, p)
			}()
		}
	}
}

// Close stops every worker. Runs should have been cancelled before (the
// scheduler's Stop does that at the end of its grace period); a worker
// still running is killed when ctx ends.
func (pl *Pool) Close(ctx context.Context) error {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil
	}
	pl.closed = true
	started := pl.started
	idle := pl.idle
	pl.idle = nil
	pl.mu.Unlock()
	if started {
		close(pl.stopCh)
		<-pl.stopped
	}
	for _, p := range idle {
		p.stop()
	}
	for {
		pl.mu.Lock()
		var left []*proc
		for p := range pl.all {
			left = append(left, p)
		}
		pl.mu.Unlock()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-left[0].exited:
		case <-ctx.Done():
			for _, p := range left {
				p.kill("")
			}
			for _, p := range left {
				<-p.exited
			}
			return ctx.Err()
		}
	}
}

// spawn starts a worker and waits for it to say it is ready.
func (pl *Pool) spawn(ctx context.Context) (*proc, error) {
	p, err := pl.startProc()
	pl.mu.Lock()
	pl.lastSpawnErr = err
	pl.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case <-p.ready:
		return p, nil
	case <-p.exited:
		err = fmt.Errorf("a new worker ended at once: %v", p.deathError())
	case <-t.C:
		p.kill("")
		err = fmt.Errorf("a new worker did not answer within %s", startTimeout)
	case <-ctx.Done():
		p.kill("")
		return nil, ctx.Err()
	}
	pl.mu.Lock()
	pl.lastSpawnErr = err
	pl.mu.Unlock()
	return nil, err
}

func (pl *Pool) startProc() (*proc, error) {
	cmd := exec.Command(pl.cfg.Command[0], pl.cfg.Command[1:]...)
	cmd.Env = pl.env
	var leaf *cgroupLeaf
	cgFD := -1
	if pl.cg != nil {
		var err error
		if leaf, err = pl.cg.newLeaf(pl.cfg.MemoryLimit); err != nil {
			return nil, fmt.Errorf("a memory cgroup for a worker: %w", err)
		}
		cgFD = int(leaf.fd.Fd())
	}
	setProcAttr(cmd, cgFD)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		if leaf != nil {
			leaf.remove()
		}
		return nil, err
	}
	p := &proc{
		pool: pl, cmd: cmd, pid: cmd.Process.Pid, stdin: stdin, leaf: leaf,
		msgs: make(chan message, 64), ready: make(chan struct{}), exited: make(chan struct{}),
		enc: json.NewEncoder(stdin), tail: &lastWords{},
	}
	pl.mu.Lock()
	pl.all[p] = true
	pl.mu.Unlock()
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.readStdout(stdout) }()
	go func() { defer readers.Done(); p.readStderr(stderr) }()
	go func() {
		readers.Wait()
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		if leaf != nil {
			p.oom = leaf.oomKilled()
			leaf.remove()
		}
		close(p.exited)
		pl.exitedProc(p)
	}()
	return p, nil
}

// exitedProc forgets a worker that ended and has a new one started.
func (pl *Pool) exitedProc(p *proc) {
	pl.mu.Lock()
	delete(pl.all, p)
	for i, q := range pl.idle {
		if q == p {
			pl.idle = append(pl.idle[:i], pl.idle[i+1:]...)
			pl.mu.Unlock()
			err := p.deathError()
			pl.countDeath(err)
			pl.log.Warn("an idle worker died; starting another", "pid", p.pid, "err", err)
			pl.kick()
			return
		}
	}
	pl.mu.Unlock()
	pl.kick()
}

// proc is one worker process.
type proc struct {
	pool   *Pool
	cmd    *exec.Cmd
	pid    int
	stdin  io.WriteCloser
	encMu  sync.Mutex
	enc    *json.Encoder
	msgs   chan message  // closed when the worker's output ends
	ready  chan struct{} // closed when the worker said it is ready
	exited chan struct{} // closed once the process has ended
	state  *os.ProcessState
	oom    bool
	leaf   *cgroupLeaf
	tail   *lastWords
	// killed is why serve killed the worker, when it did.
	killed    atomic.Pointer[string]
	idleSince time.Time
	runs      int
}

func (p *proc) send(m message) error {
	p.encMu.Lock()
	defer p.encMu.Unlock()
	return p.enc.Encode(m)
}

// kill ends the worker at once; why, when not empty, becomes the error of
// the run it held.
func (p *proc) kill(why string) {
	if why != "" {
		p.killed.CompareAndSwap(nil, &why)
	}
	killGroup(p.pid)
}

// stop asks an idle worker to end by closing its input, and kills it if
// it has not ended within a few seconds.
func (p *proc) stop() {
	p.encMu.Lock()
	_ = p.stdin.Close()
	p.encMu.Unlock()
	go func() {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-p.exited:
		case <-t.C:
			killGroup(p.pid)
		}
	}()
}

func (p *proc) readStdout(r io.Reader) {
	defer close(p.msgs)
	dec := json.NewDecoder(bufio.NewReader(r))
	first := true
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				p.tail.add("protocol: " + err.Error())
				killGroup(p.pid)
			}
			return
		}
		if first {
			first = false
			if m.Type == msgReady {
				close(p.ready)
				continue
			}
		}
		p.msgs <- m
	}
}

// readStderr keeps the worker's last words for its death certificate and
// passes its output on to serve's log.
func (p *proc) readStderr(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	forwarded := 0
	for {
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			p.tail.add(line)
			// Enough of a crash's goroutine dump to see where it
			// happened, without flooding the log.
			switch {
			case forwarded < maxForwardedStderr:
				p.pool.log.Warn("worker output", "pid", p.pid, "line", line)
			case forwarded == maxForwardedStderr:
				p.pool.log.Warn("worker output: further lines left out", "pid", p.pid)
			}
			forwarded++
		}
		if err != nil {
			return
		}
	}
}

// deathError says why a worker ended, for the run it held.
func (p *proc) deathError() error {
	limit := FormatSize(p.pool.cfg.MemoryLimit)
	if why := p.killed.Load(); why != nil {
		return errors.New(*why)
	}
	if p.oom {
		return fmt.Errorf("worker exceeded the %s memory limit and was killed", limit)
	}
	if line := p.tail.first(isOutOfMemory); line != "" {
		// A single allocation larger than the system can give makes the Go
		// runtime die at once, before any limit is reached: still a run
		// that wanted more memory than it may have.
		detail := line
		if d := p.tail.first(func(s string) bool { return strings.HasPrefix(s, "runtime: out of memory: cannot allocate") }); d != "" {
			detail = d
		}
		return fmt.Errorf("worker exceeded the %s memory limit: the run asked for more memory at once than the system could give (%s)", limit, detail)
	}
	if line := p.tail.first(func(s string) bool {
		return strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ")
	}); line != "" {
		return fmt.Errorf("worker exited: %s", line)
	}
	if p.state != nil {
		if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("worker exited: signal %d", int(ws.Signal()))
		}
		msg := "worker exited: " + p.state.String()
		if last := p.tail.last(); last != "" {
			msg += ": " + last
		}
		return errors.New(msg)
	}
	return errors.New("worker exited")
}

func isOutOfMemory(s string) bool {
	return strings.HasPrefix(s, "fatal error:") && strings.Contains(s, "out of memory")
}

// lastWords keeps the start of a worker's notable output (panics and
// fatal errors come before long goroutine dumps) and its last lines.
type lastWords struct {
	mu      sync.Mutex
	notable []string
	lines   []string
}

func (l *lastWords) add(line string) {
	if len(line) > 2000 {
		line = line[:2000] + "…"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.notable) < 20 && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") ||
		strings.HasPrefix(line, "runtime: ")) {
		l.notable = append(l.notable, line)
	}
	l.lines = append(l.lines, line)
	if len(l.lines) > 50 {
		l.lines = l.lines[len(l.lines)-50:]
	}
}

func (l *lastWords) first(match func(string) bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.notable {
		if match(s) {
			return s
		}
	}
	return ""
}

func (l *lastWords) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return ""
	}
	return l.lines[len(l.lines)-1]
}

type nopRecorder struct{}

func (nopRecorder) Node(geoetl.NodeRun) {}
func (nopRecorder) Log(_, _, _ string)  {}
