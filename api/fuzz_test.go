package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/config"
)

// fuzzServer is a jwt-mode server driven in-process (no sockets), so a
// fuzzer can call it hundreds of thousands of times.
func fuzzServer(t testing.TB) *testServer {
	return newTestServer(t, func(c *config.Config) {
		c.Auth.Mode, c.Auth.JWTSecret = "jwt", "0123456789abcdef0123456789abcdef"
		c.Delivery.AllowPrivateDestinations = false
	})
}

func serve(h fasthttp.RequestHandler, method, path, ctype string, hdr map[string]string, body []byte) int {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	if ctype != "" {
		ctx.Request.Header.SetContentType(ctype)
	}
	for k, v := range hdr {
		ctx.Request.Header.Set(k, v)
	}
	ctx.Request.SetBody(body)
	h(&ctx)
	return ctx.Response.StatusCode()
}

// FuzzAuthHeader: no Authorization, x-tenant-id or x-account-id value
// gets anything but 401/403, or through with a valid token, a 2xx.
func FuzzAuthHeader(f *testing.F) {
	ts := fuzzServer(f)
	h := ts.srvHandler
	good, _ := MintToken(ts.cfg.Auth, "acme", "", []string{RoleAdmin}, time.Hour, time.Now())
	for _, s := range []string{"", "Bearer ", "Bearer " + good, "bearer " + good, "Bearer a.b.c", "Basic Zm9vOmJhcg==",
		"Bearer eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIn0.", "Bearer " + good + "x"} {
		f.Add(s, "", "")
		f.Add(s, "acme", "")
	}
	f.Fuzz(func(t *testing.T, auth, tenant, account string) {
		hdr := map[string]string{"Authorization": auth}
		if tenant != "" {
			hdr["x-tenant-id"] = tenant
		}
		if account != "" {
			hdr["x-account-id"] = account
		}
		code := serve(h, "GET", "/v1/webhooks", "", hdr, nil)
		if code >= 500 || (code != 200 && code != 401 && code != 403) {
			t.Fatalf("Authorization %q tenant %q account %q: %d", auth, tenant, account, code)
		}
	})
}

// FuzzPostBodies sends arbitrary bodies to every POST/PUT/PATCH route of
// the route table (the compat profiles included), on an existing webhook:
// 4xx or success, never a 5xx or a panic.
func FuzzPostBodies(f *testing.F) {
	ts := fuzzServer(f)
	h := ts.srvHandler
	tok, _ := MintToken(ts.cfg.Auth, "acme", "acct", []string{RoleAdmin}, time.Hour, time.Now())
	hdr := map[string]string{"Authorization": "Bearer " + tok, "x-tenant-id": "acme", "x-account-id": "acct", "X-PM-Code": "acme"}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/webhooks")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.Header.Set("Authorization", hdr["Authorization"])
	ctx.Request.SetBody([]byte(`{"url":"https://example.com/hook"}`))
	h(&ctx)
	var made struct{ ID string }
	if err := json.Unmarshal(ctx.Response.Body(), &made); err != nil || made.ID == "" {
		f.Fatalf("create: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	fill := strings.NewReplacer("{id}", made.ID, "{webhookId}", made.ID, "{batchId}", "bat_01KAB000000000000000000000",
		"{attemptId}", "att_01KAB000000000000000000000", "{deliveryAttemptId}", "att_01KAB000000000000000000000",
		"{deliveryId}", "dlv_01KAB00000000000000000000001KAB000000000000000000000", "{name}", "order.created")
	var paths []struct{ method, path string }
	for _, rt := range allRoutes() {
		if rt.method == "POST" || rt.method == "PUT" || rt.method == "PATCH" {
			paths = append(paths, struct{ method, path string }{rt.method, fill.Replace(rt.path)})
		}
	}
	for _, b := range []string{`{}`, `{"url":"https://example.com","maxBatchSize":"7","maxBatchTimeDelay":"1s"}`,
		`{"name":"a.b"}`, `{"gracePeriod":"1h"}`, `{"batchIds":["bat_x"],"createdAfter":"2026-01-01T00:00:00Z"}`,
		`{"type":"a","data":{}}`, `{"events":[{"type":"a","data":1}]}`, `[`, `{"retry":{"schedule":["1s"]}}`,
		`{"customHeaders":{"X-A":"b"},"metadata":{"k":"v"},"events":["*"]}`, `{"endpoint":"https://example.com","events":["A"]}`,
		`{"notification_id":"b012776c-ab74-4ece-8403-0bbb9130508c"}`, `{"active":false,"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`,
		`{"destination":"https://example.com","maxBatchSize":"10","maxBatchTimeDelay":"00:00:01.5","isActive":true}`,
		`{"programManagerCode":"acme","productId":1,"events":[101],"webhookStatus":"active","config":{"url":"https://example.com","customHeaders":{"a":"b"}}}`} {
		for i := range paths {
			f.Add(uint8(i), "application/json", []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, ctype string, body []byte) {
		p := paths[int(which)%len(paths)]
		code := serve(h, p.method, p.path, ctype, hdr, body)
		if code >= 500 {
			t.Fatalf("%s %s (%q) %q: %d", p.method, p.path, ctype, body, code)
		}
	})
}
