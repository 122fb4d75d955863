package api

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"hookd/engine"
	"hookd/wal"
)

// Delivery, backlog, health and storage series. The engine keeps its own
// counters (atomic adds on the delivery path) and state; this collector
// reads both when /metrics is scraped. Labels are bounded: outcomes,
// status and error classes, statuses and types are fixed lists, and only
// the metricsTopWebhooks webhooks with the most waiting events get series
// of their own.

// metricsTopWebhooks is how many webhooks get per-webhook backlog series.
const metricsTopWebhooks = 10

var (
	descAttempts = prometheus.NewDesc("hookd_delivery_attempts_total",
		"Delivery attempts made (requests that left), by outcome (succeeded, failed, gone: 410) and response status class (none: no response).",
		[]string{"outcome", "status_class"}, nil)
	descAttemptErrors = prometheus.NewDesc("hookd_delivery_attempt_errors_total",
		"Delivery attempts that got no response, by error class.", []string{"class"}, nil)
	descAttemptSeconds = prometheus.NewDesc("hookd_delivery_attempt_duration_seconds",
		"Time from sending an attempt's request to its response (or error).", nil, nil)
	descLatency = prometheus.NewDesc("hookd_delivery_latency_seconds",
		"Per delivered event: time from its publication to the end of the attempt that delivered it (2xx).", nil, nil)
	descRetries = prometheus.NewDesc("hookd_delivery_retries_scheduled_total",
		"Failed attempts after which the batch was scheduled to be tried again.", nil, nil)
	descEnded = prometheus.NewDesc("hookd_batches_ended_total",
		"Batches closed, by final status.", []string{"status"}, nil)
	descOpen = prometheus.NewDesc("hookd_open_batches",
		"Open batches, by status (pending: not attempted yet; retrying).", []string{"status"}, nil)
	descWaiting = prometheus.NewDesc("hookd_events_waiting",
		"Events fanned out to a webhook and not delivered yet (queued or in an open batch), summed over webhooks.", nil, nil)
	descOldest = prometheus.NewDesc("hookd_events_oldest_waiting_age_seconds",
		"Age of the oldest event waiting for any webhook (0: none waits).", nil, nil)
	descHookWaiting = prometheus.NewDesc("hookd_webhook_events_waiting",
		"Events waiting for one webhook, for the 10 webhooks with the most.", []string{"tenant", "webhook_id"}, nil)
	descHookOldest = prometheus.NewDesc("hookd_webhook_oldest_waiting_age_seconds",
		"Age of the oldest event waiting for one webhook, for the 10 webhooks with the most waiting.", []string{"tenant", "webhook_id"}, nil)
	descHealth = prometheus.NewDesc("hookd_webhooks",
		"Webhooks by health (disabled: inactive).", []string{"health"}, nil)
	descOps = prometheus.NewDesc("hookd_operational_events_total",
		"hookd.* operational events, by type and what became of them (published, skipped: nobody subscribes, dropped: queue full, failed).",
		[]string{"type", "result"}, nil)
	descLogsSuppressed = prometheus.NewDesc("hookd_delivery_failure_logs_suppressed_total",
		"Failed-attempt log lines left out by the per-webhook rate limit.", nil, nil)
)

// engineCollector turns the engine's counters and state into series.
type engineCollector struct {
	eng Deliverer
	now func() time.Time
}

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAttempts, descAttemptErrors, descAttemptSeconds, descLatency, descRetries,
		descEnded, descOpen, descWaiting, descOldest, descHookWaiting, descHookOldest, descHealth, descOps, descLogsSuppressed} {
		ch <- d
	}
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	k := c.eng.Counters()
	for i, o := range engine.Outcomes {
		for j, sc := range engine.StatusClasses {
			ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(k.Attempts[i][j]), o, sc)
		}
	}
	for i, cl := range engine.ErrorClasses {
		ch <- prometheus.MustNewConstMetric(descAttemptErrors, prometheus.CounterValue, float64(k.AttemptErrors[i]), cl)
	}
	ch <- constHistogram(descAttemptSeconds, k.AttemptSeconds)
	ch <- constHistogram(descLatency, k.DeliverySeconds)
	ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(k.RetriesScheduled))
	for i, st := range engine.BatchEnds {
		ch <- prometheus.MustNewConstMetric(descEnded, prometheus.CounterValue, float64(k.BatchesEnded[i]), st)
	}
	for i, typ := range engine.OperationalTypes {
		for j, r := range engine.OperationalResults {
			ch <- prometheus.MustNewConstMetric(descOps, prometheus.CounterValue, float64(k.Operational[i][j]), typ, r)
		}
	}
	ch <- prometheus.MustNewConstMetric(descLogsSuppressed, prometheus.CounterValue, float64(k.FailureLogsSuppressed))

	s := c.eng.State(metricsTopWebhooks)
	now := c.now()
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return max(now.Sub(t).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.OpenPending), wal.BatchPending)
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.OpenRetrying), wal.BatchRetrying)
	ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(s.EventsWaiting))
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age(s.OldestWaiting))
	for _, h := range s.Top {
		id := h.Webhook.Text("wh_")
		ch <- prometheus.MustNewConstMetric(descHookWaiting, prometheus.GaugeValue, float64(h.Events), h.Tenant, id)
		ch <- prometheus.MustNewConstMetric(descHookOldest, prometheus.GaugeValue, age(h.Oldest), h.Tenant, id)
	}
	for i, hs := range engine.HealthStatuses {
		ch <- prometheus.MustNewConstMetric(descHealth, prometheus.GaugeValue, float64(s.WebhooksByHealth[i]), hs)
	}
}

