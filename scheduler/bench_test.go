package scheduler

// Benchmarks of the scheduler. Each runs one scenario once, whatever b.N, and
// reports its figures with b.ReportMetric; run several times (-count) and
// take medians. They use the real clock, so they take the time they say:
//
//	go test -run '^$' -bench . -count 3 -timeout 60m ./scheduler/
//
// GEOETL_BENCH_SECONDS shortens or lengthens the timed scenarios
// (precision and cluster, default 60).

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for bulk set-up

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
	"github.com/geoetl/geoetl/db"
	"github.com/geoetl/geoetl/db/dbtest"
	"github.com/geoetl/geoetl/db/postgres"
	"github.com/geoetl/geoetl/db/sqlite"
)

func benchSeconds() time.Duration {
	if v, err := strconv.Atoi(os.Getenv("GEOETL_BENCH_SECONDS")); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return 60 * time.Second
}

// benchDB is a fresh migrated database for one benchmark.
type benchDB struct {
	tb     testing.TB
	kind   string // sqlite or postgres
	url    string
	store  geoetl.Store
	tenant *geoetl.Tenant
	wf     *geoetl.Workflow
}

func newBenchDB(tb testing.TB, kind string) *benchDB {
	tb.Helper()
	var st geoetl.Store
	var u string
	if kind == "postgres" {
		st, u = dbtest.Postgres(tb)
	} else {
		st, u = dbtest.SQLiteURL(tb, db.Options{})
	}
	d := &benchDB{tb: tb, kind: kind, url: u, store: st, tenant: &geoetl.Tenant{Name: "bench"}}
	if err := st.CreateTenant(context.Background(), d.tenant); err != nil {
		tb.Fatal(err)
	}
	d.wf = &geoetl.Workflow{TenantID: d.tenant.ID, Name: "noop", Definition: []byte(defEmpty)}
	if err := st.CreateWorkflow(context.Background(), d.wf); err != nil {
		tb.Fatal(err)
	}
	return d
}

// raw opens a plain connection for bulk set-up SQL.
func (d *benchDB) raw() *sql.DB {
	d.tb.Helper()
	var conn *sql.DB
	var err error
	if d.kind == "postgres" {
		conn, err = sql.Open("pgx", d.url)
	} else {
		path, perr := sqlite.URLPath(d.url)
		if perr != nil {
			d.tb.Fatal(perr)
		}
		conn, err = sql.Open("sqlite", sqlite.DSN(path, true))
	}
	if err != nil {
		d.tb.Fatal(err)
	}
	d.tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// schedules creates n schedules of the no-op workflow with expression
// expr and the given next run: one through the store, the rest copied
// from it in bulk SQL (creating 100,000 one by one would take minutes).
func (d *benchDB) schedules(n int, expr string, next time.Time, edit func(*geoetl.Schedule)) {
	d.tb.Helper()
	s := geoetl.NewSchedule()
	s.TenantID, s.WorkflowID, s.Name, s.CronExpression, s.NextRunAt = d.tenant.ID, d.wf.ID, "bench-0", expr, &next
	if edit != nil {
		edit(s)
	}
	if err := d.store.CreateSchedule(context.Background(), s); err != nil {
		d.tb.Fatal(err)
	}
	if n <= 1 {
		return
	}
	cols := d.columns("schedules", "id", "name", "name_lc")
	var q string
	if d.kind == "postgres" {
		q = `INSERT INTO schedules (id, name, name_lc, ` + cols + `)
			SELECT gen_random_uuid(), 'bench-' || g, 'bench-' || g, ` + cols + ` FROM schedules, generate_series(1, $1) AS g WHERE id = $2`
	} else {
		uuid := `lower(substr(h,1,8)||'-'||substr(h,9,4)||'-4'||substr(h,14,3)||'-a'||substr(h,18,3)||'-'||substr(h,21,12))`
		q = `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $1),
			r(i, h) AS (SELECT i, hex(randomblob(16)) FROM g)
			INSERT INTO schedules (id, name, name_lc, ` + cols + `)
			SELECT ` + uuid + `, 'bench-' || i, 'bench-' || i, ` + cols + ` FROM schedules, r WHERE id = $2`
	}
	if _, err := d.raw().Exec(q, n-1, s.ID); err != nil {
		d.tb.Fatalf("copying schedules: %v", err)
	}
}

// logStatuses logs how many executions ended in each status and trigger,
// and why the skipped and failed ones did, to explain a miss.
func (d *benchDB) logStatuses(tb testing.TB) {
	rows, err := d.raw().Query(`SELECT status, trigger_type, coalesce(skip_reason, error_message, ''), count(*) FROM executions GROUP BY 1, 2, 3 ORDER BY 4 DESC`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st, trig, why string
		var n int
		if err := rows.Scan(&st, &trig, &why, &n); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("%7d %s (%s) %s", n, st, trig, why)
	}
}

// columns lists a table's columns but the excluded ones, comma-separated,
// so the bulk copies follow the schema as it changes.
func (d *benchDB) columns(table string, exclude ...string) string {
	d.tb.Helper()
	q := `SELECT name FROM pragma_table_info('` + table + `') ORDER BY cid`
	if d.kind == "postgres" {
		q = `SELECT column_name FROM information_schema.columns WHERE table_name = '` + table + `' AND table_schema = current_schema() ORDER BY ordinal_position`
	}
	rows, err := d.raw().Query(q)
	if err != nil {
		d.tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			d.tb.Fatal(err)
		}
		if !slices.Contains(exclude, c) {
			out = append(out, c)
		}
	}
	return strings.Join(out, ", ")
}

