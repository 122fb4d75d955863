package api

import (
	"fmt"
	"testing"

	"hookd/config"
)

// TestCompatCrossProfile: a webhook created through any profile (or /v1)
// is the same object through /v1 and every other profile: each reads it
// back with its own field names.
func TestCompatCrossProfile(t *testing.T) {
	ts := newTestServer(t, nil)
	dc := []string{"x-tenant-id", "default", "x-account-id", "acct-1"}
	type creator struct {
		name, path, body string
		hdr              []string
		id               func(m map[string]any) string
	}
	top := func(k string) func(map[string]any) string {
		return func(m map[string]any) string { s, _ := m[k].(string); return s }
	}
	creators := []creator{
		{"v1", "/v1/webhooks", `{"url":"%s","events":["101"]}`, nil, top("id")},
		{"ncore", "/webhooks", `{"endpoint":"%s","events":["101"]}`, nil, top("id")},
		{"ocore", "/api/webhook-endpoints", `{"url":"%s","events":["101"],"active":true}`, nil, top("id")},
		{"duckcreek", "/v1/notifications/webhooks", `{"destination":"%s","events":["101"],"isActive":true}`, dc, top("webhookId")},
		{"thredd", "/api/v1/Webhooks", `{"programManagerCode":"default","events":[101],"webhookStatus":"active","config":{"url":"%s"}}`, nil,
			func(m map[string]any) string {
				r, _ := m["response"].(map[string]any)
				s, _ := r["webhookid"].(string)
				return s
			}},
	}
	type reader struct {
		name, path string
		hdr        []string
		url        func(m map[string]any) any
	}
	readers := []reader{
		{"v1", "/v1/webhooks/%s", nil, func(m map[string]any) any { return m["url"] }},
		{"ncore", "/webhooks/%s", nil, func(m map[string]any) any { return m["endpoint"] }},
		{"ocore", "/api/webhook-endpoints/%s", nil, func(m map[string]any) any { return m["url"] }},
		{"duckcreek", "/v1/notifications/webhooks/%s", dc, func(m map[string]any) any { return m["destination"] }},
		{"thredd", "/api/v1/Webhooks/%s", nil, func(m map[string]any) any {
			r, _ := m["response"].(map[string]any)
			c, _ := r["config"].(map[string]any)
			return c["url"]
		}},
	}
	for _, c := range creators {
		url := "https://" + c.name + ".example.com/hook"
		r := ts.do("POST", c.path, fmt.Sprintf(c.body, url), c.hdr...)
		if r.status != 201 {
			t.Fatalf("%s create = %d %s", c.name, r.status, r.body)
		}
		id := c.id(r.json(t))
		if id == "" {
			t.Fatalf("%s create: no id in %s", c.name, r.body)
		}
		for _, rd := range readers {
			got := ts.do("GET", fmt.Sprintf(rd.path, id), nil, rd.hdr...)
			if got.status != 200 {
				t.Errorf("created through %s, read through %s = %d %s", c.name, rd.name, got.status, got.body)
				continue
			}
			if u := rd.url(got.json(t)); u != url {
				t.Errorf("created through %s, read through %s: url %v, want %s", c.name, rd.name, u, url)
			}
		}
	}
}

// TestCompatNone: api.compat = [] serves no profile; their paths are
// plain 404 problems, not a profile's error shape.
func TestCompatNone(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.API.Compat = []string{} })
	for _, p := range []string{"/webhooks", "/api/webhook-endpoints", "/v1/notifications/webhooks", "/api/v1/Webhooks"} {
		wantProblem(t, ts.do("GET", p, nil, "x-tenant-id", "default"), 404, "not_found")
	}
	if r := ts.do("GET", "/v1/webhooks", nil); r.status != 200 {
		t.Errorf("/v1 with no profiles = %d", r.status)
	}
}
