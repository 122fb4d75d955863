package engine

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"hookd/wal"
)

// One hanging endpoint never delays the others: healthy webhooks are
// delivered as fast with a hundred hanging neighbours as alone.

// hangServer accepts connections, reads the request and never answers.
// One goroutine per listener, whatever the number of connections: it
// reads each new connection's first bytes itself, then keeps it open.
type hangServer struct {
	ln      net.Listener
	accepts chan<- struct{} // told of each connection
	done    chan struct{}   // closed when the accept loop has returned

	mu    sync.Mutex
	conns []net.Conn
}

func newHangServer(t *testing.T, accepts chan<- struct{}) *hangServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &hangServer{ln: ln, accepts: accepts, done: make(chan struct{})}
	go s.serve()
	return s
}

func (s *hangServer) url() string { return "http://" + s.ln.Addr().String() + "/hook" }

func (s *hangServer) serve() {
	defer close(s.done)
	var buf [4096]byte
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		// The request follows the connect at once; the deadline only
		// keeps a silent client from stalling the accept loop.
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		c.Read(buf[:])
		select {
		case s.accepts <- struct{}{}:
		default: // more than the test waits for
		}
	}
}

// close stops accepting and closes every held connection, so that the
// attempts waiting on them end now rather than at the timeout.
func (s *hangServer) close() {
	s.ln.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

type isoResult struct {
	p50, p99, max time.Duration
	held          int  // hanging connections held during the measurement
	timedOut      bool // a hanging attempt ended (timed out) before the measurement did
}

// isolationRun first publishes perHook events to each of hanging webhooks
// whose endpoints never answer, and waits until every one of those
// attempts holds a connection. Then it delivers perHook rounds of one
// event to each of healthy webhooks (fast 204s) and returns their
// publish-to-receipt latencies. With hanging = 0 it is the baseline: the
// same engine, the same healthy rounds, no neighbours.
//
// The hanging events go first, not interleaved with the healthy rounds:
// interleaved, each round carries 11× the events, and that extra work
// slows the healthy deliveries on 2 cores just as much when the 100
// neighbours answer at once (measured), so it would test throughput, not
// isolation from endpoints that hang.
func isolationRun(t *testing.T, healthy, hanging, perHook int) isoResult {
	r := newRig(t, "", CoreOptions{}) // dispatcher timeout 2s

	// Registered after the rig, so cleaned up before it: the engine's
	// Close then waits for no hanging attempt.
	accepts := make(chan struct{}, hanging*perHook+100)
	hangers := make([]*hangServer, hanging)
	for i := range hangers {
		hangers[i] = newHangServer(t, accepts)
	}
	t.Cleanup(func() {
		for _, h := range hangers {
			h.close()
		}
	})

	type receipt struct {
		msgID string
		at    time.Time
	}
	got := make(chan receipt, healthy*perHook+100)
	var servers []*httptest.Server
	for i := 0; i < healthy; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			at := time.Now()
			w.WriteHeader(http.StatusNoContent)
			got <- receipt{msgID: req.Header.Get("webhook-id"), at: at}
		}))
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
	}

	// Each webhook has its own event type, so routing is explicit.
	mk := func(url, typ string) {
		r.addHook(t, &wal.Webhook{URL: url, MaxBatchSize: 1, Events: []string{typ},
			Secrets: []wal.Secret{{Value: GenerateSecret()}}})
	}
	for i, srv := range servers {
		mk(srv.URL+"/hook", "iso.healthy."+strconv.Itoa(i))
	}
	for i, h := range hangers {
		mk(h.url(), "iso.hanging."+strconv.Itoa(i))
	}

	// The hanging neighbours: every attempt connects and then waits for
	// an answer that never comes, until the 2s timeout.
	if hanging > 0 {
		var in []wal.EventInput
		for n := 0; n < perHook; n++ {
			for i := 0; i < hanging; i++ {
				in = append(in, wal.EventInput{Type: "iso.hanging." + strconv.Itoa(i), Data: []byte(`{"n":` + strconv.Itoa(n) + `}`)})
			}
		}
		if _, err := r.store.Append("acme", in); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < hanging*perHook; i++ {
			select {
			case <-accepts:
			case <-time.After(10 * time.Second):
				t.Fatalf("%d of %d hanging attempts connected", i, hanging*perHook)
			}
		}
	}

	published := map[string]time.Time{} // evt_ id → when it was published
	var lat []time.Duration
	for round := 0; round < perHook; round++ {
		var in []wal.EventInput
		for i := 0; i < healthy; i++ {
			in = append(in, wal.EventInput{Type: "iso.healthy." + strconv.Itoa(i), Data: []byte(`{"round":` + strconv.Itoa(round) + `}`)})
		}
		start := time.Now()
		res, err := r.store.Append("acme", in)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range res.IDs {
			published[id.Text("evt_")] = start
		}
		// Wait for this round's deliveries before the next round, so each
		// sample is one event's latency, not a queue's.
		for i := 0; i < healthy; i++ {
			select {
			case rc := <-got:
				at, ok := published[rc.msgID]
				if !ok {
					t.Fatalf("round %d: unexpected or repeated delivery %q", round, rc.msgID)
				}
				delete(published, rc.msgID)
				lat = append(lat, rc.at.Sub(at))
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: %d of %d healthy deliveries", round, i, healthy)
			}
		}
	}

	slices.Sort(lat)
	res := isoResult{p50: percentile(lat, 0.50), p99: percentile(lat, 0.99), max: lat[len(lat)-1]}
	for _, h := range hangers {
		h.mu.Lock()
		res.held += len(h.conns)
		h.mu.Unlock()
	}
	// Healthy attempts succeed; a failed one is a hanging attempt that
	// timed out while we measured (a slow machine): reported, not fatal,
	// as its handling is part of what the healthy ones must not feel.
	for len(r.attempts) > 0 {
		if a := <-r.attempts; a.Status != wal.AttemptSucceeded {
			res.timedOut = true
		}
	}
	return res
}

