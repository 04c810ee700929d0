package chaos

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles the geoetl binary (./cmd/geoetl of this module) into dir
// and returns its path. The harness drives this real binary, not an
// in-process copy of its wiring.
//
// Linking the binary takes seconds, and every package that drives it
// (chaos, load) would link it again into its own folder: go build links
// into one folder per checkout instead, which it leaves alone while the
// binary there is up to date, and the result is copied into dir (copied,
// so that a later build cannot change a binary whose processes still
// run). A lock file keeps two packages from building it at once. Like
// `make build`, it leaves out the symbol table and DWARF, which take most
// of the link's time; stack traces keep their function names.
func Build(ctx context.Context, dir string) (string, error) {
	cache, unlock, err := lockBuildCache()
	if err != nil {
		return "", err
	}
	defer unlock()
	cached := filepath.Join(cache, "geoetl")
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-s -w", "-o", cached, "github.com/geoetl/geoetl/cmd/geoetl")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("chaos: go build ./cmd/geoetl: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "geoetl")
	if err := copyExecutable(cached, bin); err != nil {
		return "", fmt.Errorf("chaos: copy the built binary: %w", err)
	}
	return bin, nil
}

// lockBuildCache returns the folder Build links into for this checkout,
// locked until unlock is called.
func lockBuildCache() (dir string, unlock func(), err error) {
	_, src, _, _ := runtime.Caller(0)
	sum := sha256.Sum256([]byte(src))
	dir = filepath.Join(os.TempDir(), fmt.Sprintf("geoetl-build-%d-%x", os.Getuid(), sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return "", nil, fmt.Errorf("chaos: lock %s: %w", dir, err)
	}
	return dir, func() { lock.Close() }, nil
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// AdminPassword is the password the harness gives the bootstrapped admin.
const AdminPassword = "chaos-admin-password"

// Instance is one `geoetl serve` process. Start may be called again after
// the process was killed or stopped: the same instance id comes back, as a
// restarted node of a real deployment would.
type Instance struct {
	ID  string
	Bin string
	DB  string // --db
	Dir string // working and data folder
	// Args are extra serve flags; Env extra environment variables.
	Args []string
	Env  []string
	// Wrap, if set, is a command that runs the binary (faketime and its
	// arguments, say).
	Wrap []string
	// Log, if set, receives every log line of every start.
	Log io.Writer

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	url     string
	lines   []logLine // of the current start
	starts  int
	frozen  bool
	waitErr error
}

type logLine struct {
	Msg      string `json:"msg"`
	Level    string `json:"level"`
	URL      string `json:"url"`
	raw      string
	received time.Time
}

// Start runs `geoetl serve` and waits until it serves HTTP (its "geoetl
// serving" log line and a good /readyz).
func (in *Instance) Start(ctx context.Context) error {
	in.mu.Lock()
	if in.cmd != nil {
		in.mu.Unlock()
		return fmt.Errorf("chaos: instance %s is running", in.ID)
	}
	args := append([]string{"serve", "--db", in.DB, "--addr", "127.0.0.1:0", "--instance-id", in.ID,
		"--data-dir", filepath.Join(in.Dir, "data"), "--log-format", "json", "--log-level", "info"}, in.Args...)
	cmd := exec.Command(in.Bin, args...)
	if len(in.Wrap) > 0 {
		cmd = exec.Command(in.Wrap[0], append(append(in.Wrap[1:len(in.Wrap):len(in.Wrap)], in.Bin), args...)...)
	}
	cmd.Dir = in.Dir
	cmd.Env = append(append(append(singleTenantLimits(), os.Environ()...), "GEOETL_ADMIN_PASSWORD="+AdminPassword), in.Env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		in.mu.Unlock()
		return err
	}
	if err := os.MkdirAll(in.Dir, 0o755); err != nil {
		in.mu.Unlock()
		return err
	}
	if err := cmd.Start(); err != nil {
		in.mu.Unlock()
		return fmt.Errorf("chaos: start %s: %w", in.ID, err)
	}
	in.cmd, in.exited, in.url, in.lines, in.frozen = cmd, make(chan struct{}), "", nil, false
	in.starts++
	exited := in.exited
	in.mu.Unlock()

	serving := make(chan string, 1)
	go in.readLogs(stderr, serving)
	go func() {
		err := cmd.Wait()
		in.mu.Lock()
		in.waitErr = err
		if in.cmd == cmd {
			in.cmd, in.url, in.frozen = nil, "", false
		}
		in.mu.Unlock()
		close(exited)
	}()
	select {
	case u := <-serving:
		in.mu.Lock()
		in.url = u
		in.mu.Unlock()
	case <-exited:
		return fmt.Errorf("chaos: %s exited during start: %v\n%s", in.ID, in.exitErr(), in.Tail(20))
	case <-ctx.Done():
		in.Kill()
		return fmt.Errorf("chaos: %s did not start: %w\n%s", in.ID, ctx.Err(), in.Tail(20))
	}
	return in.waitReady(ctx)
}

// readLogs collects the process's JSON log lines and reports the URL of
// its "geoetl serving" line.
func (in *Instance) readLogs(r io.Reader, serving chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		raw := sc.Text()
		var l logLine
		_ = json.Unmarshal([]byte(raw), &l)
		l.raw, l.received = raw, time.Now()
		in.mu.Lock()
		in.lines = append(in.lines, l)
		w := in.Log
		in.mu.Unlock()
		if w != nil {
			fmt.Fprintf(w, "%s %s\n", in.ID, raw)
		}
		if strings.HasPrefix(l.Msg, "geoetl serving") && l.URL != "" {
			select {
			case serving <- l.URL:
			default:
			}
		}
	}
}

func (in *Instance) waitReady(ctx context.Context) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.URL()+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: %s not ready: %w", in.ID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the base URL of the running process ("" when it is not running).
func (in *Instance) URL() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.url
}

