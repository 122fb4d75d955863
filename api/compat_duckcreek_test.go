package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hookd/config"
	"hookd/wal"
)

const dcSecret = "0123456789abcdef0123456789abcdef"

// dcClient sends Duck Creek requests as one tenant and account.
type dcClient struct {
	ds  *deliveryServer
	hdr []string
}

// newDCServer is a delivering server in jwt mode.
func newDCServer(t *testing.T, mutate func(*config.Config)) *deliveryServer {
	return newDeliveryServer(t, func(c *config.Config) {
		c.Auth.Mode, c.Auth.JWTSecret = "jwt", dcSecret
		c.Delivery.RetrySchedule = []config.Duration{{Duration: 0}} // one attempt, then expired
		if mutate != nil {
			mutate(c)
		}
	}, nil)
}

func dcAs(t *testing.T, ds *deliveryServer, tenant, account string, roles ...string) dcClient {
	t.Helper()
	tok, err := MintToken(ds.cfg.Auth, tenant, account, roles, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return dcClient{ds, []string{"Authorization", "Bearer " + tok, "x-tenant-id", tenant, "x-account-id", account}}
}

func (c dcClient) do(method, path string, body any, hdr ...string) resp {
	c.ds.t.Helper()
	return c.ds.do(method, dcBase+path, body, append(slices.Clone(c.hdr), hdr...)...)
}

// want sends a request that must answer status, and returns its body as
// an object (nil for an empty body).
func (c dcClient) want(t *testing.T, status int, method, path string, body any) (resp, map[string]any) {
	t.Helper()
	r := c.do(method, path, body)
	if r.status != status {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, status, r.body)
	}
	if len(r.body) == 0 {
		return r, nil
	}
	return r, r.json(t)
}

