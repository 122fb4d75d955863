package storetest

import (
	"context"

	"hookd/engine"
	"hookd/wal"
)

// Store is the store boundary the suite checks: engine.Store (what the
// engine consumes) plus what the API needs of a store. Each method's
// comment is its contract; the package doc says what the words mean
// (durable, lazy, the caller's copy, fail-stop).
type Store interface {
	// --- Events ---

	// Append stores evs for tenant, all or nothing, and returns once they
	// are durable. In the same write it records the events' fan-out (one
	// queue entry per event for each active webhook of tenant whose filter
	// matches, wal.Webhook.Matches) and every event type tenant did not
	// have. An input whose idempotency key tenant already used (within
	// retention, or earlier in the same request) is not stored again: its
	// result is the original event's ID with Duplicate set, and it fans out
	// to nobody. IDs of newly stored events increase in input order and
	// across calls (queue order is ID order). The store may keep Data and
	// Refs (to serve them from memory): the caller must not change them
	// afterwards.
	Append(tenant string, evs []wal.EventInput) (wal.AppendResult, error)
	// GetEvent returns one event of tenant, or ErrNotFound (another
	// tenant's event is not found either). See GetEvents for ownership.
	GetEvent(tenant string, id wal.ID) (*wal.Event, error)
	// GetEvents returns tenant's events in the order of ids; an event not
	// stored (never, another tenant's, or its retention ended) is a nil
	// entry, not an error. The slice and the Event structs are the
	// caller's; Data and Refs may share memory with the store: read-only.
	GetEvents(tenant string, ids []wal.ID) ([]*wal.Event, error)
	// EventByKey returns the ID of tenant's event appended with
	// idempotency key key, or ErrNotFound.
	EventByKey(tenant, key string) (wal.ID, error)
	// EventDeliveries lists, for an event of tenant, one Delivery per
	// webhook whose batch carries it (its status), plus the webhooks whose
	// queue still holds it (status "queued"), in no particular order.
	EventDeliveries(tenant string, id wal.ID) ([]wal.Delivery, error)

	// --- Event types ---

	// HasEventType reports whether tenant has typ (appended or created).
	HasEventType(tenant, typ string) bool
	// CreateEventType registers a type (durable); ErrConflict when tenant
	// has it already. The result carries the stored CreatedAt.
	CreateEventType(tenant string, t wal.EventType) (wal.EventType, error)
	// DeleteEventType removes one (durable); ErrNotFound when unknown.
	DeleteEventType(tenant, name string) error
	// ListEventTypes pages tenant's types in name order after `after`
	// ("" from the start), up to limit, and says whether more follow.
	ListEventTypes(tenant, after string, limit int) ([]wal.EventType, bool, error)

	// --- Webhooks ---

	// NewWebhookID returns a fresh ID for CreateWebhook.
	NewWebhookID() wal.ID
	// CreateWebhook stores w (ID and Tenant set by the caller), durable on
	// return; events appended after it returns fan out to it when active.
	// ErrConflict when the ID exists. The caller may change w afterwards.
	CreateWebhook(w *wal.Webhook) error
	// CreateWebhookUpTo is CreateWebhook refusing with ErrLimit when
	// tenant already has max webhooks (concurrent creates included).
	CreateWebhookUpTo(w *wal.Webhook, max int) error
	// GetWebhook returns the caller's copy of one webhook of tenant, or
	// ErrNotFound.
	GetWebhook(tenant string, id wal.ID) (*wal.Webhook, error)
	// ListWebhooks pages tenant's webhooks in ID order after `after`
	// (zero: from the start): copies, and whether more follow.
	ListWebhooks(tenant string, after wal.ID, limit int) ([]*wal.Webhook, bool, error)
	// UpdateWebhook applies fn to a copy of the stored webhook and stores
	// the result (durable) unless fn fails; fn's error is returned as is
	// and nothing changes. ID and Tenant cannot change. Reactivating a
	// webhook (IsActive false → true) forgets its stored health.
	// ErrNotFound for another tenant's or a missing webhook. The result is
	// the caller's copy.
	UpdateWebhook(tenant string, id wal.ID, fn func(*wal.Webhook) error) (*wal.Webhook, error)
	// DeleteWebhook removes a webhook and its health (durable); events
	// appended after it returns do not fan out to it. Its batches and
	// attempts stay until their retention ends. ErrNotFound as Get.
	DeleteWebhook(tenant string, id wal.ID) error
	// CountWebhooks returns how many webhooks tenant has.
	CountWebhooks(tenant string) int

	// --- Partitions: who delivers what ---

	// Claims hands out the partitions this node is to deliver, each a
	// wal.Claim: the Part, the Fence every delivery write of its webhooks
	// carries, and Lost, closed when the claim is taken back (nil:
	// never). The claims held when Claims is called are in the channel
	// when it returns; later ones follow; it closes when ctx ends. (Badger:
	// one partition, Part{}, handed out at once and never lost.)
	Claims(ctx context.Context) <-chan wal.Claim
	// PartOf names the partition of a webhook; it never changes.
	PartOf(tenant string, webhook wal.ID) wal.Part
	// LoadPart returns the caller's copies of a partition's webhooks, in
	// ID order, and the stored health of those that have one.
	LoadPart(p wal.Part) (wal.PartState, error)
	// EachOpenBatch calls fn with every open batch of partition p, each
	// with its Version (the engine's start); fn's error stops it and is
	// returned.
	EachOpenBatch(p wal.Part, fn func(*wal.Batch) error) error

	// --- Queues (fan-out entries of one webhook, in event ID order) ---

	// OnQueued registers fn for partition p's fan-out: after an append's
	// entries are committed, fn is told how many each webhook of p got,
	// until stop is called. fn must not block or call into the store and
	// must not keep the map; the store calls it holding none of its locks.
	// (Badger: one listener, run on the committer goroutine before Append
	// returns.)
	OnQueued(p wal.Part, fn func(counts map[wal.ID]int)) (stop func())
	// Cursor returns webhook's stored cursor: the place after the last
	// entry consumed (the zero Cursor: none), where an OpenBatches starts.
	Cursor(webhook wal.ID) (wal.Cursor, error)
	// PeekQueue returns up to max entries queued for webhook, in order,
	// after the cursor `after` and never one already consumed (zero: from
	// the stored cursor); each with At, the cursor consuming up to it
	// leaves. Cursors are opaque: compare them only for equality. It
	// consumes nothing. max <= 0 returns nothing.
	PeekQueue(webhook wal.ID, after wal.Cursor, max int) ([]wal.Queued, error)
	// QueueDepth counts the entries PeekQueue(webhook, zero, ∞) would give.
	QueueDepth(webhook wal.ID) (int, error)
	// OpenBatches stores new batches (given in queue order, of version 0,
	// each holding entries in (from, to]) at version 1 and moves webhook's
	// cursor from `from` to `to` in one durable write: every entry up to
	// `to` is consumed, batched or not (events no longer stored; no
	// batches at all: a deleted webhook's queue). When the stored cursor
	// is not `from` (the zero cursor included), nothing is written and the
	// error is ErrConflict (read the cursor and the queue again). On
	// success each batch's Version is 1; the caller may change the batches
	// afterwards. f is the claim's fence (ErrFenced when not held).
	OpenBatches(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error
	// OpenBatchesLazy is OpenBatches, lazy as SaveResult: visible to reads
	// on return, durable with the next durable write or Close; a process
	// crash loses none, a power cut may lose the last ones (their entries
	// are consumed again). The engine uses it for batches of one event,
	// whose webhook-id (the event's id) does not change with the batch.
	OpenBatchesLazy(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error

	// --- Batches, attempts, health ---

	// NewID returns a fresh time-ordered ID for batches and attempts.
	NewID() wal.ID
	// SaveBatch stores the batch's state and, when a is not nil, the
	// attempt, in one durable write. Open batches (pending, retrying) are
	// visited by EachOpenBatch; others are not, and expire with retention.
	// Versioned: b.Version must be the stored version (as read, or as the
	// last write left it; 0 for a batch never stored), or nothing is
	// written and the error is ErrConflict; the batch is stored at
	// b.Version+1 and, on success, b.Version is set to that. The caller
	// may change b and a afterwards. f is the claim's fence (ErrFenced).
	SaveBatch(f wal.Fence, b *wal.Batch, a *wal.Attempt) error
	// SaveResult is SaveBatch plus the webhook's health when h is not nil,
	// in one write, but lazy: visible to reads on return, durable with the
	// next durable write or Close; a process crash loses none, a power cut
	// may lose the last ones (their batches are sent again).
	SaveResult(f wal.Fence, b *wal.Batch, a *wal.Attempt, h *wal.HookHealth) error
	// Health returns a webhook's stored health; false when none is stored.
	Health(webhook wal.ID) (wal.HookHealth, bool, error)
	// GetBatch returns the caller's copy of one batch of a webhook of
	// tenant, with its Version, or ErrNotFound.
	GetBatch(tenant string, webhook, id wal.ID) (*wal.Batch, error)
	// ListBatches pages a webhook's batches newest first, after the batch
	// `after` (zero: from the newest), skipping those keep refuses (nil:
	// keep all), up to limit, and says whether more may follow. Another
	// tenant's webhook has none.
	ListBatches(tenant string, webhook, after wal.ID, limit int, keep func(*wal.Batch) bool) ([]*wal.Batch, bool, error)
	// GetAttempt returns one attempt of a batch of tenant, or ErrNotFound.
	GetAttempt(tenant string, batch, id wal.ID) (*wal.Attempt, error)
	// ListAttempts pages a batch's attempts oldest first after `after`.
	ListAttempts(tenant string, batch, after wal.ID, limit int) ([]*wal.Attempt, bool, error)

	// --- Lifecycle ---

	// Err is the sticky failure (a *wal.FailedError), nil while healthy.
	Err() error
	// Ready is nil when the store accepts writes: ErrClosed after Close,
	// the sticky failure after one, a space error below the reserve.
	Ready() error
	// Close commits what is queued, makes lazy writes durable and releases
	// the state so it can be opened again. A second Close returns nil.
	Close() error
}

// The engine's view is part of the suite's: a change to engine.Store
// fails to compile here until the suite (and its contract) follow.
var _ engine.Store = Store(nil)