// scheduler starts an in-process scheduler on the database.
func (d *benchDB) scheduler(id string, engine geoetl.WorkflowEngine, edit func(*Config)) *Scheduler {
	d.tb.Helper()
	cfg := Config{Store: d.store, Engine: engine, InstanceID: id, Dispatch: true, Logger: testLogger(nil)}
	if d.kind == "postgres" {
		cfg.Cluster = postgres.NewCluster(d.url)
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		d.tb.Fatal(err)
	}
	return s
}

func stopNow(tb testing.TB, s *Scheduler) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		tb.Error(err)
	}
}

// occurrenceStats reads the occurrence rows (trigger schedule or catchup)
// scheduled in [from, to) and their attempts, and reports start lateness
// percentiles (executedAt - scheduledAt, completed first attempts),
// duplicates (occurrences with more than one completed attempt) and
// missed occurrences (expected ones without a completed attempt).
type occurrenceStats struct {
	p50, p99, max time.Duration
	duplicates    int
	missed        int
	runs          int
}

func (d *benchDB) occurrenceStats(from, to time.Time, expected int) occurrenceStats {
	d.tb.Helper()
	conn := d.raw()
	t := func(x time.Time) any {
		if d.kind == "postgres" {
			return x
		}
		return x.UnixMicro()
	}
	// Completed attempts per occurrence, original rows and retries alike.
	rows, err := conn.Query(`SELECT o.schedule_id, o.scheduled_at, o.executed_at, o.status,
		(SELECT count(*) FROM executions a WHERE a.schedule_id = o.schedule_id AND a.scheduled_at = o.scheduled_at AND a.status = 'completed')
		FROM executions o WHERE o.trigger_type IN ('schedule', 'catchup') AND o.scheduled_at >= $1 AND o.scheduled_at < $2`, t(from), t(to))
	if err != nil {
		d.tb.Fatal(err)
	}
	defer rows.Close()
	var st occurrenceStats
	var late []time.Duration
	n := 0
	for rows.Next() {
		var sid, status string
		var sched, exec any
		var completed int
		if err := rows.Scan(&sid, &sched, &exec, &status, &completed); err != nil {
			d.tb.Fatal(err)
		}
		n++
		if completed == 0 {
			st.missed++
		}
		if completed > 1 {
			st.duplicates++
		}
		st.runs += completed
		if status == string(geoetl.ExecCompleted) && exec != nil {
			late = append(late, asTime(exec).Sub(asTime(sched)))
		}
	}
	if err := rows.Err(); err != nil {
		d.tb.Fatal(err)
	}
	st.missed += expected - n // occurrences with no row at all
	slices.Sort(late)
	if len(late) > 0 {
		st.p50, st.p99, st.max = late[len(late)/2], late[len(late)*99/100], late[len(late)-1]
	}
	return st
}

func asTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case int64:
		return time.UnixMicro(x)
	}
	panic(fmt.Sprintf("unexpected time value %T", v))
}

func (st occurrenceStats) report(b *testing.B) {
	b.ReportMetric(float64(st.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(st.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(st.max.Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(st.duplicates), "duplicates")
	b.ReportMetric(float64(st.missed), "missed")
}

// BenchmarkPrecision: 1,000 every-second schedules for 60 s on SQLite with
// the no-op workflow. Targets: p50 <= 5 ms, p99 <= 50 ms, 0 duplicates,
// 0 missed.
func BenchmarkPrecision(b *testing.B) { benchPrecision(b, nil) }

// benchPrecision runs 1,000 every-second schedules on SQLite with the
// configuration edited, and reports start lateness and misses.
func benchPrecision(b *testing.B, edit func(*Config)) {
	d := newBenchDB(b, "sqlite")
	start := time.Now().Truncate(time.Second).Add(3 * time.Second)
	d.schedules(1000, "* * * * * *", start, nil)
	s := d.scheduler("bench", newTestEngine(clock.Real{}), edit)
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	end := start.Add(benchSeconds())
	time.Sleep(time.Until(end.Add(2 * time.Second)))
	stopNow(b, s)
	st := d.occurrenceStats(start, end, 1000*int(end.Sub(start)/time.Second))
	st.report(b)
	b.ReportMetric(float64(st.runs)/end.Sub(start).Seconds(), "runs/s")
}

// BenchmarkBurst: 10,000 schedules due in the same second, all started
// within 1 s, on SQLite and on PostgreSQL.
func BenchmarkBurst(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			d := newBenchDB(b, kind)
			at := time.Now().Truncate(time.Second).Add(5 * time.Second)
			// A yearly expression: the burst happens once.
			expr := fmt.Sprintf("%d %d %d %d %d *", at.Second(), at.Minute(), at.Hour(), at.Day(), int(at.Month()))
			d.schedules(10000, expr, at, nil)
			s := d.scheduler("bench", newTestEngine(clock.Real{}), func(c *Config) { c.Lookahead = benchLookahead(c.Lookahead) })
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Until(at.Add(3 * time.Second)))
			stopNow(b, s)
			st := d.occurrenceStats(at, at.Add(time.Second), 10000)
			st.report(b)
			b.ReportMetric(float64(st.max.Microseconds())/1000, "last-start-ms")
		})
	}
}

// BenchmarkScale: 100,000 active schedules (none due): time until the
// dispatcher is ready, resident memory and CPU while idle.
func BenchmarkScale(b *testing.B) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			d := newBenchDB(b, kind)
			next := time.Now().Add(24 * time.Hour).Truncate(time.Minute)
			d.schedules(100000, fmt.Sprintf("%d %d * * *", next.Minute(), next.Hour()), next, nil)
			runtime.GC()
			s := d.scheduler("bench", newTestEngine(clock.Real{}), nil)
			ready := make(chan struct{})
			var once sync.Once
			s.claimer.onSleep = func() { once.Do(func() { close(ready) }) }
			t0 := time.Now()
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			<-ready
			readyIn := time.Since(t0)
			cpu0, wall0 := cpuTime(), time.Now()
			time.Sleep(10 * time.Second)
			cpu := cpuTime() - cpu0
			idle := time.Since(wall0)
			rss := rssBytes()
			stopNow(b, s)
			b.ReportMetric(float64(readyIn.Milliseconds()), "ready-ms")
			b.ReportMetric(float64(rss)/(1<<20), "rss-MB")
			b.ReportMetric(100*cpu.Seconds()/idle.Seconds(), "idle-cpu-%")
		})
	}
}

