package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"hookd/config"
	"hookd/wal"
)

const portalTestSecret = "0123456789abcdef0123456789abcdef"

// portalServer is a test server in mode with an admin credential for
// tenant acme and one for tenant beta.
type portalServer struct {
	*testServer
	admin, beta string // Authorization header values
}

func newPortalServer(t *testing.T, mode string) *portalServer {
	t.Helper()
	ps := &portalServer{}
	ps.testServer = newTestServer(t, func(c *config.Config) {
		c.Auth.Mode = mode
		c.Delivery.AllowPrivateDestinations = true
		switch mode {
		case "jwt":
			c.Auth.JWTSecret = portalTestSecret
		case "apikey":
			for _, k := range []struct{ key, tenant string }{{"acme-admin-key", "acme"}, {"beta-admin-key", "beta"}} {
				h := sha256.Sum256([]byte(k.key))
				c.Auth.APIKeys = append(c.Auth.APIKeys, config.APIKey{SHA256: hex.EncodeToString(h[:]), Tenant: k.tenant, Roles: []string{RoleAdmin}})
			}
		}
	})
	switch mode {
	case "jwt":
		for _, x := range []struct {
			dst    *string
			tenant string
		}{{&ps.admin, "acme"}, {&ps.beta, "beta"}} {
			s, err := MintToken(ps.cfg.Auth, x.tenant, "", []string{RoleAdmin}, time.Hour, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			*x.dst = "Bearer " + s
		}
	case "apikey":
		ps.admin, ps.beta = "Bearer acme-admin-key", "Bearer beta-admin-key"
	}
	return ps
}

// as sends a request with the Authorization header auth ("" for none).
func (ps *portalServer) as(auth, method, path string, body any, hdr ...string) resp {
	ps.t.Helper()
	if auth != "" {
		hdr = append(hdr, "Authorization", auth)
	}
	return ps.do(method, path, body, hdr...)
}

func (ps *portalServer) hook(t *testing.T, auth, events string) string {
	t.Helper()
	r := ps.as(auth, "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/hook","events":`+events+`}`)
	if r.status != 201 {
		t.Fatalf("create webhook = %d %s", r.status, r.body)
	}
	return r.json(t)["id"].(string)
}

// portal creates a portal session with body and returns its token as an
// Authorization header value.
func (ps *portalServer) portal(t *testing.T, body string) string {
	t.Helper()
	r := ps.as(ps.admin, "POST", "/v1/portal-sessions", body)
	if r.status != 201 {
		t.Fatalf("portal-sessions = %d %s", r.status, r.body)
	}
	var out portalSessionOut
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.URL, "/console#portal="+out.Token) || !strings.HasPrefix(out.URL, "http://127.0.0.1:") {
		t.Errorf("url = %q", out.URL)
	}
	exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
	if err != nil || exp.Before(time.Now()) || exp.After(time.Now().Add(portalMaxTTL+time.Minute)) {
		t.Errorf("expiresAt = %q", out.ExpiresAt)
	}
	return "Bearer " + out.Token
}

func ids(t *testing.T, r resp) []string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("list = %d %s", r.status, r.body)
	}
	var page struct{ Results []struct{ ID string } }
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range page.Results {
		out = append(out, x.ID)
	}
	return out
}

// TestPortalLimitedToWebhooks: a portal limited to webhooks A and B sees
// and touches only them, through every route that takes a webhook id,
// the lists, the event lookup and the compat profiles; it may not
// publish, manage event types, read secrets or mint portals. In jwt and
// apikey mode alike.
func TestPortalLimitedToWebhooks(t *testing.T) {
	for _, mode := range []string{"jwt", "apikey"} {
		t.Run(mode, func(t *testing.T) {
			ps := newPortalServer(t, mode)
			a, b, c := ps.hook(t, ps.admin, `["a.x","both"]`), ps.hook(t, ps.admin, `["b.x"]`), ps.hook(t, ps.admin, `["c.x","both"]`)
			other := ps.hook(t, ps.beta, `[]`)
			portal := ps.portal(t, fmt.Sprintf(`{"webhookIds":[%q,%q],"ttl":"30m"}`, b, a))

			if got := ids(t, ps.as(portal, "GET", "/v1/webhooks", nil)); strings.Join(got, ",") != a+","+b {
				t.Errorf("portal list = %v, want [%s %s]", got, a, b)
			}
			if got := ids(t, ps.as(portal, "GET", "/v1/webhooks?limit=1", nil)); len(got) != 1 || got[0] != a {
				t.Errorf("portal list limit 1 = %v", got)
			}
			if got := ids(t, ps.as(ps.admin, "GET", "/v1/webhooks", nil)); len(got) != 3 {
				t.Errorf("admin list = %v", got)
			}

			// Events: one to A and C, one to C only.
			pub := ps.as(ps.admin, "POST", "/v1/events", `{"events":[{"type":"both","data":{}},{"type":"c.x","data":{},"id":"only-c"}]}`)
			if pub.status != 202 {
				t.Fatalf("publish = %d %s", pub.status, pub.body)
			}
			var acc publishResponse
			json.Unmarshal(pub.body, &acc)
			waitDeliveries(t, ps, acc.IDs[0], 2)
			ev := ps.as(portal, "GET", "/v1/events/"+acc.IDs[0], nil)
			if ev.status != 200 {
				t.Fatalf("portal event to A and C = %d %s", ev.status, ev.body)
			}
			var e eventOut
			json.Unmarshal(ev.body, &e)
			if len(e.Deliveries) != 1 || e.Deliveries[0].WebhookID != a {
				t.Errorf("portal sees deliveries %+v, want only %s", e.Deliveries, a)
			}
			batch := "bat_01KAB000000000000000000000"
			for _, tt := range []struct {
				method, path string
				body         any
				want         int
			}{
				{"GET", "/v1/webhooks/" + a, nil, 200},
				{"PATCH", "/v1/webhooks/" + b, `{"description":"mine"}`, 200},
				{"GET", "/v1/webhooks/" + a + "/batches", nil, 200},
				{"GET", "/v1/webhooks/" + a + "/heartbeat?probe=false", nil, 200},
				{"POST", "/v1/webhooks:sendexpired", `{}`, 202},
				{"POST", "/v1/webhooks:sendexpired", `{"webhookId":"` + a + `"}`, 202},
				{"GET", "/v1/event-types", nil, 200},
				{"GET", "/v1/session", nil, 200},
				// Another webhook of the tenant, or another tenant's: 404.
				{"GET", "/v1/webhooks/" + c, nil, 404},
				{"GET", "/v1/webhooks/" + other, nil, 404},
				{"PUT", "/v1/webhooks/" + c, `{"description":"x"}`, 404},
				{"PATCH", "/v1/webhooks/" + c, `{"isActive":false}`, 404},
				{"DELETE", "/v1/webhooks/" + c, nil, 404},
				{"POST", "/v1/webhooks/" + c + ":ping", nil, 404},
				{"GET", "/v1/webhooks/" + c + "/heartbeat", nil, 404},
				{"GET", "/v1/webhooks/" + c + "/batches", nil, 404},
				{"GET", "/v1/webhooks/" + c + "/batches/" + batch, nil, 404},
				{"GET", "/v1/webhooks/" + c + "/batches/" + batch + "/attempts", nil, 404},
				{"POST", "/v1/webhooks/" + c + "/batches/" + batch + "/attempts", nil, 404},
				{"GET", "/v1/webhooks/" + c + "/batches/" + batch + "/attempts/att_01KAB000000000000000000000", nil, 404},
				{"POST", "/v1/webhooks:sendexpired", `{"webhookId":"` + c + `"}`, 404},
				{"GET", "/v1/events/" + acc.IDs[1], nil, 404},
				{"GET", "/v1/events/only-c", nil, 404},
				// Compat profiles go through the same operations.
				{"GET", "/webhooks/" + c, nil, 404},
				{"GET", "/api/webhook-endpoints/" + c, nil, 404},
				// Beyond a portal's roles: 403.
				{"POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/new"}`, 403},
				{"POST", "/v1/events", `{"type":"a.x","data":{}}`, 403},
				{"POST", "/v1/event-types", `{"name":"n.x"}`, 403},
				{"DELETE", "/v1/event-types/a.x", nil, 403},
				{"GET", "/v1/webhooks/" + a + "/secret", nil, 403},
				{"POST", "/v1/webhooks/" + a + "/secret:rotate", `{}`, 403},
				{"POST", "/v1/portal-sessions", `{}`, 403},
				{"GET", "/v1/stats", nil, 403},
				{"GET", "/admin/backup", nil, 403},
			} {
				if r := ps.as(portal, tt.method, tt.path, tt.body); r.status != tt.want {
					t.Errorf("portal %s %s = %d, want %d: %s", tt.method, tt.path, r.status, tt.want, r.body)
				}
			}
			if r := ps.as(portal, "GET", "/v1/webhooks", nil, "x-tenant-id", "beta"); r.status != 403 {
				t.Errorf("portal with another tenant's header = %d, want 403", r.status)
			}
			var oc struct{ Total int }
			if r := ps.as(portal, "GET", "/api/webhook-endpoints", nil); r.status != 200 || json.Unmarshal(r.body, &oc) != nil || oc.Total != 2 {
				t.Errorf("oCore list through the portal = %d %s, want A and B", r.status, r.body)
			}
			var nc []map[string]any
			if r := ps.as(portal, "GET", "/webhooks", nil); r.status != 200 || json.Unmarshal(r.body, &nc) != nil || len(nc) != 2 {
				t.Errorf("nCore list through the portal = %d %s, want A and B", r.status, r.body)
			}
			// Deleted, one of its webhooks leaves its list.
			if r := ps.as(ps.admin, "DELETE", "/v1/webhooks/"+b, nil); r.status != 204 {
				t.Fatal(r.status)
			}
			if got := ids(t, ps.as(portal, "GET", "/v1/webhooks", nil)); len(got) != 1 || got[0] != a {
				t.Errorf("after delete: %v", got)
			}
		})
	}
}

