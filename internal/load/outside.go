package load

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL: the harness reads the database itself
	_ "modernc.org/sqlite"             // SQLite: the harness reads the server's database file itself

	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/internal/chaos"
)

// SchedConfig sets a scheduler throughput run of the real binary (SQLite,
// or PostgreSQL with one or more instances), measured only from outside:
// the process trees in /proc and the database after the processes
// stopped (the "outside measurement" names and units).
type SchedConfig struct {
	Bin string
	Dir string
	// DB is the URL of an empty PostgreSQL database; "" means a new
	// SQLite file in Dir.
	DB string
	// Instances is how many `geoetl serve` processes share the database
	// (1; more only on PostgreSQL). CPU and memory are of all of them.
	Instances int
	Schedules int           // every-second no-op schedules (1,000)
	Duration  time.Duration // measured window (60 s)
	// Lead is how long after the restart the lined-up schedules are first
	// due, so start-up is not measured (10 s).
	Lead time.Duration
	// Down, if set, lines the schedules up as if the server had been down
	// that long: their next_run_at is Down before the restart, so the
	// restart finds every schedule behind (misfires), and the window
	// measures the on-time occurrences after it.
	Down time.Duration
	// Probe sends this many API requests a second (a list and /readyz in
	// turn) during the window and reports their latency (0: none).
	Probe float64
	// Env is extra environment for the server (tenant limits are raised).
	Env []string
	// ProfileDir, if set, receives CPU, heap, mutex and block profiles of
	// the server taken over the middle of the window.
	ProfileDir string
	// ServerLog, if set, receives serve's log lines (every instance's)
	// after the run, and LogLevel sets serve's --log-level (info).
	ServerLog string
	LogLevel  string
	Log       io.Writer
}

// SchedReport is what a scheduler run measured.
type SchedReport struct {
	Backend   string
	Instances int
	Schedules int
	Duration  time.Duration
	Expected  int // occurrences due in the window
	Started   int // distinct occurrences that started
	Twice     int // occurrences with more than one started row
	Missed    int // Expected - Started
	// MissRows are skipped rows (compact miss records among them) of the
	// schedules inside the window, and MissRowsCovered the occurrences
	// they say they cover (missed_count, 1 where absent).
	MissRows int
	// SkipReasons counts the window's skipped rows by reason, and
	// WorstSecond is the occurrence second with the latest start, so a
	// stall can be told from a steady lag.
	SkipReasons     map[string]int
	WorstSecond     time.Time
	From            time.Time     // the window's first second
	P50, P99, Max   time.Duration // lateness: executed_at - scheduled_at
	CPUMicros       int64         // whole process tree, during the window
	CPUPerRun       float64       // µs
	PeakRSS         int64         // bytes, whole process tree, sampled
	PeakAnon        int64         // of it anonymous (not the mapped database file)
	WriteBytes      int64         // written to storage by the tree during the window
	WritesPerRun    float64       // write syscalls per run
	RowsPerRun      float64       // execution rows per started occurrence
	GivingUp        int           // "giving up" log lines
	ErrorLines      []string
	Probe           *Stats
	ProbeList       *Stats // of Probe: the /executions list
	ProbeReady      *Stats // of Probe: /readyz
	CreatePerSecond float64
	Down            time.Duration // simulated downtime before the window
	Restart         time.Duration // from the start of the process to ready
	// MissRecordsBefore and MissedBefore are the miss records the restart
	// wrote for the downtime and the occurrences they count; CatchUps the
	// catch-up runs it started.
	MissRecordsBefore, MissedBefore, CatchUps int
	// Unfinished are rows left pending with a claim or running after the
	// graceful stop: a stop must leave none.
	Unfinished int
	// PerSecond counts the occurrences started of each second of the
	// window, so a collapse part way through shows as zeros at its end.
	PerSecond []int
}