func constHistogram(d *prometheus.Desc, h engine.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count(), h.Sum, buckets)
}

// StoreMetrics observes the store's commit groups and fsyncs (it is a
// wal.Observer): pass it as wal.Options.Observer and as
// Options.StoreMetrics, so that /metrics serves what it saw.
type StoreMetrics struct {
	groupOps     prometheus.Histogram
	groupRecords prometheus.Histogram
	write        prometheus.Histogram
	fsync        prometheus.Histogram
}

var _ wal.Observer = (*StoreMetrics)(nil)

// NewStoreMetrics returns an empty StoreMetrics.
func NewStoreMetrics() *StoreMetrics {
	sizes := []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384}
	return &StoreMetrics{
		groupOps: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_wal_commit_group_ops",
			Help: "Operations (publish requests, batch opens, attempt results, ...) written per group commit.", Buckets: sizes}),
		groupRecords: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_wal_commit_group_records",
			Help: "Records per group commit: events of publish requests, batches opened, one per other operation.", Buckets: sizes}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_wal_write_seconds",
			Help: "Time to write one commit group into the store, before its fsync. Every group behind it waits: " +
				"the slow ones are memtable or value-log rotations, and writes held while level 0 is full.",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .025, .05, .1, .25, 1}}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hookd_wal_fsync_seconds",
			Help:    "Time to fsync one written group (memtable log, and value log beside it).",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .025, .05, .1, .25, 1}}),
	}
}

// Committed implements wal.Observer.
func (m *StoreMetrics) Committed(ops, weight int, d time.Duration) {
	m.groupOps.Observe(float64(ops))
	m.groupRecords.Observe(float64(weight))
	m.write.Observe(d.Seconds())
}

// Synced implements wal.Observer.
func (m *StoreMetrics) Synced(d time.Duration) { m.fsync.Observe(d.Seconds()) }

// registerOps registers the delivery, storage and build series.
func (m *metrics) registerOps(o Options, now func() time.Time) {
	sm := o.StoreMetrics
	if sm == nil {
		sm = NewStoreMetrics() // not wired to the store: the series exist, empty
	}
	m.reg.MustRegister(sm.groupOps, sm.groupRecords, sm.write, sm.fsync)
	if o.Engine != nil {
		m.reg.MustRegister(engineCollector{eng: o.Engine, now: now})
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookd_build_info",
		Help:        "1, labelled with the build's version, commit and Go version.",
		ConstLabels: prometheus.Labels{"version": o.Version, "commit": o.Commit, "go": runtime.Version()}})
	build.Set(1)
	m.reg.MustRegister(build)
	if store := o.Store; store != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookd_storage_failed",
			Help: "1 when the store has failed (a commit or sync error: it refuses reads and writes until restart), else 0."},
			func() float64 { return b2f(store.Err() != nil) }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookd_storage_ready",
			Help: "1 when the store is open and writable with free space above its reserve (/readyz), else 0."},
			func() float64 { return b2f(store.Ready() == nil) }))
		if lsm, ok := store.(levelZero); ok {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookd_storage_l0_tables",
				Help: "Tables in Badger's level 0. At hookd_storage_l0_tables_stall, every write waits for a compaction."},
				func() float64 { n, _ := lsm.LevelZero(); return float64(n) }))
			_, stall := lsm.LevelZero() // an option: fixed while the store is open
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookd_storage_l0_tables_stall",
				Help: "The number of level-0 tables at which Badger holds every write until a compaction takes some out."},
				func() float64 { return float64(stall) }))
		}
	}
}

// levelZero is what a store with an LSM tree (wal.Store) reports of its
// level 0; a store without one (a clustered backend) need not.
type levelZero interface {
	LevelZero() (tables, stall int)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
