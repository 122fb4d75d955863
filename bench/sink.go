package bench

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Latencies are recorded in microseconds, from 1 µs to an hour, to three
// significant digits.
const (
	histMin  = 1
	histMax  = int64(time.Hour / time.Microsecond)
	histSigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigs) }

func recordDur(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	_ = h.RecordValue(min(max(us, histMin), histMax))
}

// SinkOptions shape the sink's answers.
type SinkOptions struct {
	Addr      string        // where to listen; "" = 127.0.0.1:0
	FailShare float64       // share of requests answered 500 (every 1/share-th)
	SlowShare float64       // share answered only after SlowDelay
	SlowDelay time.Duration // how slow a slow answer is
}

// Sink is the receiver hookd delivers to in the lab: a fasthttp server
// that counts what arrives for each bench webhook (path /w/<n>), reads
// each event's publish time ("t":<unix nanos>) and sequence number
// ("s":<n>) from the body, and keeps publish→receive latencies in HDR
// histograms. It answers 204, or 500 / late as SinkOptions say. Requests
// answered 500 count as attempts, not deliveries.
type Sink struct {
	o   SinkOptions
	ln  net.Listener
	srv *fasthttp.Server

	requests, failed atomic.Int64

	mu         sync.Mutex
	deliveries int64     // events received in 2xx answers, duplicates included
	unique     int64     // distinct (webhook, seq)
	seen       [][]uint8 // [webhook][seq] → times received (saturating)
	lat, win   *hdrhistogram.Histogram
	first      time.Time
	last       time.Time
	waiters    []waiter
}

type waiter struct {
	n  int64
	ch chan struct{}
}

// StartSink listens and serves until Close.
func StartSink(o SinkOptions) (*Sink, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: sink: %w", err)
	}
	s := newSink(o)
	s.ln = ln
	s.srv = &fasthttp.Server{Handler: s.handle, Concurrency: 1 << 16}
	go s.srv.Serve(ln)
	return s, nil
}

func newSink(o SinkOptions) *Sink {
	return &Sink{o: o, lat: newHist(), win: newHist()}
}

// Addr is host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// URL is the address a bench webhook n delivers to.
func (s *Sink) URL(n int) string { return fmt.Sprintf("http://%s/w/%d", s.Addr(), n) }

// Close stops serving.
func (s *Sink) Close() { _ = s.srv.Shutdown() }

// Until returns a channel closed once n distinct (webhook, seq) pairs
// have arrived.
func (s *Sink) Until(n int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.unique >= n {
		close(ch)
		return ch
	}
	s.waiters = append(s.waiters, waiter{n, ch})
	return ch
}

func (s *Sink) wake() {
	keep := s.waiters[:0]
	for _, w := range s.waiters {
		if s.unique >= w.n {
			close(w.ch)
		} else {
			keep = append(keep, w)
		}
	}
	s.waiters = keep
}

func (s *Sink) handle(ctx *fasthttp.RequestCtx) {
	now := time.Now()
	n := s.requests.Add(1)
	if every(s.o.FailShare, n, 0) {
		s.failed.Add(1)
		ctx.SetStatusCode(500)
		return
	}
	if every(s.o.SlowShare, n, 1) {
		time.Sleep(s.o.SlowDelay) // the slow receiver this sink plays
	}
	s.record(hookIndex(ctx.Path()), ctx.PostBody(), now)
	ctx.SetStatusCode(204)
}

// every picks one request in 1/share, deterministically: request n is
// picked when n+off is a multiple of round(1/share).
func every(share float64, n, off int64) bool {
	if share <= 0 {
		return false
	}
	k := int64(1/share + 0.5)
	return k <= 1 || (n+off)%k == 0
}

// hookIndex reads n from /w/<n>; anything else is webhook 0.
func hookIndex(path []byte) int {
	i := bytes.LastIndexByte(path, '/')
	n, err := strconv.Atoi(string(path[i+1:]))
	if err != nil || n < 0 || n > 1<<20 {
		return 0
	}
	return n
}

var (
	tKey = []byte(`"t":`)
	sKey = []byte(`"s":`)
)

// readInt parses the digits at the start of b.
func readInt(b []byte) (int64, int) {
	var v int64
	j := 0
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		v = v*10 + int64(b[j]-'0')
		j++
	}
	return v, j
}

// record counts the events of one delivered body received at now.
func (s *Sink) record(hook int, body []byte, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	for {
		i := bytes.Index(body, tKey)
		if i < 0 {
			break
		}
		body = body[i+len(tKey):]
		t, j := readInt(body)
		body = body[j:]
		seq := int64(-1)
		if bytes.HasPrefix(body, []byte(",")) && bytes.HasPrefix(body[1:], sKey) {
			body = body[1+len(sKey):]
			seq, j = readInt(body)
			body = body[j:]
		}
		d := now.Sub(time.Unix(0, t))
		recordDur(s.lat, d)
		recordDur(s.win, d)
		s.deliveries++
		if seq < 0 {
			continue
		}
		for hook >= len(s.seen) {
			s.seen = append(s.seen, nil)
		}
		row := s.seen[hook]
		if int64(len(row)) <= seq {
			row = append(row, make([]uint8, seq+1-int64(len(row))+int64(len(row)/2))...)
			s.seen[hook] = row
		}
		if row[seq] == 0 {
			s.unique++
		}
		if row[seq] < 255 {
			row[seq]++
		}
	}
	s.wake()
}

// SinkStats is a snapshot of what the sink received.
type SinkStats struct {
	Requests   int64 // HTTP requests, 500s included
	Failed     int64 // answered 500
	Deliveries int64 // events in 2xx answers, duplicates included
	Unique     int64 // distinct (webhook, seq)
	First      time.Time
	Last       time.Time
}

// Duplicates is how many events arrived more than once.
func (st SinkStats) Duplicates() int64 { return st.Deliveries - st.Unique }

// Stats reads the counters.
func (s *Sink) Stats() SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SinkStats{Requests: s.requests.Load(), Failed: s.failed.Load(), Deliveries: s.deliveries,
		Unique: s.unique, First: s.first, Last: s.last}
}

// Latency is a copy of the whole run's publish→receive histogram.
func (s *Sink) Latency() *hdrhistogram.Histogram {
	s.mu.Lock()
	defer s.mu.Unlock()
	return hdrhistogram.Import(s.lat.Export())
}

// Window returns the latencies recorded since the last call and starts a
// new window.
func (s *Sink) Window() *hdrhistogram.Histogram {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.win
	s.win = newHist()
	return w
}

// Received reports whether event seq reached webhook hook.
func (s *Sink) Received(hook int, seq int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return hook < len(s.seen) && seq < int64(len(s.seen[hook])) && s.seen[hook][seq] > 0
}

// Missing counts the seqs acked holds that never reached webhook hook.
func (s *Sink) Missing(hook int, acked []bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var row []uint8
	if hook < len(s.seen) {
		row = s.seen[hook]
	}
	var n int64
	for seq, a := range acked {
		if a && (seq >= len(row) || row[seq] == 0) {
			n++
		}
	}
	return n
}
