package wal

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// The hand-written encoders make exactly json.Marshal's bytes.
func TestRecordJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	g := recordGen{r}
	str, tm, id := g.str, g.time, g.id
	for i := 0; i < 3000; i++ {
		b := g.batch()
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalBatch(b)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("batch:\n got %s (%v)\nwant %s", got, err, want)
		}
		a := &Attempt{WebhookID: id(), Status: str(), Trigger: str(), ScheduledAt: tm(), StartedAt: tm(),
			Duration: time.Duration(r.Int64N(1e10)) * time.Duration(r.IntN(2)), ResponseCode: r.IntN(600) * r.IntN(2),
			ResponseBody: str(), Error: str()}
		if r.IntN(2) == 0 {
			a.RequestHeaders = map[string]string{}
			for n := r.IntN(5); n > 0; n-- {
				a.RequestHeaders[str()] = str()
			}
		}
		want, err = json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err = marshalAttempt(a)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("attempt:\n got %s (%v)\nwant %s", got, err, want)
		}
	}
	// Out-of-range years fail as json.Marshal does.
	bad := &Batch{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := marshalBatch(bad); err == nil {
		t.Error("year 10000 encoded")
	}
}

// recordGen makes random batches and fields, with the strings and times
// that encoders get wrong: escapes, invalid UTF-8, zones, zero times.
type recordGen struct{ r *rand.Rand }

var recordStrs = []string{"", "pending", "retrying", "a<b>&c", "quote\"back\\slash", "tab\tnl\n", "é ü 日本", "\u2028", string([]byte{0xff, 'x'}), "webhook-signature"}

func (g recordGen) str() string { return recordStrs[g.r.IntN(len(recordStrs))] }

func (g recordGen) time() time.Time {
	r := g.r
	switch r.IntN(4) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
	case 2:
		return time.Unix(r.Int64N(4e9), 0).In(time.FixedZone("x", 3600*r.IntN(12)))
	}
	return time.UnixMilli(r.Int64N(4e12)).UTC()
}

func (g recordGen) id() ID {
	var x ID
	if g.r.IntN(3) > 0 {
		for i := range x {
			x[i] = byte(g.r.Uint32())
		}
	}
	return x
}

func (g recordGen) batch() *Batch {
	r := g.r
	b := &Batch{Status: g.str(), Attempts: r.IntN(10) - 1, MaxAttempts: r.IntN(10), CreatedAt: g.time(), NextAttemptAt: g.time(),
		LastAttemptAt: g.time(), LastStatus: g.str(), LastCode: r.IntN(600) * r.IntN(2), DeliveredAt: g.time(), NextAttemptID: g.id(),
		NextTrigger: g.str(), LastAttemptID: g.id(), Version: uint64(r.IntN(3)) << r.IntN(64)}
	if r.IntN(5) > 0 {
		b.Events = []BatchEvent{}
		for n := r.IntN(4); n > 0; n-- {
			b.Events = append(b.Events, BatchEvent{ID: g.id(), Type: g.str()})
		}
	}
	for n := r.IntN(3); n > 0; n-- {
		b.Refs = append(b.Refs, Ref{Name: g.str(), Value: g.str()})
	}
	return b
}

// A size-1 batch as delivered: what the result commit encodes per event.
func BenchmarkMarshalBatch(b *testing.B) {
	now := time.Now()
	bt := &Batch{Status: BatchDelivered, Events: []BatchEvent{{ID: ID{1, 2, 3}, Type: "order.created"}},
		Attempts: 1, MaxAttempts: 10, CreatedAt: now, LastAttemptAt: now, LastStatus: AttemptSucceeded,
		LastCode: 200, LastAttemptID: ID{4, 5, 6}, DeliveredAt: now, Version: 2}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalBatch(bt); err != nil {
			b.Fatal(err)
		}
	}
}

// A size-1 batch's successful attempt, headers as the dispatcher records
// them: what the result commit encodes per event beside the batch.
func BenchmarkMarshalAttempt(b *testing.B) {
	now := time.Now()
	a := &Attempt{WebhookID: ID{1, 2, 3}, Status: AttemptSucceeded, Trigger: "scheduled", ScheduledAt: now,
		StartedAt: now, Duration: 1234567, ResponseCode: 200, ResponseBody: `{"ok":true}`,
		RequestHeaders: map[string]string{"content-type": "application/json", "user-agent": "hookd/1.0",
			"webhook-id": "msg_01JDFX0Q4C5W2Y3Z4A5B6C7D8E", "webhook-timestamp": "1764410000",
			"webhook-signature": "v1,<redacted>"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalAttempt(a); err != nil {
			b.Fatal(err)
		}
	}
}

// appendJSONString makes json.Marshal's bytes for every string: each
// byte alone and between others, and what the fuzzer finds.
func TestAppendJSONString(t *testing.T) {
	for c := range 256 {
		for _, s := range []string{string(rune(c)), string([]byte{byte(c)}), "a" + string([]byte{byte(c)}) + "b<&>\"\\"} {
			checkJSONString(t, s)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range recordStrs {
		f.Add(s)
	}
	f.Add("v1,<redacted> v1,<redacted>")
	f.Fuzz(checkJSONString)
}

func checkJSONString(t *testing.T, s string) {
	want, _ := json.Marshal(s)
	if got := appendJSONString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
		t.Fatalf("%q: got %s, want %s", s, got, want)
	}
}