// waitDeliveries polls GET /v1/events/id until n webhooks took it (the
// fan-out to webhooks happens after the acknowledgement).
func waitDeliveries(t *testing.T, ps *portalServer, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var e eventOut
		r := ps.as(ps.admin, "GET", "/v1/events/"+id, nil)
		json.Unmarshal(r.body, &e)
		if len(e.Deliveries) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s: %d deliveries, want %d: %s", id, len(e.Deliveries), n, r.body)
		}
		time.Sleep(20 * time.Millisecond) // polling the engine's fan-out: nothing tells the API
	}
}

// TestPortalWholeTenant: without webhookIds a portal sees the tenant's
// webhooks, creates them, and still holds read/write only.
func TestPortalWholeTenant(t *testing.T) {
	ps := newPortalServer(t, "jwt")
	a := ps.hook(t, ps.admin, `[]`)
	other := ps.hook(t, ps.beta, `[]`)
	portal := ps.portal(t, `{}`)
	made := ps.hook(t, portal, `[]`)
	if got := ids(t, ps.as(portal, "GET", "/v1/webhooks", nil)); strings.Join(got, ",") != a+","+made {
		t.Errorf("list = %v", got)
	}
	for _, tt := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/v1/webhooks/" + other, nil, 404},
		{"POST", "/v1/events", `{"type":"a","data":{}}`, 403},
		{"GET", "/v1/webhooks/" + a + "/secret", nil, 403},
		{"GET", "/v1/stats", nil, 200},
	} {
		if r := ps.as(portal, tt.method, tt.path, tt.body); r.status != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, r.status, tt.want)
		}
	}
	var s sessionOut
	json.Unmarshal(ps.as(portal, "GET", "/v1/session", nil).body, &s)
	if !s.Portal || s.Tenant != "acme" || s.Webhooks != nil || strings.Join(s.Roles, ",") != RoleRead+","+RoleWrite {
		t.Errorf("session = %+v", s)
	}
}

