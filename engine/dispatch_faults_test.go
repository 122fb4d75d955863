package engine

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hookd/engine/clocktest"
)

// The receiver-fault suite: every way a subscriber can misbehave ends
// within the timeout (plus slack) with the right status and class.

func TestSendReceiverFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		url       func(t *testing.T) string
		wantCode  int
		wantClass string
		wantKind  VerdictKind
	}{
		{"hang", func(t *testing.T) string { return newRawServer(t, hang).url() }, 0, ClassTimeout, Retry},
		{"body 1 byte/s", func(t *testing.T) string { return newRawServer(t, slowBody(time.Second)).url() }, 200, ClassTimeout, Retry},
		// Every read succeeds well within the timeout; only a deadline on
		// the whole attempt stops this one.
		{"body 20 bytes/s", func(t *testing.T) string { return newRawServer(t, slowBody(50*time.Millisecond)).url() }, 200, ClassTimeout, Retry},
		{"headers 1 byte/s", func(t *testing.T) string { return newRawServer(t, slowHeaders).url() }, 0, ClassTimeout, Retry},
		{"connection reset", func(t *testing.T) string { return newRawServer(t, reset).url() }, 0, ClassConnReset, Retry},
		{"close without answer", func(t *testing.T) string { return newRawServer(t, closeAfterRequest).url() }, 0, ClassConnReset, Retry},
		{"connection refused", closedPortURL, 0, ClassConnRefused, Retry},
		{"dns", func(*testing.T) string { return "http://no-such-host.invalid/hook" }, 0, ClassDNS, Retry},
		{"tls untrusted", untrustedTLSURL, 0, ClassTLS, Retry},
		{"garbage response", func(t *testing.T) string { return newRawServer(t, garbage).url() }, 0, ClassOther, Retry},
		{"500", statusURL(500), 500, "", Retry},
		{"400", statusURL(400), 400, "", Retry},
		{"410", statusURL(410), 410, "", Gone},
		{"200", statusURL(200), 200, "", Done},
		{"202", statusURL(202), 202, "", Done},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newTestDispatcher(DispatcherOptions{})
			url := tc.url(t)
			start := time.Now()
			res := d.Send(context.Background(), testRequest(url))
			elapsed := time.Since(start)
			if res.StatusCode != tc.wantCode || res.Class != tc.wantClass {
				t.Errorf("Send = status %d, class %q (err %v); want %d, %q", res.StatusCode, res.Class, res.Err, tc.wantCode, tc.wantClass)
			}
			if (res.Err != nil) != (tc.wantClass != "") {
				t.Errorf("Send err = %v; want an error iff class %q is set", res.Err, tc.wantClass)
			}
			if elapsed > testTimeout+time.Second {
				t.Errorf("Send took %v; want at most %v", elapsed, testTimeout+time.Second)
			}
			if v := Classify(res.StatusCode, res.Err, res.RetryAfter); v.Kind != tc.wantKind || v.Class != tc.wantClass {
				t.Errorf("Classify = %+v; want kind %v, class %q", v, tc.wantKind, tc.wantClass)
			}
		})
	}
}

func TestSendRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status int
		header string
		want   time.Duration
	}{
		{429, "7", 7 * time.Second},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{429, "100000", MaxRetryAfter},
		{429, "soon", 0},
		{503, "", 0},
	} {
		t.Run(fmt.Sprintf("%d %q", tc.status, tc.header), func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn, _ <-chan struct{}) {
				if readRequest(c) != nil {
					return
				}
				h := ""
				if tc.header != "" {
					h = "retry-after: " + tc.header + "\r\n" // lower case on purpose
				}
				fmt.Fprintf(c, "HTTP/1.1 %d Busy\r\n%sContent-Length: 0\r\n\r\n", tc.status, h)
			})
			d := newTestDispatcher(DispatcherOptions{Clock: clocktest.New(now)})
			res := d.Send(context.Background(), testRequest(srv.url()))
			if res.StatusCode != tc.status || res.RetryAfter != tc.want {
				t.Fatalf("Send = %d, Retry-After %v (err %v); want %d, %v", res.StatusCode, res.RetryAfter, res.Err, tc.status, tc.want)
			}
			v := Classify(res.StatusCode, res.Err, res.RetryAfter)
			if want := (Verdict{Kind: Retry, NotBefore: tc.want}); v != want {
				t.Errorf("Classify = %+v; want %+v", v, want)
			}
		})
	}
}

