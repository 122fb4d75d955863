package api

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"hookd/config"
)

// TestConsoleServed: the page and its modules come from the binary, with
// a CSP that allows this origin only and frames from nowhere by default.
func TestConsoleServed(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = portalTestSecret })
	for _, tt := range []struct{ path, ctype string }{
		{"/console", "text/html; charset=utf-8"},
		{"/console/webhooks", "text/html; charset=utf-8"},
		{"/console/app.js", "text/javascript; charset=utf-8"},
		{"/console/style.css", "text/css; charset=utf-8"},
		{"/console/vendor/preact.module.js", "text/javascript; charset=utf-8"},
		{"/console/vendor/hooks.module.js", "text/javascript; charset=utf-8"},
		{"/console/vendor/htm.module.js", "text/javascript; charset=utf-8"},
	} {
		r := ts.do("GET", tt.path, nil) // no token: the console holds no data
		if r.status != 200 || r.header.Get("Content-Type") != tt.ctype {
			t.Errorf("GET %s = %d %q", tt.path, r.status, r.header.Get("Content-Type"))
			continue
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", tt.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("CSP allows unsafe sources: %q", csp)
		}
		if r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: headers %v", tt.path, r.header)
		}
	}
	for _, p := range []string{"/console/missing.js", "/console/../auth.go", "/console/vendor/LICENSE.htm.js", "/console/vendor/x/app.js", "/console/a/b"} {
		if r := ts.do("GET", p, nil); r.status != 404 {
			t.Errorf("GET %s = %d, want 404", p, r.status)
		}
	}
}

// TestConsoleAssetsSelfContained: no inline script, no eval, nothing
// fetched from another host (the SVG namespace is a name, not a fetch;
// example.com is a placeholder).
func TestConsoleAssetsSelfContained(t *testing.T) {
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	external := regexp.MustCompile(`(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(consoleFS, "console", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(consoleFS, path)
		s := string(b)
		if strings.HasSuffix(path, ".html") {
			for _, tag := range inline.FindAllString(s, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("%s: inline script %q", path, tag)
				}
			}
			if strings.Contains(s, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(s) {
				t.Errorf("%s: inline event handler", path)
			}
		}
		if strings.Contains(s, "eval(") || strings.Contains(s, "new Function") {
			t.Errorf("%s: eval", path)
		}
		for _, u := range external.FindAllString(s, -1) {
			if !strings.Contains(u, "www.w3.org") && !strings.HasSuffix(u, "//example.com") {
				t.Errorf("%s: external reference %q", path, u)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConsoleFrameAncestorsAndDisabled(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) {
		c.Console.FrameAncestors = []string{"https://app.example.com", "'self'"}
	})
	r := ts.do("GET", "/console", nil)
	if csp := r.header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors https://app.example.com 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	if r.header.Get("X-Frame-Options") != "" {
		t.Errorf("X-Frame-Options %q would forbid the listed ancestors", r.header.Get("X-Frame-Options"))
	}
	off := newTestServer(t, func(c *config.Config) { c.Console.Enabled = false })
	for _, p := range []string{"/console", "/console/app.js"} {
		if r := off.do("GET", p, nil); r.status != 404 {
			t.Errorf("console.enabled = false: GET %s = %d", p, r.status)
		}
	}
}

// TestStats: the tenant's own ingest, and the server's attempts as the
// engine counts them, with latency percentiles.
func TestStats(t *testing.T) {
	got := make(chan struct{}, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	defer rcv.Close()
	ps := newPortalServer(t, "jwt")
	if r := ps.as(ps.admin, "POST", "/v1/webhooks", `{"url":"`+rcv.URL+`","events":["a"]}`); r.status != 201 {
		t.Fatal(r.status, string(r.body))
	}
	for i := 0; i < 3; i++ {
		if r := ps.as(ps.admin, "POST", "/v1/events", `{"events":[{"type":"a","data":1},{"type":"b","data":2}]}`); r.status != 202 {
			t.Fatal(r.status)
		}
	}
	for i := 0; i < 3; i++ {
		<-got
	}
	sum := func(auth string) (in int, ok, failed uint64, p99 float64) {
		var out statsOut
		r := ps.as(auth, "GET", "/v1/stats", nil)
		if r.status != 200 || jsonUnmarshal(r.body, &out) != nil || len(out.Points) != statsSteps || out.StepSeconds != 10 {
			t.Fatalf("stats = %d %s", r.status, r.body)
		}
		for _, p := range out.Points {
			in += p.Ingested
			if p.Succeeded != nil {
				ok, failed = ok+*p.Succeeded, failed+*p.Failed
			}
			if p.P99 != nil {
				p99 = *p.P99
			}
		}
		return
	}
	if in, _, _, _ := sum(ps.beta); in != 0 {
		t.Errorf("another tenant sees %d events in", in)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		in, ok, failed, p99 := sum(ps.admin)
		if in != 6 || failed != 0 {
			t.Fatalf("stats: %d in, %d failed; want 6, 0", in, failed)
		}
		if ok == 3 {
			if p99 <= 0 {
				t.Errorf("p99 = %v", p99)
			}
			break
		}
		if ok > 3 || time.Now().After(deadline) {
			t.Fatalf("stats: %d attempts succeeded, want 3", ok)
		}
		time.Sleep(20 * time.Millisecond) // the attempt is counted just after the receiver answers
	}
}
