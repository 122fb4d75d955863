// Package config holds hookd's settings as a value: Default() → TOML →
// HOOKD_<SECTION>_<KEY> environment overrides → Validate(). Nothing reads a
// global config; constructors take what they need from a Config.
package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that decodes from TOML strings such as "15s".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (like 15s, 5m, 2h): %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText renders the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Config is every setting of API.md §10.
type Config struct {
	Server   Server   `toml:"server"`
	Storage  Storage  `toml:"storage"`
	Auth     Auth     `toml:"auth"`
	Delivery Delivery `toml:"delivery"`
	Events   Events   `toml:"events"`
	Webhooks Webhooks `toml:"webhooks"`
	API      API      `toml:"api"`
	Console  Console  `toml:"console"`
	Log      Log      `toml:"log"`
}

// Server is the [server] section: the HTTP listener.
type Server struct {
	Listen          string   `toml:"listen"`
	MaxBodyBytes    int      `toml:"max_body_bytes"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// MemoryLimit is the Go runtime's soft memory limit in bytes (0: none);
	// the GOMEMLIMIT environment variable, when set, takes precedence.
	MemoryLimit int64 `toml:"memory_limit"`
	// ReadTimeout bounds reading one request, headers and body, from its
	// first byte: a body that trickles or never ends is cut off by it.
	ReadTimeout Duration `toml:"read_timeout"`
	// BodyBudgetBytes caps the request bodies buffered at once across all
	// connections; a request that does not fit is a 503 with Retry-After.
	BodyBudgetBytes int64 `toml:"body_budget_bytes"`
	// Concurrency caps the connections served at once; MaxConnsPerIP those
	// from one client address (0: no per-address cap).
	Concurrency   int `toml:"concurrency"`
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
}

// Storage is the [storage] section: the event log on disk.
type Storage struct {
	Dir       string   `toml:"dir"`
	Retention Duration `toml:"retention"`
	// MemtableBytes is the size of one of Badger's three in-memory tables:
	// the main memory/throughput knob of the store (see config.example.toml).
	MemtableBytes int `toml:"memtable_bytes"`
	// Compression of the store's tables: "snappy" or "none".
	Compression string `toml:"compression"`
	// ValueThreshold: stored values this large or larger go to Badger's
	// value log (see config.example.toml).
	ValueThreshold int `toml:"value_threshold"`
	// MinFreeBytes is the free-space reserve on dir's filesystem: below
	// it new events are refused with 503 and /readyz fails; below half of
	// it every write stops; hookd will not start below half of it.
	MinFreeBytes int64 `toml:"min_free_bytes"`
}

// APIKey is one accepted API key, stored only as the hex SHA-256 of the key.
type APIKey struct {
	SHA256  string   `toml:"sha256"`
	Tenant  string   `toml:"tenant"`
	Account string   `toml:"account"`
	Roles   []string `toml:"roles"`
}

// Auth is the [auth] section: how requests are authenticated (API.md §2).
type Auth struct {
	Mode             string   `toml:"mode"` // none | jwt | apikey
	JWTSecret        string   `toml:"jwt_secret"`
	JWTPublicKeyFile string   `toml:"jwt_public_key_file"`
	JWKSFile         string   `toml:"jwks_file"`
	Issuer           string   `toml:"issuer"`
	Audience         string   `toml:"audience"`
	AllowInsecure    bool     `toml:"allow_insecure"`
	APIKeys          []APIKey `toml:"api_keys"`
	// PortalSecret signs portal-session tokens (POST /v1/portal-sessions)
	// in every mode. Empty: derived from jwt_secret when that is set, else
	// a random key per process (portal tokens then end at a restart).
	PortalSecret string `toml:"portal_secret"`
}

// Delivery is the [delivery] section: how batches reach subscribers.
type Delivery struct {
	Timeout                  Duration   `toml:"timeout"`
	RetrySchedule            []Duration `toml:"retry_schedule"`
	AllowPrivateDestinations bool       `toml:"allow_private_destinations"`
	AllowedCIDRs             []string   `toml:"allowed_cidrs"`
	MaxConnsPerHost          int        `toml:"max_conns_per_host"`
	DisableAfter             Duration   `toml:"disable_after"`
}

// Events is the [events] section: what ingest accepts.
type Events struct {
	StrictTypes  bool `toml:"strict_types"`
	MaxDataBytes int  `toml:"max_data_bytes"`
	// TenantRateLimit caps the events each tenant may publish per second
	// (a burst of one second's worth); 0 = no limit.
	TenantRateLimit int `toml:"tenant_rate_limit"`
}

// Webhooks is the [webhooks] section: limits on subscriptions.
type Webhooks struct {
	// MaxPerTenant caps the webhooks one tenant may have; a create past
	// it is refused. It bounds the fan-out of one publish.
	MaxPerTenant int `toml:"max_per_tenant"`
}

// API is the [api] section: which compatibility profiles (API.md §9) are served.
type API struct {
	Compat []string `toml:"compat"`
}

// Console is the [console] section: the web console at /console and the
// customer portal it becomes with a portal-session token.
type Console struct {
	Enabled bool `toml:"enabled"`
	// FrameAncestors are the origins that may embed the console in a frame
	// (a customer portal), sent as CSP frame-ancestors; empty: none may.
	FrameAncestors []string `toml:"frame_ancestors"`
}

// Log is the [log] section.
type Log struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // json | console
}
