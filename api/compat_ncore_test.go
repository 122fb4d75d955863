package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"hookd/wal"
)

// ncoreKeys are the fields of the nCore webhook object (secret: create only).
var ncoreKeys = []string{"createdAt", "endpoint", "events", "id", "isActive", "updatedAt"}

func wantNcoreWebhook(t *testing.T, what string, m map[string]any, withSecret bool) {
	t.Helper()
	want := slices.Clone(ncoreKeys)
	if withSecret {
		want = append(want, "secret")
		if s, _ := m["secret"].(string); !strings.HasPrefix(s, "whsec_") {
			t.Errorf("%s: secret = %v", what, m["secret"])
		}
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: keys %v, want %v", what, got, want)
	}
	if id, _ := m["id"].(string); !strings.HasPrefix(id, "wh_") {
		t.Errorf("%s: id = %v", what, m["id"])
	}
	if _, ok := m["endpoint"].(string); !ok {
		t.Errorf("%s: endpoint = %v", what, m["endpoint"])
	}
	if _, ok := m["events"].([]any); !ok {
		t.Errorf("%s: events = %v, want an array", what, m["events"])
	}
	if _, ok := m["isActive"].(bool); !ok {
		t.Errorf("%s: isActive = %v", what, m["isActive"])
	}
	wantTimestamp(t, what+" createdAt", m["createdAt"])
	wantTimestamp(t, what+" updatedAt", m["updatedAt"])
}

// Every request of seed 000, replayed, with the update body's endpoint
// pointed at a local receiver.
func TestNCoreSeedRequests(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, nil)

	// Create (API.md §9: endpoint and events; url accepted too).
	r := ts.do("POST", "/webhooks", map[string]any{"endpoint": rcv.url + "/a", "events": []string{"CARD_STATUS_CHANGE"}})
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	created := r.json(t)
	wantNcoreWebhook(t, "create", created, true)
	id, secret := created["id"].(string), created["secret"].(string)
	if created["endpoint"] != rcv.url+"/a" || created["isActive"] != true || r.header.Get("Location") != "/webhooks/"+id {
		t.Errorf("created = %s, Location %q", r.body, r.header.Get("Location"))
	}
	wantJSONEqual(t, "events", created["events"], `["CARD_STATUS_CHANGE"]`)
	r = ts.do("POST", "/webhooks", map[string]any{"url": rcv.url + "/b"})
	if r.status != 201 || r.json(t)["endpoint"] != rcv.url+"/b" {
		t.Fatalf("create with url = %d %s", r.status, r.body)
	}
	wantJSONEqual(t, "events of a webhook for every type", r.json(t)["events"], `[]`)
	other := r.json(t)["id"].(string)

	// GET /webhooks: every webhook, oldest first.
	r = ts.do("GET", "/webhooks", nil)
	var list []map[string]any
	if err := json.Unmarshal(r.body, &list); r.status != 200 || err != nil || len(list) != 2 {
		t.Fatalf("list = %d %s", r.status, r.body)
	}
	for _, w := range list {
		wantNcoreWebhook(t, "list entry", w, false)
	}
	if list[0]["id"] != id || list[1]["id"] != other {
		t.Errorf("list order = %v, %v", list[0]["id"], list[1]["id"])
	}

	// GET /webhooks/{id}.
	_, got := ts.get(t, "/webhooks/"+id)
	wantNcoreWebhook(t, "get", got, false)
	if got["id"] != id || got["endpoint"] != rcv.url+"/a" {
		t.Errorf("get = %v", got)
	}

	// PUT /webhooks/{id} with the seed's body.
	r = ts.do("PUT", "/webhooks/"+id, seedBody(t, "ncore", "update_webhook.request.json", map[string]any{"endpoint": rcv.url + "/"}))
	if r.status != 200 {
		t.Fatalf("update = %d %s", r.status, r.body)
	}
	up := r.json(t)
	wantNcoreWebhook(t, "update", up, false)
	if up["endpoint"] != rcv.url+"/" || up["id"] != id || up["createdAt"] != created["createdAt"] {
		t.Errorf("updated = %s", r.body)
	}
	wantJSONEqual(t, "updated events", up["events"], `["CARD_STATUS_CHANGE"]`)
	// The same object through /v1.
	if _, v1 := ts.get(t, "/v1/webhooks/"+id); v1["url"] != rcv.url+"/" {
		t.Errorf("/v1 url = %v", v1["url"])
	}

	// GET on the action path is never the webhook.
	for _, p := range []string{"/webhooks/" + id + ":ping", "/webhooks/" + id + ":sendexpired"} {
		r := ts.do("GET", p, nil)
		if r.status != 404 && r.status != 405 || strings.Contains(string(r.body), `"endpoint"`) {
			t.Errorf("GET %s = %d %s, want 404 or 405", p, r.status, r.body)
		}
	}

	// POST /webhooks/{id}:ping: a signed webhook.ping at the receiver.
	r = ts.do("POST", "/webhooks/"+id+":ping", nil)
	if r.status != 200 {
		t.Fatalf("ping = %d %s", r.status, r.body)
	}
	if p := r.json(t); p["success"] != true || p["statusCode"] != 200.0 || p["error"] != nil {
		t.Errorf("ping = %s", r.body)
	}
	h := rcv.next(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.body, h.header); err != nil {
		t.Errorf("ping does not verify: %v", err)
	}
	var ping struct {
		ID, Type string
		Data     map[string]any
	}
	json.Unmarshal(h.body, &ping)
	if ping.Type != "webhook.ping" || ping.Data["webhookId"] != id || h.header.Get("webhook-id") != ping.ID {
		t.Errorf("ping body %s", h.body)
	}

	// POST /webhooks:sendexpired with the seed's body: no such
	// notification here (TestNCoreSendExpired has one); with no body,
	// nothing is expired.
	wantProblem(t, ts.do("POST", "/webhooks:sendexpired", compatFile(t, "ncore", "sendexpired.request.json")), 404, "not_found")
	if r := ts.do("POST", "/webhooks:sendexpired", nil); r.status != 202 || string(r.body) != `{"scheduled":0}` {
		t.Errorf("sendexpired = %d %s", r.status, r.body)
	}

	// DELETE /webhooks/{id}.
	if r := ts.do("DELETE", "/webhooks/"+id, nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	wantProblem(t, ts.do("GET", "/webhooks/"+id, nil), 404, "not_found")
	wantProblem(t, ts.do("DELETE", "/webhooks/"+id, nil), 404, "not_found")
	wantProblem(t, ts.do("POST", "/webhooks/"+id+":ping", nil), 404, "not_found")
	rcv.none(t, "after the delete")
}

