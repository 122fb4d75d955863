package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"hookd/config"
)

// Issue 8, finding 3: request bodies before authentication. These run the
// real binary in jwt mode.

func preauthEnv(extra ...string) []string {
	return append([]string{"HOOKD_AUTH_MODE=jwt", "HOOKD_AUTH_JWT_SECRET=" + testSecret}, extra...)
}

func preauthToken(t *testing.T, roles ...string) string {
	t.Helper()
	cfg := config.Default()
	cfg.Auth.Mode, cfg.Auth.JWTSecret = "jwt", testSecret
	tok, err := mintToken(cfg, "acme", "", roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

// openRequest connects and sends a POST /v1/events head declaring
// contentLength, then body (maybe only part of it), and leaves the
// connection open.
func openRequest(t *testing.T, base, bearer string, contentLength int, body string) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A guard so that a server waiting for bodies fails the test instead
	// of hanging it; nothing waits for it to pass.
	c.SetDeadline(time.Now().Add(20 * time.Second))
	head := "POST /v1/events HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(contentLength) + "\r\n"
	if bearer != "" {
		head += "Authorization: " + bearer + "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n"+body); err != nil {
		t.Fatal(err)
	}
	return c
}

func publishOne(t *testing.T, base, bearer string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/events", strings.NewReader(`{"type":"order.created","data":{"n":1}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", bearer)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPreauthHeadersOnlyMemory: 200 connections that send only headers
// declaring an 8 MB body and no token, then nothing. Each gets its 401
// from the headers and is closed; hookd's peak RSS (VmHWM) stays under
// 100 MiB (it reached 1.6 GiB when the bodies were read before
// authentication), and a good request is served after.
func TestPreauthHeadersOnlyMemory(t *testing.T) {
	p := startHookdEnv(t, t.TempDir(), preauthEnv())
	pid := p.cmd.Process.Pid
	before, _ := procMem(pid)

	const conns = 200
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = openRequest(t, p.url, "", 8388000, "")
	}
	answered := 0
	for i, c := range cs {
		r := bufio.NewReader(c)
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Errorf("connection %d: no answer before its body was sent: %v", i, err)
			continue
		}
		io.Copy(io.Discard, res.Body)
		if res.StatusCode != 401 {
			t.Errorf("connection %d: status %d, want 401", i, res.StatusCode)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("connection %d: left open after the 401 (%v)", i, err)
		}
		answered++
	}
	after, _ := procMem(pid)
	t.Logf("%d of %d answered; RSS before %s, after %s, peak (VmHWM) %s", answered, conns, mib(before.rss), mib(after.rss), mib(after.hwm))
	if after.hwm >= 100<<20 {
		t.Errorf("peak RSS %s, want < 100 MiB", mib(after.hwm))
	}

	res := publishOne(t, p.url, preauthToken(t, "tenant-event-publish"))
	defer res.Body.Close()
	if res.StatusCode != 202 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("authenticated publish after the flood: %d %s", res.StatusCode, b)
	}
}

// bufferedBodyBytes reads hookd's hookd_request_body_bytes_buffered gauge.
func bufferedBodyBytes(t *testing.T, base string) int64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "hookd_request_body_bytes_buffered "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	t.Fatal("no hookd_request_body_bytes_buffered in /metrics")
	return 0
}

// waitBuffered polls the gauge until it reads want (a separate process:
// there is nothing to be told by).
func waitBuffered(t *testing.T, base string, want int64) {
	t.Helper()
	for i := 0; ; i++ {
		got := bufferedBodyBytes(t, base)
		if got == want {
			return
		}
		if i > 1000 {
			t.Fatalf("request bodies buffered = %d, want %d", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPreauthBodyBudget: with server.body_budget_bytes = two bodies of
// server.max_body_bytes, two authenticated uploads that stall mid-body
// hold the whole budget; a third request is a 503 "unavailable" with
// Retry-After, decided on its headers; once the stalled ones go, requests
// are served again.
func TestPreauthBodyBudget(t *testing.T) {
	const maxBody = 1 << 20
	p := startHookdEnv(t, t.TempDir(), preauthEnv(
		"HOOKD_SERVER_MAX_BODY_BYTES="+strconv.Itoa(maxBody),
		"HOOKD_SERVER_BODY_BUDGET_BYTES="+strconv.Itoa(2*maxBody)))
	bearer := preauthToken(t, "tenant-event-publish")

	stalled := []net.Conn{
		openRequest(t, p.url, bearer, maxBody, strings.Repeat("x", 16<<10)),
		openRequest(t, p.url, bearer, maxBody, strings.Repeat("x", 16<<10)),
	}
	waitBuffered(t, p.url, 2*maxBody)

	res := publishOne(t, p.url, bearer)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var prob struct{ Code string }
	json.Unmarshal(b, &prob)
	if res.StatusCode != 503 || prob.Code != "unavailable" || res.Header.Get("Retry-After") == "" {
		t.Errorf("over the budget: %d Retry-After=%q %s; want 503, code unavailable, Retry-After",
			res.StatusCode, res.Header.Get("Retry-After"), b)
	}

	for _, c := range stalled {
		c.Close()
	}
	waitBuffered(t, p.url, 0)
	res = publishOne(t, p.url, bearer)
	defer res.Body.Close()
	if res.StatusCode != 202 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("after the stalled uploads went: %d %s", res.StatusCode, b)
	}
}
