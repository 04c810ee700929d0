// Package metrics defines the Prometheus metrics of an instance. Every name
// starts with geoetl_. The scheduler and the notifier record into one
// *Metrics; the HTTP server exposes its registry at /metrics.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors. A nil *Metrics is valid and records
// nothing, so packages can be used without metrics in tests.
type Metrics struct {
	Registry *prometheus.Registry

	// ExecutionsFinished counts executions by final status and trigger.
	ExecutionsFinished *prometheus.CounterVec
	// StartLateness is executedAt - scheduledAt of started executions.
	StartLateness prometheus.Histogram
	// Claims counts claim transactions and the occurrences they claimed.
	ClaimTransactions prometheus.Counter
	ClaimedExecutions *prometheus.CounterVec // by trigger
	SkippedExecutions *prometheus.CounterVec // by reason
	// QueueDepth is how many claimed executions wait for a worker here.
	QueueDepth prometheus.Gauge
	// Running is how many executions this instance is running.
	Running prometheus.Gauge
	// Deliveries counts notification attempts by channel and outcome.
	Deliveries *prometheus.CounterVec
	// HTTPRequests counts API and console requests by route and status.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration is the request latency by route.
	HTTPDuration *prometheus.HistogramVec
}

// New creates the collectors in a fresh registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		ExecutionsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geoetl_executions_finished_total", Help: "Executions that reached a final status, by status and trigger.",
		}, []string{"status", "trigger"}),
		StartLateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "geoetl_execution_start_lateness_seconds",
			Help:    "Time from an execution's occurrence (or due time) to its start.",
			Buckets: []float64{.001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		ClaimTransactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "geoetl_claim_transactions_total", Help: "Claim transactions committed by this instance.",
		}),
		ClaimedExecutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geoetl_claimed_executions_total", Help: "Executions claimed by this instance, by trigger.",
		}, []string{"trigger"}),
		SkippedExecutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geoetl_skipped_executions_total", Help: "Occurrences recorded as skipped, by reason.",
		}, []string{"reason"}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "geoetl_worker_queue_depth", Help: "Claimed executions waiting for a worker on this instance.",
		}),
		Running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "geoetl_executions_running", Help: "Executions running on this instance.",
		}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geoetl_notification_attempts_total", Help: "Notification delivery attempts, by channel and outcome (sent, retry, failed).",
		}, []string{"channel", "outcome"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geoetl_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "geoetl_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	r.MustRegister(m.ExecutionsFinished, m.StartLateness, m.ClaimTransactions, m.ClaimedExecutions,
		m.SkippedExecutions, m.QueueDepth, m.Running, m.Deliveries, m.HTTPRequests, m.HTTPDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "geoetl"}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Finished records a final execution status.
func (m *Metrics) Finished(status, trigger string) {
	if m != nil {
		m.ExecutionsFinished.WithLabelValues(status, trigger).Inc()
	}
}

// Started records how late an execution started, in seconds.
func (m *Metrics) Started(latenessSeconds float64) {
	if m != nil {
		m.StartLateness.Observe(latenessSeconds)
	}
}

// Claimed records one committed claim transaction and what it claimed.
func (m *Metrics) Claimed(byTrigger map[string]int) {
	if m == nil {
		return
	}
	m.ClaimTransactions.Inc()
	for t, n := range byTrigger {
		m.ClaimedExecutions.WithLabelValues(t).Add(float64(n))
	}
}

// Skipped records an occurrence recorded as skipped.
func (m *Metrics) Skipped(reason string) { m.SkippedN(reason, 1) }

// SkippedN records n skipped occurrences with reason: a miss record
// counts every occurrence it stands for.
func (m *Metrics) SkippedN(reason string, n int) {
	if m != nil {
		m.SkippedExecutions.WithLabelValues(reason).Add(float64(n))
	}
}

// SetQueue sets the worker queue depth and running count.
func (m *Metrics) SetQueue(queued, running int) {
	if m != nil {
		m.QueueDepth.Set(float64(queued))
		m.Running.Set(float64(running))
	}
}

// Delivery records a notification attempt.
func (m *Metrics) Delivery(channel, outcome string) {
	if m != nil {
		m.Deliveries.WithLabelValues(channel, outcome).Inc()
	}
}
