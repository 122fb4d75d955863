package engine

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// testTimeout is the dispatcher timeout in tests: short, so that every
// receiver fault ends quickly.
const testTimeout = 300 * time.Millisecond

func newTestDispatcher(opts DispatcherOptions) *Dispatcher {
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "hookd/test"
	}
	return NewDispatcher(opts)
}

// captured is one request as a net/http receiver saw it.
type captured struct {
	header http.Header
	body   []byte
}

// newReceiver starts a net/http receiver that records each request and
// answers with status and body.
func newReceiver(t *testing.T, status int, body string) (*httptest.Server, <-chan captured) {
	t.Helper()
	got := make(chan captured, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- captured{header: r.Header.Clone(), body: b}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func testRequest(url string) *Request {
	key, _ := ParseSecret(vecSecret)
	return &Request{
		URL:       url,
		MsgID:     vecID,
		Timestamp: vecTS,
		Body:      []byte(vecBody),
		Secrets:   [][]byte{key},
	}
}

func TestSendHeadersAndSignature(t *testing.T) {
	srv, got := newReceiver(t, 200, "thanks")
	d := newTestDispatcher(DispatcherOptions{})
	r := testRequest(srv.URL + "/hook?x=1")
	r.Headers = map[string]string{
		"X-Tenant":             "acme",
		"Authorization":        "Bearer t0ken",
		"Webhook-Id":           "forged",             // reserved: dropped
		"content-type":         "text/plain",         // reserved: dropped
		"X-Evil\r\nX-Smuggled": "1",                  // injection: dropped
		"X-Value":              "a\r\nX-Smuggled: 1", // injection: dropped
	}

	res := d.Send(context.Background(), r)
	if res.Err != nil || res.StatusCode != 200 || res.Class != "" {
		t.Fatalf("Send = status %d, err %v, class %q; want 200, nil, \"\"", res.StatusCode, res.Err, res.Class)
	}
	if string(res.Body) != "thanks" {
		t.Errorf("Body = %q; want %q", res.Body, "thanks")
	}
	c := <-got
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "hookd/test",
		"Webhook-Id":        vecID,
		"Webhook-Timestamp": strconv.Itoa(vecTS),
		"Webhook-Signature": vecSig,
		"X-Tenant":          "acme",
		"Authorization":     "Bearer t0ken",
		"X-Smuggled":        "",
		"X-Value":           "",
		"Content-Encoding":  "",
	} {
		if got := strings.Join(c.header.Values(name), ","); got != want {
			t.Errorf("receiver header %s = %q; want %q", name, got, want)
		}
	}
	if string(c.body) != vecBody {
		t.Errorf("receiver body = %q; want %q", c.body, vecBody)
	}

	wantShown := map[string]string{
		"content-type":      "application/json",
		"user-agent":        "hookd/test",
		"webhook-id":        vecID,
		"webhook-timestamp": strconv.Itoa(vecTS),
		"webhook-signature": "v1,<redacted>",
		"X-Tenant":          "acme",
		"Authorization":     "Bearer t0ken",
	}
	if len(res.RequestHeaders) != len(wantShown) {
		t.Errorf("RequestHeaders = %v; want %v", res.RequestHeaders, wantShown)
	}
	for k, want := range wantShown {
		if got := res.RequestHeaders[k]; got != want {
			t.Errorf("RequestHeaders[%q] = %q; want %q", k, got, want)
		}
	}
}

func TestSendTwoSecretsRedactsBoth(t *testing.T) {
	srv, got := newReceiver(t, 204, "")
	d := newTestDispatcher(DispatcherOptions{})
	r := testRequest(srv.URL)
	other, _ := ParseSecret(GenerateSecret())
	r.Secrets = append(r.Secrets, other)

	res := d.Send(context.Background(), r)
	if res.StatusCode != 204 || res.Err != nil {
		t.Fatalf("Send = %d, %v; want 204, nil", res.StatusCode, res.Err)
	}
	if got, want := res.RequestHeaders["webhook-signature"], "v1,<redacted> v1,<redacted>"; got != want {
		t.Errorf("redacted signature = %q; want %q", got, want)
	}
	sig := (<-got).header.Get("Webhook-Signature")
	if want := Sign(r.Secrets, vecID, vecTS, r.Body); sig != want || !strings.HasPrefix(sig, vecSig+" ") {
		t.Errorf("receiver signature = %q; want %q", sig, want)
	}
}

func TestSendGzipSignsUncompressedBody(t *testing.T) {
	srv, got := newReceiver(t, 200, "")
	d := newTestDispatcher(DispatcherOptions{})
	r := testRequest(srv.URL)
	r.Body = bytes.Repeat([]byte(`{"id":"evt_1","type":"order.created","data":{"n":1}},`), 200)
	r.Gzip = true

	res := d.Send(context.Background(), r)
	if res.StatusCode != 200 || res.Err != nil {
		t.Fatalf("Send = %d, %v; want 200, nil", res.StatusCode, res.Err)
	}
	c := <-got
	if got := c.header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding = %q; want gzip", got)
	}
	if len(c.body) >= len(r.Body) {
		t.Errorf("compressed body is %d bytes; want fewer than %d", len(c.body), len(r.Body))
	}
	zr, err := gzip.NewReader(bytes.NewReader(c.body))
	if err != nil {
		t.Fatalf("gzip.NewReader: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, r.Body) {
		t.Fatalf("decoded body: %d bytes, %v; want the %d sent bytes", len(plain), err, len(r.Body))
	}
	ts, _ := strconv.ParseInt(c.header.Get("Webhook-Timestamp"), 10, 64)
	want := Sign(r.Secrets, c.header.Get("Webhook-Id"), ts, plain)
	if got := c.header.Get("Webhook-Signature"); got != want {
		t.Errorf("signature = %q; want %q (over the uncompressed body)", got, want)
	}
	if res.RequestHeaders["content-encoding"] != "gzip" {
		t.Errorf("RequestHeaders = %v; want content-encoding gzip", res.RequestHeaders)
	}
}

func TestSendKeepsFirst4KiBOfBody(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 640) // 10 KiB
	srv, _ := newReceiver(t, 500, big)
	d := newTestDispatcher(DispatcherOptions{})
	res := d.Send(context.Background(), testRequest(srv.URL))
	if res.StatusCode != 500 || res.Err != nil {
		t.Fatalf("Send = %d, %v; want 500, nil", res.StatusCode, res.Err)
	}
	if string(res.Body) != big[:MaxResponseBody] {
		t.Errorf("Body = %d bytes; want the first %d", len(res.Body), MaxResponseBody)
	}
}

func TestSendReusesConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	d := newTestDispatcher(DispatcherOptions{})
	for i := range 3 {
		if res := d.Send(context.Background(), testRequest(srv.URL)); res.StatusCode != 200 {
			t.Fatalf("send %d: %d, %v; want 200", i, res.StatusCode, res.Err)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("receiver saw %d connections for 3 sequential sends; want 1", got)
	}
}

// A receiver that closes idle keep-alive connections (Node's default is
// 5 s) must not turn the next delivery into a failed attempt.
func TestSendResendsOnceOnStaleConnection(t *testing.T) {
	closed := make(chan struct{}, 4)
	srv := newRawServer(t, func(c net.Conn, _ <-chan struct{}) {
		if readRequest(c) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
		closed <- struct{}{}
	})
	d := newTestDispatcher(DispatcherOptions{})
	for i := range 2 {
		res := d.Send(context.Background(), testRequest(srv.url()))
		if res.StatusCode != 200 || res.Err != nil {
			t.Fatalf("send %d = %d, %v (%s); want 200", i, res.StatusCode, res.Err, res.Class)
		}
		<-closed
	}
	if got := srv.accepted.Load(); got != 2 {
		t.Errorf("receiver accepted %d connections; want 2", got)
	}
}

func TestSendBackpressureWhenAllConnsBusy(t *testing.T) {
	srv := newRawServer(t, hang)
	d := newTestDispatcher(DispatcherOptions{Timeout: 5 * time.Second, MaxConnsPerHost: 1})
	first := make(chan Result, 1)
	go func() { first <- d.Send(context.Background(), testRequest(srv.url())) }()
	srv.waitAccepted(t, 1)

	start := time.Now()
	res := d.Send(context.Background(), testRequest(srv.url()))
	if res.Class != ClassBackpressure || time.Since(start) > 100*time.Millisecond {
		t.Errorf("second Send = class %q after %v; want %q at once", res.Class, time.Since(start), ClassBackpressure)
	}
	if v := Classify(res.StatusCode, res.Err, res.RetryAfter); v.Class != ClassBackpressure {
		t.Errorf("Classify = %+v; want class backpressure", v)
	}
	srv.close()
	<-first
}