// TestPortalTokenForgery: a portal token is only as good as its signature.
func TestPortalTokenForgery(t *testing.T) {
	ps := newPortalServer(t, "jwt")
	a, c := ps.hook(t, ps.admin, `[]`), ps.hook(t, ps.admin, `[]`)
	portal := strings.TrimPrefix(ps.portal(t, `{"webhookIds":["`+a+`"]}`), "Bearer ")

	// Widen the webhooks claim, keep the signature.
	parts := strings.Split(portal, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	widened := strings.Replace(string(payload), `"webhooks":["`+a+`"]`, `"webhooks":["`+a+`","`+c+`"]`, 1)
	if widened == string(payload) {
		t.Fatalf("payload has no webhooks claim: %s", payload)
	}
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(widened)) + "." + parts[2]

	// Signed by another server's portal key.
	elsewhere := newPortalKeys(config.Auth{PortalSecret: strings.Repeat("x", 32)}, time.Now)
	alien, _, _ := elsewhere.mint(&Principal{Tenant: "acme"}, nil, time.Hour, time.Now())
	// Expired.
	expired, _, _ := ps.srv.auth.portal.mint(&Principal{Tenant: "acme"}, nil, time.Minute, time.Now().Add(-time.Hour))
	for name, tok := range map[string]string{"widened": forged, "other key": alien, "expired": expired} {
		if r := ps.as("Bearer "+tok, "GET", "/v1/webhooks", nil); r.status != 401 {
			t.Errorf("%s: %d, want 401", name, r.status)
		}
	}
	// The jwt_secret signs tenant tokens, not portal tokens: a token with
	// the portal kid signed with it is refused.
	k := newPortalKeys(config.Auth{PortalSecret: portalTestSecret}, time.Now)
	withJWTSecret, _, _ := k.mint(&Principal{Tenant: "acme"}, nil, time.Hour, time.Now())
	if r := ps.as("Bearer "+withJWTSecret, "GET", "/v1/webhooks", nil); r.status != 401 {
		t.Errorf("portal kid signed with jwt_secret: %d, want 401", r.status)
	}
}

