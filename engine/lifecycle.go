package engine

import (
	"slices"
	"time"

	"hookd/wal"
)

// The batch lifecycle. Every change of a batch's stored record is one
// function here: it takes the batch as stored and what happened (with the
// time passed in), and returns the batch's new state and, where there is
// one, the attempt record to store with it, the way raft's Ready says what
// to persist. The runner (runner.go) and the operations (ops.go) store and
// send what these return and decide nothing themselves; the scenario
// scripts (core_scenario_test.go) drive the same functions.
//
// They do no I/O, read no clock and never modify the batch they are given
// (the result is a copy; its Events and Refs are shared with the input,
// and neither is changed). They read only the core's options, which never
// change, so they are safe without the runner's lock.

// OpenBatch is a new batch of events (in queue order) for webhook w,
// opened at now with the id given: pending, with the webhook's whole
// retry schedule as its budget and its first attempt at schedule[0].
func (c *Core) OpenBatch(now time.Time, id wal.ID, w *wal.Webhook, events []*wal.Event) *wal.Batch {
	sched := c.scheduleFor(w.RetrySchedule)
	b := &wal.Batch{ID: id, WebhookID: w.ID, Tenant: w.Tenant, Status: wal.BatchPending,
		MaxAttempts: len(sched), CreatedAt: now, NextAttemptAt: now.Add(sched[0])}
	var seen map[wal.Ref]struct{} // the refs so far, once there are many
	for _, ev := range events {
		b.Events = append(b.Events, wal.BatchEvent{ID: ev.ID, Type: ev.Type})
		for _, r := range ev.Refs {
			if seen == nil && len(b.Refs) < 16 { // a few: a look through them costs less than a set
				if !slices.Contains(b.Refs, r) {
					b.Refs = append(b.Refs, r)
				}
				continue
			}
			if seen == nil {
				seen = make(map[wal.Ref]struct{}, 2*len(b.Refs))
				for _, h := range b.Refs {
					seen[h] = struct{}{}
				}
			}
			if _, dup := seen[r]; !dup {
				seen[r] = struct{}{}
				b.Refs = append(b.Refs, r)
			}
		}
	}
	return b
}

// Attempted is one attempt of a batch that left (counted), as the runner
// saw it.
type Attempted struct {
	ID      wal.ID // the attempt's id: the action's pre-created one, else a new one
	Trigger string // the action's trigger
	Result  Result
	Verdict Verdict
	Done    time.Time // when its result came
}

// RecordAttempt is the batch after a counted attempt whose verdict the
// core judged as out (Core.Result), and the attempt's record. The attempt
// was scheduled at b.NextAttemptAt.
func (c *Core) RecordAttempt(b *wal.Batch, at Attempted, out Outcome) (*wal.Batch, *wal.Attempt) {
	res := at.Result
	att := &wal.Attempt{ID: at.ID, BatchID: b.ID, WebhookID: b.WebhookID, Tenant: b.Tenant,
		Trigger: at.Trigger, ScheduledAt: b.NextAttemptAt, StartedAt: res.Started, Duration: res.Duration,
		RequestHeaders: res.RequestHeaders, ResponseCode: res.StatusCode, ResponseBody: string(res.Body),
		Status: wal.AttemptFailed}
	if res.Err != nil {
		att.Error = res.Class + ": " + res.Err.Error()
	}
	if at.Verdict.Kind == Done {
		att.Status = wal.AttemptSucceeded
	}
	nb := *b
	nb.Status, nb.Attempts, nb.MaxAttempts = out.Status, out.Attempts, out.MaxAttempts
	nb.NextAttemptAt, nb.LastAttemptAt, nb.LastStatus, nb.LastCode = out.Next, res.Started, att.Status, res.StatusCode
	nb.LastAttemptID = att.ID
	nb.NextAttemptID, nb.NextTrigger = out.NextAttemptID, out.NextTrigger // a replay asked for meanwhile
	if out.Status == wal.BatchDelivered {
		nb.DeliveredAt = at.Done
	}
	return &nb, att
}

