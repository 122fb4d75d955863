package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"hookd/wal"
)

// A delivered batch as the batch, attempt and event endpoints show it.
func TestBatchDelivered(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, nil)
	hook, secret := ts.createHook(t, map[string]any{"url": rcv.url + "/hook", "maxBatchSize": 1})
	ids := ts.publish(t, `{"type":"order.created","data":{"n":1,"name":"widget"},"refs":{"orderRef":"A1"}}`)

	h := rcv.next(t)
	seen := ts.waitAttempt(t, "the first attempt", nil)
	if seen.status != wal.AttemptSucceeded || seen.batchStatus != wal.BatchDelivered || seen.trigger != wal.TriggerAuto {
		t.Fatalf("attempt = %+v", seen)
	}
	// What the receiver got: the single-event body, signed.
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.body, h.header); err != nil {
		t.Errorf("signature does not verify: %v (%s)", err, h.header.Get("webhook-signature"))
	}
	var body struct {
		ID, Type, Timestamp string
		Data                json.RawMessage
	}
	json.Unmarshal(h.body, &body)
	if body.ID != ids[0] || body.Type != "order.created" || h.header.Get("webhook-id") != ids[0] {
		t.Errorf("receiver got %s with webhook-id %q", h.body, h.header.Get("webhook-id"))
	}
	wantJSONEqual(t, "delivered data", body.Data, `{"n":1,"name":"widget"}`)
	sig := h.header.Get("webhook-signature")
	if !strings.HasPrefix(sig, "v1,") || len(sig) < 20 {
		t.Fatalf("webhook-signature = %q", sig)
	}

	var outputs [][]byte // every API answer: none may hold the signature or the secret
	get := func(path string) map[string]any {
		t.Helper()
		r, m := ts.get(t, path)
		outputs = append(outputs, r.body)
		return m
	}
	base := "/v1/webhooks/" + hook + "/batches"

	// The list.
	list := get(base)
	if list["nextCursor"] != nil || len(list["results"].([]any)) != 1 {
		t.Fatalf("list = %v", list)
	}
	b := list["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "webhookId", "status", "events", "eventTypes", "totalEvents", "attempts",
		"maxAttempts", "createdAt", "nextAttemptAt", "lastAttemptAt", "lastAttemptStatus", "lastStatusCode", "deliveredAt"} {
		if _, ok := b[k]; !ok {
			t.Errorf("batch lacks %q: %v", k, b)
		}
	}
	batch, _ := b["id"].(string)
	if !strings.HasPrefix(batch, "bat_") || batch != seen.batchID {
		t.Errorf("batch id = %q, the engine reported %q", batch, seen.batchID)
	}
	hookObj := get("/v1/webhooks/" + hook)
	sched := hookObj["retry"].(map[string]any)["schedule"].([]any)
	if b["webhookId"] != hook || b["status"] != "delivered" || b["totalEvents"] != 1.0 || b["attempts"] != 1.0 ||
		b["maxAttempts"] != float64(len(sched)) || b["lastAttemptStatus"] != "succeeded" || b["lastStatusCode"] != 200.0 ||
		b["nextAttemptAt"] != nil {
		t.Errorf("batch = %v (schedule %v)", b, sched)
	}
	wantTimestamp(t, "createdAt", b["createdAt"])
	wantTimestamp(t, "lastAttemptAt", b["lastAttemptAt"])
	wantTimestamp(t, "deliveredAt", b["deliveredAt"])
	wantJSONEqual(t, "events", b["events"], `[{"id":"`+ids[0]+`","type":"order.created"}]`)
	wantJSONEqual(t, "eventTypes", b["eventTypes"], `["order.created"]`)

	// One batch, with the data.
	one := get(base + "/" + batch)
	wantJSONEqual(t, "batch events", one["events"], `[{"id":"`+ids[0]+`","type":"order.created","data":{"n":1,"name":"widget"}}]`)
	delete(one, "events")
	delete(b, "events")
	if !reflect.DeepEqual(one, b) {
		t.Errorf("GET batch = %v, list entry = %v", one, b)
	}

	// Its attempts.
	atts := get(base + "/" + batch + "/attempts")
	if atts["nextCursor"] != nil || len(atts["results"].([]any)) != 1 {
		t.Fatalf("attempts = %v", atts)
	}
	a := atts["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "batchId", "webhookId", "status", "trigger", "scheduledAt", "startedAt",
		"durationMs", "requestHeaders", "responseStatusCode", "responseBody", "error"} {
		if _, ok := a[k]; !ok {
			t.Errorf("attempt lacks %q: %v", k, a)
		}
	}
	if a["id"] != seen.attemptID || a["batchId"] != batch || a["webhookId"] != hook || a["status"] != "succeeded" ||
		a["trigger"] != "auto" || a["responseStatusCode"] != 200.0 || a["error"] != nil || a["responseBody"] != "" {
		t.Errorf("attempt = %v", a)
	}
	if d, ok := a["durationMs"].(float64); !ok || d < 0 {
		t.Errorf("durationMs = %v", a["durationMs"])
	}
	wantTimestamp(t, "scheduledAt", a["scheduledAt"])
	wantTimestamp(t, "startedAt", a["startedAt"])
	hdrs := a["requestHeaders"].(map[string]any)
	if hdrs["webhook-id"] != ids[0] || hdrs["webhook-timestamp"] != h.header.Get("webhook-timestamp") ||
		hdrs["webhook-signature"] != "v1,<redacted>" || hdrs["content-type"] != "application/json" {
		t.Errorf("requestHeaders = %v", hdrs)
	}
	if got := get(base + "/" + batch + "/attempts/" + seen.attemptID); !reflect.DeepEqual(got, a) {
		t.Errorf("GET attempt = %v, list entry = %v", got, a)
	}

	// The event lists its delivery.
	ev := get("/v1/events/" + ids[0])
	wantJSONEqual(t, "deliveries", ev["deliveries"], `[{"webhookId":"`+hook+`","batchId":"`+batch+`","status":"delivered"}]`)
	if hookObj["healthStatus"] != "healthy" {
		t.Errorf("healthStatus = %v", hookObj["healthStatus"])
	}

	sigValue := []byte(strings.TrimPrefix(sig, "v1,"))
	key := []byte(strings.TrimPrefix(secret, "whsec_"))
	for _, o := range outputs {
		if bytes.Contains(o, sigValue) || bytes.Contains(o, key) {
			t.Errorf("an API answer shows the signature or the secret: %s", o)
		}
	}
}

