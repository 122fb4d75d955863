package api

import (
	_ "embed"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// healthz: the process is alive.
func (s *Server) healthz(ctx *fasthttp.RequestCtx, _ *Principal) error {
	return writeJSON(ctx, 200, map[string]string{"status": "ok"})
}

// readyz: the store is open, has not failed and has free space above its
// reserve (storage.min_free_bytes), and we are not shutting down.
func (s *Server) readyz(ctx *fasthttp.RequestCtx, _ *Principal) error {
	if err := s.store.Ready(); err != nil {
		e := toError(err)
		e.Detail = "not ready: " + e.Detail
		return e
	}
	return writeJSON(ctx, 200, map[string]string{"status": "ready"})
}

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(ctx *fasthttp.RequestCtx, _ *Principal) error {
	ctx.SetContentType("application/json")
	ctx.SetBody(openapiDoc)
	return nil
}

// metrics are hookd's Prometheus series, on a registry of their own.
type metrics struct {
	reg              *prometheus.Registry
	handler          fasthttp.RequestHandler
	ingestAccepted   prometheus.Counter
	ingestDuplicates prometheus.Counter
	ingestRejected   prometheus.Counter
	ackSeconds       prometheus.Histogram
}

func newMetrics(store Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.ingestAccepted = prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_ingest_events_total",
		Help: "Events durably stored.", ConstLabels: prometheus.Labels{"result": "accepted"}})
	m.ingestDuplicates = prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_ingest_events_total",
		Help: "Events durably stored.", ConstLabels: prometheus.Labels{"result": "duplicate"}})
	m.ingestRejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "hookd_ingest_rejected_requests_total",
		Help: "Publish requests refused for bad input."})
	m.ackSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_ingest_ack_seconds",
		Help:    "Time from a valid publish request to its synced commit.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1}})
	m.reg.MustRegister(m.ingestAccepted, m.ingestDuplicates, m.ingestRejected, m.ackSeconds,
		// The scheduler's series besides the defaults: how long runnable
		// goroutines waited for a CPU (go_sched_latencies_seconds) says
		// whether the machine is short of CPU, which is what holds
		// delivery latency when the store flushes or compacts.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookd_storage_lsm_bytes",
			Help: "Badger LSM size on disk."}, func() float64 { l, _ := store.Size(); return float64(l) }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookd_storage_vlog_bytes",
			Help: "Badger value log size on disk."}, func() float64 { _, v := store.Size(); return float64(v) }))
	}
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return m
}

func (s *Server) metricsHandler(ctx *fasthttp.RequestCtx, _ *Principal) error {
	s.metrics.handler(ctx)
	return nil
}