func TestSendNeverFollowsRedirects(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
	}))
	t.Cleanup(target.Close)

	for _, status := range []int{301, 302, 303, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, target.URL+"/stolen", status)
		}))
		d := newTestDispatcher(DispatcherOptions{})
		res := d.Send(context.Background(), testRequest(srv.URL))
		srv.Close()
		if res.StatusCode != status || res.Err != nil {
			t.Errorf("%d: Send = %d, %v; want %d, nil", status, res.StatusCode, res.Err, status)
		}
		if v := Classify(res.StatusCode, res.Err, res.RetryAfter); v.Kind != Retry {
			t.Errorf("%d: Classify = %+v; want retry", status, v)
		}
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("redirect target received %d requests; want 0", n)
	}
}

// A receiver that streams 1 GiB costs one 4 KiB read: the attempt ends at
// once, the connection is closed, and the heap does not grow.
func TestSendHugeStreamedResponse(t *testing.T) {
	const huge = 1 << 30
	var written atomic.Int64
	srv := newRawServer(t, func(c net.Conn, _ <-chan struct{}) {
		if readRequest(c) != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", huge)
		chunk := make([]byte, 32<<10)
		for written.Load() < huge {
			n, err := c.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	d := newTestDispatcher(DispatcherOptions{Timeout: 5 * time.Second})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	res := d.Send(context.Background(), testRequest(srv.url()))
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	if res.StatusCode != 200 || res.Err != nil {
		t.Fatalf("Send = %d, %v; want 200, nil", res.StatusCode, res.Err)
	}
	if len(res.Body) != MaxResponseBody {
		t.Errorf("Body = %d bytes; want %d", len(res.Body), MaxResponseBody)
	}
	if elapsed > time.Second {
		t.Errorf("Send took %v; want well under a second", elapsed)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 10<<20 {
		t.Errorf("allocated %d MiB during Send; want < 10 MiB", grew>>20)
	}
	srv.close() // waits for the writer, which stops when the client hangs up
	if w := written.Load(); w >= huge {
		t.Errorf("receiver wrote the whole %d bytes; want the client to hang up early", w)
	}
	t.Logf("took %v; receiver wrote %d KiB before the client hung up", elapsed, written.Load()>>10)
}

// Fifty endpoints that never answer hold fifty connections, not the
// dispatcher: a healthy endpoint is still served at once.
func TestHangingEndpointsDoNotBlockHealthyOne(t *testing.T) {
	const hangers = 50
	d := newTestDispatcher(DispatcherOptions{Timeout: 10 * time.Second})
	servers := make([]*rawServer, hangers)
	var wg sync.WaitGroup
	for i := range servers {
		servers[i] = newRawServer(t, hang)
		wg.Add(1)
		go func(url string) {
			defer wg.Done()
			d.Send(context.Background(), testRequest(url))
		}(servers[i].url())
	}
	for _, s := range servers {
		s.waitAccepted(t, 1)
	}

	healthy, _ := newReceiver(t, 200, "ok")
	start := time.Now()
	res := d.Send(context.Background(), testRequest(healthy.URL))
	elapsed := time.Since(start)
	if res.StatusCode != 200 || elapsed > 250*time.Millisecond {
		t.Errorf("healthy Send = %d (%v) after %v; want 200 at once", res.StatusCode, res.Err, elapsed)
	}
	for _, s := range servers {
		s.close()
	}
	wg.Wait()
}

// slowBody sends the status and headers at once, then a 100-byte body
// one byte per interval.
func slowBody(interval time.Duration) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, done <-chan struct{}) {
		if readRequest(c) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
		trickle(c, done, strings.Repeat("x", 100), interval)
	}
}

// slowHeaders sends even the status line one byte per second.
func slowHeaders(c net.Conn, done <-chan struct{}) {
	if readRequest(c) != nil {
		return
	}
	trickle(c, done, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", time.Second)
}

// trickle writes s one byte per interval.
func trickle(c net.Conn, done <-chan struct{}, s string, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; i < len(s); i++ {
		if _, err := io.WriteString(c, s[i:i+1]); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-done:
			return
		}
	}
}

// reset aborts the connection with a TCP RST as soon as it is accepted.
func reset(c net.Conn, _ <-chan struct{}) {
	c.(*net.TCPConn).SetLinger(0)
}

// closeAfterRequest reads the request and closes without a response.
func closeAfterRequest(c net.Conn, _ <-chan struct{}) {
	readRequest(c)
}

func garbage(c net.Conn, _ <-chan struct{}) {
	if readRequest(c) != nil {
		return
	}
	io.WriteString(c, "this is not HTTP\r\n\r\n")
}

func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/hook"
}

func untrustedTLSURL(t *testing.T) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

func statusURL(status int) func(t *testing.T) string {
	return func(t *testing.T) string {
		srv, _ := newReceiver(t, status, "")
		return srv.URL
	}
}