// percentile returns the nearest-rank q-quantile of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func TestIsolationHangingEndpointsDoNotDelayHealthy(t *testing.T) {
	const (
		healthy = 10
		hanging = 100
		perHook = 20 // events to each webhook
	)
	// A p99 of 200 samples is the second-slowest delivery, so one
	// scheduling stall (another test package busy on the same 2 cores)
	// moves it by tens of milliseconds. Each try measures the baseline
	// and the mixed run back to back, so both see the same machine; the
	// property holds if one try shows it. Broken isolation (healthy
	// deliveries waiting behind 2s hanging attempts) fails every try.
	const tries = 4
	for try := 1; try <= tries; try++ {
		var base, mixed isoResult
		t.Run("baseline", func(t *testing.T) { base = isolationRun(t, healthy, 0, perHook) })
		t.Run("with-hanging", func(t *testing.T) { mixed = isolationRun(t, healthy, hanging, perHook) })
		if t.Failed() {
			return
		}
		t.Logf("try %d: healthy latency alone:            p50 %v  p99 %v  max %v", try, base.p50, base.p99, base.max)
		t.Logf("try %d: healthy latency with %d hanging: p50 %v  p99 %v  max %v (%d hanging connections held; a hanging attempt timed out meanwhile: %v)",
			try, hanging, mixed.p50, mixed.p99, mixed.max, mixed.held, mixed.timedOut)
		if mixed.held < hanging*perHook {
			t.Fatalf("hanging endpoints held %d connections, want %d", mixed.held, hanging*perHook)
		}
		// 2× the baseline, plus 20ms of slack: the baseline p99 is a few
		// milliseconds, and scheduling jitter alone would fail a pure ratio.
		limit := 2*base.p99 + 20*time.Millisecond
		if mixed.p99 <= limit {
			return
		}
		msg := fmt.Sprintf("try %d: healthy p99 with hanging neighbours %v > 2 × baseline %v + 20ms = %v", try, mixed.p99, base.p99, limit)
		if try == tries {
			t.Error(msg)
		} else {
			t.Log(msg + "; measuring again")
		}
	}
}
