package api

import (
	"strings"
	"testing"
	"time"

	"hookd/config"
)

// TestRouteRoleMatrix walks every registered route with no token and with
// a token of each role, and checks 401/403/allowed against API.md §2.
func TestRouteRoleMatrix(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	ts := newTestServer(t, func(c *config.Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = secret })
	token := func(role string) string {
		s, err := MintToken(ts.cfg.Auth, "acme", "acct-1", []string{role}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	// What each role may do, written out from API.md §2 rather than
	// derived from the grants table under test.
	mayDo := map[string]map[string]bool{
		RoleRead:    {RoleRead: true},
		RoleWrite:   {RoleRead: true, RoleWrite: true},
		RolePublish: {RolePublish: true},
		RoleAdmin:   {RoleRead: true, RoleWrite: true, RolePublish: true, RoleAdmin: true},
		// Duck Creek's spelling of tenant-webhook-write (seed 002).
		config.RoleWriteAlias: {RoleRead: true, RoleWrite: true},
		// The operator runs the server (a backup of every tenant) and may
		// do nothing in a tenant; no tenant role makes an operator.
		RoleOperator: {RoleOperator: true},
	}
	fill := strings.NewReplacer("{id}", "wh_01KAB000000000000000000000", "{batchId}", "bat_01KAB000000000000000000000",
		"{attemptId}", "att_01KAB000000000000000000000", "{name}", "order.created",
		"{webhookId}", "wh_01KAB000000000000000000000", "{deliveryAttemptId}", "att_01KAB000000000000000000000",
		"{deliveryId}", "dlv_01KAB00000000000000000000001KAB000000000000000000000")
	routes := allRoutes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	for _, rt := range routes {
		path := fill.Replace(rt.path)
		if rt.method == "POST" && (rt.path == "/v1/webhooks/{id}" || rt.path == "/webhooks/{id}") {
			path += ":ping"
		}
		var body any
		if rt.method == "POST" || rt.method == "PUT" || rt.method == "PATCH" {
			body = `{}`
		}
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			r := ts.do(rt.method, path, body)
			if rt.role == rolePublic {
				if r.status == 401 || r.status == 403 {
					t.Errorf("public route without token = %d", r.status)
				}
				return
			}
			if r.status != 401 {
				t.Errorf("no token = %d, want 401", r.status)
			}
			for _, role := range []string{RoleRead, RoleWrite, RolePublish, RoleAdmin, config.RoleWriteAlias, RoleOperator} {
				// With the tenant headers the profiles require (Duck Creek's
				// x-tenant-id/x-account-id, Thredd's X-PM-Code), matching
				// the token: an allowed call reaches its handler.
				r := ts.do(rt.method, path, body, "Authorization", token(role),
					"x-tenant-id", "acme", "x-account-id", "acct-1", "X-PM-Code", "acme")
				allowed := mayDo[role][rt.role]
				switch {
				case allowed && (r.status == 401 || r.status == 403):
					t.Errorf("%s: %d, want allowed: %s", role, r.status, r.body)
				case !allowed && r.status != 403:
					t.Errorf("%s: %d, want 403", role, r.status)
				}
			}
		})
	}
}

// TestSecretChangeNeedsAdmin: the write role may give a webhook its secret
// when it creates it, but only tenant-admin may change it afterwards
// (API.md §2: secrets are admin's), on the native and the vendor routes,
// whatever the value, and a refused change changes nothing.
func TestSecretChangeNeedsAdmin(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) {
		c.Auth.Mode = "jwt"
		c.Auth.JWTSecret = "0123456789abcdef0123456789abcdef"
		c.Delivery.AllowPrivateDestinations = true
	})
	as := func(role string) []string {
		s, err := MintToken(ts.cfg.Auth, "acme", "", []string{role}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + s}
	}
	const first = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const second = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	r := ts.do("POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/h","secret":"`+first+`"}`, as(RoleWrite)...)
	if r.status != 201 {
		t.Fatalf("create as write: %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["id"].(string)
	secretIs := func(want string) {
		t.Helper()
		r := ts.do("GET", "/v1/webhooks/"+id+"/secret", nil, as(RoleAdmin)...)
		if got, _ := r.json(t)["secret"].(string); got != want {
			t.Fatalf("secret = %q, want %q", got, want)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/v1/webhooks/" + id, `{"secret":"` + second + `"}`},
		{"PATCH", "/v1/webhooks/" + id, `{"secret":"` + first + `"}`}, // the same value: no oracle
		{"PUT", "/v1/webhooks/" + id, `{"url":"http://127.0.0.1:9/h","secret":"` + second + `"}`},
		{"PUT", "/api/webhook-endpoints/" + id, `{"url":"http://127.0.0.1:9/h","events":["a"],"secret":"` + second + `"}`},
	} {
		r := ts.do(c.method, c.path, c.body, as(RoleWrite)...)
		if m := wantProblem(t, r, 403, "forbidden"); m["field"] != "secret" {
			t.Errorf("%s %s: field %v", c.method, c.path, m["field"])
		}
		secretIs(first)
	}
	if r := ts.do("PATCH", "/v1/webhooks/"+id, `{"description":"d"}`, as(RoleWrite)...); r.status != 200 {
		t.Fatalf("patch without secret as write: %d %s", r.status, r.body)
	}
	if r := ts.do("PATCH", "/v1/webhooks/"+id, `{"secret":"`+second+`"}`, as(RoleAdmin)...); r.status != 200 {
		t.Fatalf("patch secret as admin: %d %s", r.status, r.body)
	}
	secretIs(second)
}
