package wal

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppendFanout: 100-event appends from 16 producers fanned out to
// 10 webhooks (5 with no filter, 5 on the events' type) and to 1,000 (the
// fan-out's cost per webhook). events/s counts appended events.
func BenchmarkAppendFanout(b *testing.B) {
	for _, hooks := range []int{10, 1000} {
		b.Run(fmt.Sprintf("webhooks=%d", hooks), func(b *testing.B) {
			s := openTest(b, "")
			for i := range hooks {
				w := &Webhook{ID: s.NewWebhookID(), Tenant: "bench", URL: "http://x", IsActive: true, MaxBatchSize: 1}
				if i%2 == 1 {
					w.Events = []string{"bench.event"}
				}
				if err := s.CreateWebhook(w); err != nil {
					b.Fatal(err)
				}
			}
			data := []byte(fmt.Sprintf(`{"seq":1,"pad":"%0270d"}`, 0))
			in := make([]EventInput, 100)
			for i := range in {
				in[i] = EventInput{Type: "bench.event", Data: data}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Append("bench", in); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*len(in))/time.Since(start).Seconds(), "events/s")
		})
	}
}