// TestPortalModeNone: in auth.mode none a portal token still limits its
// bearer (a portal tried locally behaves as it will for real).
func TestPortalModeNone(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Delivery.AllowPrivateDestinations = true })
	ps := &portalServer{testServer: ts}
	a, c := ps.hook(t, "", `[]`), ps.hook(t, "", `[]`)
	portal := ps.portal(t, `{"webhookIds":["`+a+`"]}`)
	if got := ids(t, ps.as(portal, "GET", "/v1/webhooks", nil)); len(got) != 1 || got[0] != a {
		t.Errorf("portal list = %v", got)
	}
	if r := ps.as(portal, "GET", "/v1/webhooks/"+c, nil); r.status != 404 {
		t.Errorf("other webhook = %d", r.status)
	}
	if r := ps.as("Bearer "+strings.Repeat("a", 10)+".b.c", "GET", "/v1/webhooks", nil); r.status != 200 {
		t.Errorf("mode none ignores a token that is not a portal's: %d", r.status)
	}
}

// TestPortalSessionValidation: bad requests are 4xx with the field named.
func TestPortalSessionValidation(t *testing.T) {
	ps := newPortalServer(t, "jwt")
	a := ps.hook(t, ps.admin, `[]`)
	other := ps.hook(t, ps.beta, `[]`)
	many := make([]string, portalMaxWebhooks+1)
	for i := range many {
		many[i] = `"` + a + `"`
	}
	for _, tt := range []struct {
		body  string
		want  int
		field string
	}{
		{`{"ttl":"0s"}`, 400, "ttl"},
		{`{"ttl":"59s"}`, 400, "ttl"},
		{`{"ttl":"25h"}`, 400, "ttl"},
		{`{"ttl":"soon"}`, 400, "ttl"},
		{`{"ttl":3600}`, 400, "ttl"},
		{`{"webhookIds":[]}`, 400, "webhookIds"},
		{`{"webhookIds":"` + a + `"}`, 400, "webhookIds"},
		{`{"webhookIds":["nope"]}`, 400, "webhookIds[0]"},
		{`{"webhookIds":[` + strings.Join(many, ",") + `]}`, 400, "webhookIds"},
		{`{"webhookIds":["` + other + `"]}`, 404, ""},
		{`{"webhookIds":["wh_01KAB000000000000000000000"]}`, 404, ""},
		{`[`, 400, ""},
		{`{"ttl":"24h","webhookIds":["` + a + `","` + a + `"]}`, 201, ""},
		{``, 201, ""},
	} {
		r := ps.as(ps.admin, "POST", "/v1/portal-sessions", tt.body)
		if r.status != tt.want {
			t.Errorf("%s: %d, want %d: %s", tt.body, r.status, tt.want, r.body)
			continue
		}
		if tt.field != "" {
			if f := r.json(t)["field"]; f != tt.field {
				t.Errorf("%s: field %v, want %s", tt.body, f, tt.field)
			}
		}
	}
}