// A batch expires against a failing receiver; sendexpired by
// notification_id re-sends exactly that event's batches (on every webhook
// that has one), by idempotency key or event id; with no body, all.
func TestNCoreSendExpired(t *testing.T) {
	rcv := newReceiver(t, 500)
	ts := newShortRetryServer(t, nil)
	var hooks []string
	for _, suffix := range []string{"/a", "/b"} {
		r := ts.do("POST", "/webhooks", map[string]any{"endpoint": rcv.url + suffix, "events": []string{"CARD_STATUS_CHANGE"}})
		if r.status != 201 {
			t.Fatalf("create = %d %s", r.status, r.body)
		}
		hooks = append(hooks, r.json(t)["id"].(string))
	}
	// e1 carries the seed's notification_id as its idempotency key.
	var seedIn struct {
		NotificationID string `json:"notification_id"`
	}
	seedReq := []byte(compatFile(t, "ncore", "sendexpired.request.json"))
	if err := json.Unmarshal(seedReq, &seedIn); err != nil {
		t.Fatal(err)
	}
	evs := ts.publish(t, `{"events":[
		{"type":"CARD_STATUS_CHANGE","id":"`+seedIn.NotificationID+`","data":{"n":1}},
		{"type":"CARD_STATUS_CHANGE","data":{"n":2}},
		{"type":"CARD_STATUS_CHANGE","data":{"n":3}},
		{"type":"CARD_STATUS_CHANGE","data":{"n":4}}]}`)
	// 2 webhooks x 4 events, each batch 2 failed attempts.
	for expired := 0; expired < 8; {
		if a := ts.waitAttempt(t, "the batches to expire", nil); a.batchStatus == wal.BatchExpired {
			expired++
		}
	}
	for i := 0; i < 16; i++ {
		rcv.next(t)
	}
	rcv.status.Store(200)
	status := func(ev string) []string {
		t.Helper()
		_, e := ts.get(t, "/v1/events/"+ev)
		var out []string
		for _, d := range e["deliveries"].([]any) {
			out = append(out, d.(map[string]any)["status"].(string))
		}
		return out
	}
	expired := []string{wal.BatchExpired, wal.BatchExpired}

	resend := func(what string, body any, scheduled int, want []string) {
		t.Helper()
		r := ts.do("POST", "/webhooks:sendexpired", body)
		var out map[string]int
		if json.Unmarshal(r.body, &out); r.status != 202 || !reflect.DeepEqual(out, map[string]int{"scheduled": scheduled}) {
			t.Fatalf("%s: sendexpired = %d %s, want 202 scheduled %d", what, r.status, r.body, scheduled)
		}
		var got []string
		for i := 0; i < scheduled; i++ {
			a := ts.waitAttempt(t, what, nil)
			if a.trigger != wal.TriggerSendExpired || a.status != wal.AttemptSucceeded || len(a.events) != 1 {
				t.Errorf("%s: attempt %+v", what, a)
			}
			got = append(got, a.events...)
			rcv.next(t)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: re-sent %v, want %v", what, got, want)
		}
	}

	// The seed's request: e1's two batches, and nothing else.
	resend("by the seed's notification_id (e1's key)", string(seedReq), 2, []string{evs[0], evs[0]})
	for _, ev := range evs[1:] {
		if got := status(ev); !slices.Equal(got, expired) {
			t.Errorf("%s after e1's sendexpired: %v", ev, got)
		}
	}
	// By event id.
	resend("by e2's event id", map[string]any{"notification_id": evs[1]}, 2, []string{evs[1], evs[1]})
	if got := status(evs[2]); !slices.Equal(got, expired) {
		t.Errorf("e3 after e2's sendexpired: %v", got)
	}
	// e1 is no longer expired: naming it again schedules nothing.
	resend("e1 again", string(seedReq), 0, nil)
	// No body, and {}: everything expired (e3, e4 on both webhooks).
	resend("no body", nil, 4, []string{evs[2], evs[2], evs[3], evs[3]})
	resend("{}", `{}`, 0, nil)
	for _, ev := range evs {
		if got := status(ev); !slices.Equal(got, []string{wal.BatchDelivered, wal.BatchDelivered}) {
			t.Errorf("%s at the end: %v", ev, got)
		}
	}
	rcv.none(t, "at the end")
}

