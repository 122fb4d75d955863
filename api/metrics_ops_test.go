package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"hookd/engine"
	"hookd/engine/clocktest"
	"hookd/wal"
)

// advance moves the fake clock by d once something is scheduled by then
// (the engine schedules a retry just after the attempt the test saw).
func advance(t *testing.T, clk *clocktest.FakeClock, d time.Duration) {
	t.Helper()
	select {
	case <-clk.ScheduledBy(clk.Now().Add(d)):
	case <-time.After(waitFor):
		t.Fatalf("nothing scheduled within %v", d)
	}
	clk.Advance(d)
}

// opsEventBody is an operational event as a subscriber receives it.
type opsEventBody struct {
	ID, Type, Timestamp string
	Data                map[string]any
}

// An operator webhook subscribed to hookd's reserved types receives,
// signed, hookd.webhook.unhealthy when a webhook turns unhealthy,
// hookd.webhook.disabled when failing too long disables it and
// hookd.batch.expired when its batch runs out of attempts; a failing
// subscriber of hookd.batch.expired does not feed itself; tenants cannot
// publish reserved types.
func TestOperationalEvents(t *testing.T) {
	clk := clocktest.New(time.Now())
	ds := newObservedServer(t, nil, func(o *engine.Options) {
		o.Clock = clk
		o.Core.UnhealthyAfter = 2
		o.Core.DisableAfter = 3 * time.Minute
	})
	operator, broken := newReceiver(t, 204), newReceiver(t, 400)
	failing := newReceiver(t, 500)
	opsHook, opsSecret := ds.createHook(t, map[string]any{"url": operator.url + "/ops", "maxBatchSize": 1,
		"events": []string{engine.TypeWebhookUnhealthy, engine.TypeWebhookDisabled, engine.TypeBatchExpired}})
	// A second operator webhook that always fails, with one attempt per batch.
	ds.createHook(t, map[string]any{"url": broken.url, "maxBatchSize": 1, "events": []string{engine.TypeBatchExpired},
		"retry": map[string]any{"schedule": []string{"0s"}}})
	// A catch-all webhook: reserved types do not reach it.
	catchAll := newReceiver(t, 204)
	ds.createHook(t, map[string]any{"url": catchAll.url, "maxBatchSize": 1, "events": []string{"*"}})
	hook, secret := ds.createHook(t, map[string]any{"url": failing.url + "/orders?token=s3cr3t", "maxBatchSize": 1,
		"events": []string{"order.created"}, "retry": map[string]any{"schedule": []string{"0s", "1m", "1m", "1m"}}})

	ds.publish(t, `{"type":"order.created","data":{"card":"4111-1111"}}`)
	catchAll.next(t) // the catch-all's copy of the order
	verify := func(h hit, want string) opsEventBody {
		t.Helper()
		wh, _ := standardwebhooks.NewWebhook(opsSecret)
		if err := wh.Verify(h.body, h.header); err != nil {
			t.Errorf("%s: signature does not verify: %v", want, err)
		}
		var b opsEventBody
		if err := json.Unmarshal(h.body, &b); err != nil || b.Type != want {
			t.Fatalf("operator got %s, want a %s event", h.body, want)
		}
		if strings.Contains(string(h.body), "4111") || strings.Contains(string(h.body), secret) {
			t.Errorf("%s carries the order's payload or the webhook's secret: %s", want, h.body)
		}
		if b.Data["webhookId"] != hook || !strings.HasPrefix(b.Data["url"].(string), failing.url) {
			t.Errorf("%s data = %v, want webhookId %s and its url", want, b.Data, hook)
		}
		return b
	}
	failing.next(t) // attempt 1 at T0: degraded
	advance(t, clk, time.Minute)
	failing.next(t) // attempt 2 at T0+1m: unhealthy (2 in a row)
	un := verify(operator.next(t), engine.TypeWebhookUnhealthy)
	if un.Data["reason"] != "consecutive_failures" || un.Data["consecutiveFailures"] != 2.0 || un.Data["lastStatusCode"] != 500.0 {
		t.Errorf("unhealthy data = %v", un.Data)
	}
	advance(t, clk, time.Minute)
	failing.next(t) // attempt 3 at T0+2m
	advance(t, clk, time.Minute)
	failing.next(t) // attempt 4 at T0+3m: failing for disable_after, and the batch's last attempt
	got := map[string]opsEventBody{}
	for i := 0; i < 2; i++ {
		h := operator.next(t)
		var b opsEventBody
		json.Unmarshal(h.body, &b)
		got[b.Type] = verify(h, b.Type)
	}
	if d := got[engine.TypeWebhookDisabled].Data; d["reason"] != "failing_too_long" || d["consecutiveFailures"] != 4.0 || d["failingSince"] == nil {
		t.Errorf("disabled data = %v", d)
	}
	if d := got[engine.TypeBatchExpired].Data; d["reason"] != "attempts_exhausted" || d["attempts"] != 4.0 ||
		d["lastStatusCode"] != 500.0 || d["events"] != 1.0 || !strings.HasPrefix(d["batchId"].(string), "bat_") {
		t.Errorf("batch expired data = %v", d)
	}
	_, w := ds.get(t, "/v1/webhooks/"+hook)
	if w["isActive"] != false {
		t.Errorf("webhook still active after disable_after: %v", w)
	}
	// The broken operator webhook got the hookd.batch.expired too, failed
	// once and expired that batch: no event about it, so no loop.
	broken.next(t)
	ds.waitAttempt(t, "the broken operator's attempt", func(a attemptSeen) bool { return a.code == 400 })
	ds.quiesce(t) // every attempt's aftermath done, the publisher flushed
	k := ds.eng.Counters()
	idx := func(list []string, v string) int {
		for i, x := range list {
			if x == v {
				return i
			}
		}
		t.Fatalf("%q not in %v", v, list)
		return -1
	}
	pub := idx(engine.OperationalResults[:], "published")
	for typ, want := range map[string]uint64{engine.TypeWebhookUnhealthy: 1, engine.TypeWebhookDisabled: 1, engine.TypeBatchExpired: 1} {
		if got := k.Operational[idx(engine.OperationalTypes[:], typ)][pub]; got != want {
			t.Errorf("%s published %d times, want %d", typ, got, want)
		}
	}
	catchAll.none(t, "catch-all after the operational events")
	operator.none(t, "operator after the three events")
	_ = opsHook

	// Tenants may not publish reserved types, in any form or case.
	for _, body := range []string{`{"type":"hookd.webhook.disabled","data":{}}`,
		`{"events":[{"type":"ok","data":1},{"type":"HOOKD.batch.expired","data":1}]}`} {
		wantProblem(t, ds.do("POST", "/v1/events", body), 422, "validation_failed")
	}
	r := ds.do("POST", "/v1/events", "{\"type\":\"a\",\"data\":1}\n{\"type\":\"hookd.x\",\"data\":1}\n", "Content-Type", "application/x-ndjson")
	if m := wantProblem(t, r, 422, "validation_failed"); m["field"] != "events[1].type" {
		t.Errorf("problem field = %v, want events[1].type", m["field"])
	}
}

