package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Ceilings are what this machine does with nothing of hookd in the way,
// measured at the start of every lab run so ratios compare like with like.
type Ceilings struct {
	// Loopback HTTP through fasthttp in this process: requests/s with a
	// body of one event and of 100 events, from 64 connections, answered
	// with a 202 and a small JSON body; and one connection's round trip.
	HTTP1, HTTP100 float64
	RTT            time.Duration
	// write + fdatasync appended to a file next to the children's data:
	// commits/s of one event's bytes and of 100 events', by one writer
	// (a group commit's floor), their latency and CPU per commit.
	Fsync1, Fsync100   float64
	FsyncP50, FsyncP99 time.Duration
	FsyncCPU           time.Duration
	// Badger alone (badgerCommit), 64 writers: entries/s committed one a
	// transaction and 100 a transaction, synced by Badger's group commit.
	Badger1, Badger100 float64
	// A page fault on fresh anonymous memory, per page (0: not
	// measured on this system). Not a ceiling of any figure: what the
	// machine charges for memory hookd touches for the first time.
	Fault time.Duration
}

// LatencyFloor is one raw fsync and one loopback round trip: the least a
// durable publish and its delivery can add.
func (c Ceilings) LatencyFloor() time.Duration { return c.FsyncP50 + c.RTT }

// httpEvents is the loopback ceiling in events/s for requests of n
// events: measured for 1 and 100 only (0 for other sizes).
func (c Ceilings) httpEvents(n int) float64 {
	switch n {
	case 1:
		return c.HTTP1
	case ceilBigEvents:
		return c.HTTP100 * ceilBigEvents
	}
	return 0
}

// hq is the q-th percentile of a histogram of microseconds.
func hq(h *hdrhistogram.Histogram, q float64) time.Duration {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	if q >= 100 {
		return time.Duration(h.Max()) * time.Microsecond
	}
	return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
}

// Events per request the ceilings are measured with; the scenarios' sizes.
const (
	ceilClients   = 64
	eventBytes    = 300
	ceilBigEvents = 100
)

func measureCeilings(ctx context.Context, l *Lab) (Ceilings, error) {
	var c Ceilings
	var err error
	d := l.o.CeilingTime
	size := or(l.o.DataBytes, eventBytes)
	pad := padding(size)
	one := publishBody(nil, 1, time.Now(), 0, pad)
	big := publishBody(nil, ceilBigEvents, time.Now(), 0, pad)
	l.prog.set("ceilings: loopback HTTP, 1-event bodies")
	if c.HTTP1, _, err = loopback(ctx, one, ceilClients, d); err != nil {
		return c, err
	}
	l.prog.set("ceilings: loopback HTTP, 100-event bodies")
	if c.HTTP100, _, err = loopback(ctx, big, ceilClients, d); err != nil {
		return c, err
	}
	l.prog.set("ceilings: loopback round trip")
	if _, c.RTT, err = loopback(ctx, one, 1, d/2); err != nil {
		return c, err
	}
	l.prog.set("ceilings: write+fdatasync")
	f1, err := fsyncRate(ctx, l.tmp, len(one), d)
	if err != nil {
		return c, err
	}
	c.Fsync1, c.FsyncP50, c.FsyncP99, c.FsyncCPU = f1.perSec, f1.p50, f1.p99, f1.cpu
	f100, err := fsyncRate(ctx, l.tmp, len(big), d)
	if err != nil {
		return c, err
	}
	c.Fsync100 = f100.perSec
	l.prog.set("ceilings: Badger's group commit")
	if c.Badger1, err = badgerCommit(ctx, l.tmp, ceilClients, 1, size, d); err != nil {
		return c, err
	}
	if c.Badger100, err = badgerCommit(ctx, l.tmp, ceilClients, ceilBigEvents, size, d); err != nil {
		return c, err
	}
	l.prog.set("ceilings: page faults")
	c.Fault = faultCost()
	return c, nil
}

