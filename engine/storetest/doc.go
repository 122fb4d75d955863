// Package storetest is the conformance suite of hookd's stores, and the
// written contract of the store boundary: what each operation the engine
// (engine.Store) and the API call on a store guarantees. A second backend
// (NATS JetStream: docs/DESIGN.md, "Beyond one machine") is written
// against this contract, not against the Badger store (package wal), and
// passes the suite from a test of its own:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			Open: func(t *testing.T, dir string) storetest.Store { ... },
//			Fail: func(s storetest.Store, err error) { ... }, // optional
//		})
//	}
//
// The Badger store runs it in wal/conformance_test.go. Store (store.go)
// lists every operation with its contract; this comment says what the
// words used there mean, and what is planned but not offered yet.
//
// # Model
//
// The records are wal's types (Event, Webhook, EventType, Batch, Attempt,
// HookHealth, Delivery); none of them refers to Badger. IDs are ULIDs
// (wal.ID): time-ordered, made by the store (NewID, NewWebhookID, Append).
// A webhook's queue holds the IDs of the events fanned out to it, in ID
// order; the store keeps per webhook a cursor (wal.Cursor), the place
// after the last entry consumed, and consumes only by moving it forward
// in OpenBatches. Cursors are opaque 16-byte values that the store makes
// (Badger keeps the event's ID in them, a stream-backed store its
// sequence): the engine keeps them, hands them back and compares them for
// equality only. The zero cursor is a queue's start.
//
// Tenants: every event, idempotency key, event type, webhook, batch and
// attempt belongs to one tenant. Asked for under another tenant, a record
// does not exist: ErrNotFound exactly as for a missing one, and lists are
// empty. Operations keyed by a webhook ID alone (Cursor, PeekQueue,
// Health, OpenBatches, SaveBatch) trust the engine, which only has the
// IDs the store gave it.
//
// # Partitions, claims and fences
//
// The webhooks are divided into partitions (wal.Part; PartOf never
// changes). A node delivers the partitions it holds a claim on: Claims
// hands them out (those held at once are in the channel when it returns),
// each with a Fence and a Lost channel. The engine loads a claimed
// partition (LoadPart: webhooks and health; EachOpenBatch; PeekQueue of
// each webhook), listens to its fan-out (OnQueued, stopped when the claim
// goes), and drops the partition's webhooks from its schedule when Lost
// closes. Every delivery write (OpenBatches, SaveBatch, SaveResult)
// carries the fence of the webhook's partition and fails with
// wal.ErrFenced once it is not valid, so a node that lost a partition
// cannot write over the node that took it. The Badger store has one
// partition, Part{}, claimed from Open to Close, never lost; its fence is
// valid for that store alone.
//
// # Versions
//
// A batch carries a version (wal.Batch.Version), the number of its stored
// writes: OpenBatches stores new batches at 1, and SaveBatch and
// SaveResult store b at b.Version+1 only if the stored version is still
// b.Version, else they write nothing and fail with wal.ErrConflict. Reads
// (GetBatch, ListBatches, EachOpenBatch) set it, and a write that
// succeeded sets the caller's b.Version to the new one. The engine also
// serialises the writes of one batch itself (a replay against an
// attempt's result) and saves over the versions it wrote itself, so on
// one node a conflict means a writer elsewhere.
//
// # Durability
//
// Durable on return: when Append, CreateWebhook, CreateWebhookUpTo,
// UpdateWebhook, DeleteWebhook, CreateEventType, DeleteEventType,
// OpenBatches or SaveBatch return nil, the write survives a
// crash of the process or the machine at any later instant, and a restart
// (Close, then Open on the same state) finds it.
//
// Lazy: SaveResult and OpenBatchesLazy return once their write is visible
// to every read, before it is durable. It becomes durable with the next
// durable write and at Close; a process crash loses none (Badger: the
// write is in its memory-mapped log), a power cut may lose the last ones:
// results, whose batches are then sent again under the same webhook-id,
// and opens of one-event batches, whose events are batched again and sent
// under the same webhook-id (the event's id). A backend whose every write
// is durable meets this trivially.
//
// All or nothing: the writes of one call commit whole or not at all
// (an append's events, keys, types and queue entries; an open's batches
// and cursor move; a result's batch, attempt and health). Unacknowledged
// writes (the call returned an error) may be lost or may be found later;
// none is found in part.
//
// Read your writes: a read started after a write returned sees it, from
// any goroutine.
//
// # Ownership
//
// Arguments: the store copies what it keeps of a webhook, batch, attempt
// or health given to it; the caller may change them once the call
// returns. Append is the exception: the store may keep the events' Data
// and Refs (to serve them from memory), so the caller must not change
// them afterwards.
//
// Results: webhooks, batches, attempts, event types, health and ID slices
// returned are the caller's: changing them changes nothing in the store.
// Events (GetEvent, GetEvents): the slice and each *Event are the
// caller's, but Data and Refs may share memory with the store (and with
// the Data given to Append): read-only. OnQueued's map is valid only
// during the call. A successful OpenBatches, SaveBatch or SaveResult sets
// the Version of the batches given to it (the one change a store makes to
// its arguments).
//
// # Errors
//
// Callers compare with errors.Is; a backend's own errors never cross the
// boundary untranslated.
//
//   - wal.ErrNotFound: no such record for this tenant.
//   - wal.ErrConflict: the stored state is not the one the write
//     expected, and nothing was written: the record exists already
//     (CreateWebhook with a used ID, CreateEventType of a known type);
//     OpenBatches' from is not the stored cursor (read Cursor and the
//     queue again); a batch's version moved (read the batch again).
//   - wal.ErrFenced: a delivery write carried no fence, or the fence of
//     a claim no longer held; nothing was written.
//   - wal.ErrLimit: CreateWebhookUpTo at the tenant's limit.
//   - wal.ErrClosed: after Close, every write and every read of events,
//     queues, batches, attempts and health; Ready says so. Webhook and
//     event-type reads may still answer (Badger serves them from memory).
//   - wal.ErrFull: too many writes wait; retry later (the API's 503).
//     wal.ErrTooBig: one call is larger than one write may be. Both are
//     limits of the backend, checked by its own tests.
//   - Fail-stop: after a write the backend cannot be sure of (a failed
//     fsync, a lost quorum), the store acknowledges nothing more: that
//     write and every later write and read return a *wal.FailedError
//     wrapping the cause (errors.Is finds it), as do Err and Ready, until
//     the process opens the store again. The reopened state holds
//     everything acknowledged before.
//
// # Planned
//
// The scale-out design (docs/DESIGN.md, "Beyond one machine") needs one
// more thing of a store that the interface does not offer yet; the suite
// names it with a skipped test (Planned/...):
//
//   - WatchWebhooks: webhook changes reach every node's engine from the
//     store. Today the API's one service call stores a change and tells
//     the local engine (api/service.go), which is all one node needs.
package storetest
