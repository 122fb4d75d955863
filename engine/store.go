package engine

import "hookd/wal"

// Store is what the engine needs of the durable store. *wal.Store
// implements it; every write is durable when the call returns.
type Store interface {
	Webhooks() []*wal.Webhook
	UpdateWebhook(tenant string, id wal.ID, fn func(*wal.Webhook) error) (*wal.Webhook, error)
	// OnQueued registers the fan-out listener (see wal.Store.OnQueued).
	OnQueued(fn func(counts map[wal.ID]int))
	PeekQueue(webhook, after wal.ID, max int) ([]wal.ID, error)
	DropQueue(webhook wal.ID, max int) (int, error)
	GetEvents(tenant string, ids []wal.ID) ([]*wal.Event, error)
	// OpenBatches commits new batches of entries read after prev; ErrStale
	// (or any error) means nothing was consumed (see wal.Store.OpenBatches).
	OpenBatches(webhook, prev wal.ID, drop []wal.ID, bs ...*wal.Batch) error
	SaveBatch(b *wal.Batch, a *wal.Attempt) error
	// SaveResult is SaveBatch plus the webhook's health when h is not nil.
	SaveResult(b *wal.Batch, a *wal.Attempt, h *wal.HookHealth) error
	Health(webhook wal.ID) (wal.HookHealth, bool, error)
	GetBatch(tenant string, webhook, id wal.ID) (*wal.Batch, error)
	ListBatches(tenant string, webhook, after wal.ID, limit int, keep func(*wal.Batch) bool) ([]*wal.Batch, bool, error)
	EachOpenBatch(fn func(*wal.Batch) error) error
	NewID() wal.ID
}
