package storetest

import (
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
	// Webhooks returns copies of every webhook of every tenant, in ID
	// order (the engine's start).
	Webhooks() []*wal.Webhook

	// --- Queues (fan-out entries of one webhook, in event ID order) ---

	// OnQueued registers the one fan-out listener (a later call replaces
	// it). After an append's entries are committed, fn is told how many
	// each webhook got. fn must not block or call into the store and must
	// not keep the map. (Badger: fn runs on the committer goroutine before
	// Append returns.)
	OnQueued(fn func(counts map[wal.ID]int))
	// PeekQueue returns up to max event IDs queued for webhook, ascending,
	// after the consumed ones and after `after` (zero: from the cursor).
	// It consumes nothing. max <= 0 returns nothing.
	PeekQueue(webhook, after wal.ID, max int) ([]wal.ID, error)
	// QueueDepth counts the entries PeekQueue(webhook, zero, ∞) would give.
	QueueDepth(webhook wal.ID) (int, error)
	// DropQueue consumes up to max entries without a batch (a deleted
	// webhook's), durable, and says how many.
	DropQueue(webhook wal.ID, max int) (int, error)
	// OpenBatches stores new batches (given in queue order) and moves
	// webhook's cursor past their events and past drop (entries consumed
	// without a batch: events no longer stored), in one durable write.
	// prev is the cursor the entries were read after: when it is not zero
	// and the cursor is not prev, nothing is written and the error is
	// ErrStale (read the queue again from the cursor). prev zero is not
	// checked. The caller may change the batches afterwards.
	OpenBatches(webhook, prev wal.ID, drop []wal.ID, bs ...*wal.Batch) error

	// --- Batches, attempts, health ---

	// NewID returns a fresh time-ordered ID for batches and attempts.
	NewID() wal.ID
	// SaveBatch stores the batch's state and, when a is not nil, the
	// attempt, in one durable write. Open batches (pending, retrying) are
	// visited by EachOpenBatch; others are not, and expire with retention.
	// The caller may change b and a afterwards.
	SaveBatch(b *wal.Batch, a *wal.Attempt) error
	// SaveResult is SaveBatch plus the webhook's health when h is not nil,
	// in one write, but lazy: visible to reads on return, durable with the
	// next durable write or Close; a process crash loses none, a power cut
	// may lose the last ones (their batches are sent again).
	SaveResult(b *wal.Batch, a *wal.Attempt, h *wal.HookHealth) error
	// Health returns a webhook's stored health; false when none is stored.
	Health(webhook wal.ID) (wal.HookHealth, bool, error)
	// GetBatch returns the caller's copy of one batch of a webhook of
	// tenant, or ErrNotFound.
	GetBatch(tenant string, webhook, id wal.ID) (*wal.Batch, error)
	// ListBatches pages a webhook's batches newest first, after the batch
	// `after` (zero: from the newest), skipping those keep refuses (nil:
	// keep all), up to limit, and says whether more may follow. Another
	// tenant's webhook has none.
	ListBatches(tenant string, webhook, after wal.ID, limit int, keep func(*wal.Batch) bool) ([]*wal.Batch, bool, error)
	// EachOpenBatch calls fn with every open batch of every webhook (the
	// engine's start); fn's error stops it and is returned.
	EachOpenBatch(fn func(*wal.Batch) error) error
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
