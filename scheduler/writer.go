package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/clock"
)

// writer records starts, node records, logs and finishes in batches: it
// gathers them for FlushInterval (or until FlushSize), then writes each kind
// in one transaction, starts before finishes, so a run costs a share of a
// transaction rather than several of its own. While the database is
// unreachable it keeps the batch and retries with backoff.
type writer struct {
	d *deps // not embedded: its logger would hide the log method
	// written is told of outcomes once they are in the database, so the
	// jobs leave this instance and the news goes out.
	written func([]geoetl.ExecutionResult)
	kick    chan struct{}
	quit    chan struct{}
	done    chan struct{}

	mu       sync.Mutex
	starts   []geoetl.ExecutionStart
	nodes    []*geoetl.NodeRun
	logs     []*geoetl.LogEntry
	finishes []geoetl.ExecutionResult
	closing  bool
	closeCtx context.Context
}

func newWriter(d *deps, written func([]geoetl.ExecutionResult)) *writer {
	return &writer{d: d, written: written, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

func (w *writer) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *writer) start(st geoetl.ExecutionStart) {
	w.mu.Lock()
	w.starts = append(w.starts, st)
	w.mu.Unlock()
	w.signal()
}

func (w *writer) node(n *geoetl.NodeRun) {
	w.mu.Lock()
	w.nodes = append(w.nodes, n)
	w.mu.Unlock()
	w.signal()
}

func (w *writer) log(l *geoetl.LogEntry) {
	w.mu.Lock()
	w.logs = append(w.logs, l)
	w.mu.Unlock()
	w.signal()
}

func (w *writer) finish(r geoetl.ExecutionResult) {
	w.mu.Lock()
	w.finishes = append(w.finishes, r)
	w.mu.Unlock()
	w.signal()
}

func (w *writer) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.starts) + len(w.nodes) + len(w.logs) + len(w.finishes)
}

// loop writes batches until close.
func (w *writer) loop() {
	defer close(w.done)
	// Writes are retried until they succeed; quitCtx ends those retries
	// when close begins, and the final drain then runs on close's context.
	quitCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-w.quit; cancel() }()
	for {
		select {
		case <-w.kick:
		case <-w.quit:
			w.drain(w.closeCtx)
			return
		}
		// Gather a little more unless the batch is full already.
		if w.pending() < w.d.cfg.FlushSize {
			t := time.NewTimer(w.d.cfg.FlushInterval)
			select {
			case <-t.C:
			case <-w.quit:
				t.Stop()
			}
		}
		w.drain(quitCtx)
	}
}

// drainBound bounds the final drain at shutdown. It is the writer's own
// bound, detached from the caller's context: a stop whose context is
// cancelled or nearly spent (the signal's, or a grace period used up by
// slow runs) must still record the outcomes of runs that finished.
const drainBound = 30 * time.Second

// close writes what is left (retrying for up to drainBound, on a context
// of its own) and stops the loop.
func (w *writer) close(ctx context.Context) {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return
	}
	w.closing = true
	var cancel context.CancelFunc
	w.closeCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), drainBound)
	defer cancel()
	w.mu.Unlock()
	close(w.quit)
	<-w.done
}

func (w *writer) drain(ctx context.Context) {
	for w.pending() > 0 {
		if !w.flush(ctx) {
			return
		}
	}
}