func TestSendCanceledContextSendsNothing(t *testing.T) {
	srv, got := newReceiver(t, 200, "")
	d := newTestDispatcher(DispatcherOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := d.Send(ctx, testRequest(srv.URL))
	if res.Class != ClassCanceled || res.Err == nil {
		t.Errorf("Send = %v, %q; want an error of class %q", res.Err, res.Class, ClassCanceled)
	}
	select {
	case <-got:
		t.Error("receiver got a request; want none")
	default:
	}
}

func TestSendHonoursContextDeadline(t *testing.T) {
	srv := newRawServer(t, hang)
	d := newTestDispatcher(DispatcherOptions{Timeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := d.Send(ctx, testRequest(srv.url()))
	if el := time.Since(start); res.Class != ClassTimeout || el > time.Second {
		t.Errorf("Send = class %q after %v; want %q within 1s", res.Class, el, ClassTimeout)
	}
}

func TestSendRejectsBadURLs(t *testing.T) {
	d := newTestDispatcher(DispatcherOptions{})
	for _, u := range []string{"ftp://example.com/x", "http://", "/relative", ""} {
		res := d.Send(context.Background(), testRequest(u))
		if res.Err == nil || res.Class != ClassOther {
			t.Errorf("Send(%q) = %v, %q; want an error of class %q", u, res.Err, res.Class, ClassOther)
		}
	}
}

func TestOneHostClientPerDestination(t *testing.T) {
	d := newTestDispatcher(DispatcherOptions{})
	groups := [][]string{
		{"http://a.example/x", "http://a.example:80/y", "HTTP://A.example/z"},
		{"https://a.example/", "https://a.example:443/"},
		{"http://a.example:8080/"},
		{"http://[::1]/", "http://[::1]:80/"},
		{"http://[::1]:8080/"},
	}
	seen := map[any]bool{}
	for _, g := range groups {
		var first any
		for _, u := range g {
			req := testRequest(u)
			hc, err := d.hostClient(uriOf(req.URL))
			if err != nil {
				t.Fatalf("hostClient(%q): %v", u, err)
			}
			if first == nil {
				first = hc
				if seen[hc] {
					t.Errorf("%q shares a client with another destination", u)
				}
				seen[hc] = true
			} else if hc != first {
				t.Errorf("%q got its own client; want the one of %q (%s)", u, g[0], hc.Addr)
			}
		}
	}
	if got := len(d.clients); got != len(groups) {
		t.Errorf("%d clients; want %d", got, len(groups))
	}
}

// rawServer is a TCP receiver on 127.0.0.1:0 whose handler misbehaves on
// purpose. done closes when the test ends.
type rawServer struct {
	ln       net.Listener
	done     chan struct{}
	accepted atomic.Int32
	accepts  chan struct{} // one token per accepted connection
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
	once     sync.Once
}

func newRawServer(t *testing.T, handle func(c net.Conn, done <-chan struct{})) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, done: make(chan struct{}), accepts: make(chan struct{}, 1024)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.accepted.Add(1)
			select {
			case s.accepts <- struct{}{}:
			default:
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c, s.done)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() + "/hook" }

// close stops the listener, drops every connection and waits for the
// handlers.
func (s *rawServer) close() {
	s.once.Do(func() {
		close(s.done)
		s.ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

// waitAccepted waits until n more connections have been accepted.
func (s *rawServer) waitAccepted(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for i := range n {
		select {
		case <-s.accepts:
		case <-timeout:
			t.Fatalf("accepted %d connections; want %d", i, n)
		}
	}
}

// readRequest reads one HTTP request, body included.
func readRequest(c net.Conn) error {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err
}

// hang reads the request and never answers.
func hang(c net.Conn, done <-chan struct{}) {
	readRequest(c)
	<-done
}

func uriOf(s string) *fasthttp.URI {
	u := &fasthttp.URI{}
	_ = u.Parse(nil, []byte(s))
	return u
}
