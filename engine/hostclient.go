package engine

import (
	"bytes"
	"errors"

	"github.com/valyala/fasthttp"
)

// Destination errors.
var (
	ErrScheme = errors.New("engine: url: scheme must be http or https")
	ErrNoHost = errors.New("engine: url: no host")
)

// readBufferSize bounds a response's status line and headers.
const readBufferSize = 8 << 10

// hostClient returns the HostClient for the URI's destination
// (scheme://host:port), creating it on first use. The lookup does not
// allocate.
func (d *Dispatcher) hostClient(u *fasthttp.URI) (*fasthttp.HostClient, error) {
	scheme := u.Scheme()
	var isTLS bool
	switch {
	case bytes.Equal(scheme, []byte("https")):
		isTLS = true
	case bytes.Equal(scheme, []byte("http")):
	default:
		return nil, ErrScheme
	}
	host := u.Host()
	if len(host) == 0 {
		return nil, ErrNoHost
	}
	var buf [128]byte
	key := append(buf[:0], scheme...)
	key = append(key, "://"...)
	addrAt := len(key)
	key = appendAddr(key, host, isTLS)

	d.mu.RLock()
	hc := d.clients[string(key)]
	d.mu.RUnlock()
	if hc != nil {
		return hc, nil
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if hc = d.clients[string(key)]; hc != nil {
		return hc, nil
	}
	d.sweepLocked()
	hc = &fasthttp.HostClient{
		Addr:                      string(key[addrAt:]),
		IsTLS:                     isTLS,
		DialTimeout:               d.dial, // conn.go: every connection tracked
		MaxConns:                  d.maxConns,
		MaxConnWaitTimeout:        0, // all busy: ErrNoFreeConns at once
		ReadTimeout:               d.timeout,
		WriteTimeout:              d.timeout,
		ReadBufferSize:            readBufferSize,
		StreamResponseBody:        true, // read a prefix, never the whole body
		MaxIdemponentCallAttempts: 1,    // never resent by fasthttp; see Send
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true, // send the path the subscriber registered
	}
	d.clients[string(key)] = hc
	return hc, nil
}

// minSweep is how many destinations the dispatcher keeps clients for
// before it drops those without a connection.
const minSweep = 1024

// sweepLocked drops the clients of destinations without an open
// connection once there are many: every URL a tenant ever named (each
// update of a webhook's url, each ping) would otherwise keep one for the
// process's life. Amortized: the next sweep waits until the map doubled.
// A send that has just taken a dropped client still uses it; the next
// one to that destination makes a new one.
func (d *Dispatcher) sweepLocked() {
	if len(d.clients) < max(d.sweepAt, minSweep) {
		return
	}
	for k, hc := range d.clients {
		if hc.ConnsCount() == 0 {
			delete(d.clients, k)
		}
	}
	d.sweepAt = 2 * len(d.clients)
}

// appendAddr appends host with its port, adding the scheme's default port
// when there is none, so http://a and http://a:80 share a client.
func appendAddr(dst, host []byte, isTLS bool) []byte {
	dst = append(dst, host...)
	colon, bracket := bytes.LastIndexByte(host, ':'), bytes.LastIndexByte(host, ']')
	if colon > bracket && colon < len(host)-1 {
		return dst
	}
	if colon == len(host)-1 && colon > bracket { // "host:" has an empty port
		dst = dst[:len(dst)-1]
	}
	if isTLS {
		return append(dst, ":443"...)
	}
	return append(dst, ":80"...)
}
