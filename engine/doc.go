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
// engine must never import api (dependencies point main → api → engine →
// wal), never call time.Now() in the core (time comes from a Clock; only
// the dispatcher's socket deadlines use the wall clock, because the kernel
// enforces them), never read global configuration, and never log payloads
// or secrets.
package engine
