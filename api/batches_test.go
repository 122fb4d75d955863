package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"hookd/config"
	"hookd/engine"
	"hookd/wal"
)

// These tests deliver for real: a local receiver (httptest, 127.0.0.1)
// and the server's engine. They never sleep to wait for a result: they
// wait on what the receiver or the engine's OnAttempt hook reports, with
// waitFor only as a guard against a hang.

const waitFor = 10 * time.Second

// hit is one request the receiver got.
type hit struct {
	header http.Header
	body   []byte
}

// receiver answers every request with status (500 instead when failIf
// matches the body) and reports each request on hits before answering.
// While hold is set, answers wait for release.
type receiver struct {
	url    string
	hits   chan hit
	status atomic.Int32
	failIf func(body []byte) bool // nil: never

	hold    atomic.Bool
	release chan struct{}
	once    sync.Once
}

func newReceiver(t *testing.T, status int, failIf ...func(body []byte) bool) *receiver {
	t.Helper()
	r := &receiver{hits: make(chan hit, 1000), release: make(chan struct{})}
	if len(failIf) > 0 {
		r.failIf = failIf[0]
	}
	r.status.Store(int32(status))
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(r.let) // runs first: no handler stays held
	r.url = srv.URL
	return r
}

func (r *receiver) let() { r.once.Do(func() { close(r.release) }) }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	code := int(r.status.Load())
	if r.failIf != nil && r.failIf(body) {
		code = 500
	}
	select {
	case r.hits <- hit{header: req.Header.Clone(), body: body}:
	default:
	}
	if r.hold.Load() {
		<-r.release
	}
	w.WriteHeader(code)
	if code >= 300 {
		io.WriteString(w, "boom")
	}
}

// next returns the next request the receiver got.
func (r *receiver) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-r.hits:
		return h
	case <-time.After(waitFor):
		t.Fatal("timed out waiting for a request at the receiver")
	}
	return hit{}
}

// none checks that no request is waiting to be read.
func (r *receiver) none(t *testing.T, when string) {
	t.Helper()
	select {
	case h := <-r.hits:
		t.Errorf("%s: unexpected request %s", when, h.body)
	default:
	}
}

// attemptSeen is what the engine's OnAttempt hook reported.
type attemptSeen struct {
	batchID, attemptID, batchStatus string
	status, trigger                 string
	code                            int
	events                          []string
}

// deliveryServer is a test server that reports every stored attempt.
type deliveryServer struct {
	*testServer
	attempts chan attemptSeen
}

// newDeliveryServer starts a server that may deliver to 127.0.0.1.
func newDeliveryServer(t *testing.T, mutate func(*config.Config), engineOpts func(*engine.Options)) *deliveryServer {
	t.Helper()
	ch := make(chan attemptSeen, 1000)
	done := make(chan struct{})
	ts := newTestServerWith(t, func(c *config.Config) {
		c.Delivery.AllowPrivateDestinations = true
		if mutate != nil {
			mutate(c)
		}
	}, func(o *engine.Options) {
		o.OnAttempt = func(b *wal.Batch, a *wal.Attempt) {
			s := attemptSeen{batchID: b.ID.Text("bat_"), attemptID: a.ID.Text("att_"), batchStatus: b.Status,
				status: a.Status, trigger: a.Trigger, code: a.ResponseCode}
			for _, e := range b.Events {
				s.events = append(s.events, e.ID.Text("evt_"))
			}
			select {
			case ch <- s:
			case <-done:
			}
		}
		if engineOpts != nil {
			engineOpts(o)
		}
	})
	t.Cleanup(func() { close(done) }) // before the server's cleanup: a blocked hook lets go
	return &deliveryServer{testServer: ts, attempts: ch}
}

