package api

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
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
