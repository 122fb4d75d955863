package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hookd.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func dur(s string) Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return Duration{d}
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v; want nil", err)
	}
	got, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("Load(\"\", nil) = %+v; want Default()", got)
	}
}

// The example file documents the defaults; it must not drift from them.
func TestExampleFileIsDefault(t *testing.T) {
	const path = "../config.example.toml"
	got, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("config.example.toml =\n%+v\nwant Default() =\n%+v", got, want)
	}
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys() {
		if k == "auth.api_keys" {
			continue // an example in comments: there is no default key
		}
		if !md.IsDefined(strings.Split(k, ".")...) {
			t.Errorf("config.example.toml does not set %s", k)
		}
	}
}

const fullTOML = `
[server]
listen = "0.0.0.0:9000"
max_body_bytes = 1048576
shutdown_timeout = "30s"
memory_limit = 536870912
read_timeout = "5s"
body_budget_bytes = 16777216
concurrency = 100
max_conns_per_ip = 10

[storage]
dir = "/var/lib/hookd"
retention = "720h"
memtable_bytes = 16777216
compression = "none"
value_threshold = 512
min_free_bytes = 734003200

[auth]
mode = "apikey"
jwt_secret = "0123456789abcdef0123"
jwt_public_key_file = "/etc/hookd/jwt.pem"
jwks_file = "/etc/hookd/jwks.json"
issuer = "https://id.example.com"
audience = "hookd"
allow_insecure = true

[[auth.api_keys]]
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
tenant = "acme"
account = "acct-1"
roles = ["tenant-admin"]

[[auth.api_keys]]
sha256 = "2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE"
tenant = "globex"
roles = ["tenant-webhook-read", "tenant-event-publish"]

[delivery]
timeout = "2s"
retry_schedule = ["1s", "1m"]
allow_private_destinations = true
allowed_cidrs = ["10.20.0.0/16", "fd00:1::/64"]
max_conns_per_host = 8
disable_after = "24h"

[events]
strict_types = true
max_data_bytes = 1024
tenant_rate_limit = 500

[webhooks]
max_per_tenant = 250

[api]
compat = ["thredd", "ncore"]

[console]
enabled = false
frame_ancestors = ["https://app.example.com", "'self'"]

[log]
level = "debug"
format = "console"
`

var fullConfig = Config{
	Server: Server{Listen: "0.0.0.0:9000", MaxBodyBytes: 1 << 20, ShutdownTimeout: dur("30s"), MemoryLimit: 512 << 20,
		ReadTimeout: dur("5s"), BodyBudgetBytes: 16 << 20, Concurrency: 100, MaxConnsPerIP: 10},
	Storage: Storage{Dir: "/var/lib/hookd", Retention: dur("720h"), MemtableBytes: 16 << 20, Compression: "none", ValueThreshold: 512,
		MinFreeBytes: 700 << 20},
	Auth: Auth{
		Mode: "apikey", JWTSecret: "0123456789abcdef0123", JWTPublicKeyFile: "/etc/hookd/jwt.pem",
		JWKSFile: "/etc/hookd/jwks.json", Issuer: "https://id.example.com", Audience: "hookd", AllowInsecure: true,
		APIKeys: []APIKey{
			{SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Tenant: "acme", Account: "acct-1", Roles: []string{"tenant-admin"}},
			{SHA256: "2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE", Tenant: "globex", Roles: []string{"tenant-webhook-read", "tenant-event-publish"}},
		},
	},
	Delivery: Delivery{
		Timeout: dur("2s"), RetrySchedule: []Duration{dur("1s"), dur("1m")}, AllowPrivateDestinations: true,
		AllowedCIDRs: []string{"10.20.0.0/16", "fd00:1::/64"}, MaxConnsPerHost: 8, DisableAfter: dur("24h"),
	},
	Events:   Events{StrictTypes: true, MaxDataBytes: 1024, TenantRateLimit: 500},
	Webhooks: Webhooks{MaxPerTenant: 250},
	API:      API{Compat: []string{"thredd", "ncore"}},
	Console:  Console{FrameAncestors: []string{"https://app.example.com", "'self'"}},
	Log:      Log{Level: "debug", Format: "console"},
}

