package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"hookd/config"
)

const preauthSecret = "0123456789abcdef0123456789abcdef"

// newPreauthServer is a jwt-mode server with small limits: 64 KiB bodies,
// a budget of two of them, 16 KiB event data.
func newPreauthServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServer(t, func(c *config.Config) {
		c.Auth.Mode, c.Auth.JWTSecret = "jwt", preauthSecret
		c.Server.MaxBodyBytes = 64 << 10
		c.Server.BodyBudgetBytes = 128 << 10
		c.Events.MaxDataBytes = 16 << 10
	})
}

func (ts *testServer) bearer(roles ...string) string {
	ts.t.Helper()
	tok, err := MintToken(ts.cfg.Auth, "acme", "", roles, time.Hour, time.Now())
	if err != nil {
		ts.t.Fatal(err)
	}
	return "Bearer " + tok
}

// rawConn is one client connection written to byte by byte.
type rawConn struct {
	t    *testing.T
	c    *net.TCPConn
	r    *bufio.Reader
	host string
}

func (ts *testServer) dial(t *testing.T) *rawConn {
	t.Helper()
	host := strings.TrimPrefix(ts.url, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A guard, not a timing assumption: a server that waits for a body it
	// should not read fails the test here instead of hanging it.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c.(*net.TCPConn), r: bufio.NewReader(c), host: host}
}

// head writes a request's head; hdr is "Name: value" lines.
func (rc *rawConn) head(method, path string, hdr ...string) {
	rc.t.Helper()
	h := method + " " + path + " HTTP/1.1\r\nHost: " + rc.host + "\r\n" + strings.Join(append(hdr, ""), "\r\n") + "\r\n"
	rc.write(h)
}

func (rc *rawConn) write(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// response reads one response.
func (rc *rawConn) response() resp {
	rc.t.Helper()
	res, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		rc.t.Fatalf("no response: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// closed reports whether the server closed the connection (after the
// responses read so far). A connection left open is only found out at
// the guard deadline.
func (rc *rawConn) closed() bool {
	_, err := rc.r.ReadByte()
	return err == io.EOF
}

func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	return b.String() + "0\r\n\r\n"
}

// TestBodyRefusedOnHeaders: a request that will not be served gets its
// answer from its headers alone, without one byte of its body sent (so
// none can have been buffered), and its connection closed; nothing of
// the body budget stays taken.
func TestBodyRefusedOnHeaders(t *testing.T) {
	ts := newPreauthServer(t)
	publish, read := ts.bearer(RolePublish), ts.bearer(RoleRead)
	const huge = "Content-Length: 8388000"
	tests := []struct {
		name, method, path string
		hdr                []string
		fillBudget         bool
		status             int
		code               string
	}{
		{"no token", "POST", "/v1/events", []string{huge}, false, 401, codeUnauthorized},
		{"no token, under max_body_bytes", "POST", "/v1/events", []string{"Content-Length: 60000"}, false, 401, codeUnauthorized},
		{"no token, chunked", "POST", "/v1/events", []string{"Transfer-Encoding: chunked"}, false, 401, codeUnauthorized},
		{"bad token", "POST", "/v1/events", []string{huge, "Authorization: Bearer x.y.z"}, false, 401, codeUnauthorized},
		{"no token, webhook create", "POST", "/v1/webhooks", []string{huge}, false, 401, codeUnauthorized},
		{"read role publishing", "POST", "/v1/events", []string{huge, "Authorization: " + read}, false, 403, codeForbidden},
		{"other tenant header", "POST", "/v1/events", []string{huge, "Authorization: " + publish, "X-Tenant-Id: globex"}, false, 403, codeForbidden},
		{"over max_body_bytes", "POST", "/v1/events", []string{huge, "Authorization: " + publish}, false, 413, codeTooLarge},
		{"over budget", "POST", "/v1/events", []string{"Content-Length: 1000", "Authorization: " + publish}, true, 503, codeUnavailable},
		{"over budget, chunked", "POST", "/v1/events", []string{"Transfer-Encoding: chunked", "Authorization: " + publish}, true, 503, codeUnavailable},
		{"no route", "POST", "/v1/nothing", []string{huge, "Authorization: " + publish}, false, 404, codeNotFound},
		{"public route", "GET", "/healthz", []string{huge}, false, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fillBudget {
				n := ts.srv.budget.limit - ts.srv.budget.inUse()
				ts.srv.budget.take(n) // as if bodies were in flight
				defer ts.srv.budget.give(n)
			}
			rc := ts.dial(t)
			rc.head(tt.method, tt.path, append(tt.hdr, "Content-Type: application/json")...)
			r := rc.response()
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code != "" {
				if got := r.json(t)["code"]; got != tt.code {
					t.Errorf("code = %v, want %s", got, tt.code)
				}
			}
			if tt.status == 503 && r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if !rc.closed() {
				t.Error("connection left open with the body unread")
			}
		})
	}
	if n := ts.srv.budget.inUse(); n != 0 {
		t.Errorf("budget in use after the refusals = %d, want 0", n)
	}
}

// TestNumericStringTimeClaims: exp, nbf and iat must be JSON numbers;
// golang-jwt alone also takes "exp":"9999999999".
func TestNumericStringTimeClaims(t *testing.T) {
	ts := newPreauthServer(t)
	now := time.Now().Unix()
	sign := func(extra jwt.MapClaims) string {
		c := jwt.MapClaims{"tenant": "acme", "roles": []string{RoleAdmin}, "exp": now + 3600}
		for k, v := range extra {
			c[k] = v
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(preauthSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		claims jwt.MapClaims
		status int
	}{
		{"numbers", jwt.MapClaims{"nbf": now - 10, "iat": now - 10}, 200},
		{"fractional exp", jwt.MapClaims{"exp": float64(now) + 3600.5}, 200},
		{"exp string", jwt.MapClaims{"exp": "9999999999"}, 401},
		{"exp string, near", jwt.MapClaims{"exp": strconv.FormatInt(now+3600, 10)}, 401},
		{"nbf string", jwt.MapClaims{"nbf": strconv.FormatInt(now-10, 10)}, 401},
		{"iat string", jwt.MapClaims{"iat": strconv.FormatInt(now-10, 10)}, 401},
		{"exp bool", jwt.MapClaims{"exp": true}, 401},
		{"exp null", jwt.MapClaims{"exp": nil}, 401}, // exp is required
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("GET", "/v1/webhooks", nil, "Authorization", "Bearer "+sign(tt.claims))
			if r.status != tt.status {
				t.Errorf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

// TestBodyBudgetReleased: whatever way a request ends (served, refused by
// its handler, cut short by the client, over a limit), the budget it took
// is back before its response is written; after many of them the whole
// budget is free.
func TestBodyBudgetReleased(t *testing.T) {
	ts := newPreauthServer(t)
	auth := "Authorization: " + ts.bearer(RolePublish)
	event := func(size int) string { // one event, exactly size bytes of JSON
		const frame = `{"type":"a","data":""}`
		return `{"type":"a","data":"` + strings.Repeat("x", size-len(frame)) + `"}`
	}
	full := `{"events":[` + strings.Repeat(event(1000)+",", 60) + event(1000) + `]}` // ~61 KB
	ndjson := strings.Repeat(event(900)+"\n", 70)                                    // ~63 KB
	steps := []struct {
		name   string
		send   func(rc *rawConn)
		status int
	}{
		{"one event", func(rc *rawConn) {
			b := event(200)
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(b)))
			rc.write(b)
		}, 202},
		{"batch near max_body_bytes", func(rc *rawConn) {
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(full)))
			rc.write(full)
		}, 202},
		{"ndjson near max_body_bytes", func(rc *rawConn) {
			rc.head("POST", "/v1/events", auth, "Content-Type: application/x-ndjson", "Content-Length: "+strconv.Itoa(len(ndjson)))
			rc.write(ndjson)
		}, 202},
		{"body of exactly max_body_bytes", func(rc *rawConn) {
			b := `{"events":[` + strings.Repeat(event(1000)+",", 64) + event(64<<10-len(`{"events":[]}`)-64*1001) + `]}`
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(b)))
			rc.write(b)
		}, 202},
		{"chunked", func(rc *rawConn) {
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Transfer-Encoding: chunked")
			rc.write(chunked(full[:30000], full[30000:]))
		}, 202},
		{"invalid JSON", func(rc *rawConn) {
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Content-Length: 5")
			rc.write("{nope")
		}, 400},
		{"data over max_data_bytes", func(rc *rawConn) {
			b := event(20 << 10)
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(b)))
			rc.write(b)
		}, 413},
		{"chunked over max_body_bytes", func(rc *rawConn) {
			// One byte over, and no more: the server reads all that is
			// sent, so its close is clean (unread bytes would make it a reset).
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Transfer-Encoding: chunked")
			over := strings.Repeat("x", 64<<10+1-len(full))
			rc.write(fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n", len(full), full, len(over), over))
		}, 413},
		{"body cut short", func(rc *rawConn) {
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Content-Length: 50000")
			rc.write(full[:20000])
			rc.c.CloseWrite()
		}, 400},
		{"chunked cut short", func(rc *rawConn) {
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Transfer-Encoding: chunked")
			rc.write("8000\r\n" + full[:20000])
			rc.c.CloseWrite()
		}, 400},
		{"bad chunk framing", func(rc *rawConn) {
			rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Transfer-Encoding: chunked")
			rc.write("zz\r\nabc\r\n0\r\n\r\n")
		}, 400},
		{"no token", func(rc *rawConn) {
			rc.head("POST", "/v1/events", "Content-Type: application/json", "Content-Length: 5")
		}, 401},
	}
	for round := 0; round < 5; round++ {
		for _, st := range steps {
			rc := ts.dial(t)
			st.send(rc)
			r := rc.response()
			if r.status != st.status {
				t.Fatalf("round %d, %s: status = %d, want %d: %s", round, st.name, r.status, st.status, r.body)
			}
			if n := ts.srv.budget.inUse(); n != 0 {
				t.Fatalf("round %d, %s: budget in use after the response = %d, want 0", round, st.name, n)
			}
		}
	}
	// Keep-alive: bodies read in full leave the connection usable.
	rc := ts.dial(t)
	for i := 0; i < 3; i++ {
		b := event(300)
		rc.head("POST", "/v1/events", auth, "Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(b)))
		rc.write(b)
		res, err := http.ReadResponse(rc.r, nil)
		if err != nil {
			t.Fatalf("request %d on one connection: %v", i, err)
		}
		io.Copy(io.Discard, res.Body)
		if res.StatusCode != 202 {
			t.Fatalf("request %d on one connection: status %d", i, res.StatusCode)
		}
	}
}

// TestBodyBudgetTake: take never lets the total pass the limit.
func TestBodyBudgetTake(t *testing.T) {
	b := &bodyBudget{limit: 100}
	steps := []struct {
		take int64
		give int64
		ok   bool
		used int64
	}{
		{take: 60, ok: true, used: 60},
		{take: 41, ok: false, used: 60},
		{take: 40, ok: true, used: 100},
		{take: 1, ok: false, used: 100},
		{give: 60, used: 40},
		{take: 60, ok: true, used: 100},
	}
	for i, st := range steps {
		if st.give > 0 {
			b.give(st.give)
		} else if got := b.take(st.take); got != st.ok {
			t.Errorf("step %d: take(%d) = %v, want %v", i, st.take, got, st.ok)
		}
		if got := b.inUse(); got != st.used {
			t.Errorf("step %d: inUse = %d, want %d", i, got, st.used)
		}
	}
}
