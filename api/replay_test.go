package api

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"hookd/engine"
	"hookd/wal"
)

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