// Bad input on every nCore route: a clear 4xx and nothing changed.
func TestNCoreBadInput(t *testing.T) {
	ts := &deliveryServer{testServer: newTestServer(t, nil)} // private destinations refused
	const ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	r := ts.do("POST", "/webhooks", map[string]any{"endpoint": "https://example.com/hook", "events": []string{"A"}})
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	_, before := ts.get(t, "/webhooks/"+id)
	for _, c := range []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"endpoint":`, 400, "invalid_json", ""},
		{`[1]`, 400, "invalid_json", ""},
		{`{"endpoint":5}`, 400, "validation_failed", "endpoint"},
		{`{"endpoint":"https://example.com/x","events":"A"}`, 400, "validation_failed", "events"},
		{`{"endpoint":"https://example.com/x","events":[1]}`, 400, "validation_failed", "events"},
		{`{"endpoint":"https://example.com/x","events":["a b"]}`, 400, "validation_failed", "events[0]"},
		{`{"endpoint":"http://127.0.0.1:9/x"}`, 400, "validation_failed", "endpoint"},
		{`{"endpoint":"http://[::1]/x"}`, 400, "validation_failed", "endpoint"},
		{`{"url":"http://10.0.0.1/x"}`, 400, "validation_failed", "url"},
		{`{"endpoint":"example.com"}`, 400, "validation_failed", "endpoint"},
		{`{"endpoint":"https://example.com/x","isActive":"yes"}`, 400, "validation_failed", "isActive"},
	} {
		for _, method := range []string{"POST", "PUT"} {
			path := "/webhooks"
			if method == "PUT" {
				path += "/" + id
			}
			m := wantProblem(t, ts.do(method, path, c.body), c.status, c.code)
			if c.field != "" && m["field"] != c.field {
				t.Errorf("%s %s: field = %v, want %s", method, c.body, m["field"], c.field)
			}
		}
	}
	for _, body := range []string{``, `{}`, `{"events":["A"]}`} {
		wantProblem(t, ts.do("POST", "/webhooks", body), 400, map[bool]string{true: "invalid_json", false: "validation_failed"}[body == ""])
	}
	wantProblem(t, ts.do("POST", "/webhooks", `{"endpoint":"https://example.com/x"}`, "Content-Type", "text/plain"), 415, "unsupported_media_type")

	for _, bad := range []string{"wh_" + ulid, "wh_nope", "nope", "evt_" + ulid, id + "x"} {
		wantProblem(t, ts.do("GET", "/webhooks/"+bad, nil), 404, "not_found")
		wantProblem(t, ts.do("PUT", "/webhooks/"+bad, `{"events":["B"]}`), 404, "not_found")
		wantProblem(t, ts.do("DELETE", "/webhooks/"+bad, nil), 404, "not_found")
		wantProblem(t, ts.do("POST", "/webhooks/"+bad+":ping", nil), 404, "not_found")
	}
	wantProblem(t, ts.do("POST", "/webhooks/"+id, nil), 405, "method_not_allowed")
	wantProblem(t, ts.do("POST", "/webhooks/"+id+":nope", nil), 404, "not_found")
	wantProblem(t, ts.do("PUT", "/webhooks/"+id+":ping", `{"events":["B"]}`), 404, "not_found")
	wantProblem(t, ts.do("DELETE", "/webhooks/"+id+":ping", nil), 404, "not_found")
	wantProblem(t, ts.do("PATCH", "/webhooks/"+id, `{}`), 405, "method_not_allowed")
	wantProblem(t, ts.do("GET", "/webhooks:sendexpired", nil), 405, "method_not_allowed")

	for _, c := range []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"notification_id":`, 400, "invalid_json", ""},
		{`{"notification_id":5}`, 400, "validation_failed", "notification_id"},
		{`{"notification_id":["a"]}`, 400, "validation_failed", "notification_id"},
		{`{"notification_id":""}`, 400, "validation_failed", "notification_id"},
		{`{"notification_id":"evt_` + ulid + `"}`, 404, "not_found", ""},
		{`{"notification_id":"no-such-key"}`, 404, "not_found", ""},
		{`{"notification_id":"` + strings.Repeat("k", 300) + `"}`, 404, "not_found", ""},
		{`{"notification_id":"a\u0001b"}`, 404, "not_found", ""},
	} {
		m := wantProblem(t, ts.do("POST", "/webhooks:sendexpired", c.body), c.status, c.code)
		if c.field != "" && m["field"] != c.field {
			t.Errorf("%s: field = %v, want %s", c.body, m["field"], c.field)
		}
	}
	wantProblem(t, ts.do("POST", "/webhooks:sendexpired", `{}`, "Content-Type", "text/plain"), 415, "unsupported_media_type")

	_, after := ts.get(t, "/webhooks/"+id)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("webhook after the bad requests = %v, want %v", after, before)
	}
	if r := ts.do("GET", "/webhooks", nil); r.status != 200 || strings.Count(string(r.body), `"id"`) != 1 {
		t.Errorf("list = %d %s", r.status, r.body)
	}
}

