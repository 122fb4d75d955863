package config

import (
	"slices"
	"time"

	"hookd/wal"
)

// Default returns the built-in settings of API.md §10: a zero-config server
// for local use (loopback listener, auth.mode "none", data in ./hookd-data).
func Default() Config {
	d := func(v time.Duration) Duration { return Duration{v} }
	return Config{
		Server: Server{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    8 << 20,
			ShutdownTimeout: d(10 * time.Second),
			MemoryLimit:     200 << 20,
			ReadTimeout:     d(30 * time.Second),
			BodyBudgetBytes: 64 << 20,
			Concurrency:     4096,
			MaxConnsPerIP:   1024,
		},
		Storage: Storage{
			Dir:            "./hookd-data",
			Retention:      d(168 * time.Hour),
			MemtableBytes:  32 << 20,
			Compression:    "snappy",
			ValueThreshold: 256,
			MinFreeBytes:   1 << 30,
		},
		Auth: Auth{Mode: AuthNone},
		Delivery: Delivery{
			Timeout: d(15 * time.Second),
			RetrySchedule: []Duration{
				d(0), d(5 * time.Second), d(5 * time.Minute), d(30 * time.Minute),
				d(2 * time.Hour), d(5 * time.Hour), d(10 * time.Hour), d(10 * time.Hour),
			},
			AllowedCIDRs:    []string{},
			MaxConnsPerHost: 64,
			DisableAfter:    d(120 * time.Hour),
		},
		Events:   Events{MaxDataBytes: 256 << 10},
		Webhooks: Webhooks{MaxPerTenant: 10_000},
		API:      API{Compat: CompatProfiles()},
		Console:  Console{Enabled: true, FrameAncestors: []string{}},
		Log:      Log{Level: "info", Format: "json"},
	}
}

// Auth modes.
const (
	AuthNone   = "none"
	AuthJWT    = "jwt"
	AuthAPIKey = "apikey"
)

// CompatProfiles returns the names of the compatibility profiles of API.md
// §9, in their documented order.
func CompatProfiles() []string { return []string{"ncore", "ocore", "duckcreek", "thredd"} }

// Roles returns the role names of API.md §2, and hookd-operator, which
// runs the server (GET /admin/backup) and grants nothing in a tenant.
func Roles() []string {
	return []string{"tenant-webhook-read", "tenant-webhook-write", "tenant-event-publish", "tenant-admin", "hookd-operator"}
}

// ValidRole reports whether r is one of Roles().
func ValidRole(r string) bool { return slices.Contains(Roles(), r) }

// ValidTenant reports whether t can name a tenant or account:
// 1..64 characters of [A-Za-z0-9._-].
func ValidTenant(t string) bool { return wal.ValidTenant(t) }
