// Package bench is hookd's load tooling (`hookd bench`): an ingest load
// generator that reports throughput and acknowledgement latency. It talks
// to a running hookd over HTTP only, like any client would.
package bench