// RunSched creates the schedules (disabled) through the API of a running
// server, stops it, enables them and lines them up on one first second
// (next_run_at), starts it again and measures one window.
func RunSched(ctx context.Context, cfg SchedConfig) (*SchedReport, error) {
	if cfg.Schedules == 0 {
		cfg.Schedules = 1000
	}
	if cfg.Duration == 0 {
		cfg.Duration = time.Minute
	}
	if cfg.Lead == 0 {
		cfg.Lead = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	dbURL := cfg.DB
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(cfg.Dir, "geoetl.db")
	}
	if cfg.Instances <= 0 {
		cfg.Instances = 1
	}
	if cfg.Instances > 1 && strings.HasPrefix(dbURL, "sqlite:") {
		return nil, fmt.Errorf("sched: several instances need PostgreSQL")
	}
	env := append([]string{
		// Tenant limits must not cap the load (harmless where unknown).
		"GEOETL_TENANT_MAX_SCHEDULES=10000000", "GEOETL_TENANT_MAX_RUNS=1000000", "GEOETL_MIN_INTERVAL=1s",
	}, cfg.Env...)
	if cfg.ProfileDir != "" {
		env = append(env, "GEOETL_PPROF_ADDR=127.0.0.1:0")
	}
	var fleet []*chaos.Instance
	for i := range cfg.Instances {
		args := []string{"--api-rate-limit", "0", "--shutdown-grace", "10s"}
		if cfg.LogLevel != "" {
			args = append(args, "--log-level", cfg.LogLevel) // the last --log-level wins
		}
		in := &chaos.Instance{ID: fmt.Sprintf("bench-%d", i), Bin: cfg.Bin, DB: dbURL, Dir: filepath.Join(cfg.Dir, fmt.Sprint(i)), Env: env,
			Args: args}
		fleet = append(fleet, in)
		defer in.Kill()
	}
	in := fleet[0]
	if err := startWithin(ctx, in, 2*time.Minute); err != nil {
		return nil, err
	}
	store, err := db.Open(ctx, in.DB, db.Options{})
	if err != nil {
		return nil, err
	}
	e, err := newEnv(ctx, store, in.URL())
	store.Close()
	if err != nil {
		return nil, err
	}
	rep := &SchedReport{Backend: "SQLite", Instances: cfg.Instances, Schedules: cfg.Schedules, Duration: cfg.Duration, Down: cfg.Down}
	if !strings.HasPrefix(dbURL, "sqlite:") {
		rep.Backend = "PostgreSQL"
	}
	fmt.Fprintf(cfg.Log, "sched: creating %d every-second schedules through the API\n", cfg.Schedules)
	t0 := time.Now()
	if err := e.importEverySecond(ctx, cfg.Schedules); err != nil {
		return nil, err
	}
	rep.CreatePerSecond = float64(cfg.Schedules) / time.Since(t0).Seconds()
	if err := in.Stop(time.Minute); err != nil {
		return nil, err
	}

	// Line up: every schedule first due at the same second, Lead after
	// the restart.
	first := time.Now().Add(cfg.Lead).Truncate(time.Second)
	due := first
	if cfg.Down > 0 {
		due = time.Now().Add(-cfg.Down).Truncate(time.Second)
	}
	if err := lineUp(ctx, dbURL, due); err != nil {
		return nil, err
	}
	restarted := time.Now()
	for _, in := range fleet {
		if err := startWithin(ctx, in, time.Minute); err != nil {
			return nil, err
		}
	}
	e.base = in.URL()              // a new port
	from := first.Add(time.Second) // the window starts after the first second settled
	if cfg.Down > 0 {
		// The first whole second after the server is ready: every
		// occurrence from then on can start on time.
		from = time.Now().Truncate(time.Second).Add(time.Second)
		rep.Restart = time.Since(restarted)
	} else if time.Until(first) < time.Second {
		return nil, fmt.Errorf("sched: the restart took longer than the lead (%s); raise -lead", cfg.Lead)
	}
	to := from.Add(cfg.Duration)
	var pids []int
	for _, in := range fleet {
		pids = append(pids, in.Pid())
	}

	var probe, probeList, probeReady *Stats
	var wg sync.WaitGroup
	sampler := startSampler(pids)
	time.Sleep(time.Until(from))
	cpu0, io0 := fleetCPU(pids), fleetIO(pids)
	if cfg.Probe > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probeList, probeReady = e.probe(ctx, cfg.Probe, to)
			probe = &Stats{}
			probe.merge(probeList)
			probe.merge(probeReady)
		}()
	}
	if cfg.ProfileDir != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := profile(ctx, in, cfg.ProfileDir, cfg.Duration/2); err != nil {
				fmt.Fprintln(cfg.Log, "sched: profile:", err)
			}
		}()
	}
	time.Sleep(time.Until(to))
	cpu1, io1 := fleetCPU(pids), fleetIO(pids)
	rep.PeakRSS, rep.PeakAnon = sampler.stop()
	wg.Wait()
	rep.Probe, rep.ProbeList, rep.ProbeReady = probe, probeList, probeReady
	rep.CPUMicros = cpu1.sub(cpu0)
	rep.WriteBytes = io1.bytes - io0.bytes
	// Runs of the window's last second finish and are written.
	time.Sleep(3 * time.Second)
	var serverLog strings.Builder
	for _, in := range fleet {
		if err := in.Stop(time.Minute); err != nil {
			return nil, err
		}
		if cfg.ServerLog != "" {
			serverLog.WriteString(in.Tail(math.MaxInt))
		}
		for _, l := range in.Errors() {
			if strings.Contains(l, "giving up") {
				rep.GivingUp++
			}
			if len(rep.ErrorLines) < 5 {
				rep.ErrorLines = append(rep.ErrorLines, l)
			}
		}
	}
	if cfg.ServerLog != "" {
		if err := os.WriteFile(cfg.ServerLog, []byte(serverLog.String()), 0o644); err != nil {
			return nil, err
		}
	}
	if err := readOutcome(ctx, dbURL, from, to, rep); err != nil {
		return nil, err
	}
	if rep.Started > 0 {
		rep.CPUPerRun = float64(rep.CPUMicros) / float64(rep.Started)
		rep.WritesPerRun = float64(io1.syscw-io0.syscw) / float64(rep.Started)
	}
	return rep, nil
}