func TestFullFile(t *testing.T) {
	got, err := Load(writeFile(t, fullTOML), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fullConfig) {
		t.Errorf("Load(full) =\n%+v\nwant\n%+v", got, fullConfig)
	}

	// Encoding a Config and loading it back gives the same Config.
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(fullConfig); err != nil {
		t.Fatal(err)
	}
	again, err := Load(writeFile(t, buf.String()), nil)
	if err != nil {
		t.Fatalf("Load(encoded) = %v\n%s", err, &buf)
	}
	if !reflect.DeepEqual(again, fullConfig) {
		t.Errorf("round trip =\n%+v\nwant\n%+v", again, fullConfig)
	}
}

// A list in the file replaces the default list; it is not merged.
func TestFileListReplacesDefault(t *testing.T) {
	got, err := Load(writeFile(t, "[api]\ncompat = [\"ocore\"]\n[delivery]\nretry_schedule = [\"1s\"]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ocore"}; !reflect.DeepEqual(got.API.Compat, want) {
		t.Errorf("api.compat = %q; want %q", got.API.Compat, want)
	}
	if want := []Duration{dur("1s")}; !reflect.DeepEqual(got.Delivery.RetrySchedule, want) {
		t.Errorf("delivery.retry_schedule = %v; want %v", got.Delivery.RetrySchedule, want)
	}
	if got.Server.Listen != Default().Server.Listen {
		t.Errorf("server.listen = %q; want the default", got.Server.Listen)
	}
}

func TestFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name, toml string
		want       []string // substrings of the error
	}{
		{"unknown key", "[server]\nlisen = \"127.0.0.1:1\"\n", []string{`unknown key "server.lisen"`}},
		{"unknown section", "[sever]\nlisten = \"127.0.0.1:1\"\n", []string{`unknown key "sever`}},
		{"unknown top-level key", "listen = \"x\"\n", []string{`unknown key "listen"`}},
		{"unknown api key field", "[[auth.api_keys]]\nsha = \"x\"\n", []string{`unknown key "auth.api_keys.sha"`}},
		{"two unknown keys", "[log]\nlevl = \"x\"\nformt = \"y\"\n", []string{`"log.levl"`, `"log.formt"`}},
		{"wrong type", "[server]\nmax_body_bytes = \"big\"\n", []string{"hookd.toml:2: server.max_body_bytes: must be an integer, got a string"}},
		{"string for list", "[delivery]\nretry_schedule = \"5s\"\n", []string{"delivery.retry_schedule: must be a list, got a string"}},
		{"value for section", "server = 3\n", []string{"server: must be a table ([server]), got an integer"}},
		{"bad duration", "[delivery]\ntimeout = \"soon\"\n", []string{"delivery.timeout"}},
		{"duration without unit", "[delivery]\ntimeout = \"15\"\n", []string{`delivery.timeout: not a duration (like 15s, 5m, 2h): "15"`}},
		{"explicit data above body", "[server]\nmax_body_bytes = 100000\n[events]\nmax_data_bytes = 262144\n", []string{"events.max_data_bytes"}},
		{"bad duration in list", "[delivery]\nretry_schedule = [\"1s\", \"later\"]\n", []string{"delivery.retry_schedule"}},
		{"syntax", "[server\n", []string{"hookd.toml:2: "}},
		{"invalid value", "[server]\nmax_body_bytes = 0\n", []string{"config: server.max_body_bytes: must be between"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.toml)
			_, err := Load(path, nil)
			if err == nil {
				t.Fatalf("Load = nil error; want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error = %q; want it to contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("Load error = %q; want the prefix \"config: \"", err)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), nil); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("Load(missing file) = %v; want an error naming the file", err)
	}
}