func dcResults(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, v := range m["results"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func wantMillis(t *testing.T, what string, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	now := float64(time.Now().UnixMilli())
	if !ok || f < now-600_000 || f > now+600_000 {
		t.Errorf("%s = %v, want Unix milliseconds of about now", what, v)
	}
	return int64(f)
}

// Every request example of seed 002's webhook routes, with the seed's own
// bodies (only the destination is the local receiver).
func TestDuckCreekSeedWebhooks(t *testing.T) {
	rcv := newReceiver(t, 200)
	ds := newDCServer(t, nil)
	c := dcAs(t, ds, "acme", "acct-1", RoleAdmin)

	// POST (the seed's body) → 201 with the webhook.
	r, created := c.want(t, 201, "POST", "", compatFile(t, "duckcreek", "create_webhook.json", "destination", rcv.url))
	id, _ := created["webhookId"].(string)
	mustID(t, "wh_", id)
	wantJSONEqual(t, "created", dcPick(created, "destination", "events", "maxBatchSize", "maxBatchTimeDelay", "isActive"),
		`{"destination":"`+rcv.url+`","events":["order.created","payment.failed","chargeback.opened"],"maxBatchSize":"1","maxBatchTimeDelay":"0","isActive":true}`)
	wantMillis(t, "creationTimestamp", created["creationTimestamp"])
	wantMillis(t, "lastModifiedTimestamp", created["lastModifiedTimestamp"])
	if s, _ := created["secret"].(string); !strings.HasPrefix(s, "whsec_") {
		t.Errorf("create answers secret %v, want whsec_...", created["secret"])
	}
	if loc := r.header.Get("Location"); loc != dcBase+"/"+id {
		t.Errorf("Location = %q", loc)
	}

	// GET one: the same object without the secret.
	_, got := c.want(t, 200, "GET", "/"+id, nil)
	delete(created, "secret")
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GET = %v, want %v", got, created)
	}
	// The same object natively.
	_, native := ds.get(t, "/v1/webhooks/"+id, c.hdr...)
	if native["url"] != rcv.url || native["maxBatchSize"] != 1.0 {
		t.Errorf("native view = %v", native)
	}

	// GET the list: the seed's query (strings), and the defaults.
	for _, q := range []string{"?from=0&take=20", ""} {
		_, page := c.want(t, 200, "GET", q, nil)
		wantJSONEqual(t, "page "+q, dcPick(page, "currentPage", "pageCount", "pageSize", "rowCount", "totalCount"),
			`{"currentPage":0,"pageCount":1,"pageSize":20,"rowCount":1,"totalCount":1}`)
		if res := dcResults(page); len(res) != 1 || !reflect.DeepEqual(res[0], created) {
			t.Errorf("results = %v", page["results"])
		}
	}

	// PUT (the seed's body) → 200 with the new values.
	_, upd := c.want(t, 200, "PUT", "/"+id, compatFile(t, "duckcreek", "update_webhook.json", "destination", rcv.url+"/v2"))
	wantJSONEqual(t, "updated", dcPick(upd, "webhookId", "destination", "events", "maxBatchSize", "maxBatchTimeDelay", "isActive"),
		`{"webhookId":"`+id+`","destination":"`+rcv.url+`/v2","events":["order.created"],"maxBatchSize":"10","maxBatchTimeDelay":"1000","isActive":false}`)
	// Numbers, a duration and a TimeSpan are taken too; null leaves a field.
	_, upd = c.want(t, 200, "PUT", "/"+id, `{"maxBatchSize":5,"maxBatchTimeDelay":"00:00:01.5","destination":null,"isActive":true}`)
	wantJSONEqual(t, "updated", dcPick(upd, "destination", "maxBatchSize", "maxBatchTimeDelay", "isActive"),
		`{"destination":"`+rcv.url+`/v2","maxBatchSize":"5","maxBatchTimeDelay":"1500","isActive":true}`)
	_, upd = c.want(t, 200, "PUT", "/"+id, `{"maxBatchTimeDelay":"250ms"}`)
	if upd["maxBatchTimeDelay"] != "250" {
		t.Errorf("maxBatchTimeDelay = %v, want \"250\"", upd["maxBatchTimeDelay"])
	}

	// event-types is not a {webhookId}.
	ds.publish(t, `{"type":"order.created","data":{}}`, c.hdr...)
	_, types := c.want(t, 200, "GET", "/event-types", nil)
	if res := dcResults(types); len(res) != 1 || res[0]["eventType"] != "order.created" || types["totalCount"] != 1.0 {
		t.Errorf("event-types = %v", types)
	}

	// The seed's request sample itself ("maxBatchSize": "string") is a 400.
	r = c.do("POST", "", compatFile(t, "duckcreek", "create_webhook_seed.json"))
	if p := wantProblem(t, r, 400, "validation_failed"); p["field"] != "maxBatchSize" {
		t.Errorf("seed sample: %v", p)
	}

	// DELETE → 204, then 404.
	c.want(t, 204, "DELETE", "/"+id, nil)
	wantProblem(t, c.do("GET", "/"+id, nil), 404, "not_found")
	_, page := c.want(t, 200, "GET", "", nil)
	if page["totalCount"] != 0.0 || len(dcResults(page)) != 0 {
		t.Errorf("after delete: %v", page)
	}
}

// A real delivery seen through the batch and attempt routes, with every
// filter of the seed, and a scheduled attempt that reaches the receiver.
func TestDuckCreekBatchesAndAttempts(t *testing.T) {
	rcv := newReceiver(t, 200, func(b []byte) bool { return strings.Contains(string(b), "chargeback") })
	ds := newDCServer(t, nil)
	c := dcAs(t, ds, "acme", "acct-1", RoleRead, config.RoleWriteAlias, RolePublish)
	_, hook := c.want(t, 201, "POST", "", compatFile(t, "duckcreek", "create_webhook.json", "destination", rcv.url))
	id := hook["webhookId"].(string)

	// Three events, one batch each (maxBatchSize "1"); the chargeback one
	// fails its only attempt.
	evs := ds.publish(t, `{"events":[
		{"type":"order.created","data":{"n":1},"refs":{"orderRef":"A1","customerRef":"C1"}},
		{"type":"payment.failed","data":{"n":2},"refs":{"transactionId":"T1","instructionRef":"I1","mandateRef":"M1"}},
		{"type":"chargeback.opened","data":{"n":3},"refs":{"chargebackId":"CB1","financialInstrumentId":"F1","customerRef":"C1"}}]}`, c.hdr...)
	batchOf := map[string]string{} // event id -> batch id
	for len(batchOf) < 3 {
		a := ds.waitAttempt(t, "three first attempts", func(a attemptSeen) bool { return a.status != wal.AttemptScheduled })
		batchOf[a.events[0]] = a.batchID
	}
	byType := map[string]string{"order.created": batchOf[evs[0]], "payment.failed": batchOf[evs[1]], "chargeback.opened": batchOf[evs[2]]}

	list := func(q string) (map[string]any, []string) {
		t.Helper()
		_, page := c.want(t, 200, "GET", "/"+id+"/batches?"+q, nil)
		var ids []string
		for _, b := range dcResults(page) {
			ids = append(ids, b["batchId"].(string))
		}
		slices.Sort(ids)
		return page, ids
	}
	want := func(types ...string) []string {
		var ids []string
		for _, ty := range types {
			ids = append(ids, byType[ty])
		}
		slices.Sort(ids)
		return ids
	}

	page, all := list("from=0&take=100")
	if !slices.Equal(all, want("order.created", "payment.failed", "chargeback.opened")) {
		t.Fatalf("batches = %v", all)
	}
	compatShape(t, "batches page", dcJSON(page), "duckcreek", "batches_page_sample.json", shapeRules{})
	created := map[string]int64{}
	for _, b := range dcResults(page) {
		created[b["batchId"].(string)] = wantMillis(t, "creationTimestamp", b["creationTimestamp"])
		wantMillis(t, "lastDeliveryAttemptTimestamp", b["lastDeliveryAttemptTimestamp"])
	}

	// Each filter of the seed.
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"orderRef=A1", want("order.created")},
		{"customerRef=C1", want("order.created", "chargeback.opened")},
		{"instructionRef=I1", want("payment.failed")},
		{"transactionId=T1", want("payment.failed")},
		{"mandateRef=M1", want("payment.failed")},
		{"financialInstrumentId=F1", want("chargeback.opened")},
		{"chargebackId=CB1", want("chargeback.opened")},
		{"orderRef=A2", nil},
		{"customerRef=C1&chargebackId=CB1", want("chargeback.opened")},
		{"eventType=payment.failed", want("payment.failed")},
		{"lastDeliveryAttemptStatus=Succeeded", want("order.created", "payment.failed")},
		{"lastDeliveryAttemptStatus=Failed", want("chargeback.opened")},
		{"lastDeliveryAttemptStatus=failed&eventType=order.created", nil},
		{"createdAfter=" + strconv.FormatInt(slices.Min(dcValues(created))-1, 10), all},
		{"createdAfter=" + strconv.FormatInt(slices.Max(dcValues(created))+1, 10), nil},
		{"createdBefore=" + strconv.FormatInt(slices.Min(dcValues(created)), 10), nil},
		{"createdBefore=" + strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10), all},
		{"lastDeliveredAfter=" + strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10), all},
		{"lastDeliveredAfter=" + strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10), nil},
		{"lastDeliveredBefore=" + strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10), all},
		{"lastDeliveredBefore=" + strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10), nil},
	} {
		if _, got := list(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("?%s = %v, want %v", tt.q, got, tt.want)
		}
	}

	// Paging: take 1 from 1 is the second of three pages.
	page, _ = list("from=1&take=1")
	wantJSONEqual(t, "page 2", dcPick(page, "currentPage", "pageCount", "pageSize", "rowCount", "totalCount"),
		`{"currentPage":1,"pageCount":3,"pageSize":1,"rowCount":1,"totalCount":3}`)

	// One batch: the seed's fields, the event's id as messageId.
	ok := byType["order.created"]
	_, b := c.want(t, 200, "GET", "/"+id+"/batches/"+ok, nil)
	compatShape(t, "batch", dcJSON(b), "duckcreek", "batch_sample.json", shapeRules{})
	wantJSONEqual(t, "batch", dcPick(b, "batchId", "events", "eventTypes", "lastDeliveryAttemptStatus", "totalEvents"),
		`{"batchId":"`+ok+`","events":[{"eventType":"order.created","messageId":"`+evs[0]+`"}],"eventTypes":["order.created"],"lastDeliveryAttemptStatus":"Succeeded","totalEvents":1}`)

	// Its attempts, and one attempt.
	_, atts := c.want(t, 200, "GET", "/"+id+"/batches/"+ok+"/delivery-attempts", nil)
	compatShape(t, "attempts", dcJSON(atts), "duckcreek", "attempts_page_sample.json",
		shapeRules{nullable: []string{"results[].error"}})
	res := dcResults(atts)
	if len(res) != 1 || atts["totalCount"] != 1.0 || atts["pageSize"] != 100.0 {
		t.Fatalf("attempts = %v", atts)
	}
	attID := res[0]["deliveryAttemptId"].(string)
	r, a := c.want(t, 200, "GET", "/"+id+"/batches/"+ok+"/delivery-attempts/"+attID, nil)
	compatShape(t, "attempt", r.body, "duckcreek", "attempt_sample.json", shapeRules{nullable: []string{"error"}})
	wantJSONEqual(t, "attempt", dcPick(a, "accountId", "tenantId", "subscriptionId", "batchId", "deliveryAttemptId", "deliveryStatus", "error", "responseStatusCode", "response"),
		`{"accountId":"acct-1","tenantId":"acme","subscriptionId":"`+id+`","batchId":"`+ok+`","deliveryAttemptId":"`+attID+`","deliveryStatus":"Succeeded","error":null,"responseStatusCode":200,"response":""}`)
	wantMillis(t, "deliveryTimestamp", a["deliveryTimestamp"])
	var sent map[string]string
	if err := json.Unmarshal([]byte(a["requestHeaders"].(string)), &sent); err != nil || sent["webhook-id"] != evs[0] {
		t.Errorf("requestHeaders = %v (%v), want a JSON object with webhook-id %s", a["requestHeaders"], err, evs[0])
	}
	// The failed batch's attempt.
	bad := byType["chargeback.opened"]
	_, atts = c.want(t, 200, "GET", "/"+id+"/batches/"+bad+"/delivery-attempts", nil)
	if f := dcResults(atts)[0]; f["deliveryStatus"] != "Failed" || f["responseStatusCode"] != 500.0 || f["response"] != "boom" {
		t.Errorf("failed attempt = %v", f)
	}

	// Drain the three first deliveries, then schedule one more (the seed's
	// role name tenant-webhook-writer may): 201, and the receiver gets it.
	for range 3 {
		rcv.next(t)
	}
	r, sched := c.want(t, 201, "POST", "/"+id+"/batches/"+ok+"/delivery-attempts", nil)
	again, _ := sched["deliveryAttemptId"].(string)
	mustID(t, "att_", again)
	if len(sched) != 1 || r.header.Get("Location") != dcBase+"/"+id+"/batches/"+ok+"/delivery-attempts/"+again {
		t.Errorf("schedule = %v, Location %q", sched, r.header.Get("Location"))
	}
	if h := rcv.next(t); h.header.Get("webhook-id") != evs[0] {
		t.Errorf("scheduled delivery carried webhook-id %q, want %s", h.header.Get("webhook-id"), evs[0])
	}
	ds.waitAttempt(t, "the scheduled attempt", func(s attemptSeen) bool { return s.attemptID == again && s.status != wal.AttemptScheduled })
	_, a = c.want(t, 200, "GET", "/"+id+"/batches/"+ok+"/delivery-attempts/"+again, nil)
	if a["deliveryStatus"] != "Succeeded" {
		t.Errorf("scheduled attempt = %v", a)
	}
	_, atts = c.want(t, 200, "GET", "/"+id+"/batches/"+ok+"/delivery-attempts?from=1&take=1", nil)
	if res := dcResults(atts); atts["totalCount"] != 2.0 || len(res) != 1 || res[0]["deliveryAttemptId"] != again {
		t.Errorf("attempts page 2 = %v", atts)
	}
}

