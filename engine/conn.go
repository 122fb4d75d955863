package engine

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// The dispatcher's connections, as it sees them: every connection its
// HostClients open goes through dial, which wraps it in a conn. A conn
// knows how many exchanges it has completed, so that a send can tell a
// stale keep-alive connection (retry once) from a fresh one (never
// resend), and the dispatcher knows every open conn, so that Abort can
// cut off the attempts in flight at shutdown.
//
// fasthttp does not say which connection a request used; it does record
// the connection's LocalAddr in the Response (ParseNetConn), so a conn
// answers LocalAddr with a connAddr that points back to it.

// errAborted is what a send cut off by Abort, or begun after it, fails with.
var errAborted = errors.New("engine: dispatcher aborted (shutting down)")

// conn is a connection of the dispatcher.
type conn struct {
	net.Conn
	d    *Dispatcher
	addr *connAddr
	// served counts the exchanges completed on the connection (a response
	// read). Atomic: a connection released to the pool before its sender
	// counts the exchange may already carry another request.
	served atomic.Int32
}

// connAddr is a conn's local address, with the way back to the conn.
type connAddr struct {
	net.Addr
	c *conn
}

func (c *conn) LocalAddr() net.Addr { return c.addr }

// connOf returns the conn a response was read from (or a request failed
// on), nil if the request never got one.
func connOf(resp *fasthttp.Response) *conn {
	if a, ok := resp.LocalAddr().(*connAddr); ok {
		return a.c
	}
	return nil
}

func (c *conn) Close() error {
	c.d.connMu.Lock()
	delete(c.d.conns, c)
	c.d.connMu.Unlock()
	return c.Conn.Close()
}

// dial opens a connection for a HostClient (its DialTimeout): through the
// configured Dial, or fasthttp's dialer bounded by timeout. A dial that
// Abort overtakes returns at once; its connection is closed when it comes.
func (d *Dispatcher) dial(addr string, timeout time.Duration) (net.Conn, error) {
	type dialed struct {
		c   net.Conn
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		var r dialed
		if d.dialFn != nil {
			r.c, r.err = d.dialFn(addr)
		} else {
			r.c, r.err = fasthttp.DialTimeout(addr, timeout)
		}
		ch <- r
	}()
	var r dialed
	select {
	case r = <-ch:
	case <-d.aborted:
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, errAborted
	}
	if r.err != nil {
		return nil, r.err
	}
	c := &conn{Conn: r.c, d: d}
	c.addr = &connAddr{Addr: r.c.LocalAddr(), c: c}
	d.connMu.Lock()
	if d.conns == nil { // aborted meanwhile
		d.connMu.Unlock()
		r.c.Close()
		return nil, errAborted
	}
	d.conns[c] = struct{}{}
	d.connMu.Unlock()
	return c, nil
}

// Abort closes every connection of the dispatcher, idle or in use, and
// makes every later Send fail: sends in flight return at once with
// ClassCanceled. The engine calls it when its shutdown deadline comes.
func (d *Dispatcher) Abort() {
	d.abortOnce.Do(func() { close(d.aborted) })
	d.connMu.Lock()
	conns := d.conns
	d.conns = nil
	d.connMu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

func (d *Dispatcher) isAborted() bool {
	select {
	case <-d.aborted:
		return true
	default:
		return false
	}
}

// staleConn reports whether a send that failed with err failed on a
// pooled keep-alive connection the receiver had closed: the connection
// completed an exchange before this request, and it broke with EOF or a
// reset. Such a request is sent once more (fasthttp takes another
// connection, or dials one). A fresh connection that breaks is never
// resent: the receiver may have read the request and acted on it.
func staleConn(resp *fasthttp.Response, err error) bool {
	c := connOf(resp)
	if c == nil || c.served.Load() == 0 {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
