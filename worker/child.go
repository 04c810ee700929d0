package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"

	"github.com/geoetl/geoetl"
)

// envSoftLimit carries the run memory limit to a worker, in bytes, for its
// garbage collector's soft target.
const envSoftLimit = "GEOETL_WORKER_MEMORY_LIMIT"

// ChildMain is the body of `geoetl worker`: it runs workflows that serve
// sends on standard input with eng, until standard input closes. It
// returns when serve closes standard input. Only serve should start it.
func ChildMain(eng geoetl.WorkflowEngine) error {
	// The protocol owns standard output; whatever else would print there
	// (a library, a stray debug line) goes to standard error instead, where
	// serve reads it as the worker's log.
	protoFD, err := syscall.Dup(1)
	if err != nil {
		return err
	}
	if err := dup2(2, 1); err != nil {
		return err
	}
	out := os.NewFile(uintptr(protoFD), "protocol")

	// serve decides when a worker stops: it cancels runs at the end of its
	// shutdown grace and then closes standard input. A Ctrl-C or a
	// SIGTERM sent to the whole process group must not cut runs short
	// before that; if serve itself dies, the pipe closes (and on Linux the
	// kernel kills the worker with it).
	signal.Ignore(os.Interrupt, syscall.SIGTERM)

	if v := os.Getenv(envSoftLimit); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			// A soft target below the hard limit: the collector works
			// harder as the heap nears it, so a run that fits never meets
			// the hard limit through garbage alone.
			debug.SetMemoryLimit(n / 4 * 3)
		}
	}
	return Serve(context.Background(), eng, os.Stdin, out)
}

// Serve runs the worker side of the protocol: it announces itself, then
// runs each request it reads from in with eng, one at a time, writing node
// records, log lines and the result to out. It returns when in ends, after
// cancelling and finishing a run still going.
func Serve(ctx context.Context, eng geoetl.WorkflowEngine, in io.Reader, out io.Writer) error {
	w := &wireWriter{bw: bufio.NewWriter(out)}
	w.enc = json.NewEncoder(w.bw)
	if err := w.send(message{Type: msgReady, PID: os.Getpid()}); err != nil {
		return err
	}
	msgs := make(chan message)
	readErr := make(chan error, 1)
	go func() {
		dec := json.NewDecoder(in)
		for {
			var m message
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				readErr <- err
				close(msgs)
				return
			}
			msgs <- m
		}
	}()

	var (
		cancel context.CancelFunc
		done   chan struct{}
	)
	defer func() {
		if cancel != nil {
			cancel()
		}
	}()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				if cancel != nil {
					cancel()
					<-done
				}
				return <-readErr
			}
			switch m.Type {
			case msgRun:
				if done != nil {
					// serve sends a run only after the previous result,
					// which the run's goroutine writes just before it
					// ends.
					<-done
					cancel()
				}
				runCtx, c := context.WithCancel(ctx)
				cancel, done = c, make(chan struct{})
				go func(ctx context.Context, done chan struct{}, raw json.RawMessage) {
					defer close(done)
					w.result(runOne(ctx, eng, raw, w))
				}(runCtx, done, m.Request)
			case msgCancel:
				if cancel != nil {
					cancel()
				}
			default:
				return fmt.Errorf("protocol: unexpected message %q", m.Type)
			}
		case <-doneOrNil(done):
			cancel()
			cancel, done = nil, nil
		}
	}
}

func doneOrNil(c chan struct{}) <-chan struct{} {
	if c == nil {
		return nil
	}
	return c
}

type outcome struct {
	sum geoetl.RunSummary
	err error
}

func runOne(ctx context.Context, eng geoetl.WorkflowEngine, raw json.RawMessage, w *wireWriter) outcome {
	req, err := decodeRequest(raw)
	if err != nil {
		return outcome{err: err}
	}
	req.Recorder = w
	sum, err := eng.Run(ctx, req)
	return outcome{sum: sum, err: err}
}

// wireWriter writes messages to serve; it is the run's geoetl.RunRecorder
// on the worker side.
type wireWriter struct {
	mu  sync.Mutex
	bw  *bufio.Writer
	enc *json.Encoder
	err error
}

func (w *wireWriter) send(m message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.enc.Encode(m); err != nil {
		w.err = err
		return err
	}
	w.err = w.bw.Flush()
	return w.err
}

func (w *wireWriter) Node(n geoetl.NodeRun) { _ = w.send(message{Type: msgNode, Node: &n}) }

func (w *wireWriter) Log(level, nodeID, msg string) {
	_ = w.send(message{Type: msgLog, Level: level, NodeID: nodeID, Message: msg})
}

func (w *wireWriter) result(o outcome) {
	// Hand the memory of a big run back to the system before saying it
	// is done, so that serve measures this worker low again and keeps it
	// for the next run. Small runs skip the cost of a full collection.
	if n, err := rss(os.Getpid()); err == nil && n > 64<<20 {
		debug.FreeOSMemory()
	}
	_ = w.send(message{Type: msgResult, Summary: toWireSummary(o.sum), Error: toWireError(o.err)})
}
