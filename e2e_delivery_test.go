package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// counter is a local receiver for end-to-end delivery tests: it counts
// every event id each webhook path receives and tells waiters when every
// expected event has arrived at least once.
type counter struct {
	url      string
	failRate float64

	mu       sync.Mutex
	seen     map[string]map[string]int // path → event id → deliveries
	want     int                       // distinct events expected per path
	paths    int
	complete chan struct{}
	done     bool
	requests int
	failed   int
}

func newCounter(t *testing.T, paths, want int, failRate float64) *counter {
	c := &counter{seen: map[string]map[string]int{}, want: want, paths: paths, failRate: failRate, complete: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c.url = "http://" + ln.Addr().String()
	return c
}

// deliveryIDs are the event ids of one delivery's body, in both shapes:
// one event ({"id",...}) or a batch ({"batchId","events":[{"id"},...]}).
func deliveryIDs(body []byte) ([]string, error) {
	var b struct {
		ID     string `json:"id"`
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	var ids []string
	if b.ID != "" {
		ids = append(ids, b.ID)
	}
	for _, e := range b.Events {
		ids = append(ids, e.ID)
	}
	return ids, nil
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.requests++
	if c.failRate > 0 && rand.Float64() < c.failRate {
		c.failed++
		c.mu.Unlock()
		w.WriteHeader(500)
		return
	}
	c.mu.Unlock()
	ids, err := deliveryIDs(body)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	c.mu.Lock()
	m := c.seen[r.URL.Path]
	if m == nil {
		m = map[string]int{}
		c.seen[r.URL.Path] = m
	}
	for _, id := range ids {
		m[id]++
	}
	if !c.done && len(c.seen) == c.paths {
		full := true
		for _, m := range c.seen {
			if len(m) < c.want {
				full = false
				break
			}
		}
		if full {
			c.done = true
			close(c.complete)
		}
	}
	c.mu.Unlock()
	w.WriteHeader(204)
}

// wait blocks until every path saw every event, or fails after limit.
func (c *counter) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-c.complete:
	case <-time.After(limit):
		c.mu.Lock()
		defer c.mu.Unlock()
		var got []string
		for p, m := range c.seen {
			got = append(got, fmt.Sprintf("%s:%d", p, len(m)))
		}
		t.Fatalf("not every event delivered within %s: want %d per path on %d paths, got %v", limit, c.want, c.paths, got)
	}
}

// stats returns distinct events and duplicate deliveries over all paths.
func (c *counter) stats() (distinct, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.seen {
		for _, n := range m {
			distinct++
			dups += n - 1
		}
	}
	return
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	r, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var m map[string]any
	json.NewDecoder(r.Body).Decode(&m)
	if r.StatusCode/100 != 2 {
		t.Fatalf("POST %s = %d %v", url, r.StatusCode, m)
	}
	return m
}

// publish sends n events in requests of 100 and returns their ids.
func publish(t *testing.T, base string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i += 100 {
		var evs []string
		for k := i; k < min(i+100, n); k++ {
			evs = append(evs, fmt.Sprintf(`{"type":"order.created","data":{"n":%d}}`, k))
		}
		m := postJSON(t, base+"/v1/events", `{"events":[`+strings.Join(evs, ",")+`]}`)
		for _, id := range m["ids"].([]any) {
			ids = append(ids, id.(string))
		}
	}
	return ids
}

func createHooks(t *testing.T, base, receiver string, n, size int) []string {
	var ids []string
	for i := 0; i < n; i++ {
		m := postJSON(t, base+"/v1/webhooks", fmt.Sprintf(`{"url":"%s/hook/%d","maxBatchSize":%d}`, receiver, i, size))
		ids = append(ids, m["id"].(string))
	}
	return ids
}

var e2eEnv = []string{"HOOKD_DELIVERY_ALLOW_PRIVATE_DESTINATIONS=true"}