// waitAttempt returns the next reported attempt that matches (any when
// match is nil), skipping the others.
func (ds *deliveryServer) waitAttempt(t *testing.T, what string, match func(attemptSeen) bool) attemptSeen {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case a := <-ds.attempts:
			if match == nil || match(a) {
				return a
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// quiesce waits until the engine has finished everything it started (an
// attempt's aftermath such as deactivating the webhook, or the
// cancellation after a DELETE), by closing it. The API keeps answering
// from the store; nothing is delivered afterwards.
func (ds *deliveryServer) quiesce(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := ds.eng.Close(ctx); err != nil {
		t.Fatalf("engine close: %v", err)
	}
}

// createHook creates a webhook and returns its id and secret.
func (ds *deliveryServer) createHook(t *testing.T, body map[string]any, hdr ...string) (string, string) {
	t.Helper()
	r := ds.do("POST", "/v1/webhooks", body, hdr...)
	if r.status != 201 {
		t.Fatalf("create webhook = %d %s", r.status, r.body)
	}
	m := r.json(t)
	return m["id"].(string), m["secret"].(string)
}

// publish posts events and returns their ids.
func (ds *deliveryServer) publish(t *testing.T, body string, hdr ...string) []string {
	t.Helper()
	r := ds.do("POST", "/v1/events", body, hdr...)
	if r.status != 202 {
		t.Fatalf("publish = %d %s", r.status, r.body)
	}
	var out publishResponse
	if err := json.Unmarshal(r.body, &out); err != nil || out.Accepted != len(out.IDs) || out.Accepted == 0 {
		t.Fatalf("publish = %s", r.body)
	}
	return out.IDs
}

// get is a GET that must answer 200 with a JSON object.
func (ds *deliveryServer) get(t *testing.T, path string, hdr ...string) (resp, map[string]any) {
	t.Helper()
	r := ds.do("GET", path, nil, hdr...)
	if r.status != 200 {
		t.Fatalf("GET %s = %d %s", path, r.status, r.body)
	}
	return r, r.json(t)
}

// batchIDs lists a webhook's batches with query q and returns their ids
// (the whole list must fit in one page).
func (ds *deliveryServer) batchIDs(t *testing.T, hook, q string) []string {
	t.Helper()
	_, m := ds.get(t, "/v1/webhooks/"+hook+"/batches?"+q)
	if m["nextCursor"] != nil {
		t.Errorf("?%s: nextCursor = %v, want null", q, m["nextCursor"])
	}
	ids := []string{}
	for _, b := range m["results"].([]any) {
		ids = append(ids, b.(map[string]any)["id"].(string))
	}
	return ids
}

func mustID(t *testing.T, prefix, s string) wal.ID {
	t.Helper()
	id, err := wal.ParseID(prefix, s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return id
}

var apiTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func wantTimestamp(t *testing.T, what string, v any) {
	t.Helper()
	if s, ok := v.(string); !ok || !apiTimestamp.MatchString(s) {
		t.Errorf("%s = %v, want an RFC 3339 UTC timestamp with milliseconds", what, v)
	}
}

func wantJSONEqual(t *testing.T, what string, got any, want string) {
	t.Helper()
	g, _ := json.Marshal(got)
	var a, b any
	json.Unmarshal(g, &a)
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s = %s, want %s", what, g, want)
	}
}

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
	const secret = "0123456789abcdef0123456789abcdef"
	rcv := newReceiver(t, 500)
	ts := newDeliveryServer(t, func(c *config.Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = secret }, nil)
	tok := func(tenant string, roles ...string) string {
		s, err := MintToken(ts.cfg.Auth, tenant, "", roles, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
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

// A failing receiver expires the batch; sendexpired revives it.
func TestSendExpired(t *testing.T) {
	rcv := newReceiver(t, 500)
	ts := newDeliveryServer(t, nil, nil)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url, "retry": map[string]any{"schedule": []string{"0s", "10ms", "10ms"}}})
	ev := ts.publish(t, `{"type":"order.created","data":{"n":1}}`)[0]
	var seen attemptSeen
	for i := 1; i <= 3; i++ {
		rcv.next(t)
		seen = ts.waitAttempt(t, fmt.Sprintf("attempt %d", i), nil)
		want := wal.BatchRetrying
		if i == 3 {
			want = wal.BatchExpired
		}
		if seen.status != wal.AttemptFailed || seen.code != 500 || seen.trigger != wal.TriggerAuto || seen.batchStatus != want {
			t.Fatalf("attempt %d = %+v, want failed with the batch %s", i, seen, want)
		}
	}
	batch := seen.batchID
	base := "/v1/webhooks/" + hook + "/batches/" + batch
	_, b := ts.get(t, base)
	if b["status"] != "expired" || b["attempts"] != 3.0 || b["maxAttempts"] != 3.0 || b["lastAttemptStatus"] != "failed" ||
		b["lastStatusCode"] != 500.0 || b["nextAttemptAt"] != nil || b["deliveredAt"] != nil {
		t.Errorf("expired batch = %v", b)
	}
	wantTimestamp(t, "lastAttemptAt", b["lastAttemptAt"])
	_, atts := ts.get(t, base+"/attempts")
	res := atts["results"].([]any)
	if len(res) != 3 {
		t.Fatalf("attempts = %v", atts)
	}
	var attIDs []string
	for _, x := range res {
		a := x.(map[string]any)
		attIDs = append(attIDs, a["id"].(string))
		if a["status"] != "failed" || a["trigger"] != "auto" || a["responseStatusCode"] != 500.0 || a["responseBody"] != "boom" || a["error"] != nil {
			t.Errorf("attempt = %v", a)
		}
	}
	// Oldest first, and limit=1 pages through them.
	var paged []string
	cursor := ""
	for i := 0; i < 5; i++ {
		_, p := ts.get(t, base+"/attempts?limit=1"+cursor)
		for _, x := range p["results"].([]any) {
			paged = append(paged, x.(map[string]any)["id"].(string))
		}
		next, _ := p["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	if !reflect.DeepEqual(paged, attIDs) {
		t.Errorf("paged attempts = %v, want %v", paged, attIDs)
	}
	if got := ts.batchIDs(t, hook, "status=expired"); !reflect.DeepEqual(got, []string{batch}) {
		t.Errorf("status=expired = %v", got)
	}
	_, e := ts.get(t, "/v1/events/"+ev)
	wantJSONEqual(t, "deliveries", e["deliveries"], `[{"webhookId":"`+hook+`","batchId":"`+batch+`","status":"expired"}]`)
	_, hb := ts.get(t, "/v1/webhooks/"+hook+"/heartbeat?probe=false")
	if hb["healthStatus"] != "degraded" || hb["consecutiveFailures"] != 3.0 || hb["lastSuccessAt"] != nil {
		t.Errorf("heartbeat = %v", hb)
	}
	wantTimestamp(t, "lastFailureAt", hb["lastFailureAt"])

	// Bad requests change nothing.
	const ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	for _, c := range []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`{"webhookId":"wh_` + ulid + `"}`, 404, "not_found", ""},
		{`{"webhookId":"wh_nope"}`, 404, "not_found", ""},
		{`{"webhookId":"` + batch + `"}`, 404, "not_found", ""},
		{`{"batchIds":["nope"]}`, 400, "validation_failed", "batchIds"},
		{`{"batchIds":["` + batch + `","` + hook + `"]}`, 400, "validation_failed", "batchIds"},
		{`{"batchIds":"` + batch + `"}`, 400, "validation_failed", "batchIds"},
		{`{"createdAfter":"yesterday"}`, 400, "validation_failed", "createdAfter"},
		{`{"createdBefore":1700000000000}`, 400, "validation_failed", "createdBefore"},
		{`{"webhookId":`, 400, "invalid_json", ""},
		{`{"batchIds":[` + strings.TrimSuffix(strings.Repeat(`"`+batch+`",`, 1001), ",") + `]}`, 400, "validation_failed", "batchIds"},
	} {
		m := wantProblem(t, ts.do("POST", "/v1/webhooks:sendexpired", c.body), c.status, c.code)
		if c.field != "" && m["field"] != c.field {
			t.Errorf("%s: field = %v, want %s", c.body, m["field"], c.field)
		}
	}
	wantProblem(t, ts.do("POST", "/v1/webhooks:sendexpired", `{}`, "Content-Type", "text/plain"), 415, "unsupported_media_type")
	// Filters that match nothing schedule nothing; the time bounds are
	// exclusive.
	stored, err := ts.store.GetBatch("default", mustID(t, "wh_", hook), mustID(t, "bat_", batch))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"createdAfter":"` + stored.CreatedAt.Format(time.RFC3339Nano) + `"}`,
		`{"createdBefore":"` + stored.CreatedAt.Format(time.RFC3339Nano) + `"}`,
		`{"webhookId":"` + hook + `","batchIds":["bat_` + ulid + `"]}`,
		`{"batchIds":[]}`,
		`{"batchIds":["bat_` + ulid + `"]}`,
		`{"createdAfter":"` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"}`,
		`{"createdBefore":"2000-01-01T00:00:00Z"}`,
	} {
		r := ts.do("POST", "/v1/webhooks:sendexpired", body)
		if r.status != 202 || string(r.body) != `{"scheduled":0}` {
			t.Errorf("%s = %d %s", body, r.status, r.body)
		}
	}
	rcv.none(t, "after sendexpired requests that match nothing")
	if _, b := ts.get(t, base); b["status"] != "expired" {
		t.Fatalf("batch = %v", b)
	}

	// The receiver heals; sendexpired gives the batch a new budget.
	rcv.status.Store(200)
	r := ts.do("POST", "/v1/webhooks:sendexpired", map[string]any{"webhookId": hook, "batchIds": []string{batch},
		"createdAfter": "2000-01-01T00:00:00Z"})
	if r.status != 202 || string(r.body) != `{"scheduled":1}` {
		t.Fatalf("sendexpired = %d %s", r.status, r.body)
	}
	rcv.next(t)
	seen = ts.waitAttempt(t, "the attempt after sendexpired", nil)
	if seen.batchID != batch || seen.status != wal.AttemptSucceeded || seen.trigger != wal.TriggerSendExpired ||
		seen.batchStatus != wal.BatchDelivered {
		t.Fatalf("attempt after sendexpired = %+v", seen)
	}
	_, b = ts.get(t, base)
	if b["status"] != "delivered" || b["attempts"] != 4.0 || b["maxAttempts"] != 6.0 || b["lastAttemptStatus"] != "succeeded" ||
		b["lastStatusCode"] != 200.0 || b["nextAttemptAt"] != nil {
		t.Errorf("revived batch = %v", b)
	}
	wantTimestamp(t, "deliveredAt", b["deliveredAt"])
	_, a := ts.get(t, base+"/attempts/"+seen.attemptID)
	if a["status"] != "succeeded" || a["trigger"] != "sendexpired" || a["responseStatusCode"] != 200.0 {
		t.Errorf("sendexpired attempt = %v", a)
	}
	// Nothing is expired any more.
	if r := ts.do("POST", "/v1/webhooks:sendexpired", nil); r.status != 202 || string(r.body) != `{"scheduled":0}` {
		t.Errorf("second sendexpired = %d %s", r.status, r.body)
	}
}

// Replay delivers a delivered batch again, with the same webhook-id.
func TestReplay(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, func(o *engine.Options) {
		// The receiver holds one answer while the test looks: room for that.
		o.Dispatcher = engine.NewDispatcher(engine.DispatcherOptions{Timeout: waitFor})
	})
	hook, secret := ts.createHook(t, map[string]any{"url": rcv.url, "maxBatchSize": 1})
	ev := ts.publish(t, `{"type":"order.created","data":{"n":1}}`)[0]
	first := rcv.next(t)
	auto := ts.waitAttempt(t, "the first attempt", nil)
	if auto.status != wal.AttemptSucceeded {
		t.Fatalf("first attempt = %+v", auto)
	}
	base := "/v1/webhooks/" + hook + "/batches/" + auto.batchID

	rcv.hold.Store(true)
	r := ts.do("POST", base+"/attempts", nil)
	if r.status != 201 {
		t.Fatalf("replay = %d %s", r.status, r.body)
	}
	m := r.json(t)
	id, _ := m["id"].(string)
	if !strings.HasPrefix(id, "att_") || m["status"] != "scheduled" || len(m) != 2 {
		t.Fatalf("replay = %s", r.body)
	}
	// The receiver has the request and holds its answer: the attempt is
	// still scheduled.
	again := rcv.next(t)
	_, a := ts.get(t, base+"/attempts/"+id)
	if a["status"] != "scheduled" || a["trigger"] != "manual" || a["startedAt"] != nil || a["responseStatusCode"] != nil ||
		a["responseBody"] != nil || a["error"] != nil || a["durationMs"] != 0.0 {
		t.Errorf("scheduled attempt = %v", a)
	}
	wantJSONEqual(t, "scheduled requestHeaders", a["requestHeaders"], `{}`)
	_, b := ts.get(t, base)
	if b["status"] != "retrying" || b["maxAttempts"] != 2.0 || b["attempts"] != 1.0 {
		t.Errorf("batch during the replay = %v", b)
	}
	rcv.let()

	done := ts.waitAttempt(t, "the replay", nil)
	if done.attemptID != id || done.status != wal.AttemptSucceeded || done.trigger != wal.TriggerManual ||
		done.batchStatus != wal.BatchDelivered {
		t.Fatalf("replay attempt = %+v, want %s succeeded manual", done, id)
	}
	if again.header.Get("webhook-id") != first.header.Get("webhook-id") || again.header.Get("webhook-id") != ev {
		t.Errorf("replay webhook-id = %q, first %q", again.header.Get("webhook-id"), first.header.Get("webhook-id"))
	}
	if !bytes.Equal(again.body, first.body) {
		t.Errorf("replay body = %s, first %s", again.body, first.body)
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(again.body, again.header); err != nil {
		t.Errorf("replay signature: %v", err)
	}
	_, a = ts.get(t, base+"/attempts/"+id)
	if a["status"] != "succeeded" || a["trigger"] != "manual" || a["responseStatusCode"] != 200.0 || a["batchId"] != auto.batchID {
		t.Errorf("replay attempt = %v", a)
	}
	_, atts := ts.get(t, base+"/attempts")
	var got []string
	for _, x := range atts["results"].([]any) {
		got = append(got, x.(map[string]any)["id"].(string)+"/"+x.(map[string]any)["trigger"].(string))
	}
	if want := []string{auto.attemptID + "/auto", id + "/manual"}; !reflect.DeepEqual(got, want) {
		t.Errorf("attempts = %v, want %v", got, want)
	}
	_, b = ts.get(t, base)
	if b["status"] != "delivered" || b["attempts"] != 2.0 || b["maxAttempts"] != 2.0 || b["nextAttemptAt"] != nil {
		t.Errorf("batch after the replay = %v", b)
	}
	rcv.none(t, "after the replay")
}

// 410 Gone deactivates the webhook and expires the batch.
func TestGoneDeactivates(t *testing.T) {
	rcv := newReceiver(t, 410)
	ts := newDeliveryServer(t, nil, nil)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url})
	ts.publish(t, `{"type":"a","data":1}`)
	seen := ts.waitAttempt(t, "the attempt", nil)
	if seen.status != wal.AttemptFailed || seen.code != 410 || seen.batchStatus != wal.BatchExpired {
		t.Fatalf("attempt = %+v", seen)
	}
	ts.quiesce(t) // the deactivation follows the attempt's record
	_, w := ts.get(t, "/v1/webhooks/"+hook)
	if w["isActive"] != false || w["healthStatus"] != "disabled" {
		t.Errorf("webhook after 410: isActive %v, healthStatus %v", w["isActive"], w["healthStatus"])
	}
	_, b := ts.get(t, "/v1/webhooks/"+hook+"/batches/"+seen.batchID)
	if b["status"] != "expired" || b["attempts"] != 1.0 || b["lastStatusCode"] != 410.0 || b["lastAttemptStatus"] != "failed" ||
		b["nextAttemptAt"] != nil {
		t.Errorf("batch after 410 = %v", b)
	}
	_, hb := ts.get(t, "/v1/webhooks/"+hook+"/heartbeat?probe=false")
	if hb["healthStatus"] != "disabled" {
		t.Errorf("heartbeat after 410 = %v", hb)
	}
}

// DELETE cancels the open batches and drops what is still queued.
func TestDeleteCancelsBatches(t *testing.T) {
	rcv := newReceiver(t, 500)
	// One attempt in flight and two open batches at most, so that three of
	// the five events stay queued while the two batches wait for a retry.
	ts := newDeliveryServer(t, nil, func(o *engine.Options) { o.Core.MaxInFlight, o.Core.MaxOpen = 1, 2 })
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url, "retry": map[string]any{"schedule": []string{"0s", "1h", "1h"}}})
	ids := ts.publish(t, `{"events":[{"type":"a","data":1},{"type":"a","data":2},{"type":"a","data":3},{"type":"a","data":4},{"type":"a","data":5}]}`)
	open := map[string]bool{}
	for i := 0; i < 2; i++ {
		seen := ts.waitAttempt(t, "a failed attempt", nil)
		if seen.status != wal.AttemptFailed || seen.batchStatus != wal.BatchRetrying {
			t.Fatalf("attempt = %+v", seen)
		}
		open[seen.batchID] = true
	}
	hid := mustID(t, "wh_", hook)
	if n, err := ts.store.QueueDepth(hid); n != 3 || err != nil {
		t.Fatalf("queue depth before delete = %d %v, want 3", n, err)
	}
	if got := ts.batchIDs(t, hook, "status=retrying"); len(got) != 2 {
		t.Fatalf("retrying = %v", got)
	}

	if r := ts.do("DELETE", "/v1/webhooks/"+hook, nil); r.status != 204 {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	ts.quiesce(t) // the cancellation runs after the 204
	wantProblem(t, ts.do("GET", "/v1/webhooks/"+hook+"/batches", nil), 404, "not_found")
	bs, _, err := ts.store.ListBatches("default", hid, wal.ID{}, 100, nil)
	if err != nil || len(bs) != 2 {
		t.Fatalf("stored batches = %d %v", len(bs), err)
	}
	for _, b := range bs {
		if !open[b.ID.Text("bat_")] || b.Status != wal.BatchCancelled || !b.NextAttemptAt.IsZero() || b.Attempts != 1 {
			t.Errorf("batch %s after delete: status %s, next %v, attempts %d", b.ID.Text("bat_"), b.Status, b.NextAttemptAt, b.Attempts)
		}
	}
	if n, err := ts.store.QueueDepth(hid); n != 0 || err != nil {
		t.Errorf("queue depth after delete = %d %v, want 0", n, err)
	}
	err = ts.store.EachOpenBatch(func(b *wal.Batch) error {
		t.Errorf("batch %s is still open (%s)", b.ID.Text("bat_"), b.Status)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// History stays: the first event still shows its cancelled delivery.
	_, e := ts.get(t, "/v1/events/"+ids[0])
	if d := e["deliveries"].([]any); len(d) != 1 || d[0].(map[string]any)["status"] != "cancelled" {
		t.Errorf("deliveries after delete = %v", e["deliveries"])
	}
}

// Ping and heartbeat against a live receiver.
func TestPingAndHeartbeat(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, nil)
	hook, secret := ts.createHook(t, map[string]any{"url": rcv.url + "/hook", "customHeaders": map[string]string{"X-Api-Key": "k1"}})
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	checkPing := func(what string) {
		t.Helper()
		h := rcv.next(t)
		if err := wh.Verify(h.body, h.header); err != nil {
			t.Errorf("%s: signature does not verify: %v", what, err)
		}
		var body struct {
			ID, Type, Timestamp string
			Data                map[string]any
		}
		if err := json.Unmarshal(h.body, &body); err != nil {
			t.Fatalf("%s: body %s", what, h.body)
		}
		if body.Type != "webhook.ping" || !strings.HasPrefix(body.ID, "evt_") || h.header.Get("webhook-id") != body.ID ||
			body.Data["webhookId"] != hook || !apiTimestamp.MatchString(body.Timestamp) {
			t.Errorf("%s: body %s, webhook-id %q", what, h.body, h.header.Get("webhook-id"))
		}
		if h.header.Get("X-Api-Key") != "k1" {
			t.Errorf("%s: custom header = %q", what, h.header.Get("X-Api-Key"))
		}
	}

	r := ts.do("POST", "/v1/webhooks/"+hook+":ping", nil)
	if r.status != 200 {
		t.Fatalf("ping = %d %s", r.status, r.body)
	}
	p := r.json(t)
	if p["success"] != true || p["statusCode"] != 200.0 || p["error"] != nil {
		t.Errorf("ping = %s", r.body)
	}
	if l, ok := p["latencyMs"].(float64); !ok || l < 0 {
		t.Errorf("latencyMs = %v", p["latencyMs"])
	}
	checkPing("ping")

	// probe=false asks the receiver nothing.
	_, hb := ts.get(t, "/v1/webhooks/"+hook+"/heartbeat?probe=false")
	if hb["webhookId"] != hook || hb["healthStatus"] != "healthy" || hb["reachable"] != nil || hb["latencyMs"] != nil ||
		hb["consecutiveFailures"] != 0.0 || hb["lastSuccessAt"] != nil || hb["lastFailureAt"] != nil {
		t.Errorf("heartbeat?probe=false = %v", hb)
	}
	for _, k := range []string{"reachable", "latencyMs", "lastSuccessAt", "lastFailureAt"} {
		if _, ok := hb[k]; !ok {
			t.Errorf("heartbeat lacks %q", k)
		}
	}
	rcv.none(t, "heartbeat?probe=false")

	_, hb = ts.get(t, "/v1/webhooks/"+hook+"/heartbeat")
	if hb["reachable"] != true || hb["healthStatus"] != "healthy" {
		t.Errorf("heartbeat = %v", hb)
	}
	if l, ok := hb["latencyMs"].(float64); !ok || l < 0 {
		t.Errorf("heartbeat latencyMs = %v", hb["latencyMs"])
	}
	checkPing("heartbeat")

	// Pings stay outside the log and the batches.
	if got := ts.batchIDs(t, hook, ""); len(got) != 0 {
		t.Errorf("batches after pings = %v", got)
	}
	select {
	case a := <-ts.attempts:
		t.Errorf("a ping made an attempt: %+v", a)
	default:
	}

	// A failing receiver: the ping reports it; the health does not change.
	rcv.status.Store(500)
	r = ts.do("POST", "/v1/webhooks/"+hook+":ping", nil)
	p = r.json(t)
	if r.status != 200 || p["success"] != false || p["statusCode"] != 500.0 || p["error"] == nil {
		t.Errorf("failing ping = %d %s", r.status, r.body)
	}
	rcv.next(t)
	_, hb = ts.get(t, "/v1/webhooks/"+hook+"/heartbeat")
	if hb["reachable"] != false || hb["healthStatus"] != "healthy" || hb["consecutiveFailures"] != 0.0 {
		t.Errorf("heartbeat against a failing receiver = %v", hb)
	}
	rcv.next(t)

	const ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	for _, id := range []string{"wh_" + ulid, "wh_nope", "nope"} {
		wantProblem(t, ts.do("GET", "/v1/webhooks/"+id+"/heartbeat", nil), 404, "not_found")
		wantProblem(t, ts.do("POST", "/v1/webhooks/"+id+":ping", nil), 404, "not_found")
	}
	wantProblem(t, ts.do("POST", "/v1/webhooks/"+hook+":nope", nil), 404, "not_found")
	rcv.none(t, "after the 404s")
}

// A replay asked for while the batch's first attempt is in flight goes
// after it, even though that attempt succeeds.
func TestReplayInFlight(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts := newDeliveryServer(t, nil, func(o *engine.Options) {
		o.Dispatcher = engine.NewDispatcher(engine.DispatcherOptions{Timeout: waitFor})
	})
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url})
	rcv.hold.Store(true)
	ev := ts.publish(t, `{"type":"a","data":1}`)[0]
	first := rcv.next(t) // held: the attempt is in flight

	_, list := ts.get(t, "/v1/webhooks/"+hook+"/batches")
	res := list["results"].([]any)
	if len(res) != 1 {
		t.Fatalf("list = %v", list)
	}
	b := res[0].(map[string]any)
	batch, _ := b["id"].(string)
	if b["status"] != "pending" || b["attempts"] != 0.0 || b["lastAttemptAt"] != nil || b["lastAttemptStatus"] != nil ||
		b["lastStatusCode"] != nil || b["deliveredAt"] != nil {
		t.Errorf("pending batch = %v", b)
	}
	wantTimestamp(t, "pending nextAttemptAt", b["nextAttemptAt"])
	_, e := ts.get(t, "/v1/events/"+ev)
	wantJSONEqual(t, "deliveries", e["deliveries"], `[{"webhookId":"`+hook+`","batchId":"`+batch+`","status":"pending"}]`)

	r := ts.do("POST", "/v1/webhooks/"+hook+"/batches/"+batch+"/attempts", nil)
	if r.status != 201 {
		t.Fatalf("replay = %d %s", r.status, r.body)
	}
	id, _ := r.json(t)["id"].(string)
	rcv.hold.Store(false)
	rcv.let()

	a1 := ts.waitAttempt(t, "the first attempt", nil)
	if a1.batchID != batch || a1.trigger != wal.TriggerAuto || a1.status != wal.AttemptSucceeded || a1.batchStatus != wal.BatchRetrying {
		t.Errorf("first attempt = %+v, want succeeded with the batch still retrying for the replay", a1)
	}
	second := rcv.next(t)
	a2 := ts.waitAttempt(t, "the replay", nil)
	if a2.attemptID != id || a2.trigger != wal.TriggerManual || a2.status != wal.AttemptSucceeded || a2.batchStatus != wal.BatchDelivered {
		t.Errorf("replay = %+v, want %s manual succeeded, batch delivered", a2, id)
	}
	if second.header.Get("webhook-id") != first.header.Get("webhook-id") {
		t.Errorf("webhook-id %q, then %q", first.header.Get("webhook-id"), second.header.Get("webhook-id"))
	}
	_, b = ts.get(t, "/v1/webhooks/"+hook+"/batches/"+batch)
	if b["status"] != "delivered" || b["attempts"] != 2.0 || b["maxAttempts"] != 8.0 || b["nextAttemptAt"] != nil {
		t.Errorf("batch = %v", b)
	}
	rcv.none(t, "after the replay")
}

// A replay of an open batch keeps its budget; of a final one, it allows
// exactly one more attempt.
func TestReplayBudget(t *testing.T) {
	rcv := newReceiver(t, 500)
	ts := newDeliveryServer(t, nil, nil)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url, "retry": map[string]any{"schedule": []string{"0s", "1h", "1h"}}})
	ts.publish(t, `{"type":"a","data":1}`)
	rcv.next(t)
	a := ts.waitAttempt(t, "the first attempt", nil)
	if a.status != wal.AttemptFailed || a.batchStatus != wal.BatchRetrying {
		t.Fatalf("first attempt = %+v", a)
	}
	base := "/v1/webhooks/" + hook + "/batches/" + a.batchID
	replay := func(want, batchStatus string) {
		t.Helper()
		r := ts.do("POST", base+"/attempts", nil)
		if r.status != 201 {
			t.Fatalf("replay = %d %s", r.status, r.body)
		}
		id, _ := r.json(t)["id"].(string)
		rcv.next(t)
		got := ts.waitAttempt(t, "the replay", nil)
		if got.attemptID != id || got.status != want || got.trigger != wal.TriggerManual || got.batchStatus != batchStatus {
			t.Fatalf("replay = %+v, want %s %s, batch %s", got, id, want, batchStatus)
		}
	}
	check := func(status string, attempts, maxAttempts float64, next bool) {
		t.Helper()
		_, b := ts.get(t, base)
		if b["status"] != status || b["attempts"] != attempts || b["maxAttempts"] != maxAttempts || (b["nextAttemptAt"] != nil) != next {
			t.Errorf("batch = %v, want %s, %v of %v attempts, nextAttemptAt set %v", b, status, attempts, maxAttempts, next)
		}
	}
	replay(wal.AttemptFailed, wal.BatchRetrying) // open: the budget stays 3
	check("retrying", 2, 3, true)
	rcv.status.Store(200)
	replay(wal.AttemptSucceeded, wal.BatchDelivered)
	check("delivered", 3, 3, false)
	rcv.status.Store(500)
	replay(wal.AttemptFailed, wal.BatchExpired) // final: one more attempt, then expired
	check("expired", 4, 4, false)
	rcv.none(t, "after the replays")
}

// httpStatus sends a bodyless request from any goroutine (ts.do may only
// be used from the test's) and returns the status, 0 on a transport error.
func httpStatus(method, u string) int {
	req, _ := http.NewRequest(method, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// gate holds a store call until released.
type gate struct{ entered, release chan struct{} }

func newGate() *gate { return &gate{entered: make(chan struct{}, 1), release: make(chan struct{})} }

func (g *gate) wait() {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
}

func waitGate(t *testing.T, g *gate, what string) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// gatedStore is the engine's store with calls that can be held, to put a
// race's steps in a chosen order.
type gatedStore struct {
	*wal.Store
	open      atomic.Pointer[gate] // holds OpenBatches
	scheduled atomic.Pointer[gate] // holds SaveBatch of a scheduled (replay) attempt
	drained   chan struct{}        // DropQueue found the queue empty
}

func (s *gatedStore) OpenBatches(webhook, prev wal.ID, drop []wal.ID, bs ...*wal.Batch) error {
	if g := s.open.Load(); g != nil {
		g.wait()
	}
	return s.Store.OpenBatches(webhook, prev, drop, bs...)
}

func (s *gatedStore) SaveBatch(b *wal.Batch, a *wal.Attempt) error {
	if g := s.scheduled.Load(); g != nil && a != nil && a.Status == wal.AttemptScheduled {
		g.wait()
	}
	return s.Store.SaveBatch(b, a)
}

func (s *gatedStore) DropQueue(webhook wal.ID, max int) (int, error) {
	n, err := s.Store.DropQueue(webhook, max)
	if n == 0 || err != nil {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
	return n, err
}

func newGatedServer(t *testing.T) (*deliveryServer, *gatedStore) {
	gs := &gatedStore{drained: make(chan struct{}, 1)}
	ts := newDeliveryServer(t, nil, func(o *engine.Options) {
		gs.Store = o.Store.(*wal.Store)
		o.Store = gs
		o.Dispatcher = engine.NewDispatcher(engine.DispatcherOptions{Timeout: waitFor})
	})
	return ts, gs
}

// A DELETE that lands while the engine is opening a batch for the webhook
// must leave no open batch behind.
func TestDeleteWhileOpening(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts, gs := newGatedServer(t)
	g := newGate()
	gs.open.Store(g)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url})
	ev := ts.publish(t, `{"type":"a","data":1}`)[0]
	waitGate(t, g, "the engine to open a batch") // it has read the queue and the webhook
	deleted := make(chan int, 1)
	go func() { deleted <- httpStatus("DELETE", ts.url+"/v1/webhooks/"+hook) }()
	// The race: the delete's cleanup is done before the open commits. An
	// implementation that makes one wait for the other is fine too: the
	// bound below only ends the wait for a step that will not come.
	select {
	case <-gs.drained:
	case <-time.After(2 * time.Second):
	}
	close(g.release)
	if code := <-deleted; code != 204 {
		t.Fatalf("delete = %d", code)
	}
	ts.quiesce(t)
	rcv.none(t, "after the delete")

	hid := mustID(t, "wh_", hook)
	bs, _, err := ts.store.ListBatches("default", hid, wal.ID{}, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Open() {
			t.Errorf("batch %s of the deleted webhook is %s, want cancelled", b.ID.Text("bat_"), b.Status)
		}
	}
	ts.store.EachOpenBatch(func(b *wal.Batch) error {
		t.Errorf("batch %s of the deleted webhook stays in the open index (%s)", b.ID.Text("bat_"), b.Status)
		return nil
	})
	_, e := ts.get(t, "/v1/events/"+ev)
	for _, d := range e["deliveries"].([]any) {
		if s := d.(map[string]any)["status"]; s == "pending" || s == "retrying" {
			t.Errorf("event delivery stays %v after the webhook was deleted", s)
		}
	}
}

// A replay asked for just as the batch's attempt completes must not undo
// that attempt's record on the batch.
func TestReplayRacesAttempt(t *testing.T) {
	rcv := newReceiver(t, 200)
	ts, gs := newGatedServer(t)
	hook, _ := ts.createHook(t, map[string]any{"url": rcv.url})
	rcv.hold.Store(true)
	ts.publish(t, `{"type":"a","data":1}`)
	rcv.next(t) // the first attempt is in flight
	batch := ts.batchIDs(t, hook, "")[0]

	g := newGate()
	gs.scheduled.Store(g)
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	replayed := make(chan int, 1)
	go func() { replayed <- httpStatus("POST", ts.url+"/v1/webhooks/"+hook+"/batches/"+batch+"/attempts") }()
	waitGate(t, g, "the replay to store its attempt") // it has read the batch
	rcv.hold.Store(false)
	rcv.let()
	// The race: the first attempt is recorded while the replay waits. An
	// implementation that makes one wait for the other is fine too: the
	// bound below only ends the wait for a step that will not come.
	var seen []attemptSeen
	select {
	case a := <-ts.attempts:
		seen = append(seen, a)
	case <-time.After(2 * time.Second):
	}
	close(g.release)
	if code := <-replayed; code != 201 {
		t.Fatalf("replay = %d", code)
	}
	rcv.next(t)
	for len(seen) < 2 {
		seen = append(seen, ts.waitAttempt(t, "the attempts", nil))
	}
	for _, a := range seen {
		if a.status != wal.AttemptSucceeded {
			t.Errorf("attempt = %+v", a)
		}
	}
	if seen[1].trigger != wal.TriggerManual {
		t.Errorf("second attempt = %+v, want the replay", seen[1])
	}
	_, atts := ts.get(t, "/v1/webhooks/"+hook+"/batches/"+batch+"/attempts")
	n := len(atts["results"].([]any))
	_, b := ts.get(t, "/v1/webhooks/"+hook+"/batches/"+batch)
	if b["status"] != "delivered" || b["attempts"] != float64(n) || n != 2 {
		t.Errorf("batch = %v, with %d attempts listed", b, n)
	}
}