func dcValues[K comparable, V any](m map[K]V) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func dcJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// pick is the subset of m under keys (a key m lacks stays absent).
func dcPick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// x-account-id and x-tenant-id: required (400), equal to the token's
// claims (403); another tenant's ids are 404, like missing ones.
func TestDuckCreekTenantHeaders(t *testing.T) {
	rcv := newReceiver(t, 200)
	ds := newDCServer(t, nil)
	acme := dcAs(t, ds, "acme", "acct-1", RoleAdmin)
	globex := dcAs(t, ds, "globex", "acct-9", RoleAdmin)
	_, hook := acme.want(t, 201, "POST", "", compatFile(t, "duckcreek", "create_webhook.json", "destination", rcv.url))
	id := hook["webhookId"].(string)
	ds.publish(t, `{"type":"order.created","data":{}}`, acme.hdr...)
	a := ds.waitAttempt(t, "a delivery", func(a attemptSeen) bool { return a.status != wal.AttemptScheduled })
	batch := "/" + id + "/batches/" + a.batchID
	attempt := batch + "/delivery-attempts/" + a.attemptID
	auth := acme.hdr[:2]

	paths := []struct{ method, path string }{
		{"GET", ""}, {"POST", ""}, {"GET", "/event-types"}, {"GET", "/" + id}, {"PUT", "/" + id}, {"DELETE", "/" + id},
		{"GET", "/" + id + "/batches"}, {"GET", batch}, {"GET", batch + "/delivery-attempts"},
		{"POST", batch + "/delivery-attempts"}, {"GET", attempt},
	}
	for _, p := range paths {
		var body any
		if p.method == "POST" || p.method == "PUT" {
			body = compatFile(t, "duckcreek", "create_webhook.json", "destination", rcv.url)
		}
		t.Run(p.method+" "+p.path, func(t *testing.T) {
			u := dcBase + p.path
			wantProblem(t, ds.do(p.method, u, body), 401, "unauthorized")
			for _, tt := range []struct {
				name   string
				hdr    []string
				status int
				code   string
			}{
				{"no headers", nil, 400, "validation_failed"},
				{"no account", []string{"x-tenant-id", "acme"}, 400, "validation_failed"},
				{"no tenant", []string{"x-account-id", "acct-1"}, 400, "validation_failed"},
				{"other tenant", []string{"x-tenant-id", "globex", "x-account-id", "acct-1"}, 403, "forbidden"},
				{"other account", []string{"x-tenant-id", "acme", "x-account-id", "acct-9"}, 403, "forbidden"},
			} {
				r := ds.do(p.method, u, body, append(slices.Clone(auth), tt.hdr...)...)
				if m := wantProblem(t, r, tt.status, tt.code); tt.status == 400 && !strings.HasPrefix(m["field"].(string), "x-") {
					t.Errorf("%s: field = %v", tt.name, m["field"])
				}
			}
			// Another tenant, with its own headers: 404 (or its own list).
			if p.path != "" && p.path != "/event-types" {
				wantProblem(t, globex.do(p.method, p.path, body), 404, "not_found")
			}
		})
	}
	_, page := globex.want(t, 200, "GET", "", nil)
	if page["totalCount"] != 0.0 {
		t.Errorf("globex sees %v", page)
	}
	// Nothing of acme's changed.
	_, got := acme.want(t, 200, "GET", "/"+id, nil)
	if got["destination"] != rcv.url {
		t.Errorf("acme's webhook = %v", got)
	}

	// auth.mode none: the tenant is "default".
	none := newDeliveryServer(t, nil, nil)
	if r := none.do("GET", dcBase, nil, "x-tenant-id", "default", "x-account-id", "any"); r.status != 200 {
		t.Errorf("none mode = %d %s", r.status, r.body)
	}
	wantProblem(t, none.do("GET", dcBase, nil, "x-tenant-id", "acme", "x-account-id", "any"), 403, "forbidden")
	wantProblem(t, none.do("GET", dcBase, nil, "x-tenant-id", "default"), 400, "validation_failed")
}

