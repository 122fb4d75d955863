package api

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/bench"
)

// BenchmarkIngestHTTP measures durable ingest through the real server on
// loopback: 64 clients, each with one request in flight, 300-byte events,
// 1 and 100 events per request. events/s is the figure to compare; the
// load generator shares the machine's cores with the server.
func BenchmarkIngestHTTP(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("clients=64/batch=%d", batch), func(b *testing.B) {
			ts := newTestServer(b, nil)
			body := bench.Body(batch, 300, "bench.event", 1)
			client := &fasthttp.Client{MaxConnsPerHost: 80}
			var next atomic.Int64
			var wg sync.WaitGroup
			var lat []time.Duration
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			for c := 0; c < 64; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					defer fasthttp.ReleaseRequest(req)
					defer fasthttp.ReleaseResponse(resp)
					var local []time.Duration
					for next.Add(1) <= int64(b.N) {
						req.SetRequestURI(ts.url + "/v1/events")
						req.Header.SetMethod("POST")
						req.Header.SetContentType("application/json")
						req.SetBody(body)
						t0 := time.Now()
						if err := client.Do(req, resp); err != nil || resp.StatusCode() != 202 {
							b.Errorf("publish: %v %d %s", err, resp.StatusCode(), resp.Body())
							return
						}
						local = append(local, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
			if len(lat) > 0 {
				p50, p99 := quantiles(lat)
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			}
		})
	}
}

func quantiles(lat []time.Duration) (p50, p99 time.Duration) {
	s := append([]time.Duration(nil), lat...)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100]
}
