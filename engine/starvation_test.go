package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hookd/wal"
)

// Webhooks that hang cannot starve a healthy webhook on the same
// host:port (fair.go): 200 webhooks whose receiver accepts and never
// answers share one destination of 64 connections with one healthy
// webhook, and the healthy one is delivered about as fast as alone.

// sharedHost is one receiver for every webhook of the test: /ok answers
// 204 at once and reports the receipt, /hang/… reads the request and
// holds it until the test ends.
type sharedHost struct {
	srv     *httptest.Server
	got     chan receipt
	hangs   chan struct{} // told of each hanging request
	release chan struct{}
	once    sync.Once
}

type receipt struct {
	msgID string
	at    time.Time
}

func newSharedHost(t *testing.T) *sharedHost {
	h := &sharedHost{got: make(chan receipt, 1000), hangs: make(chan struct{}, 1000), release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hang/") {
			h.hangs <- struct{}{}
			select {
			case <-h.release:
			case <-r.Context().Done():
			}
			return
		}
		at := time.Now()
		w.WriteHeader(http.StatusNoContent)
		h.got <- receipt{msgID: r.Header.Get("webhook-id"), at: at}
	}))
	return h
}

// close answers every held request, so that the engine's Close waits for
// no hanging attempt, and stops the server.
func (h *sharedHost) close() {
	h.once.Do(func() { close(h.release) })
	h.srv.Close()
}

// starvationRun delivers rounds of one event to a healthy webhook, first
// alone (the baseline), then with `hanging` webhooks on the same host
// whose 3 events each hang, and returns the latencies of both phases.
// The healthy webhook has one delivery before the baseline: a webhook
// that has never succeeded starts outside the slots kept for good
// standing, and this test is about one that was healthy when its
// neighbours began to hang.
func starvationRun(t *testing.T, hanging, rounds int) (base, mixed []time.Duration) {
	st, err := wal.Open(wal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// A minute: no hanging attempt ends while we measure, so the healthy
	// webhook's latency owes nothing to timeouts.
	eng := New(Options{Store: st, Dispatcher: NewDispatcher(DispatcherOptions{Timeout: time.Minute, MaxConnsPerHost: 64}),
		Core: CoreOptions{MaxInFlight: 64}})
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()); st.Close() })
	host := newSharedHost(t)
	t.Cleanup(host.close) // runs first: the hanging attempts end now

	add := func(path, typ string) {
		w := &wal.Webhook{ID: st.NewWebhookID(), Tenant: "acme", IsActive: true, URL: host.srv.URL + path,
			MaxBatchSize: 1, Events: []string{typ}, Secrets: []wal.Secret{{Value: GenerateSecret()}}}
		if err := st.CreateWebhook(w); err != nil {
			t.Fatal(err)
		}
		eng.WebhookChanged(w)
	}
	add("/ok", "healthy")
	for i := range hanging {
		add("/hang/"+strconv.Itoa(i), "hang."+strconv.Itoa(i))
	}

	deliver := func(round int) time.Duration {
		t.Helper()
		start := time.Now()
		res, err := st.Append("acme", []wal.EventInput{{Type: "healthy", Data: []byte(`{"round":` + strconv.Itoa(round) + `}`)}})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case rc := <-host.got:
			if rc.msgID != res.IDs[0].Text("evt_") {
				t.Fatalf("round %d: got %s, want %s", round, rc.msgID, res.IDs[0].Text("evt_"))
			}
			return rc.at.Sub(start)
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the healthy webhook's event is not delivered after 10s: starved by %d hanging neighbours", round, hanging)
			return 0
		}
	}
	deliver(-1) // good standing
	for i := range rounds {
		base = append(base, deliver(i))
	}

	var in []wal.EventInput
	for n := range 3 {
		for i := range hanging {
			in = append(in, wal.EventInput{Type: "hang." + strconv.Itoa(i), Data: []byte(`{"n":` + strconv.Itoa(n) + `}`)})
		}
	}
	if _, err := st.Append("acme", in); err != nil {
		t.Fatal(err)
	}
	// 48 = 64 − 64/4: what the hanging webhooks may hold together. (Before
	// fair sharing they held all 64.)
	for i := range 48 {
		select {
		case <-host.hangs:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d hanging requests arrived; want 48", i)
		}
	}
	for i := range rounds {
		mixed = append(mixed, deliver(i))
	}
	return base, mixed
}

func TestStarvationHangingWebhooksOnSharedHost(t *testing.T) {
	if testing.Short() {
		t.Skip("200 webhooks, 400 deliveries")
	}
	const hanging, rounds = 200, 200
	// The p99 of 200 samples is the third-slowest, so one scheduling
	// stall (other packages' tests on the same 2 cores) moves it by tens
	// of milliseconds; a baseline p99 of a few milliseconds gets an
	// absolute floor: the bound is max(2 × baseline, baseline + 50ms).
	// Each try measures both phases back to back; the property holds if
	// one try shows it. Starvation (the healthy webhook waiting for a
	// hanging attempt to end, here a minute) fails every try at once.
	const tries = 3
	for try := 1; try <= tries; try++ {
		var base, mixed []time.Duration
		t.Run("try", func(t *testing.T) { base, mixed = starvationRun(t, hanging, rounds) })
		if t.Failed() {
			return
		}
		slices.Sort(base)
		slices.Sort(mixed)
		bp99, mp99 := percentile(base, 0.99), percentile(mixed, 0.99)
		limit := max(2*bp99, bp99+50*time.Millisecond)
		t.Logf("try %d: healthy alone p50 %v p99 %v; with %d hanging neighbours p50 %v p99 %v (limit %v)",
			try, percentile(base, 0.5), bp99, hanging, percentile(mixed, 0.5), mp99, limit)
		if mp99 <= limit {
			return
		}
		msg := fmt.Sprintf("try %d: healthy p99 with hanging neighbours %v > max(2 × baseline, baseline + 50ms) = %v", try, mp99, limit)
		if try == tries {
			t.Error(msg)
		} else {
			t.Log(msg + "; measuring again")
		}
	}
}