// runLimits reports the run's ceilings as figures of their own.
func runLimits(ctx context.Context, l *Lab) error {
	c := l.ceil
	l.fig(Figure{Name: "loopback HTTP, 1-event body, 64 conns", Value: c.HTTP1, Unit: "req/s"})
	l.fig(Figure{Name: "loopback HTTP, 100-event body, 64 conns", Value: c.HTTP100 * ceilBigEvents, Unit: "events/s"})
	l.fig(Figure{Name: "loopback round trip, 1 conn, p50", Value: ms(c.RTT), Unit: "ms"})
	l.fig(Figure{Name: "write+fdatasync, 1 event", Value: c.Fsync1, Unit: "commits/s"})
	l.fig(Figure{Name: "write+fdatasync, 100 events", Value: c.Fsync100, Unit: "commits/s"})
	l.fig(Figure{Name: "write+fdatasync p50", Value: ms(c.FsyncP50), Unit: "ms"})
	l.fig(Figure{Name: "write+fdatasync p99", Value: ms(c.FsyncP99), Unit: "ms"})
	l.fig(Figure{Name: "CPU per write+fdatasync", Value: ms(c.FsyncCPU), Unit: "CPU-ms"})
	l.fig(Figure{Name: "Badger group commit, 1 entry a transaction, 64 writers", Value: c.Badger1, Unit: "events/s"})
	l.fig(Figure{Name: "Badger group commit, 100 entries a transaction, 64 writers", Value: c.Badger100, Unit: "events/s"})
	if c.Fault > 0 {
		l.fig(Figure{Name: "page fault, fresh anonymous memory", Value: float64(c.Fault) / float64(time.Microsecond), Unit: "µs/page"})
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loopback serves body-sized requests to itself from conns connections
// for d: requests/s, and the median round trip.
func loopback(ctx context.Context, body []byte, conns int, d time.Duration) (float64, time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, fmt.Errorf("bench: loopback: %w", err)
	}
	answer := []byte(`{"ids":["evt_00000000000000000000000000"]}`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_ = len(ctx.PostBody())
		ctx.SetStatusCode(202)
		ctx.SetContentType("application/json")
		ctx.SetBody(answer)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	client := &fasthttp.Client{MaxConnsPerHost: conns + 4}
	url := "http://" + ln.Addr().String() + "/v1/events"
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	h := newHist()
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			local := newHist()
			for ctx.Err() == nil {
				req.Reset()
				req.SetRequestURI(url)
				req.Header.SetMethod("POST")
				req.Header.SetContentType("application/json")
				req.SetBody(body)
				t0 := time.Now()
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 202 {
					continue
				}
				recordDur(local, time.Since(t0))
				n.Add(1)
			}
			mu.Lock()
			h.Merge(local)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return rate(n.Load(), time.Since(start)), time.Duration(h.ValueAtQuantile(50)) * time.Microsecond, nil
}

type fsyncResult struct {
	perSec   float64
	p50, p99 time.Duration
	cpu      time.Duration
}

// fsyncRate appends size bytes and fdatasyncs, one writer, for d: the
// rate a group commit of that size can reach, its latency and its CPU
// (this thread's, from getrusage).
func fsyncRate(ctx context.Context, dir string, size int, d time.Duration) (fsyncResult, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return fsyncResult{}, fmt.Errorf("bench: fsync probe: %w", err)
	}
	defer os.Remove(filepath.Clean(f.Name()))
	defer f.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	h := newHist()
	cpu0 := threadCPU()
	start := time.Now()
	n := 0
	for ; (time.Since(start) < d || n < 20) && ctx.Err() == nil; n++ {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return fsyncResult{}, fmt.Errorf("bench: fsync probe: %w", err)
		}
		if err := fdatasync(f); err != nil {
			return fsyncResult{}, fmt.Errorf("bench: fsync probe: %w", err)
		}
		recordDur(h, time.Since(t0))
	}
	el := time.Since(start)
	cpu := threadCPU() - cpu0
	return fsyncResult{perSec: rate(int64(n), el), p50: time.Duration(h.ValueAtQuantile(50)) * time.Microsecond,
		p99: time.Duration(h.ValueAtQuantile(99)) * time.Microsecond, cpu: cpu / time.Duration(max(n, 1))}, nil
}