func startWithin(ctx context.Context, in *chaos.Instance, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return in.Start(ctx)
}

// importEverySecond creates n every-second schedules named bench-NNNNNN
// through the import API, a thousand a request.
func (e *env) importEverySecond(ctx context.Context, n int) error {
	return e.importSchedules(ctx, n, 1000)
}

// importSchedules imports n disabled every-second schedules, chunk per
// request.
func (e *env) importSchedules(ctx context.Context, n, chunk int) error {
	client := &http.Client{Timeout: 10 * time.Minute}
	for at := 0; at < n; at += chunk {
		var items []map[string]any
		for i := at; i < min(n, at+chunk); i++ {
			items = append(items, map[string]any{"name": fmt.Sprintf("bench-%06d", i), "workflowId": e.wf.ID,
				"cronExpression": "* * * * * *", "enabled": false})
		}
		body, _ := json.Marshal(map[string]any{"schedules": items})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+apiPrefix+"/schedules/import", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+e.editor)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		var rep struct {
			Created, Failed int
			Results         []struct{ Error string }
		}
		err = json.NewDecoder(res.Body).Decode(&rep)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			return fmt.Errorf("sched: import answered %s (%v)", res.Status, err)
		}
		if rep.Failed > 0 {
			for _, r := range rep.Results {
				if r.Error != "" {
					return fmt.Errorf("sched: import refused %d schedules: %s", rep.Failed, r.Error)
				}
			}
		}
	}
	return nil
}

// probe sends a list and /readyz in turn at rate requests a second until
// deadline, and returns the latencies of each.
func (e *env) probe(ctx context.Context, rate float64, deadline time.Time) (list, ready *Stats) {
	list, ready = &Stats{}, &Stats{}
	client := &http.Client{Timeout: time.Minute}
	every := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * every)
		if !at.Before(deadline) || ctx.Err() != nil {
			return list, ready
		}
		time.Sleep(time.Until(at))
		if i%2 == 0 {
			d, status, err := e.do(ctx, client, e.editor, "GET", "/executions?limit=50", nil)
			list.add(d, status, err)
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/readyz", nil)
		t := time.Now()
		res, err := client.Do(req)
		status := 0
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			status = res.StatusCode
		}
		ready.add(time.Since(t), status, err)
	}
}

// lineUp enables every bench schedule and sets its next_run_at to first
// (the server is stopped). They were created disabled so that creating
// many does not compete with their own runs.
func lineUp(ctx context.Context, dbURL string, first time.Time) error {
	d, err := openDirect(dbURL)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.ExecContext(ctx, d.q(`UPDATE schedules SET enabled = TRUE, next_run_at = ? WHERE name LIKE 'bench-%'`), d.t(first))
	return err
}

// direct is the harness's own connection to the server's database,
// reading the names and units outside measurement relies on: SQLite keeps
// times in integer microseconds, PostgreSQL in timestamptz.
type direct struct {
	*sql.DB
	pg bool
}

func openDirect(dbURL string) (*direct, error) {
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		conn, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		return &direct{DB: conn}, err
	}
	conn, err := sql.Open("pgx", dbURL)
	return &direct{DB: conn, pg: true}, err
}

