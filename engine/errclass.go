package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Error classes: why an attempt got no response. They are stable strings,
// used in attempt records, logs and metrics.
const (
	ClassTimeout     = "timeout"      // no complete response within delivery.timeout
	ClassConnRefused = "conn_refused" // nothing listens at the destination
	ClassConnReset   = "conn_reset"   // the receiver closed or reset the connection
	ClassDNS         = "dns"          // the host name did not resolve
	ClassTLS         = "tls"          // handshake or certificate failure
	ClassOther       = "other"        // anything else (bad URL, malformed response, …)

	// The request never left: these are not attempts.
	ClassBackpressure = "backpressure" // every connection to the host is busy
	ClassCanceled     = "canceled"     // the caller gave up before sending
)

// ClassOf names the class of a transport error; "" for nil.
func ClassOf(err error) string {
	if err == nil {
		return ""
	}
	var (
		dnsErr  *net.DNSError
		netErr  net.Error
		recErr  tls.RecordHeaderError
		verErr  *tls.CertificateVerificationError
		alert   tls.AlertError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, ErrForbiddenDestination):
		return ClassForbidden
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return ClassBackpressure
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case errors.As(err, &dnsErr):
		return ClassDNS
	case errors.Is(err, fasthttp.ErrTimeout),
		errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, fasthttp.ErrTLSHandshakeTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout
	case errors.As(err, &recErr), errors.As(err, &verErr), errors.As(err, &alert),
		errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid),
		strings.HasPrefix(err.Error(), "tls: "):
		return ClassTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, fasthttp.ErrConnectionClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClassConnReset
	default:
		return ClassOther
	}
}