// flush writes one batch of each kind, starts first and outcomes last,
// retrying on errors until ctx ends. Items leave the buffers only once
// written, so a flush that gives up loses nothing. It reports false when
// it gave up.
func (w *writer) flush(ctx context.Context) bool {
	n := w.d.cfg.FlushSize
	w.mu.Lock()
	starts := w.starts[:min(n, len(w.starts))]
	nodes := w.nodes[:min(n, len(w.nodes))]
	logs := w.logs[:min(n, len(w.logs))]
	finishes := w.finishes[:min(n, len(w.finishes))]
	w.mu.Unlock()

	// A run that started and finished within one batch needs no separate
	// start: its outcome carries executedAt. Short runs then cost one write
	// after their claim instead of two.
	toStart := starts
	if len(finishes) > 0 && len(starts) > 0 {
		done := make(map[string]bool, len(finishes))
		for _, r := range finishes {
			done[r.Execution.ID] = true
		}
		toStart = make([]geoetl.ExecutionStart, 0, len(starts))
		for _, st := range starts {
			if !done[st.ExecutionID] {
				toStart = append(toStart, st)
			}
		}
	}
	if !w.retry(ctx, "record starts", len(toStart), func(ctx context.Context) error { return w.d.store.StartExecutions(ctx, toStart) }) {
		return false
	}
	w.mu.Lock()
	w.starts = dropN(w.starts, len(starts))
	w.mu.Unlock()
	if !w.retry(ctx, "record node runs", len(nodes), func(ctx context.Context) error { return w.d.store.AppendNodeRuns(ctx, nodes) }) {
		return false
	}
	w.mu.Lock()
	w.nodes = dropN(w.nodes, len(nodes))
	w.mu.Unlock()
	if !w.retry(ctx, "record logs", len(logs), func(ctx context.Context) error { return w.d.store.AppendLogs(ctx, logs) }) {
		return false
	}
	w.mu.Lock()
	w.logs = dropN(w.logs, len(logs))
	w.mu.Unlock()
	if !w.retry(ctx, "record outcomes", len(finishes), func(ctx context.Context) error { return w.writeFinishes(ctx, finishes) }) {
		return false
	}
	w.mu.Lock()
	w.finishes = dropN(w.finishes, len(finishes))
	w.mu.Unlock()
	w.written(finishes)
	return true
}

// writeFinishes writes outcomes; if the batch is refused as invalid (a
// summary JSON cannot hold, say), each is written alone and a refused one
// is written again without its summary, so one bad outcome cannot hold up
// the others.
func (w *writer) writeFinishes(ctx context.Context, rs []geoetl.ExecutionResult) error {
	err := w.d.store.FinishExecutions(ctx, rs)
	if err == nil || geoetl.ErrorCode(err) == geoetl.EINTERNAL {
		return err
	}
	for _, r := range rs {
		if err := w.d.store.FinishExecutions(ctx, []geoetl.ExecutionResult{r}); err != nil {
			if geoetl.ErrorCode(err) == geoetl.EINTERNAL {
				return err
			}
			w.d.log.Error("outcome refused; recording it without its summary", "execution", r.Execution.ID, "err", err)
			r.Execution.Summary = nil
			if err := w.d.store.FinishExecutions(ctx, []geoetl.ExecutionResult{r}); err != nil && geoetl.ErrorCode(err) == geoetl.EINTERNAL {
				return err
			}
		}
	}
	return nil
}

// attemptBound bounds one write attempt.
const attemptBound = 30 * time.Second

// retry runs write until it succeeds or ctx ends, backing off while the
// database fails. ctx only ends the retrying: an attempt under way runs
// on a detached context with its own bound, so that the start of a
// shutdown does not abort a write that would have succeeded (the final
// drain would then write the batch again, on a context that may be spent).
func (w *writer) retry(ctx context.Context, what string, n int, write func(context.Context) error) bool {
	if n == 0 {
		return true
	}
	for failures := 1; ; failures++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), attemptBound)
		err := write(actx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			if w.interruptedByClose(ctx) {
				// Close cancelled a routine flush; the final drain
				// writes the same batch on close's context, and only a
				// failure there is worth an error.
				w.d.log.Debug("write interrupted by shutdown; the final drain retries it: "+what, "count", n)
				return false
			}
			w.d.log.Error("giving up: "+what, "count", n, "err", err)
			return false
		}
		w.d.log.Warn("writing failed; retrying: "+what, "count", n, "err", err)
		if !clock.SleepContext(ctx, clock.Backoff(failures)) {
			return false
		}
	}
}

// interruptedByClose reports whether ctx is the loop's own context, ended
// because close began, rather than close's context for the final drain.
func (w *writer) interruptedByClose(ctx context.Context) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closing && ctx != w.closeCtx
}

// dropN returns list without its first n items, in a fresh array so the
// batch just written (a prefix of the old one) is not overwritten by
// appends.
func dropN[T any](list []T, n int) []T {
	if n == 0 {
		return list
	}
	return append([]T(nil), list[n:]...)
}
