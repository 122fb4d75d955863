package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"hookd/wal"
)

func FuzzDecodeEvents(f *testing.F) {
	seeds := []struct{ media, body string }{
		{"application/json", `{"type":"order.created","data":{"n":1},"id":"k1","refs":{"orderRef":"A1"}}`},
		{"application/json", `{"events":[{"type":"a","data":1},{"type":"101","data":null}]}`},
		{"application/x-ndjson", "{\"type\":\"a\",\"data\":[1]}\n{\"type\":\"b\",\"data\":\"x\"}\n"},
		{"application/json", `{"type":"a","data":1,"events":[]}`},
		{"application/x-ndjson", "\n\n{"},
		{"application/json", `{"events":null,"type":"a","data":{}}`},
	}
	for _, s := range seeds {
		f.Add(s.media, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, media string, body []byte) {
		evs, err := decodeEvents(media, body, 1024)
		if err != nil {
			e := toError(err)
			if e.Status < 400 || e.Status >= 500 {
				t.Fatalf("bad input mapped to %d: %v", e.Status, err)
			}
			return
		}
		if len(evs) == 0 || len(evs) > maxEventsPerRequest {
			t.Fatalf("%d events accepted", len(evs))
		}
		for _, e := range evs {
			if !validType(e.Type) || e.Data == nil || len(e.Data) > 1024 || len(e.Refs) > 16 {
				t.Fatalf("invalid event accepted: %+v", e)
			}
		}
	})
}

func TestDecodeEventsLimits(t *testing.T) {
	line := "{\"type\":\"a\",\"data\":1}\n"
	if _, err := decodeEvents("application/x-ndjson", []byte(strings.Repeat(line, 1000)), 100); err != nil {
		t.Errorf("1000 lines: %v", err)
	}
	if _, err := decodeEvents("application/x-ndjson", []byte(strings.Repeat(line, 1001)), 100); err == nil {
		t.Error("1001 lines accepted")
	}
	many := `{"events":[` + strings.Repeat(`{"type":"a","data":1},`, 1000) + `{"type":"a","data":1}]}`
	if _, err := decodeEvents("application/json", []byte(many), 100); err == nil {
		t.Error("1001 events accepted")
	}
}

func TestJSONDepth(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		body string
		ok   bool
	}{
		{`{"type":"a","data":` + nest(maxJSONDepth-1) + `}`, true},
		{`{"type":"a","data":` + nest(maxJSONDepth) + `}`, false},
		{`{"type":"a","data":"` + strings.Repeat("[", 500) + `"}`, true},     // brackets in a string
		{`{"type":"a","data":"\"` + strings.Repeat("{", 500) + `\\"}`, true}, // escaped quotes
		{`{"events":[{"type":"a","data":` + nest(maxJSONDepth-3) + `}]}`, true},
		{`{"events":[{"type":"a","data":` + nest(maxJSONDepth-2) + `}]}`, false},
	}
	for i, tt := range tests {
		_, err := decodeEvents("application/json", []byte(tt.body), 1<<20)
		if (err == nil) != tt.ok {
			t.Errorf("case %d: err = %v, want ok=%v", i, err, tt.ok)
		}
	}
	if _, err := decodeEvents("application/x-ndjson", []byte(`{"type":"a","data":`+nest(200)+`}`), 1<<20); err == nil {
		t.Error("deep NDJSON line accepted")
	}
}

// FuzzFastBody: whenever the one-pass decoder accepts a body, encoding/json
// accepts it too and decodes the same events.
func FuzzFastBody(f *testing.F) {
	for _, s := range []string{
		`{"type":"order.created","data":{"n":1},"id":"k1"}`,
		`{"events":[{"type":"a","data":1},{"type":"b","data":null,"id":"x"}]}`,
		`{"events":null,"type":"a","data":{"s":"\u00e9\n","a":[1,-2.5e3,true,false,null]}}`,
		`{"events":[]}`,
		` { "type" : "a" , "data" : "x" } `,
		`{"type":"a","data":1,"type":"b"}`,
		`{"Type":"a","data":1}`,
		`{"type":"a\u0062","data":1}`,
		`{"type":"a","data":01}`,
		`{"type":"a","data":"\x"}`,
		`{}`,
		`{"type":"a","data":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1) + `}`,
		`{"type":"a","data":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := fastBody(body)
		if ok && !jsonDepthOK(body, maxJSONDepth) {
			t.Fatalf("fast path accepted a body nested deeper than %d", maxJSONDepth)
		}
		var slow wireBody
		err := json.Unmarshal(body, &slow)
		if ok && err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", err, body)
		}
		if ok && !sameBody(fast, slow) {
			t.Fatalf("fast %+v\nslow %+v\nbody %q", fast, slow, body)
		}
		if ev, ok := fastEvent(body); ok {
			if !jsonDepthOK(body, maxJSONDepth) {
				t.Fatalf("fastEvent accepted a line nested deeper than %d", maxJSONDepth)
			}
			var w wireEvent
			if err := json.Unmarshal(body, &w); err != nil || !sameEvent(ev, w) {
				t.Fatalf("fastEvent %+v, encoding/json %+v (%v)", ev, w, err)
			}
		}
	})
}

func sameEvent(a, b wireEvent) bool {
	return a.Type == b.Type && a.ID == b.ID && (a.Data == nil) == (b.Data == nil) && bytes.Equal(a.Data, b.Data) &&
		len(a.Refs) == 0 && len(b.Refs) == 0
}

func sameBody(a, b wireBody) bool {
	if !sameEvent(a.wireEvent, b.wireEvent) || (a.Events == nil) != (b.Events == nil) {
		return false
	}
	if a.Events == nil {
		return true
	}
	if len(*a.Events) != len(*b.Events) {
		return false
	}
	for i := range *a.Events {
		if !sameEvent((*a.Events)[i], (*b.Events)[i]) {
			return false
		}
	}
	return true
}

func TestFastBodyTakesTheCommonShapes(t *testing.T) {
	for _, body := range []string{
		`{"type":"order.created","data":{"n":1},"id":"k1"}`,
		`{"events":[{"type":"a","data":1},{"type":"a","data":{"x":"\"y\""}}]}`,
	} {
		if _, ok := fastBody([]byte(body)); !ok {
			t.Errorf("fast path refused %s", body)
		}
	}
}

// BenchmarkDecodeEvents decodes a 100-event publish body of ~300-byte
// events, the shape of the ingest benchmarks.
func BenchmarkDecodeEvents(b *testing.B) {
	ev := `{"type":"order.created","data":{"t":1795421700000,"pad":"` + strings.Repeat("x", 240) + `"}}`
	body := []byte(`{"events":[` + strings.Repeat(ev+",", 99) + ev + `]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeEvents("application/json", body, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// The hand-built publish response is byte for byte what json.Marshal
// makes of a publishResponse, for any number of ids.
func TestAppendPublishResponseMatchesMarshal(t *testing.T) {
	for _, n := range []int{0, 1, 3, 100} {
		ids := make([]wal.ID, n)
		want := publishResponse{Accepted: n - n/3, Duplicates: n / 3, IDs: make([]string, n)}
		for i := range ids {
			for j := range ids[i] {
				ids[i][j] = byte(i*131 + j*17 + 255*(j%2))
			}
			want.IDs[i] = ids[i].Text("evt_")
		}
		wb, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got := appendPublishResponse([]byte("x"), want.Accepted, want.Duplicates, ids)
		if !bytes.Equal(got[1:], wb) || got[0] != 'x' {
			t.Errorf("%d ids:\n got %s\nwant x%s", n, got, wb)
		}
	}
}