// q numbers the ? placeholders for PostgreSQL.
func (d *direct) q(query string) string {
	if !d.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// t is a time argument; us reads a time column as microseconds.
func (d *direct) t(t time.Time) any {
	if d.pg {
		return t
	}
	return t.UnixMicro()
}

func (d *direct) us(col string) string {
	if d.pg {
		return "(extract(epoch FROM " + col + ") * 1000000)::bigint"
	}
	return col
}

func (d *direct) flag(col string) string {
	if d.pg {
		return col + "::int"
	}
	return col
}

// readOutcome judges the window's occurrences from the executions table.
func readOutcome(ctx context.Context, dbURL string, from, to time.Time, rep *SchedReport) error {
	conn, err := openDirect(dbURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	var ids int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM schedules WHERE name LIKE 'bench-%'`).Scan(&ids); err != nil {
		return err
	}
	rep.Expected = ids * int(to.Sub(from)/time.Second)
	rep.From = from
	rows, err := conn.QueryContext(ctx, conn.q(`
		SELECT e.schedule_id, `+conn.us("e.scheduled_at")+`, `+conn.us("e.executed_at")+`, `+conn.flag("e.skipped")+`, coalesce(e.skip_reason, '')
		FROM executions e JOIN schedules s ON s.id = e.schedule_id
		WHERE s.name LIKE 'bench-%' AND e.scheduled_at >= ? AND e.scheduled_at < ?`), conn.t(from), conn.t(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	type occ struct {
		id string
		at int64
	}
	started := map[occ]int{}
	var late []time.Duration
	var worst time.Duration
	total := 0
	for rows.Next() {
		var o occ
		var executed sql.NullInt64
		var skipped int
		var reason string
		if err := rows.Scan(&o.id, &o.at, &executed, &skipped, &reason); err != nil {
			return err
		}
		total++
		if skipped != 0 {
			rep.MissRows++
			if rep.SkipReasons == nil {
				rep.SkipReasons = map[string]int{}
			}
			rep.SkipReasons[reason]++
		}
		if executed.Valid {
			started[o]++
			l := time.Duration(executed.Int64-o.at) * time.Microsecond
			if l > worst {
				worst, rep.WorstSecond = l, time.UnixMicro(o.at).UTC()
			}
			late = append(late, l)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range started {
		if n > 1 {
			rep.Twice++
		}
	}
	rep.Started = len(started)
	rep.PerSecond = make([]int, int(to.Sub(from)/time.Second))
	for o := range started {
		if i := int(time.UnixMicro(o.at).Sub(from) / time.Second); i >= 0 && i < len(rep.PerSecond) {
			rep.PerSecond[i]++
		}
	}
	rep.Missed = rep.Expected - rep.Started
	if rep.Started > 0 {
		rep.RowsPerRun = float64(total) / float64(rep.Started)
	}
	before := func(missedCount string) error {
		return conn.QueryRowContext(ctx, conn.q(`
		SELECT count(*), coalesce(sum(CASE WHEN e.skipped THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN e.skipped THEN `+missedCount+` ELSE 0 END), 0),
			coalesce(sum(CASE WHEN e.trigger_type = 'catchup' THEN 1 ELSE 0 END), 0)
		FROM executions e JOIN schedules s ON s.id = e.schedule_id
		WHERE s.name LIKE 'bench-%' AND e.scheduled_at < ?`), conn.t(from)).Scan(new(int), &rep.MissRecordsBefore, &rep.MissedBefore, &rep.CatchUps)
	}
	if err := before("e.missed_count"); err != nil {
		// Builds from before compact miss records (-bin) wrote one row
		// per missed occurrence.
		if !strings.Contains(err.Error(), "missed_count") {
			return err
		}
		if err := before("1"); err != nil {
			return err
		}
	}
	// A graceful stop leaves every row finished, or pending and unclaimed
	// (handed back for the next start).
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM executions
		WHERE status = 'running' OR (status = 'pending' AND instance_id IS NOT NULL)`).Scan(&rep.Unfinished); err != nil {
		return err
	}
	slices.Sort(late)
	if len(late) > 0 {
		rep.P50 = late[len(late)/2]
		rep.P99 = late[min(len(late)-1, len(late)*99/100)]
		rep.Max = late[len(late)-1]
	}
	return nil
}

// Print writes the report as a Markdown table row with its header.
func (r *SchedReport) Print(w io.Writer) {
	fmt.Fprintf(w, "## Real binary (%d × `geoetl serve`, %s): %d every-second no-op schedules, %s window\n\n", r.Instances, r.Backend, r.Schedules, r.Duration)
	fmt.Fprintln(w, "| occurrences | started | missed | twice | miss rows | lateness p50 | p99 | max | CPU µs/run (process tree) | peak RSS (anonymous) | bytes written/run | write calls/run | rows/run |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	perRun := func(x int64) float64 {
		if r.Started == 0 {
			return 0
		}
		return float64(x) / float64(r.Started)
	}
	fmt.Fprintf(w, "| %d | %d | %d | %d | %d | %s | %s | %s | %.0f | %d MB (%d MB) | %.0f | %.2f | %.2f |\n",
		r.Expected, r.Started, r.Missed, r.Twice, r.MissRows, r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond),
		r.Max.Round(time.Millisecond), r.CPUPerRun, r.PeakRSS>>20, r.PeakAnon>>20, perRun(r.WriteBytes), r.WritesPerRun, r.RowsPerRun)
	if r.Probe != nil {
		fmt.Fprintf(w, "\nAPI during the window (/executions list and /readyz in turn): %d requests, p50 %s, p99 %s, errors %d\n",
			r.Probe.Count, r.Probe.P50(), r.Probe.P99(), r.Probe.Errors)
		if r.ProbeList != nil && r.ProbeReady != nil {
			fmt.Fprintf(w, "of which the list p50 %s, p99 %s; /readyz p50 %s, p99 %s\n",
				r.ProbeList.P50(), r.ProbeList.P99(), r.ProbeReady.P50(), r.ProbeReady.P99())
		}
	}
	if r.Down > 0 {
		fmt.Fprintf(w, "\nRestart after %s down: ready in %s; %d miss records counting %d occurrences, %d catch-up runs; the window starts at the first whole second after ready.\n",
			r.Down, r.Restart.Round(time.Millisecond), r.MissRecordsBefore, r.MissedBefore, r.CatchUps)
	}
	if len(r.SkipReasons) > 0 || r.Max > 0 {
		fmt.Fprintf(w, "\nSkipped rows in the window by reason: %v; the latest start was of an occurrence at %s (%s after the window began).\n",
			r.SkipReasons, r.WorstSecond.Format(time.TimeOnly), r.WorstSecond.Sub(r.From).Round(time.Second))
	}
	if len(r.PerSecond) > 0 {
		fmt.Fprintf(w, "\nStarted per second of the window (of %d due each): %v\n", r.Schedules, r.PerSecond)
	}
	fmt.Fprintf(w, "\nSchedules created through the import API at %.0f/s. Log lines \"giving up\": %d. Rows left running or claimed after the graceful stop: %d.\n",
		r.CreatePerSecond, r.GivingUp, r.Unfinished)
	for _, l := range r.ErrorLines {
		fmt.Fprintln(w, "error line:", l)
	}
}

