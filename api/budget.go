package api

import (
	"errors"
	"io"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// bodyBudget counts the request-body bytes held in memory at once, over all
// connections (server.body_budget_bytes). A request takes its share before
// its body is read and gives it back when its handler is done; one that
// does not fit is refused, so buffered bodies never grow past the limit.
type bodyBudget struct {
	limit int64
	used  atomic.Int64
}

// take reserves n bytes, or reports false and reserves nothing.
func (b *bodyBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *bodyBudget) give(n int64) { b.used.Add(-n) }

// fits reports whether n bytes could be taken now (a hint: a later take may
// still fail).
func (b *bodyBudget) fits(n int64) bool { return b.used.Load()+n <= b.limit }

// inUse is what is taken now.
func (b *bodyBudget) inUse() int64 { return b.used.Load() }

// gauge exports what is taken, for /metrics.
func (b *bodyBudget) gauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hookd_request_body_bytes_buffered",
		Help: "Request-body bytes held in memory now, against server.body_budget_bytes."},
		func() float64 { return float64(b.inUse()) })
}

// chunkStep is how much of the budget a chunked body takes at a time: its
// length is not declared, so it grows its share as it arrives.
const chunkStep = 64 << 10

var (
	errBusy = &Error{Status: 503, Code: codeUnavailable, RetryAfter: 1,
		Detail: "too many request bodies in flight (server.body_budget_bytes); retry shortly"}
	errBodyTooLarge = &Error{Status: 413, Code: codeTooLarge, Detail: "request body exceeds server.max_body_bytes"}
	errBodyCut      = &Error{Status: 400, Code: codeBadRequest, Detail: "request body ended early or arrived too slowly (server.read_timeout)"}
)

// readBody reads the streamed request body into memory within
// server.max_body_bytes and the body budget, and hands it to the request
// (ctx.PostBody sees it). The returned func gives the budget and the buffer
// back: call it once the handler is done with the body. On error nothing
// is held, and the rest of the body is left unread.
func (s *Server) readBody(ctx *fasthttp.RequestCtx) (func(), error) {
	n := ctx.Request.Header.ContentLength()
	if !ctx.Request.IsBodyStream() || n == 0 {
		return func() {}, nil // no body, or one already in memory
	}
	limit := s.cfg.Server.MaxBodyBytes
	if n > limit {
		return nil, errBodyTooLarge
	}
	var (
		buf   []byte
		taken int64
		err   error
	)
	if n > 0 {
		size := bodyBufSize(n)
		if !s.budget.take(int64(size)) {
			return nil, errBusy
		}
		taken = int64(size)
		buf = getBodyBuf(size)[:n]
		if _, err = io.ReadFull(ctx.Request.BodyStream(), buf); err != nil {
			err = readErr(err)
		}
	} else {
		buf, taken, err = s.readChunked(ctx.Request.BodyStream(), limit)
	}
	release := func() {
		s.budget.give(taken)
		putBodyBuf(buf)
	}
	if err != nil {
		release()
		return nil, err
	}
	ctx.Request.SetBodyRaw(buf)
	return release, nil
}

// readChunked reads a body of undeclared length, taking budget ahead of the
// bytes it reads: chunkStep first, then doubling, up to limit+1.
func (s *Server) readChunked(r io.Reader, limit int) (buf []byte, taken int64, err error) {
	for {
		if len(buf) == cap(buf) {
			size := min(bodyBufSize(max(2*cap(buf), chunkStep)), limit+1)
			if !s.budget.take(int64(size - cap(buf))) {
				return buf, taken, errBusy
			}
			taken += int64(size - cap(buf))
			nb := getBodyBuf(size)[:len(buf)]
			copy(nb, buf)
			putBodyBuf(buf)
			buf = nb
		}
		m, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if len(buf) > limit {
			return buf, taken, errBodyTooLarge
		}
		switch {
		case rerr == io.EOF:
			return buf, taken, nil
		case rerr != nil:
			return buf, taken, readErr(rerr)
		}
	}
}

// readErr maps a failed body read to the client's error.
func readErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errBodyCut
	}
	return &Error{Status: 400, Code: codeBadRequest, Detail: "malformed request body framing"}
}

// Body buffers are recycled in power-of-two size classes from
// minPooledBody to maxPooledBody; larger ones are left to the collector.
const (
	minPooledShift = 12 // 4 KiB
	maxPooledShift = 20 // 1 MiB
	minPooledBody  = 1 << minPooledShift
	maxPooledBody  = 1 << maxPooledShift
)

var bodyPools [maxPooledShift - minPooledShift + 1]sync.Pool

// bodyBufSize is the capacity a body of n bytes is read into (and what it
// takes from the budget): its size class, or n itself above the classes.
func bodyBufSize(n int) int {
	if n > maxPooledBody {
		return n
	}
	return max(minPooledBody, 1<<bits.Len(uint(n-1)))
}

func bodyPool(size int) *sync.Pool {
	if size < minPooledBody || size > maxPooledBody || size&(size-1) != 0 {
		return nil
	}
	return &bodyPools[bits.Len(uint(size))-1-minPooledShift]
}

func getBodyBuf(size int) []byte {
	if p := bodyPool(size); p != nil {
		if b, ok := p.Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, size)
}

func putBodyBuf(b []byte) {
	if p := bodyPool(cap(b)); p != nil {
		b = b[:0]
		p.Put(&b)
	}
}
