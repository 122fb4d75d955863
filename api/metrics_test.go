package api

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"hookd/config"
	"hookd/engine"
	"hookd/wal"
)

// newObservedServer is newDeliveryServer wired as serve.go wires it: the
// store reports to StoreMetrics, the server serves them, and the build's
// commit is known. engineOpts may set the clock, core options and logger.
func newObservedServer(t *testing.T, log *zap.Logger, engineOpts func(*engine.Options)) *deliveryServer {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Dir = t.TempDir()
	cfg.Delivery.AllowPrivateDestinations = true
	if log == nil {
		log = zap.NewNop()
	}
	sm := NewStoreMetrics()
	store, err := wal.Open(wal.Options{Dir: cfg.Storage.Dir, Observer: sm, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan attemptSeen, 1000)
	done := make(chan struct{})
	eo := engine.Options{Store: store, Logger: log, Dispatcher: engine.NewDispatcher(engine.DispatcherOptions{Timeout: 2 * time.Second}),
		OnAttempt: reportAttempts(ch, done)}
	if engineOpts != nil {
		engineOpts(&eo)
	}
	eng := engine.New(eo)
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Config: cfg, Store: store, Engine: eng, Logger: log, Version: "test", Commit: "abc1234", StoreMetrics: sm})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.http.Shutdown()
		eng.Close(context.Background())
		store.Close()
	})
	t.Cleanup(func() { close(done) })
	ts := &testServer{t: t, url: "http://" + ln.Addr().String(), store: store, eng: eng, cfg: cfg, srvHandler: srv.Handler(), srv: srv}
	return &deliveryServer{testServer: ts, attempts: ch}
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type scrape []sample

// scrapeMetrics reads /metrics.
func (ds *deliveryServer) scrapeMetrics(t *testing.T) scrape {
	t.Helper()
	r := ds.do("GET", "/metrics", nil)
	if r.status != 200 {
		t.Fatalf("GET /metrics = %d", r.status)
	}
	return parseMetrics(t, r.body)
}

func parseMetrics(t *testing.T, body []byte) scrape {
	t.Helper()
	var out scrape
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if sp < 0 || err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		s := sample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(s.name[i+1:], "}"), ",") {
				if k, val, ok := strings.Cut(kv, "="); ok {
					s.labels[k], _ = strconv.Unquote(val)
				}
			}
			s.name = s.name[:i]
		}
		out = append(out, s)
	}
	return out
}

// get sums the samples of name whose labels include the given pairs.
func (sc scrape) get(name string, labels ...string) float64 {
	v, _ := sc.find(name, labels...)
	return v
}

func (sc scrape) find(name string, labels ...string) (float64, bool) {
	var sum float64
	found := false
next:
	for _, s := range sc {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		sum += s.value
		found = true
	}
	return sum, found
}

// waitMetric polls /metrics until cond holds (the engine updates some
// series just after the attempt's record, which the test saw).
func (ds *deliveryServer) waitMetric(t *testing.T, what string, cond func(scrape) bool) scrape {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		sc := ds.scrapeMetrics(t)
		if cond(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline: nothing tells us
	}
}

// deadURL is a URL where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	return u
}