// Another tenant's webhook ids and notification ids are 404s.
func TestNCoreOtherTenant(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts, tok := newJWTDeliveryServer(t)
	acme, beta := tok("acme", RoleAdmin), tok("beta", RoleAdmin)
	r := ts.do("POST", "/webhooks", map[string]any{"endpoint": rcv.url}, "Authorization", acme)
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	ev := ts.publish(t, `{"type":"a","id":"acme-key","data":1}`, "Authorization", acme)[0]
	ts.waitAttempt(t, "the delivery", nil)
	rcv.next(t)

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/webhooks/" + id, ""},
		{"PUT", "/webhooks/" + id, `{"endpoint":"` + rcv.url + `/beta"}`},
		{"DELETE", "/webhooks/" + id, ""},
		{"POST", "/webhooks/" + id + ":ping", ""},
		{"POST", "/webhooks:sendexpired", `{"notification_id":"` + ev + `"}`},
		{"POST", "/webhooks:sendexpired", `{"notification_id":"acme-key"}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		wantProblem(t, ts.do(c.method, c.path, body, "Authorization", beta), 404, "not_found")
	}
	if r := ts.do("GET", "/webhooks", nil, "Authorization", beta); r.status != 200 || string(r.body) != `[]` {
		t.Errorf("beta's list = %d %s", r.status, r.body)
	}
	rcv.none(t, "after beta's ping")
	_, w := ts.get(t, "/webhooks/"+id, "Authorization", acme)
	if w["endpoint"] != rcv.url {
		t.Errorf("acme's webhook after beta's requests = %v", w)
	}
	// The owner finds its notification by key (nothing is expired).
	if r := ts.do("POST", "/webhooks:sendexpired", `{"notification_id":"acme-key"}`, "Authorization", acme); r.status != 202 || string(r.body) != `{"scheduled":0}` {
		t.Errorf("acme sendexpired = %d %s", r.status, r.body)
	}
	read := tok("acme", RoleRead)
	if r := ts.do("GET", "/webhooks", nil, "Authorization", read); r.status != 200 {
		t.Errorf("read list = %d %s", r.status, r.body)
	}
	wantProblem(t, ts.do("POST", "/webhooks/"+id+":ping", nil, "Authorization", read), 403, "forbidden")
	wantProblem(t, ts.do("POST", "/webhooks:sendexpired", nil, "Authorization", read), 403, "forbidden")
}
