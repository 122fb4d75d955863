package api

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hookd/config"
	"hookd/wal"
)

// threddClient sends requests as one program manager (tenant).
type threddClient struct {
	ts  *testServer
	hdr []string
}

func threddAs(t *testing.T, ts *testServer, tenant string, roles ...string) threddClient {
	t.Helper()
	tok, err := MintToken(ts.cfg.Auth, tenant, "", roles, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return threddClient{ts, []string{"Authorization", "Bearer " + tok}}
}

func (c threddClient) do(method, path string, body any, hdr ...string) resp {
	c.ts.t.Helper()
	return c.ts.do(method, threddBase+path, body, append(slices.Clone(c.hdr), hdr...)...)
}

// ok sends a request that must answer status in the success envelope and
// returns its response member.
func (c threddClient) ok(t *testing.T, status int, method, path string, body any, hdr ...string) (resp, map[string]any) {
	t.Helper()
	r := c.do(method, path, body, hdr...)
	if r.status != status {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, status, r.body)
	}
	m := r.json(t)
	if m["status"] != "success" || len(m) != 2 {
		t.Fatalf("%s %s: envelope %s", method, path, r.body)
	}
	inner, _ := m["response"].(map[string]any)
	return r, inner
}

// wantThreddError checks the profile's error envelope.
func wantThreddError(t *testing.T, r resp, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type = %q", ct)
	}
	m := r.json(t)
	e, _ := m["response"].(map[string]any)
	if m["status"] != "error" || len(m) != 2 || e == nil || e["code"] != code || e["message"] == "" ||
		e["correlationId"] != r.header.Get("x-correlation-id") || e["correlationId"] == "" {
		t.Errorf("error = %s, want code %s", r.body, code)
	}
	return e
}

func newThreddServer(t *testing.T) *deliveryServer {
	return newDeliveryServer(t, func(c *config.Config) { c.Auth.Mode, c.Auth.JWTSecret = "jwt", dcSecret }, nil)
}

var threddTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// Every request example of seed 003, with the seed's bodies (only
// config.url is the local receiver), answers as the seed's examples.
func TestThreddSeedExamples(t *testing.T) {
	rcv := newReceiver(t, 200)
	ds := newThreddServer(t)
	trd := threddAs(t, ds.testServer, "TRD", RoleAdmin)

	// Create: 201, the create example's fields (the id spelled webhookid).
	req := compatFile(t, "thredd", "create_request.json", "url", rcv.url)
	r, created := trd.ok(t, 201, "POST", "", req)
	compatShape(t, "create", r.body, "thredd", "create_response.json", shapeRules{})
	id, _ := created["webhookid"].(string)
	mustID(t, "wh_", id)
	var in map[string]any
	json.Unmarshal([]byte(req), &in)
	for _, k := range []string{"programManagerCode", "productId", "events", "webhookStatus", "config"} {
		wantJSONEqual(t, "created "+k, created[k], string(dcJSON(in[k])))
	}
	if s, _ := created["createdTime"].(string); !threddTimeRE.MatchString(s) {
		t.Errorf("createdTime = %v", created["createdTime"])
	}
	if loc := r.header.Get("Location"); loc != threddBase+"/"+id {
		t.Errorf("Location = %q", loc)
	}

	// Get: 200, the get example's fields.
	r, got := trd.ok(t, 200, "GET", "/"+id, nil)
	compatShape(t, "get", r.body, "thredd", "get_response.json", shapeRules{extra: []string{"response.config"}})
	wantJSONEqual(t, "get", dcPick(got, "webhookId", "productId", "events", "webhookStatus", "config", "createdTime"),
		string(dcJSON(map[string]any{"webhookId": id, "productId": 12345, "events": []int{101}, "webhookStatus": "active",
			"config": in["config"], "createdTime": created["createdTime"]})))
	if got["lastModifiedTime"] != created["createdTime"] {
		t.Errorf("lastModifiedTime = %v, want createdTime %v", got["lastModifiedTime"], created["createdTime"])
	}

	// The same webhook natively: event "101", productId in metadata.
	_, native := ds.get(t, "/v1/webhooks/"+id, trd.hdr...)
	wantJSONEqual(t, "native", dcPick(native, "url", "events", "isActive", "customHeaders", "metadata"),
		`{"url":"`+rcv.url+`","events":["101"],"isActive":true,"customHeaders":{"header1":"value_1","header2":"value_2"},"metadata":{"productId":"12345"}}`)

	// List: the seed's request (X-PM-Code: 12345) as program manager 12345,
	// whose webhook has the list example's events; 201 as the seed says.
	pm := threddAs(t, ds.testServer, "12345", RoleAdmin)
	_, other := pm.ok(t, 201, "POST", "", `{"programManagerCode":"12345","productId":12345,"events":[101,102],"webhookStatus":"active","config":{"url":"`+rcv.url+`","customHeader":{"header1":"value_1","header2":"value_2"}}}`)
	r, list := pm.ok(t, 201, "GET", "", nil, "X-PM-Code", "12345", "accept", "application/json")
	compatShape(t, "list", r.body, "thredd", "list_response.json", shapeRules{})
	content, _ := list["content"].([]any)
	if len(content) != 1 {
		t.Fatalf("list = %v", list)
	}
	wantJSONEqual(t, "list item", dcPick(content[0].(map[string]any), "webhookId", "webhookStatus", "productId", "events", "config"),
		`{"webhookId":"`+other["webhookid"].(string)+`","webhookStatus":"active","productId":12345,"events":[101,102],"config":{"url":"`+rcv.url+`","customHeader":{"header1":"value_1","header2":"value_2"}}}`)

	// Heartbeat: 200, the example's fields (plus the probe's result).
	r, hb := trd.ok(t, 200, "GET", "/"+id+"/heartbeat", nil)
	compatShape(t, "heartbeat", r.body, "thredd", "heartbeat_response.json",
		shapeRules{anyType: []string{"response.webhookId"}, extra: []string{"response"}})
	wantJSONEqual(t, "heartbeat", hb, `{"webhookId":"`+id+`","healthStatus":"healthy","reachable":true,"latencyMs":`+fmt.Sprint(hb["latencyMs"])+`}`)
	if h := rcv.next(t); !strings.Contains(string(h.body), "webhook.ping") || h.header.Get("header1") != "value_1" {
		t.Errorf("probe = %v %s", h.header, h.body)
	}
	_, hb = trd.ok(t, 200, "GET", "/"+id+"/heartbeat?probe=false", nil)
	wantJSONEqual(t, "heartbeat without probe", hb, `{"webhookId":"`+id+`","healthStatus":"healthy"}`)
	rcv.none(t, "heartbeat ?probe=false")
}

