package api

import (
	"strings"
	"testing"
	"time"

	"hookd/config"
)

func TestTenantLimiter(t *testing.T) {
	l := newTenantLimiter(10)
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name   string
		tenant string
		n      int
		at     time.Duration
		ok     bool
		wait   time.Duration
	}{
		{"burst of 10", "a", 10, 0, true, 0},
		{"empty", "a", 1, 0, false, 100 * time.Millisecond},
		{"other tenant has its own bucket", "b", 10, 0, true, 0},
		{"refilled 0.5s later", "a", 5, 500 * time.Millisecond, true, 0},
		{"more than the burst waits for a full bucket", "a", 50, 500 * time.Millisecond, false, time.Second},
		{"full after 1s", "a", 50, 1500 * time.Millisecond, true, 0},
		{"in debt after a large request: 40 owed", "a", 1, 1600 * time.Millisecond, false, 4 * time.Second},
	}
	for _, tt := range tests {
		ok, wait := l.take(tt.tenant, tt.n, t0.Add(tt.at))
		if ok != tt.ok || (wait-tt.wait).Abs() > time.Millisecond {
			t.Errorf("%s: ok %v wait %s, want %v %s", tt.name, ok, wait, tt.ok, tt.wait)
		}
	}
	var none *tenantLimiter
	if ok, _ := none.take("a", 1e6, t0); !ok {
		t.Error("no limit refused")
	}
}

func TestIngestRateLimit(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Events.TenantRateLimit = 5 })
	body := `{"events":[` + strings.Repeat(`{"type":"a","data":1},`, 4) + `{"type":"a","data":1}]}`
	if r := ts.do("POST", "/v1/events", body); r.status != 202 {
		t.Fatalf("first 5 = %d %s", r.status, r.body)
	}
	r := ts.do("POST", "/v1/events", body)
	wantProblem(t, r, 429, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
