package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits that Validate enforces.
const (
	MinBodyBytes       = 1 << 10
	MaxBodyBytes       = 1 << 30
	MinJWTSecretBytes  = 16
	MaxRetrySchedule   = 50
	MaxRetryDelay      = 7 * 24 * time.Hour
	MinDeliveryTimeout = 100 * time.Millisecond
	MaxDeliveryTimeout = 5 * time.Minute
	MaxConnsPerHost    = 10000
)

// Validate checks every setting and returns all the problems found, joined,
// each naming its key: `config: server.max_body_bytes: must be between ...`.
// It does no I/O: files named by the config are opened by their users.
func (c Config) Validate() error {
	var v validator
	c.validateServer(&v)
	c.validateAuth(&v)
	c.validateDelivery(&v)

	v.check(c.Storage.Dir != "", "storage.dir", "must not be empty")
	v.check(c.Storage.Retention.Duration >= time.Minute, "storage.retention", "must be at least 1m, got %s", c.Storage.Retention)
	v.check(c.Storage.Compression == "snappy" || c.Storage.Compression == "none", "storage.compression",
		`must be "snappy" or "none", got %q`, c.Storage.Compression)
	v.check(c.Storage.ValueThreshold >= 64 && c.Storage.ValueThreshold <= 1<<20, "storage.value_threshold",
		"must be from 64 bytes to 1 MiB (1048576), got %d", c.Storage.ValueThreshold)
	v.check(c.Storage.MemtableBytes >= 4<<20 && c.Storage.MemtableBytes <= 1<<30, "storage.memtable_bytes",
		"must be from 4 MiB (4194304) to 1 GiB, got %d", c.Storage.MemtableBytes)
	// What Badger may still write once hookd stops writing, twice: the
	// same formula as wal.MinFreeFor (config imports no hookd package).
	minFree := 2 * (5*int64(c.Storage.MemtableBytes) + 160<<20)
	v.check(c.Storage.MinFreeBytes >= minFree, "storage.min_free_bytes",
		"must be at least 10 x storage.memtable_bytes + 320 MiB (%d), got %d", minFree, c.Storage.MinFreeBytes)
	v.check(c.Events.TenantRateLimit >= 0 && c.Events.TenantRateLimit <= 10_000_000, "events.tenant_rate_limit",
		"must be from 0 (no limit) to 10000000 events per second, got %d", c.Events.TenantRateLimit)
	v.check(c.Events.MaxDataBytes >= 1 && c.Events.MaxDataBytes <= c.Server.MaxBodyBytes,
		"events.max_data_bytes", "must be between 1 and server.max_body_bytes (%d), got %d", c.Server.MaxBodyBytes, c.Events.MaxDataBytes)
	v.check(c.Webhooks.MaxPerTenant >= 1 && c.Webhooks.MaxPerTenant <= 1_000_000, "webhooks.max_per_tenant",
		"must be from 1 to 1000000, got %d", c.Webhooks.MaxPerTenant)
	for i, p := range c.API.Compat {
		key := fmt.Sprintf("api.compat[%d]", i)
		v.check(slices.Contains(CompatProfiles(), p), key, "unknown profile %q (want one of %s)", p, strings.Join(CompatProfiles(), ", "))
		v.check(!slices.Contains(c.API.Compat[:i], p), key, "%q is listed twice", p)
	}
	for i, o := range c.Console.FrameAncestors {
		v.check(validFrameAncestor(o), fmt.Sprintf("console.frame_ancestors[%d]", i),
			`must be 'self' or an origin such as https://app.example.com (https://*.example.com for subdomains), got %q`, o)
	}
	v.check(slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level),
		"log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	v.check(c.Log.Format == "json" || c.Log.Format == "console",
		"log.format", "must be json or console, got %q", c.Log.Format)
	return v.err()
}

func (c Config) validateServer(v *validator) {
	s := c.Server
	if _, _, err := splitListen(s.Listen); err != nil {
		v.add("server.listen", "%v", err)
	}
	v.check(s.MaxBodyBytes >= MinBodyBytes && s.MaxBodyBytes <= MaxBodyBytes,
		"server.max_body_bytes", "must be between %d (1KiB) and %d (1GiB), got %d", MinBodyBytes, MaxBodyBytes, s.MaxBodyBytes)
	v.check(s.ShutdownTimeout.Duration > 0, "server.shutdown_timeout", "must be > 0, got %s", s.ShutdownTimeout)
	v.check(s.MemoryLimit == 0 || s.MemoryLimit >= 64<<20, "server.memory_limit",
		"must be 0 (no limit) or at least 64 MiB (67108864), got %d", s.MemoryLimit)
	v.check(s.ReadTimeout.Duration >= time.Second, "server.read_timeout", "must be at least 1s, got %s", s.ReadTimeout)
	v.check(s.BodyBudgetBytes >= int64(s.MaxBodyBytes), "server.body_budget_bytes",
		"must be at least server.max_body_bytes (%d), got %d", s.MaxBodyBytes, s.BodyBudgetBytes)
	v.check(s.Concurrency >= 1, "server.concurrency", "must be at least 1, got %d", s.Concurrency)
	v.check(s.MaxConnsPerIP >= 0, "server.max_conns_per_ip", "must be 0 (no limit) or more, got %d", s.MaxConnsPerIP)
}