// A delivery of an event of type "101" carries config.customHeaders;
// a webhook that cannot be reached is unhealthy; inactive is disabled.
func TestThreddDeliveryAndHeartbeat(t *testing.T) {
	rcv := newReceiver(t, 200)
	ds := newThreddServer(t)
	trd := threddAs(t, ds.testServer, "TRD", RoleAdmin)
	trd.ok(t, 201, "POST", "", compatFile(t, "thredd", "create_request.json", "url", rcv.url))

	evs := ds.publish(t, `{"events":[{"type":"102","data":{"skip":true}},{"type":"101","data":{"card":"1234"}}]}`, trd.hdr...)
	h := rcv.next(t)
	if h.header.Get("header1") != "value_1" || h.header.Get("header2") != "value_2" || h.header.Get("webhook-id") != evs[1] {
		t.Errorf("delivery headers = %v", h.header)
	}
	var body map[string]any
	json.Unmarshal(h.body, &body)
	if body["type"] != "101" {
		t.Errorf("delivered %s", h.body)
	}
	ds.waitAttempt(t, "the delivery", func(a attemptSeen) bool { return a.status == wal.AttemptSucceeded })
	rcv.none(t, "after the one subscribed event")

	// Unreachable: a webhook to a port nobody listens on.
	_, dw := trd.ok(t, 201, "POST", "", compatFile(t, "thredd", "create_request.json", "url", "http://127.0.0.1:1/hook"))
	_, hb := trd.ok(t, 200, "GET", "/"+dw["webhookid"].(string)+"/heartbeat", nil)
	if hb["healthStatus"] != "unhealthy" || hb["reachable"] != false {
		t.Errorf("heartbeat of a dead webhook = %v", hb)
	}
	// Inactive: disabled.
	_, iw := trd.ok(t, 201, "POST", "", `{"programManagerCode":"TRD","webhookStatus":"inactive","config":{"url":"`+rcv.url+`"}}`)
	_, hb = trd.ok(t, 200, "GET", "/"+iw["webhookid"].(string)+"/heartbeat?probe=false", nil)
	if hb["healthStatus"] != "disabled" {
		t.Errorf("heartbeat of an inactive webhook = %v", hb)
	}
	_, got := trd.ok(t, 200, "GET", "/"+iw["webhookid"].(string), nil)
	if got["webhookStatus"] != "inactive" || got["productId"] != nil || len(got["events"].([]any)) != 0 {
		t.Errorf("inactive webhook = %v", got)
	}

	// A native webhook's non-integer event types stay strings.
	r := ds.do("POST", "/v1/webhooks", `{"url":"`+rcv.url+`","events":["order.created","7"]}`, trd.hdr...)
	nid := r.json(t)["id"].(string)
	_, got = trd.ok(t, 200, "GET", "/"+nid, nil)
	wantJSONEqual(t, "native webhook's events", got["events"], `["order.created",7]`)
}

