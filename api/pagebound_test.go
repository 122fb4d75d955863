package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"hookd/config"
	"hookd/wal"
)

// publishedHook is a delivering server with one webhook of maxBatchSize 1
// that has delivered n events, one batch each.
func publishedHook(t *testing.T, n int) (*deliveryServer, string) {
	t.Helper()
	rcv := newReceiver(t, 200)
	ds := newDeliveryServer(t, nil, nil)
	hook, _ := ds.createHook(t, map[string]any{"url": rcv.url + "/hook", "maxBatchSize": 1})
	for i := range n {
		ds.publish(t, fmt.Sprintf(`{"type":"a.b","data":{"n":%d,"pad":"%s"}}`, i, bytes.Repeat([]byte("x"), 100)))
		rcv.next(t)
	}
	return ds, hook
}

// TestDuckCreekBatchPageBoundedByEvents: an offset page of Duck Creek's
// batch list ends, short of take, before its batches list more than
// maxListEvents events (at least one batch a page); rowCount says how many
// rows came, totalCount stays the whole count, and paging from
// from+rowCount sees every batch once.
func TestDuckCreekBatchPageBoundedByEvents(t *testing.T) {
	const n = 10
	ds, hook := publishedHook(t, n)
	defer func(e, c int) { maxListEvents, listChunk = e, c }(maxListEvents, listChunk)
	maxListEvents, listChunk = 3, 2
	get := func(from int) map[string]any {
		t.Helper()
		r := ds.do("GET", dcBase+"/"+hook+"/batches?take=100&from="+strconv.Itoa(from), nil,
			"x-tenant-id", "default", "x-account-id", "any")
		if r.status != 200 {
			t.Fatalf("from %d: %d %s", from, r.status, r.body)
		}
		return r.json(t)
	}
	var rows []int
	seen := map[string]bool{}
	for from := 0; from < n && len(rows) < 2*n; {
		m := get(from)
		if m["totalCount"] != float64(n) || m["pageSize"] != 100.0 {
			t.Fatalf("from %d: totalCount %v pageSize %v", from, m["totalCount"], m["pageSize"])
		}
		res := dcResults(m)
		if int(m["rowCount"].(float64)) != len(res) {
			t.Fatalf("rowCount %v, %d rows", m["rowCount"], len(res))
		}
		for _, b := range res {
			seen[b["batchId"].(string)] = true
		}
		rows = append(rows, len(res))
		from += len(res)
	}
	if fmt.Sprint(rows) != "[3 3 3 1]" || len(seen) != n {
		t.Errorf("pages of %v rows, %d distinct batches; want [3 3 3 1] and %d", rows, len(seen), n)
	}
	maxListEvents = 0 // one batch alone is over: still one a page
	if m := get(0); len(dcResults(m)) != 1 {
		t.Errorf("over the bound from the first batch: %d rows, want 1", len(dcResults(m)))
	}
}

