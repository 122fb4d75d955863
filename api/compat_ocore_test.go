package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"hookd/config"
	"hookd/engine"
	"hookd/wal"
)

// seedBody is a seed request body with the top-level fields in set
// replaced (the destination URL, pointed at a local receiver).
func seedBody(t *testing.T, profile, name string, set map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(compatFile(t, profile, name)), &m); err != nil {
		t.Fatalf("%s/%s: %v", profile, name, err)
	}
	for k, v := range set {
		if _, ok := m[k]; !ok {
			t.Fatalf("%s/%s has no field %q to replace", profile, name, k)
		}
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// Every request example of seed 001, replayed with only the URL pointed
// at a local receiver (and the secret placeholder, once refused, made a
// whsec_ secret).
func TestOCoreSeedRequests(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, nil)
	const base = "/api/webhook-endpoints"

	// Create: the seed's body as is is refused on its secret placeholder,
	// and nothing is stored.
	m := wantProblem(t, ts.do("POST", base, seedBody(t, "ocore", "create_endpoint.request.json", map[string]any{"url": rcv.url})), 400, "validation_failed")
	if m["field"] != "secret" {
		t.Errorf("seed create body: field = %v, want secret", m["field"])
	}
	if r := ts.do("GET", base, nil); r.status != 200 || string(r.body) != `{"endpoints":[],"total":0}` {
		t.Fatalf("list after the refused create = %d %s", r.status, r.body)
	}
	secret := newSecret()
	r := ts.do("POST", base, seedBody(t, "ocore", "create_endpoint.request.json", map[string]any{"url": rcv.url, "secret": secret}))
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	compatShape(t, "create", r.body, "ocore", "create_endpoint.response.json", shapeRules{})
	ep := r.json(t)
	id := ep["id"].(string)
	wantJSONEqual(t, "created endpoint", map[string]any{"active": ep["active"], "description": ep["description"],
		"events": ep["events"], "secret": ep["secret"], "url": ep["url"]},
		fmt.Sprintf(`{"active":true,"description":"string","events":["string"],"secret":true,"url":%q}`, rcv.url))
	wantTimestamp(t, "createdAt", ep["createdAt"])
	wantTimestamp(t, "updatedAt", ep["updatedAt"])
	if !strings.HasPrefix(id, "wh_") || r.header.Get("Location") != base+"/"+id {
		t.Errorf("id %s, Location %q", id, r.header.Get("Location"))
	}
	if strings.Contains(string(r.body), secret) {
		t.Errorf("create response shows the secret value: %s", r.body)
	}
	// The same object through /v1, with the secret given.
	_, v1 := ts.get(t, "/v1/webhooks/"+id)
	if v1["url"] != rcv.url || v1["isActive"] != true || v1["hasSecret"] != true {
		t.Errorf("/v1 view = %v", v1)
	}
	if _, s := ts.get(t, "/v1/webhooks/"+id+"/secret"); s["secret"] != secret {
		t.Errorf("stored secret = %v, want the one given", s["secret"])
	}
	// Without a secret one is generated: secret is still true.
	r = ts.do("POST", base, map[string]any{"url": rcv.url + "/second"})
	if r.status != 201 || r.json(t)["secret"] != true || r.json(t)["active"] != true {
		t.Fatalf("create without secret = %d %s", r.status, r.body)
	}
	second := r.json(t)["id"].(string)

	// List and get.
	r, _ = ts.get(t, base)
	compatShape(t, "list", r.body, "ocore", "list_endpoints.response.json", shapeRules{})
	var list struct {
		Endpoints []struct{ ID string }
		Total     int
	}
	json.Unmarshal(r.body, &list)
	if list.Total != 2 || len(list.Endpoints) != 2 || list.Endpoints[0].ID != id || list.Endpoints[1].ID != second {
		t.Errorf("list = %s", r.body)
	}
	r, _ = ts.get(t, base+"/"+id)
	compatShape(t, "get", r.body, "ocore", "get_endpoint.response.json", shapeRules{})
	if r.json(t)["id"] != id || r.json(t)["url"] != rcv.url {
		t.Errorf("get = %s", r.body)
	}

	// Update: the seed's body, again refused on the placeholder secret
	// (and nothing changes), then with a whsec_ secret.
	m = wantProblem(t, ts.do("PUT", base+"/"+id, seedBody(t, "ocore", "update_endpoint.request.json", map[string]any{"url": rcv.url + "/v2"})), 400, "validation_failed")
	if m["field"] != "secret" {
		t.Errorf("seed update body: field = %v, want secret", m["field"])
	}
	if _, g := ts.get(t, base+"/"+id); g["url"] != rcv.url {
		t.Errorf("a refused update changed the url: %v", g["url"])
	}
	secret2 := newSecret()
	r = ts.do("PUT", base+"/"+id, seedBody(t, "ocore", "update_endpoint.request.json", map[string]any{"url": rcv.url + "/v2", "secret": secret2}))
	if r.status != 200 {
		t.Fatalf("update = %d %s", r.status, r.body)
	}
	compatShape(t, "update", r.body, "ocore", "update_endpoint.response.json", shapeRules{})
	if u := r.json(t); u["url"] != rcv.url+"/v2" || u["id"] != id || u["secret"] != true || u["createdAt"] != ep["createdAt"] {
		t.Errorf("updated = %s", r.body)
	}
	if _, s := ts.get(t, "/v1/webhooks/"+id+"/secret"); s["secret"] != secret2 {
		t.Errorf("secret after update = %v", s["secret"])
	}
	// Absent fields stay.
	r = ts.do("PUT", base+"/"+id, `{"active":false}`)
	if u := r.json(t); r.status != 200 || u["active"] != false || u["url"] != rcv.url+"/v2" || u["description"] != "string" {
		t.Errorf("update active = %d %s", r.status, r.body)
	}

	// The seed's deliveries request (page=0&per_page=0: the defaults).
	r, _ = ts.get(t, base+"/"+id+"/deliveries?page=0&per_page=0")
	if string(r.body) != `{"deliveries":[],"page":1,"perPage":20,"total":0}` {
		t.Errorf("deliveries = %s", r.body)
	}

	// Replay of a delivery that does not exist (the seed's placeholder).
	wantProblem(t, ts.do("POST", "/api/webhook-deliveries/string/replay", nil), 404, "not_found")

	// Delete.
	r = ts.do("DELETE", base+"/"+id, nil)
	if r.status != 200 {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	compatShape(t, "delete", r.body, "ocore", "delete_endpoint.response.json", shapeRules{})
	wantProblem(t, ts.do("GET", base+"/"+id, nil), 404, "not_found")
	wantProblem(t, ts.do("DELETE", base+"/"+id, nil), 404, "not_found")
	if r, _ := ts.get(t, base); r.json(t)["total"] != 1.0 {
		t.Errorf("list after delete = %s", r.body)
	}
	rcv.none(t, "endpoint management")
}

// Events published through /v1 show in the oCore delivery log, and a
// replay by delivery id alone delivers the batch again.
func TestOCoreDeliveries(t *testing.T) {
	rcv := newReceiver(t, 200, func(b []byte) bool { return strings.Contains(string(b), `"fail"`) })
	ts := newShortRetryServer(t, nil)
	secret := newSecret()
	r := ts.do("POST", "/api/webhook-endpoints", map[string]any{"url": rcv.url, "secret": secret, "description": "all"})
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	hook := r.json(t)["id"].(string)
	// A batching webhook (maxBatchSize is a native field) for the envelope.
	batcher, _ := ts.createHook(t, map[string]any{"url": rcv.url + "/batch", "events": []string{"order.created"},
		"maxBatchSize": 2, "maxBatchTimeDelay": "1h"})

	// e1, then e2 (which closes the batcher's batch), then e3, which fails
	// until it expires; each waited for before the next.
	e1 := ts.publish(t, `{"type":"order.created","data":{"n":1}}`)[0]
	ts.waitAttempt(t, "e1's attempt", nil)
	e2 := ts.publish(t, `{"type":"order.created","data":{"n":2}}`)[0]
	var envelope []byte
	for i := 0; i < 2; i++ {
		ts.waitAttempt(t, "e2's attempts", nil)
	}
	for i := 0; i < 3; i++ {
		if h := rcv.next(t); strings.Contains(string(h.body), `"batchId"`) {
			envelope = h.body
		}
	}
	e3 := ts.publish(t, `{"type":"order.failed","data":{"fail":true}}`)[0]
	ts.waitAttempt(t, "e3 expired", func(a attemptSeen) bool { return a.batchStatus == wal.BatchExpired })
	rcv.next(t)
	rcv.next(t)

	base := "/api/webhook-endpoints/" + hook + "/deliveries"
	r, m := ts.get(t, base)
	compatShape(t, "deliveries", r.body, "ocore", "list_deliveries.response.json", shapeRules{
		free: []string{"deliveries[].payload"}, nullable: []string{"deliveries[].nextRetryAt", "deliveries[].deliveredAt"}})
	if m["page"] != 1.0 || m["perPage"] != 20.0 || m["total"] != 3.0 {
		t.Fatalf("deliveries = %s", r.body)
	}
	ds := m["deliveries"].([]any)
	byEvent := map[string]map[string]any{}
	for i, ev := range []string{e3, e2, e1} { // newest first
		d := ds[i].(map[string]any)
		byEvent[ev] = d
		wantTimestamp(t, "createdAt", d["createdAt"])
		if d["endpointId"] != hook || d["nextRetryAt"] != nil || !strings.HasPrefix(d["id"].(string), "dlv_") {
			t.Errorf("delivery %d = %v", i, d)
		}
	}
	wantJSONEqual(t, "e1's delivery", pick(byEvent[e1], "attempt", "maxAttempts", "httpStatus", "responseBody", "payload", "status", "eventType"),
		`{"attempt":1,"maxAttempts":2,"httpStatus":200,"responseBody":"","payload":{"n":1},"status":"delivered","eventType":"order.created"}`)
	wantTimestamp(t, "e1 deliveredAt", byEvent[e1]["deliveredAt"])
	wantJSONEqual(t, "e3's delivery", pick(byEvent[e3], "attempt", "maxAttempts", "httpStatus", "responseBody", "payload", "status", "eventType", "deliveredAt"),
		`{"attempt":2,"maxAttempts":2,"httpStatus":500,"responseBody":"boom","payload":{"fail":true},"status":"expired","eventType":"order.failed","deliveredAt":null}`)

	// Paging: from 1, per_page items.
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"?page=1&per_page=1", []string{e3}},
		{"?page=2&per_page=1", []string{e2}},
		{"?page=2&per_page=2", []string{e1}},
		{"?page=0&per_page=2", []string{e3, e2}},
		{"?page=9&per_page=2", nil},
	} {
		_, p := ts.get(t, base+c.q)
		var got []string
		for _, d := range p["deliveries"].([]any) {
			got = append(got, d.(map[string]any)["id"].(string))
		}
		var want []string
		for _, ev := range c.want {
			want = append(want, byEvent[ev]["id"].(string))
		}
		if !slices.Equal(got, want) || p["total"] != 3.0 {
			t.Errorf("%s = %v (total %v), want %v", c.q, got, p["total"], c.want)
		}
	}

	// The batching webhook's delivery: the envelope, as the receiver got it.
	_, bm := ts.get(t, "/api/webhook-endpoints/"+batcher+"/deliveries")
	bds := bm["deliveries"].([]any)
	if len(bds) != 1 || envelope == nil {
		t.Fatalf("batcher deliveries = %v; envelope %s", bm, envelope)
	}
	wantJSONEqual(t, "envelope payload", bds[0].(map[string]any)["payload"], string(envelope))

	// Replay e1 by its delivery id alone: the receiver gets it again, signed.
	r = ts.do("POST", "/api/webhook-deliveries/"+byEvent[e1]["id"].(string)+"/replay", nil)
	if r.status != 200 {
		t.Fatalf("replay = %d %s", r.status, r.body)
	}
	compatShape(t, "replay", r.body, "ocore", "replay_delivery.response.json", shapeRules{})
	h := rcv.next(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.body, h.header); err != nil {
		t.Errorf("replayed request does not verify: %v", err)
	}
	if h.header.Get("webhook-id") != e1 || !strings.Contains(string(h.body), `"n":1`) {
		t.Errorf("replayed request: webhook-id %q, body %s", h.header.Get("webhook-id"), h.body)
	}
	seen := ts.waitAttempt(t, "the replay", nil)
	if seen.trigger != wal.TriggerManual || seen.status != wal.AttemptSucceeded || !slices.Equal(seen.events, []string{e1}) {
		t.Errorf("replay attempt = %+v", seen)
	}
	_, p := ts.get(t, base+"?page=3&per_page=1")
	d := p["deliveries"].([]any)[0].(map[string]any)
	if d["id"] != byEvent[e1]["id"] || d["attempt"] != 2.0 || d["status"] != "delivered" {
		t.Errorf("e1 after replay = %v", d)
	}
	// A native batch id cannot be found without its webhook: 404.
	bat, _, _ := ts.store.ListBatches("default", mustID(t, "wh_", hook), wal.ID{}, 1, nil)
	wantProblem(t, ts.do("POST", "/api/webhook-deliveries/"+bat[0].ID.Text("bat_")+"/replay", nil), 404, "not_found")
	rcv.none(t, "after the 404")
}

