package etl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	geoetl "github.com/geoetl/geoetl"
)

// nodeFunc does one attempt of a node's work: it reads its inputs through
// nc, and passes features on with nc.emit.
type nodeFunc func(ctx context.Context, nc *nodeCtx) error

// chanBatches is how many batches may wait between two nodes. With
// batchSize features a batch, memory between two nodes stays bounded no
// matter how large the data set is.
const chanBatches = 4

// nodeState is one node during a run.
type nodeState struct {
	node *Node
	typ  *NodeType
	fn   nodeFunc
	ins  []*input
	outs []chan []Feature
	// failed is set, before the outputs close, when the node failed or
	// was skipped, so that downstream nodes can tell an ended input from
	// a failed one.
	failed  atomic.Bool
	in, out atomic.Int64
	status  string
	// invalidSkipped and invalidRepaired count the invalid geometries the
	// node left out or repaired (see invalid.go).
	invalidSkipped, invalidRepaired atomic.Int64
}

// input is one incoming edge of a node.
type input struct {
	from     *nodeState
	ch       chan []Feature
	ready    chan struct{} // closed once the first batch (or the end) arrived
	first    []Feature
	gotFirst bool
	ended    bool
}

// peek waits for the first batch so that a node can be skipped when all of
// its inputs come from failed nodes, without starting it.
func (in *input) peek(ctx context.Context) {
	defer close(in.ready)
	select {
	case b, ok := <-in.ch:
		if ok {
			in.first, in.gotFirst = b, true
		} else {
			in.ended = true
		}
	case <-ctx.Done():
	}
}