func (c Config) validateAuth(v *validator) {
	a := c.Auth
	switch a.Mode {
	case AuthNone:
	case AuthJWT:
		v.check(a.JWTSecret != "" || a.JWTPublicKeyFile != "" || a.JWKSFile != "",
			"auth.jwt_secret", "jwt mode needs auth.jwt_secret, auth.jwt_public_key_file or auth.jwks_file")
	case AuthAPIKey:
		v.check(len(a.APIKeys) > 0, "auth.api_keys", "apikey mode needs at least one [[auth.api_keys]] entry")
	default:
		v.add("auth.mode", "must be none, jwt or apikey, got %q", a.Mode)
	}
	// Checked in every mode, so a bad value is found before the mode changes.
	v.check(a.JWTSecret == "" || len(a.JWTSecret) >= MinJWTSecretBytes,
		"auth.jwt_secret", "must be at least %d bytes, got %d", MinJWTSecretBytes, len(a.JWTSecret))
	v.check(a.PortalSecret == "" || len(a.PortalSecret) >= 32,
		"auth.portal_secret", "must be at least 32 bytes, got %d", len(a.PortalSecret))
	seen := map[string]int{}
	for i, k := range a.APIKeys {
		key := fmt.Sprintf("auth.api_keys[%d]", i)
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			v.add(key+".sha256", "must be 64 hex characters (the SHA-256 of the key)")
		} else if j, dup := seen[strings.ToLower(k.SHA256)]; dup {
			v.add(key+".sha256", "the same key as auth.api_keys[%d]", j)
		} else {
			seen[strings.ToLower(k.SHA256)] = i
		}
		v.check(ValidTenant(k.Tenant), key+".tenant", "must be 1..64 characters of [A-Za-z0-9._-], got %q", k.Tenant)
		v.check(k.Account == "" || ValidTenant(k.Account), key+".account", "must be 1..64 characters of [A-Za-z0-9._-], got %q", k.Account)
		v.check(len(k.Roles) > 0, key+".roles", "must list at least one role (%s)", strings.Join(Roles(), ", "))
		for _, r := range k.Roles {
			v.check(ValidRole(r) || r == RoleWriteAlias, key+".roles", "unknown role %q (want %s)", r, strings.Join(Roles(), ", "))
		}
	}
}

// RoleWriteAlias is the Duck Creek document's spelling of
// tenant-webhook-write (seed 002); it grants exactly what that role does.
const RoleWriteAlias = "tenant-webhook-writer"

func (c Config) validateDelivery(v *validator) {
	d := c.Delivery
	v.check(d.Timeout.Duration >= MinDeliveryTimeout && d.Timeout.Duration <= MaxDeliveryTimeout,
		"delivery.timeout", "must be between %s and %s, got %s", MinDeliveryTimeout, MaxDeliveryTimeout, d.Timeout)
	v.check(len(d.RetrySchedule) >= 1 && len(d.RetrySchedule) <= MaxRetrySchedule,
		"delivery.retry_schedule", "must have 1..%d entries, got %d", MaxRetrySchedule, len(d.RetrySchedule))
	for i, r := range d.RetrySchedule {
		v.check(r.Duration >= 0 && r.Duration <= MaxRetryDelay,
			fmt.Sprintf("delivery.retry_schedule[%d]", i), "must be between 0s and 168h (7 days), got %s", r)
	}
	for i, s := range d.AllowedCIDRs {
		if _, err := netip.ParsePrefix(s); err != nil {
			v.add(fmt.Sprintf("delivery.allowed_cidrs[%d]", i), "not a CIDR prefix (like 10.1.0.0/16 or fd00::/8): %q", s)
		}
	}
	v.check(d.MaxConnsPerHost >= 1 && d.MaxConnsPerHost <= MaxConnsPerHost,
		"delivery.max_conns_per_host", "must be between 1 and %d, got %d", MaxConnsPerHost, d.MaxConnsPerHost)
	v.check(d.DisableAfter.Duration >= time.Minute, "delivery.disable_after", "must be at least 1m, got %s", d.DisableAfter)
}

// InsecureListen reports whether the server would accept unauthenticated
// requests (auth.mode "none") on an address other than loopback
// (127.0.0.0/8, ::1, localhost). An empty host means every interface.
func (c Config) InsecureListen() bool {
	if c.Auth.Mode != AuthNone {
		return false
	}
	host, _, err := splitListen(c.Server.Listen)
	if err != nil {
		return true
	}
	return !isLoopback(host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// splitListen splits a host:port listen address; the port must be numeric
// (0 asks the kernel for a free one).
func splitListen(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("must be host:port (like 127.0.0.1:8080 or [::1]:8080), got %q", addr)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port must be a number 0..65535, got %q", p)
	}
	return host, port, nil
}

// validator collects per-key errors.
type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
}

func (v *validator) check(ok bool, key, format string, args ...any) {
	if !ok {
		v.add(key, format, args...)
	}
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// validFrameAncestor reports whether o can stand in a CSP frame-ancestors
// list: 'self', or a scheme://host[:port] origin (host may start with *.)
// with nothing that could end the directive or add another source.
func validFrameAncestor(o string) bool {
	if o == "'self'" {
		return true
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme != "https" && scheme != "http" || rest == "" || strings.ContainsAny(rest, "/?#@'\";,") {
		return false
	}
	for _, c := range rest {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	host := strings.TrimPrefix(rest, "*.")
	if h, port, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.Atoi(port); err != nil || h == "" {
			return false
		}
		host = h
	}
	return host != "" && !strings.Contains(host, "*")
}
