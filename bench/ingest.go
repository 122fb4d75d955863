package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Body builds one publish request body of n events of about size bytes
// each, of type typ, numbered from seq (the api package's benchmarks use it).
func Body(n, size int, typ string, seq int64) []byte {
	filler := padding(size + 20)
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

// runIngest publishes as fast as hookd acknowledges, 1 and 100 events per
// request from 64 clients, with no webhook to deliver to: durable ingest
// alone; then the same load on the bare relay (ServeFloor), figures of
// their own. Ceiling: loopback HTTP with the same bodies and connections.
func runIngest(ctx context.Context, l *Lab) error {
	for _, batch := range dims(l.o.Batch, 1, 100) {
		name := fmt.Sprintf("%d/request, %d clients", batch, or(l.o.Clients, 64))
		t, c, stop, err := l.server(ctx)
		if err != nil {
			return err
		}
		err = ingestOnce(ctx, l, t, c, batch, name)
		stop()
		if err != nil {
			return err
		}
		if err := l.withRelay(ctx, func(t *target, c *Child) error {
			return ingestOnce(ctx, l, t, c, batch, name+", bare relay")
		}); err != nil {
			return err
		}
	}
	return nil
}

// ingestOnce runs one ingest load against t (c: its process, nil with
// --url).
func ingestOnce(ctx context.Context, l *Lab, t *target, c *Child, batch int, name string) error {
	var live atomic.Int64
	done := l.watch(name, time.Second, nil, c, &live)
	r := publish(ctx, t, pubOptions{Clients: or(l.o.Clients, 64), PerRequest: batch, Rate: l.o.Rate,
		Duration: or(l.o.Duration, 5*time.Second), DataBytes: or(l.o.DataBytes, eventBytes), Live: &live})
	done()
	var rss int64
	if c != nil {
		rss = c.RSS()
	}
	if r.Events == 0 {
		return fmt.Errorf("%s: no event acknowledged (%d errors; first: %s)", name, r.Errors, r.FirstError)
	}
	ceil := l.ceil.httpEvents(batch)
	l.fig(Figure{Name: name, Value: r.PerSec(), Unit: "events/s", Ceiling: ceil, CeilingOf: "loopback HTTP, same body, 64 conns"})
	l.fig(Figure{Name: name + ", ack p50", Value: ms(hq(r.Ack, 50)), Unit: "ms", Lower: true,
		Ceiling: ms(l.ceil.LatencyFloor()), CeilingOf: "fdatasync p50 + loopback RTT"})
	l.fig(Figure{Name: name + ", ack p99", Value: ms(hq(r.Ack, 99)), Unit: "ms", Lower: true,
		Ceiling: ms(l.ceil.LatencyFloor()), CeilingOf: "fdatasync p50 + loopback RTT"})
	if r.Errors > 0 {
		l.fig(Figure{Name: name + ", failed requests", Value: float64(r.Errors), Unit: "", Want: "0"})
		l.prog.note("  %s: %d requests failed, first: %s", name, r.Errors, r.FirstError)
	}
	if rss > 0 {
		l.fig(Figure{Name: name + ", RSS at the end", Value: float64(rss) / (1 << 20), Unit: "MiB"})
	}
	return nil
}