// Program managers see only their own webhooks: X-PM-Code and
// programManagerCode must name the token's tenant.
func TestThreddTenantIsolation(t *testing.T) {
	rcv := newReceiver(t, 200)
	ds := newThreddServer(t)
	trd := threddAs(t, ds.testServer, "TRD", RoleAdmin)
	abc := threddAs(t, ds.testServer, "ABC", RoleAdmin)
	_, w := trd.ok(t, 201, "POST", "", compatFile(t, "thredd", "create_request.json", "url", rcv.url))
	id := w["webhookid"].(string)

	_, list := abc.ok(t, 201, "GET", "", nil, "X-PM-Code", "ABC")
	if c := list["content"].([]any); len(c) != 0 {
		t.Errorf("ABC lists %v", c)
	}
	wantThreddError(t, abc.do("GET", "", nil, "X-PM-Code", "TRD"), 403, "forbidden")
	wantThreddError(t, abc.do("GET", "/"+id, nil), 404, "not_found")
	wantThreddError(t, abc.do("GET", "/"+id, nil, "X-PM-Code", "TRD"), 403, "forbidden")
	wantThreddError(t, abc.do("GET", "/"+id+"/heartbeat", nil), 404, "not_found")
	wantThreddError(t, abc.do("POST", "", compatFile(t, "thredd", "create_request.json", "url", rcv.url)), 403, "forbidden")
	rcv.none(t, "another program manager's heartbeat")
	_, list = trd.ok(t, 201, "GET", "", nil, "X-PM-Code", "TRD")
	if c := list["content"].([]any); len(c) != 1 {
		t.Errorf("TRD lists %v", c)
	}
}

