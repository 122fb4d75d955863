package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status     int
		err        error
		retryAfter time.Duration
		want       Verdict
	}{
		{200, nil, 0, Verdict{Kind: Done}},
		{204, nil, 0, Verdict{Kind: Done}},
		{299, nil, 0, Verdict{Kind: Done}},
		{410, nil, 0, Verdict{Kind: Gone}},
		{410, nil, time.Minute, Verdict{Kind: Gone}},
		{429, nil, 30 * time.Second, Verdict{Kind: Retry, NotBefore: 30 * time.Second}},
		{503, nil, 2 * time.Hour, Verdict{Kind: Retry, NotBefore: 2 * time.Hour}},
		{503, nil, 0, Verdict{Kind: Retry}},
		{429, nil, 48 * time.Hour, Verdict{Kind: Retry, NotBefore: 24 * time.Hour}},
		{429, nil, -time.Second, Verdict{Kind: Retry}},
		{500, nil, time.Minute, Verdict{Kind: Retry}}, // Retry-After only counts on 429/503
		{100, nil, 0, Verdict{Kind: Retry}},
		{301, nil, 0, Verdict{Kind: Retry}},
		{302, nil, 0, Verdict{Kind: Retry}},
		{304, nil, 0, Verdict{Kind: Retry}},
		{400, nil, 0, Verdict{Kind: Retry}},
		{404, nil, 0, Verdict{Kind: Retry}},
		{502, nil, 0, Verdict{Kind: Retry}},
		{0, nil, 0, Verdict{Kind: Retry, Class: ClassOther}},
		{0, fasthttp.ErrTimeout, 0, Verdict{Kind: Retry, Class: ClassTimeout}},
		{200, fasthttp.ErrTimeout, 0, Verdict{Kind: Retry, Class: ClassTimeout}}, // status, then body timed out
		{0, fasthttp.ErrNoFreeConns, 0, Verdict{Kind: Retry, Class: ClassBackpressure}},
	} {
		if got := Classify(tc.status, tc.err, tc.retryAfter); got != tc.want {
			t.Errorf("Classify(%d, %v, %v) = %+v; want %+v", tc.status, tc.err, tc.retryAfter, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassOf(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fasthttp.ErrTimeout, ClassTimeout},
		{fasthttp.ErrDialTimeout, ClassTimeout},
		{fasthttp.ErrTLSHandshakeTimeout, ClassTimeout},
		{context.DeadlineExceeded, ClassTimeout},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), ClassTimeout},
		{timeoutErr{}, ClassTimeout},
		{opErr(syscall.ECONNREFUSED), ClassConnRefused},
		{opErr(syscall.ECONNRESET), ClassConnReset},
		{opErr(syscall.EPIPE), ClassConnReset},
		{io.EOF, ClassConnReset},
		{fasthttp.ErrConnectionClosed, ClassConnReset},
		{&net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}, ClassDNS},
		{&net.DNSError{Err: "timeout", Name: "slow.example", IsTimeout: true}, ClassDNS},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ClassTLS},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, ClassTLS},
		{x509.HostnameError{Host: "a.example"}, ClassTLS},
		{errors.New("tls: handshake failure"), ClassTLS},
		{fasthttp.ErrNoFreeConns, ClassBackpressure},
		{fmt.Errorf("send: %w", fasthttp.ErrNoFreeConns), ClassBackpressure},
		{context.Canceled, ClassCanceled},
		{errors.New("unsupported protocol"), ClassOther},
	} {
		if got := ClassOf(tc.err); got != tc.want {
			t.Errorf("ClassOf(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"86400", 24 * time.Hour},
		{"86401", 24 * time.Hour},
		{"99999999999999999999999", 24 * time.Hour},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"Mon, 23 Nov 2026 08:01:30 GMT", 90 * time.Second},  // IMF-fixdate
		{"Monday, 23-Nov-26 08:00:10 GMT", 10 * time.Second}, // RFC 850
		{"Mon Nov 23 08:00:05 2026", 5 * time.Second},        // asctime
		{"Mon, 23 Nov 2026 07:59:00 GMT", 0},                 // past
		{"Sat, 28 Nov 2026 08:00:00 GMT", 24 * time.Hour},    // capped
		{"Mon, 23 Nov 2026 08:01:30 +0000", 0},               // not an HTTP-date
	} {
		if got := ParseRetryAfter([]byte(tc.in), now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestNextDelay(t *testing.T) {
	sched := DefaultSchedule
	for _, tc := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
		wantOK  bool
	}{
		{0, 0.5, 0, true},               // first attempt is immediate
		{0, 0.99, 0, true},              // jitter never delays an immediate attempt
		{1, 0.5, 5 * time.Second, true}, // no jitter
		{1, 0, 4 * time.Second, true},   // -20%
		{1, 0.75, 5500 * time.Millisecond, true},
		{2, 0.5, 5 * time.Minute, true},
		{3, 0.25, 27 * time.Minute, true}, // -10%
		{7, 0.5, 10 * time.Hour, true},    // last scheduled attempt
		{8, 0.5, 0, false},                // exhausted: expire
		{100, 0.5, 0, false},
		{-1, 0.5, 0, true},             // treated as 0
		{1, -3, 4 * time.Second, true}, // jitter clamped
	} {
		got, ok := NextDelay(tc.attempt, sched, tc.jitter)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("NextDelay(%d, default, %v) = %v, %v; want %v, %v", tc.attempt, tc.jitter, got, ok, tc.want, tc.wantOK)
		}
	}
	if _, ok := NextDelay(0, nil, 0.5); ok {
		t.Error("NextDelay on an empty schedule reported ok; want expire")
	}
}

func TestNextDelayJitterStaysWithin20Percent(t *testing.T) {
	base := 5 * time.Hour
	for j := 0.0; j < 1; j += 0.01 {
		got, _ := NextDelay(1, []time.Duration{0, base}, j)
		if got < base*8/10 || got >= base*12/10 {
			t.Fatalf("NextDelay(jitter=%v) = %v; want within [%v, %v)", j, got, base*8/10, base*12/10)
		}
	}
}

func TestDefaultSchedule(t *testing.T) {
	want := []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if fmt.Sprint(DefaultSchedule) != fmt.Sprint(want) {
		t.Errorf("DefaultSchedule = %v; want %v", DefaultSchedule, want)
	}
}
