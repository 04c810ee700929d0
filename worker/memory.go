package worker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dustin/go-humanize"
)

// Memory-limit mechanisms, as logged at start and exported in the
// geoetl_worker_memory_limit_bytes metric's mechanism label.
const (
	// MechanismCgroup is a cgroup v2 leaf per worker with memory.max set
	// to the limit: the kernel stops the worker the moment it goes over.
	MechanismCgroup = "cgroup-v2"
	// MechanismWatchdog is serve polling each busy worker's resident
	// memory and killing it at the limit.
	MechanismWatchdog = "watchdog"
)

// DefaultMemoryLimit is the per-run memory limit when none is configured.
const DefaultMemoryLimit = 1 << 30

// MinMemoryLimit is the smallest limit accepted: below it a worker cannot
// even start its runtime and load the node catalog.
const MinMemoryLimit = 32 << 20

// ParseSize reads a memory size such as 256MiB, 1GiB or 512MB (decimal
// units are decimal, as 512MB = 512,000,000 bytes).
func ParseSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a size like 256MiB or 1GiB", s)
	}
	if n > 1<<50 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}

// FormatSize writes a size the way errors and logs show it: "1 GiB",
// "256 MiB", or with a fraction when it is not whole.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return humanize.IBytes(uint64(n))
}

// rss returns the resident memory of a process in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, errors.New("unexpected statm")
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// cgroupRoot is where the cgroup v2 hierarchy is mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupSetup is a delegated cgroup v2 subtree with the memory controller
// in which each worker gets a leaf of its own.
type cgroupSetup struct {
	dir string // holds the worker leaves
	seq atomic.Int64
}

// setupCgroup prepares per-worker memory cgroups, or says why it cannot.
//
// cgroup v2 allows controllers in a child's subtree only for groups
// without processes of their own, so serve first moves itself into a
// leaf ("serve") beside the "workers" group of its own cgroup. This works
// where the host delegates the cgroup (systemd's Delegate=yes, a container
// with its own cgroup namespace and a writable /sys/fs/cgroup) and fails
// cleanly elsewhere, and serve then falls back to the watchdog.
func setupCgroup() (*cgroupSetup, error) {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		return nil, errors.New("no cgroup v2 hierarchy at " + cgroupRoot)
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(cgroupRoot, own)
	if filepath.Base(base) == "serve" {
		// A restart of serve within the same service cgroup: the layout is
		// already there.
		base = filepath.Dir(base)
	}
	ctrl, err := os.ReadFile(filepath.Join(base, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	if !hasWord(string(ctrl), "memory") {
		return nil, fmt.Errorf("the memory controller is not delegated to %s", base)
	}
	serveLeaf := filepath.Join(base, "serve")
	if err := os.Mkdir(serveLeaf, 0o755); err != nil && !os.IsExist(err) {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(serveLeaf, "cgroup.procs"), []byte("0"), 0); err != nil {
		return nil, fmt.Errorf("moving serve into %s: %w", serveLeaf, err)
	}
	if err := enableMemory(base); err != nil {
		return nil, err
	}
	workers := filepath.Join(base, "workers")
	if err := os.Mkdir(workers, 0o755); err != nil && !os.IsExist(err) {
		return nil, err
	}
	if err := enableMemory(workers); err != nil {
		return nil, err
	}
	return &cgroupSetup{dir: workers}, nil
}

func enableMemory(dir string) error {
	sub, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err == nil && hasWord(string(sub), "memory") {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
		return fmt.Errorf("enabling the memory controller in %s: %w", dir, err)
	}
	return nil
}

func ownCgroup() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// cgroupLeaf is one worker's memory cgroup.
type cgroupLeaf struct {
	dir string
	fd  *os.File
}

// newLeaf creates a leaf limited to limit bytes, without swap, killed as a
// whole when it runs out.
func (c *cgroupSetup) newLeaf(limit int64) (*cgroupLeaf, error) {
	dir := filepath.Join(c.dir, fmt.Sprintf("w%d-%d", os.Getpid(), c.seq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	leaf := &cgroupLeaf{dir: dir}
	if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		leaf.remove()
		return nil, err
	}
	// Swap would let a run go on slowly far past its limit instead of
	// failing; not every kernel has the file.
	_ = os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0)
	_ = os.WriteFile(filepath.Join(dir, "memory.oom.group"), []byte("1"), 0)
	fd, err := os.Open(dir)
	if err != nil {
		leaf.remove()
		return nil, err
	}
	leaf.fd = fd
	return leaf, nil
}

// oomKilled reports whether the kernel killed something in the leaf for
// its memory limit.
func (l *cgroupLeaf) oomKilled() bool {
	b, err := os.ReadFile(filepath.Join(l.dir, "memory.events"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n > 0
		}
	}
	return false
}

func (l *cgroupLeaf) remove() {
	if l.fd != nil {
		l.fd.Close()
	}
	_ = os.Remove(l.dir)
}