// FuzzPortalSessionBody: any body decodes to a valid session or a 4xx,
// never a panic, and a valid one stays within the limits.
func FuzzPortalSessionBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"ttl":"1h"}`, `{"webhookIds":["wh_01KAB000000000000000000000"],"ttl":"90m"}`,
		`{"webhookIds":[]}`, `{"ttl":"-1h"}`, `{"ttl":"1e9h"}`, `{"webhookIds":[null]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in portalSessionIn
		if err := decodeJSON([]byte(body), &in); err != nil {
			return
		}
		hooks, ttl, err := parsePortalSession(&in)
		if err != nil {
			if e := toError(err); e.Status != 400 {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		if ttl < portalMinTTL || ttl > portalMaxTTL || len(hooks) > portalMaxWebhooks || in.WebhookIDs != nil && len(hooks) == 0 {
			t.Fatalf("%q: accepted ttl %s, %d webhooks", body, ttl, len(hooks))
		}
		for _, h := range hooks {
			if h == (wal.ID{}) {
				t.Fatalf("%q: zero webhook id", body)
			}
		}
	})
}

// A portal limited to some webhooks cannot tell whether an event it did
// not receive exists, by its id or its idempotency key, on any route:
// nCore's sendexpired with a notification_id answers 404 for it, as
// GET /v1/events/{id} does, and 202 for an event one of its webhooks took.
func TestPortalCannotProbeEventKeys(t *testing.T) {
	ps := newPortalServer(t, "jwt")
	a := ps.hook(t, ps.admin, `["a.x"]`)
	ps.hook(t, ps.admin, `["c.x"]`)
	portal := ps.portal(t, fmt.Sprintf(`{"webhookIds":[%q]}`, a))
	for _, ev := range []string{`{"type":"c.x","data":{},"id":"payroll-2025-06"}`, `{"type":"a.x","data":{},"id":"mine-1"}`} {
		if r := ps.as(ps.admin, "POST", "/v1/events", ev); r.status != 202 {
			t.Fatalf("publish %s: %d %s", ev, r.status, r.body)
		}
	}
	var other struct{ IDs []string }
	r := ps.as(ps.admin, "POST", "/v1/events", `{"type":"c.x","data":{},"id":"payroll-2025-06"}`)
	if err := json.Unmarshal(r.body, &other); err != nil || len(other.IDs) != 1 {
		t.Fatalf("the other event's id: %s", r.body)
	}
	for _, ref := range []string{"payroll-2025-06", other.IDs[0], "payroll-2025-07"} {
		if r := ps.as(portal, "GET", "/v1/events/"+ref, nil); r.status != 404 {
			t.Errorf("GET /v1/events/%s as the portal: %d, want 404", ref, r.status)
		}
		if r := ps.as(portal, "POST", "/webhooks:sendexpired", fmt.Sprintf(`{"notification_id":%q}`, ref)); r.status != 404 {
			t.Errorf("sendexpired %s as the portal: %d %s, want 404 (an event it did not receive does not exist to it)", ref, r.status, r.body)
		}
	}
	// Its own event is found: queued to its webhook, or in a batch of it.
	if r := ps.as(portal, "GET", "/v1/events/mine-1", nil); r.status != 200 {
		t.Errorf("GET its own event by key: %d %s, want 200", r.status, r.body)
	}
	if r := ps.as(portal, "POST", "/webhooks:sendexpired", `{"notification_id":"mine-1"}`); r.status != 202 {
		t.Errorf("sendexpired of its own event: %d %s, want 202", r.status, r.body)
	}
}