// Running reports whether the process is up (frozen counts as up).
func (in *Instance) Running() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd != nil
}

// Frozen reports whether the process is stopped with SIGSTOP.
func (in *Instance) Frozen() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.frozen
}

// Kill sends SIGKILL and waits for the process to go.
func (in *Instance) Kill() {
	in.signalAndWait(syscall.SIGKILL, 0)
}

// Stop sends SIGTERM (a graceful stop: running executions get the
// shutdown grace) and waits up to timeout, then kills.
func (in *Instance) Stop(timeout time.Duration) error {
	in.Thaw()
	if !in.signalAndWait(syscall.SIGTERM, timeout) {
		in.Kill()
		return fmt.Errorf("chaos: %s did not stop within %s after SIGTERM", in.ID, timeout)
	}
	if err := in.exitErr(); err != nil {
		return fmt.Errorf("chaos: %s exited after SIGTERM: %v\n%s", in.ID, err, in.Tail(10))
	}
	return nil
}

// Freeze stops the process with SIGSTOP: it keeps its sockets and its
// database sessions but does nothing, as a paused VM or a process stuck
// in the kernel.
func (in *Instance) Freeze() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd != nil && !in.frozen {
		_ = in.cmd.Process.Signal(syscall.SIGSTOP)
		in.frozen = true
	}
}

// Thaw resumes a frozen process with SIGCONT.
func (in *Instance) Thaw() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd != nil && in.frozen {
		_ = in.cmd.Process.Signal(syscall.SIGCONT)
		in.frozen = false
	}
}

// signalAndWait signals the process and waits for it to exit, at most
// timeout (zero: without limit). It reports whether it exited.
func (in *Instance) signalAndWait(sig syscall.Signal, timeout time.Duration) bool {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.mu.Unlock()
	if cmd == nil {
		return true
	}
	_ = cmd.Process.Signal(sig)
	var limit <-chan time.Time
	if timeout > 0 {
		limit = time.After(timeout)
	}
	select {
	case <-exited:
		return true
	case <-limit:
		return false
	}
}

func (in *Instance) exitErr() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.waitErr
}

// Leader reports whether the running process holds the singleton-chores
// lock, by its log: elected, and not stepped down since.
func (in *Instance) Leader() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return false
	}
	leader := false
	for _, l := range in.lines {
		switch {
		case strings.HasPrefix(l.Msg, "elected to run the singleton chores"):
			leader = true
		case strings.HasPrefix(l.Msg, "lost the chores lock"):
			leader = false
		}
	}
	return leader
}

// Count counts the log lines of the current start whose message begins
// with prefix.
func (in *Instance) Count(prefix string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, l := range in.lines {
		if strings.HasPrefix(l.Msg, prefix) {
			n++
		}
	}
	return n
}

// Errors returns the log lines of level ERROR of the current start.
func (in *Instance) Errors() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, l := range in.lines {
		if l.Level == "ERROR" {
			out = append(out, l.raw)
		}
	}
	return out
}

// Tail returns the last n log lines of the current start.
func (in *Instance) Tail(n int) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	lines := in.lines[max(0, len(in.lines)-n):]
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// Starts is how often the instance was started.
func (in *Instance) Starts() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.starts
}

// Pid is the process id of the running process (0 when it is not running).
func (in *Instance) Pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil || in.cmd.Process == nil {
		return 0
	}
	return in.cmd.Process.Pid
}

// PprofAddr is the address of the profiling listener of the current
// start, from its "pprof listening" log line ("" when there is none).
func (in *Instance) PprofAddr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, l := range in.lines {
		if l.Msg == "pprof listening" {
			return l.URL
		}
	}
	return ""
}

// singleTenantLimits raises the per-tenant quotas, which share a server
// between tenants, for the harnesses: they drive one tenant with
// thousands of every-second schedules. The environment of the test and
// the instance's Env still win.
func singleTenantLimits() []string {
	return []string{"GEOETL_TENANT_MAX_RUNS=1000000", "GEOETL_TENANT_MAX_SCHEDULES=1000000"}
}
