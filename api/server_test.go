package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"hookd/config"
	"hookd/engine"
	"hookd/wal"
)

// testServer is a real server on 127.0.0.1 with a temp store.
type testServer struct {
	t     testing.TB
	url   string
	store *wal.Store
	eng   *engine.Engine
	cfg   config.Config
	// srvHandler serves a RequestCtx in-process (fuzzers).
	srvHandler fasthttp.RequestHandler
	srv        *Server
}

func newTestServer(t testing.TB, mutate func(*config.Config)) *testServer {
	t.Helper()
	return newTestServerWith(t, mutate, nil)
}

// newTestServerWith is newTestServer with engine options: engineOpts, when
// set, may change the options the engine is built with (Store is already
// set, Dispatcher has a 2 s timeout; both may be replaced).
func newTestServerWith(t testing.TB, mutate func(*config.Config), engineOpts func(*engine.Options)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.Dir = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	store, err := wal.Open(wal.Options{Dir: cfg.Storage.Dir})
	if err != nil {
		t.Fatal(err)
	}
	eo := engine.Options{Store: store, Dispatcher: engine.NewDispatcher(engine.DispatcherOptions{Timeout: 2 * time.Second})}
	if engineOpts != nil {
		engineOpts(&eo)
	}
	eng := engine.New(eo)
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Config: cfg, Store: store, Engine: eng, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.http.Shutdown()
		eng.Close(context.Background())
		store.Close()
	})
	return &testServer{t: t, url: "http://" + ln.Addr().String(), store: store, eng: eng, cfg: cfg, srvHandler: srv.Handler(), srv: srv}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request; body may be a string (sent as is) or any value
// (marshalled). hdr is name, value pairs.
func (ts *testServer) do(method, path string, body any, hdr ...string) resp {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, ts.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// wantProblem checks a problem+json answer.
func wantProblem(t *testing.T, r resp, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content-type = %q, want application/problem+json", ct)
	}
	m := r.json(t)
	if m["code"] != code || int(m["status"].(float64)) != status || m["correlationId"] == "" || m["title"] == "" {
		t.Errorf("problem = %v, want code %s", m, code)
	}
	return m
}

func TestHealthAndReady(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if r := ts.do("GET", p, nil); r.status != 200 {
			t.Errorf("GET %s = %d", p, r.status)
		}
	}
	ts.store.Close()
	wantProblem(t, ts.do("GET", "/readyz", nil), 503, "unavailable")
}

func TestCorrelationID(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.do("GET", "/v1/webhooks", nil, "x-correlation-id", "abc-123")
	if got := r.header.Get("x-correlation-id"); got != "abc-123" {
		t.Errorf("echoed id = %q", got)
	}
	r = ts.do("GET", "/v1/nothing", nil)
	m := wantProblem(t, r, 404, "not_found")
	if m["correlationId"] != r.header.Get("x-correlation-id") || r.header.Get("x-correlation-id") == "" {
		t.Errorf("generated id %q, body %v", r.header.Get("x-correlation-id"), m["correlationId"])
	}
}

func TestPublishForms(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name     string
		ct       string
		body     string
		accepted int
	}{
		{"single", "application/json", `{"type":"order.created","data":{"n":1},"refs":{"orderRef":"A1"}}`, 1},
		{"batch", "application/json; charset=utf-8", `{"events":[{"type":"a","data":1},{"type":"101","data":null}]}`, 2},
		{"ndjson", "application/x-ndjson", "{\"type\":\"a\",\"data\":[1]}\n\n{\"type\":\"b\",\"data\":\"x\"}\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("POST", "/v1/events", tt.body, "Content-Type", tt.ct)
			if r.status != 202 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var out publishResponse
			json.Unmarshal(r.body, &out)
			if out.Accepted != tt.accepted || out.Duplicates != 0 || len(out.IDs) != tt.accepted {
				t.Fatalf("got %+v", out)
			}
			for _, id := range out.IDs {
				g := ts.do("GET", "/v1/events/"+id, nil)
				if g.status != 200 {
					t.Fatalf("GET %s = %d", id, g.status)
				}
				m := g.json(t)
				if m["id"] != id || m["data"] == nil && !strings.Contains(string(g.body), `"data":null`) {
					t.Errorf("event = %s", g.body)
				}
			}
		})
	}
}

