package scheduler

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// blockingNodeStore holds the first AppendNodeRuns until release is
// closed and then fails it, as a write in flight when shutdown begins
// fails when its connection goes.
type blockingNodeStore struct {
	geoetl.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (s *blockingNodeStore) AppendNodeRuns(ctx context.Context, nodes []*geoetl.NodeRun) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.entered)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.release:
			return errors.New("connection lost at shutdown")
		}
	}
	return s.Store.AppendNodeRuns(ctx, nodes)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStop_LogsNoErrorForWritesTheFinalDrainCompletes stops a scheduler
// while a node-run write is in flight: the write is cancelled and done
// again by the final drain, so the node runs are recorded and nothing is
// logged as an error.
func TestStop_LogsNoErrorForWritesTheFinalDrainCompletes(t *testing.T) {
	t.Parallel()
	b := setupSQLite(t)
	st := &blockingNodeStore{Store: b.store, entered: make(chan struct{}), release: make(chan struct{})}
	logs := &lockedBuffer{}
	s := b.start("i1", func(c *Config) {
		c.Store = st
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	sc := b.schedule(b.workflow(`{"nodes":[{"id":"a","type":"test.noop"}]}`), "0 0 1 1 *", nil)
	e := b.runNow(sc, nil, false)
	select {
	case <-st.entered:
	case <-time.After(testWait):
		t.Fatal("no node-run write started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	// The write fails once the stop has begun, so it is the shutdown that
	// interrupts it and the final drain that must write it again.
	go func() {
		w := s.runner.writer
		for {
			w.mu.Lock()
			closing := w.closing
			w.mu.Unlock()
			if closing {
				close(st.release)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	nodes, err := b.store.ExecutionNodes(ctx, b.tenant.ID, e.ID)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("node runs after stop: %v, %v; want the one recorded by the final drain", nodes, err)
	}
	if l := logs.String(); strings.Contains(l, "level=ERROR") {
		t.Errorf("shutdown logged errors for writes that succeeded:\n%s", l)
	}
}
