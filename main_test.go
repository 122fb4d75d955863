package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"hookd/api"
	"hookd/config"
	"hookd/wal"
)

const testSecret = "0123456789abcdef-test"

func TestMintToken(t *testing.T) {
	cfg := config.Default()
	cfg.Auth.JWTSecret = testSecret
	cfg.Auth.Issuer = "https://id.example.com"
	cfg.Auth.Audience = "hookd"

	before := time.Now().Truncate(time.Second)
	tok, err := mintToken(cfg, "acme", "acct-1", []string{"tenant-admin", "tenant-event-publish"}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var got tokenClaims
	_, err = jwt.ParseWithClaims(tok, &got, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithIssuer("https://id.example.com"), jwt.WithAudience("hookd"))
	if err != nil {
		t.Fatalf("parse minted token: %v", err)
	}
	if got.Tenant != "acme" || got.Account != "acct-1" {
		t.Errorf("tenant, account = %q, %q; want acme, acct-1", got.Tenant, got.Account)
	}
	if want := []string{"tenant-admin", "tenant-event-publish"}; !reflect.DeepEqual(got.Roles, want) {
		t.Errorf("roles = %q; want %q", got.Roles, want)
	}
	if got.IssuedAt == nil || got.IssuedAt.Before(before) || got.IssuedAt.After(time.Now()) {
		t.Errorf("iat = %v; want now", got.IssuedAt)
	}
	if got.ExpiresAt == nil || got.ExpiresAt.Sub(got.IssuedAt.Time) != 2*time.Hour {
		t.Errorf("exp = %v; want iat + 2h", got.ExpiresAt)
	}

	// Another secret does not verify it.
	if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("another-secret-0123"), nil }); err == nil {
		t.Error("token verified with the wrong secret")
	}
}