// Bad input on every route: a 4xx naming what is wrong, nothing changed.
func TestDuckCreekBadInput(t *testing.T) {
	rcv := newReceiver(t, 200)
	ds := newDCServer(t, nil)
	c := dcAs(t, ds, "acme", "acct-1", RoleAdmin)
	_, hook := c.want(t, 201, "POST", "", compatFile(t, "duckcreek", "create_webhook.json", "destination", rcv.url))
	id := hook["webhookId"].(string)
	ds.publish(t, `{"type":"order.created","data":{}}`, c.hdr...)
	a := ds.waitAttempt(t, "a delivery", func(a attemptSeen) bool { return a.status != wal.AttemptScheduled })
	batch := "/" + id + "/batches/" + a.batchID
	unknownHook := "/wh_01KAB0000000000000000000000"
	unknownBatch := "/" + id + "/batches/bat_01KAB0000000000000000000000"

	body := func(set string) string { // the seed's create body with one field changed
		var m map[string]any
		json.Unmarshal([]byte(compatFile(t, "duckcreek", "create_webhook.json", "destination", rcv.url)), &m)
		var s map[string]any
		if err := json.Unmarshal([]byte(set), &s); err != nil {
			t.Fatal(err)
		}
		for k, v := range s {
			m[k] = v
		}
		return string(dcJSON(m))
	}
	tests := []struct {
		method, path string
		body         any
		status       int
		code, field  string
	}{
		{"POST", "", `{"destination":`, 400, "invalid_json", ""},
		{"POST", "", ``, 400, "invalid_json", ""},
		{"POST", "", `[]`, 400, "invalid_json", ""},
		{"POST", "", `{"events":["a"]}`, 400, "validation_failed", "destination"},
		{"POST", "", body(`{"destination":42}`), 400, "validation_failed", "destination"},
		{"POST", "", body(`{"destination":"ftp://example.com/x"}`), 400, "validation_failed", "destination"},
		{"POST", "", body(`{"events":"order.created"}`), 400, "validation_failed", "events"},
		{"POST", "", body(`{"events":["bad type"]}`), 400, "validation_failed", "events[0]"},
		{"POST", "", body(`{"maxBatchSize":"abc"}`), 400, "validation_failed", "maxBatchSize"},
		{"POST", "", body(`{"maxBatchSize":"0"}`), 400, "validation_failed", "maxBatchSize"},
		{"POST", "", body(`{"maxBatchSize":1001}`), 400, "validation_failed", "maxBatchSize"},
		{"POST", "", body(`{"maxBatchSize":1.5}`), 400, "validation_failed", "maxBatchSize"},
		{"POST", "", body(`{"maxBatchTimeDelay":"soon"}`), 400, "validation_failed", "maxBatchTimeDelay"},
		{"POST", "", body(`{"maxBatchTimeDelay":"99:00:00"}`), 400, "validation_failed", "maxBatchTimeDelay"},
		{"POST", "", body(`{"maxBatchTimeDelay":-1}`), 400, "validation_failed", "maxBatchTimeDelay"},
		{"POST", "", body(`{"isActive":"yes"}`), 400, "validation_failed", "isActive"},
		{"PUT", "/" + id, `{"destination":`, 400, "invalid_json", ""},
		{"PUT", "/" + id, `{"maxBatchSize":"x"}`, 400, "validation_failed", "maxBatchSize"},
		{"PUT", "/" + id, `{"destination":"http://"}`, 400, "validation_failed", "destination"},
		{"PUT", unknownHook, `{}`, 404, "not_found", ""},
		{"PUT", "/nope", `{}`, 404, "not_found", ""},
		{"DELETE", unknownHook, nil, 404, "not_found", ""},
		{"DELETE", "/bat_01KAB0000000000000000000000", nil, 404, "not_found", ""},
		{"GET", unknownHook, nil, 404, "not_found", ""},
		{"GET", "?from=x", nil, 400, "validation_failed", "from"},
		{"GET", "?from=-1", nil, 400, "validation_failed", "from"},
		{"GET", "?take=1001", nil, 400, "validation_failed", "take"},
		{"GET", "/event-types?take=abc", nil, 400, "validation_failed", "take"},
		{"GET", unknownHook + "/batches", nil, 404, "not_found", ""},
		{"GET", "/" + id + "/batches?take=-1", nil, 400, "validation_failed", "take"},
		{"GET", "/" + id + "/batches?createdBefore=yesterday", nil, 400, "validation_failed", "createdBefore"},
		{"GET", "/" + id + "/batches?createdAfter=1.5", nil, 400, "validation_failed", "createdAfter"},
		{"GET", "/" + id + "/batches?lastDeliveredAfter=x", nil, 400, "validation_failed", "lastDeliveredAfter"},
		{"GET", "/" + id + "/batches?lastDeliveredBefore=x", nil, 400, "validation_failed", "lastDeliveredBefore"},
		{"GET", "/" + id + "/batches?lastDeliveryAttemptStatus=Scheduled", nil, 400, "validation_failed", "lastDeliveryAttemptStatus"},
		{"GET", "/" + id + "/batches?lastDeliveryAttemptStatus=ok", nil, 400, "validation_failed", "lastDeliveryAttemptStatus"},
		{"GET", unknownBatch, nil, 404, "not_found", ""},
		{"GET", "/" + id + "/batches/" + id, nil, 404, "not_found", ""},
		{"GET", unknownHook + "/batches/" + a.batchID, nil, 404, "not_found", ""},
		{"GET", unknownBatch + "/delivery-attempts", nil, 404, "not_found", ""},
		{"GET", batch + "/delivery-attempts?from=z", nil, 400, "validation_failed", "from"},
		{"POST", unknownBatch + "/delivery-attempts", nil, 404, "not_found", ""},
		{"POST", unknownHook + "/batches/" + a.batchID + "/delivery-attempts", nil, 404, "not_found", ""},
		{"GET", batch + "/delivery-attempts/att_01KAB0000000000000000000000", nil, 404, "not_found", ""},
		{"GET", batch + "/delivery-attempts/" + a.batchID, nil, 404, "not_found", ""},
		{"GET", unknownBatch + "/delivery-attempts/" + a.attemptID, nil, 404, "not_found", ""},
		{"PATCH", "/" + id, `{}`, 405, "method_not_allowed", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %v", tt.method, tt.path, tt.body), func(t *testing.T) {
			m := wantProblem(t, c.do(tt.method, tt.path, tt.body), tt.status, tt.code)
			if tt.field != "" && m["field"] != tt.field {
				t.Errorf("field = %v, want %s (%v)", m["field"], tt.field, m["detail"])
			}
		})
	}
	wantProblem(t, c.do("POST", "", body(`{}`), "Content-Type", "text/plain"), 415, "unsupported_media_type")

	// Nothing changed: one webhook, as created; one batch, one attempt.
	_, page := c.want(t, 200, "GET", "", nil)
	if res := dcResults(page); len(res) != 1 || !reflect.DeepEqual(res[0], func() map[string]any { delete(hook, "secret"); return hook }()) {
		t.Errorf("after bad input: %v", page)
	}
	_, atts := c.want(t, 200, "GET", batch+"/delivery-attempts", nil)
	if atts["totalCount"] != 1.0 {
		t.Errorf("attempts after bad input: %v", atts)
	}

	// A private destination is refused when the config does not allow it.
	strict := newTestServer(t, nil)
	r := strict.do("POST", dcBase, body(`{"destination":"http://10.0.0.1/hook"}`), "x-tenant-id", "default", "x-account-id", "a")
	if m := wantProblem(t, r, 400, "validation_failed"); m["field"] != "destination" {
		t.Errorf("private destination: %v", m)
	}
	if r := strict.do("GET", dcBase, nil, "x-tenant-id", "default", "x-account-id", "a"); !strings.Contains(string(r.body), `"totalCount":0`) {
		t.Errorf("after refusal: %s", r.body)
	}
}
