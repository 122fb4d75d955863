package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// DeliverOptions configure an end-to-end delivery run: a local sink
// receives what hookd delivers for webhooks this run creates.
type DeliverOptions struct {
	URL          string // hookd base URL (it must allow private destinations)
	Token        string
	Webhooks     int
	MaxBatchSize int
	Events       int // events to publish (each goes to every webhook)
	Rate         int // published events/s; 0 = as fast as acknowledged
	PerRequest   int // events per publish request, default 100 (1 when Rate is set low)
	Clients      int // concurrent publishers, default 8
	DataBytes    int
	Timeout      time.Duration // give up waiting for deliveries after this long
}

// DeliverResult is what a delivery run measured.
type DeliverResult struct {
	Deliveries int64 // (webhook, event) pairs received
	Requests   int64 // HTTP requests received by the sink
	Elapsed    time.Duration
	Published  time.Duration // from the first publish to the last acknowledgement
	P50, P99   time.Duration // publish → receive latency of an event
	Complete   bool
}

// PerSec is the delivered (webhook, event) pairs per second.
func (r DeliverResult) PerSec() float64 { return float64(r.Deliveries) / r.Elapsed.Seconds() }

func (r DeliverResult) String() string {
	return fmt.Sprintf("%d deliveries in %d requests in %.2fs (published in %.2fs): %.0f deliveries/s, latency p50 %s p99 %s, complete %v",
		r.Deliveries, r.Requests, r.Elapsed.Seconds(), r.Published.Seconds(), r.PerSec(), r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Complete)
}

// sink counts events from delivered bodies; each event's data carries
// "t":<unix nanos at publish>.
type sink struct {
	deliveries, requests atomic.Int64
	want                 int64
	done                 chan struct{}
	once                 sync.Once
	mu                   sync.Mutex
	lat                  []time.Duration
}

var tKey = []byte(`"t":`)

func (s *sink) handle(ctx *fasthttp.RequestCtx) {
	now := time.Now().UnixNano()
	s.requests.Add(1)
	body := ctx.PostBody()
	var local []time.Duration
	for {
		i := bytes.Index(body, tKey)
		if i < 0 {
			break
		}
		body = body[i+len(tKey):]
		j := 0
		for j < len(body) && body[j] >= '0' && body[j] <= '9' {
			j++
		}
		if t, err := strconv.ParseInt(string(body[:j]), 10, 64); err == nil {
			local = append(local, time.Duration(now-t))
		}
	}
	s.mu.Lock()
	s.lat = append(s.lat, local...)
	s.mu.Unlock()
	if s.deliveries.Add(int64(len(local))) >= s.want {
		s.once.Do(func() { close(s.done) })
	}
	ctx.SetStatusCode(204)
}

// Deliver creates the webhooks, publishes, and waits until the sink has
// every (webhook, event) pair or Timeout passes.
func Deliver(ctx context.Context, o DeliverOptions) (DeliverResult, error) {
	o.Webhooks = max(o.Webhooks, 1)
	o.MaxBatchSize = max(o.MaxBatchSize, 1)
	o.Events = max(o.Events, 1)
	if o.PerRequest <= 0 {
		o.PerRequest = 100
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	o.DataBytes = max(o.DataBytes, 100)
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	s := &sink{want: int64(o.Webhooks) * int64(o.Events), done: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return DeliverResult{}, err
	}
	srv := &fasthttp.Server{Handler: s.handle}
	go srv.Serve(ln)
	defer srv.Shutdown()

	client := &fasthttp.Client{MaxConnsPerHost: o.Clients + 4}
	do := func(method, path string, body []byte) ([]byte, int, error) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(o.URL + path)
		req.Header.SetMethod(method)
		req.Header.SetContentType("application/json")
		if o.Token != "" {
			req.Header.Set("Authorization", "Bearer "+o.Token)
		}
		req.SetBody(body)
		if err := client.DoTimeout(req, resp, 30*time.Second); err != nil {
			return nil, 0, err
		}
		return append([]byte(nil), resp.Body()...), resp.StatusCode(), nil
	}
	// The run's webhooks subscribe to their own event type and are deleted
	// at the end, so runs against one server do not feed each other's
	// (by then dead) sinks.
	typ := fmt.Sprintf("bench.deliver.%d", time.Now().UnixNano())
	var hooks []string
	defer func() {
		for _, id := range hooks {
			do("DELETE", "/v1/webhooks/"+id, nil)
		}
	}()
	for i := 0; i < o.Webhooks; i++ {
		b, code, err := do("POST", "/v1/webhooks", fmt.Appendf(nil, `{"url":"http://%s/w/%d","maxBatchSize":%d,"events":[%q]}`, ln.Addr(), i, o.MaxBatchSize, typ))
		if err != nil || code != 201 {
			return DeliverResult{}, fmt.Errorf("create webhook: %d %s %v", code, b, err)
		}
		var w struct{ ID string }
		_ = json.Unmarshal(b, &w)
		hooks = append(hooks, w.ID)
	}
	pad := bytes.Repeat([]byte("x"), o.DataBytes-60)
	start := time.Now()
	var sent atomic.Int64
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.PerRequest*o.Clients) / float64(o.Rate))
	}
	var wg sync.WaitGroup
	var pubErr atomic.Value
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			next := time.Now().Add(time.Duration(c) * interval / time.Duration(o.Clients))
			for ctx.Err() == nil {
				first := sent.Add(int64(o.PerRequest)) - int64(o.PerRequest)
				if first >= int64(o.Events) {
					return
				}
				n := min(int64(o.PerRequest), int64(o.Events)-first)
				if interval > 0 {
					time.Sleep(time.Until(next)) // pacing the publisher, not waiting for a result
					next = next.Add(interval)
				}
				b := []byte(`{"events":[`)
				t := time.Now().UnixNano()
				for k := int64(0); k < n; k++ {
					if k > 0 {
						b = append(b, ',')
					}
					// Appended by hand: fmt would cost the load generator a
					// good share of the two cores it shares with hookd.
					b = append(b, `{"type":"`...)
					b = append(b, typ...)
					b = append(b, `","data":{"t":`...)
					b = strconv.AppendInt(b, t, 10)
					b = append(b, `,"pad":"`...)
					b = append(b, pad...)
					b = append(b, `"}}`...)
				}
				b = append(b, "]}"...)
				if body, code, err := do("POST", "/v1/events", b); err != nil || code != 202 {
					pubErr.Store(fmt.Errorf("publish: %d %s %v", code, body, err))
					return
				}
			}
		}(c)
	}
	wg.Wait()
	if e, _ := pubErr.Load().(error); e != nil {
		return DeliverResult{}, e
	}
	r := DeliverResult{Published: time.Since(start)}
	select {
	case <-s.done:
		r.Complete = true
	case <-time.After(o.Timeout):
	case <-ctx.Done():
	}
	r.Elapsed = time.Since(start)
	r.Deliveries, r.Requests = s.deliveries.Load(), s.requests.Load()
	s.mu.Lock()
	r.P50, r.P99, _ = percentiles(s.lat)
	s.mu.Unlock()
	return r, nil
}