// Deliveries that succeed, fail, retry and expire move the series they
// should, and the waiting gauges follow a held receiver's backlog.
func TestMetricsFollowDeliveries(t *testing.T) {
	ds := newObservedServer(t, nil, nil)
	before := ds.scrapeMetrics(t)
	for _, name := range []string{"hookd_delivery_attempts_total", "hookd_delivery_attempt_duration_seconds_count",
		"hookd_delivery_latency_seconds_count", "hookd_delivery_retries_scheduled_total", "hookd_batches_ended_total",
		"hookd_open_batches", "hookd_events_waiting", "hookd_events_oldest_waiting_age_seconds", "hookd_webhooks",
		"hookd_operational_events_total", "hookd_wal_commit_group_ops_count", "hookd_wal_write_seconds_count",
		"hookd_wal_fsync_seconds_count", "hookd_storage_l0_tables", "hookd_storage_l0_tables_stall", "hookd_storage_failed",
		"go_sched_latencies_seconds_count", "hookd_storage_ready", "hookd_build_info"} {
		if _, ok := before.find(name); !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	if v := before.get("hookd_build_info", "version", "test", "commit", "abc1234"); v != 1 {
		t.Errorf("hookd_build_info{version=test,commit=abc1234} = %v, want 1", v)
	}
	if before.get("hookd_storage_failed") != 0 || before.get("hookd_storage_ready") != 1 {
		t.Errorf("storage failed %v ready %v, want 0 1", before.get("hookd_storage_failed"), before.get("hookd_storage_ready"))
	}

	ok, failing := newReceiver(t, 204), newReceiver(t, 500)
	ds.createHook(t, map[string]any{"url": ok.url, "events": []string{"ok"}})
	ds.createHook(t, map[string]any{"url": failing.url, "events": []string{"expire"}, "retry": map[string]any{"schedule": []string{"0s", "5ms"}}})
	ds.createHook(t, map[string]any{"url": failing.url, "events": []string{"retry"}, "retry": map[string]any{"schedule": []string{"0s", "1h"}}})
	ds.createHook(t, map[string]any{"url": deadURL(t), "events": []string{"refused"}, "retry": map[string]any{"schedule": []string{"0s"}}})
	ds.publish(t, `{"type":"ok","data":{"n":1}}`)
	ds.publish(t, `{"type":"expire","data":{"n":2}}`)
	ds.publish(t, `{"type":"retry","data":{"n":3}}`)
	ds.publish(t, `{"type":"refused","data":{"n":4}}`)
	// 1 success; 2 failures of the expiring batch; 1 of the retrying one; 1 refused.
	for i := 0; i < 5; i++ {
		ds.waitAttempt(t, "attempt "+strconv.Itoa(i+1), nil)
	}
	after := ds.waitMetric(t, "the attempts' counts", func(sc scrape) bool {
		return sc.get("hookd_delivery_attempts_total") == 5 && sc.get("hookd_batches_ended_total") == 3 &&
			sc.get("hookd_operational_events_total", "type", engine.TypeBatchExpired) == 2
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hookd_delivery_attempts_total", []string{"outcome", "succeeded", "status_class", "2xx"}, 1},
		{"hookd_delivery_attempts_total", []string{"outcome", "failed", "status_class", "5xx"}, 3},
		{"hookd_delivery_attempts_total", []string{"outcome", "failed", "status_class", "none"}, 1},
		{"hookd_delivery_attempt_errors_total", []string{"class", engine.ClassConnRefused}, 1},
		{"hookd_delivery_attempt_duration_seconds_count", nil, 5},
		{"hookd_delivery_latency_seconds_count", nil, 1},
		{"hookd_delivery_retries_scheduled_total", nil, 2}, // the expiring batch once, the retrying one once
		{"hookd_batches_ended_total", []string{"status", "delivered"}, 1},
		{"hookd_batches_ended_total", []string{"status", "expired"}, 2},
		{"hookd_open_batches", []string{"status", "retrying"}, 1},
		{"hookd_open_batches", []string{"status", "pending"}, 0},
		{"hookd_events_waiting", nil, 1}, // the retrying batch's event
		{"hookd_webhooks", []string{"health", "healthy"}, 1},
		{"hookd_webhooks", []string{"health", "degraded"}, 3},
		// Nobody subscribes to hookd.batch.expired: not stored.
		{"hookd_operational_events_total", []string{"type", engine.TypeBatchExpired, "result", "skipped"}, 2},
	} {
		if got := after.get(c.name, c.labels...) - before.get(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if after.get("hookd_wal_commit_group_ops_count") <= before.get("hookd_wal_commit_group_ops_count") ||
		after.get("hookd_wal_write_seconds_count") != after.get("hookd_wal_commit_group_ops_count") ||
		after.get("hookd_wal_fsync_seconds_count") <= before.get("hookd_wal_fsync_seconds_count") {
		t.Error("the commit group, write and fsync histograms did not move together")
	}
	if after.get("hookd_storage_l0_tables_stall") != 15 { // Badger's default, which hookd keeps
		t.Errorf("hookd_storage_l0_tables_stall = %v, want 15", after.get("hookd_storage_l0_tables_stall"))
	}
	if after.get("hookd_events_oldest_waiting_age_seconds") <= 0 {
		t.Error("hookd_events_oldest_waiting_age_seconds = 0 with an event waiting")
	}

	// A held receiver: what waits for it shows, per webhook too.
	held := newReceiver(t, 204)
	held.hold.Store(true)
	hook, _ := ds.createHook(t, map[string]any{"url": held.url, "events": []string{"held"}, "maxBatchSize": 1})
	ds.publish(t, `{"events":[{"type":"held","data":1},{"type":"held","data":2},{"type":"held","data":3}]}`)
	held.next(t) // the first is in flight
	sc := ds.waitMetric(t, "three events waiting for the held webhook", func(sc scrape) bool {
		return sc.get("hookd_webhook_events_waiting", "webhook_id", hook) == 3
	})
	if got := sc.get("hookd_events_waiting"); got != 4 {
		t.Errorf("hookd_events_waiting = %v, want 4", got)
	}
	if got := sc.get("hookd_open_batches", "status", "pending"); got != 3 {
		t.Errorf("pending open batches = %v, want 3", got)
	}
	if _, ok := sc.find("hookd_webhook_oldest_waiting_age_seconds", "webhook_id", hook, "tenant", "default"); !ok {
		t.Error("no hookd_webhook_oldest_waiting_age_seconds for the held webhook")
	}
	held.hold.Store(false)
	held.let()
	ds.waitMetric(t, "the held webhook's backlog to drain", func(sc scrape) bool {
		_, listed := sc.find("hookd_webhook_events_waiting", "webhook_id", hook)
		return !listed && sc.get("hookd_events_waiting") == 1 && sc.get("hookd_delivery_latency_seconds_count") == 4
	})
}

// Per-webhook series stay bounded: only the top webhooks by backlog.
func TestMetricsTopWebhooksBounded(t *testing.T) {
	ds := newObservedServer(t, nil, nil)
	held := newReceiver(t, 204)
	held.hold.Store(true)
	for i := 0; i < metricsTopWebhooks+5; i++ {
		ds.createHook(t, map[string]any{"url": held.url, "maxBatchSize": 1})
	}
	ds.publish(t, `{"type":"x","data":1}`)
	sc := ds.waitMetric(t, "every webhook's event waiting", func(sc scrape) bool {
		return sc.get("hookd_events_waiting") == metricsTopWebhooks+5
	})
	n := 0
	for _, s := range sc {
		if s.name == "hookd_webhook_events_waiting" {
			n++
		}
	}
	if n != metricsTopWebhooks {
		t.Errorf("%d hookd_webhook_events_waiting series, want %d", n, metricsTopWebhooks)
	}
}