// cpuTicks is user+system CPU of a process tree in clock ticks, with the
// reaped children's share of the root.
type cpuTicks int64

func (a cpuTicks) sub(b cpuTicks) int64 { return int64(a-b) * 1e6 / clockTicks }

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc.
const clockTicks = 100

// tree returns pid and its descendants.
func tree(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields(p)
		if len(f) > 2 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statFields returns /proc/pid/stat's fields after the command name,
// starting with field 3 (state).
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

func treeCPU(pid int) cpuTicks {
	var t cpuTicks
	for i, p := range tree(pid) {
		f := statFields(p)
		if len(f) < 15 {
			continue
		}
		// Fields 14-17 (utime, stime, cutime, cstime) are f[11..14].
		n := 2
		if i == 0 {
			n = 4 // the root also counts its reaped children
		}
		for k := 11; k < 11+n; k++ {
			v, _ := strconv.ParseInt(f[k], 10, 64)
			t += cpuTicks(v)
		}
	}
	return t
}

func fleetCPU(pids []int) cpuTicks {
	var t cpuTicks
	for _, p := range pids {
		t += treeCPU(p)
	}
	return t
}

func fleetIO(pids []int) ioCount {
	var c ioCount
	for _, p := range pids {
		x := treeIO(p)
		c.bytes, c.syscw = c.bytes+x.bytes, c.syscw+x.syscw
	}
	return c
}

type ioCount struct{ bytes, syscw int64 }

func treeIO(pid int) ioCount {
	var c ioCount
	for _, p := range tree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			switch k {
			case "write_bytes":
				c.bytes += n
			case "syscw":
				c.syscw += n
			}
		}
	}
	return c
}