// A batch body (maxBatchSize > 1) carries the batch id as webhook-id.
func TestBatchBodyWebhookID(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, nil)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url, "maxBatchSize": 10})
	ids := ts.publish(t, `{"events":[{"type":"a","data":1},{"type":"b","data":2}]}`)
	h := rcv.next(t)
	seen := ts.waitAttempt(t, "the attempt", nil)
	if h.header.Get("webhook-id") != seen.batchID {
		t.Errorf("webhook-id = %q, want the batch id %q", h.header.Get("webhook-id"), seen.batchID)
	}
	var body struct {
		BatchID string `json:"batchId"`
		Events  []struct{ ID string }
	}
	json.Unmarshal(h.body, &body)
	if body.BatchID != seen.batchID || len(body.Events) != 2 || body.Events[0].ID != ids[0] || body.Events[1].ID != ids[1] {
		t.Errorf("body = %s", h.body)
	}
	_, b := ts.get(t, "/v1/webhooks/"+hook+"/batches/"+seen.batchID)
	if b["totalEvents"] != 2.0 {
		t.Errorf("batch = %v", b)
	}
	wantJSONEqual(t, "eventTypes", b["eventTypes"], `["a","b"]`)
	wantJSONEqual(t, "events", b["events"], `[{"id":"`+ids[0]+`","type":"a","data":1},{"id":"`+ids[1]+`","type":"b","data":2}]`)
}

