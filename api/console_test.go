package api

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"hookd/config"
	"hookd/wal"
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

// TestStats: the tenant's ingest and attempts, per step, only its own.
func TestStats(t *testing.T) {
	ps := newPortalServer(t, "jwt")
	for i := 0; i < 3; i++ {
		if r := ps.as(ps.admin, "POST", "/v1/events", `{"events":[{"type":"a","data":1},{"type":"a","data":2}]}`); r.status != 202 {
			t.Fatal(r.status)
		}
	}
	ps.srv.ObserveAttempt(&wal.Batch{Tenant: "acme"}, &wal.Attempt{Status: wal.AttemptSucceeded, Duration: 30 * time.Millisecond})
	ps.srv.ObserveAttempt(&wal.Batch{Tenant: "acme"}, &wal.Attempt{Status: wal.AttemptFailed, Duration: 3 * time.Second})
	ps.srv.ObserveAttempt(&wal.Batch{Tenant: "acme"}, &wal.Attempt{Status: wal.AttemptScheduled})
	var out statsOut
	for _, c := range []struct {
		auth                string
		ingested, ok, fails int
	}{{ps.admin, 6, 1, 1}, {ps.beta, 0, 0, 0}} {
		r := ps.as(c.auth, "GET", "/v1/stats", nil)
		if r.status != 200 || jsonUnmarshal(r.body, &out) != nil || len(out.Points) != statsSteps {
			t.Fatalf("stats = %d %s", r.status, r.body)
		}
		var in, ok, fails int
		var p99 float64
		for _, p := range out.Points {
			in, ok, fails = in+p.Ingested, ok+p.Succeeded, fails+p.Failed
			if p.P99 != nil {
				p99 = *p.P99
			}
		}
		if in != c.ingested || ok != c.ok || fails != c.fails {
			t.Errorf("stats: %d in, %d ok, %d failed; want %d, %d, %d", in, ok, fails, c.ingested, c.ok, c.fails)
		}
		if c.ok > 0 && p99 != 5000 {
			t.Errorf("p99 = %v, want 5000 (the bucket of 3 s)", p99)
		}
	}
}
