package handlers

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/geoetl/geoetl"
)

// sseStream reads server-sent events from one response.
type sseStream struct {
	t    *testing.T
	res  *http.Response
	r    *bufio.Reader
	stop context.CancelFunc
}

// openStream connects to the events endpoint as the browser b.
func openStream(t *testing.T, b *browser, query string) *sseStream {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.env.http.URL+"/geoetl/events?"+query, nil)
	res, err := b.client.Do(req)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	s := &sseStream{t: t, res: res, r: bufio.NewReader(res.Body), stop: stop}
	t.Cleanup(func() { stop(); res.Body.Close() })
	return s
}

// next returns the next event's name and data, skipping comments.
func (s *sseStream) next() (string, string) {
	s.t.Helper()
	var name string
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading the stream: %v (so far: event %q, data %q)", err, name, data)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if name != "" || len(data) > 0 {
				return name, strings.Join(data, "\n")
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
}

// TestEvents_ScheduleStreamReplacesTheRunsAsTheyChange checks the stream
// behind a schedule's recent runs: the current rows at once (nothing is
// missed between page and stream), then fresh rows on each event of that
// schedule, as an out-of-band replacement of the table body.
func TestEvents_ScheduleStreamReplacesTheRunsAsTheyChange(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Live", "0 2 * * *", w)
	other := env.schedule("Other", "0 3 * * *", w)
	b := env.signedIn("viewer")

	// The schedule page points its live region at the stream.
	b.get("/geoetl/schedules/"+sc.ID, nil).has(`sse-connect="/geoetl/events?limit=10&amp;scheduleId=` + sc.ID + `"`)

	s := openStream(t, b, "scheduleId="+sc.ID+"&limit=10")
	if ct := s.res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	name, data := s.next()
	if name != "update" || !strings.Contains(data, `<tbody id="exec-rows" hx-swap-oob="true">`) || !strings.Contains(data, "No runs yet") {
		t.Fatalf("first event %q:\n%s", name, data)
	}
	e, err := env.svc.RunNow(ctx, env.admin, sc.ID, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	// An event of another schedule changes nothing here; the next update
	// must come from this schedule's event.
	env.events.publish(geoetl.ExecutionEvent{TenantID: env.tenant, ExecutionID: geoetl.NewID(), ScheduleID: other.ID, Status: geoetl.ExecRunning})
	env.events.publish(geoetl.ExecutionEvent{TenantID: env.tenant, ExecutionID: e.ID, ScheduleID: sc.ID, Status: geoetl.ExecPending})
	name, data = s.next()
	if name != "update" || !strings.Contains(data, `id="exec-`+e.ID+`"`) || !strings.Contains(data, "Pending") {
		t.Fatalf("after run now, event %q:\n%s", name, data)
	}
}

// TestEvents_ExecutionStreamEndsWhenTheRunFinishes checks the run page's
// stream: its live part at once, and a "done" event once the run is
// over, which closes the browser's connection (sse-close).
func TestEvents_ExecutionStreamEndsWhenTheRunFinishes(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	ctx := context.Background()
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Live", "0 2 * * *", w)
	e, err := env.svc.RunNow(ctx, env.admin, sc.ID, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	b := env.signedIn("viewer")
	b.get("/geoetl/executions/"+e.ID, nil).has(`sse-connect="/geoetl/events?executionId=`+e.ID+`"`, `sse-close="done"`)
	s := openStream(t, b, "executionId="+e.ID)
	name, data := s.next()
	if name != "update" || !strings.Contains(data, `<div id="exec-live" hx-swap-oob="true">`) || !strings.Contains(data, "Pending") {
		t.Fatalf("first event %q:\n%s", name, data)
	}
	if _, err := env.svc.CancelExecution(ctx, env.admin, e.ID); err != nil {
		t.Fatal(err)
	}
	env.events.publish(geoetl.ExecutionEvent{TenantID: env.tenant, ExecutionID: e.ID, ScheduleID: sc.ID, Status: geoetl.ExecCancelled})
	for {
		name, data = s.next()
		if name == "done" {
			break
		}
		if name != "update" {
			t.Fatalf("unexpected event %q", name)
		}
		if strings.Contains(data, "Cancelled") {
			continue
		}
	}
	// A finished run's page needs no stream at all.
	b.get("/geoetl/executions/"+e.ID, nil).lacks("sse-connect")
}

// TestEvents_ScheduleListStreamReplacesChangedRows checks the list's
// stream: a run's event brings that schedule's row, out of band.
func TestEvents_ScheduleListStreamReplacesChangedRows(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Listed", "0 2 * * *", w)
	b := env.signedIn("viewer")
	s := openStream(t, b, "")
	<-env.events.subscribed
	env.events.publish(geoetl.ExecutionEvent{TenantID: env.tenant, ExecutionID: geoetl.NewID(), ScheduleID: sc.ID, Status: geoetl.ExecRunning})
	name, data := s.next()
	if name != "update" || !strings.Contains(data, `<tr id="sched-row-`+sc.ID+`" hx-swap-oob="true">`) {
		t.Fatalf("event %q:\n%s", name, data)
	}
}

// TestEvents_OnlyTheCallersTenant checks that streams are scoped: another
// tenant's schedule or run is a 404, and the subscription is the caller's
// tenant's.
func TestEvents_OnlyTheCallersTenant(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Mine", "0 2 * * *", w)
	e, err := env.svc.RunNow(context.Background(), env.admin, sc.ID, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	g := env.signedIn("globexadmin")
	g.get("/geoetl/events?scheduleId="+sc.ID, nil).want(http.StatusNotFound)
	g.get("/geoetl/events?executionId="+e.ID, nil).want(http.StatusNotFound)
	g.get("/geoetl/events?scheduleId=not-an-id", nil).want(http.StatusNotFound)
	env.browser().get("/geoetl/events", nil).want(http.StatusSeeOther)

	openStream(t, g, "")
	<-env.events.subscribed
	env.events.mu.Lock()
	defer env.events.mu.Unlock()
	for _, tenant := range env.events.subs {
		if tenant != env.other {
			t.Errorf("a stream of globex subscribed to tenant %s", tenant)
		}
	}
}

// TestEvents_StreamOutlivesTheServersWriteTimeout checks that the stream
// clears the write deadline: a server with a short WriteTimeout still
// delivers an event published after that timeout has passed.
func TestEvents_StreamOutlivesTheServersWriteTimeout(t *testing.T) {
	t.Parallel()
	env := newConsoleEnv(t)
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Slow", "0 2 * * *", w)
	srv := httptest.NewUnstartedServer(env.srv)
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close) // after the stream's own clean-up, which ends the request
	b := env.signedIn("viewer")
	b.env = &consoleEnv{t: t, http: srv, srv: env.srv, events: env.events}
	s := openStream(t, b, "scheduleId="+sc.ID)
	s.next()
	// Publish only after the write timeout has passed.
	<-time.After(3 * srv.Config.WriteTimeout)
	env.events.publish(geoetl.ExecutionEvent{TenantID: env.tenant, ExecutionID: geoetl.NewID(), ScheduleID: sc.ID, Status: geoetl.ExecRunning})
	if name, _ := s.next(); name != "update" {
		t.Fatalf("event %q after the write timeout", name)
	}
}

// TestEvents_NoEventSourceMeansNoLiveRegion checks a server without an
// event source: pages render snapshots without a stream to connect to.
func TestEvents_NoEventSourceMeansNoLiveRegion(t *testing.T) {
	t.Parallel()
	env := newConsoleEnvWith(t, consoleOptions{noEvents: true})
	w := env.workflow("Parcels", paramWorkflow)
	sc := env.schedule("Static", "0 2 * * *", w)
	b := env.signedIn("viewer")
	b.get("/geoetl/schedules/"+sc.ID, nil).want(http.StatusOK).lacks("sse-connect")
	b.get("/geoetl/events", nil).want(http.StatusNotFound)
}
