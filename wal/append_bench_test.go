package wal

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends of 300-byte events, one event per
// call, with 1, 16 and 256 concurrent producers. events/s is the figure to
// compare (bench/BASELINE.md); ns/op is per event.
func BenchmarkAppend(b *testing.B) {
	for _, producers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) { benchAppend(b, producers, 1) })
	}
}

// BenchmarkAppendBatch measures 100-event appends from 16 producers.
func BenchmarkAppendBatch(b *testing.B) { benchAppend(b, 16, 100) }

// benchAppend runs b.N appends of perCall 300-byte events from producers
// goroutines and reports events/s.
func benchAppend(b *testing.B, producers, perCall int) {
	data := []byte(fmt.Sprintf(`{"seq":1,"pad":"%0270d"}`, 0))
	in := make([]EventInput, perCall)
	for i := range in {
		in[i] = EventInput{Type: "bench.event", Data: data}
	}
	s := openTest(b, "")
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := 0; p < producers; p++ {
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
	b.ReportMetric(float64(b.N*perCall)/time.Since(start).Seconds(), "events/s")
}