func TestPublishIdempotency(t *testing.T) {
	ts := newTestServer(t, nil)
	body := `{"type":"order.created","id":"order-42","data":{"n":1}}`
	first := ts.do("POST", "/v1/events", body)
	second := ts.do("POST", "/v1/events", body)
	var a, b publishResponse
	json.Unmarshal(first.body, &a)
	json.Unmarshal(second.body, &b)
	if first.status != 202 || second.status != 202 {
		t.Fatalf("statuses %d %d", first.status, second.status)
	}
	if a.Accepted != 1 || a.Duplicates != 0 {
		t.Errorf("first = %+v, want accepted 1", a)
	}
	if b.Accepted != 0 || b.Duplicates != 1 || b.IDs[0] != a.IDs[0] {
		t.Errorf("second = %+v, want duplicate of %s", b, a.IDs[0])
	}
}

func TestPublishRejects(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) {
		c.Events.MaxDataBytes = 100
		c.Server.MaxBodyBytes = 4096
	})
	many := `{"events":[` + strings.Repeat(`{"type":"a","data":1},`, 1000) + `{"type":"a","data":1}]}`
	tests := []struct {
		name, ct, body string
		status         int
		code, detail   string
	}{
		{"not json", "application/json", `{"type":`, 400, "invalid_json", ""},
		{"empty", "application/json", ``, 400, "invalid_json", ""},
		{"no type", "application/json", `{"data":1}`, 400, "validation_failed", "type"},
		{"bad type", "application/json", `{"type":"a b","data":1}`, 400, "validation_failed", "type"},
		{"no data", "application/json", `{"type":"a"}`, 400, "validation_failed", "data"},
		{"bad event index", "application/json", `{"events":[{"type":"a","data":1},{"type":"","data":1}]}`, 400, "validation_failed", "events[1].type"},
		{"empty events", "application/json", `{"events":[]}`, 400, "validation_failed", "events"},
		{"too many refs", "application/json", `{"type":"a","data":1,"refs":{` + refs(17) + `}}`, 400, "validation_failed", "refs"},
		{"ref not string", "application/json", `{"type":"a","data":1,"refs":{"a":1}}`, 400, "validation_failed", ""},
		{"data too big", "application/json", `{"type":"a","data":"` + strings.Repeat("x", 200) + `"}`, 413, "payload_too_large", "data"},
		{"body too big", "application/json", `{"type":"a","data":"` + strings.Repeat("x", 5000) + `"}`, 413, "payload_too_large", ""},
		{"media type", "text/plain", `{"type":"a","data":1}`, 415, "unsupported_media_type", ""},
		{"ndjson bad line", "application/x-ndjson", "{\"type\":\"a\",\"data\":1}\n{oops\n", 400, "invalid_json", "line 2"},
		{"both forms", "application/json", `{"type":"a","data":1,"events":[]}`, 400, "validation_failed", ""},
		{"array body", "application/json", `[1,2]`, 400, "", ""},
	}
	_ = many
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do("POST", "/v1/events", tt.body, "Content-Type", tt.ct)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			m := r.json(t)
			if tt.code != "" && m["code"] != tt.code {
				t.Errorf("code = %v, want %s", m["code"], tt.code)
			}
			if d, _ := m["detail"].(string); !strings.Contains(d, tt.detail) {
				t.Errorf("detail = %q, want it to mention %q", d, tt.detail)
			}
		})
	}
	// Nothing of the rejected requests was stored.
	types, _, _ := ts.store.ListEventTypes("default", "", 100)
	if len(types) != 0 {
		t.Errorf("rejected requests registered types %v", types)
	}
}