// ExpireUnsent is the batch closed as expired without an attempt: none of
// its events is stored any more (their retention ended while it waited),
// so there is nothing to send. A pending manual attempt (trigger and
// attemptID of the action, zero for none) gets its record ended as failed.
func (c *Core) ExpireUnsent(b *wal.Batch, trigger string, attemptID wal.ID) (*wal.Batch, *wal.Attempt) {
	var att *wal.Attempt // a replay's attempt record, "scheduled" until now
	if !attemptID.IsZero() {
		att = &wal.Attempt{ID: attemptID, BatchID: b.ID, WebhookID: b.WebhookID, Tenant: b.Tenant,
			Status: wal.AttemptFailed, Trigger: trigger, ScheduledAt: b.NextAttemptAt,
			Error: "expired: the batch's events are no longer stored (retention); nothing was sent"}
	}
	nb := *b
	nb.Status, nb.NextAttemptAt, nb.NextAttemptID, nb.NextTrigger = wal.BatchExpired, time.Time{}, wal.ID{}, ""
	if att != nil {
		nb.LastAttemptID = att.ID
	}
	return &nb, att
}

// CancelBatch is the batch of a deleted webhook: cancelled, never tried
// again.
func (c *Core) CancelBatch(b *wal.Batch) *wal.Batch {
	nb := *b
	nb.Status, nb.NextAttemptAt = wal.BatchCancelled, time.Time{}
	return &nb
}

// ReplayBatch is the batch with one more attempt now, whatever its status,
// and that attempt's record (with the id given), "scheduled" until it is
// made. A batch that was final gets a budget of exactly this one attempt;
// an open one keeps its budget and just goes now.
func (c *Core) ReplayBatch(now time.Time, b *wal.Batch, attemptID wal.ID) (*wal.Batch, *wal.Attempt) {
	att := &wal.Attempt{ID: attemptID, BatchID: b.ID, WebhookID: b.WebhookID, Tenant: b.Tenant,
		Status: wal.AttemptScheduled, Trigger: wal.TriggerManual, ScheduledAt: now}
	nb := *b
	if !nb.Open() {
		nb.Status, nb.MaxAttempts = wal.BatchRetrying, nb.Attempts+1
	}
	nb.NextAttemptAt, nb.NextAttemptID, nb.NextTrigger = now, att.ID, wal.TriggerManual
	return &nb, att
}

// SendExpiredBatch is an expired batch given a fresh budget (its
// webhook's whole schedule, own or the core's) that starts now: its next
// attempt is at schedule[0] from now.
func (c *Core) SendExpiredBatch(now time.Time, b *wal.Batch, schedule []time.Duration) *wal.Batch {
	sched := c.scheduleFor(schedule)
	nb := *b
	nb.Status, nb.MaxAttempts = wal.BatchRetrying, nb.Attempts+len(sched)
	nb.NextAttemptAt, nb.NextTrigger, nb.NextAttemptID = now.Add(sched[0]), wal.TriggerSendExpired, wal.ID{}
	return &nb
}

// stateOf is what the core tracks of a stored open batch (at start, or
// after a replay or sendexpired); a batch without a next attempt time is
// due at now.
func stateOf(b *wal.Batch, now time.Time) BatchState {
	next := b.NextAttemptAt
	if next.IsZero() {
		next = now
	}
	st := BatchState{ID: b.ID, Hook: b.WebhookID, Attempts: b.Attempts, MaxAttempts: b.MaxAttempts,
		NextAttemptAt: next, Trigger: b.NextTrigger, AttemptID: b.NextAttemptID, Events: len(b.Events), Version: b.Version}
	if len(b.Events) > 0 {
		st.Oldest = b.Events[0].ID.Time()
	}
	return st
}
