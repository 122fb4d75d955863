package api

import (
	"encoding/json"
	"strings"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"hookd/engine"
	"hookd/wal"
)

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
	err = ts.store.EachOpenBatch(wal.Part{}, func(b *wal.Batch) error {
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
