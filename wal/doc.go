// Package wal is hookd's durable store on Badger: the group-commit appender,
// events and their idempotency keys, webhooks, event types, and the delivery
// records the engine keeps (queue entries, batches, attempts).
//
// Every write of the hot path goes through one committer goroutine that
// drains all pending operations into one Badger transaction; a syncer
// goroutine fdatasyncs Badger's logs (commit.go, sync.go) and only then
// completes the waiting callers (group commit). A failed commit is
// sticky: from then on the store acknowledges nothing and reads fail, since
// a failed commit may still be visible in Badger's memtable.
//
// wal knows nothing of HTTP and imports no other hookd package. Every key
// that belongs to a tenant carries the tenant, so isolation is a property of
// the key space, not of the callers' care.
package wal
