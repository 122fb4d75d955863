package engine

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// One attempt sends its request once. Only a pooled keep-alive connection
// that turns out to be closed is resent on, once (staleConn).

// resetConn closes c with SO_LINGER 0: the peer gets a RST, not a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// requestCounter is a raw receiver: answer(conn, n) says what to do with
// the n-th request (from 1) of the conn-th connection (from 1), once
// read: answer it keeping the connection, or reset the connection.
type requestCounter struct {
	*rawServer
	requests atomic.Int32 // requests read, over all connections
}

func newRequestCounter(t *testing.T, answer func(conn, n int) bool) *requestCounter {
	rc := &requestCounter{}
	var conns atomic.Int32
	rc.rawServer = newRawServer(t, func(c net.Conn, _ <-chan struct{}) {
		conn := int(conns.Add(1))
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			rc.requests.Add(1)
			if !answer(conn, n) {
				resetConn(c)
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	return rc
}

// A receiver that reads the request and resets a fresh connection gets
// the request once per attempt: it may have acted on it, and the next
// attempt is the scheduler's to make.
func TestSendFreshConnectionResetIsNotResent(t *testing.T) {
	rc := newRequestCounter(t, func(_, _ int) bool { return false })
	d := newTestDispatcher(DispatcherOptions{})
	for i := 1; i <= 3; i++ {
		res := d.Send(context.Background(), testRequest(rc.url()))
		if res.Err == nil || res.Class != ClassConnReset {
			t.Fatalf("attempt %d = %d, %v (%s); want a %s error", i, res.StatusCode, res.Err, res.Class, ClassConnReset)
		}
		if got := rc.requests.Load(); got != int32(i) {
			t.Fatalf("after %d attempts the receiver read %d requests; want %d", i, got, i)
		}
	}
	if got := rc.accepted.Load(); got != 3 {
		t.Errorf("receiver accepted %d connections; want 3 (one per attempt)", got)
	}
}

// A pooled connection the receiver resets after reading the next request
// looks like a stale one: the request is resent once, on a fresh
// connection, and not again when that one is reset too.
func TestSendReusedConnectionResetIsResentOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(conn, n int) bool
		ok     bool
	}{
		{"the fresh one answers", func(_, n int) bool { return n == 1 }, true},
		{"the fresh one resets too", func(conn, n int) bool { return conn == 1 && n == 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRequestCounter(t, tc.answer)
			d := newTestDispatcher(DispatcherOptions{})
			if res := d.Send(context.Background(), testRequest(rc.url())); res.StatusCode != 200 {
				t.Fatalf("first send = %d, %v; want 200", res.StatusCode, res.Err)
			}
			res := d.Send(context.Background(), testRequest(rc.url()))
			if tc.ok && (res.StatusCode != 200 || res.Err != nil) {
				t.Fatalf("second send = %d, %v (%s); want 200 after one resend", res.StatusCode, res.Err, res.Class)
			}
			if !tc.ok && res.Class != ClassConnReset {
				t.Fatalf("second send = %d, %v (%s); want a %s error", res.StatusCode, res.Err, res.Class, ClassConnReset)
			}
			if got := rc.requests.Load(); got != 3 {
				t.Errorf("receiver read %d requests; want 3: one, then one on the pooled connection and one resend", got)
			}
			if got := rc.accepted.Load(); got != 2 {
				t.Errorf("receiver accepted %d connections; want 2", got)
			}
		})
	}
}