// TestOcoreDeliveryPayloadsBounded: a page of oCore deliveries carries
// payloads up to ocorePagePayloadBytes, then payload null, and its first
// delivery always carries its own; the page itself is never short.
func TestOcoreDeliveryPayloadsBounded(t *testing.T) {
	const n = 6
	ds, hook := publishedHook(t, n)
	page := func(perPage int) []map[string]any {
		t.Helper()
		r := ds.do("GET", "/api/webhook-endpoints/"+hook+"/deliveries?per_page="+strconv.Itoa(perPage), nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var out []map[string]any
		for _, d := range r.json(t)["deliveries"].([]any) {
			out = append(out, d.(map[string]any))
		}
		return out
	}
	shown := func(ds []map[string]any) (k int) {
		for _, d := range ds {
			if d["payload"] != nil {
				k++
			}
		}
		return k
	}
	if d := page(100); len(d) != n || shown(d) != n {
		t.Fatalf("unbounded: %d deliveries, %d payloads; want %d and %d", len(d), shown(d), n, n)
	}
	defer func(b int) { ocorePagePayloadBytes = b }(ocorePagePayloadBytes)
	ocorePagePayloadBytes = 300 // each payload is ~120 bytes: two fit
	d := page(100)
	if len(d) != n || shown(d) != 2 || d[0]["payload"] == nil || d[1]["payload"] == nil {
		t.Errorf("bounded: %d deliveries, %d payloads (want %d, the first 2)", len(d), shown(d), n)
	}
	ocorePagePayloadBytes = 0
	if d := page(1); len(d) != 1 || shown(d) != 1 {
		t.Errorf("per_page=1 over the bound: %d deliveries, %d payloads; want 1 and 1", len(d), shown(d))
	}
}

// TestWebhookListsBoundedByBytes: every list of webhooks ends early once
// its webhooks pass maxListBytes (at least one a list) and says where the
// rest is: the native nextCursor, a Link header on the seed lists that
// have no paging (oCore's total stays the whole count), Duck Creek's
// rowCount short of take. Following them sees every webhook once.
func TestWebhookListsBoundedByBytes(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Delivery.AllowPrivateDestinations = true })
	const n = 5
	var ids []string
	for i := range n {
		r := ts.do("POST", "/v1/webhooks", fmt.Sprintf(`{"url":"http://127.0.0.1:9/%d"}`, i))
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		ids = append(ids, r.json(t)["id"].(string))
	}
	defer func(b int) { maxListBytes = b }(maxListBytes)
	maxListBytes = 1 // every webhook alone is over: one a list
	hdr := []string{"x-tenant-id", "default", "x-account-id", "any", "X-PM-Code", "default"}

	// The seed lists: follow Link until it is gone.
	for _, c := range []struct {
		path string
		ids  func(r resp) []string
	}{
		{"/webhooks", func(r resp) (out []string) {
			var l []map[string]any
			mustJSON(t, r.body, &l)
			for _, w := range l {
				out = append(out, w["id"].(string))
			}
			return out
		}},
		{"/api/webhook-endpoints", func(r resp) (out []string) {
			m := r.json(t)
			if m["total"] != float64(n) {
				t.Errorf("oCore total %v, want %d", m["total"], n)
			}
			for _, w := range m["endpoints"].([]any) {
				out = append(out, w.(map[string]any)["id"].(string))
			}
			return out
		}},
		{"/api/v1/Webhooks", func(r resp) (out []string) {
			for _, w := range r.json(t)["response"].(map[string]any)["content"].([]any) {
				out = append(out, w.(map[string]any)["webhookId"].(string))
			}
			return out
		}},
	} {
		var got []string
		for path := c.path; path != "" && len(got) <= n; {
			r := ts.do("GET", path, nil, hdr...)
			if r.status/100 != 2 {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
			page := c.ids(r)
			if len(page) != 1 {
				t.Fatalf("%s: %d webhooks, want 1", path, len(page))
			}
			got = append(got, page...)
			path = ""
			if l := r.header.Get("Link"); l != "" {
				if !strings.HasPrefix(l, "<"+c.path+"?cursor=") || !strings.HasSuffix(l, `>; rel="next"`) {
					t.Fatalf("%s: Link %q", c.path, l)
				}
				path = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("%s followed: %v, want %v", c.path, got, ids)
		}
		if r := ts.do("GET", c.path+"?cursor=nope", nil, hdr...); r.status != 400 || !strings.Contains(string(r.body), "validation_failed") {
			t.Errorf("%s?cursor=nope: %d %s", c.path, r.status, r.body) // Thredd's envelope, the others' problem+json
		}
	}

	// Native: nextCursor.
	var got []string
	for cursor := ""; len(got) <= n; {
		m := ts.do("GET", "/v1/webhooks?limit=100"+cursor, nil).json(t)
		for _, w := range m["results"].([]any) {
			got = append(got, w.(map[string]any)["id"].(string))
		}
		next, _ := m["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + url.QueryEscape(next)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("/v1/webhooks followed: %v, want %v", got, ids)
	}

	// Duck Creek: rowCount 1 of take 100, totalCount all.
	r := ts.do("GET", dcBase+"?take=100&from=2", nil, hdr...)
	m := r.json(t)
	if res := dcResults(m); r.status != 200 || len(res) != 1 || m["rowCount"] != 1.0 || m["totalCount"] != float64(n) || res[0]["webhookId"] != ids[2] {
		t.Errorf("Duck Creek page from 2: %d %s", r.status, r.body)
	}
}

// TestWebhookFieldsBounded: custom headers and metadata are bounded in
// total, and a header value takes no control character but tab.
func TestWebhookFieldsBounded(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Delivery.AllowPrivateDestinations = true })
	create := func(extra string) resp {
		return ts.do("POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/h",`+extra+`}`)
	}
	big := strings.Repeat("v", 4000)
	for _, c := range []struct{ body, field string }{
		{`"customHeaders":{"A":"` + big + `","B":"` + big + `","C":"` + big[:300] + `"}`, "customHeaders"},
		{`"customHeaders":{"A":"x\u0001y"}`, "customHeaders.A"},
		{`"customHeaders":{"A":"x\u007fy"}`, "customHeaders.A"},
		{`"metadata":{` + metadataOver() + `}`, "metadata"},
	} {
		if m := wantProblem(t, create(c.body), 400, "validation_failed"); m["field"] != c.field {
			t.Errorf("%.60s: field %v, want %s", c.body, m["field"], c.field)
		}
	}
	if r := create(`"customHeaders":{"A":"` + big + `","B":"` + big + `","C":"a` + "\\t" + `b"}`); r.status != 201 {
		t.Errorf("8,000 bytes of headers with a tab: %d %s", r.status, r.body)
	}
}

// metadataOver is 17 metadata entries of ~1,000 bytes: over 16 KiB.
func metadataOver() string {
	var b strings.Builder
	for i := range 17 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"%s"`, i, strings.Repeat("m", 1000))
	}
	return b.String()
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestRotationKeepsFewSecrets: rotations in quick succession keep the
// newest maxLiveSecrets signing, not every one still in its grace period.
func TestRotationKeepsFewSecrets(t *testing.T) {
	ts := newTestServer(t, func(c *config.Config) { c.Delivery.AllowPrivateDestinations = true })
	r := ts.do("POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/h"}`)
	id := r.json(t)["id"].(string)
	var newest []string
	for range 2 * maxLiveSecrets {
		r := ts.do("POST", "/v1/webhooks/"+id+"/secret:rotate", `{"gracePeriod":"168h"}`)
		if r.status != 200 {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		newest = append([]string{r.json(t)["secret"].(string)}, newest...)
	}
	wid, _ := wal.ParseID("wh_", id)
	w, err := ts.store.GetWebhook("default", wid)
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, s := range w.Secrets {
		live = append(live, s.Value)
	}
	if fmt.Sprint(live) != fmt.Sprint(newest[:maxLiveSecrets]) {
		t.Errorf("live secrets %d, want the newest %d", len(live), maxLiveSecrets)
	}
}
