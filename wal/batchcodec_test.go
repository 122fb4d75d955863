package wal

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// utcTimes returns b with its times in UTC: the compact form keeps the
// instant, not the zone (the API prints every time in UTC).
func utcTimes(b Batch) Batch {
	for _, t := range []*time.Time{&b.CreatedAt, &b.NextAttemptAt, &b.LastAttemptAt, &b.DeliveredAt} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	return b
}

// An open batch reads back from its compact record exactly as from its
// JSON one; an ended batch, or one the compact form cannot hold, is
// stored as JSON.
func TestBatchCodec(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	g := recordGen{r}
	compact := 0
	for i := 0; i < 5000; i++ {
		b := g.batch()
		if r.IntN(4) > 0 {
			b.Status = []string{BatchPending, BatchRetrying}[r.IntN(2)]
		}
		if r.IntN(10) == 0 {
			b.CreatedAt = time.Date(1500+r.IntN(1000), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		v, err := encodeBatch(b)
		js, jerr := marshalBatch(b)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("encodeBatch: %v, marshalBatch: %v", err, jerr)
		}
		if err != nil {
			continue
		}
		y := b.CreatedAt.Year()
		fits := b.Open() && len(b.Events) > 0 && y >= 1679 && y <= 2261
		for _, tm := range []time.Time{b.NextAttemptAt, b.LastAttemptAt, b.DeliveredAt} {
			if y := tm.Year(); !tm.IsZero() && (y < 1679 || y > 2261) {
				fits = false
			}
		}
		if got := v[0] == batchCodec; got != fits {
			t.Fatalf("batch %+v stored compact: %v, want %v", b, got, fits)
		}
		if fits {
			compact++
		}
		var fromJSON, got Batch
		if err := unmarshalBatch(js, &fromJSON); err != nil {
			t.Fatal(err)
		}
		if err := unmarshalBatch(v, &got); err != nil {
			t.Fatalf("%x: %v", v, err)
		}
		// Through JSON once more, as the API prints it: JSON stores
		// invalid UTF-8 as U+FFFD, the compact form keeps the bytes.
		printed, err := marshalBatch(&got)
		if err != nil {
			t.Fatal(err)
		}
		var again Batch
		if err := unmarshalBatch(printed, &again); err != nil {
			t.Fatal(err)
		}
		if want := utcTimes(fromJSON); !reflect.DeepEqual(utcTimes(again), want) {
			t.Fatalf("read back\n got %+v\nwant %+v", again, want)
		}
	}
	if compact < 1000 {
		t.Fatalf("only %d of 5000 batches took the compact form", compact)
	}
}

// What a size-1 batch costs the LSM tree while it waits: the point of the
// compact form is to stay well under the 128-byte value threshold.
func TestBatchCodecSize(t *testing.T) {
	now := time.Now()
	b := &Batch{Status: BatchPending, Events: []BatchEvent{{ID: ID{1, 2, 3}, Type: "order.created"}},
		MaxAttempts: 10, CreatedAt: now, NextAttemptAt: now, Version: 1}
	v, err := encodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := marshalBatch(b)
	t.Logf("pending size-1 record: %d bytes compact, %d as JSON", len(v), len(js))
	if len(v) > 64 {
		t.Fatalf("pending record is %d bytes", len(v))
	}
	b.Status, b.Attempts, b.LastStatus, b.LastCode, b.LastAttemptID, b.LastAttemptAt =
		BatchRetrying, 3, AttemptFailed, 503, ID{4}, now
	if v, _ = encodeBatch(b); len(v) > 96 || v[0] != batchCodec {
		t.Fatalf("retrying record: %d bytes, form %q", len(v), v[0])
	}
}

// unmarshalBatch never panics on a damaged record, and what it reads from
// a compact one encodes and reads back the same.
func FuzzDecodeBatch(f *testing.F) {
	g := recordGen{rand.New(rand.NewPCG(5, 6))}
	for i := 0; i < 20; i++ {
		b := g.batch()
		b.Status = BatchRetrying
		b.CreatedAt = time.Unix(1.8e9, int64(i))
		if v, err := encodeBatch(b); err == nil {
			f.Add(v)
		}
	}
	f.Add([]byte{batchCodec})
	f.Add([]byte{batchCodec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte(`{"status":"pending"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		var b Batch
		if unmarshalBatch(v, &b) != nil || v[0] != batchCodec {
			return
		}
		again, ok := compactBatch(&b)
		if !ok {
			return // a time outside the range the encoder accepts
		}
		var b2 Batch
		if err := unmarshalBatch(again, &b2); err != nil {
			t.Fatalf("re-encoded %x does not read: %v", again, err)
		}
		if !reflect.DeepEqual(b, b2) {
			t.Fatalf("read back\n got %+v\nwant %+v", b2, b)
		}
	})
}

// Reading the record a result replaces: compact against JSON.
func BenchmarkDecodeBatch(b *testing.B) {
	now := time.Now()
	bt := &Batch{Status: BatchPending, Events: []BatchEvent{{ID: ID{1, 2, 3}, Type: "order.created"}},
		MaxAttempts: 10, CreatedAt: now, NextAttemptAt: now, Version: 1}
	v, _ := encodeBatch(bt)
	js, _ := marshalBatch(bt)
	for _, c := range []struct {
		name string
		v    []byte
	}{{"compact", v}, {"json", js}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var x Batch
				if err := unmarshalBatch(c.v, &x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A store written before the compact forms: an open batch's JSON record
// and a single event's bitmap queue record are read after a restart, and
// the batch's next write checks the version its JSON record holds.
func TestRecordsFromBeforeCompactForms(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	w := createHook(t, s, 1)
	res, err := s.Append("acme", []EventInput{ev("t", "", `1`), ev("t", "", `2`)})
	if err != nil {
		t.Fatal(err)
	}
	e := res.IDs
	created := time.Date(2026, 11, 29, 9, 0, 0, 123456789, time.UTC)
	b := &Batch{ID: s.NewID(), WebhookID: w.ID, Tenant: "acme", Status: BatchPending, MaxAttempts: 5,
		Events: []BatchEvent{{ID: e[0], Type: "t"}}, CreatedAt: created, NextAttemptAt: created}
	if err := s.OpenBatches(fence(s), w.ID, Cursor{}, at(e[0]), b); err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		k := batchKey("acme", w.ID, b.ID)
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		if v, _ := item.ValueCopy(nil); len(v) == 0 || v[0] != batchCodec {
			t.Errorf("open record stored as %q, want the compact form", v)
		}
		old := *b
		old.Version = 1
		js, err := marshalBatch(&old)
		if err != nil {
			return err
		}
		if err := txn.Set(k, js); err != nil {
			return err
		}
		// e1's queue record as a bitmap of one, as written before.
		bm := []byte{queueBitmap}
		bm = append(append(bm, e[1][:]...), 1, 1)
		return txn.Set(queueKey(w.ID, e[1]), bm)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTest(t, dir)
	var got []*Batch
	if err := s.EachOpenBatch(Part{}, func(b *Batch) error { got = append(got, b); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != b.ID || got[0].Version != 1 || !got[0].CreatedAt.Equal(created) || got[0].Events[0].ID != e[0] {
		t.Fatalf("open batches after restart = %+v", got)
	}
	if q, err := s.PeekQueue(w.ID, at(e[0]), 10); err != nil || !slices.Equal(eventsOf(q), e[1:]) {
		t.Fatalf("queue after e0 = %v (%v), want [e1]", eventsOf(q), err)
	}
	stale := *got[0]
	stale.Version = 0
	if err := s.SaveBatch(fence(s), &stale, nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("save at version 0 over a JSON record at 1 = %v, want ErrConflict", err)
	}
	got[0].Status, got[0].Attempts = BatchDelivered, 1
	if err := s.SaveBatch(fence(s), got[0], nil); err != nil {
		t.Fatal(err)
	}
	if d, err := s.GetBatch("acme", w.ID, b.ID); err != nil || d.Status != BatchDelivered || d.Version != 2 {
		t.Fatalf("after the result: %+v, %v", d, err)
	}
}

// Writing the record an open commit stores: compact against JSON.
func BenchmarkEncodeOpenBatch(b *testing.B) {
	now := time.Now()
	bt := &Batch{Status: BatchPending, Events: []BatchEvent{{ID: ID{1, 2, 3}, Type: "order.created"}},
		MaxAttempts: 10, CreatedAt: now, NextAttemptAt: now, Version: 1}
	for _, c := range []struct {
		name string
		enc  func(*Batch) ([]byte, error)
	}{{"compact", encodeBatch}, {"json", marshalBatch}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.enc(bt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
