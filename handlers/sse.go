package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/geoetl/geoetl"
	"github.com/geoetl/geoetl/views"
)

// Timings of the live-update streams.
var (
	// sseKeepAlive is how often an idle stream sends a comment, so proxies
	// do not close it.
	sseKeepAlive = 15 * time.Second
	// sseRunningRefresh is how often a running execution's page is
	// refreshed (node counts and log grow without status events).
	sseRunningRefresh = time.Second
	// sseMaxLifetime ends every stream after a while; the browser
	// reconnects at once, and a server shutting down is not held up by
	// streams for longer than this.
	sseMaxLifetime = 5 * time.Minute
)

// handleConsoleEvents is GET /geoetl/events: server-sent events that keep a view
// current. Each "update" event carries HTML whose elements replace their
// twins on the page out of band (htmx-ext-sse swaps them):
//   - ?executionId=ID: the run page's live part; ends with a "done" event
//     when the run has finished.
//   - ?scheduleId=ID&limit=N[&status=S]: the first N rows of the
//     schedule's history.
//   - no parameter: the schedule list's rows, as their last runs change.
//
// The first update is sent at once, so nothing that happened between the
// page's render and the stream's start is missed.
func (s *Server) handleConsoleEvents(c echo.Context) error {
	if s.cfg.Events == nil {
		return echo.NewHTTPError(http.StatusNotFound, "Live updates are not available on this server.")
	}
	v, err := s.newLiveView(c)
	if err != nil {
		return err
	}
	events, cancel := s.cfg.Events.Subscribe(principal(c).TenantID)
	defer cancel()

	w := c.Response()
	// The server's write timeout would cut a long-lived stream.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil && !strings.Contains(err.Error(), "not supported") {
		s.log.Debug("sse: clearing the write deadline failed", "err", err)
	}
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Flush() // the browser learns at once that the stream is open

	ctx, stop := context.WithTimeout(c.Request().Context(), sseMaxLifetime)
	defer stop()
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	var refresh <-chan time.Time
	if v.executionID != "" {
		t := time.NewTicker(sseRunningRefresh)
		defer t.Stop()
		refresh = t.C
	}

	send := func() (done bool, err error) {
		comp, done, err := v.render(c)
		if err != nil {
			return false, err
		}
		if comp != nil {
			if err := writeEvent(ctx, w, "update", comp); err != nil {
				return false, err
			}
		}
		if done {
			_, err := fmt.Fprint(w, "event: done\ndata: done\n\n")
			w.Flush()
			return true, err
		}
		return false, nil
	}
	if done, err := send(); done || err != nil {
		return s.sseEnd(err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			relevant := v.wants(ev)
			// Drain what queued meanwhile: one render covers a burst.
			for more := true; more; {
				select {
				case ev2, ok2 := <-events:
					if !ok2 {
						more = false
					} else {
						relevant = relevant || v.wants(ev2)
					}
				default:
					more = false
				}
			}
			if relevant {
				if done, err := send(); done || err != nil {
					return s.sseEnd(err)
				}
			}
		case <-refresh:
			if done, err := send(); done || err != nil {
				return s.sseEnd(err)
			}
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		}
	}
}

// sseEnd ends a stream; once the stream has started, errors can only be
// logged.
func (s *Server) sseEnd(err error) error {
	if err != nil && !isClientGone(err) {
		s.log.Warn("sse: stream ended", "err", err)
	}
	return nil
}

func isClientGone(err error) bool {
	return err == context.Canceled || err == context.DeadlineExceeded || strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "connection reset")
}

// writeEvent renders comp into one SSE event, one data line per line.
func writeEvent(ctx context.Context, w *echo.Response, name string, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(ctx, &buf); err != nil {
		return err
	}
	var out bytes.Buffer
	out.WriteString("event: " + name + "\n")
	for _, line := range strings.Split(strings.ReplaceAll(buf.String(), "\r", ""), "\n") {
		out.WriteString("data: " + line + "\n")
	}
	out.WriteString("\n")
	if _, err := w.Write(out.Bytes()); err != nil {
		return err
	}
	w.Flush()
	return nil
}

// liveView is what one stream keeps current.
type liveView struct {
	s           *Server
	executionID string
	scheduleID  string
	status      string
	limit       int
	zone        string
	rowsFor     map[string]bool // list view: schedules whose rows changed
}

func (s *Server) newLiveView(c echo.Context) (*liveView, error) {
	ctx := c.Request().Context()
	p := principal(c)
	v := &liveView{s: s, zone: "UTC"}
	switch {
	case c.QueryParam("executionId") != "":
		id := c.QueryParam("executionId")
		if !geoetl.IsUUID(id) {
			return nil, geoetl.NotFound("Execution")
		}
		if _, err := s.svc.GetExecution(ctx, p, id); err != nil {
			return nil, err
		}
		v.executionID = strings.ToLower(id)
	case c.QueryParam("scheduleId") != "":
		id := c.QueryParam("scheduleId")
		if !geoetl.IsUUID(id) {
			return nil, geoetl.NotFound("Schedule")
		}
		sc, err := s.svc.GetSchedule(ctx, p, id)
		if err != nil {
			return nil, err
		}
		v.scheduleID, v.zone = sc.ID, sc.Timezone
		v.status = c.QueryParam("status")
		if v.status != "" && !geoetl.ExecutionStatus(v.status).Valid() {
			return nil, geoetl.Errorf(geoetl.EINVALID, "Unknown status %q.", v.status)
		}
		v.limit, _ = strconv.Atoi(c.QueryParam("limit"))
		if v.limit < 1 || v.limit > historyPageSize {
			v.limit = historyPageSize
		}
	default:
		v.rowsFor = map[string]bool{}
	}
	return v, nil
}

// wants reports whether an event changes what the view shows.
func (v *liveView) wants(ev geoetl.ExecutionEvent) bool {
	switch {
	case v.executionID != "":
		return strings.EqualFold(ev.ExecutionID, v.executionID)
	case v.scheduleID != "":
		return strings.EqualFold(ev.ScheduleID, v.scheduleID)
	default:
		if ev.ScheduleID != "" {
			v.rowsFor[strings.ToLower(ev.ScheduleID)] = true
			return true
		}
		return false
	}
}

// render returns the out-of-band HTML for the view's current state, and
// whether the stream is done (its execution has finished).
func (v *liveView) render(c echo.Context) (templ.Component, bool, error) {
	ctx := c.Request().Context()
	p := principal(c)
	pg := v.s.basePage(c, "", "")
	switch {
	case v.executionID != "":
		d, err := v.s.executionData(c, v.executionID)
		if err != nil {
			return nil, false, err
		}
		return views.ExecutionLive(pg, d, true), d.E.Status.Finished(), nil
	case v.scheduleID != "":
		execs, _, _, err := v.s.svc.ScheduleHistory(ctx, p, v.scheduleID, geoetl.ExecutionFilter{
			Status: geoetl.ExecutionStatus(v.status), Page: geoetl.Page{Limit: v.limit},
		})
		if err != nil {
			return nil, false, err
		}
		return views.ExecRows(pg, v.zone, execs, true), false, nil
	default:
		var rows []templ.Component
		for id := range v.rowsFor {
			sc, err := v.s.svc.GetSchedule(ctx, p, id)
			if geoetl.IsNotFound(err) {
				continue
			} else if err != nil {
				return nil, false, err
			}
			rows = append(rows, views.ScheduleRowOOB(pg, v.s.rowFor(c, sc)))
		}
		clear(v.rowsFor)
		if len(rows) == 0 {
			return nil, false, nil
		}
		return templ.Join(rows...), false, nil
	}
}
