package api

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"hookd/bench"
	"hookd/config"
)

// BenchmarkDeliver measures end to end: publish through HTTP, fan out,
// batch, deliver to a local fasthttp sink. b.N is the number of events;
// deliveries/s counts (webhook, event) pairs received.
func BenchmarkDeliver(b *testing.B) {
	for _, c := range []struct{ size, hooks int }{{1, 1}, {100, 1}, {1, 100}, {100, 100}} {
		b.Run(fmt.Sprintf("maxBatchSize=%d/webhooks=%d", c.size, c.hooks), func(b *testing.B) {
			ts := newTestServer(b, func(cfg *config.Config) { cfg.Delivery.AllowPrivateDestinations = true })
			b.ResetTimer()
			r, err := bench.Deliver(context.Background(), bench.DeliverOptions{URL: ts.url, Webhooks: c.hooks,
				MaxBatchSize: c.size, Events: b.N, DataBytes: 300, Clients: benchClients()})
			if err != nil {
				b.Fatal(err)
			}
			if !r.Complete {
				b.Fatalf("incomplete: %s", r)
			}
			b.ReportMetric(r.PerSec(), "deliveries/s")
			b.ReportMetric(r.Published.Seconds(), "publish-s")
			b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
		})
	}
}

// benchClients is the number of publishers, from HOOKDTEST_CLIENTS (unset:
// bench.Deliver's default, 8). Not HOOKD_: hookd would read that as a
// setting.
func benchClients() int { n, _ := strconv.Atoi(os.Getenv("HOOKDTEST_CLIENTS")); return n }
