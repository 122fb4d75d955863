package wal

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	now := time.UnixMilli(1763885700123).UTC()
	tests := []Event{
		{Type: "a", Data: []byte(`{}`), CreatedAt: now},
		{Type: "order.created", Key: "idem-1", Refs: []Ref{{"orderRef", "A1"}, {"x", ""}}, Data: []byte(`{"n":1}`), CreatedAt: now},
		{Type: "big", Data: append(append([]byte(`"`), bytes.Repeat([]byte("ab"), 5000)...), '"'), CreatedAt: now},
		{Type: "rand", Data: randJSON(4000), CreatedAt: now}, // does not compress
	}
	for _, in := range tests {
		b := encodeEvent(nil, &in)
		var out Event
		if err := decodeEvent(b, &out); err != nil {
			t.Fatalf("%s: decode: %v", in.Type, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("%s: got %+v, want %+v", in.Type, out, in)
		}
		if in.Type == "big" && len(b) > len(in.Data)/4 {
			t.Errorf("big: stored %d bytes for %d, want compressed", len(b), len(in.Data))
		}
	}
}

// encodedEventSize is the length encodeEvent writes, or more when the
// data is stored compressed.
func TestEncodedEventSize(t *testing.T) {
	r := recordGen{rand.New(rand.NewPCG(1, 2))}
	for i := range 3000 {
		long := func() string { return strings.Repeat(r.str(), r.r.IntN(40)) } // lengths past one varint byte
		e := Event{Type: long(), Key: long(), Data: randJSON(r.r.IntN(1 << (i % 15))),
			CreatedAt: time.UnixMilli(r.r.Int64N(1 << (i % 50))).UTC()}
		if i%3 == 0 {
			e.Data = bytes.Repeat([]byte("ab"), r.r.IntN(2000)) // compresses above compressAbove
		}
		for range r.r.IntN(4) {
			e.Refs = append(e.Refs, Ref{long(), r.str()})
		}
		got := len(encodeEvent(nil, &e))
		want := encodedEventSize(e.Type, e.Key, e.Refs, len(e.Data), e.CreatedAt.UnixMilli())
		if got > want || got < want && len(e.Data) <= compressAbove {
			t.Fatalf("event %d (%d bytes of data): encoded %d bytes, encodedEventSize %d", i, len(e.Data), got, want)
		}
	}
}

func randJSON(n int) []byte {
	b := make([]byte, 0, n+2)
	b = append(b, '"')
	x := uint32(2463534242)
	for len(b) < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b = append(b, "abcdefghijklmnopqrstuvwxyz0123456789"[x%36])
	}
	return append(b, '"')
}

func FuzzDecodeEvent(f *testing.F) {
	now := time.UnixMilli(1763885700123)
	f.Add(encodeEvent(nil, &Event{Type: "a", Data: []byte(`{}`), CreatedAt: now}))
	f.Add(encodeEvent(nil, &Event{Type: "t", Key: "k", Refs: []Ref{{"a", "b"}}, Data: []byte(`1`), CreatedAt: now}))
	f.Add(encodeEvent(nil, &Event{Type: "z", Data: bytes.Repeat([]byte("x"), 3000), CreatedAt: now}))
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if err := decodeEvent(b, &e); err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same event.
		var again Event
		if err := decodeEvent(encodeEvent(nil, &e), &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.Type != e.Type || again.Key != e.Key || !bytes.Equal(again.Data, e.Data) || len(again.Refs) != len(e.Refs) {
			t.Fatalf("round trip changed the event")
		}
	})
}