func refs(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"r` + string(rune('a'+i)) + `":"v"`)
	}
	return b.String()
}

func TestStrictTypes(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Events.StrictTypes = true })
	wantProblem(t, ts.do("POST", "/v1/events", `{"type":"order.created","data":1}`), 422, "validation_failed")
	if r := ts.do("POST", "/v1/event-types", `{"name":"order.created","description":"d"}`); r.status != 201 {
		t.Fatalf("create type = %d %s", r.status, r.body)
	}
	wantProblem(t, ts.do("POST", "/v1/event-types", `{"name":"order.created"}`), 409, "conflict")
	if r := ts.do("POST", "/v1/events", `{"type":"order.created","data":1}`); r.status != 202 {
		t.Fatalf("publish registered type = %d %s", r.status, r.body)
	}
	r := ts.do("GET", "/v1/event-types", nil)
	if !strings.Contains(string(r.body), `"name":"order.created"`) || !strings.Contains(string(r.body), `"nextCursor":null`) {
		t.Errorf("list = %s", r.body)
	}
	if r := ts.do("DELETE", "/v1/event-types/order.created", nil); r.status != 204 {
		t.Errorf("delete = %d", r.status)
	}
	wantProblem(t, ts.do("DELETE", "/v1/event-types/order.created", nil), 404, "not_found")
}

func TestWebhookCRUD(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.do("POST", "/v1/webhooks", map[string]any{
		"url": "https://example.com/hook", "events": []string{"order.created"}, "maxBatchSize": "100",
		"maxBatchTimeDelay": "250ms", "customHeaders": map[string]string{"X-Api-Key": "abc"},
		"metadata": map[string]string{"productId": "12345"}, "retry": map[string]any{"schedule": []string{"0s", "5s"}},
	})
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	w := r.json(t)
	id := w["id"].(string)
	if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(w["secret"].(string), "whsec_") || w["hasSecret"] != true ||
		w["maxBatchSize"].(float64) != 100 || w["maxBatchTimeDelay"].(float64) != 250 || w["isActive"] != true {
		t.Errorf("created = %s", r.body)
	}
	g := ts.do("GET", "/v1/webhooks/"+id, nil)
	if g.status != 200 || strings.Contains(string(g.body), "whsec_") {
		t.Errorf("get = %d, secret must not appear: %s", g.status, g.body)
	}
	u := ts.do("PUT", "/v1/webhooks/"+id, `{"description":"orders","isActive":false}`)
	um := u.json(t)
	if u.status != 200 || um["description"] != "orders" || um["isActive"] != false || um["url"] != "https://example.com/hook" {
		t.Errorf("update = %d %s", u.status, u.body)
	}
	if r := ts.do("PATCH", "/v1/webhooks/"+id, `{"url":"ftp://x"}`); r.status != 400 {
		t.Errorf("bad patch = %d", r.status)
	}
	s := ts.do("GET", "/v1/webhooks/"+id+"/secret", nil)
	if s.status != 200 || s.json(t)["secret"] != w["secret"] {
		t.Errorf("secret = %s", s.body)
	}
	rot := ts.do("POST", "/v1/webhooks/"+id+"/secret:rotate", `{"gracePeriod":"1h"}`)
	if rot.status != 200 || rot.json(t)["secret"] == w["secret"] {
		t.Errorf("rotate = %d %s", rot.status, rot.body)
	}
	// No network here: the ping reports the failure, it is not an API error.
	if r := ts.do("POST", "/v1/webhooks/"+id+":ping", nil); r.status != 200 || r.json(t)["success"] != false {
		t.Errorf("ping = %d %s", r.status, r.body)
	}
	if r := ts.do("DELETE", "/v1/webhooks/"+id, nil); r.status != 204 {
		t.Errorf("delete = %d", r.status)
	}
	wantProblem(t, ts.do("GET", "/v1/webhooks/"+id, nil), 404, "not_found")
	wantProblem(t, ts.do("GET", "/v1/webhooks/wh_nope", nil), 404, "not_found")
	wantProblem(t, ts.do("GET", "/v1/events/evt_%00", nil), 404, "not_found")
}

func TestWebhookValidation(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name, body, field string
	}{
		{"no url", `{}`, "url"},
		{"ftp", `{"url":"ftp://example.com"}`, "url"},
		{"relative", `{"url":"/hook"}`, "url"},
		{"credentials", `{"url":"https://u:p@example.com"}`, "url"},
		{"loopback", `{"url":"http://127.0.0.1/x"}`, "url"},
		{"decimal loopback", `{"url":"http://2130706433/x"}`, "url"},
		{"hex loopback", `{"url":"http://0x7f.1/x"}`, "url"},
		{"short loopback", `{"url":"http://127.1/x"}`, "url"},
		{"mapped private", `{"url":"http://[::ffff:10.0.0.1]/x"}`, "url"},
		{"nat64 metadata", `{"url":"http://[64:ff9b::a9fe:a9fe]/x"}`, "url"},
		{"metadata", `{"url":"http://169.254.169.254/latest"}`, "url"},
		{"localhost", `{"url":"http://localhost:8080/x"}`, "url"},
		{"alias destination", `{"destination":"http://10.1.2.3"}`, "destination"},
		{"long url", `{"url":"https://example.com/` + strings.Repeat("a", 2100) + `"}`, "url"},
		{"batch size 0", `{"url":"https://example.com","maxBatchSize":0}`, "maxBatchSize"},
		{"batch size 1001", `{"url":"https://example.com","maxBatchSize":1001}`, "maxBatchSize"},
		{"delay", `{"url":"https://example.com","maxBatchTimeDelay":"soon"}`, ""},
		{"reserved header", `{"url":"https://example.com","customHeaders":{"Content-Type":"x"}}`, "customHeaders"},
		{"webhook- header", `{"url":"https://example.com","customHeaders":{"webhook-id":"x"}}`, "customHeaders"},
		{"expect header", `{"url":"https://example.com","customHeaders":{"Expect":"100-continue"}}`, "customHeaders"},
		{"te header", `{"url":"https://example.com","customHeaders":{"TE":"trailers"}}`, "customHeaders"},
		{"user-agent header", `{"url":"https://example.com","customHeaders":{"User-Agent":"x"}}`, "customHeaders"},
		{"header CRLF", `{"url":"https://example.com","customHeaders":{"X-A":"a\r\nB: c"}}`, "customHeaders.X-A"},
		{"header name", `{"url":"https://example.com","customHeaders":{"X A":"a"}}`, "customHeaders"},
		{"bad secret", `{"url":"https://example.com","secret":"abc"}`, "secret"},
		{"short secret", `{"url":"https://example.com","secret":"whsec_YWJj"}`, "secret"},
		{"bad event", `{"url":"https://example.com","events":["a b"]}`, "events[0]"},
		{"compression", `{"url":"https://example.com","compression":"br"}`, "compression"},
		{"schedule", `{"url":"https://example.com","retry":{"schedule":[]}}`, "retry.schedule"},
		{"wrong type", `{"url":"https://example.com","isActive":"yes"}`, "isActive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := wantProblem(t, ts.do("POST", "/v1/webhooks", tt.body), 400, "validation_failed")
			if f, _ := m["field"].(string); f != tt.field {
				t.Errorf("field = %q, want %q (%v)", f, tt.field, m["detail"])
			}
		})
	}
	if hooks, _, _ := ts.store.ListWebhooks("default", wal.ID{}, 10); len(hooks) != 0 {
		t.Errorf("rejected creates stored %d webhooks", len(hooks))
	}
	wantProblem(t, ts.do("POST", "/v1/webhooks", `{"url":"https://example.com"}`, "Content-Type", "text/xml"), 415, "unsupported_media_type")
}

func TestAllowedCIDRs(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Delivery.AllowedCIDRs = []string{"10.20.0.0/16"} })
	if r := ts.do("POST", "/v1/webhooks", `{"url":"http://10.20.1.2/hook"}`); r.status != 201 {
		t.Errorf("allowed range = %d %s", r.status, r.body)
	}
	wantProblem(t, ts.do("POST", "/v1/webhooks", `{"url":"http://10.21.1.2/hook"}`), 400, "validation_failed")
}

func TestWebhookPaging(t *testing.T) {
	ts := newTestServer(t, nil)
	for i := 0; i < 5; i++ {
		ts.do("POST", "/v1/webhooks", `{"url":"https://example.com/`+string(rune('a'+i))+`"}`)
	}
	var seen []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		r := ts.do("GET", "/v1/webhooks?limit=2"+cursor, nil)
		var p page[webhookOut]
		json.Unmarshal(r.body, &p)
		for _, w := range p.Results {
			seen = append(seen, w.URL)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *p.NextCursor
	}
	if strings.Join(seen, ",") != "https://example.com/a,https://example.com/b,https://example.com/c,https://example.com/d,https://example.com/e" {
		t.Errorf("paged = %v", seen)
	}
	wantProblem(t, ts.do("GET", "/v1/webhooks?limit=0", nil), 400, "validation_failed")
	wantProblem(t, ts.do("GET", "/v1/webhooks?cursor=zzz", nil), 400, "validation_failed")
}

func TestJWTAuth(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	ts := newTestServer(t, func(c *config.Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = secret })
	tok := func(tenant string, ttl time.Duration, roles ...string) string {
		s, err := MintToken(ts.cfg.Auth, tenant, "", roles, ttl, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	admin := tok("acme", time.Hour, RoleAdmin)
	r := ts.do("POST", "/v1/webhooks", `{"url":"https://example.com"}`, "Authorization", admin)
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	tests := []struct {
		name, method, path, auth string
		hdr                      []string
		status                   int
	}{
		{"no token", "GET", "/v1/webhooks", "", nil, 401},
		{"garbage", "GET", "/v1/webhooks", "Bearer abc.def.ghi", nil, 401},
		{"expired", "GET", "/v1/webhooks", tok("acme", -time.Hour, RoleAdmin), nil, 401},
		{"wrong secret", "GET", "/v1/webhooks", "Bearer " + mustMint(t, "another-secret-another-secret!!", "acme"), nil, 401},
		{"read may list", "GET", "/v1/webhooks", tok("acme", time.Hour, RoleRead), nil, 200},
		{"read may not create", "POST", "/v1/webhooks", tok("acme", time.Hour, RoleRead), nil, 403},
		{"publish may not read", "GET", "/v1/webhooks", tok("acme", time.Hour, RolePublish), nil, 403},
		{"write may not read secret", "GET", "/v1/webhooks/" + id + "/secret", tok("acme", time.Hour, RoleWrite), nil, 403},
		{"other tenant is 404", "GET", "/v1/webhooks/" + id, tok("beta", time.Hour, RoleAdmin), nil, 404},
		{"tenant header mismatch", "GET", "/v1/webhooks", admin, []string{"x-tenant-id", "beta"}, 403},
		{"tenant header match", "GET", "/v1/webhooks", admin, []string{"x-tenant-id", "acme"}, 200},
		{"public healthz", "GET", "/healthz", "", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := append([]string{}, tt.hdr...)
			if tt.auth != "" {
				hdr = append(hdr, "Authorization", tt.auth)
			}
			var body any
			if tt.method == "POST" {
				body = `{"url":"https://example.com"}`
			}
			r := ts.do(tt.method, tt.path, body, hdr...)
			if r.status != tt.status {
				t.Errorf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

func mustMint(t *testing.T, secret, tenant string) string {
	s, err := MintToken(config.Auth{JWTSecret: secret}, tenant, "", []string{RoleAdmin}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
