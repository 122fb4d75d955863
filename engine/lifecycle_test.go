package engine

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"hookd/wal"
)

// The lifecycle functions return the batch's next state and leave the
// batch they are given as it was.
func TestLifecycleTransitions(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCore(CoreOptions{Schedule: []time.Duration{time.Second, time.Minute, time.Hour}})
	w := &wal.Webhook{ID: wal.ID{1}, Tenant: "acme"}
	evs := []*wal.Event{{ID: wal.ID{2}, Type: "a", Refs: []wal.Ref{{Name: "order", Value: "1"}}},
		{ID: wal.ID{3}, Type: "b", Refs: []wal.Ref{{Name: "order", Value: "1"}}}}
	b := c.OpenBatch(now, wal.ID{9}, w, evs)
	want := &wal.Batch{ID: wal.ID{9}, WebhookID: w.ID, Tenant: "acme", Status: wal.BatchPending, MaxAttempts: 3,
		CreatedAt: now, NextAttemptAt: now.Add(time.Second),
		Events: []wal.BatchEvent{{ID: wal.ID{2}, Type: "a"}, {ID: wal.ID{3}, Type: "b"}},
		Refs:   []wal.Ref{{Name: "order", Value: "1"}}}
	if !reflect.DeepEqual(b, want) {
		t.Fatalf("OpenBatch = %+v; want %+v", b, want)
	}
	if own := c.OpenBatch(now, wal.ID{9}, &wal.Webhook{RetrySchedule: []time.Duration{0}}, nil); own.MaxAttempts != 1 || !own.NextAttemptAt.Equal(now) {
		t.Errorf("OpenBatch with the webhook's own schedule: max %d, next %v", own.MaxAttempts, own.NextAttemptAt)
	}
	before := *b
	unchanged := func(what string) {
		t.Helper()
		if !reflect.DeepEqual(*b, before) {
			t.Fatalf("%s changed the batch it was given: %+v", what, *b)
		}
	}

	done := now.Add(2 * time.Second)
	res := Result{StatusCode: 500, Body: []byte("boom"), Started: now.Add(time.Second), Duration: time.Second}
	nb, att := c.RecordAttempt(b, Attempted{ID: wal.ID{7}, Trigger: wal.TriggerAuto, Result: res, Verdict: Verdict{Kind: Retry}, Done: done},
		Outcome{Counted: true, Status: wal.BatchRetrying, Attempts: 1, MaxAttempts: 3, Next: done.Add(time.Minute)})
	unchanged("RecordAttempt")
	if nb.Status != wal.BatchRetrying || nb.Attempts != 1 || !nb.NextAttemptAt.Equal(done.Add(time.Minute)) ||
		nb.LastCode != 500 || nb.LastStatus != wal.AttemptFailed || !nb.LastAttemptAt.Equal(res.Started) || !nb.DeliveredAt.IsZero() ||
		nb.LastAttemptID != (wal.ID{7}) {
		t.Errorf("RecordAttempt batch = %+v", nb)
	}
	if att.ID != (wal.ID{7}) || att.Status != wal.AttemptFailed || !att.ScheduledAt.Equal(b.NextAttemptAt) ||
		att.ResponseBody != "boom" || att.Trigger != wal.TriggerAuto || att.Error != "" {
		t.Errorf("RecordAttempt attempt = %+v", att)
	}
	res = Result{Err: errors.New("refused"), Class: ClassConnRefused, Started: now}
	_, att = c.RecordAttempt(b, Attempted{ID: wal.ID{8}, Result: res, Verdict: Verdict{Kind: Retry}, Done: done},
		Outcome{Counted: true, Status: wal.BatchExpired, Attempts: 3, MaxAttempts: 3})
	if att.Error != ClassConnRefused+": refused" {
		t.Errorf("RecordAttempt error = %q", att.Error)
	}
	nb, att = c.RecordAttempt(b, Attempted{ID: wal.ID{7}, Result: Result{StatusCode: 200}, Verdict: Verdict{Kind: Done}, Done: done},
		Outcome{Counted: true, Status: wal.BatchDelivered, Attempts: 1, MaxAttempts: 3})
	if nb.Status != wal.BatchDelivered || !nb.DeliveredAt.Equal(done) || att.Status != wal.AttemptSucceeded {
		t.Errorf("RecordAttempt delivered = %+v, %+v", nb, att)
	}

	nb, att = c.ReplayBatch(now, b, wal.ID{5})
	unchanged("ReplayBatch")
	if nb.Status != wal.BatchPending || nb.MaxAttempts != 3 || !nb.NextAttemptAt.Equal(now) || nb.NextAttemptID != att.ID ||
		nb.NextTrigger != wal.TriggerManual || att.Status != wal.AttemptScheduled || att.ID != (wal.ID{5}) {
		t.Errorf("ReplayBatch of an open batch = %+v, %+v; want its budget kept, now", nb, att)
	}
	closed := *b
	closed.Status, closed.Attempts = wal.BatchDelivered, 2
	if nb, _ = c.ReplayBatch(now, &closed, wal.ID{5}); nb.Status != wal.BatchRetrying || nb.MaxAttempts != 3 {
		t.Errorf("ReplayBatch of a final batch = %+v; want retrying with exactly one more attempt", nb)
	}

	closed.Status = wal.BatchExpired
	nb = c.SendExpiredBatch(now, &closed, nil)
	if nb.Status != wal.BatchRetrying || nb.MaxAttempts != 5 || !nb.NextAttemptAt.Equal(now.Add(time.Second)) ||
		nb.NextTrigger != wal.TriggerSendExpired || closed.Status != wal.BatchExpired {
		t.Errorf("SendExpiredBatch = %+v; want a fresh budget of 3 from now", nb)
	}

	nb, att = c.ExpireUnsent(b, wal.TriggerManual, wal.ID{5})
	unchanged("ExpireUnsent")
	if nb.Status != wal.BatchExpired || !nb.NextAttemptAt.IsZero() || att == nil || att.Status != wal.AttemptFailed ||
		!att.ScheduledAt.Equal(b.NextAttemptAt) {
		t.Errorf("ExpireUnsent = %+v, %+v", nb, att)
	}
	if _, att = c.ExpireUnsent(b, wal.TriggerAuto, wal.ID{}); att != nil {
		t.Errorf("ExpireUnsent without a pending manual attempt: %+v; want no record", att)
	}
	if nb = c.CancelBatch(b); nb.Status != wal.BatchCancelled || !nb.NextAttemptAt.IsZero() {
		t.Errorf("CancelBatch = %+v", nb)
	}
	unchanged("CancelBatch")
}

// OpenBatch gathers its events' refs once each, in the order they first
// appear, past the few it looks through and into the set beyond.
func TestOpenBatchMergesRefs(t *testing.T) {
	c := NewCore(CoreOptions{})
	w := &wal.Webhook{ID: wal.ID{1}, Tenant: "acme", MaxBatchSize: 100}
	var evs []*wal.Event
	var want []wal.Ref
	shared := wal.Ref{Name: "customerRef", Value: "C1"}
	for i := range 40 {
		own := wal.Ref{Name: "orderRef", Value: fmt.Sprint(i)}
		evs = append(evs, &wal.Event{ID: wal.ID{byte(i + 1)}, Type: "t", Refs: []wal.Ref{shared, own, shared}})
		if i == 0 {
			want = append(want, shared)
		}
		want = append(want, own)
	}
	b := c.OpenBatch(time.Unix(0, 0), wal.ID{9}, w, evs)
	if !reflect.DeepEqual(b.Refs, want) {
		t.Errorf("refs = %v\nwant %v", b.Refs, want)
	}
}
