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
	strs := []string{"", "pending", "a<b>&c", "quote\"back\\slash", "tab\tnl\n", "é ü 日本", "\u2028", string([]byte{0xff, 'x'}), "webhook-signature"}
	str := func() string { return strs[r.IntN(len(strs))] }
	tm := func() time.Time {
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
	id := func() ID {
		var x ID
		if r.IntN(3) > 0 {
			for i := range x {
				x[i] = byte(r.Uint32())
			}
		}
		return x
	}
	for i := 0; i < 3000; i++ {
		b := &Batch{Status: str(), Attempts: r.IntN(10) - 1, MaxAttempts: r.IntN(10), CreatedAt: tm(), NextAttemptAt: tm(),
			LastAttemptAt: tm(), LastStatus: str(), LastCode: r.IntN(600) * r.IntN(2), DeliveredAt: tm(), NextAttemptID: id(), NextTrigger: str(), LastAttemptID: id()}
		if r.IntN(5) > 0 {
			b.Events = []BatchEvent{}
			for n := r.IntN(4); n > 0; n-- {
				b.Events = append(b.Events, BatchEvent{ID: id(), Type: str()})
			}
		}
		for n := r.IntN(3); n > 0; n-- {
			b.Refs = append(b.Refs, Ref{Name: str(), Value: str()})
		}
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