// A 410 disables the webhook at once: hookd.webhook.disabled with reason
// gone, and its batch's hookd.batch.expired.
func TestOperationalEventsGone(t *testing.T) {
	ds := newObservedServer(t, nil, nil)
	operator, gone := newReceiver(t, 204), newReceiver(t, 410)
	ds.createHook(t, map[string]any{"url": operator.url, "maxBatchSize": 1,
		"events": []string{engine.TypeWebhookDisabled, engine.TypeBatchExpired}})
	hook, _ := ds.createHook(t, map[string]any{"url": gone.url, "events": []string{"a"}})
	ds.publish(t, `{"type":"a","data":1}`)
	got := map[string]map[string]any{}
	for i := 0; i < 2; i++ {
		var b opsEventBody
		json.Unmarshal(operator.next(t).body, &b)
		got[b.Type] = b.Data
	}
	if d := got[engine.TypeWebhookDisabled]; d["reason"] != "gone" || d["webhookId"] != hook || d["lastStatusCode"] != 410.0 {
		t.Errorf("disabled = %v", d)
	}
	if d := got[engine.TypeBatchExpired]; d["reason"] != "gone" || d["webhookId"] != hook {
		t.Errorf("batch expired = %v", d)
	}
}

// Failed attempts are logged at warn with the ids, status and class, at
// most one line per webhook per 10 s (the next says how many were left
// out), and never with the URL, payload or secret.
func TestFailedAttemptLogsRateLimited(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	clk := clocktest.New(time.Now())
	ds := newObservedServer(t, zap.New(core), func(o *engine.Options) { o.Clock = clk })
	failing := newReceiver(t, 503)
	sched := []string{"0s"}
	for i := 0; i < 11; i++ {
		sched = append(sched, "1s")
	}
	hook, secret := ds.createHook(t, map[string]any{"url": failing.url + "/in?key=urlsecret", "retry": map[string]any{"schedule": sched}})
	ds.publish(t, `{"type":"order.created","data":{"card":"4111-1111"}}`)
	var atts []attemptSeen
	for i := 0; i < 12; i++ { // attempts at 0 s … 11 s
		if i > 0 {
			advance(t, clk, time.Second)
		}
		atts = append(atts, ds.waitAttempt(t, "a failed attempt", nil))
	}
	ds.quiesce(t)
	lines := logs.FilterMessage("delivery attempt failed").All()
	// Lines at 0 s and 10 s; 1–9 s and 11 s left out.
	if len(lines) != 2 {
		t.Fatalf("%d failed-attempt lines, want 2", len(lines))
	}
	for i, l := range lines {
		f := l.ContextMap()
		if l.Level != zapcore.WarnLevel || f["webhookId"] != hook || f["batchId"] != atts[0].batchID || f["status"] != int64(503) ||
			f["class"] != "status" || f["tenant"] != "default" {
			t.Errorf("line %d = %s %v", i, l.Level, f)
		}
		if want := atts[i*10].attemptID; f["attemptId"] != want {
			t.Errorf("line %d attemptId = %v, want %s", i, f["attemptId"], want)
		}
	}
	if f := lines[1].ContextMap(); f["suppressed"] != int64(9) {
		t.Errorf("second line suppressed = %v, want 9", f["suppressed"])
	}
	if got := ds.eng.Counters().FailureLogsSuppressed; got != 10 {
		t.Errorf("suppressed lines counted %d, want 10", got)
	}
	for _, l := range logs.All() {
		s := l.Message
		for k, v := range l.ContextMap() {
			s += " " + k + "=" + toString(v)
		}
		for _, bad := range []string{"urlsecret", "4111", secret, strings.TrimPrefix(secret, "whsec_")} {
			if strings.Contains(s, bad) {
				t.Errorf("log line holds %q: %s", bad, s)
			}
		}
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var _ wal.Observer = NewStoreMetrics()
