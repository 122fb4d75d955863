package engine

import (
	"context"

	"hookd/wal"
)

// Store is what the engine needs of the durable store; *wal.Store
// implements it. Each method's full contract (what is durable on return,
// who owns what, what each error means) is engine/storetest's, whose
// conformance suite every implementation runs; here, in short:
//
// Work arrives by partition: Claims hands out the partitions this node
// delivers, each with a Fence that every delivery write carries
// (ErrFenced once the claim is lost) and a Lost channel; LoadPart and
// EachOpenBatch give a claimed partition's state, OnQueued its fan-out
// notifications. Queues are read with opaque cursors (PeekQueue) and
// consumed only by OpenBatches, which checks that the stored cursor is
// where the read began (ErrConflict) and moves it in the same write as
// the batches it stores. Batch writes are versioned: SaveBatch and
// SaveResult fail with ErrConflict when the stored version moved.
type Store interface {
	// Claims hands out partitions to deliver; the channel closes when ctx
	// ends. Claims available at once are in the channel when it returns.
	Claims(ctx context.Context) <-chan wal.Claim
	// PartOf names the partition a webhook belongs to.
	PartOf(tenant string, webhook wal.ID) wal.Part
	// LoadPart returns a claimed partition's webhooks and their health.
	LoadPart(p wal.Part) (wal.PartState, error)
	// EachOpenBatch streams a partition's open batches (with versions).
	EachOpenBatch(p wal.Part, fn func(*wal.Batch) error) error
	// OnQueued tells fn, after each append, how many entries each webhook
	// of p got, until stop; fn must only hand the counts on (inbox.go).
	OnQueued(p wal.Part, fn func(counts map[wal.ID]int)) (stop func())
	UpdateWebhook(tenant string, id wal.ID, fn func(*wal.Webhook) error) (*wal.Webhook, error)

	// Cursor is a webhook's stored queue cursor (where an open starts).
	Cursor(webhook wal.ID) (wal.Cursor, error)
	// PeekQueue reads entries after a cursor; it consumes nothing.
	PeekQueue(webhook wal.ID, after wal.Cursor, max int) ([]wal.Queued, error)
	GetEvents(tenant string, ids []wal.ID) ([]*wal.Event, error)
	// OpenBatches stores new batches of the entries in (from, to] and
	// moves the cursor from → to in one durable write; ErrConflict (or
	// any error) means nothing was consumed. No batches: consume only.
	OpenBatches(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error
	// OpenBatchesLazy is OpenBatches made durable with the next durable
	// write (as SaveResult), for batches of one event: after a power cut
	// its events are batched again and sent under the same webhook-id.
	OpenBatchesLazy(f wal.Fence, webhook wal.ID, from, to wal.Cursor, bs ...*wal.Batch) error
	// SaveBatch stores b at b.Version+1 if the stored version is
	// b.Version (else ErrConflict), with its attempt; durable on return.
	SaveBatch(f wal.Fence, b *wal.Batch, a *wal.Attempt) error
	// SaveResult is SaveBatch plus the webhook's health when h is not
	// nil, lazy: visible on return, durable with the next durable write.
	SaveResult(f wal.Fence, b *wal.Batch, a *wal.Attempt, h *wal.HookHealth) error
	GetBatch(tenant string, webhook, id wal.ID) (*wal.Batch, error)
	ListBatches(tenant string, webhook, after wal.ID, limit int, keep func(*wal.Batch) bool) ([]*wal.Batch, bool, error)
	NewID() wal.ID
}