// next returns the next batch of the input, or ok false at its end.
func (in *input) next(ctx context.Context) ([]Feature, bool, error) {
	select {
	case <-in.ready:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if in.gotFirst {
		b := in.first
		in.first, in.gotFirst = nil, false
		return b, true, nil
	}
	if in.ended {
		return nil, false, nil
	}
	select {
	case b, ok := <-in.ch:
		if !ok {
			in.ended = true
		}
		return b, ok, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// drain discards what is left of the input so its producer never blocks
// on a node that stopped reading.
func (in *input) drain() {
	<-in.ready
	if in.ended {
		return
	}
	for range in.ch {
	}
}

// nodeCtx is what a node's work sees of the run.
type nodeCtx struct {
	r       *run
	ns      *nodeState
	id      string
	pending []Feature
}

// emit passes one feature on to every downstream node.
func (nc *nodeCtx) emit(ctx context.Context, f Feature) error {
	if nc.pending == nil {
		nc.pending = make([]Feature, 0, batchSize)
	}
	nc.pending = append(nc.pending, f)
	if len(nc.pending) >= batchSize {
		return nc.flush(ctx)
	}
	return nil
}

func (nc *nodeCtx) flush(ctx context.Context) error {
	if len(nc.pending) == 0 {
		return nil
	}
	b := nc.pending
	nc.pending = nil
	nc.ns.out.Add(int64(len(b)))
	for _, ch := range nc.ns.outs {
		select {
		case ch <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// count records features written by a sink (its featuresOut).
func (nc *nodeCtx) count(n int) { nc.ns.out.Add(int64(n)) }

// log writes a line to the run log under this node.
func (nc *nodeCtx) log(level, format string, args ...any) {
	nc.r.log(level, nc.id, fmt.Sprintf(format, args...))
}

// inputCount returns the number of input edges.
func (nc *nodeCtx) inputCount() int { return len(nc.ns.ins) }

// eachBatch calls fn for every batch of input i, in order.
func (nc *nodeCtx) eachBatch(ctx context.Context, i int, fn func([]Feature) error) error {
	in := nc.ns.ins[i]
	for {
		b, ok, err := in.next(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		nc.ns.in.Add(int64(len(b)))
		if err := fn(b); err != nil {
			return err
		}
	}
}

// each calls fn for every feature of all inputs.
func (nc *nodeCtx) each(ctx context.Context, fn func(Feature) error) error {
	return nc.eachBatchAll(ctx, func(b []Feature) error {
		for _, f := range b {
			if err := fn(f); err != nil {
				return err
			}
		}
		return nil
	})
}

// eachBatchAll calls fn for every batch of all inputs. With several inputs
// they are read concurrently (their order then interleaves), so that no
// input can stall another's producer.
func (nc *nodeCtx) eachBatchAll(ctx context.Context, fn func([]Feature) error) error {
	switch len(nc.ns.ins) {
	case 0:
		return nil
	case 1:
		return nc.eachBatch(ctx, 0, fn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	merged := make(chan []Feature)
	errc := make(chan error, len(nc.ns.ins))
	var wg sync.WaitGroup
	for i := range nc.ns.ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- nc.eachBatch(ctx, i, func(b []Feature) error {
				select {
				case merged <- b:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
	}
	go func() { wg.Wait(); close(merged) }()
	for b := range merged {
		if err := fn(b); err != nil {
			cancel()
			for range merged {
			}
			return err
		}
	}
	for range nc.ns.ins {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// run is one execution of a definition.
type run struct {
	e       *Engine
	req     geoetl.RunRequest
	rec     geoetl.RunRecorder
	root    *os.Root // the tenant's data folder
	dir     string   // its path, for SQLite outside Linux
	ctx     context.Context
	cancel  context.CancelCauseFunc
	nodes   []*nodeState
	mu      sync.Mutex
	err     error // the first failure that stops the run
	skipped []string
	failed  []string
}

func (r *run) log(level, nodeID, msg string) {
	r.rec.Log(level, nodeID, msg)
	if l := r.e.cfg.Logger; l != nil {
		lvl := slog.LevelInfo
		switch level {
		case "debug":
			lvl = slog.LevelDebug
		case "warn":
			lvl = slog.LevelWarn
		case "error":
			lvl = slog.LevelError
		}
		l.Log(context.Background(), lvl, msg, "executionId", r.req.ExecutionID, "node", nodeID)
	}
}

func (r *run) record(ns *nodeState, status string, started, ended *time.Time, errMsg string) {
	nr := geoetl.NodeRun{
		ExecutionID: r.req.ExecutionID,
		NodeID:      ns.node.ID,
		NodeType:    ns.node.Type,
		Status:      status,
		StartedAt:   started,
		CompletedAt: ended,
		FeaturesIn:  ns.in.Load(),
		FeaturesOut: ns.out.Load(),
	}
	if started != nil && ended != nil {
		ms := ended.Sub(*started).Milliseconds()
		nr.DurationMs = &ms
	}
	if errMsg != "" {
		nr.Error = &errMsg
	}
	ns.status = status
	r.rec.Node(nr)
}

// fail stops the run because a node failed without continueOnError.
func (r *run) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.cancel(err)
}

// execute runs every node in its own goroutine and waits for all.
func (r *run) execute() {
	for _, ns := range r.nodes {
		r.record(ns, "pending", nil, nil, "")
	}
	var wg sync.WaitGroup
	for _, ns := range r.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runNode(ns)
		}()
	}
	wg.Wait()
}

func (r *run) runNode(ns *nodeState) {
	defer func() {
		for _, ch := range ns.outs {
			close(ch)
		}
	}()
	defer func() {
		// Whatever happened, nothing upstream may stay blocked on this
		// node.
		for _, in := range ns.ins {
			go in.drain()
		}
	}()
	if len(ns.ins) > 0 {
		for _, in := range ns.ins {
			go in.peek(r.ctx)
		}
		if !r.waitForInput(ns) {
			return
		}
	}
	if r.ctx.Err() != nil {
		now := time.Now().UTC()
		r.record(ns, "cancelled", nil, &now, "")
		ns.failed.Store(true)
		return
	}
	start := time.Now().UTC()
	r.record(ns, "running", &start, nil, "")
	nc := &nodeCtx{r: r, ns: ns, id: ns.node.ID}
	ex := ns.node.Execution
	for attempt := 0; ; attempt++ {
		err := r.attempt(ns, nc)
		end := time.Now().UTC()
		if err == nil {
			r.record(ns, "completed", &start, &end, "")
			r.log("info", ns.node.ID, fmt.Sprintf("completed in %s: %d features in, %d out",
				end.Sub(start).Round(time.Millisecond), ns.in.Load(), ns.out.Load()))
			return
		}
		if r.ctx.Err() != nil {
			ns.failed.Store(true)
			status, msg := "cancelled", ""
			if r.err != nil && !errors.Is(err, context.Canceled) && !isRunStop(err, r) {
				status, msg = "failed", err.Error()
			}
			r.record(ns, status, &start, &end, msg)
			return
		}
		if attempt < ex.MaxRetries && ns.in.Load() == 0 && ns.out.Load() == 0 {
			delay := r.e.retryDelay(attempt)
			r.log("warn", ns.node.ID, fmt.Sprintf("attempt %d of %d failed: %v; retrying in %s", attempt+1, ex.MaxRetries+1, err, delay))
			select {
			case <-time.After(delay):
				nc.pending = nil
				continue
			case <-r.ctx.Done():
				ns.failed.Store(true)
				r.record(ns, "cancelled", &start, &end, "")
				return
			}
		}
		if attempt < ex.MaxRetries {
			r.log("warn", ns.node.ID, "not retried: the node had already read or passed on features")
		}
		ns.failed.Store(true)
		r.record(ns, "failed", &start, &end, err.Error())
		if ex.ContinueOnError {
			r.mu.Lock()
			r.failed = append(r.failed, ns.node.ID)
			r.mu.Unlock()
			r.log("warn", ns.node.ID, fmt.Sprintf("failed, continuing (continueOnError): %v", err))
			return
		}
		r.log("error", ns.node.ID, fmt.Sprintf("failed: %v", err))
		r.fail(fmt.Errorf("node %q (%s) failed: %w", ns.node.ID, ns.node.Type, err))
		return
	}
}

// isRunStop reports whether err is just the run being stopped by another
// node's failure.
func isRunStop(err error, r *run) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, r.err)
}

// attempt runs the node's work once, under its own time-out.
func (r *run) attempt(ns *nodeState, nc *nodeCtx) (err error) {
	ctx, cancel := r.ctx, context.CancelFunc(func() {})
	timeout := time.Duration(ns.node.Execution.TimeoutSeconds * float64(time.Second))
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(r.ctx, timeout)
	}
	defer cancel()
	defer func() {
		// A bug in one node must fail that node, not the process.
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	err = ns.fn(ctx, nc)
	if err == nil {
		err = nc.flush(ctx)
	}
	if err != nil && timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.ctx.Err() == nil {
		return fmt.Errorf("timed out after %s", timeout)
	}
	return err
}

// waitForInput blocks until an input has data or all have ended. When all
// inputs ended because their nodes failed or were skipped, the node is
// recorded as skipped and false is returned.
func (r *run) waitForInput(ns *nodeState) bool {
	for {
		allEnded, allFailed := true, true
		for _, in := range ns.ins {
			select {
			case <-in.ready:
				if in.gotFirst {
					return true
				}
				if !in.from.failed.Load() {
					allFailed = false
				}
			default:
				allEnded = false
			}
		}
		if allEnded {
			if !allFailed {
				return true
			}
			ns.failed.Store(true)
			now := time.Now().UTC()
			if r.ctx.Err() != nil {
				r.record(ns, "cancelled", nil, &now, "")
				return false
			}
			r.record(ns, "skipped", nil, &now, "skipped: every input comes from a node that failed or was skipped")
			r.log("warn", ns.node.ID, "skipped: every input comes from a node that failed or was skipped")
			r.mu.Lock()
			r.skipped = append(r.skipped, ns.node.ID)
			r.mu.Unlock()
			return false
		}
		// Wait for any input to become ready.
		cases := make([]<-chan struct{}, 0, len(ns.ins))
		for _, in := range ns.ins {
			select {
			case <-in.ready:
			default:
				cases = append(cases, in.ready)
			}
		}
		waitAny(r.ctx, cases)
		if r.ctx.Err() != nil {
			// Let the peeks notice the cancellation, then report.
			for _, in := range ns.ins {
				<-in.ready
			}
		}
	}
}

// waitAny returns when one of chans is closed or ctx is done.
func waitAny(ctx context.Context, chans []<-chan struct{}) {
	if len(chans) == 1 {
		select {
		case <-chans[0]:
		case <-ctx.Done():
		}
		return
	}
	done := make(chan struct{})
	var once sync.Once
	stop := make(chan struct{})
	for _, c := range chans {
		go func() {
			select {
			case <-c:
				once.Do(func() { close(done) })
			case <-stop:
			}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	close(stop)
}