// Bad input on every route: a 4xx in the error envelope, nothing changed.
func TestThreddBadInput(t *testing.T) {
	rcv := newReceiver(t, 200)
	ds := newThreddServer(t)
	trd := threddAs(t, ds.testServer, "TRD", RoleAdmin)
	reader := threddAs(t, ds.testServer, "TRD", RoleRead)
	_, w := trd.ok(t, 201, "POST", "", compatFile(t, "thredd", "create_request.json", "url", rcv.url))
	id := w["webhookid"].(string)

	body := func(set string) string { // the seed's create body with fields changed
		var m, s map[string]any
		json.Unmarshal([]byte(compatFile(t, "thredd", "create_request.json", "url", rcv.url)), &m)
		if err := json.Unmarshal([]byte(set), &s); err != nil {
			t.Fatal(err)
		}
		for k, v := range s {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return string(dcJSON(m))
	}
	tests := []struct {
		name, method, path string
		body               any
		hdr                []string
		status             int
		code, field        string
	}{
		{"bad json", "POST", "", `{"config":`, nil, 400, "invalid_json", ""},
		{"empty", "POST", "", ``, nil, 400, "invalid_json", ""},
		{"no pm", "POST", "", body(`{"programManagerCode":null}`), nil, 400, "validation_failed", "programManagerCode"},
		{"pm object", "POST", "", body(`{"programManagerCode":{}}`), nil, 400, "validation_failed", "programManagerCode"},
		{"other pm", "POST", "", body(`{"programManagerCode":"ABC"}`), nil, 403, "forbidden", "programManagerCode"},
		{"other pm header", "POST", "", body(`{}`), []string{"X-PM-Code", "ABC"}, 403, "forbidden", ""},
		{"no config", "POST", "", body(`{"config":null}`), nil, 400, "validation_failed", "config.url"},
		{"config not object", "POST", "", body(`{"config":"x"}`), nil, 400, "validation_failed", "config"},
		{"no url", "POST", "", body(`{"config":{"customHeaders":{}}}`), nil, 400, "validation_failed", "config.url"},
		{"bad url", "POST", "", body(`{"config":{"url":"ftp://x/y"}}`), nil, 400, "validation_failed", "config.url"},
		{"url number", "POST", "", body(`{"config":{"url":5}}`), nil, 400, "validation_failed", "config.url"},
		{"reserved header", "POST", "", body(`{"config":{"url":"` + rcv.url + `","customHeaders":{"Content-Type":"x"}}}`), nil, 400, "validation_failed", "config.customHeaders"},
		{"bad header name", "POST", "", body(`{"config":{"url":"` + rcv.url + `","customHeader":{"a b":"x"}}}`), nil, 400, "validation_failed", "config.customHeaders"},
		{"header CRLF", "POST", "", body(`{"config":{"url":"` + rcv.url + `","customHeaders":{"X-A":"a\r\nb"}}}`), nil, 400, "validation_failed", "config.customHeaders.X-A"},
		{"both spellings", "POST", "", body(`{"config":{"url":"` + rcv.url + `","customHeaders":{},"customHeader":{}}}`), nil, 400, "validation_failed", "config.customHeaders"},
		{"event name", "POST", "", body(`{"events":[101,"abc"]}`), nil, 400, "validation_failed", "events[1]"},
		{"event negative", "POST", "", body(`{"events":[-1]}`), nil, 400, "validation_failed", "events[0]"},
		{"event fraction", "POST", "", body(`{"events":[1.5]}`), nil, 400, "validation_failed", "events[0]"},
		{"events object", "POST", "", body(`{"events":{}}`), nil, 400, "validation_failed", "events"},
		{"product text", "POST", "", body(`{"productId":"x"}`), nil, 400, "validation_failed", "productId"},
		{"product object", "POST", "", body(`{"productId":{}}`), nil, 400, "validation_failed", "productId"},
		{"status", "POST", "", body(`{"webhookStatus":"paused"}`), nil, 400, "validation_failed", "webhookStatus"},
		{"status bool", "POST", "", body(`{"webhookStatus":true}`), nil, 400, "validation_failed", "webhookStatus"},
		{"media type", "POST", "", body(`{}`), []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"list without pm", "GET", "", nil, nil, 400, "validation_failed", "X-PM-Code"},
		{"list other pm", "GET", "", nil, []string{"X-PM-Code", "12345"}, 403, "forbidden", ""},
		{"unknown id", "GET", "/wh_01KAB0000000000000000000000", nil, nil, 404, "not_found", ""},
		{"malformed id", "GET", "/W000001ABC", nil, nil, 404, "not_found", ""},
		{"batch id", "GET", "/bat_01KAB0000000000000000000000", nil, nil, 404, "not_found", ""},
		{"unknown heartbeat", "GET", "/wh_01KAB0000000000000000000000/heartbeat", nil, nil, 404, "not_found", ""},
		{"malformed heartbeat", "GET", "/1234567890/heartbeat", nil, nil, 404, "not_found", ""},
		{"get other pm", "GET", "/" + id, nil, []string{"X-PM-Code", "ABC"}, 403, "forbidden", ""},
		{"unknown route", "GET", "/" + id + "/batches", nil, nil, 404, "not_found", ""},
		{"method", "DELETE", "/" + id, nil, nil, 405, "method_not_allowed", ""},
		{"method on list", "PUT", "", `{}`, nil, 405, "method_not_allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantThreddError(t, trd.do(tt.method, tt.path, tt.body, tt.hdr...), tt.status, tt.code)
			if tt.field != "" && e["field"] != tt.field {
				t.Errorf("field = %v, want %s (%v)", e["field"], tt.field, e["message"])
			}
		})
	}
	// 401 and 403 in the envelope too.
	wantThreddError(t, ds.do("GET", threddBase+"/"+id, nil), 401, "unauthorized")
	wantThreddError(t, ds.do("GET", threddBase, nil, "Authorization", "Bearer nope", "X-PM-Code", "TRD"), 401, "unauthorized")
	wantThreddError(t, reader.do("POST", "", body(`{}`)), 403, "forbidden")

	// Nothing changed.
	_, list := trd.ok(t, 201, "GET", "", nil, "X-PM-Code", "TRD")
	if c := list["content"].([]any); len(c) != 1 || c[0].(map[string]any)["webhookId"] != id {
		t.Errorf("after bad input: %v", c)
	}
	// Outside the prefix errors stay problem+json.
	wantProblem(t, ds.do("GET", "/api/v1/nothing", nil), 404, "not_found")

	// A private destination is refused when the config does not allow it.
	strict := newTestServer(t, nil)
	r := strict.do("POST", threddBase, `{"programManagerCode":"default","config":{"url":"http://169.254.169.254/latest"}}`)
	if e := wantThreddError(t, r, 400, "validation_failed"); e["field"] != "config.url" {
		t.Errorf("private destination: %v", e)
	}
	_, list = threddClient{strict, nil}.ok(t, 201, "GET", "", nil, "X-PM-Code", "default")
	if c := list["content"].([]any); len(c) != 0 {
		t.Errorf("after refusal: %v", c)
	}
}
