package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
)

const apiPrefix = "/admin/api/geoetl"

// Stats are the requests of one route class.
type Stats struct {
	Count        int
	Errors       int // answers other than 2xx, and transport errors
	ServerErrors int // 5xx answers
	latencies    []time.Duration
	sorted       bool
}

func (s *Stats) add(d time.Duration, status int, err error) {
	s.Count++
	s.latencies = append(s.latencies, d)
	s.sorted = false
	if err != nil || status < 200 || status > 299 {
		s.Errors++
	}
	if status >= 500 {
		s.ServerErrors++
	}
}

func (s *Stats) merge(o *Stats) {
	s.Count += o.Count
	s.Errors += o.Errors
	s.ServerErrors += o.ServerErrors
	s.latencies = append(s.latencies, o.latencies...)
	s.sorted = false
}

func (s *Stats) quantile(q float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.latencies)
		s.sorted = true
	}
	return s.latencies[min(len(s.latencies)-1, int(q*float64(len(s.latencies))))]
}

// P50 and P99 are latency percentiles.
func (s *Stats) P50() time.Duration { return s.quantile(0.50).Round(10 * time.Microsecond) }
func (s *Stats) P99() time.Duration { return s.quantile(0.99).Round(10 * time.Microsecond) }

// ErrorRate is the share of requests that were not answered 2xx.
func (s *Stats) ErrorRate() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Count)
}

// op is one kind of request: its route class and how to make it.
type op struct {
	class string
	make  func(r *rand.Rand) (method, path string, body []byte)
}

func (e *env) readOps() []op {
	target := func(r *rand.Rand) string { return e.targets[r.IntN(len(e.targets))] }
	return []op{
		{"list", func(*rand.Rand) (string, string, []byte) { return "GET", "/schedules?limit=50", nil }},
		{"search", func(r *rand.Rand) (string, string, []byte) {
			return "GET", fmt.Sprintf("/schedules?q=second-%02d&limit=50", r.IntN(100)), nil
		}},
		{"get", func(r *rand.Rand) (string, string, []byte) { return "GET", "/schedules/" + target(r), nil }},
		{"executions", func(*rand.Rand) (string, string, []byte) { return "GET", "/executions?limit=50", nil }},
		{"history", func(r *rand.Rand) (string, string, []byte) {
			return "GET", "/schedules/" + target(r) + "/history?limit=20", nil
		}},
	}
}

func (e *env) writeOps() []op {
	return []op{
		{"update", func(r *rand.Rand) (string, string, []byte) {
			return "PUT", "/schedules/" + e.targets[r.IntN(len(e.targets))], []byte(fmt.Sprintf(`{"description":"edited %d"}`, r.Int()))
		}},
		{"create", func(r *rand.Rand) (string, string, []byte) {
			return "POST", "/schedules", []byte(fmt.Sprintf(`{"name":"created %d","workflowId":%q,"cronExpression":"0 4 * * *","enabled":false}`, r.Int(), e.wf.ID))
		}},
		{"preview", func(*rand.Rand) (string, string, []byte) {
			return "POST", "/cron/preview", []byte(`{"cronExpression":"*/5 9-17 * * MON-FRI","timezone":"Europe/Berlin","count":10}`)
		}},
	}
}

// hammer runs readers and writers until deadline and returns their
// statistics by route class.
func (e *env) hammer(ctx context.Context, readers, writers int, rate float64, deadline time.Time, seed *rand.Rand) map[string]*Stats {
	var workers [][]op
	for range readers {
		workers = append(workers, e.readOps())
	}
	for range writers {
		workers = append(workers, e.writeOps())
	}
	return e.drive(ctx, workers, rate, deadline, seed)
}

// drive runs one goroutine per worker, each sending its ops in turn until
// deadline, and returns the statistics by route class. With a rate (all
// workers together, requests per second) each worker sends on a fixed
// timetable, whatever the answers' latency, as independent clients do;
// without one, each sends its next request as soon as an answer comes.
func (e *env) drive(ctx context.Context, workers [][]op, rate float64, deadline time.Time, seed *rand.Rand) map[string]*Stats {
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(len(workers)) / rate * float64(time.Second))
	}
	// One token per worker, as independent clients have: the API limits
	// each credential's rate.
	tokens := make([]string, len(workers))
	for i := range tokens {
		_, tok, err := e.svc.CreateTokenAsSystem(ctx, e.tenant.ID, fmt.Sprintf("load-%d", i), geoetl.RoleEditor)
		if err != nil {
			tok = e.editor
		}
		tokens[i] = tok
	}
	start := time.Now()
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: len(workers)}}
	var mu sync.Mutex
	total := map[string]*Stats{}
	var wg sync.WaitGroup
	for w, ops := range workers {
		r := rand.New(rand.NewPCG(seed.Uint64(), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]*Stats{}
			for i := w; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				if every > 0 {
					// Workers are spread over the interval, not in step.
					time.Sleep(time.Until(start.Add(time.Duration(i-w)*every + time.Duration(w)*every/time.Duration(len(workers)))))
				}
				o := ops[i%len(ops)]
				method, path, body := o.make(r)
				d, status, err := e.do(ctx, client, tokens[w], method, path, body)
				if local[o.class] == nil {
					local[o.class] = &Stats{}
				}
				local[o.class].add(d, status, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, s := range local {
				if total[k] == nil {
					total[k] = &Stats{}
				}
				total[k].merge(s)
			}
		}()
	}
	wg.Wait()
	return total
}

// do sends one API request as the editor and times it until the whole
// answer is read.
func (e *env) do(ctx context.Context, client *http.Client, token, method, path string, body []byte) (time.Duration, int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.base+apiPrefix+path, rd)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return time.Since(t0), 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return time.Since(t0), res.StatusCode, err
}

// listPhase fills a new tenant with n schedules and measures listing and
// searching them with concurrent readers.
func (e *env) listPhase(ctx context.Context, n, readers int, rate float64, d time.Duration) (*Phase, error) {
	big, err := newEnv(ctx, e.store, e.base)
	if err != nil {
		return nil, err
	}
	for i := range n - len(big.targets) {
		s := big.newSchedule(fmt.Sprintf("sched-%06d parcels %s", i, []string{"north", "south", "east", "west"}[i%4]), "0 3 * * *")
		s.Status, s.NextRunAt = geoetl.StatusPaused, nil
		if err := e.store.CreateSchedule(ctx, s); err != nil {
			return nil, err
		}
	}
	ops := []op{
		{"list-first-page", func(*rand.Rand) (string, string, []byte) { return "GET", "/schedules?limit=50", nil }},
		{"list-deep-page", func(r *rand.Rand) (string, string, []byte) {
			return "GET", fmt.Sprintf("/schedules?limit=50&offset=%d", r.IntN(n)), nil
		}},
		{"search-some", func(r *rand.Rand) (string, string, []byte) {
			return "GET", fmt.Sprintf("/schedules?q=sched-%04d&limit=50", r.IntN(10000)), nil
		}},
		{"search-no-match", func(*rand.Rand) (string, string, []byte) { return "GET", "/schedules?q=no-such-schedule&limit=50", nil }},
	}
	var workers [][]op
	for range readers {
		workers = append(workers, ops)
	}
	total := big.drive(ctx, workers, rate, time.Now().Add(d), rand.New(rand.NewPCG(7, 7)))
	return &Phase{Routes: total}, nil
}
