package api

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"hookd/config"
)

// TestWebhooksPerTenant: webhooks.max_per_tenant holds under concurrent
// creates (none overshoots), per tenant, and a delete makes room again.
func TestWebhooksPerTenant(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) {
		c.Auth.Mode, c.Auth.JWTSecret = "jwt", "0123456789abcdef0123456789abcdef"
		c.Webhooks.MaxPerTenant = 3
	})
	tok := func(tenant string) []string {
		s, _ := MintToken(ts.cfg.Auth, tenant, "", []string{RoleAdmin}, time.Hour, time.Now())
		return []string{"Authorization", "Bearer " + s}
	}
	acme, beta := tok("acme"), tok("beta")
	var wg sync.WaitGroup
	statuses := make(chan int, 20)
	for i := range 20 {
		wg.Go(func() {
			r := ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"https://%d.example.com/"}`, i), acme...)
			statuses <- r.status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[201] != 3 || count[409] != 17 {
		t.Fatalf("20 concurrent creates with a limit of 3: %v, want 3×201 and 17×409", count)
	}
	p := wantProblem(t, ts.do("POST", "/v1/webhooks", `{"url":"https://one-more.example.com/"}`, acme...), 409, "conflict")
	if p["detail"] == "" {
		t.Error("no detail")
	}
	list := ts.do("GET", "/v1/webhooks", nil, acme...).json(t)["results"].([]any)
	if len(list) != 3 {
		t.Fatalf("acme has %d webhooks, want 3", len(list))
	}
	if r := ts.do("POST", "/v1/webhooks", `{"url":"https://beta.example.com/"}`, beta...); r.status != 201 {
		t.Fatalf("another tenant's create = %d %s", r.status, r.body)
	}
	id := list[0].(map[string]any)["id"].(string)
	if r := ts.do("DELETE", "/v1/webhooks/"+id, nil, acme...); r.status != 204 {
		t.Fatalf("delete = %d", r.status)
	}
	if r := ts.do("POST", "/v1/webhooks", `{"url":"https://again.example.com/"}`, acme...); r.status != 201 {
		t.Fatalf("create after a delete = %d %s", r.status, r.body)
	}
}