// The filters, paging and 404s of GET .../batches and below.
func TestBatchFilters(t *testing.T) {
	rcv := newReceiver(t, 200, func(body []byte) bool { return bytes.Contains(body, []byte(`"fail":true`)) })
	ts := newDeliveryServer(t, nil, nil)
	// One attempt per batch: a failure expires it at once.
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url, "retry": map[string]any{"schedule": []string{"0s"}}})
	events := []string{
		`{"type":"order.created","data":{"n":1},"refs":{"orderRef":"A1","region":"eu"}}`,
		`{"type":"order.paid","data":{"n":2},"refs":{"orderRef":"A2"}}`,
		`{"type":"order.created","data":{"n":3},"refs":{"orderRef":"A3","region":"eu"}}`,
		`{"type":"order.failed","data":{"fail":true},"refs":{"orderRef":"A4"}}`,
	}
	var bat []string // bat[i] holds events[i]
	for i, e := range events {
		id := ts.publish(t, e)[0]
		seen := ts.waitAttempt(t, fmt.Sprintf("the attempt of event %d", i), nil)
		if len(seen.events) != 1 || seen.events[0] != id {
			t.Fatalf("attempt %d = %+v, want one of event %s", i, seen, id)
		}
		bat = append(bat, seen.batchID)
	}
	if seen := ts.batchIDs(t, hook, "status=expired"); len(seen) != 1 {
		t.Fatalf("expired = %v", seen)
	}
	// The stored times, to the nanosecond.
	stored, _, err := ts.store.ListBatches("default", mustID(t, "wh_", hook), wal.ID{}, 100, nil)
	if err != nil || len(stored) != 4 {
		t.Fatalf("stored batches: %v %v", stored, err)
	}
	created := map[string]time.Time{}
	attempted := map[string]time.Time{}
	for _, b := range stored {
		created[b.ID.Text("bat_")] = b.CreatedAt
		attempted[b.ID.Text("bat_")] = b.LastAttemptAt
	}
	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	ms := func(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }
	// byTime: the batches, newest first, whose creation time passes keep.
	byTime := func(keep func(time.Time) bool) []string {
		out := []string{}
		for i := len(bat) - 1; i >= 0; i-- {
			if keep(created[bat[i]]) {
				out = append(out, bat[i])
			}
		}
		return out
	}
	mid := time.UnixMilli(created[bat[2]].UnixMilli())
	plus2 := time.FixedZone("+02:00", 2*3600)
	all := []string{bat[3], bat[2], bat[1], bat[0]}
	none := []string{}

	tests := []struct {
		q    string
		want []string
	}{
		{"", all},
		{"limit=1000", all},
		{"status=delivered", []string{bat[2], bat[1], bat[0]}},
		{"status=expired", []string{bat[3]}},
		{"status=pending", none},
		{"status=cancelled", none},
		{"eventType=order.created", []string{bat[2], bat[0]}},
		{"eventType=order.paid", []string{bat[1]}},
		{"eventType=order.nope", none},
		{"lastAttemptStatus=failed", []string{bat[3]}},
		{"lastAttemptStatus=SUCCEEDED", []string{bat[2], bat[1], bat[0]}},
		{"lastDeliveryAttemptStatus=failed", []string{bat[3]}},
		{"lastAttemptStatus=bogus", none}, // documented: other values match nothing
		{"ref.orderRef=A1", []string{bat[0]}},
		{"ref.region=eu", []string{bat[2], bat[0]}},
		{"ref.region=eu&ref.orderRef=A3", []string{bat[2]}},
		{"ref.region=eu&ref.orderRef=A2", none},
		{"ref.orderRef=nope", none},
		{"ref.nope=A1", none},
		{"status=delivered&eventType=order.created&ref.region=eu", []string{bat[2], bat[0]}},
		{"status=expired&ref.orderRef=A4&lastAttemptStatus=failed&eventType=order.failed", []string{bat[3]}},
		// RFC 3339, exclusive at both ends.
		{"createdAfter=" + rfc(created[bat[1]]), []string{bat[3], bat[2]}},
		{"createdBefore=" + rfc(created[bat[1]]), []string{bat[0]}},
		{"createdAfter=" + rfc(created[bat[0]]) + "&createdBefore=" + rfc(created[bat[3]]), []string{bat[2], bat[1]}},
		{"createdAfter=" + rfc(created[bat[1]].In(plus2)), []string{bat[3], bat[2]}},
		{"createdAfter=2000-01-01T00:00:00Z", all},
		{"createdBefore=2000-01-01T00:00:00Z", none},
		// Unix milliseconds.
		{"createdAfter=" + ms(created[bat[0]].Add(-time.Second)), all},
		{"createdAfter=" + ms(created[bat[3]].Add(time.Second)), none},
		{"createdBefore=" + ms(created[bat[3]].Add(time.Second)), all},
		{"createdBefore=" + ms(created[bat[0]].Add(-time.Second)), none},
		{"createdBefore=" + ms(mid), byTime(func(c time.Time) bool { return c.Before(mid) })},
		{"createdAfter=" + ms(mid), byTime(func(c time.Time) bool { return c.After(mid) })},
		// The last attempt's time.
		{"lastDeliveredAfter=" + rfc(attempted[bat[1]]), []string{bat[3], bat[2]}},
		{"lastDeliveredBefore=" + rfc(attempted[bat[1]]), []string{bat[0]}},
		{"lastDeliveredBefore=" + ms(attempted[bat[3]].Add(time.Second)), all},
	}
	for _, tt := range tests {
		if got := ts.batchIDs(t, hook, tt.q); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("?%s = %v, want %v", tt.q, got, tt.want)
		}
	}

	// limit=1 walks every batch, newest first; a filter pages too.
	walk := func(q string) []string {
		var seen []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			_, m := ts.get(t, "/v1/webhooks/"+hook+"/batches?limit=1"+q+cursor)
			res := m["results"].([]any)
			if len(res) != 1 {
				t.Fatalf("page %d of %q: %v", pages, q, m)
			}
			seen = append(seen, res[0].(map[string]any)["id"].(string))
			next, _ := m["nextCursor"].(string)
			if next == "" {
				return seen
			}
			cursor = "&cursor=" + url.QueryEscape(next)
		}
		t.Fatalf("paging %q does not end", q)
		return nil
	}
	if got := walk(""); !reflect.DeepEqual(got, all) {
		t.Errorf("limit=1 walk = %v, want %v", got, all)
	}
	if got := walk("&eventType=order.created"); !reflect.DeepEqual(got, []string{bat[2], bat[0]}) {
		t.Errorf("filtered walk = %v", got)
	}

	// Bad filter values name the parameter.
	for _, c := range []struct{ q, field string }{
		{"status=bogus", "status"},
		{"status=Delivered", "status"},
		{"createdAfter=yesterday", "createdAfter"},
		{"createdAfter=-5", "createdAfter"},
		{"createdAfter=2026-01-01", "createdAfter"},
		{"createdBefore=2026-13-45T00:00:00Z", "createdBefore"},
		{"lastDeliveredAfter=soon", "lastDeliveredAfter"},
		{"lastDeliveredBefore=1.5", "lastDeliveredBefore"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"cursor=zzz", "cursor"},
		{"cursor=" + hook, "cursor"},
	} {
		m := wantProblem(t, ts.do("GET", "/v1/webhooks/"+hook+"/batches?"+c.q, nil), 400, "validation_failed")
		if m["field"] != c.field {
			t.Errorf("?%s: field = %v, want %s", c.q, m["field"], c.field)
		}
	}

	// Unknown and malformed ids are 404, as is a batch asked for under
	// another webhook and an attempt under another batch.
	other, _ := ts.createHook(t, map[string]any{"url": rcv.url, "events": []string{"never.published"}})
	_, atts := ts.get(t, "/v1/webhooks/"+hook+"/batches/"+bat[0]+"/attempts")
	att0 := atts["results"].([]any)[0].(map[string]any)["id"].(string)
	const ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	for _, p := range []string{
		"/v1/webhooks/wh_nope/batches",
		"/v1/webhooks/wh_" + ulid + "/batches",
		"/v1/webhooks/" + bat[0] + "/batches",
		"/v1/webhooks/wh_" + ulid + "/batches/" + bat[0],
		"/v1/webhooks/" + hook + "/batches/bat_nope",
		"/v1/webhooks/" + hook + "/batches/bat_%00",
		"/v1/webhooks/" + hook + "/batches/" + strings.Repeat("x", 3000),
		"/v1/webhooks/" + hook + "/batches/" + "bat_" + "Z" + bat[0][5:],
		"/v1/webhooks/" + hook + "/batches/bat_" + ulid,
		"/v1/webhooks/" + hook + "/batches/" + att0,
		"/v1/webhooks/" + other + "/batches/" + bat[0],
		"/v1/webhooks/" + hook + "/batches/bat_" + ulid + "/attempts",
		"/v1/webhooks/" + other + "/batches/" + bat[0] + "/attempts",
		"/v1/webhooks/" + hook + "/batches/" + bat[0] + "/attempts/att_nope",
		"/v1/webhooks/" + hook + "/batches/" + bat[0] + "/attempts/att_" + ulid,
		"/v1/webhooks/" + hook + "/batches/" + bat[0] + "/attempts/" + bat[0],
		"/v1/webhooks/" + hook + "/batches/" + bat[1] + "/attempts/" + att0,
		"/v1/webhooks/" + other + "/batches/" + bat[0] + "/attempts/" + att0,
		"/v1/webhooks/" + hook + "/heartbeat/x",
		"/v1/events/evt_" + ulid,
		"/v1/events/evt_nope",
	} {
		wantProblem(t, ts.do("GET", p, nil), 404, "not_found")
	}
	for _, p := range []string{
		"/v1/webhooks/" + hook + "/batches/bat_" + ulid + "/attempts",
		"/v1/webhooks/" + other + "/batches/" + bat[0] + "/attempts",
		"/v1/webhooks/wh_nope/batches/" + bat[0] + "/attempts",
	} {
		wantProblem(t, ts.do("POST", p, nil), 404, "not_found")
	}
	if got := ts.batchIDs(t, other, ""); len(got) != 0 {
		t.Errorf("the other webhook lists %v", got)
	}
	// The attempt list pages too (limit and cursor checked).
	wantProblem(t, ts.do("GET", "/v1/webhooks/"+hook+"/batches/"+bat[0]+"/attempts?limit=0", nil), 400, "validation_failed")
	wantProblem(t, ts.do("GET", "/v1/webhooks/"+hook+"/batches/"+bat[0]+"/attempts?cursor=zzz", nil), 400, "validation_failed")
}

