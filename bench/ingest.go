package bench

import (
	"context"
	"fmt"

	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// IngestOptions configure an ingest run.
type IngestOptions struct {
	URL       string        // base URL of hookd, e.g. http://127.0.0.1:8080
	Token     string        // bearer token, "" for auth.mode none
	Clients   int           // concurrent connections, each with one request in flight
	Batch     int           // events per request (1 = single-event body)
	DataBytes int           // approximate size of each event's JSON
	Duration  time.Duration // how long to send
	Rate      int           // events/s over all clients; 0 = as fast as acknowledged
	Type      string        // event type, default bench.event
}

// IngestResult is what a run measured.
type IngestResult struct {
	Events     int64
	Requests   int64
	Errors     int64
	Elapsed    time.Duration
	P50, P99   time.Duration
	Max        time.Duration
	FirstError string
}

// EventsPerSec is the acknowledged event rate.
func (r IngestResult) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

func (r IngestResult) String() string {
	s := fmt.Sprintf("%d events in %d requests in %.2fs: %.0f events/s, ack latency p50 %s p99 %s max %s, %d errors",
		r.Events, r.Requests, r.Elapsed.Seconds(), r.EventsPerSec(), r.P50.Round(10*time.Microsecond),
		r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond), r.Errors)
	if r.FirstError != "" {
		s += " (first: " + r.FirstError + ")"
	}
	return s
}

// Body builds one publish request body of n events of about size bytes each.
func Body(n, size int, typ string, seq int64) []byte {
	pad := size - 60
	if pad < 1 {
		pad = 1
	}
	filler := make([]byte, pad)
	for i := range filler {
		filler[i] = 'a' + byte(i%26)
	}
	one := func(b []byte, i int64) []byte {
		b = append(b, `{"type":"`...)
		b = append(b, typ...)
		b = append(b, `","data":{"seq":`...)
		b = strconv.AppendInt(b, i, 10)
		b = append(b, `,"pad":"`...)
		b = append(b, filler...)
		return append(b, `"}}`...)
	}
	if n == 1 {
		return one(nil, seq)
	}
	b := []byte(`{"events":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = one(b, seq+int64(i))
	}
	return append(b, "]}"...)
}

// Ingest runs the load and reports. It stops at Duration or when ctx ends.
func Ingest(ctx context.Context, o IngestOptions) (IngestResult, error) {
	if o.Clients <= 0 {
		o.Clients = 64
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.DataBytes <= 0 {
		o.DataBytes = 300
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Type == "" {
		o.Type = "bench.event"
	}
	client := &fasthttp.Client{MaxConnsPerHost: o.Clients + 8, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	body := Body(o.Batch, o.DataBytes, o.Type, 1)
	url := o.URL + "/v1/events"

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.Clients*o.Batch) / float64(o.Rate))
	}
	var (
		events, requests, errs atomic.Int64
		mu                     sync.Mutex
		lat                    []time.Duration
		firstErr               string
		wg                     sync.WaitGroup
	)
	start := time.Now()
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			local := make([]time.Duration, 0, 4096)
			next := time.Now().Add(time.Duration(c) * interval / time.Duration(o.Clients))
			for ctx.Err() == nil {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(d):
						}
						if ctx.Err() != nil {
							break
						}
					}
					next = next.Add(interval)
				}
				req.Reset()
				req.SetRequestURI(url)
				req.Header.SetMethod("POST")
				req.Header.SetContentType("application/json")
				if o.Token != "" {
					req.Header.Set("Authorization", "Bearer "+o.Token)
				}
				req.SetBody(body)
				t0 := time.Now()
				err := client.Do(req, resp)
				d := time.Since(t0)
				requests.Add(1)
				if err != nil || resp.StatusCode() != 202 {
					errs.Add(1)
					mu.Lock()
					if firstErr == "" {
						if err != nil {
							firstErr = err.Error()
						} else {
							firstErr = fmt.Sprintf("status %d: %.200s", resp.StatusCode(), resp.Body())
						}
					}
					mu.Unlock()
					continue
				}
				events.Add(int64(o.Batch))
				local = append(local, d)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	r := IngestResult{Events: events.Load(), Requests: requests.Load(), Errors: errs.Load(),
		Elapsed: time.Since(start), FirstError: firstErr}
	r.P50, r.P99, r.Max = percentiles(lat)
	return r, nil
}

func percentiles(lat []time.Duration) (p50, p99, max time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	return at(0.50), at(0.99), lat[len(lat)-1]
}

// MedianResult holds the per-figure medians of several runs.
type MedianResult struct {
	EventsPerSec float64
	P50, P99     time.Duration
}

// Median returns the median of each figure over ingest runs.
func Median(runs []IngestResult) MedianResult {
	return medians(runs, IngestResult.EventsPerSec, func(r IngestResult) (time.Duration, time.Duration) { return r.P50, r.P99 })
}

// MedianDeliver returns the median of each figure over delivery runs
// (EventsPerSec holds deliveries/s).
func MedianDeliver(runs []DeliverResult) MedianResult {
	return medians(runs, DeliverResult.PerSec, func(r DeliverResult) (time.Duration, time.Duration) { return r.P50, r.P99 })
}

func medians[R any](runs []R, rate func(R) float64, lat func(R) (time.Duration, time.Duration)) MedianResult {
	var rates []float64
	var p50, p99 []time.Duration
	for _, r := range runs {
		a, b := lat(r)
		rates, p50, p99 = append(rates, rate(r)), append(p50, a), append(p99, b)
	}
	slices.Sort(rates)
	slices.Sort(p50)
	slices.Sort(p99)
	mid := len(runs) / 2
	return MedianResult{EventsPerSec: rates[mid], P50: p50[mid].Round(10 * time.Microsecond), P99: p99[mid].Round(10 * time.Microsecond)}
}