// TestDeliveryExactlyOnce: 10,000 events to 10 webhooks, healthy receiver,
// maxBatchSize 1 and 100: every event reaches every webhook exactly once.
func TestDeliveryExactlyOnce(t *testing.T) {
	for _, size := range []int{1, 100} {
		t.Run(fmt.Sprintf("maxBatchSize=%d", size), func(t *testing.T) {
			const hooks, events = 10, 10000
			rc := newCounter(t, hooks, events, 0)
			p := startHookdEnv(t, t.TempDir(), e2eEnv)
			createHooks(t, p.url, rc.url, hooks, size)
			start := time.Now()
			publish(t, p.url, events)
			rc.wait(t, 90*time.Second)
			distinct, dups := rc.stats()
			t.Logf("delivered %d (webhook, event) pairs in %s, %d duplicates, %d requests", distinct, time.Since(start).Round(time.Millisecond), dups, rc.requests)
			if distinct != hooks*events || dups != 0 {
				t.Errorf("distinct %d (want %d), duplicates %d (want 0)", distinct, hooks*events, dups)
			}
		})
	}
}

// TestDeliveryFlakyReceiver: a receiver that fails 30% of requests at
// random still gets everything at least once, and nothing expires.
func TestDeliveryFlakyReceiver(t *testing.T) {
	const hooks, events = 10, 2000
	rc := newCounter(t, hooks, events, 0.3)
	env := append([]string{"HOOKD_DELIVERY_RETRY_SCHEDULE=0s,10ms,20ms,50ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"}, e2eEnv...)
	p := startHookdEnv(t, t.TempDir(), env)
	ids := createHooks(t, p.url, rc.url, hooks, 10)
	publish(t, p.url, events)
	rc.wait(t, 90*time.Second)
	distinct, dups := rc.stats()
	t.Logf("delivered %d pairs, %d duplicates, %d requests of which %d failed", distinct, dups, rc.requests, rc.failed)
	for _, id := range ids {
		r, err := http.Get(p.url + "/v1/webhooks/" + id + "/batches?status=expired")
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Results []any }
		json.NewDecoder(r.Body).Decode(&page)
		r.Body.Close()
		if len(page.Results) != 0 {
			t.Errorf("webhook %s has %d expired batches", id, len(page.Results))
		}
	}
}

// TestKill9DuringDelivery kills hookd while batches are being retried and
// while events are still being batched, restarts it on the same data and
// checks every acknowledged event is delivered.
func TestKill9DuringDelivery(t *testing.T) {
	const hooks, events = 3, 3000
	rc := newCounter(t, hooks, events, 0.5)
	dir := t.TempDir()
	env := append([]string{"HOOKD_DELIVERY_RETRY_SCHEDULE=0s,20ms,50ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"}, e2eEnv...)
	p := startHookdEnv(t, dir, env)
	postJSON(t, p.url+"/v1/webhooks", fmt.Sprintf(`{"url":"%s/hook/0","maxBatchSize":1}`, rc.url))
	postJSON(t, p.url+"/v1/webhooks", fmt.Sprintf(`{"url":"%s/hook/1","maxBatchSize":50}`, rc.url))
	postJSON(t, p.url+"/v1/webhooks", fmt.Sprintf(`{"url":"%s/hook/2","maxBatchSize":100,"maxBatchTimeDelay":"200ms"}`, rc.url))
	acked := publish(t, p.url, events)
	p.kill() // mid-delivery: retries pending, batches open, queues non-empty
	rc.mu.Lock()
	before := rc.requests
	rc.failRate = 0.2
	rc.mu.Unlock()
	p2 := startHookdEnv(t, dir, env)
	_ = p2
	rc.wait(t, 90*time.Second)
	distinct, dups := rc.stats()
	t.Logf("acked %d events × %d webhooks; delivered %d pairs, %d duplicates; %d requests before the kill",
		len(acked), hooks, distinct, dups, before)
	if distinct != hooks*len(acked) {
		t.Errorf("lost %d deliveries", hooks*len(acked)-distinct)
	}
}
