package engine

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"
)

// The dispatcher is the engine's only network I/O: it sends one signed
// request to a subscriber and reports what happened. It decides nothing;
// Classify turns its Result into a verdict.

// MaxResponseBody is how much of a response body is kept (and read).
const MaxResponseBody = 4 << 10

// DispatcherOptions configures a Dispatcher. Zero fields take defaults.
type DispatcherOptions struct {
	// Timeout bounds a whole attempt: dial, TLS, writing the request,
	// and reading the status, headers and body prefix. Default 15s.
	Timeout time.Duration
	// MaxConnsPerHost bounds the connections to one destination; when all
	// are busy Send fails fast with ClassBackpressure. Default 64.
	MaxConnsPerHost int
	// UserAgent is sent on every request. Default "hookd".
	UserAgent string
	// Dial, when set, opens every connection (the SSRF guard plugs in
	// here). It must bound its own time; Timeout does not reach inside it.
	Dial fasthttp.DialFunc
	// Clock stamps Result.Started and Result.Duration and dates
	// Retry-After. Default RealClock. Socket deadlines always use the wall
	// clock, since the kernel enforces them.
	Clock Clock
}

// Request is one delivery.
type Request struct {
	URL       string
	MsgID     string // webhook-id: the event id, or the batch id for batch bodies
	Timestamp int64  // webhook-timestamp, Unix seconds
	Body      []byte // uncompressed JSON; signed as is
	Secrets   [][]byte
	// Headers are the webhook's custom headers. They cannot replace the
	// headers the dispatcher sets (see ReservedHeader); those are dropped.
	Headers map[string]string
	Gzip    bool
}

// Result is what happened to one Request.
type Result struct {
	StatusCode int           // 0 when no response arrived
	Body       []byte        // the first MaxResponseBody bytes of the response body
	RetryAfter time.Duration // the response's Retry-After, 0 if absent or invalid
	// Err is the transport error, nil when a full response prefix was
	// read. An error after the status line (a body that stalls past the
	// deadline) keeps StatusCode and still fails the attempt.
	Err      error
	Class    string // ClassOf(Err); "" when Err is nil
	Started  time.Time
	Duration time.Duration
	// RequestHeaders are the headers sent, for the attempt record, with
	// webhook-signature redacted.
	RequestHeaders map[string]string
}

// Dispatcher sends requests through one fasthttp.HostClient per
// destination (scheme, host and port). It is safe for concurrent use.
type Dispatcher struct {
	timeout  time.Duration
	maxConns int
	ua       string
	dialFn   fasthttp.DialFunc // DispatcherOptions.Dial; nil: fasthttp's dialer
	clock    Clock

	mu      sync.RWMutex
	clients map[string]*fasthttp.HostClient
	sweepAt int // len(clients) at which the next new client sweeps (hostclient.go)

	// Every open connection (conn.go), for Abort.
	connMu    sync.Mutex
	conns     map[*conn]struct{} // nil once aborted
	aborted   chan struct{}
	abortOnce sync.Once
}

// NewDispatcher returns a Dispatcher with opts, defaults filled in.
func NewDispatcher(opts DispatcherOptions) *Dispatcher {
	d := &Dispatcher{
		timeout:  positiveOr(opts.Timeout, 15*time.Second),
		maxConns: positiveOr(opts.MaxConnsPerHost, 64),
		ua:       cmp.Or(opts.UserAgent, "hookd"),
		dialFn:   opts.Dial,
		clock:    opts.Clock,
		clients:  make(map[string]*fasthttp.HostClient),
		conns:    make(map[*conn]struct{}),
		aborted:  make(chan struct{}),
	}
	if d.clock == nil {
		d.clock = RealClock{}
	}
	return d
}

func positiveOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Send performs one attempt. It returns when the response's status,
// headers and body prefix are read, or on error, and never later than
// Timeout (or ctx's deadline, if sooner) after it started. A ctx that is
// done before sending gives ClassCanceled; cancelling ctx mid-flight does
// not interrupt the attempt, Abort does (ClassCanceled too).
//
// The request is written once, except when a pooled keep-alive connection
// turns out to be closed by the receiver (staleConn): then it is sent once
// more, on another connection, within the same deadline.
func (d *Dispatcher) Send(ctx context.Context, r *Request) Result {
	start := d.clock.Now()
	res := d.send(ctx, r)
	res.Started = start
	res.Duration = d.clock.Now().Sub(start)
	if res.Err != nil && res.Class == "" {
		res.Class = ClassOf(res.Err)
	}
	return res
}

