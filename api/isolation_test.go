package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"hookd/config"
)

// TestTenantIsolation: two tenants over every resource type. Another
// tenant's ids are 404 for every verb, lists show only one's own, and
// tenant B's events never reach tenant A's webhooks.
func TestTenantIsolation(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{} // path → bodies
	arrived := make(chan struct{}, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], string(b))
		mu.Unlock()
		w.WriteHeader(204)
		arrived <- struct{}{}
	}))
	defer rcv.Close()
	ts := newTestServer(t, func(c *config.Config) {
		c.Auth.Mode, c.Auth.JWTSecret = "jwt", "0123456789abcdef0123456789abcdef"
		c.Delivery.AllowPrivateDestinations = true
	})
	tok := func(tenant string) []string {
		s, _ := MintToken(ts.cfg.Auth, tenant, "", []string{RoleAdmin}, time.Hour, time.Now())
		return []string{"Authorization", "Bearer " + s}
	}
	a, b := tok("acme"), tok("beta")
	hookA := ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"%s/a"}`, rcv.URL), a...).json(t)["id"].(string)
	hookB := ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"%s/b"}`, rcv.URL), b...).json(t)["id"].(string)
	if ts.do("POST", "/v1/event-types", `{"name":"only.acme"}`, a...).status != 201 {
		t.Fatal("create event type")
	}
	evA := ts.do("POST", "/v1/events", `{"type":"order.created","data":{"from":"acme"}}`, a...).json(t)["ids"].([]any)[0].(string)
	ts.do("POST", "/v1/events", `{"type":"order.created","data":{"from":"beta"}}`, b...)
	for i := 0; i < 2; i++ {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("deliveries did not arrive")
		}
	}
	mu.Lock()
	if len(got["/a"]) != 1 || !strings.Contains(got["/a"][0], `"from":"acme"`) ||
		len(got["/b"]) != 1 || !strings.Contains(got["/b"][0], `"from":"beta"`) {
		t.Errorf("fan-out crossed tenants: %v", got)
	}
	mu.Unlock()

	// Every verb on tenant A's resources, as tenant B: 404.
	var batchA string
	if page := ts.do("GET", "/v1/webhooks/"+hookA+"/batches", nil, a...).json(t)["results"].([]any); len(page) == 1 {
		batchA = page[0].(map[string]any)["id"].(string)
	} else {
		t.Fatalf("tenant A batches: %v", page)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/webhooks/" + hookA, ""},
		{"PUT", "/v1/webhooks/" + hookA, `{"description":"x"}`},
		{"PATCH", "/v1/webhooks/" + hookA, `{"description":"x"}`},
		{"DELETE", "/v1/webhooks/" + hookA, ""},
		{"POST", "/v1/webhooks/" + hookA + ":ping", ""},
		{"GET", "/v1/webhooks/" + hookA + "/heartbeat?probe=false", ""},
		{"GET", "/v1/webhooks/" + hookA + "/secret", ""},
		{"POST", "/v1/webhooks/" + hookA + "/secret:rotate", `{}`},
		{"GET", "/v1/webhooks/" + hookA + "/batches", ""},
		{"GET", "/v1/webhooks/" + hookA + "/batches/" + batchA, ""},
		{"GET", "/v1/webhooks/" + hookA + "/batches/" + batchA + "/attempts", ""},
		{"POST", "/v1/webhooks/" + hookA + "/batches/" + batchA + "/attempts", ""},
		{"GET", "/v1/events/" + evA, ""},
		{"DELETE", "/v1/event-types/only.acme", ""},
		{"POST", "/v1/webhooks:sendexpired", `{"webhookId":"` + hookA + `"}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		if r := ts.do(c.method, c.path, body, b...); r.status != 404 {
			t.Errorf("beta %s %s = %d, want 404", c.method, c.path, r.status)
		}
	}
	// Lists show only one's own.
	if l := ts.do("GET", "/v1/webhooks", nil, b...); strings.Contains(string(l.body), hookA) || !strings.Contains(string(l.body), hookB) {
		t.Errorf("beta's webhook list: %s", l.body)
	}
	if l := ts.do("GET", "/v1/event-types", nil, b...); strings.Contains(string(l.body), "only.acme") {
		t.Errorf("beta's event types: %s", l.body)
	}
	// And tenant A's resources are untouched.
	if w := ts.do("GET", "/v1/webhooks/"+hookA, nil, a...).json(t); w["description"] != "" {
		t.Errorf("tenant A's webhook changed: %v", w)
	}
}