// treeRSS is the resident memory of a process tree, and of it the
// anonymous part (heap and stacks: without the database file SQLite maps
// into memory, which the kernel may drop at will).
func treeRSS(pid int) (rss, anon int64) {
	for _, p := range tree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || (k != "VmRSS" && k != "RssAnon") {
				continue
			}
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if k == "VmRSS" {
				rss += kb << 10
			} else {
				anon += kb << 10
			}
		}
	}
	return rss, anon
}

type sampler struct {
	quit chan struct{}
	done chan [2]int64
}

// startSampler samples the trees' resident memory twice a second.
func startSampler(pids []int) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan [2]int64, 1)}
	go func() {
		var peak, peakAnon int64
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			var sum, anon int64
			for _, p := range pids {
				r, a := treeRSS(p)
				sum, anon = sum+r, anon+a
			}
			peak, peakAnon = max(peak, sum), max(peakAnon, anon)
			select {
			case <-t.C:
			case <-s.quit:
				s.done <- [2]int64{peak, peakAnon}
				return
			}
		}
	}()
	return s
}

// stop returns the peaks of resident and of anonymous memory.
func (s *sampler) stop() (int64, int64) { close(s.quit); p := <-s.done; return p[0], p[1] }

// profile fetches CPU, heap, allocation, mutex and block profiles from the
// server's pprof listener (its "pprof listening" log line).
func profile(ctx context.Context, in *chaos.Instance, dir string, d time.Duration) error {
	addr := ""
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		addr = in.PprofAddr()
	}
	if addr == "" {
		return fmt.Errorf("no pprof address in the log")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	get := func(name, query string) error {
		res, err := http.Get("http://" + addr + "/debug/pprof/" + name + query)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		f, err := os.Create(filepath.Join(dir, name+".pb.gz"))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, res.Body)
		return err
	}
	secs := fmt.Sprintf("?seconds=%d", max(1, int(d.Seconds())))
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range []string{"profile", "mutex", "block"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := get(name, secs); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := get("allocs", ""); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// ImportReport is what RunImport measured.
type ImportReport struct {
	Took time.Duration // from the first request to the last answer
	CPU  time.Duration // of serve's process tree meanwhile
	Size int64         // database and WAL after a clean stop, bytes
}

// RunImport measures importing n schedules through the API of the real
// binary on SQLite, 5,000 per request (about 0.6 MB: under the body limit).
func RunImport(ctx context.Context, bin, dir string, n int, profileDir string) (ImportReport, error) {
	dbPath := filepath.Join(dir, "geoetl.db")
	in := &chaos.Instance{ID: "import", Bin: bin, DB: "sqlite:" + dbPath, Dir: dir,
		Env:  []string{"GEOETL_TENANT_MAX_SCHEDULES=10000000", "GEOETL_TENANT_MAX_RUNS=1000000", "GEOETL_MIN_INTERVAL=1s"},
		Args: []string{"--api-rate-limit", "0"}}
	if profileDir != "" {
		in.Env = append(in.Env, "GEOETL_PPROF_ADDR=127.0.0.1:0")
	}
	if err := startWithin(ctx, in, 2*time.Minute); err != nil {
		return ImportReport{}, err
	}
	defer in.Kill()
	store, err := db.Open(ctx, in.DB, db.Options{})
	if err != nil {
		return ImportReport{}, err
	}
	e, err := newEnv(ctx, store, in.URL())
	store.Close()
	if err != nil {
		return ImportReport{}, err
	}
	pid := in.Pid()
	cpu0, t0 := treeCPU(pid), time.Now()
	var wg sync.WaitGroup
	if profileDir != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Long enough to cover the import of 100,000 on this machine.
			_ = profile(ctx, in, profileDir, 20*time.Second)
		}()
	}
	err = e.importSchedules(ctx, n, 5_000)
	rep := ImportReport{Took: time.Since(t0), CPU: time.Duration(treeCPU(pid).sub(cpu0)) * time.Microsecond}
	wg.Wait()
	if err != nil {
		return ImportReport{}, err
	}
	if err := in.Stop(time.Minute); err != nil {
		return rep, err
	}
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(dbPath + suffix); err == nil {
			rep.Size += fi.Size()
		}
	}
	return rep, nil
}