func (d *Dispatcher) send(ctx context.Context, r *Request) Result {
	if err := ctx.Err(); err != nil {
		return Result{Err: fmt.Errorf("engine: send: %w", err), Class: ClassCanceled}
	}
	if d.isAborted() {
		return Result{Err: errAborted, Class: ClassCanceled}
	}
	deadline := time.Now().Add(d.timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(deadline) {
		deadline = cd
	}

	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)

	req.Header.DisableNormalizing() // send webhook-* in lower case, custom names as given
	req.SetRequestURI(r.URL)
	hc, err := d.hostClient(req.URI())
	if err != nil {
		return Result{Err: err, Class: ClassOther}
	}
	res := Result{RequestHeaders: d.setHeaders(req, r)}
	if err := setBody(req, r); err != nil {
		return Result{Err: err, Class: ClassOther}
	}

	err = hc.DoDeadline(req, resp, deadline)
	if err != nil && staleConn(resp, err) {
		err = hc.DoDeadline(req, resp, deadline)
	}
	if err != nil {
		res.Err = fmt.Errorf("engine: send: %w", err)
		if d.isAborted() {
			res.Class = ClassCanceled // cut off: not an attempt
		}
		return res
	}
	if c := connOf(resp); c != nil {
		c.served.Add(1)
	}
	res.StatusCode = resp.StatusCode()
	if v := resp.Header.Peek("Retry-After"); len(v) > 0 {
		res.RetryAfter = ParseRetryAfter(v, d.clock.Now())
	}
	res.Body, err = readBodyPrefix(resp)
	if err != nil {
		res.Err = fmt.Errorf("engine: read response body: %w", err)
		if d.isAborted() {
			res.Class = ClassCanceled
		}
	}
	return res
}

// setHeaders sets the request line and headers and returns them as the
// attempt record shows them.
func (d *Dispatcher) setHeaders(req *fasthttp.Request, r *Request) map[string]string {
	shown := make(map[string]string, len(r.Headers)+6)
	for k, v := range r.Headers {
		if ReservedHeader(k) || !validHeader(k, v) {
			continue
		}
		req.Header.Set(k, v)
		shown[k] = v
	}
	ts := strconv.FormatInt(r.Timestamp, 10)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.SetUserAgent(d.ua)
	req.Header.Set("webhook-id", r.MsgID)
	req.Header.Set("webhook-timestamp", ts)
	shown["content-type"] = "application/json"
	shown["user-agent"] = d.ua
	shown["webhook-id"] = r.MsgID
	shown["webhook-timestamp"] = ts
	if len(r.Secrets) > 0 {
		req.Header.Set("webhook-signature", Sign(r.Secrets, r.MsgID, r.Timestamp, r.Body))
		shown["webhook-signature"] = redactedSignature(len(r.Secrets))
	}
	if r.Gzip {
		req.Header.Set("content-encoding", "gzip")
		shown["content-encoding"] = "gzip"
	}
	return shown
}

// ReservedHeader reports whether a custom header would replace one the
// dispatcher owns (webhook-* included) or one that frames the request or
// changes how it is sent (Expect: 100-continue). The API refuses these at
// create and update; the dispatcher drops them.
func ReservedHeader(name string) bool {
	name = strings.ToLower(name)
	switch name {
	case "content-type", "content-length", "content-encoding", "transfer-encoding",
		"user-agent", "host", "connection", "keep-alive", "proxy-connection", "te",
		"trailer", "upgrade", "expect":
		return true
	}
	return strings.HasPrefix(name, "webhook-")
}

// validHeader rejects names and values that would break the request's
// framing (header injection).
func validHeader(name, value string) bool {
	return name != "" && !strings.ContainsAny(name, " \t\r\n:") && !strings.ContainsAny(value, "\r\n\x00")
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// setBody sets the request body, gzip-compressed if asked. The signature
// is over r.Body, never over the compressed bytes.
func setBody(req *fasthttp.Request, r *Request) error {
	if !r.Gzip {
		req.SetBodyRaw(r.Body)
		return nil
	}
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(req.BodyWriter())
	if _, err := zw.Write(r.Body); err != nil {
		return fmt.Errorf("engine: gzip body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("engine: gzip body: %w", err)
	}
	return nil
}

var bodyBufs = sync.Pool{New: func() any { return new([MaxResponseBody]byte) }}

// readBodyPrefix reads at most MaxResponseBody bytes of the streamed body
// and closes the stream. A body that is not read to its end closes the
// connection instead of draining it, so a receiver that streams forever
// costs one 4 KiB read. The connection's read deadline (the attempt's
// deadline) bounds the read.
func readBodyPrefix(resp *fasthttp.Response) ([]byte, error) {
	stream := resp.BodyStream()
	if stream == nil { // no body (204, 304, …)
		return bytes.Clone(prefix(resp.Body())), nil
	}
	defer resp.CloseBodyStream()
	buf := bodyBufs.Get().(*[MaxResponseBody]byte)
	defer bodyBufs.Put(buf)
	n, err := io.ReadFull(stream, buf[:])
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // the whole body was shorter than the buffer
	}
	if n == 0 {
		return nil, err
	}
	return bytes.Clone(buf[:n]), err
}

func prefix(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b[:min(len(b), MaxResponseBody)]
}

// Close closes idle connections to every destination. In-flight sends
// finish normally.
func (d *Dispatcher) Close() {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, hc := range d.clients {
		hc.CloseIdleConnections()
	}
}