// newShortRetryServer is a delivery server whose default retry schedule
// (delivery.retry_schedule, and the engine's) is ["0s", "10ms"].
func newShortRetryServer(t *testing.T, mutate func(*config.Config)) *deliveryServer {
	t.Helper()
	sched := []time.Duration{0, 10 * time.Millisecond}
	return newDeliveryServer(t, func(c *config.Config) {
		c.Delivery.RetrySchedule = nil
		for _, d := range sched {
			c.Delivery.RetrySchedule = append(c.Delivery.RetrySchedule, config.Duration{Duration: d})
		}
		if mutate != nil {
			mutate(c)
		}
	}, func(o *engine.Options) { o.Core.Schedule = sched })
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// Bad input on every oCore route: a clear 4xx and nothing changed.
func TestOCoreBadInput(t *testing.T) {
	ts := &deliveryServer{testServer: newTestServer(t, nil)} // private destinations refused
	const ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	base := "/api/webhook-endpoints"
	r := ts.do("POST", base, map[string]any{"url": "https://example.com/hook"})
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	ep := r.json(t)
	id := ep["id"].(string)
	for _, c := range []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"url":`, 400, "invalid_json", ""},
		{``, 400, "invalid_json", ""},
		{`[1]`, 400, "invalid_json", ""},
		{`{"url":5}`, 400, "validation_failed", "url"},
		{`{"url":"https://example.com/x","active":"yes"}`, 400, "validation_failed", "active"},
		{`{"url":"https://example.com/x","events":"a"}`, 400, "validation_failed", "events"},
		{`{"url":"https://example.com/x","events":["a b"]}`, 400, "validation_failed", "events[0]"},
		{`{"url":"https://example.com/x","secret":true}`, 400, "validation_failed", "secret"},
		{`{"url":"https://example.com/x","secret":"string"}`, 400, "validation_failed", "secret"},
		{`{"url":"https://example.com/x","description":["d"]}`, 400, "validation_failed", "description"},
		{`{"url":"http://127.0.0.1:9/x"}`, 400, "validation_failed", "url"},
		{`{"url":"http://169.254.169.254/latest"}`, 400, "validation_failed", "url"},
		{`{"url":"ftp://example.com/x"}`, 400, "validation_failed", "url"},
	} {
		for _, method := range []string{"POST", "PUT"} {
			path := base
			if method == "PUT" {
				path += "/" + id
				if c.field == "" && c.body == `` {
					continue // covered by POST
				}
			}
			m := wantProblem(t, ts.do(method, path, c.body), c.status, c.code)
			if m["field"] != nil && c.field == "" || c.field != "" && m["field"] != c.field {
				t.Errorf("%s %s: field = %v, want %q", method, c.body, m["field"], c.field)
			}
		}
	}
	m := wantProblem(t, ts.do("POST", base, `{}`), 400, "validation_failed")
	if m["field"] != "url" {
		t.Errorf("no url: field = %v", m["field"])
	}
	wantProblem(t, ts.do("POST", base, `{"url":"https://example.com/x"}`, "Content-Type", "text/plain"), 415, "unsupported_media_type")
	wantProblem(t, ts.do("PUT", base+"/"+id, `{"active":false}`, "Content-Type", "text/plain"), 415, "unsupported_media_type")

	for _, bad := range []string{"wh_" + ulid, "wh_nope", "nope", "evt_" + ulid, strings.Repeat("x", 300)} {
		wantProblem(t, ts.do("GET", base+"/"+bad, nil), 404, "not_found")
		wantProblem(t, ts.do("PUT", base+"/"+bad, `{"active":false}`), 404, "not_found")
		wantProblem(t, ts.do("DELETE", base+"/"+bad, nil), 404, "not_found")
		wantProblem(t, ts.do("GET", base+"/"+bad+"/deliveries", nil), 404, "not_found")
	}
	for _, q := range []string{"page=-1", "page=x", "per_page=101", "per_page=-1", "per_page=1.5", "page=99999999999"} {
		m := wantProblem(t, ts.do("GET", base+"/"+id+"/deliveries?"+q, nil), 400, "validation_failed")
		if name, _, _ := strings.Cut(q, "="); m["field"] != name {
			t.Errorf("?%s: field = %v", q, m["field"])
		}
	}
	hookID := strings.TrimPrefix(id, "wh_")
	for _, bad := range []string{"nope", "bat_" + ulid, "dlv_" + ulid, "dlv_" + hookID + ulid, "dlv_" + ulid + ulid,
		"dlv_" + hookID + "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", "dlv_" + hookID + ulid + "0", "DLV_" + hookID + ulid} {
		wantProblem(t, ts.do("POST", "/api/webhook-deliveries/"+bad+"/replay", nil), 404, "not_found")
	}
	wantProblem(t, ts.do("GET", "/api/webhook-deliveries/dlv_"+hookID+ulid+"/replay", nil), 405, "method_not_allowed")
	wantProblem(t, ts.do("PATCH", base+"/"+id, `{}`), 405, "method_not_allowed")
	wantProblem(t, ts.do("GET", "/api/webhook-endpoint", nil), 404, "not_found")

	// Nothing changed.
	_, after := ts.get(t, base+"/"+id)
	if !reflect.DeepEqual(after, ep) {
		t.Errorf("endpoint after the bad requests = %v, want %v", after, ep)
	}
	if r, _ := ts.get(t, base); r.json(t)["total"] != 1.0 {
		t.Errorf("list = %s", r.body)
	}
}

// Another tenant's endpoint and delivery ids are 404s, like missing ones.
func TestOCoreOtherTenant(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts, tok := newJWTDeliveryServer(t)
	acme, beta := tok("acme", RoleAdmin), tok("beta", RoleAdmin)
	r := ts.do("POST", "/api/webhook-endpoints", map[string]any{"url": rcv.url}, "Authorization", acme)
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	ts.publish(t, `{"type":"a","data":1}`, "Authorization", acme)
	ts.waitAttempt(t, "the delivery", nil)
	rcv.next(t)
	_, dm := ts.get(t, "/api/webhook-endpoints/"+id+"/deliveries", "Authorization", acme)
	dlv := dm["deliveries"].([]any)[0].(map[string]any)["id"].(string)

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/webhook-endpoints/" + id, ""},
		{"PUT", "/api/webhook-endpoints/" + id, `{"active":false}`},
		{"DELETE", "/api/webhook-endpoints/" + id, ""},
		{"GET", "/api/webhook-endpoints/" + id + "/deliveries", ""},
		{"POST", "/api/webhook-deliveries/" + dlv + "/replay", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		wantProblem(t, ts.do(c.method, c.path, body, "Authorization", beta), 404, "not_found")
	}
	if r, _ := ts.get(t, "/api/webhook-endpoints", "Authorization", beta); string(r.body) != `{"endpoints":[],"total":0}` {
		t.Errorf("beta's list = %s", r.body)
	}
	rcv.none(t, "after beta's replay")
	_, ep := ts.get(t, "/api/webhook-endpoints/"+id, "Authorization", acme)
	if ep["active"] != true {
		t.Errorf("acme's endpoint after beta's requests = %v", ep)
	}
	// Read may list deliveries but not replay.
	read := tok("acme", RoleRead)
	ts.get(t, "/api/webhook-endpoints/"+id+"/deliveries", "Authorization", read)
	wantProblem(t, ts.do("POST", "/api/webhook-deliveries/"+dlv+"/replay", nil, "Authorization", read), 403, "forbidden")
}
