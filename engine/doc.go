// Package engine is hookd's delivery core: it decides when a batch is sent,
// what a response means, and when to try again, and it owns the dispatcher
// that performs the HTTP requests to subscribers.
//
// The core (policy, signer, clock, and the scheduler and batcher built on
// them) is pure: it does no I/O, takes time from a Clock and randomness as
// a jitter value from its caller, and so runs retry schedules of hours in
// milliseconds under test. The core shares each destination's connections
// among the webhooks there so that hanging or failing ones cannot starve
// the healthy (fair.go). The dispatcher is the one place that touches the
// network; it sends one signed request and reports a Result, and leaves the
// verdict to Classify; at shutdown it can cut off every send (conn.go).
//
// Every change to a stored batch (opening, an attempt's outcome, expiry,
// cancelling, replay, send-expired) is one pure function of lifecycle.go
// that returns the batch's new record; the runner (runner.go) and the
// operations (ops.go) only store and send what those return. The engine
// owns its goroutines (lifetime.go): the store's fan-out listener only
// appends to the engine's inbox (inbox.go), the loop and every action and
// timer run under the engine's WaitGroup, and Close waits for all of them.
// At most 16 opens read queues at once, 4,096 events each (runner.go), so
// memory stays O(webhooks + in-flight work) however many webhooks an
// event fans out to. What the engine needs of a store is engine.Store
// (store.go); engine/storetest is the conformance suite any store runs.
//
// engine must never import api (dependencies point main → api → engine →
// wal), never call time.Now() in the core (time comes from a Clock; only
// the dispatcher's socket deadlines use the wall clock, because the kernel
// enforces them), never read global configuration, and never log payloads
// or secrets.
package engine