func TestMintTokenMinimalClaims(t *testing.T) {
	cfg := config.Default()
	cfg.Auth.JWTSecret = testSecret
	tok, err := mintToken(cfg, "acme", "", []string{"tenant-webhook-read"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var raw jwt.MapClaims
	if _, err := jwt.ParseWithClaims(tok, &raw, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"account", "iss", "aud"} {
		if _, ok := raw[absent]; ok {
			t.Errorf("claim %q = %v; want it absent", absent, raw[absent])
		}
	}
}

func TestMintTokenErrors(t *testing.T) {
	withSecret := config.Default()
	withSecret.Auth.JWTSecret = testSecret
	for _, tt := range []struct {
		name    string
		cfg     config.Config
		tenant  string
		account string
		roles   []string
		ttl     time.Duration
		want    string
	}{
		{"no secret", config.Default(), "acme", "", []string{"tenant-admin"}, time.Hour, "auth.jwt_secret"},
		{"no tenant", withSecret, "", "", []string{"tenant-admin"}, time.Hour, "--tenant"},
		{"bad tenant", withSecret, "ac me", "", []string{"tenant-admin"}, time.Hour, "--tenant"},
		{"bad account", withSecret, "acme", "a/b", []string{"tenant-admin"}, time.Hour, "--account"},
		{"no roles", withSecret, "acme", "", nil, time.Hour, "--roles"},
		{"unknown role", withSecret, "acme", "", []string{"admin"}, time.Hour, `unknown role "admin"`},
		{"zero ttl", withSecret, "acme", "", []string{"tenant-admin"}, 0, "--ttl"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mintToken(tt.cfg, tt.tenant, tt.account, tt.roles, tt.ttl)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("mintToken = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// runCLI runs the command line as main does and returns what it printed.
func runCLI(env []string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenCommand(t *testing.T) {
	env := []string{"HOOKD_AUTH_MODE=jwt", "HOOKD_AUTH_JWT_SECRET=" + testSecret}
	code, out, stderr := runCLI(env, "token", "--tenant", "acme", "--roles", "tenant-webhook-read, tenant-webhook-write", "--ttl", "5m")
	if code != 0 {
		t.Fatalf("hookd token: exit %d; stderr:\n%s", code, stderr)
	}
	var got tokenClaims
	if _, err := jwt.ParseWithClaims(strings.TrimSpace(out), &got, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatalf("parse %q: %v", out, err)
	}
	if want := []string{"tenant-webhook-read", "tenant-webhook-write"}; got.Tenant != "acme" || !reflect.DeepEqual(got.Roles, want) {
		t.Errorf("claims = %+v; want tenant acme, roles %q", got, want)
	}
	if stderr != "" {
		t.Errorf("stderr = %q; want nothing in jwt mode", stderr)
	}

	code, _, stderr = runCLI(nil, "token", "--tenant", "acme", "--roles", "tenant-admin")
	if code != 1 || !strings.Contains(stderr, "auth.jwt_secret") {
		t.Errorf("hookd token without a secret: exit %d, stderr %q; want 1 and a message naming auth.jwt_secret", code, stderr)
	}
}

func TestCommands(t *testing.T) {
	for _, tt := range []struct {
		args      []string
		code      int
		out, errs string // substrings
	}{
		{[]string{"version"}, 0, "hookd dev (commit ", ""},
		{[]string{"--help"}, 0, "hookd healthcheck", ""},
		{[]string{"serve", "--help"}, 0, "", "-config"},
		{[]string{"token", "--help"}, 0, "", "-tenant"},
		{[]string{"healthcheck", "--help"}, 0, "", "-timeout"},
		{[]string{"bench", "--help"}, 0, "hookd bench deliver", ""},
		{[]string{"bench", "ingest", "--help"}, 0, "-clients", ""},
		{[]string{"bench", "deliver", "--help"}, 0, "-webhooks", ""},
		{[]string{"healthcheck", "--config", "/nonexistent/hookd.toml"}, 1, "", "/nonexistent/hookd.toml"},
		{[]string{"help"}, 0, "hookd serve", ""},
		// A bare "hookd bench" runs the lab (minutes): not here. The self-contained
		// run is TestBenchSelfContained, on the release binary.
		{[]string{"bench", "frobnicate"}, 2, "", `unknown scenario "frobnicate"`},
		{[]string{"bench", "ingest", "--url", "http://127.0.0.1:1", "--duration", "1s"}, 1, "", "not reachable"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"serve", "--nope"}, 2, "", "-nope"},
		{[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"--config", "/nonexistent/hookd.toml"}, 1, "", "/nonexistent/hookd.toml"},
		{[]string{"token", "--tenant"}, 2, "", "flag needs an argument"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, stderr := runCLI(nil, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(stderr, tt.errs) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, out, stderr, tt.code, tt.out, tt.errs)
			}
		})
	}
}

// --listen and --data win over the environment, which wins over the file.
func TestServeConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hookd.toml")
	err := os.WriteFile(file, []byte("[server]\nlisten = \"127.0.0.1:1001\"\n[storage]\ndir = \"/from/file\"\n[log]\nlevel = \"debug\"\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"HOOKD_SERVER_LISTEN=127.0.0.1:1002", "HOOKD_STORAGE_DIR=/from/env", "HOOKD_LOG_LEVEL=warn"}
	for _, tt := range []struct {
		name               string
		args               []string
		listen, dir, level string
	}{
		{"file and env", []string{"--config", file}, "127.0.0.1:1002", "/from/env", "warn"},
		{"flags", []string{"--config", file, "--listen", "127.0.0.1:0", "--data", "/from/flag"}, "127.0.0.1:0", "/from/flag", "warn"},
		{"single dash", []string{"-config", file, "-listen=127.0.0.1:0"}, "127.0.0.1:0", "/from/env", "warn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := serveConfig(tt.args, env, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.Listen != tt.listen || cfg.Storage.Dir != tt.dir || cfg.Log.Level != tt.level {
				t.Errorf("listen, dir, level = %q, %q, %q; want %q, %q, %q",
					cfg.Server.Listen, cfg.Storage.Dir, cfg.Log.Level, tt.listen, tt.dir, tt.level)
			}
		})
	}
	if _, err := serveConfig([]string{"--listen", "nope"}, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "server.listen") {
		t.Errorf("serveConfig(--listen nope) = %v; want an error naming server.listen", err)
	}
}

func TestCheckAuth(t *testing.T) {
	for _, tt := range []struct {
		listen, mode  string
		allowInsecure bool
		wantErr       bool
		wantWarn      bool
	}{
		{"127.0.0.1:8080", "none", false, false, true},
		{"0.0.0.0:8080", "none", false, true, false},
		{":8080", "none", false, true, false},
		{"0.0.0.0:8080", "none", true, false, true},
		{"0.0.0.0:8080", "jwt", false, false, false},
	} {
		cfg := config.Default()
		cfg.Server.Listen, cfg.Auth.Mode, cfg.Auth.AllowInsecure = tt.listen, tt.mode, tt.allowInsecure
		cfg.Auth.JWTSecret = testSecret
		core, logs := observer.New(zapcore.InfoLevel)
		err := checkAuth(cfg, zap.New(core))
		if (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "auth.allow_insecure")) {
			t.Errorf("checkAuth(%s, %s, allow_insecure=%v) = %v; want error %v naming auth.allow_insecure",
				tt.listen, tt.mode, tt.allowInsecure, err, tt.wantErr)
		}
		if warned := logs.FilterLevelExact(zapcore.WarnLevel).Len() > 0; warned != tt.wantWarn {
			t.Errorf("checkAuth(%s, %s, allow_insecure=%v) warned %v; want %v", tt.listen, tt.mode, tt.allowInsecure, warned, tt.wantWarn)
		}
	}
}

func TestNewLogger(t *testing.T) {
	for _, tt := range []struct {
		level, format string
		debug, info   bool
	}{
		{"debug", "json", true, true},
		{"info", "console", false, true},
		{"warn", "json", false, false},
		{"error", "console", false, false},
	} {
		log, err := newLogger(config.Log{Level: tt.level, Format: tt.format})
		if err != nil {
			t.Fatalf("newLogger(%s, %s): %v", tt.level, tt.format, err)
		}
		if got := log.Core().Enabled(zapcore.DebugLevel); got != tt.debug {
			t.Errorf("level %s: debug enabled = %v; want %v", tt.level, got, tt.debug)
		}
		if got := log.Core().Enabled(zapcore.InfoLevel); got != tt.info {
			t.Errorf("level %s: info enabled = %v; want %v", tt.level, got, tt.info)
		}
	}
	if _, err := newLogger(config.Log{Level: "loud", Format: "json"}); err == nil {
		t.Error("newLogger(level loud) = nil error")
	}
}

// The server accepts what `hookd token` mints: issuer and verifier agree.
func TestMintedTokenAcceptedByAPI(t *testing.T) {
	cfg := config.Default()
	cfg.Auth.Mode, cfg.Auth.JWTSecret, cfg.Auth.Issuer, cfg.Auth.Audience = "jwt", testSecret, "https://id.example.com", "hookd"
	store, err := wal.Open(wal.Options{Dir: t.TempDir(), InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv, err := api.New(api.Options{Config: cfg, Store: store, Logger: zap.NewNop(), Version: version})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mintToken(cfg, "acme", "", []string{"tenant-webhook-read"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		bearer string
		want   int
	}{{tok, 200}, {tok[:len(tok)-2], 401}} {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/v1/webhooks")
		ctx.Request.Header.Set("Authorization", "Bearer "+tt.bearer)
		srv.Handler()(&ctx)
		if got := ctx.Response.StatusCode(); got != tt.want {
			t.Errorf("GET /v1/webhooks = %d %s; want %d", got, ctx.Response.Body(), tt.want)
		}
	}
}

// tokenClaims decodes a minted token independently of api's own type.
type tokenClaims struct {
	Tenant  string   `json:"tenant"`
	Account string   `json:"account,omitempty"`
	Roles   []string `json:"roles"`
	jwt.RegisteredClaims
}

func TestProbeAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080": "127.0.0.1:8080", ":8080": "127.0.0.1:8080", "[::]:9000": "[::1]:9000",
		"127.0.0.1:1": "127.0.0.1:1", "10.1.2.3:80": "10.1.2.3:80", "[fd00::1]:80": "[fd00::1]:80",
	} {
		if got := probeAddr(in); got != want {
			t.Errorf("probeAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// server.memory_limit becomes the runtime's soft limit unless GOMEMLIMIT
// is set (the runtime applied that one at start); either way the limit
// in force is what Badger's caches are sized from.
func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	debug.SetMemoryLimit(math.MaxInt64)
	if got := applyMemoryLimit(0); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("memory_limit 0: applied %d, runtime limit %d; want none", got, debug.SetMemoryLimit(-1))
	}
	if got := applyMemoryLimit(200 << 20); got != 200<<20 || debug.SetMemoryLimit(-1) != 200<<20 {
		t.Errorf("memory_limit 200 MiB: applied %d, runtime limit %d", got, debug.SetMemoryLimit(-1))
	}
	os.Setenv("GOMEMLIMIT", "300MiB")
	debug.SetMemoryLimit(300 << 20) // as the runtime read it at start
	if got := applyMemoryLimit(200 << 20); got != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Errorf("GOMEMLIMIT=300MiB, memory_limit 200 MiB: applied %d, runtime limit %d; want GOMEMLIMIT's", got, debug.SetMemoryLimit(-1))
	}
	os.Setenv("GOMEMLIMIT", "off")
	debug.SetMemoryLimit(math.MaxInt64)
	if got := applyMemoryLimit(200 << 20); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT=off: applied %d, runtime limit %d; want none", got, debug.SetMemoryLimit(-1))
	}
}

// hookd serves with twice the Go processors the runtime chose, unless
// GOMAXPROCS is set, which the runtime has applied and hookd keeps.
func TestApplyProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	runtime.GOMAXPROCS(3) // as the runtime chose it at start
	if got := applyProcs(); got != 6 || runtime.GOMAXPROCS(0) != 6 {
		t.Errorf("GOMAXPROCS unset, default 3: applied %d, runtime %d; want 6", got, runtime.GOMAXPROCS(0))
	}
	os.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3)
	if got := applyProcs(); got != 3 || runtime.GOMAXPROCS(0) != 3 {
		t.Errorf("GOMAXPROCS=3: applied %d, runtime %d; want 3", got, runtime.GOMAXPROCS(0))
	}
}