// Another tenant sees none of it: every route is a 404.
func TestBatchesOtherTenant(t *testing.T) {
	rcv := newReceiver(t, 500)
	ts, tok := newJWTDeliveryServer(t)
	acme, beta := tok("acme", RoleAdmin), tok("beta", RoleAdmin)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url, "retry": map[string]any{"schedule": []string{"0s"}}},
		"Authorization", acme)
	ev := ts.publish(t, `{"type":"a","data":1}`, "Authorization", acme)[0]
	seen := ts.waitAttempt(t, "the attempt", nil)
	if seen.batchStatus != wal.BatchExpired {
		t.Fatalf("attempt = %+v", seen)
	}
	base := "/v1/webhooks/" + hook + "/batches"
	batch, att := seen.batchID, seen.attemptID
	// The owner sees it all.
	for _, p := range []string{base, base + "/" + batch, base + "/" + batch + "/attempts",
		base + "/" + batch + "/attempts/" + att, "/v1/events/" + ev, "/v1/webhooks/" + hook + "/heartbeat?probe=false"} {
		if r := ts.do("GET", p, nil, "Authorization", acme); r.status != 200 {
			t.Errorf("owner GET %s = %d %s", p, r.status, r.body)
		}
	}
	// The other tenant gets 404 everywhere.
	for _, c := range []struct{ method, path, body string }{
		{"GET", base, ""},
		{"GET", base + "?status=expired", ""},
		{"GET", base + "/" + batch, ""},
		{"GET", base + "/" + batch + "/attempts", ""},
		{"GET", base + "/" + batch + "/attempts/" + att, ""},
		{"POST", base + "/" + batch + "/attempts", ""},
		{"GET", "/v1/events/" + ev, ""},
		{"GET", "/v1/webhooks/" + hook + "/heartbeat", ""},
		{"POST", "/v1/webhooks/" + hook + ":ping", ""},
		{"POST", "/v1/webhooks:sendexpired", `{"webhookId":"` + hook + `"}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		wantProblem(t, ts.do(c.method, c.path, body, "Authorization", beta), 404, "not_found")
	}
	// Nor does beta's sendexpired touch acme's batch.
	r := ts.do("POST", "/v1/webhooks:sendexpired", nil, "Authorization", beta)
	if r.status != 202 || string(r.body) != `{"scheduled":0}` {
		t.Errorf("beta sendexpired = %d %s", r.status, r.body)
	}
	if b, _ := ts.store.GetBatch("acme", mustID(t, "wh_", hook), mustID(t, "bat_", batch)); b == nil || b.Status != wal.BatchExpired {
		t.Errorf("acme's batch after beta's sendexpired: %+v", b)
	}
	// Roles: read may list but not replay or send expired.
	read := tok("acme", RoleRead)
	if r := ts.do("GET", base, nil, "Authorization", read); r.status != 200 {
		t.Errorf("read list = %d", r.status)
	}
	wantProblem(t, ts.do("POST", base+"/"+batch+"/attempts", nil, "Authorization", read), 403, "forbidden")
	wantProblem(t, ts.do("POST", "/v1/webhooks:sendexpired", nil, "Authorization", read), 403, "forbidden")
	wantProblem(t, ts.do("GET", base, nil, "Authorization", tok("acme", RolePublish)), 403, "forbidden")
}

// A page of batches ends early, with a cursor to the rest, once its
// batches list maxListEvents events (at least one batch a page): a page
// of 1,000 batches of 1,000 events each would be a million of them.
// Walking the cursors still gives every batch once.
func TestBatchPageBoundedByEvents(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, nil)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url + "/hook", "maxBatchSize": 1})
	const n = 10
	for i := range n {
		ts.publish(t, fmt.Sprintf(`{"type":"a.b","data":{"n":%d}}`, i))
		rcv.next(t)
	}
	defer func(e, c int) { maxListEvents, listChunk = e, c }(maxListEvents, listChunk)
	maxListEvents, listChunk = 3, 2 // pages of 3 one-event batches, read two at a time
	var sizes []int
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 2*n; pages++ {
		_, m := ts.get(t, "/v1/webhooks/"+hook+"/batches?limit=100"+cursor)
		res := m["results"].([]any)
		sizes = append(sizes, len(res))
		for _, b := range res {
			seen[b.(map[string]any)["id"].(string)] = true
		}
		next, _ := m["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + url.QueryEscape(next)
	}
	if !reflect.DeepEqual(sizes, []int{3, 3, 3, 1}) || len(seen) != n {
		t.Errorf("pages of %v batches, %d distinct, want [3 3 3 1] and %d", sizes, len(seen), n)
	}
	maxListEvents = 0 // a batch alone is over: still one a page
	if _, m := ts.get(t, "/v1/webhooks/"+hook+"/batches?limit=100"); len(m["results"].([]any)) != 1 || m["nextCursor"] == nil {
		t.Errorf("over the bound from the first batch: %v, want one batch and a cursor", m)
	}
}