// TestLowerBodyLimitAlone: lowering server.max_body_bytes alone lowers the
// (default) data limit with it; an explicit data limit above it is an error
// (TestFileErrors), from the file, the environment or a flag alike.
func TestLowerBodyLimitAlone(t *testing.T) {
	c, err := Load(writeFile(t, "[server]\nmax_body_bytes = 100000\n"), nil)
	if err != nil || c.Events.MaxDataBytes != 100000 {
		t.Fatalf("body limit 100000 alone: max_data_bytes %d, %v; want 100000", c.Events.MaxDataBytes, err)
	}
	if c, err = Load("", []string{"HOOKD_SERVER_MAX_BODY_BYTES=50000"}); err != nil || c.Events.MaxDataBytes != 50000 {
		t.Fatalf("from the environment: max_data_bytes %d, %v; want 50000", c.Events.MaxDataBytes, err)
	}
	if _, err = Load("", []string{"HOOKD_SERVER_MAX_BODY_BYTES=50000", "HOOKD_EVENTS_MAX_DATA_BYTES=60000"}); err == nil {
		t.Fatal("explicit max_data_bytes above the body limit accepted")
	}
	if c, err = Load(writeFile(t, "[server]\nmax_body_bytes = 100000\n[events]\nmax_data_bytes = 4096\n"), nil); err != nil || c.Events.MaxDataBytes != 4096 {
		t.Fatalf("explicit smaller data limit: %d, %v", c.Events.MaxDataBytes, err)
	}
}

// TestRaiseBodyLimitAlone: raising server.max_body_bytes past the
// (default) body budget alone raises the budget to hold one such body; an
// explicit budget below it is an error.
func TestRaiseBodyLimitAlone(t *testing.T) {
	c, err := Load(writeFile(t, "[server]\nmax_body_bytes = 134217728\n"), nil)
	if err != nil || c.Server.BodyBudgetBytes != 128<<20 {
		t.Fatalf("body limit 128 MiB alone: body_budget_bytes %d, %v; want %d", c.Server.BodyBudgetBytes, err, 128<<20)
	}
	if c, err = Load("", []string{"HOOKD_SERVER_MAX_BODY_BYTES=1048576"}); err != nil || c.Server.BodyBudgetBytes != 64<<20 {
		t.Fatalf("a lower body limit leaves the budget: %d, %v", c.Server.BodyBudgetBytes, err)
	}
	if _, err = Load("", []string{"HOOKD_SERVER_MAX_BODY_BYTES=134217728", "HOOKD_SERVER_BODY_BUDGET_BYTES=67108864"}); err == nil {
		t.Fatal("explicit body_budget_bytes below the body limit accepted")
	}
}

const goodHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"listen without port", func(c *Config) { c.Server.Listen = "127.0.0.1" }, "server.listen"},
		{"listen bad port", func(c *Config) { c.Server.Listen = "127.0.0.1:http" }, "server.listen"},
		{"listen port too big", func(c *Config) { c.Server.Listen = "127.0.0.1:70000" }, "server.listen"},
		{"listen port 0", func(c *Config) { c.Server.Listen = "127.0.0.1:0" }, ""},
		{"listen ipv6", func(c *Config) { c.Server.Listen = "[::1]:8080" }, ""},
		{"listen all interfaces", func(c *Config) { c.Server.Listen = ":8080" }, ""},
		{"body 0", func(c *Config) { c.Server.MaxBodyBytes = 0 }, "server.max_body_bytes"},
		{"body too small", func(c *Config) { c.Server.MaxBodyBytes = 1023 }, "server.max_body_bytes"},
		{"body too big", func(c *Config) { c.Server.MaxBodyBytes = 1<<30 + 1 }, "server.max_body_bytes"},
		{"body 1KiB", func(c *Config) { c.Server.MaxBodyBytes = 1024; c.Events.MaxDataBytes = 1024 }, ""},
		{"read_timeout under 1s", func(c *Config) { c.Server.ReadTimeout = dur("500ms") }, "server.read_timeout"},
		{"body budget under max body", func(c *Config) { c.Server.BodyBudgetBytes = int64(c.Server.MaxBodyBytes) - 1 }, "server.body_budget_bytes"},
		{"body budget = max body", func(c *Config) { c.Server.BodyBudgetBytes = int64(c.Server.MaxBodyBytes) }, ""},
		{"concurrency 0", func(c *Config) { c.Server.Concurrency = 0 }, "server.concurrency"},
		{"max_conns_per_ip negative", func(c *Config) { c.Server.MaxConnsPerIP = -1 }, "server.max_conns_per_ip"},
		{"max_conns_per_ip 0", func(c *Config) { c.Server.MaxConnsPerIP = 0 }, ""},
		{"shutdown 0", func(c *Config) { c.Server.ShutdownTimeout = dur("0s") }, "server.shutdown_timeout"},
		{"memory limit too small", func(c *Config) { c.Server.MemoryLimit = 1 << 20 }, "server.memory_limit"},
		{"value threshold too small", func(c *Config) { c.Storage.ValueThreshold = 10 }, "storage.value_threshold"},
		{"dir empty", func(c *Config) { c.Storage.Dir = "" }, "storage.dir"},
		{"retention short", func(c *Config) { c.Storage.Retention = dur("59s") }, "storage.retention"},
		{"auth mode", func(c *Config) { c.Auth.Mode = "oauth" }, "auth.mode"},
		{"jwt without key", func(c *Config) { c.Auth.Mode = "jwt" }, "auth.jwt_secret"},
		{"jwt short secret", func(c *Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = "short" }, "auth.jwt_secret: must be at least 16 bytes"},
		{"jwt secret", func(c *Config) { c.Auth.Mode = "jwt"; c.Auth.JWTSecret = "0123456789abcdef" }, ""},
		{"jwt public key", func(c *Config) { c.Auth.Mode = "jwt"; c.Auth.JWTPublicKeyFile = "k.pem" }, ""},
		{"jwt jwks", func(c *Config) { c.Auth.Mode = "jwt"; c.Auth.JWKSFile = "jwks.json" }, ""},
		{"short secret in none mode", func(c *Config) { c.Auth.JWTSecret = "short" }, "auth.jwt_secret"},
		{"short portal secret", func(c *Config) { c.Auth.PortalSecret = "0123456789abcdef" }, "auth.portal_secret"},
		{"frame ancestor with a path", func(c *Config) { c.Console.FrameAncestors = []string{"https://a.example/x"} }, "console.frame_ancestors[0]"},
		{"frame ancestor adding a directive", func(c *Config) {
			c.Console.FrameAncestors = []string{"https://ok.example", "https://a.example; script-src *"}
		}, "console.frame_ancestors[1]"},
		{"frame ancestor wildcard", func(c *Config) { c.Console.FrameAncestors = []string{"*"} }, "console.frame_ancestors[0]"},
		{"frame ancestor none", func(c *Config) { c.Console.FrameAncestors = []string{"'none'"} }, "console.frame_ancestors[0]"},
		{"frame ancestors ok", func(c *Config) {
			c.Console.FrameAncestors = []string{"'self'", "https://app.example.com", "http://localhost:3000", "https://*.example.com"}
		}, ""},
		{"apikey without keys", func(c *Config) { c.Auth.Mode = "apikey" }, "auth.api_keys"},
		{"apikey ok", func(c *Config) {
			c.Auth.Mode = "apikey"
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash, Tenant: "acme", Roles: []string{"tenant-admin"}}}
		}, ""},
		{"apikey short hash", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash[:63], Tenant: "acme", Roles: []string{"tenant-admin"}}}
		}, "auth.api_keys[0].sha256"},
		{"apikey not hex", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: strings.Repeat("g", 64), Tenant: "acme", Roles: []string{"tenant-admin"}}}
		}, "auth.api_keys[0].sha256"},
		{"apikey duplicate", func(c *Config) {
			k := APIKey{SHA256: goodHash, Tenant: "acme", Roles: []string{"tenant-admin"}}
			c.Auth.APIKeys = []APIKey{k, k}
		}, "auth.api_keys[1].sha256"},
		{"apikey tenant", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash, Tenant: "a b", Roles: []string{"tenant-admin"}}}
		}, "auth.api_keys[0].tenant"},
		{"apikey empty tenant", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash, Roles: []string{"tenant-admin"}}}
		}, "auth.api_keys[0].tenant"},
		{"apikey long tenant", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash, Tenant: strings.Repeat("a", 65), Roles: []string{"tenant-admin"}}}
		}, "auth.api_keys[0].tenant"},
		{"apikey account", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash, Tenant: "acme", Account: "x/y", Roles: []string{"tenant-admin"}}}
		}, "auth.api_keys[0].account"},
		{"apikey role", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash, Tenant: "acme", Roles: []string{"root"}}}
		}, "auth.api_keys[0].roles"},
		{"apikey no roles", func(c *Config) {
			c.Auth.APIKeys = []APIKey{{SHA256: goodHash, Tenant: "acme"}}
		}, "auth.api_keys[0].roles"},
		{"timeout short", func(c *Config) { c.Delivery.Timeout = dur("99ms") }, "delivery.timeout"},
		{"timeout long", func(c *Config) { c.Delivery.Timeout = dur("5m1s") }, "delivery.timeout"},
		{"timeout bounds", func(c *Config) { c.Delivery.Timeout = dur("100ms") }, ""},
		{"schedule empty", func(c *Config) { c.Delivery.RetrySchedule = nil }, "delivery.retry_schedule"},
		{"schedule long", func(c *Config) { c.Delivery.RetrySchedule = make([]Duration, 51) }, "delivery.retry_schedule"},
		{"schedule 50", func(c *Config) { c.Delivery.RetrySchedule = make([]Duration, 50) }, ""},
		{"schedule negative", func(c *Config) { c.Delivery.RetrySchedule = []Duration{dur("-1s")} }, "delivery.retry_schedule[0]"},
		{"schedule 8 days", func(c *Config) { c.Delivery.RetrySchedule = []Duration{dur("0s"), dur("192h")} }, "delivery.retry_schedule[1]"},
		{"cidr", func(c *Config) { c.Delivery.AllowedCIDRs = []string{"10.0.0.0/8", "10.1.2.3"} }, "delivery.allowed_cidrs[1]"},
		{"cidr ipv6", func(c *Config) { c.Delivery.AllowedCIDRs = []string{"fd00::/8"} }, ""},
		{"conns 0", func(c *Config) { c.Delivery.MaxConnsPerHost = 0 }, "delivery.max_conns_per_host"},
		{"conns big", func(c *Config) { c.Delivery.MaxConnsPerHost = 10001 }, "delivery.max_conns_per_host"},
		{"disable_after", func(c *Config) { c.Delivery.DisableAfter = dur("30s") }, "delivery.disable_after"},
		{"min free 0", func(c *Config) { c.Storage.MinFreeBytes = 0 }, "storage.min_free_bytes"},
		{"min free under memtables", func(c *Config) { c.Storage.MemtableBytes = 128 << 20 }, "storage.min_free_bytes"},
		{"max_data 0", func(c *Config) { c.Events.MaxDataBytes = 0 }, "events.max_data_bytes"},
		{"tenant rate negative", func(c *Config) { c.Events.TenantRateLimit = -1 }, "events.tenant_rate_limit"},
		{"max per tenant 0", func(c *Config) { c.Webhooks.MaxPerTenant = 0 }, "webhooks.max_per_tenant"},
		{"max_data over body", func(c *Config) { c.Server.MaxBodyBytes = 4096; c.Events.MaxDataBytes = 4097 }, "events.max_data_bytes"},
		{"compat unknown", func(c *Config) { c.API.Compat = []string{"ncore", "svix"} }, "api.compat[1]"},
		{"compat duplicate", func(c *Config) { c.API.Compat = []string{"ncore", "ocore", "ncore"} }, "api.compat[2]"},
		{"compat empty", func(c *Config) { c.API.Compat = nil }, ""},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, "log.level"},
		{"log format", func(c *Config) { c.Log.Format = "text" }, "log.format"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate() = nil; want an error naming %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), "config: "+tt.want):
				t.Errorf("Validate() = %q; want it to name %q", err, tt.want)
			}
		})
	}
}

