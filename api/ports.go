package api

import (
	"context"

	"hookd/engine"
	"hookd/wal"
)

// The API depends on these two interfaces, not on the Badger store or the
// engine's concrete types: serve.go passes *wal.Store and *engine.Engine,
// and a clustered backend (the JetStream store of the scale-out design)
// provides its own. Every method keeps the contract documented on the
// wal.Store and engine.Engine method of the same name; errors are wal's
// (wal.ErrNotFound, wal.ErrConflict, wal.ErrLimit, ...), which toError maps.

// Store is what the API needs of the event and webhook store.
type Store interface {
	// Webhooks.
	NewWebhookID() wal.ID
	CreateWebhookUpTo(w *wal.Webhook, max int) error
	UpdateWebhook(tenant string, id wal.ID, fn func(*wal.Webhook) error) (*wal.Webhook, error)
	DeleteWebhook(tenant string, id wal.ID) error
	GetWebhook(tenant string, id wal.ID) (*wal.Webhook, error)
	ListWebhooks(tenant string, after wal.ID, limit int) ([]*wal.Webhook, bool, error)
	CountWebhooks(tenant string) int
	QueueDepth(webhook wal.ID) (int, error)

	// Events and event types.
	Append(tenant string, evs []wal.EventInput) (wal.AppendResult, error)
	GetEvent(tenant string, id wal.ID) (*wal.Event, error)
	GetEvents(tenant string, ids []wal.ID) ([]*wal.Event, error)
	EventByKey(tenant, key string) (wal.ID, error)
	EventDeliveries(tenant string, evt wal.ID) ([]wal.Delivery, error)
	HasEventType(tenant, typ string) bool
	CreateEventType(tenant string, t wal.EventType) (wal.EventType, error)
	DeleteEventType(tenant, name string) error
	ListEventTypes(tenant, after string, limit int) ([]wal.EventType, bool, error)

	// Batches and attempts (written by the engine, read here).
	GetBatch(tenant string, webhook, id wal.ID) (*wal.Batch, error)
	ListBatches(tenant string, webhook, after wal.ID, limit int, keep func(*wal.Batch) bool) ([]*wal.Batch, bool, error)
	GetAttempt(tenant string, batch, id wal.ID) (*wal.Attempt, error)
	ListAttempts(tenant string, batch, after wal.ID, limit int) ([]*wal.Attempt, bool, error)

	// Operations.
	Ready() error
	Err() error
	Size() (lsm, vlog int64)
	Backup() (*wal.Backup, error)
}

// Deliverer is what the API needs of the delivery engine: notifications of
// webhook changes (the ops in service.go pair each store write with one),
// the operations on batches, health, and the figures /metrics shows.
type Deliverer interface {
	WebhookChanged(w *wal.Webhook)
	WebhookDeleted(tenant string, id wal.ID)
	Replay(tenant string, webhook, batch wal.ID) (wal.ID, error)
	SendExpired(tenant string, f engine.ExpiredFilter) (int, error)
	Ping(ctx context.Context, w *wal.Webhook) (engine.PingResult, error)
	Health(id wal.ID) engine.Health
	Counters() engine.Counters
	State(top int) engine.State
}

var (
	_ Store     = (*wal.Store)(nil)
	_ Deliverer = (*engine.Engine)(nil)
)
