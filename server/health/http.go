package health

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Livez answers 200 while the process can serve HTTP. It never touches the
// database: a database outage must not get the pod restarted.
func Livez() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// Readyz answers 200 when the prober's verdict is ready and 503 otherwise,
// with the Status as JSON. It reads the last verdict; it does not probe.
func Readyz(p *Prober) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := p.Status()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if s.Ready {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	})
}

// Metrics holds the memory_server_* metrics on its own registry.
type Metrics struct {
	registry *prometheus.Registry
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// per tool: pre-resolved children, so recording a call takes no lock
	// on the vectors and allocates nothing.
	tools map[string]*toolMetrics
}

type toolMetrics struct {
	duration prometheus.Observer
	outcomes map[string]prometheus.Counter
}

// NewMetrics registers the tool-call metrics for tools × outcomes, the pool
// and readiness collector reading p (and its Store) at scrape time, and the
// Go and process collectors.
func NewMetrics(p *Prober, tools, outcomes []string) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memory_server_tool_calls_total", Help: "MCP tool calls by tool and outcome.",
		}, []string{"tool", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "memory_server_tool_duration_seconds", Help: "Time to run one MCP tool call (decode, transaction, encode).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"tool"}),
		tools: map[string]*toolMetrics{},
	}
	for _, t := range tools {
		tm := &toolMetrics{duration: m.duration.WithLabelValues(t), outcomes: map[string]prometheus.Counter{}}
		for _, o := range outcomes {
			tm.outcomes[o] = m.calls.WithLabelValues(t, o)
		}
		m.tools[t] = tm
	}
	m.registry.MustRegister(m.calls, m.duration, &poolCollector{p: p},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveToolCall records one call (it implements the mcp package's Observer).
func (m *Metrics) ObserveToolCall(tool, outcome string, d time.Duration) {
	if tm, ok := m.tools[tool]; ok {
		tm.duration.Observe(d.Seconds())
		if c, ok := tm.outcomes[outcome]; ok {
			c.Inc()
			return
		}
		m.calls.WithLabelValues(tool, outcome).Inc()
		return
	}
	m.duration.WithLabelValues(tool).Observe(d.Seconds())
	m.calls.WithLabelValues(tool, outcome).Inc()
}

// Registry is the metrics' registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

var (
	descConns     = prometheus.NewDesc("memory_server_pool_connections", "Connections of the backend pool by state.", []string{"state"}, nil)
	descMaxConns  = prometheus.NewDesc("memory_server_pool_max_connections", "Configured size of the backend pool.", nil, nil)
	descAcquires  = prometheus.NewDesc("memory_server_pool_acquires_total", "Successful connection acquires.", nil, nil)
	descEmpty     = prometheus.NewDesc("memory_server_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	descCanceled  = prometheus.NewDesc("memory_server_pool_canceled_acquires_total", "Acquires abandoned by deadline or cancellation.", nil, nil)
	descWait      = prometheus.NewDesc("memory_server_pool_acquire_wait_seconds_total", "Time spent waiting to acquire connections.", nil, nil)
	descBackendUp = prometheus.NewDesc("memory_server_backend_up", "1 if the last backend probe succeeded.", nil, nil)
	descReady     = prometheus.NewDesc("memory_server_ready", "1 if the server reports ready (probe verdict after hysteresis).", nil, nil)
)

// poolCollector reads Store.Stats and the prober at scrape time.
type poolCollector struct{ p *Prober }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descMaxConns, descAcquires, descEmpty, descCanceled, descWait, descBackendUp, descReady} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Status()
	st := s.Pool
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.Acquired), "acquired")
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.Constructing), "constructing")
	ch <- prometheus.MustNewConstMetric(descMaxConns, prometheus.GaugeValue, float64(st.MaxConnections))
	ch <- prometheus.MustNewConstMetric(descAcquires, prometheus.CounterValue, float64(st.AcquireCount))
	ch <- prometheus.MustNewConstMetric(descEmpty, prometheus.CounterValue, float64(st.EmptyAcquireCount))
	ch <- prometheus.MustNewConstMetric(descCanceled, prometheus.CounterValue, float64(st.CanceledAcquireCount))
	ch <- prometheus.MustNewConstMetric(descWait, prometheus.CounterValue, st.AcquireWaitSeconds)
	ch <- prometheus.MustNewConstMetric(descBackendUp, prometheus.GaugeValue, b2f(s.BackendUp))
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, b2f(s.Ready))
}