// BenchmarkThroughput: sustained no-op runs per second (ad hoc runs
// queued in bulk), on SQLite with one instance and on PostgreSQL with
// three, beside the floor: bare insert-plus-update transactions per second
// on the same database (one connection on SQLite, eight on PostgreSQL).
func BenchmarkThroughput(b *testing.B) {
	for _, tc := range []struct {
		kind      string
		instances int
		floorConn int
	}{{"sqlite", 1, 1}, {"postgres", 3, 8}} {
		b.Run(tc.kind, func(b *testing.B) {
			d := newBenchDB(b, tc.kind)
			floor := d.floor(tc.floorConn, 5*time.Second)
			n := benchRuns()
			d.pendingRuns(n)
			var list []*Scheduler
			t0 := time.Now()
			for i := range tc.instances {
				var st geoetl.Store = d.store
				if i > 0 {
					var err error
					if st, err = db.Open(context.Background(), d.url, db.Options{}); err != nil {
						b.Fatal(err)
					}
					defer st.Close()
				}
				s := d.scheduler(fmt.Sprintf("node-%d", i), newTestEngine(clock.Real{}), func(c *Config) { c.Store = st })
				if err := s.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				list = append(list, s)
			}
			// Events are lossy by design; the database says when all are done.
			d.waitCompleted(n, 5*time.Minute)
			elapsed := time.Since(t0)
			for _, s := range list {
				stopNow(b, s)
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "runs/s")
			b.ReportMetric(floor, "floor-tx/s")
			b.ReportMetric(float64(n)/elapsed.Seconds()/floor, "ratio")
		})
	}
}

// BenchmarkDuePendingEqualDue: one claim's read of the first 500 of
// 100,000 unclaimed pending rows all due at the same instant (a bulk
// run-now or backfill queued at once), on both backends. Without an index
// in (due_at, id) order every claim sorts the whole group.
func BenchmarkDuePendingEqualDue(b *testing.B) {
	benchClaimRead(b, "executions", func(d *benchDB) {
		b.Setenv("GEOETL_BENCH_EQUAL_DUE", "1")
		d.pendingRuns(100000)
	}, func(tx geoetl.ClaimTx) (int, error) {
		list, err := tx.DuePending(&geoetl.DuePendingParams{Until: tx.Now().Add(time.Hour), Limit: 500})
		return len(list), err
	})
}

// BenchmarkDueSchedulesEqualDue: one claim's read of the first 500 of
// 10,000 schedules due at the same instant (every-second schedules lined
// up on one second), on both backends. Without the id in the due index
// every claim sorts the whole group, whole rows.
func BenchmarkDueSchedulesEqualDue(b *testing.B) {
	benchClaimRead(b, "schedules", func(d *benchDB) {
		d.schedules(10000, "* * * * * *", time.Now().Add(-time.Second).Truncate(time.Second), nil)
	}, func(tx geoetl.ClaimTx) (int, error) {
		list, err := tx.DueSchedules(tx.Now(), 500)
		return len(list), err
	})
}