// Every problem is reported, not only the first.
func TestValidateReportsAll(t *testing.T) {
	c := Default()
	c.Server.MaxBodyBytes = 0
	c.Log.Format = "text"
	err := c.Validate()
	for _, key := range []string{"server.max_body_bytes", "log.format"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %v; want it to name %s", err, key)
		}
	}
}

func TestEnv(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		got  func(Config) any
		want any
	}{
		{"listen", []string{"HOOKD_SERVER_LISTEN=127.0.0.1:9"}, func(c Config) any { return c.Server.Listen }, "127.0.0.1:9"},
		{"int", []string{"HOOKD_SERVER_MAX_BODY_BYTES=2048", "HOOKD_EVENTS_MAX_DATA_BYTES=2048"}, func(c Config) any { return c.Server.MaxBodyBytes }, 2048},
		{"int64", []string{"HOOKD_SERVER_MEMORY_LIMIT=134217728"}, func(c Config) any { return c.Server.MemoryLimit }, int64(128 << 20)},
		{"duration", []string{"HOOKD_SERVER_SHUTDOWN_TIMEOUT=3s"}, func(c Config) any { return c.Server.ShutdownTimeout }, dur("3s")},
		{"key with underscore", []string{"HOOKD_AUTH_JWT_SECRET=0123456789abcdef"}, func(c Config) any { return c.Auth.JWTSecret }, "0123456789abcdef"},
		{"bool", []string{"HOOKD_AUTH_ALLOW_INSECURE=true"}, func(c Config) any { return c.Auth.AllowInsecure }, true},
		{"duration list", []string{"HOOKD_DELIVERY_RETRY_SCHEDULE=0s, 5s"}, func(c Config) any { return c.Delivery.RetrySchedule }, []Duration{dur("0s"), dur("5s")}},
		{"string list", []string{"HOOKD_API_COMPAT=ncore,ocore"}, func(c Config) any { return c.API.Compat }, []string{"ncore", "ocore"}},
		{"empty list", []string{"HOOKD_API_COMPAT="}, func(c Config) any { return c.API.Compat }, []string{}},
		{"cidrs", []string{"HOOKD_DELIVERY_ALLOWED_CIDRS=10.0.0.0/8"}, func(c Config) any { return c.Delivery.AllowedCIDRs }, []string{"10.0.0.0/8"}},
		{"last wins", []string{"HOOKD_LOG_LEVEL=debug", "HOOKD_LOG_LEVEL=warn"}, func(c Config) any { return c.Log.Level }, "warn"},
		{"other variables ignored", []string{"HOME=/root", "PATH=/bin", "HOOKDX=1", "NOEQUALS"}, func(c Config) any { return c.Log.Level }, "info"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.got(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want []string
	}{
		{"HOOKD_SERVER_LISEN=x", []string{"HOOKD_SERVER_LISEN", "unknown setting"}},
		{"HOOKD_NOPE=x", []string{"HOOKD_NOPE", "unknown setting"}},
		{"HOOKD_BOGUS_KEY=x", []string{"HOOKD_BOGUS_KEY", "unknown setting"}},
		{"HOOKD_SERVER_MAX_BODY_BYTES=8MB", []string{"HOOKD_SERVER_MAX_BODY_BYTES", "server.max_body_bytes", "not an integer"}},
		{"HOOKD_AUTH_ALLOW_INSECURE=yes", []string{"HOOKD_AUTH_ALLOW_INSECURE", "not a boolean"}},
		{"HOOKD_DELIVERY_TIMEOUT=15", []string{"HOOKD_DELIVERY_TIMEOUT", "not a duration"}},
		{"HOOKD_DELIVERY_RETRY_SCHEDULE=0s,soon", []string{"HOOKD_DELIVERY_RETRY_SCHEDULE", `"soon"`}},
		{"HOOKD_AUTH_API_KEYS=x", []string{"HOOKD_AUTH_API_KEYS", "config file only"}},
		{"HOOKD_LOG_LEVEL=loud", []string{"config: log.level"}}, // parses, then fails Validate
	} {
		t.Run(tt.env, func(t *testing.T) {
			_, err := Load("", []string{tt.env})
			if err == nil {
				t.Fatalf("Load = nil error; want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

// Flags win over the environment, which wins over the file, which wins over
// the defaults.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "[server]\nlisten = \"127.0.0.1:1001\"\n[storage]\ndir = \"/from/file\"\n[log]\nlevel = \"debug\"\n")
	env := []string{"HOOKD_SERVER_LISTEN=127.0.0.1:1002", "HOOKD_STORAGE_DIR=/from/env"}
	flags := []Override{{"server.listen", "127.0.0.1:1003"}}

	c, err := LoadWith(file, env, flags...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ key, got, want string }{
		{"server.listen", c.Server.Listen, "127.0.0.1:1003"}, // flag
		{"storage.dir", c.Storage.Dir, "/from/env"},          // env
		{"log.level", c.Log.Level, "debug"},                  // file
		{"log.format", c.Log.Format, "json"},                 // default
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q; want %q", tt.key, tt.got, tt.want)
		}
	}

	if _, err := LoadWith("", nil, Override{"server.lisen", "x"}); err == nil || !strings.Contains(err.Error(), `"server.lisen"`) {
		t.Errorf("LoadWith(unknown override) = %v; want an error naming server.lisen", err)
	}
	if _, err := LoadWith("", nil, Override{"storage.dir", ""}); err == nil || !strings.Contains(err.Error(), "storage.dir") {
		t.Errorf("LoadWith(empty dir) = %v; want an error naming storage.dir", err)
	}
}

func TestKeys(t *testing.T) {
	got := keys()
	for _, k := range []string{"server.listen", "auth.jwt_secret", "auth.api_keys", "delivery.retry_schedule", "log.format"} {
		if !slices.Contains(got, k) {
			t.Errorf("keys() lacks %s", k)
		}
	}
}

func TestInsecureListen(t *testing.T) {
	for _, tt := range []struct {
		listen, mode string
		want         bool
	}{
		{"127.0.0.1:8080", "none", false},
		{"127.1.2.3:8080", "none", false},
		{"[::1]:8080", "none", false},
		{"localhost:8080", "none", false},
		{"LocalHost:8080", "none", false},
		{"[::ffff:127.0.0.1]:8080", "none", false},
		{"0.0.0.0:8080", "none", true},
		{":8080", "none", true},
		{"[::]:8080", "none", true},
		{"10.0.0.5:8080", "none", true},
		{"example.com:8080", "none", true},
		{"localhost.example.com:8080", "none", true},
		{"0.0.0.0:8080", "jwt", false},
		{"0.0.0.0:8080", "apikey", false},
	} {
		c := Default()
		c.Server.Listen, c.Auth.Mode = tt.listen, tt.mode
		if got := c.InsecureListen(); got != tt.want {
			t.Errorf("InsecureListen(listen=%s, mode=%s) = %v; want %v", tt.listen, tt.mode, got, tt.want)
		}
	}
}