// benchClaimRead times read, which must return 500 rows, in a claim
// transaction on each backend, after setup filled the database (and, on
// PostgreSQL, table was analysed).
func benchClaimRead(b *testing.B, table string, setup func(*benchDB), read func(geoetl.ClaimTx) (int, error)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			d := newBenchDB(b, kind)
			setup(d)
			if kind == "postgres" {
				if _, err := d.raw().Exec(`ANALYZE ` + table); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				err := d.store.Claim(context.Background(), func(tx geoetl.ClaimTx) error {
					n, err := read(tx)
					if err == nil && n != 500 {
						err = fmt.Errorf("%d rows, want 500", n)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// waitCompleted polls the database until no execution is pending or
// running any more (a query the partial index of active rows answers, so
// the polling itself costs little), then checks that n completed.
func (d *benchDB) waitCompleted(n int, limit time.Duration) {
	d.tb.Helper()
	conn := d.raw()
	deadline := time.Now().Add(limit)
	for {
		var active int
		if err := conn.QueryRow(`SELECT count(*) FROM executions WHERE status IN ('pending', 'running')`).Scan(&active); err != nil {
			d.tb.Fatal(err)
		}
		if active == 0 {
			break
		}
		if time.Now().After(deadline) {
			d.tb.Fatalf("%d of %d runs still active after %s", active, n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var done int
	if err := conn.QueryRow(`SELECT count(*) FROM executions WHERE status = 'completed'`).Scan(&done); err != nil {
		d.tb.Fatal(err)
	}
	if done != n {
		d.tb.Fatalf("%d of %d runs completed", done, n)
	}
}

// pendingRuns queues n ad hoc runs of the no-op workflow, due now.
func (d *benchDB) pendingRuns(n int) {
	d.tb.Helper()
	now := time.Now().UTC()
	e := &geoetl.Execution{TenantID: d.tenant.ID, WorkflowID: d.wf.ID, ScheduledAt: now, DueAt: now, Trigger: geoetl.TriggerManual, Status: geoetl.ExecPending}
	if err := d.store.CreateExecution(context.Background(), e); err != nil {
		d.tb.Fatal(err)
	}
	// Each queued run is due a microsecond after the previous one, as the
	// service spaces backfills, so they start in the order they were made;
	// GEOETL_BENCH_EQUAL_DUE=1 makes them all due at the same instant, the
	// case an index on (due_at, id) is for.
	step := 1
	if os.Getenv("GEOETL_BENCH_EQUAL_DUE") == "1" {
		step = 0
	}
	cols := d.columns("executions", "id", "due_at")
	var q string
	if d.kind == "postgres" {
		q = `INSERT INTO executions (id, due_at, ` + cols + `) SELECT gen_random_uuid(), due_at + g * $3 * interval '1 microsecond', ` + cols +
			` FROM executions, generate_series(1, $1) AS g WHERE id = $2`
	} else {
		uuid := `lower(substr(h,1,8)||'-'||substr(h,9,4)||'-4'||substr(h,14,3)||'-a'||substr(h,18,3)||'-'||substr(h,21,12))`
		q = `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $1), r(i, h) AS (SELECT i, hex(randomblob(16)) FROM g)
			INSERT INTO executions (id, due_at, ` + cols + `) SELECT ` + uuid + `, due_at + i * $3, ` + cols + ` FROM executions, r WHERE id = $2`
	}
	if _, err := d.raw().Exec(q, n-1, e.ID, step); err != nil {
		d.tb.Fatalf("queueing runs: %v", err)
	}
}

// floor measures bare transactions of one insert and one update per
// second on conns connections for the given time.
func (d *benchDB) floor(conns int, dur time.Duration) float64 {
	d.tb.Helper()
	conn := d.raw()
	conn.SetMaxOpenConns(conns)
	if _, err := conn.Exec(`CREATE TABLE floor_rows (id bigint PRIMARY KEY, v bigint NOT NULL)`); err != nil {
		d.tb.Fatal(err)
	}
	if _, err := conn.Exec(`CREATE TABLE floor_counter (id int PRIMARY KEY, v bigint NOT NULL)`); err != nil {
		d.tb.Fatal(err)
	}
	for i := range conns {
		if _, err := conn.Exec(`INSERT INTO floor_counter VALUES ($1, 0)`, i); err != nil {
			d.tb.Fatal(err)
		}
	}
	var total, seq int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := time.Now().Add(dur)
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for time.Now().Before(stop) {
				mu.Lock()
				seq++
				id := seq
				mu.Unlock()
				tx, err := conn.Begin()
				if err != nil {
					d.tb.Error(err)
					return
				}
				if _, err := tx.Exec(`INSERT INTO floor_rows VALUES ($1, $2)`, id, id); err != nil {
					_ = tx.Rollback()
					d.tb.Error(err)
					return
				}
				if _, err := tx.Exec(`UPDATE floor_counter SET v = v + 1 WHERE id = $1`, w); err != nil {
					_ = tx.Rollback()
					d.tb.Error(err)
					return
				}
				if err := tx.Commit(); err != nil {
					d.tb.Error(err)
					return
				}
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(total) / dur.Seconds()
}

// BenchmarkCluster: three instances (child processes) on PostgreSQL, 1,000
// every-second schedules; every 15 s one instance is killed with SIGKILL
// and started again. Targets: 0 duplicates, 0 missed occurrences.
func BenchmarkCluster(b *testing.B) {
	d := newBenchDB(b, "postgres")
	start := time.Now().Truncate(time.Second).Add(5 * time.Second)
	// The default policy, skip: an occurrence skipped as an overlap of a
	// no-op run counts as missed (GEOETL_BENCH_OVERLAP sets another).
	policy := geoetl.OverlapSkip
	if p := geoetl.OverlapPolicy(os.Getenv("GEOETL_BENCH_OVERLAP")); p.Valid() {
		policy = p
	}
	d.schedules(1000, "* * * * * *", start, func(s *geoetl.Schedule) {
		s.RetryAttempts, s.RetryDelayMinutes, s.OverlapPolicy = 1, 0, policy
	})
	procs := make([]*exec.Cmd, 3)
	var mu sync.Mutex
	gen := 0
	launch := func(i int) {
		mu.Lock()
		gen++
		id := fmt.Sprintf("node-%d-%d", i, gen)
		mu.Unlock()
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+d.url, childIDEnv+"="+id)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64)
		if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "child ready") {
			b.Fatalf("child %s did not start: %v", id, err)
		}
		procs[i] = cmd
	}
	kill := func(i int) {
		_ = procs[i].Process.Signal(syscall.SIGKILL)
		_ = procs[i].Wait()
	}
	for i := range procs {
		launch(i)
	}
	defer func() {
		for i := range procs {
			kill(i)
		}
	}()
	end := start.Add(benchSeconds())
	kills := 0
	for victim := 0; ; victim = (victim + 1) % 3 {
		next := time.Now().Add(15 * time.Second)
		if next.After(end) {
			break
		}
		time.Sleep(time.Until(next))
		kill(victim)
		launch(victim)
		kills++
	}
	// Give the reaper time for the last kill's claims: the children's lease
	// is 5 s, their reaper runs every second.
	time.Sleep(time.Until(end.Add(10 * time.Second)))
	for i := range procs {
		_ = procs[i].Process.Signal(syscall.SIGTERM)
		_ = procs[i].Wait()
	}
	st := d.occurrenceStats(start, end, 1000*int(end.Sub(start)/time.Second))
	st.report(b)
	b.ReportMetric(float64(kills), "kills")
	d.logStatuses(b)
}

const childIDEnv = "GEOETL_SCHEDULER_TEST_CHILD_ID"

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// benchRuns is how many runs the throughput benchmark queues
// (GEOETL_BENCH_RUNS, default 30,000).
func benchRuns() int {
	if v, err := strconv.Atoi(os.Getenv("GEOETL_BENCH_RUNS")); err == nil && v > 0 {
		return v
	}
	return 30000
}

// benchLookahead is the claim lookahead of the burst benchmark
// (GEOETL_BENCH_LOOKAHEAD, a duration; default the scheduler's).
func benchLookahead(def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv("GEOETL_BENCH_LOOKAHEAD")); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkRestart: 1,000 every-second schedules on SQLite whose
// occurrences of the last 3 minutes were missed (the instance was down),
// then started: reports the start lateness of the on-time occurrences from
// the first whole second after the start (first-p99-ms: those of the first
// 3 seconds, when the restart's catch-up work is done), the missed ones,
// and the catch-up runs. Target: the first on-time occurrences within the
// precision target (p99 <= 50 ms) while the downtime's catch-ups run.
func BenchmarkRestart(b *testing.B) {
	d := newBenchDB(b, "sqlite")
	d.schedules(1000, "* * * * * *", time.Now().Add(-3*time.Minute).Truncate(time.Second), nil)
	s := d.scheduler("bench", newTestEngine(clock.Real{}), nil)
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	from := time.Now().Truncate(time.Second).Add(time.Second)
	end := from.Add(min(benchSeconds(), 10*time.Second))
	time.Sleep(time.Until(end.Add(2 * time.Second)))
	stopNow(b, s)
	first := d.occurrenceStats(from, from.Add(3*time.Second), 3000)
	st := d.occurrenceStats(from, end, 1000*int(end.Sub(from)/time.Second))
	st.report(b)
	b.ReportMetric(float64(first.p50.Microseconds())/1000, "first-p50-ms")
	b.ReportMetric(float64(first.p99.Microseconds())/1000, "first-p99-ms")
	var catchups int
	if err := d.raw().QueryRow(`SELECT count(*) FROM executions WHERE trigger_type = 'catchup' AND status = 'completed'`).Scan(&catchups); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(catchups), "catchups")
}

// BenchmarkOverload: 20,000 every-second schedules on SQLite with the
// no-op workflow (GEOETL_BENCH_SCHEDULES changes the number), far more
// than one instance starts a second: reports the runs started per second
// over the window, its first and last thirds apart, so that a scheduler
// whose throughput collapses part way (rather than staying at what it
// sustains) shows a last third far below the first.
func BenchmarkOverload(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("GEOETL_BENCH_SCHEDULES")); err == nil && v > 0 {
		n = v
	}
	d := newBenchDB(b, "sqlite")
	start := time.Now().Truncate(time.Second).Add(5 * time.Second)
	d.schedules(n, "* * * * * *", start, nil)
	s := d.scheduler("bench", newTestEngine(clock.Real{}), nil)
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	secs := int(min(benchSeconds(), 30*time.Second) / time.Second)
	end := start.Add(time.Duration(secs) * time.Second)
	var rss int64
	for time.Now().Before(end.Add(2 * time.Second)) {
		time.Sleep(500 * time.Millisecond)
		rss = max(rss, rssBytes())
	}
	stopNow(b, s)
	per := d.startedPerSecond(start, secs)
	b.Logf("started per second: %v", per)
	d.logStatuses(b)
	third := max(1, secs/3)
	sum := func(xs []int) (t int) {
		for _, x := range xs {
			t += x
		}
		return t
	}
	b.ReportMetric(float64(sum(per))/float64(secs), "runs/s")
	b.ReportMetric(float64(sum(per[:third]))/float64(third), "first-third-runs/s")
	b.ReportMetric(float64(sum(per[secs-third:]))/float64(third), "last-third-runs/s")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MB")
}

// startedPerSecond counts the occurrences started (executed_at set) of
// each of secs seconds from start.
func (d *benchDB) startedPerSecond(start time.Time, secs int) []int {
	d.tb.Helper()
	rows, err := d.raw().Query(`SELECT scheduled_at FROM executions WHERE executed_at IS NOT NULL AND trigger_type IN ('schedule', 'catchup') AND scheduled_at >= $1 AND scheduled_at < $2`,
		start.UnixMicro(), start.Add(time.Duration(secs)*time.Second).UnixMicro())
	if err != nil {
		d.tb.Fatal(err)
	}
	defer rows.Close()
	per := make([]int, secs)
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			d.tb.Fatal(err)
		}
		per[int(time.UnixMicro(at).Sub(start)/time.Second)]++
	}
	if err := rows.Err(); err != nil {
		d.tb.Fatal(err)
	}
	return per
}
